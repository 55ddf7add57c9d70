//! End-to-end tests of the `slm eval` command on real files: prepare, run (recorded answers via
//! the `replay:` spec), compare exit codes, live, and a run killed halfway then rerun.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use slm_eval::{Dataset, Report};

mod eval_support;
use eval_support::{answers, counts, prepared, run, s, slm_eval, text};

#[test]
fn run_and_compare_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = prepared(dir.path());
    let test = data_dir.join("structured/test.jsonl");

    let oracle = run(
        "structured",
        &test,
        &format!("replay:{}#llm", s(&test)),
        &dir.path().join("llm.json"),
    );
    assert!(
        oracle.metrics.values().all(|v| *v == 1.0),
        "{:?}",
        oracle.metrics
    );
    assert_eq!(oracle.cases.completed, 8);
    assert_eq!(oracle.model.id, "llm");
    assert_eq!(oracle.options.temperature, Some(0.0));
    assert_eq!(oracle.options.seed, Some(42));
    assert_eq!(oracle.dataset.sha256, Dataset::load(&test).unwrap().sha256);
    assert!(oracle.results_path.as_ref().unwrap().exists());

    let recorded = answers(
        &test,
        &[1, 4, 6],
        "```json\n{}\n```",
        &dir.path().join("slm_answers.jsonl"),
    );
    let slm = run(
        "structured",
        &test,
        &format!("replay:{}#slm", s(&recorded)),
        &dir.path().join("slm.json"),
    );
    assert_eq!(slm.metrics["json_valid"], 5.0 / 8.0);

    let compare = |llm: &str, slm: &str, delta: &str| {
        slm_eval(&[
            "compare",
            "--llm",
            llm,
            "--slm",
            slm,
            "--delta",
            delta,
            "--track",
            "structured",
        ])
    };
    let llm_path = dir.path().join("llm.json");
    let slm_path = dir.path().join("slm.json");
    let trailing = compare(s(&llm_path), s(&slm_path), "0.01");
    assert_eq!(
        trailing.status.code(),
        Some(10),
        "{}",
        text(&trailing.stderr)
    );
    assert_eq!(text(&trailing.stdout).trim(), "FINE_TUNE=1");
    assert!(text(&trailing.stderr).contains("json_valid"));

    let tolerant = compare(s(&llm_path), s(&slm_path), "0.5");
    assert_eq!(tolerant.status.code(), Some(0));
    assert_eq!(text(&tolerant.stdout).trim(), "FINE_TUNE=0");

    let same = compare(s(&llm_path), s(&llm_path), "0.0");
    assert_eq!(same.status.code(), Some(0));
    assert_eq!(text(&same.stdout).trim(), "FINE_TUNE=0");

    // The SLM ahead of the LLM never asks for fine-tuning.
    let ahead = compare(s(&slm_path), s(&llm_path), "0.01");
    assert_eq!(ahead.status.code(), Some(0));

    // Reports of different datasets are refused with a clear error.
    let val = data_dir.join("structured/val.jsonl");
    run(
        "structured",
        &val,
        &format!("replay:{}#llm", s(&val)),
        &dir.path().join("val.json"),
    );
    let mixed = compare(s(&llm_path), s(&dir.path().join("val.json")), "0.01");
    assert_eq!(mixed.status.code(), Some(1));
    assert!(
        text(&mixed.stderr).contains("datasets differ"),
        "{}",
        text(&mixed.stderr)
    );
}

#[test]
fn a_run_killed_halfway_and_rerun_gives_the_same_report() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = prepared(dir.path());
    let test = data_dir.join("toolcall/test.jsonl");
    let recorded = answers(
        &test,
        &[2, 5],
        "<tool_call name=\"nope\">{}</tool_call>",
        &dir.path().join("a.jsonl"),
    );
    let model = format!("replay:{}?delay_ms=150#slm", s(&recorded));

    // In a directory of its own: its response cache must not answer the killed run.
    let clean = run(
        "toolcall",
        &test,
        &model,
        &dir.path().join("clean").join("clean.json"),
    );

    let out = dir.path().join("killed.json");
    let results = dir.path().join("killed.results.jsonl");
    let mut child = Command::new(env!("CARGO_BIN_EXE_slm"))
        .arg("eval")
        .args([
            "run",
            "--track",
            "toolcall",
            "--data",
            s(&test),
            "--model",
            &model,
        ])
        .args(["--out", s(&out), "--concurrency", "1", "--no-progress"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let lines = |p: &Path| {
        std::fs::read_to_string(p)
            .map(|t| t.lines().count())
            .unwrap_or(0)
    };
    while lines(&results) < 4 {
        assert!(Instant::now() < deadline, "the run made no progress");
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let kept = lines(&results);
    assert!((4..8).contains(&kept), "killed after {kept} cases");
    assert!(!out.exists(), "no report from a killed run");

    let resumed = run("toolcall", &test, &model, &out);
    assert_eq!(lines(&results), 8, "no case was run twice");
    assert_eq!(resumed.metrics, clean.metrics);
    assert_eq!(resumed.per_case, clean.per_case);
    assert_eq!(resumed.tokens, clean.tokens);
    // (Answers stored by the killed run after its last row come from the cache.)
    assert_eq!(
        (
            resumed.cases.total,
            resumed.cases.completed,
            resumed.cases.errors
        ),
        (clean.cases.total, clean.cases.completed, clean.cases.errors)
    );
    assert_eq!(resumed.dataset, clean.dataset);
    assert_eq!(resumed.metrics["args_exact_match"], 6.0 / 8.0);
}

#[test]
fn live_shows_both_models_and_saves_comparable_reports() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = prepared(dir.path());
    let test = data_dir.join("toolcall/test.jsonl");
    let recorded = answers(&test, &[0], "no call", &dir.path().join("a.jsonl"));
    let save = dir.path().join("05_eval");
    let done = slm_eval(&[
        "live",
        "--track",
        "toolcall",
        "--data",
        s(&test),
        "--models",
        &format!("replay:{}#azure", s(&test)),
        &format!("replay:{}#slm", s(&recorded)),
        "--save",
        s(&save),
    ]);
    assert!(done.status.success(), "{}", text(&done.stderr));
    let shown = text(&done.stdout);
    // Not a terminal: one line at the start and one per finished case of either model.
    assert_eq!(shown.lines().count(), 1 + 16, "{shown}");
    let last = shown.lines().last().unwrap();
    assert!(last.contains("azure 8/8 args_exact_match=1.000"), "{last}");
    assert!(last.contains("slm 8/8 args_exact_match=0.875"), "{last}");

    let compare = slm_eval(&[
        "compare",
        "--llm",
        s(&save.join("toolcall_azure.json")),
        "--slm",
        s(&save.join("toolcall_slm.json")),
        "--delta",
        "0.1",
    ]);
    assert_eq!(compare.status.code(), Some(10), "{}", text(&compare.stderr));
}

#[test]
fn bad_input_fails_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("bad.jsonl");
    std::fs::write(
        &data,
        "{\"prompt\": \"p\", \"completion\": \"{}\"}\n{\"prompt\": 1}\n",
    )
    .unwrap();
    let done = slm_eval(&[
        "run",
        "--track",
        "structured",
        "--data",
        s(&data),
        "--model",
        "replay:x.jsonl",
    ]);
    assert_eq!(done.status.code(), Some(1));
    assert!(
        text(&done.stderr).contains("bad.jsonl:2:"),
        "{}",
        text(&done.stderr)
    );

    let bad_spec = slm_eval(&[
        "run",
        "--track",
        "structured",
        "--data",
        s(&data),
        "--model",
        "gpt-4",
    ]);
    assert_eq!(bad_spec.status.code(), Some(2));
    assert!(
        text(&bad_spec.stderr).contains("expected llamacpp:PATH"),
        "{}",
        text(&bad_spec.stderr)
    );

    // A toolcall dataset whose reference is not a tool call is refused before any model call.
    std::fs::write(
        &data,
        "{\"prompt\": \"p\", \"completion\": \"plain text\"}\n",
    )
    .unwrap();
    let done = slm_eval(&[
        "run",
        "--track",
        "toolcall",
        "--data",
        s(&data),
        "--model",
        "replay:x.jsonl",
    ]);
    assert_eq!(done.status.code(), Some(1));
    assert!(
        text(&done.stderr).contains("bad.jsonl:1: reference completion is not a tool call"),
        "{}",
        text(&done.stderr)
    );
}

/// `slm eval live` as a person sees it: run in a real terminal (tmux), the board is redrawn in
/// place, so the screen ends with one header and one table however many updates there were.
#[test]
fn live_redraws_in_place_in_a_real_terminal() {
    if std::process::Command::new("tmux")
        .arg("-V")
        .output()
        .is_err()
    {
        let ci = std::env::var("CI").unwrap_or_default();
        assert!(
            ci.is_empty() || ci == "0" || ci.eq_ignore_ascii_case("false"),
            "tmux is missing (scripts/setup.sh --test installs it)"
        );
        eprintln!("SKIPPED live_redraws_in_place_in_a_real_terminal: tmux is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data_dir = prepared(dir.path());
    let test = data_dir.join("toolcall/test.jsonl");
    let recorded = answers(&test, &[0], "no call", &dir.path().join("a.jsonl"));
    for (width, height) in [(160, 40), (72, 40)] {
        let socket = format!("slm-live-{}-{width}", std::process::id());
        let tmux = |args: &[&str]| {
            Command::new("tmux")
                .args(["-L", &socket])
                .args(args)
                .output()
                .unwrap()
        };
        let command = format!(
            "{} eval live --track toolcall --data {} --models replay:{}?delay_ms=60#azure \
             replay:{}?delay_ms=90#slm; echo EXIT=$?; sleep 60",
            env!("CARGO_BIN_EXE_slm"),
            s(&test),
            s(&test),
            s(&recorded)
        );
        let started = tmux(&[
            "new-session",
            "-d",
            // Run where the test's files are: `live` without `--save` keeps its response
            // cache under ./05_eval.
            "-c",
            s(dir.path()),
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
            &command,
        ]);
        assert!(started.status.success(), "{}", text(&started.stderr));
        let deadline = Instant::now() + Duration::from_secs(60);
        let screen = loop {
            let shown = text(&tmux(&["capture-pane", "-p"]).stdout);
            if shown.contains("EXIT=") {
                break shown;
            }
            assert!(Instant::now() < deadline, "live did not finish:\n{shown}");
            std::thread::sleep(Duration::from_millis(100));
        };
        tmux(&["kill-server"]);
        assert!(screen.contains("EXIT=0"), "{screen}");
        let headers = screen.matches("slm eval live · track=toolcall").count();
        assert_eq!(headers, 1, "{width} columns, one header:\n{screen}");
        let tables = screen.lines().filter(|l| l.starts_with("progress")).count();
        assert_eq!(tables, 1, "{width} columns, one table:\n{screen}");
        assert!(
            screen.contains("8/8"),
            "the final state is shown:\n{screen}"
        );
    }
}

/// `slm eval run` of a structured dataset of `n` cases answered by a replay model.
fn big_run(dir: &Path, n: usize) -> (PathBuf, String) {
    let rows: Vec<Value> = (0..n)
        .map(|i| serde_json::json!({"prompt": format!("Case {i} as JSON"), "completion": format!("{{\"i\": {i}}}")}))
        .collect();
    let data = dir.join("big.jsonl");
    slm_eval::data::write_jsonl(&data, &rows).unwrap();
    (data.clone(), format!("replay:{}#slm", s(&data)))
}

fn run_args<'a>(data: &'a Path, model: &'a str, out: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "run",
        "--track",
        "structured",
        "--data",
        s(data),
        "--model",
        model,
        "--out",
        s(out),
        "--no-progress",
        "--concurrency",
        "8",
    ];
    args.extend_from_slice(extra);
    args
}

#[test]
fn a_rerun_asks_the_model_nothing_and_a_changed_option_asks_again() {
    let dir = tempfile::tempdir().unwrap();
    let (data, model) = big_run(dir.path(), 40);
    let first = slm_eval(&run_args(&data, &model, &dir.path().join("a.json"), &[]));
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert_eq!(counts(&text(&first.stderr)), (40, 0, 40));
    assert!(dir.path().join("cache/responses.sqlite3").exists());

    // Another report of the same evaluation: every answer from the cache.
    let second = slm_eval(&run_args(&data, &model, &dir.path().join("b.json"), &[]));
    assert!(second.status.success(), "{}", text(&second.stderr));
    assert_eq!(counts(&text(&second.stderr)), (40, 40, 0));
    let (a, b) = (
        Report::load(&dir.path().join("a.json")).unwrap(),
        Report::load(&dir.path().join("b.json")).unwrap(),
    );
    assert_eq!(a.metrics, b.metrics);
    assert_eq!(a.per_case, b.per_case);
    assert_eq!(a.metrics["exact_match"], 1.0);
    assert_eq!((a.cases.cached, b.cases.cached), (0, 40));

    // One option that decides the answers changed: asked again.
    let third = slm_eval(&run_args(
        &data,
        &model,
        &dir.path().join("c.json"),
        &["--max-tokens", "100"],
    ));
    assert_eq!(counts(&text(&third.stderr)), (40, 0, 40));
    // No cache at all: asked again, nothing read.
    let fourth = slm_eval(&run_args(
        &data,
        &model,
        &dir.path().join("d.json"),
        &["--no-cache"],
    ));
    assert_eq!(counts(&text(&fourth.stderr)), (40, 0, 40));
    // Another cache directory: empty, so asked again.
    let other = dir.path().join("elsewhere");
    let fifth = slm_eval(&run_args(
        &data,
        &model,
        &dir.path().join("e.json"),
        &["--cache", s(&other)],
    ));
    assert_eq!(counts(&text(&fifth.stderr)), (40, 0, 40));
    assert_eq!(
        slm_eval::ResponseCache::open(&other)
            .unwrap()
            .len()
            .unwrap(),
        40
    );
}

#[test]
fn a_run_killed_mid_write_leaves_a_sound_cache_that_the_rerun_uses() {
    let dir = tempfile::tempdir().unwrap();
    let n = 3000;
    let (data, model) = big_run(dir.path(), n);
    let out = dir.path().join("run.json");
    let results = dir.path().join("run.results.jsonl");
    let mut child = Command::new(env!("CARGO_BIN_EXE_slm"))
        .arg("eval")
        .args(run_args(&data, &model, &out, &[]))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = |p: &Path| {
        std::fs::read_to_string(p)
            .map(|t| t.lines().count())
            .unwrap_or(0)
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while lines(&results) < 200 {
        assert!(Instant::now() < deadline, "the run made no progress");
        std::thread::sleep(Duration::from_millis(5));
    }
    // SIGKILL while answers are being written, several a millisecond.
    child.kill().unwrap();
    child.wait().unwrap();
    let kept = lines(&results);
    assert!(kept < n, "the run finished before the kill");

    let cache = slm_eval::ResponseCache::open(&dir.path().join("cache")).unwrap();
    cache.check_integrity().unwrap();
    let stored = cache.len().unwrap();
    // Each answer is stored before its results row is written.
    assert!(stored >= kept, "{stored} answers cached, {kept} rows");
    drop(cache);

    // The rerun resumes the rows, takes the answers stored after the last row from the cache
    // and asks the model the rest.
    let rerun = slm_eval(&run_args(&data, &model, &out, &[]));
    assert!(rerun.status.success(), "{}", text(&rerun.stderr));
    let (ran, from_cache, calls) = counts(&text(&rerun.stderr));
    // The rows resumed: all that were written, less a torn last line the kill may have left.
    let resumed = n - ran;
    assert!(
        resumed == kept || resumed + 1 == kept,
        "{resumed} resumed of {kept}"
    );
    assert_eq!(from_cache, stored - resumed);
    assert_eq!(from_cache + calls, ran);
    assert_eq!(lines(&results), n);
    let report = Report::load(&out).unwrap();
    assert_eq!(report.cases.completed, n);
    assert_eq!(report.metrics["exact_match"], 1.0);
    let cache = slm_eval::ResponseCache::open(&dir.path().join("cache")).unwrap();
    assert_eq!(cache.len().unwrap(), n);
    drop(cache);
    // A fresh report of the same evaluation: all of it from the cache.
    let again = slm_eval(&run_args(
        &data,
        &model,
        &dir.path().join("again.json"),
        &[],
    ));
    assert_eq!(counts(&text(&again.stderr)), (n, n, 0));
    assert_eq!(
        Report::load(&dir.path().join("again.json"))
            .unwrap()
            .metrics,
        report.metrics
    );
}

#[test]
fn the_bfcl_suite_runs_from_bfcls_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let bfcl_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../slm-eval/tests/fixtures/bfcl");
    // Recorded answers: each entry's answer-key calls, and prose for irrelevance.
    let data = slm_eval::bfcl::dataset(
        &bfcl_dir,
        &slm_eval::bfcl::Category::ALL,
        slm_eval::bfcl::BfclMode::FunctionCalling,
    )
    .unwrap();
    let rows: Vec<Value> = data
        .cases
        .iter()
        .map(|case| {
            let reference: slm_eval::bfcl::BfclReference =
                serde_json::from_str(&case.completion).unwrap();
            let calls: Vec<_> = reference
                .ground_truth
                .iter()
                .map(|e| slm_eval::bfcl::call_from_answer(e, false))
                .collect();
            let reply = if calls.is_empty() {
                "No function fits.".to_string()
            } else {
                slm_core::wire::render_tool_calls(&calls)
            };
            serde_json::json!({"prompt": case.prompt, "reply": reply})
        })
        .collect();
    let answers = dir.path().join("answers.jsonl");
    slm_eval::data::write_jsonl(&answers, &rows).unwrap();
    let model = format!("replay:{}#keys", s(&answers));
    let out = dir.path().join("bfcl.json");
    let done = slm_eval(&[
        "run",
        "--suite",
        "bfcl",
        "--bfcl-dir",
        s(&bfcl_dir),
        "--model",
        &model,
        "--out",
        s(&out),
        "--no-progress",
    ]);
    let stderr = text(&done.stderr);
    assert!(done.status.success(), "{stderr}");
    let metrics: Value = serde_json::from_slice(&done.stdout).unwrap();
    assert_eq!(metrics["bfcl_simple_python"], 1.0);
    assert_eq!(
        metrics["bfcl_parallel_multiple"], 0.5,
        "the fixtures' key defect"
    );
    assert_eq!(metrics["bfcl_irrelevance"], 1.0);
    assert!(
        stderr.contains("non-live AST (unweighted mean)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("87.50%"),
        "(1 + 1 + 1 + 0.5) / 4:\n{stderr}"
    );
    let report = Report::load(&out).unwrap();
    assert_eq!(report.track, slm_eval::Track::Bfcl);
    assert_eq!(report.cases.completed, 11);

    // Two categories only: a dataset of their cases.
    let two = dir.path().join("two.json");
    let done = slm_eval(&[
        "run",
        "--suite",
        "bfcl",
        "--bfcl-dir",
        s(&bfcl_dir),
        "--categories",
        "parallel,irrelevance",
        "--model",
        &model,
        "--out",
        s(&two),
        "--no-progress",
    ]);
    assert!(done.status.success(), "{}", text(&done.stderr));
    assert_eq!(Report::load(&two).unwrap().cases.completed, 4);

    // Categories this checker does not cover (BFCL's multi-turn ones), and a missing
    // directory, are clear errors.
    let multi_turn = slm_eval(&[
        "run",
        "--suite",
        "bfcl",
        "--bfcl-dir",
        s(&bfcl_dir),
        "--categories",
        "multi_turn_base",
        "--model",
        &model,
        "--out",
        s(&two),
        "--no-progress",
    ]);
    assert!(!multi_turn.status.success());
    assert!(
        text(&multi_turn.stderr).contains("multi_turn_base"),
        "{}",
        text(&multi_turn.stderr)
    );
    let no_dir = slm_eval(&["run", "--suite", "bfcl", "--model", &model]);
    assert!(!no_dir.status.success());
    assert!(
        text(&no_dir.stderr).contains("--bfcl-dir"),
        "{}",
        text(&no_dir.stderr)
    );
}

#[test]
fn report_renders_markdown_and_junit_that_a_real_xml_parser_reads() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = prepared(dir.path());
    let test = data_dir.join("structured/test.jsonl");
    let llm = dir.path().join("llm.json");
    run(
        "structured",
        &test,
        &format!("replay:{}#llm", s(&test)),
        &llm,
    );
    let recorded = answers(&test, &[1, 4, 6], "not json", &dir.path().join("a.jsonl"));
    let slm = dir.path().join("slm.json");
    run(
        "structured",
        &test,
        &format!("replay:{}#slm", s(&recorded)),
        &slm,
    );

    let md = slm_eval(&["report", s(&llm), s(&slm)]);
    assert!(md.status.success(), "{}", text(&md.stderr));
    let md = text(&md.stdout);
    assert!(md.starts_with("| | llm | slm |"), "{md}");
    assert!(md.contains("| exact_match | 1.000 | 0.625 |"), "{md}");
    assert!(md.contains("| cases | 8/8 | 8/8 |"), "{md}");

    let xml = dir.path().join("junit.xml");
    let done = slm_eval(&[
        "report",
        s(&llm),
        s(&slm),
        "--format",
        "junit",
        "--out",
        s(&xml),
    ]);
    assert!(done.status.success(), "{}", text(&done.stderr));
    // Python's own XML parser reads it as a CI system would: 16 cases, the SLM's 3 failures.
    let python = std::env::var_os("SLM_PYTHON").unwrap_or_else(|| "python3".into());
    let script = "import sys, xml.etree.ElementTree as ET\n\
        root = ET.parse(sys.argv[1]).getroot()\n\
        cases = root.findall('./testsuite/testcase')\n\
        failed = [c.get('name') for c in cases if c.find('failure') is not None]\n\
        print(root.get('tests'), root.get('failures'), len(cases), len(failed))\n\
        print([s.get('name') for s in root.findall('testsuite')])";
    let parsed = Command::new(python)
        .args(["-c", script, s(&xml)])
        .output()
        .expect("a Python interpreter");
    assert!(parsed.status.success(), "{}", text(&parsed.stderr));
    assert_eq!(
        text(&parsed.stdout),
        "16 3 16 3\n['structured/llm', 'structured/slm']\n"
    );

    let missing = slm_eval(&["report", s(&dir.path().join("nope.json"))]);
    assert!(!missing.status.success());
    let stderr = text(&missing.stderr);
    assert!(stderr.contains("nope.json"), "{stderr}");
    assert_eq!(
        stderr.matches("No such file").count(),
        1,
        "said once: {stderr}"
    );
}

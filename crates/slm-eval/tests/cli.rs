//! End-to-end tests of the `slm-eval` binary on real files: prepare, run (recorded answers via
//! the `replay:` spec), compare exit codes, live, and a run killed halfway then rerun.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use slm_eval::{Dataset, Report};

fn slm_eval(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_slm-eval"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("the slm-eval binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Prepares the fixture's splits in `dir` and returns the data directory.
fn prepared(dir: &Path) -> PathBuf {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/xlam_sample.json");
    let out = dir.join("02_dataset");
    let done = slm_eval(&["prepare", "--dataset-path", s(&fixture), "--out", s(&out)]);
    assert!(done.status.success(), "{}", text(&done.stderr));
    let summary: Value = serde_json::from_slice(&done.stdout).unwrap();
    assert_eq!(summary["usable"], 60);
    out
}

/// Writes recorded answers for a dataset: the reference for every case except those in
/// `wrong`, which get `wrong_answer`.
fn answers(dataset: &Path, wrong: &[usize], wrong_answer: &str, out: &Path) -> PathBuf {
    let data = Dataset::load(dataset).unwrap();
    let rows: Vec<Value> = data
        .cases
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let reply = if wrong.contains(&i) {
                wrong_answer
            } else {
                c.completion.as_str()
            };
            serde_json::json!({"prompt": c.prompt, "reply": reply})
        })
        .collect();
    slm_eval::data::write_jsonl(out, &rows).unwrap();
    out.to_path_buf()
}

fn run(track: &str, data: &Path, model: &str, out: &Path) -> Report {
    let done = slm_eval(&[
        "run",
        "--track",
        track,
        "--data",
        s(data),
        "--model",
        model,
        "--out",
        s(out),
        "--no-progress",
    ]);
    assert!(done.status.success(), "{}", text(&done.stderr));
    let metrics: Value = serde_json::from_slice(&done.stdout).unwrap();
    let report = Report::load(out).unwrap();
    assert_eq!(metrics, serde_json::to_value(&report.metrics).unwrap());
    report
}

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

    let clean = run("toolcall", &test, &model, &dir.path().join("clean.json"));

    let out = dir.path().join("killed.json");
    let results = dir.path().join("killed.results.jsonl");
    let mut child = Command::new(env!("CARGO_BIN_EXE_slm-eval"))
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
    assert_eq!(resumed.cases, clean.cases);
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

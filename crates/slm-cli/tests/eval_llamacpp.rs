//! `slm eval run` on a GGUF model the test generates itself (random weights, so the answers are
//! gibberish; what is checked is the pipeline: loading, batching, measuring, scoring, the report),
//! and the response cache on the real default model.
//! Build and run in release: `cargo test -p slm-cli --release --test eval_llamacpp`.

use std::path::Path;
use std::process::Command;

use slm_eval::{Dataset, Report};
use slm_llamacpp::testing::{TestModelSpec, write_test_model};

mod eval_support;

fn slm_eval(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_slm"))
        .arg("eval")
        .args(args)
        .output()
        .unwrap()
}

fn prepared(dir: &Path) -> std::path::PathBuf {
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../slm-eval/tests/fixtures/xlam_sample.json");
    let out = dir.join("02_dataset");
    let done = slm_eval(&[
        "prepare",
        "--dataset-path",
        fixture.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    out
}

fn run(dir: &Path, track: &str, max_tokens: &str, extra: &[&str]) -> Report {
    let data_dir = prepared(dir);
    let model = dir.join("tiny.gguf");
    write_test_model(&model, &TestModelSpec::tiny()).unwrap();
    let data = data_dir.join(track).join("test.jsonl");
    let out = dir.join(format!("{track}.json"));
    let spec = format!("llamacpp:{}", model.display());
    let mut args = vec![
        "run",
        "--track",
        track,
        "--data",
        data.to_str().unwrap(),
        "--model",
        &spec,
        "--out",
        out.to_str().unwrap(),
        "--no-progress",
        "--max-tokens",
        max_tokens,
        "--concurrency",
        "4",
    ];
    args.extend_from_slice(extra);
    let done = slm_eval(&args);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let report = Report::load(&out).unwrap();
    assert_eq!(report.dataset.sha256, Dataset::load(&data).unwrap().sha256);
    report
}

#[test]
fn run_on_a_generated_gguf_model() {
    let dir = tempfile::tempdir().unwrap();
    let report = run(dir.path(), "toolcall", "24", &[]);
    assert_eq!(report.model.id, "tiny");
    assert!(
        report.model.capabilities.batching,
        "four sequences are decoded together"
    );
    assert_eq!((report.cases.completed, report.cases.errors), (8, 0));
    assert!(report.tokens.prompt > 8 * 50, "{:?}", report.tokens);
    assert!(
        report.tokens.completion > 0 && report.tokens.completion <= 8 * 24,
        "{:?}",
        report.tokens
    );
    let latency = report.latency.total_ms.unwrap();
    assert!(latency.p50 > 0.0 && latency.p95 >= latency.p50);
    assert!(report.latency.ttft_ms.unwrap().p50 <= latency.p50);
    // Random weights do not write tool calls.
    assert_eq!(report.metrics["wrapper_valid"], 0.0);
}

#[test]
fn constrained_decoding_gives_schema_valid_json_even_from_random_weights() {
    let dir = tempfile::tempdir().unwrap();
    // A schema whose language is finite (an enum, a boolean), so even random weights must
    // finish a valid answer within the token budget.
    let schema = serde_json::json!({
        "type": "object",
        "properties": {
            "colour": {"type": "string", "enum": ["red", "green", "blue"]},
            "bright": {"type": "boolean"}
        },
        "required": ["colour", "bright"],
        "additionalProperties": false
    });
    let cases: Vec<slm_eval::Case> = ["sky", "grass", "blood", "sea"]
        .iter()
        .map(|thing| slm_eval::Case {
            schema: Some(schema.clone()),
            ..slm_eval::Case::new(
                format!("Colour of the {thing} as JSON"),
                r#"{"colour": "blue", "bright": true}"#,
            )
        })
        .collect();
    let data = dir.path().join("colours.jsonl");
    Dataset::from_cases(&data, cases).save(&data).unwrap();
    let model = dir.path().join("tiny.gguf");
    write_test_model(&model, &TestModelSpec::tiny()).unwrap();
    let out = dir.path().join("constrained.json");
    let spec = format!("llamacpp:{}", model.display());
    let done = slm_eval(&[
        "run",
        "--track",
        "structured",
        "--data",
        data.to_str().unwrap(),
        "--model",
        &spec,
        "--out",
        out.to_str().unwrap(),
        "--no-progress",
        "--max-tokens",
        "128",
        "--constrained",
    ]);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let report = Report::load(&out).unwrap();
    let results = std::fs::read_to_string(report.results_path.as_ref().unwrap()).unwrap();
    assert_eq!(report.cases.errors, 0, "{results}");
    assert_eq!(report.metrics["json_valid"], 1.0, "{results}");
    assert_eq!(report.metrics["schema_valid"], 1.0, "{results}");
    assert!(report.constrained);
}

#[test]
fn the_real_model_answers_once_and_a_rerun_comes_from_the_response_cache() {
    let Some(_) = slm_llamacpp::testing::real_model(
        &slm_llamacpp::models::SMOLLM2,
        "the_real_model_answers_once_and_a_rerun_comes_from_the_response_cache",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = prepared(dir.path()).join("toolcall/test.jsonl");
    let cases = Dataset::load(&data).unwrap().cases.len();
    let tiny = dir.path().join("tiny.gguf");
    write_test_model(&tiny, &TestModelSpec::tiny()).unwrap();
    let tiny = format!("llamacpp:{}", tiny.display());
    let eval = |model: &str, name: &str| {
        let out = dir.path().join(name);
        let done = slm_eval(&[
            "run",
            "--track",
            "toolcall",
            "--data",
            data.to_str().unwrap(),
            "--model",
            model,
            "--out",
            out.to_str().unwrap(),
            "--no-progress",
            "--max-tokens",
            "48",
        ]);
        let stderr = String::from_utf8_lossy(&done.stderr).into_owned();
        assert!(done.status.success(), "{stderr}");
        let results = std::fs::read_to_string(out.with_extension("results.jsonl")).unwrap();
        (
            eval_support::counts(&stderr),
            Report::load(&out).unwrap(),
            results,
        )
    };
    let (cold, first, first_rows) = eval("llamacpp:smollm2", "a.json");
    assert_eq!(cold, (cases, 0, cases));
    let (warm, second, second_rows) = eval("llamacpp:smollm2", "b.json");
    assert_eq!(warm, (cases, cases, 0), "the same weights and requests");
    assert_eq!(first.metrics, second.metrics);
    assert_eq!(first.per_case, second.per_case);
    let predictions = |rows: &str| -> Vec<(String, bool)> {
        rows.lines()
            .map(|l| serde_json::from_str::<slm_eval::CaseResult>(l).unwrap())
            .map(|r| (r.prediction, r.cached))
            .collect()
    };
    let (a, b) = (predictions(&first_rows), predictions(&second_rows));
    assert!(a.iter().all(|(_, cached)| !cached) && b.iter().all(|(_, cached)| *cached));
    let mut a: Vec<_> = a.into_iter().map(|(p, _)| p).collect();
    let mut b: Vec<_> = b.into_iter().map(|(p, _)| p).collect();
    a.sort();
    b.sort();
    assert_eq!(a, b);
    // Other weights: nothing of SmolLM2's answers is reused.
    let (other, _, _) = eval(&tiny, "c.json");
    assert_eq!(other, (cases, 0, cases));
}

//! What the `slm eval` tests share: the real `slm eval` binary, the fixture's prepared splits,
//! recorded answers for `replay:` models, and runs.
#![allow(dead_code)] // each test file uses part of it

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use slm_eval::{Dataset, Report};

/// The counts `slm eval run` reports on stderr: (run now, from the cache, model calls).
pub fn counts(stderr: &str) -> (usize, usize, usize) {
    let number_before = |label: &str| -> usize {
        let head = &stderr[..stderr
            .find(label)
            .unwrap_or_else(|| panic!("no {label:?} in {stderr}"))];
        head.trim_end()
            .rsplit([' ', '('])
            .next()
            .unwrap()
            .parse()
            .unwrap_or_else(|e| panic!("{label:?} in {stderr}: {e}"))
    };
    (
        number_before(" run:"),
        number_before(" from the cache"),
        number_before(" model calls"),
    )
}

/// Runs `slm eval ARGS`.
pub fn slm_eval(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_slm"))
        .arg("eval")
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("the slm-eval binary runs")
}

/// Lossy UTF-8 text of an output.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A path as `&str`.
pub fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Prepares the fixture's splits in `dir` and returns the data directory.
pub fn prepared(dir: &Path) -> PathBuf {
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../slm-eval/tests/fixtures/xlam_sample.json");
    let out = dir.join("02_dataset");
    let done = slm_eval(&["prepare", "--dataset-path", s(&fixture), "--out", s(&out)]);
    assert!(done.status.success(), "{}", text(&done.stderr));
    let summary: Value = serde_json::from_slice(&done.stdout).unwrap();
    assert_eq!(summary["usable"], 60);
    out
}

/// Writes recorded answers for a dataset: the reference for every case except those in
/// `wrong`, which get `wrong_answer`.
pub fn answers(dataset: &Path, wrong: &[usize], wrong_answer: &str, out: &Path) -> PathBuf {
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

/// `slm eval run` of one model; the report it wrote.
pub fn run(track: &str, data: &Path, model: &str, out: &Path) -> Report {
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

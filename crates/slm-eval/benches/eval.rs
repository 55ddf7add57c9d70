//! Criterion benchmarks: scoring, the paired bootstrap of `compare`, and the BFCL checker.
//!
//! The BFCL group replays the cases written by
//! `cargo run -p slm-eval --release --no-default-features --example bfcl_agreement -- <bfcl dir> --dump <file>`
//! (`SLM_BFCL_CASES`, default `target/bfcl_cases.jsonl`, with the data in `SLM_BFCL_DIR`,
//! default `/work/shared/data/bfcl`); it is skipped when they are absent. The same file timed
//! through BFCL's own Python checker (`examples/bfcl_crosscheck.py --time`) is the reference.

use std::collections::HashMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Map, Value};
use slm_core::ToolCall;
use slm_eval::bfcl::{Category, ExpectedCall, Function, Suite, check};
use slm_eval::metrics::score_case;
use slm_eval::xlam::{self, SplitSpec};
use slm_eval::{Case, CaseResult, CompareOptions, Comparison, Dataset, Report, RunConfig, Track};

fn fixture_cases(track: Track) -> Vec<Case> {
    let rows = xlam::read_rows(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/xlam_sample.json"),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    xlam::prepare(
        &rows,
        dir.path(),
        SplitSpec {
            train: 0,
            val: 0,
            test: 48,
            seed: 42,
        },
    )
    .unwrap();
    Dataset::load(dir.path().join(track.to_string()).join("test.jsonl"))
        .unwrap()
        .cases
}

/// The reference re-serialized with keys in another order, so nothing is byte-identical.
fn reordered(text: &str) -> String {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => {
            let mut entries: Vec<_> = map.into_iter().collect();
            entries.reverse();
            let body: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("{:?}: {}", k, v))
                .collect();
            format!("{{{}}}", body.join(", "))
        }
        _ => text.replace("\":", "\" :"),
    }
}

fn scoring(c: &mut Criterion) {
    let mut group = c.benchmark_group("score_48_cases");
    for track in Track::ALL {
        let cases = fixture_cases(track);
        let predictions: Vec<String> = cases.iter().map(|c| reordered(&c.completion)).collect();
        group.bench_function(track.to_string(), |b| {
            b.iter(|| {
                for (case, prediction) in cases.iter().zip(&predictions) {
                    black_box(score_case(track, case, prediction));
                }
            })
        });
    }
    group.finish();
}

fn comparing(c: &mut Criterion) {
    let cases = fixture_cases(Track::Structured);
    let data = Dataset::from_cases("bench", cases.clone());
    let report = |wrong_every: usize| {
        let rows: Vec<CaseResult> = cases
            .iter()
            .enumerate()
            .map(|(i, case)| CaseResult {
                index: i,
                case_id: case.fingerprint(),
                prediction: if i % wrong_every == 0 {
                    "{}".into()
                } else {
                    case.completion.clone()
                },
                ..CaseResult::example()
            })
            .collect();
        Report::build(
            &RunConfig::new(Track::Structured),
            "m",
            None,
            Default::default(),
            &data,
            &rows,
            None,
        )
    };
    let (llm, slm) = (report(12), report(4));
    c.bench_function("compare_48_cases_2000_resamples", |b| {
        b.iter(|| black_box(Comparison::new(&llm, &slm, CompareOptions::new(0.01)).unwrap()))
    });
}

struct BfclCase {
    category: Category,
    id: String,
    calls: Vec<ToolCall>,
}

fn bfcl(c: &mut Criterion) {
    let dir = PathBuf::from(
        std::env::var("SLM_BFCL_DIR").unwrap_or_else(|_| "/work/shared/data/bfcl".into()),
    );
    let cases_path = PathBuf::from(
        std::env::var("SLM_BFCL_CASES").unwrap_or_else(|_| "target/bfcl_cases.jsonl".into()),
    );
    let Ok(text) = std::fs::read_to_string(&cases_path) else {
        eprintln!(
            "skipping bfcl: no {} (see the bench's documentation)",
            cases_path.display()
        );
        return;
    };
    let mut functions: HashMap<String, Vec<Function>> = HashMap::new();
    let mut answers: HashMap<String, Vec<ExpectedCall>> = HashMap::new();
    for category in Category::ALL {
        // Categories whose data is absent are skipped; their cases are left out below.
        let Ok(suite) = Suite::load(&dir, category) else {
            continue;
        };
        for entry in suite.entries {
            functions.insert(entry.id.clone(), entry.function);
        }
        for (id, answer) in suite.answers {
            answers.insert(id, answer.ground_truth);
        }
    }
    let cases: Vec<BfclCase> = text
        .lines()
        .map(|line| {
            let row: Value = serde_json::from_str(line).unwrap();
            let category = Category::from_id(row["id"].as_str().unwrap()).unwrap();
            let calls = row["calls"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| ToolCall::new("", c["name"].as_str().unwrap(), c["arguments"].clone()))
                .collect();
            BfclCase {
                category,
                id: row["id"].as_str().unwrap().to_string(),
                calls,
            }
        })
        .filter(|case| functions.contains_key(&case.id))
        .collect();
    if cases.is_empty() {
        eprintln!(
            "skipping bfcl: no data in {} for the dumped cases",
            dir.display()
        );
        return;
    }
    let empty: Vec<Map<String, Value>> = Vec::new();
    let mut group = c.benchmark_group("bfcl");
    group.sample_size(20);
    group.bench_function(format!("check_{}_cases", cases.len()), |b| {
        b.iter(|| {
            let mut passed = 0usize;
            for case in &cases {
                let expected = answers.get(&case.id).unwrap_or(&empty);
                passed += usize::from(
                    check(case.category, &functions[&case.id], expected, &case.calls).is_ok(),
                );
            }
            black_box(passed)
        })
    });
    group.finish();
}

criterion_group!(benches, scoring, comparing, bfcl);
criterion_main!(benches);

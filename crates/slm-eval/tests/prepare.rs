//! `prepare` on a synthetic xLAM-format fixture (tests/fixtures/xlam_sample.json: 60 usable rows
//! and 3 broken ones).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use slm_eval::xlam::{self, SplitSpec};
use slm_eval::{Dataset, Track, validate_dataset};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/xlam_sample.json")
}

fn prepare(dir: &Path, split: SplitSpec) -> xlam::PrepareSummary {
    let rows = xlam::read_rows(&fixture()).unwrap();
    xlam::prepare(&rows, dir, split).unwrap()
}

fn read(dir: &Path, track: &str, split: &str) -> Dataset {
    Dataset::load(dir.join(track).join(format!("{split}.jsonl"))).unwrap()
}

#[test]
fn default_split_is_32_8_8_and_counts_skipped_rows() {
    let dir = tempfile::tempdir().unwrap();
    let summary = prepare(dir.path(), SplitSpec::default());
    assert_eq!(summary.rows, 63);
    assert_eq!(summary.usable, 60);
    assert_eq!(
        summary.skipped.values().sum::<usize>(),
        3,
        "{:?}",
        summary.skipped
    );
    assert_eq!(summary.skipped["answer calls an undeclared tool"], 1);
    assert_eq!(summary.references_violating_schema, 0);
    for (split, size) in [("train", 32), ("val", 8), ("test", 8)] {
        for track in ["structured", "toolcall"] {
            assert_eq!(
                read(dir.path(), track, split).cases.len(),
                size,
                "{track}/{split}"
            );
        }
    }
}

#[test]
fn splits_are_disjoint_aligned_and_valid() {
    let dir = tempfile::tempdir().unwrap();
    prepare(dir.path(), SplitSpec::default());
    let mut seen = BTreeSet::new();
    for split in ["train", "val", "test"] {
        let structured = read(dir.path(), "structured", split);
        let toolcall = read(dir.path(), "toolcall", split);
        validate_dataset(&structured, Track::Structured).unwrap();
        validate_dataset(&toolcall, Track::Toolcall).unwrap();
        assert_eq!(structured.cases.len(), toolcall.cases.len(), "{split}");
        for (s, t) in structured.cases.iter().zip(&toolcall.cases) {
            let reference: Value = serde_json::from_str(&s.completion).unwrap();
            let query = reference["query"].as_str().unwrap();
            assert!(
                t.prompt.ends_with(&format!("Request: {query}")),
                "rows of both tracks align"
            );
            assert!(
                seen.insert(query.to_string()),
                "{query} appears in two splits"
            );
            let validator = jsonschema::validator_for(s.schema.as_ref().unwrap()).unwrap();
            assert!(validator.is_valid(&reference));
            let calls = slm_core::wire::parse_tool_calls(&t.completion).unwrap();
            assert_eq!(calls[0].name, reference["tool_name"]);
            assert_eq!(calls[0].arguments, reference["arguments"]);
            assert!(!t.tools.is_empty());
        }
    }
}

#[test]
fn the_split_is_seeded() {
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    prepare(a.path(), SplitSpec::default());
    prepare(b.path(), SplitSpec::default());
    prepare(
        c.path(),
        SplitSpec {
            seed: 7,
            ..SplitSpec::default()
        },
    );
    let test = |d: &Path| std::fs::read(d.join("toolcall/test.jsonl")).unwrap();
    assert_eq!(test(a.path()), test(b.path()));
    assert_ne!(test(a.path()), test(c.path()));
}

#[test]
fn python_types_become_json_schema() {
    let dir = tempfile::tempdir().unwrap();
    prepare(
        dir.path(),
        SplitSpec {
            train: 0,
            val: 0,
            test: 60,
            seed: 1,
        },
    );
    let cases = read(dir.path(), "toolcall", "test").cases;
    let tool = |name: &str| {
        cases
            .iter()
            .flat_map(|c| c.tools.iter())
            .find(|t| t.name == name)
            .unwrap()
            .clone()
    };
    let books = tool("search_books").parameters;
    assert_eq!(books["properties"]["filters"]["type"], "object");
    assert_eq!(
        books["properties"]["filters"]["additionalProperties"],
        json!({"type": "string"})
    );
    assert_eq!(books["required"], json!(["query"]));
    let sum = tool("sum_list").parameters;
    assert_eq!(
        sum["properties"]["numbers"]["items"],
        json!({"type": "integer"})
    );
    assert_eq!(
        tool("set_alarm").parameters["properties"]["repeat"]["type"],
        "boolean"
    );
    assert_eq!(
        tool("convert_currency").parameters["properties"]["amount"]["type"],
        "number"
    );
    // Rows with two answers keep both calls.
    assert!(cases.iter().any(|c| {
        slm_core::wire::parse_tool_calls(&c.completion)
            .unwrap()
            .len()
            == 2
    }));
}

#[test]
fn too_few_rows_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let rows = xlam::read_rows(&fixture()).unwrap();
    let err = xlam::prepare(
        &rows,
        dir.path(),
        SplitSpec {
            train: 100,
            ..SplitSpec::default()
        },
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            slm_eval::EvalError::NotEnoughRows {
                available: 60,
                needed: 116
            }
        ),
        "{err}"
    );
}

#[test]
fn a_bad_jsonl_line_names_its_number() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.jsonl");
    std::fs::write(
        &path,
        "{\"query\": \"q\", \"tools\": \"[]\", \"answers\": \"[]\"}\n{oops\n",
    )
    .unwrap();
    let err = xlam::read_rows(&path).unwrap_err();
    assert!(err.to_string().contains("x.jsonl:2:"), "{err}");
}

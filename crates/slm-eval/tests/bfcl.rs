//! The BFCL loader on a small hand-written suite in BFCL's file layout, and the checker on it.

use std::path::Path;

use serde_json::json;
use slm_core::ToolCall;
use slm_eval::bfcl::{Category, Suite, check};

fn write(dir: &Path, name: &str, lines: &[serde_json::Value]) {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::create_dir_all(dir.join("possible_answer")).unwrap();
    std::fs::write(dir.join(name), text).unwrap();
}

fn entry(id: &str) -> serde_json::Value {
    json!({
        "id": id,
        "question": [[{"role": "user", "content": "Area of a circle of radius 3 and of radius 4?"}]],
        "function": [{"name": "geometry.area_circle", "description": "Area of a circle.",
            "parameters": {"type": "dict", "properties": {
                "radius": {"type": "float", "description": "Radius."},
                "units": {"type": "string", "description": "Units."}},
            "required": ["radius"]}}]
    })
}

#[test]
fn a_parallel_suite_loads_and_checks() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "BFCL_v4_parallel.json", &[entry("parallel_0")]);
    write(
        dir.path(),
        "possible_answer/BFCL_v4_parallel.json",
        &[json!({"id": "parallel_0", "ground_truth": [
            {"geometry.area_circle": {"radius": [3.0], "units": ["", "cm"]}},
            {"geometry.area_circle": {"radius": [4.0], "units": ["", "cm"]}}]})],
    );
    let suite = Suite::load(dir.path(), Category::Parallel).unwrap();
    let entry = &suite.entries[0];
    assert_eq!(
        entry.messages()[0].content,
        "Area of a circle of radius 3 and of radius 4?"
    );
    let spec = entry.function[0].to_tool_spec();
    assert_eq!(spec.parameters["type"], "object");
    assert_eq!(spec.parameters["properties"]["radius"]["type"], "number");
    let expected = &suite.answers["parallel_0"].ground_truth;
    let call = |r: i64, units: Option<&str>| {
        let mut args = json!({"radius": r});
        if let Some(u) = units {
            args["units"] = json!(u);
        }
        ToolCall::new("", "geometry.area_circle", args)
    };
    assert!(
        check(
            Category::Parallel,
            &entry.function,
            expected,
            &[call(4, Some("CM")), call(3, None)]
        )
        .is_ok()
    );
    assert!(
        check(
            Category::Parallel,
            &entry.function,
            expected,
            &[call(4, None), call(4, None)]
        )
        .is_err()
    );
}

#[test]
fn irrelevance_needs_no_answer_key_and_bad_files_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "BFCL_v4_irrelevance.json",
        &[entry("irrelevance_0")],
    );
    let suite = Suite::load(dir.path(), Category::Irrelevance).unwrap();
    assert!(suite.answers.is_empty());
    assert!(check(Category::Irrelevance, &suite.entries[0].function, &[], &[]).is_ok());

    // An entry without an answer key.
    write(dir.path(), "BFCL_v4_multiple.json", &[entry("multiple_0")]);
    write(dir.path(), "possible_answer/BFCL_v4_multiple.json", &[]);
    let err = Suite::load(dir.path(), Category::Multiple).unwrap_err();
    assert!(
        err.to_string().contains("no answer key for multiple_0"),
        "{err}"
    );

    // A malformed line names the file and the line.
    std::fs::write(
        dir.path().join("BFCL_v4_simple_python.json"),
        format!("{}\n{{\"id\": 3}}\n", entry("simple_python_0")),
    )
    .unwrap();
    let err = Suite::load(dir.path(), Category::Simple).unwrap_err();
    assert!(
        err.to_string().contains("BFCL_v4_simple_python.json:2:"),
        "{err}"
    );
}

//! BFCL as a suite through the ordinary runner, on fixtures written for the purpose
//! (`tests/fixtures/bfcl`, BFCL's file layout): answers replayed from the answer keys score
//! 100% but for the one answer-key defect the fixtures carry on purpose; perturbed answers fail
//! where they should; requests are built as BFCL builds them; runs resume.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::json;
use slm_core::{ChatModel, ScriptedModel, ToolCall, ToolChoice};
use slm_eval::bfcl::{self, BfclMode, BfclReference, BfclSummary, Category};
use slm_eval::{Dataset, ReplayModel, Report, RunConfig, Runner, Track};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bfcl")
}

fn suite() -> Dataset {
    bfcl::dataset(&fixtures(), &Category::DEFAULT, BfclMode::FunctionCalling).unwrap()
}

fn reference(case: &slm_eval::Case) -> BfclReference {
    serde_json::from_str(&case.completion).unwrap()
}

/// Each case answered with its answer key's calls (every parameter, first acceptable value),
/// in tool-call wrappers; irrelevance with a sentence. `edit` may change any answer by id.
fn replayed(data: &Dataset, edit: impl Fn(&str, Vec<ToolCall>) -> String) -> ReplayModel {
    let pairs: Vec<(String, String)> = data
        .cases
        .iter()
        .map(|case| {
            let r = reference(case);
            let calls = r
                .ground_truth
                .iter()
                .map(|e| bfcl::call_from_answer(e, false))
                .collect();
            (case.prompt.clone(), edit(&r.id, calls))
        })
        .collect();
    ReplayModel::from_pairs("replayed", pairs)
}

fn as_wrappers(calls: &[ToolCall]) -> String {
    if calls.is_empty() {
        "None of these functions can help with that.".into()
    } else {
        slm_core::wire::render_tool_calls(calls)
    }
}

async fn run(model: &dyn ChatModel, data: &Dataset) -> Report {
    let config = RunConfig::new(Track::Bfcl);
    let outcome = Runner::new(config.clone())
        .run(model, data, None, |_| {})
        .await
        .unwrap();
    Report::build(
        &config,
        model.id(),
        None,
        model.capabilities(),
        data,
        &outcome.results,
        None,
    )
}

fn failed_ids(report: &Report, data: &Dataset) -> Vec<String> {
    report
        .per_case
        .iter()
        .filter(|c| !c.score.all_pass())
        .map(|c| reference(&data.cases[c.index]).id)
        .collect()
}

#[tokio::test]
async fn answers_from_the_answer_keys_pass_but_for_the_key_defect() {
    let data = suite();
    assert_eq!(data.cases.len(), 11);
    let report = run(&replayed(&data, |_, calls| as_wrappers(&calls)), &data).await;
    assert_eq!(failed_ids(&report, &data), ["parallel_multiple_1"]);
    let summary = BfclSummary::of(&report.metrics);
    let accuracy: HashMap<Category, f64> = summary.categories.iter().copied().collect();
    assert_eq!(accuracy[&Category::Simple], 1.0);
    assert_eq!(accuracy[&Category::Multiple], 1.0);
    assert_eq!(accuracy[&Category::Parallel], 1.0);
    assert_eq!(accuracy[&Category::ParallelMultiple], 0.5);
    assert_eq!(summary.irrelevance, Some(1.0));
    // BFCL's summary is the unweighted mean of the AST categories; bfcl_ast counts cases.
    assert_eq!(summary.non_live_ast, Some((1.0 + 1.0 + 1.0 + 0.5) / 4.0));
    assert_eq!(report.metrics[bfcl::BFCL_AST], 10.0 / 11.0);
    assert!(
        !report.metrics.contains_key("args_f1"),
        "{:?}",
        report.metrics
    );
}

#[tokio::test]
async fn perturbed_answers_fail_where_bfcl_fails_them() {
    let data = suite();
    let model = replayed(&data, |id, mut calls| match id {
        // A wrong value.
        "simple_python_1" => {
            calls[0].arguments["amount"] = json!(151);
            as_wrappers(&calls)
        }
        // A float where the function declares an integer.
        "multiple_1" => {
            calls[0].arguments["days"] = json!(3.5);
            as_wrappers(&calls)
        }
        // Parallel calls in another order: still right.
        "parallel_0" => {
            calls.reverse();
            as_wrappers(&calls)
        }
        // One call of two.
        "parallel_1" => as_wrappers(&calls[..1]),
        // The dotted name as sent to the model (`geometry_hypotenuse`): mapped back, right.
        "simple_python_0" => {
            calls[0].name = "geometry_hypotenuse".into();
            as_wrappers(&calls)
        }
        // A call where none fits.
        "irrelevance_0" => as_wrappers(&[ToolCall::new(
            "",
            "weather_forecast",
            json!({"city": "Kyoto"}),
        )]),
        // Prose for a case that needs a call.
        "multiple_0" => "I would book the hotel for you.".into(),
        // A malformed wrapper reads as no call: it passes irrelevance, as in BFCL.
        "irrelevance_1" => "<tool_call name=\"convert_currency\">{not json</tool_call>".into(),
        _ => as_wrappers(&calls),
    });
    let report = run(&model, &data).await;
    let mut failed = failed_ids(&report, &data);
    failed.sort();
    assert_eq!(
        failed,
        [
            "irrelevance_0",
            "multiple_0",
            "multiple_1",
            "parallel_1",
            "parallel_multiple_1",
            "simple_python_1"
        ]
    );
}

#[tokio::test]
async fn requests_are_built_as_bfcl_builds_them_for_function_calling_models() {
    let data = bfcl::dataset(&fixtures(), &[Category::Simple], BfclMode::FunctionCalling).unwrap();
    let model = ScriptedModel::new("m").reply("").reply("").reply("");
    run(&model, &data).await;
    let requests = model.requests();
    assert_eq!(requests.len(), 3);
    let first = requests
        .iter()
        .find(|r| {
            r.last_user_text()
                .unwrap_or_default()
                .contains("hypotenuse")
        })
        .unwrap();
    // The question alone, no system prompt.
    assert_eq!(first.messages.len(), 1);
    assert_eq!(
        first.messages[0].content,
        "What is the hypotenuse of a right triangle with legs 3 and 4?"
    );
    // The functions as tools with standard JSON-schema types and API-safe names; free choice.
    assert_eq!(first.tool_choice, ToolChoice::Auto);
    assert_eq!(first.tools[0].name, "geometry_hypotenuse");
    assert_eq!(
        first.tools[0].parameters["properties"]["a"]["type"],
        "number"
    );
    assert_eq!(first.tools[0].parameters["type"], "object");
}

#[tokio::test]
async fn a_suite_run_resumes_and_names_its_categories() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("bfcl.results.jsonl");
    let data = bfcl::dataset(
        &fixtures(),
        &[Category::Parallel, Category::Irrelevance],
        BfclMode::FunctionCalling,
    )
    .unwrap();
    assert!(
        data.path
            .to_string_lossy()
            .ends_with("bfcl[parallel,irrelevance]")
    );
    let model = replayed(&data, |_, calls| as_wrappers(&calls));
    let config = RunConfig::new(Track::Bfcl);
    let first = Runner::new(config.clone())
        .run(&model, &data, Some(&results), |_| {})
        .await
        .unwrap();
    assert_eq!(first.ran, 4);
    let again = Runner::new(config)
        .run(&model, &data, Some(&results), |_| {})
        .await
        .unwrap();
    assert_eq!((again.resumed, again.ran), (4, 0));
    // Another choice of categories is another dataset: its results are not mixed in.
    let other = bfcl::dataset(
        &fixtures(),
        &[Category::Parallel],
        BfclMode::FunctionCalling,
    )
    .unwrap();
    assert_ne!(other.sha256, data.sha256);
}

#[test]
fn bad_data_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = bfcl::dataset(dir.path(), &[Category::Simple], BfclMode::Prompting).unwrap_err();
    assert!(
        missing.to_string().contains("BFCL_v4_simple_python.json"),
        "{missing}"
    );
    std::fs::write(
        dir.path().join("BFCL_v4_irrelevance.json"),
        "{\"id\": \"irrelevance_0\", \"question\": [[]], \"function\": []}\nnot json\n",
    )
    .unwrap();
    let broken =
        bfcl::dataset(dir.path(), &[Category::Irrelevance], BfclMode::Prompting).unwrap_err();
    assert!(
        broken.to_string().contains("BFCL_v4_irrelevance.json:2"),
        "{broken}"
    );
    assert!(bfcl::parse_categories("multi_turn_base").is_err());
}

/// A JSON value written as Python writes the literal.
fn python(value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::Null => "None".into(),
        Value::Bool(b) => if *b { "True" } else { "False" }.into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(python).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("'{k}': {}", python(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn as_python_calls(calls: &[ToolCall]) -> String {
    if calls.is_empty() {
        return "None of the functions can be used for this.".into();
    }
    let calls: Vec<String> = calls
        .iter()
        .map(|c| {
            let args: Vec<String> = c
                .arguments
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| format!("{k}={}", python(v)))
                .collect();
            format!("{}({})", c.name, args.join(", "))
        })
        .collect();
    format!("[{}]", calls.join(", "))
}

#[tokio::test]
async fn prompting_mode_asks_with_bfcls_system_prompt_and_reads_python_calls() {
    let data = bfcl::dataset(&fixtures(), &Category::DEFAULT, BfclMode::Prompting).unwrap();
    // The answer keys, as Python calls (in a code fence for one case, as models write them).
    let model = replayed(&data, |id, calls| match id {
        "multiple_1" => format!("```python\n{}\n```", as_python_calls(&calls)),
        "simple_python_1" => "I'd convert 150 USD to EUR with convert_currency.".into(),
        _ => as_python_calls(&calls),
    });
    let report = run(&model, &data).await;
    let mut failed = failed_ids(&report, &data);
    failed.sort();
    assert_eq!(failed, ["parallel_multiple_1", "simple_python_1"]);

    // The request: BFCL's system prompt with the functions (dotted names as declared), no tools.
    let scripted = ScriptedModel::new("m").reply("[]");
    let one = bfcl::dataset(&fixtures(), &[Category::Simple], BfclMode::Prompting).unwrap();
    let one = Dataset::from_cases("one", vec![one.cases[0].clone()]);
    run(&scripted, &one).await;
    let request = &scripted.requests()[0];
    assert!(request.tools.is_empty());
    assert_eq!(request.messages.len(), 2);
    let system = &request.messages[0].content;
    assert!(system.starts_with("You are an expert in composing functions."));
    assert!(
        system.contains("\"name\": \"geometry.hypotenuse\""),
        "{system}"
    );
    assert!(
        system.contains("\"type\": \"float\""),
        "BFCL's own types: {system}"
    );
    // Another mode is another dataset: results of one are never resumed into the other.
    let fc = bfcl::dataset(&fixtures(), &[Category::Simple], BfclMode::FunctionCalling).unwrap();
    assert_ne!(fc.sha256, data.sha256);
}

#[tokio::test]
async fn compare_decides_on_every_category_the_runs_share() {
    let data = suite();
    let keys = run(&replayed(&data, |_, calls| as_wrappers(&calls)), &data).await;
    // Right everywhere but on irrelevance, where it calls a function.
    let eager = replayed(&data, |id, calls| {
        if id.starts_with("irrelevance") {
            as_wrappers(&[ToolCall::new(
                "",
                "weather_forecast",
                json!({"city": "Oslo"}),
            )])
        } else {
            as_wrappers(&calls)
        }
    });
    let eager = run(&eager, &data).await;
    let comparison =
        slm_eval::Comparison::new(&keys, &eager, slm_eval::CompareOptions::new(0.05)).unwrap();
    let trailing: Vec<&str> = comparison
        .metrics
        .iter()
        .filter(|m| m.trails)
        .map(|m| m.metric.as_str())
        .collect();
    assert!(trailing.contains(&"bfcl_irrelevance"), "{trailing:?}");
    assert!(!trailing.contains(&"bfcl_simple_python"), "{trailing:?}");
    assert!(comparison.fine_tune);
    assert_eq!(
        comparison.metrics.len(),
        6,
        "bfcl_ast and the five categories"
    );
}

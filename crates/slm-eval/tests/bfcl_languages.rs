//! The live, Java and JavaScript BFCL categories on fixtures written for the purpose
//! (`tests/fixtures/bfcl`, BFCL's layout): answers replayed from the answer keys pass; perturbed
//! answers fail with the error types BFCL's own checker gives them (each expectation below was
//! printed by BFCL's unmodified `ast_checker.py` from bfcl-eval 2026.3.23 on the same fixture);
//! functions are presented as BFCL presents them.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use slm_core::{ScriptedModel, ToolCall};
use slm_eval::bfcl::{self, BfclMode, BfclReference, Category, Suite};
use slm_eval::{ReplayModel, Report, RunConfig, Runner, Track};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bfcl")
}

const NEW: [Category; 8] = [
    Category::SimpleJava,
    Category::SimpleJavascript,
    Category::LiveSimple,
    Category::LiveMultiple,
    Category::LiveParallel,
    Category::LiveParallelMultiple,
    Category::LiveIrrelevance,
    Category::LiveRelevance,
];

/// The answer key's calls (first acceptable values) as a model of the category writes them.
fn truth(suite: &Suite, id: &str) -> Vec<ToolCall> {
    let entry = suite.entries.iter().find(|e| e.id == id).unwrap();
    suite.answers[id]
        .ground_truth
        .iter()
        .map(|e| {
            let call = bfcl::call_from_answer(e, false);
            bfcl::source_call(&call, &entry.function, suite.category.language())
        })
        .collect()
}

/// BFCL's verdict on `calls` for entry `id`: `None` for a pass, else the error type.
fn verdict(suite: &Suite, id: &str, calls: &[ToolCall]) -> Option<String> {
    let entry = suite.entries.iter().find(|e| e.id == id).unwrap();
    let expected = suite
        .answers
        .get(id)
        .map(|a| a.ground_truth.as_slice())
        .unwrap_or(&[]);
    bfcl::check(suite.category, &entry.function, expected, calls)
        .err()
        .map(|e| e.kind)
}

/// The answer key's single call with some arguments replaced.
fn edited(suite: &Suite, id: &str, edit: Value) -> Vec<ToolCall> {
    let mut calls = truth(suite, id);
    for (k, v) in edit.as_object().unwrap() {
        calls[0].arguments[k] = v.clone();
    }
    calls
}

#[test]
fn every_new_category_loads_and_replayed_answer_keys_pass() {
    for category in NEW {
        let suite = Suite::load(&fixtures(), category).unwrap();
        assert!(!suite.entries.is_empty(), "{category}");
        for entry in &suite.entries {
            assert_eq!(Category::from_id(&entry.id), Some(category), "{}", entry.id);
            let calls = match category {
                Category::LiveIrrelevance => vec![],
                Category::LiveRelevance => vec![ToolCall::new("", "search_flights", json!({}))],
                _ => truth(&suite, &entry.id),
            };
            assert_eq!(verdict(&suite, &entry.id, &calls), None, "{}", entry.id);
        }
    }
}

#[test]
fn java_arguments_are_converted_as_bfcl_converts_them() {
    let suite = Suite::load(&fixtures(), Category::SimpleJava).unwrap();
    let id = "simple_java_0";
    let truth = truth(&suite, id);
    assert_eq!(truth[0].arguments["limit"], "500L");
    assert_eq!(truth[0].arguments["loadFactor"], "0.75f");
    let cases = [
        (json!({"limit": "500"}), Some("type_error:simple")),
        (json!({"loadFactor": "0.75"}), Some("type_error:simple")),
        (
            json!({"tags": r#"new ArrayList<String>() {{ add("new"); add("priority"); }}"#}),
            None,
        ),
        (
            json!({"tags": r#"new ArrayList<>(Arrays.asList("priority", "new"))"#}),
            Some("value_error:list/tuple"),
        ),
        (
            json!({"shards": "new int[]{1, 2, 4}"}),
            Some("value_error:list/tuple"),
        ),
        (
            json!({"shards": "new int[]{1, 2, x}"}),
            Some("type_error:nested"),
        ),
        (
            json!({"options": r#"new HashMap<String, Object>() {{ put("retries", 4); }}"#}),
            Some("value_error:dict_value"),
        ),
        (json!({"verbose": true}), Some("type_error:java")),
        (json!({"verbose": "yes"}), Some("type_error:simple")),
        (json!({"name": "\"orders\""}), Some("value_error:string")),
        (json!({"name": "Orders"}), None),
    ];
    for (edit, expected) in cases {
        let calls = edited(&suite, id, edit.clone());
        assert_eq!(verdict(&suite, id, &calls).as_deref(), expected, "{edit}");
    }
    let id = "simple_java_1";
    let scale = |args: Value| vec![ToolCall::new("", "ImageOps.scale", args)];
    let cases = [
        (
            json!({"image": "image", "factor": "2.5", "quality": "7"}),
            None,
        ),
        (
            json!({"image": "image", "factor": "2.5d", "quality": "7"}),
            Some("type_error:simple"),
        ),
        (
            json!({"image": "image", "factor": "2"}),
            Some("value_error:others"),
        ),
        (
            json!({"image": "image", "factor": "2.5", "quality": "7s"}),
            Some("type_error:simple"),
        ),
    ];
    for (args, expected) in cases {
        let calls = scale(args.clone());
        assert_eq!(verdict(&suite, id, &calls).as_deref(), expected, "{args}");
    }
}

#[test]
fn javascript_arguments_are_converted_as_bfcl_converts_them() {
    let suite = Suite::load(&fixtures(), Category::SimpleJavascript).unwrap();
    let id = "simple_javascript_0";
    let cases = [
        (json!({"elementId": "'salesChart'"}), None),
        (json!({"scale": "1.5e0"}), Some("type_error:simple")),
        (
            json!({"series": "['q2', 'q1']"}),
            Some("value_error:list/tuple"),
        ),
        (
            json!({"options": "{theme: 'light', depth: 2}"}),
            Some("value_error:dict_value"),
        ),
        (json!({"options": "{theme: 'dark', depth: 2}"}), None),
        (json!({"animate": "True"}), Some("type_error:simple")),
        // Only BFCL's optional marker is acceptable: giving the parameter fails.
        (json!({"callback": "onDone"}), Some("value_error:string")),
        (json!({"scale": 1.5}), Some("type_error:js")),
    ];
    for (edit, expected) in cases {
        let calls = edited(&suite, id, edit.clone());
        assert_eq!(verdict(&suite, id, &calls).as_deref(), expected, "{edit}");
    }
    let id = "simple_javascript_1";
    for (value, expected) in [
        ("9007199254740993n", None),
        ("9007199254740993", Some("type_error:simple")),
        ("'hits'", Some("type_error:simple")),
    ] {
        let calls = [ToolCall::new(
            "",
            "storeCounter",
            json!({"key": "hits", "value": value}),
        )];
        assert_eq!(verdict(&suite, id, &calls).as_deref(), expected, "{value}");
    }
}

#[test]
fn live_categories_follow_the_python_rules_and_relevance_needs_a_call() {
    let call = |name: &str, args: Value| ToolCall::new("", name, args);
    let cases = [
        (
            Category::LiveSimple,
            "live_simple_0-0-0",
            vec![call(
                "get_current_weather",
                json!({"location": "Kyoto", "unit": "kelvin"}),
            )],
            Some("value_error:string"),
        ),
        (
            Category::LiveSimple,
            "live_simple_1-1-0",
            vec![call("thermostat.set", json!({"temperature": 21}))],
            Some("value_error:others"),
        ),
        (
            Category::LiveMultiple,
            "live_multiple_0-0-0",
            vec![call("order_food", json!({"item": "latte"}))],
            Some("simple_function_checker:wrong_func_name"),
        ),
        (
            Category::LiveMultiple,
            "live_multiple_0-0-0",
            vec![call(
                "order_drink",
                json!({"drink": "latte", "size": "large", "milk": "Oat Milk"}),
            )],
            None,
        ),
        (
            Category::LiveParallel,
            "live_parallel_0-0-0",
            vec![call("get_current_weather", json!({"location": "Rome"}))],
            Some("parallel_function_checker_no_order:wrong_count"),
        ),
        (
            Category::LiveParallel,
            "live_parallel_0-0-0",
            vec![
                call("get_current_weather", json!({"location": "Rome, Italy"})),
                call("get_current_weather", json!({"location": "paris"})),
            ],
            None,
        ),
        (
            Category::LiveParallelMultiple,
            "live_parallel_multiple_0-0-0",
            vec![
                call("order_drink", json!({"drink": "tea", "size": "large"})),
                call("order_food", json!({"item": "Caesar Salad"})),
            ],
            Some("parallel_function_checker_no_order:cannot_find_match"),
        ),
        (
            Category::LiveIrrelevance,
            "live_irrelevance_0-0-0",
            vec![call("requests.get", json!({"url": "https://example.com"}))],
            Some("irrelevance_error:decoder_success"),
        ),
        (
            Category::LiveRelevance,
            "live_relevance_0-0-0",
            vec![],
            Some("relevance_error:decoder_failed"),
        ),
    ];
    for (category, id, calls, expected) in cases {
        let suite = Suite::load(&fixtures(), category).unwrap();
        assert_eq!(verdict(&suite, id, &calls).as_deref(), expected, "{id}");
    }
}

#[test]
fn categories_parse_by_name_and_group() {
    assert_eq!(
        bfcl::parse_categories("live").unwrap(),
        Category::LIVE.to_vec()
    );
    assert_eq!(bfcl::parse_categories("non_live").unwrap().len(), 7);
    assert_eq!(
        bfcl::parse_categories("simple_java, simple_javascript, live_relevance").unwrap(),
        vec![
            Category::SimpleJava,
            Category::SimpleJavascript,
            Category::LiveRelevance
        ]
    );
    assert_eq!(bfcl::parse_categories("all, live").unwrap().len(), 13);
    assert!(bfcl::parse_categories("multi_turn_base").is_err());
    // Prompted Java/JavaScript calls need BFCL's tree-sitter parsers, which are not ported.
    let error =
        bfcl::dataset(&fixtures(), &[Category::SimpleJava], BfclMode::Prompting).unwrap_err();
    assert!(error.to_string().contains("simple_java"), "{error}");
}

#[test]
fn malformed_lines_of_new_categories_are_errors_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("BFCL_v4_live_relevance.json"),
        "{\"id\": \"live_relevance_0-0-0\", \"question\": [[]], \"function\": []}\nnot json\n",
    )
    .unwrap();
    let error = Suite::load(dir.path(), Category::LiveRelevance).unwrap_err();
    assert!(
        error.to_string().contains("BFCL_v4_live_relevance.json:2"),
        "{error}"
    );
    // A category with an answer key needs it.
    std::fs::write(
        dir.path().join("BFCL_v4_simple_java.json"),
        "{\"id\": \"simple_java_0\", \"question\": [[]], \"function\": []}\n",
    )
    .unwrap();
    assert!(Suite::load(dir.path(), Category::SimpleJava).is_err());
}

fn reference(case: &slm_eval::Case) -> BfclReference {
    serde_json::from_str(&case.completion).unwrap()
}

#[tokio::test]
async fn java_and_live_requests_are_built_as_bfcl_builds_them() {
    // Java: every parameter is a string described with its Java type.
    let data = bfcl::dataset(
        &fixtures(),
        &[Category::SimpleJava],
        BfclMode::FunctionCalling,
    )
    .unwrap();
    let tool = &data.cases[0].tools[0];
    assert_eq!(tool.name, "OrderIndex_build");
    assert!(
        tool.description
            .ends_with("Note that the provided function is in Java 8 SDK syntax.")
    );
    let tags = &tool.parameters["properties"]["tags"];
    assert_eq!(tags["type"], "string");
    assert_eq!(
        tags["description"],
        "Tags to attach. This is Java ArrayList type parameter in string representation. \
         The list elements are of type String; they are not in string representation."
    );
    assert!(tags.get("items").is_none());
    // The checker keeps BFCL's declared types.
    assert_eq!(
        reference(&data.cases[0]).functions[0].parameters["properties"]["tags"]["type"],
        "ArrayList"
    );

    // JavaScript: an object's schema moves into the description, as Python's `json.dumps`
    // writes it (keys in the data's order).
    let data = bfcl::dataset(
        &fixtures(),
        &[Category::SimpleJavascript],
        BfclMode::FunctionCalling,
    )
    .unwrap();
    let options = &data.cases[0].tools[0].parameters["properties"]["options"];
    assert_eq!(options["type"], "string");
    assert!(
        options["description"]
            .as_str()
            .unwrap()
            .ends_with("they are not in string representation. {\"theme\": {\"type\": \"String\", \"description\": \"Theme.\"}, \"depth\": {\"type\": \"integer\", \"description\": \"Depth.\"}}"),
        "{options}"
    );

    // Live: the question's system message is kept, before the user turn.
    let data = bfcl::dataset(
        &fixtures(),
        &[Category::LiveSimple],
        BfclMode::FunctionCalling,
    )
    .unwrap();
    let model = ScriptedModel::new("m").reply("").reply("");
    let config = RunConfig::new(Track::Bfcl);
    Runner::new(config)
        .run(&model, &data, None, |_| {})
        .await
        .unwrap();
    let requests = model.requests();
    let kyoto = requests
        .iter()
        .find(|r| r.last_user_text().unwrap_or_default().contains("Kyoto"))
        .unwrap();
    assert_eq!(kyoto.messages.len(), 2);
    assert_eq!(kyoto.messages[0].content, "You are a helpful travel agent.");
    assert!(
        kyoto.tools[0]
            .description
            .ends_with("Note that the provided function is in Python 3 syntax.")
    );

    // Prompting: BFCL's system prompt comes first in that same system message.
    let data = bfcl::dataset(&fixtures(), &[Category::LiveSimple], BfclMode::Prompting).unwrap();
    let case = data
        .cases
        .iter()
        .find(|c| c.prompt.contains("Kyoto"))
        .unwrap();
    let request = bfcl::request(case, &slm_core::GenerationOptions::deterministic());
    assert_eq!(request.messages.len(), 2);
    assert!(
        request.messages[0]
            .content
            .starts_with("You are an expert in composing functions.")
    );
    assert!(
        request.messages[0]
            .content
            .ends_with("\n\nYou are a helpful travel agent.")
    );
}

#[tokio::test]
async fn a_run_over_the_new_categories_replays_the_answer_keys_at_full_accuracy() {
    let data = bfcl::dataset(&fixtures(), &NEW, BfclMode::FunctionCalling).unwrap();
    let pairs: Vec<(String, String)> = data
        .cases
        .iter()
        .map(|case| {
            let r = reference(case);
            let key = r
                .conversation
                .iter()
                .rev()
                .find(|t| t.role == "user")
                .map_or(case.prompt.clone(), |t| t.content.clone());
            let language = r.category.language();
            let calls: Vec<ToolCall> = r
                .ground_truth
                .iter()
                .map(|e| {
                    bfcl::source_call(&bfcl::call_from_answer(e, false), &r.functions, language)
                })
                .map(|mut c| {
                    c.name = c.name.replace('.', "_");
                    c
                })
                .collect();
            let reply = match r.category {
                Category::LiveIrrelevance => "I cannot help with that.".to_string(),
                Category::LiveRelevance => slm_core::wire::render_tool_calls(&[ToolCall::new(
                    "",
                    "search_flights",
                    json!({"destination": "Lima"}),
                )]),
                _ => slm_core::wire::render_tool_calls(&calls),
            };
            (key, reply)
        })
        .collect();
    let model = ReplayModel::from_pairs("replayed", pairs);
    let config = RunConfig::new(Track::Bfcl);
    let outcome = Runner::new(config.clone())
        .run(&model, &data, None, |_| {})
        .await
        .unwrap();
    let report = Report::build(
        &config,
        "replayed",
        None,
        slm_core::ChatModel::capabilities(&model),
        &data,
        &outcome.results,
        None,
    );
    assert_eq!(report.metrics[bfcl::BFCL_AST], 1.0, "{:?}", report.metrics);
    for category in NEW {
        assert_eq!(
            report.metrics[&bfcl::category_metric(category)],
            1.0,
            "{category}"
        );
    }
}

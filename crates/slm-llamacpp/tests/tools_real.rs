//! Strict tool calls on the real SmolLM2-135M-Instruct, on every case of the xLAM sample
//! (`examples/data/xlam_sample.json`), with requests built as the evaluator builds them.
//!
//! Forced calls (`ToolChoice::Required`) must name a declared tool, use only declared argument
//! names and include the required ones; with `parallel_tool_calls(false)` an answer holds
//! exactly one call. A call written in auto mode that breaks its tool's schema is kept and
//! reported in `tool_call_issues`.

use std::path::Path;

use serde_json::{Value, json};
use slm_core::{
    ChatModel, ChatRequest, ChatResponse, FinishReason, GenerationOptions, ToolCall,
    ToolCallProblem, ToolChoice, ToolSpec, collect_stream,
};
use slm_eval::{Case, RunConfig, Track, xlam};
use slm_llamacpp::{LlamaCppModel, LoadOptions, models, testing};

fn xlam_cases() -> Vec<Case> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/data/xlam_sample.json");
    let rows = xlam::read_rows(&path).unwrap();
    let cases: Vec<Case> = rows
        .iter()
        .filter_map(|row| xlam::example_from_row(row).ok())
        .map(|example| example.toolcall)
        .collect();
    assert!(cases.len() >= 50, "only {} usable xLAM rows", cases.len());
    cases
}

/// The evaluator's constrained tool-call request for `case` (tools, `Required`, greedy).
fn forced_request(case: &Case) -> ChatRequest {
    let mut config = RunConfig::new(Track::Toolcall);
    config.constrained = true;
    config.options = config.options.with_max_tokens(96);
    let request = config.request(case);
    assert_eq!(request.tool_choice, ToolChoice::Required);
    request
}

fn load(test: &str) -> Option<LlamaCppModel> {
    let path = testing::real_model(&models::SMOLLM2, test)?;
    let options = LoadOptions::default()
        .with_context_length(2048)
        .with_max_sequences(8);
    Some(LlamaCppModel::load(path, options).unwrap())
}

async fn answer_all(model: &LlamaCppModel, requests: Vec<ChatRequest>) -> Vec<ChatResponse> {
    model
        .chat_batch(requests)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect()
}

/// What is wrong with `call` under `tools`, checked here independently of the library.
fn violations(call: &ToolCall, tools: &[ToolSpec]) -> Vec<String> {
    let Some(tool) = tools.iter().find(|t| t.name == call.name) else {
        return vec![format!("undeclared tool {}", call.name)];
    };
    let Some(arguments) = call.arguments.as_object() else {
        return vec![format!("arguments are not an object: {}", call.arguments)];
    };
    let declared = tool.parameters["properties"].as_object();
    let mut wrong: Vec<String> = arguments
        .keys()
        .filter(|k| !declared.is_some_and(|d| d.contains_key(*k)))
        .map(|k| format!("undeclared argument {k:?}"))
        .collect();
    let required = tool.parameters["required"].as_array().cloned();
    for name in required
        .unwrap_or_default()
        .iter()
        .filter_map(Value::as_str)
    {
        if !arguments.contains_key(name) {
            wrong.push(format!("missing required {name:?}"));
        }
    }
    let validator = jsonschema::validator_for(&tool.parameters).unwrap();
    wrong.extend(
        validator
            .iter_errors(&call.arguments)
            .map(|e| e.to_string()),
    );
    wrong
}

/// Answers every xLAM case with a forced call and checks them; returns how many answers hold
/// calls.
/// Checks the forced calls on every `stride`-th case of the sample.
async fn check_forced_calls(model: &LlamaCppModel, parallel: Option<bool>, stride: usize) -> usize {
    let label = format!("parallel_tool_calls={parallel:?}");
    let cases: Vec<Case> = xlam_cases().into_iter().step_by(stride).collect();
    let requests = cases
        .iter()
        .map(|case| ChatRequest {
            parallel_tool_calls: parallel,
            ..forced_request(case)
        })
        .collect();
    let answers = answer_all(model, requests).await;
    assert_eq!(answers.len(), cases.len());
    let (mut answered, mut calls) = (0, 0);
    for (i, (case, answer)) in cases.iter().zip(&answers).enumerate() {
        let made = &answer.message.tool_calls;
        if made.is_empty() {
            // The grammar cannot end a call the model never closes (greedy SmolLM2 counts on
            // inside `"numbers": [1, 2, 3, ...`): only the token limit does.
            assert_eq!(
                answer.finish_reason,
                FinishReason::Length,
                "{label} case {i}"
            );
            continue;
        }
        assert_eq!(
            answer.finish_reason,
            FinishReason::ToolCalls,
            "{label} case {i}"
        );
        if parallel == Some(false) {
            assert_eq!(made.len(), 1, "{label} case {i}: {made:?}");
        }
        for call in made {
            let wrong = violations(call, &case.tools);
            assert!(wrong.is_empty(), "{label} case {i}: {call:?}: {wrong:?}");
        }
        assert!(
            answer.tool_call_issues.is_empty(),
            "{label} case {i}: {:?}",
            answer.tool_call_issues
        );
        answered += 1;
        calls += made.len();
    }
    eprintln!(
        "{label}: {} cases, {answered} answered with {calls} calls, all valid; {} cut by the \
         token limit",
        cases.len(),
        cases.len() - answered
    );
    assert!(
        answered * 2 >= cases.len(),
        "{label}: only {answered} of {} answers finished their calls",
        cases.len()
    );
    answered
}

#[tokio::test]
async fn forced_calls_use_only_declared_tools_and_arguments() {
    let Some(model) = load("forced_calls_use_only_declared_tools_and_arguments") else {
        return;
    };
    check_forced_calls(&model, None, 1).await;
}

#[tokio::test]
async fn without_parallel_calls_a_forced_answer_holds_exactly_one_call() {
    let Some(model) = load("without_parallel_calls_a_forced_answer_holds_exactly_one_call") else {
        return;
    };
    // Every third case: the whole sample runs in the test above, and CI time is finite.
    check_forced_calls(&model, Some(false), 3).await;
}

/// SmolLM2 does not call tools on its own (it recites the tool list), but it copies text:
/// asked to repeat a call with a wrong argument name, it writes that call in auto mode, and
/// the answer keeps the call and reports what is wrong with it.
#[tokio::test]
async fn auto_mode_calls_that_break_the_schema_are_reported() {
    let Some(model) = load("auto_mode_calls_that_break_the_schema_are_reported") else {
        return;
    };
    let tool = ToolSpec::new(
        "forecast",
        "Daily forecast.",
        json!({"type": "object", "required": ["city"],
               "properties": {"city": {"type": "string"}, "days": {"type": "integer"}}}),
    );
    let request = ChatRequest::builder()
        .user(
            "Repeat this text exactly and add nothing:\n\
             <tool_call name=\"forecast\">{\"town\": \"Rome\", \"days\": 8}</tool_call>",
        )
        .tool(tool.clone())
        .options(GenerationOptions::deterministic().with_max_tokens(60))
        .build();
    let answer = model.chat(request.clone()).await.unwrap();
    let calls = &answer.message.tool_calls;
    assert_eq!(calls.len(), 1, "{answer:?}");
    assert_eq!(calls[0].arguments, json!({"town": "Rome", "days": 8}));
    assert!(!violations(&calls[0], &[tool]).is_empty());
    let problems: Vec<&ToolCallProblem> =
        answer.tool_call_issues.iter().map(|i| &i.problem).collect();
    assert!(
        problems.contains(&&ToolCallProblem::UnknownArgument {
            name: "town".into()
        }),
        "{problems:?}"
    );
    assert!(
        problems.contains(&&ToolCallProblem::MissingArgument {
            name: "city".into()
        }),
        "{problems:?}"
    );
    // A stream ends with the same response, issues included.
    let (_, streamed) = collect_stream(model.chat_stream(request)).await.unwrap();
    assert_eq!(streamed.tool_call_issues, answer.tool_call_issues);
}

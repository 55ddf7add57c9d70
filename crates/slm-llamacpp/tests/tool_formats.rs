//! Each model family's own tool-call syntax, end to end: a generated model carrying the
//! family's real chat template (the fixtures of `slm-chat`, sources named in
//! `slm-chat/tests/fixtures/formats/`) is detected as that family, forced to call a tool
//! (greedy and sampled), and its answer, written in the family's syntax by the grammar, is
//! parsed back by the family's parser into declared calls with valid arguments; the streamed
//! call pieces put together are the final calls, and the streamed text is the final text.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use futures::StreamExt;
use serde_json::{Value, json};
use slm_chat::ToolFormat;
use slm_core::{
    ChatEvent, ChatModel, ChatRequest, ChatResponse, FinishReason, GenerationOptions, Thinking,
    ToolChoice, ToolSpec,
};
use slm_llamacpp::{LlamaCppModel, LoadOptions, QuantizeType};

const FAMILIES: [(&str, ToolFormat); 10] = [
    ("Qwen-Qwen2.5-7B-Instruct.jinja", ToolFormat::Hermes),
    ("Qwen-Qwen3-0.6B.jinja", ToolFormat::Hermes),
    ("smollm3.jinja", ToolFormat::Hermes),
    ("meta-llama-Llama-3.2-3B-Instruct.jinja", ToolFormat::Llama3),
    (
        "llama-cpp-microsoft-Phi-4-mini-instruct.jinja",
        ToolFormat::Phi4Mini,
    ),
    (
        "mistralai-Mistral-Nemo-Instruct-2407.jinja",
        ToolFormat::MistralNemo,
    ),
    ("google-gemma-3-it.jinja", ToolFormat::Gemma3),
    (
        "ibm-granite-granite-3.3-2B-Instruct.jinja",
        ToolFormat::Granite,
    ),
    (
        "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja",
        ToolFormat::DeepSeekR1,
    ),
    (
        "nousresearch_hermes2_pro_tool_use.jinja",
        ToolFormat::Hermes,
    ),
];

fn template(file: &str) -> String {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../slm-chat/tests/fixtures/formats/templates");
    std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn tools() -> Vec<ToolSpec> {
    vec![
        ToolSpec::new(
            "get_weather",
            "Current weather for a city",
            json!({"type": "object", "properties": {
                "city": {"type": "string", "maxLength": 12},
                "days": {"type": "integer", "minimum": 1, "maximum": 7}},
                "required": ["city"]}),
        ),
        ToolSpec::new(
            "add",
            "Adds two numbers",
            json!({"type": "object", "properties": {
                "a": {"type": "integer"}, "b": {"type": "integer"}},
                "required": ["a", "b"]}),
        ),
    ]
}

/// The streamed call pieces put together: (name, arguments) by index.
fn streamed_calls(events: &[ChatEvent]) -> BTreeMap<usize, (String, String)> {
    let mut calls: BTreeMap<usize, (String, String)> = BTreeMap::new();
    for event in events {
        if let ChatEvent::ToolCallDelta {
            index,
            name,
            arguments,
            ..
        } = event
        {
            let call = calls.entry(*index).or_default();
            if let Some(name) = name {
                call.0 = name.clone();
            }
            call.1.push_str(arguments);
        }
    }
    calls
}

#[tokio::test(flavor = "multi_thread")]
async fn every_family_round_trips_a_forced_call_through_its_own_syntax() {
    for (file, family) in FAMILIES {
        let options = LoadOptions::default()
            .with_context_length(4096)
            .with_prompt_cache(false)
            .with_chat_template(template(file));
        let model = LlamaCppModel::load(common::tiny(QuantizeType::Q8_0), options)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(model.tool_format(), family, "{file}");
        let declared = tools();
        let validators: Vec<_> = declared
            .iter()
            .map(|t| jsonschema::validator_for(&t.parameters).unwrap())
            .collect();
        for (k, options) in [
            GenerationOptions::deterministic(),
            GenerationOptions::default()
                .with_temperature(1.0)
                .with_seed(11),
            GenerationOptions::default()
                .with_temperature(1.0)
                .with_seed(12),
        ]
        .into_iter()
        .enumerate()
        {
            let request = ChatRequest::builder()
                .user("What is the weather in Paris, and what is 2 + 3?")
                .tools(declared.clone())
                .tool_choice(ToolChoice::Required)
                .options(options.with_max_tokens(800))
                .build();
            let events: Vec<ChatEvent> = model
                .chat_stream(request)
                .map(|e| e.unwrap_or_else(|e| panic!("{file} #{k}: {e}")))
                .collect()
                .await;
            let Some(ChatEvent::Done(answer)) = events.last() else {
                panic!("{file} #{k}: no final answer");
            };
            let tag = format!("{file} #{k} ({family:?})");
            assert_eq!(
                answer.finish_reason,
                FinishReason::ToolCalls,
                "{tag}: {answer:?}"
            );
            let calls = &answer.message.tool_calls;
            assert!(!calls.is_empty(), "{tag}");
            for call in calls {
                let at = declared
                    .iter()
                    .position(|t| t.name == call.name)
                    .unwrap_or_else(|| panic!("{tag}: undeclared {}", call.name));
                if family == ToolFormat::Gemma3 {
                    // Python-call syntax: the grammar forces the names, not the value types.
                    let required = declared[at].parameters["required"].as_array().unwrap();
                    for name in required {
                        let name = name.as_str().unwrap();
                        assert!(call.arguments.get(name).is_some(), "{tag}: {call:?}");
                    }
                } else {
                    assert!(validators[at].is_valid(&call.arguments), "{tag}: {call:?}");
                }
            }
            let streamed = streamed_calls(&events);
            assert_eq!(streamed.len(), calls.len(), "{tag}: {streamed:?}");
            for (index, call) in calls.iter().enumerate() {
                let (name, arguments) = &streamed[&index];
                assert_eq!(name, &call.name, "{tag}");
                let arguments: Value = serde_json::from_str(arguments)
                    .unwrap_or_else(|e| panic!("{tag}: streamed {arguments:?}: {e}"));
                assert_eq!(arguments, call.arguments, "{tag}");
            }
            let text: String = events.iter().filter_map(|e| e.text_delta()).collect();
            assert_eq!(text, answer.text(), "{tag}");
        }
    }
}

/// A thinking model's `<think>` section is the answer's `reasoning`, streamed as reasoning
/// deltas, never part of the text (a forced answer written after it by the test template).
#[tokio::test(flavor = "multi_thread")]
async fn reasoning_is_kept_apart_from_the_answer() {
    // DeepSeek-R1 distills' template opens `<think>` in the generation prompt.
    let options = LoadOptions::default()
        .with_context_length(2048)
        .with_chat_template(template("deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja"));
    let model = LlamaCppModel::load(common::tiny(QuantizeType::Q8_0), options).unwrap();
    let prompt = model
        .render_prompt(&ChatRequest::builder().user("Hi").build())
        .unwrap();
    assert!(prompt.ends_with("<think>\n"), "{prompt:?}");
    // Grammar: some reasoning, the closing tag, then an answer.
    let request = ChatRequest::builder()
        .user("Hi")
        .response_format(slm_core::ResponseFormat::Grammar {
            gbnf: r#"root ::= "weighing it up" "</think>" "\n\n" "Hello there.""#.into(),
        })
        .options(GenerationOptions::deterministic().with_max_tokens(64))
        .build();
    // A grammar is structured output: read as data, the think section stays in the text.
    let data = model.chat(request).await.unwrap();
    assert!(data.text().contains("</think>"), "{:?}", data.text());
    // Without a constraint, the reasoning reader runs on whatever the model writes: the text
    // never contains a think tag and reasoning + text hold everything generated.
    let free = ChatRequest::builder()
        .user("Hi")
        .options(GenerationOptions::deterministic().with_max_tokens(40))
        .build();
    let events: Vec<ChatEvent> = model.chat_stream(free).map(|e| e.unwrap()).collect().await;
    let Some(ChatEvent::Done(answer)) = events.last() else {
        panic!("no final answer");
    };
    let streamed_reasoning: String = events
        .iter()
        .filter_map(|e| match e {
            ChatEvent::ReasoningDelta(r) => Some(r.as_str()),
            _ => None,
        })
        .collect();
    // Nothing closed the think section the prompt opened: all of it is reasoning.
    assert!(answer.text().is_empty(), "{:?}", answer.text());
    assert_eq!(
        answer.message.reasoning.as_deref().unwrap_or_default(),
        streamed_reasoning
    );
    if answer.usage.completion_tokens > 1 {
        assert!(!streamed_reasoning.is_empty(), "{answer:?}");
    }
}

fn reasoning_deltas(events: &[ChatEvent]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            ChatEvent::ReasoningDelta(r) => Some(r.as_str()),
            _ => None,
        })
        .collect()
}

async fn streamed(
    model: &LlamaCppModel,
    options: GenerationOptions,
) -> (Vec<ChatEvent>, ChatResponse) {
    let request = ChatRequest::builder().user("Hi").options(options).build();
    let events: Vec<ChatEvent> = model
        .chat_stream(request)
        .map(|e| e.unwrap())
        .collect()
        .await;
    let Some(ChatEvent::Done(answer)) = events.last().cloned() else {
        panic!("no final answer");
    };
    (events, *answer)
}

/// `Thinking::off()` renders the template with `enable_thinking = false` (Qwen3 writes an empty
/// think section) or closes the section a template opens regardless (DeepSeek-R1 distills); a
/// budget closes an open section once it holds that many tokens, and the answer goes on.
#[tokio::test(flavor = "multi_thread")]
async fn thinking_can_be_turned_off_or_capped() {
    let greedy = || GenerationOptions::deterministic().with_max_tokens(48);
    let load = |file: &str| {
        let options = LoadOptions::default()
            .with_context_length(2048)
            .with_chat_template(template(file));
        LlamaCppModel::load(common::tiny(QuantizeType::Q8_0), options).unwrap()
    };
    let hi =
        |options: GenerationOptions| ChatRequest::builder().user("Hi").options(options).build();

    let qwen3 = load("Qwen-Qwen3-0.6B.jinja");
    let on = qwen3.render_prompt(&hi(greedy())).unwrap();
    let off = qwen3
        .render_prompt(&hi(greedy().with_thinking(Thinking::off())))
        .unwrap();
    assert_eq!(off, format!("{on}<think>\n\n</think>\n\n"));
    let (_, answer) = streamed(&qwen3, greedy().with_thinking(Thinking::off())).await;
    assert!(answer.message.reasoning.unwrap_or_default().is_empty());

    let r1 = load("deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja");
    let open = r1.render_prompt(&hi(greedy())).unwrap();
    assert!(open.ends_with("<think>\n"), "{open:?}");
    let closed = r1
        .render_prompt(&hi(greedy().with_thinking(Thinking::off())))
        .unwrap();
    assert_eq!(closed, format!("{open}</think>\n\n"));

    // A JSON answer is data: the thought is closed before it, and the text is the JSON.
    let schema = json!({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"], "additionalProperties": false});
    let json_request = ChatRequest::builder()
        .user("Hi")
        .response_format(slm_core::ResponseFormat::json_schema("n", schema))
        .options(greedy())
        .build();
    assert_eq!(r1.render_prompt(&json_request).unwrap(), closed);
    let data = r1.chat(json_request).await.unwrap();
    let value: Value =
        serde_json::from_str(data.text()).unwrap_or_else(|e| panic!("{e}: {data:?}"));
    assert!(value["n"].is_i64(), "{value}");
    assert_eq!(data.message.reasoning, None);

    // Uncapped, the random model never closes the section: everything is reasoning.
    let (_, free) = streamed(&r1, greedy()).await;
    assert_eq!(free.finish_reason, FinishReason::Length, "{free:?}");
    assert!(free.text().is_empty(), "{:?}", free.text());
    let free_reasoning = free.message.reasoning.clone().unwrap_or_default();
    // Capped at 6 tokens: the same greedy start, closed for the model, then an answer.
    let (events, capped) = streamed(&r1, greedy().with_thinking(Thinking::budget(6))).await;
    let reasoning = capped.message.reasoning.clone().unwrap_or_default();
    assert_eq!(reasoning, reasoning_deltas(&events));
    assert!(!reasoning.is_empty(), "{capped:?}");
    assert!(
        free_reasoning.starts_with(reasoning.trim_end()),
        "{reasoning:?} / {free_reasoning:?}"
    );
    assert!(reasoning.len() < free_reasoning.len(), "{reasoning:?}");
    assert!(!reasoning.contains("</think>"), "{reasoning:?}");
    assert!(!capped.text().contains("think>"), "{:?}", capped.text());
    let streamed_text: String = events.iter().filter_map(|e| e.text_delta()).collect();
    assert_eq!(streamed_text, capped.text());
    if capped.finish_reason == FinishReason::Length {
        assert!(!capped.text().trim().is_empty(), "{capped:?}");
    }
    assert_eq!(capped.usage.completion_tokens, free.usage.completion_tokens);
    eprintln!(
        "capped at 6: reasoning {reasoning:?}, answer {:?}",
        capped.text()
    );
}

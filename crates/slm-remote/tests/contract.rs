//! Contract tests: the exact requests we send and how answers are read, against an
//! in-process HTTP server on 127.0.0.1.

mod common;

use common::*;
use futures::StreamExt;
use serde_json::{Value, json};
use slm_core::{
    ChatEvent, ChatModel, ChatRequest, FinishReason, GenerationOptions, Message, ResponseFormat,
    ToolCall, ToolChoice, ToolSpec, Usage, collect_stream,
};
use slm_remote::{OpenAiCompatibleModel, RetryPolicy};
use wiremock::matchers::{
    body_json, body_partial_json, body_string_contains, header, method, path, query_param,
};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn weather_tool() -> ToolSpec {
    ToolSpec::new(
        "get_weather",
        "Current weather",
        json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
    )
}

#[tokio::test]
async fn azure_request_is_exact_and_its_answer_is_mapped() {
    let server = MockServer::start().await;
    let expected_body = json!({
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Weather in Oslo?"}
        ],
        "model": "chat",
        "max_tokens": 64,
        "stop": ["\n\n"],
        "seed": 42,
        "temperature": 0.0,
        "top_p": 1.0,
        "tools": [{"type": "function", "function": {
            "name": "get_weather",
            "description": "Current weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
        }}],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}}
    });
    let answer = json!({
        "id": "chatcmpl-9", "object": "chat.completion", "created": 1_700_000_000,
        "model": "gpt-4o-2024-08-06", "system_fingerprint": "fp_1",
        "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {"hate": {"filtered": false, "severity": "safe"}}}],
        "choices": [{
            "index": 0, "finish_reason": "tool_calls", "logprobs": null,
            "content_filter_results": {},
            "message": {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_abc", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}}
            ]}
        }],
        "usage": {"prompt_tokens": 52, "completion_tokens": 9, "total_tokens": 61}
    });
    Mock::given(method("POST"))
        .and(path("/openai/deployments/chat/chat/completions"))
        .and(query_param("api-version", "2024-05-01-preview"))
        .and(header("api-key", KEY))
        .and(header("content-type", "application/json"))
        .and(body_json(&expected_body))
        .respond_with(ResponseTemplate::new(200).set_body_json(&answer))
        .expect(1)
        .mount(&server)
        .await;

    let model = azure(&server.uri(), "chat", fast_retries(1));
    let request = ChatRequest::builder()
        .system("You are terse.")
        .user("Weather in Oslo?")
        .tool(weather_tool())
        .tool_choice(ToolChoice::Named("get_weather".into()))
        .options(
            GenerationOptions::deterministic()
                .with_max_tokens(64)
                .with_stop("\n\n"),
        )
        .build();
    let response = model.chat(request).await.unwrap();

    assert_eq!(response.finish_reason, FinishReason::ToolCalls);
    assert_eq!(
        response.message.tool_calls,
        vec![ToolCall::new(
            "call_abc",
            "get_weather",
            json!({"city": "Oslo"})
        )]
    );
    assert_eq!(response.usage, Usage::new(52, 9));
    assert_eq!(response.model, "chat");
    assert!(response.timings.send > std::time::Duration::ZERO);
    assert!(response.timings.total >= response.timings.send);
    let received = server.received_requests().await.unwrap();
    assert!(received[0].headers.get("authorization").is_none());
}

#[tokio::test]
async fn openai_compatible_request_is_exact() {
    let server = MockServer::start().await;
    let expected_body = json!({
        "messages": [
            {"role": "user", "content": "Add 2 and 3"},
            {"role": "assistant", "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "add", "arguments": "{\"a\":2,\"b\":3}"}}
            ]},
            {"role": "tool", "content": "5", "tool_call_id": "call_1"}
        ],
        "model": "phi-4-mini",
        "response_format": {"type": "json_schema", "json_schema": {
            "name": "answer", "schema": {"type": "object", "properties": {"sum": {"type": "integer"}}}, "strict": true
        }},
        "temperature": 0.7
    });
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(header("authorization", "Bearer sk-local-1"))
        .and(body_json(&expected_body))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion("{\"sum\": 5}")))
        .expect(1)
        .mount(&server)
        .await;

    let model = OpenAiCompatibleModel::builder(format!("{}/v1", server.uri()), "phi-4-mini")
        .api_key("sk-local-1")
        .build()
        .unwrap();
    let request = ChatRequest::builder()
        .user("Add 2 and 3")
        .message(Message::assistant_tool_calls(vec![ToolCall::new(
            "call_1",
            "add",
            json!({"a": 2, "b": 3}),
        )]))
        .message(Message::tool("call_1", "5"))
        .response_format(ResponseFormat::json_schema(
            "answer",
            json!({"type": "object", "properties": {"sum": {"type": "integer"}}}),
        ))
        .options(GenerationOptions::default().with_temperature(0.7))
        .build();
    let response = model.chat(request).await.unwrap();
    assert_eq!(response.text(), "{\"sum\": 5}");
    assert_eq!(response.finish_reason, FinishReason::Stop);
    assert_eq!(response.usage, Usage::new(3, 2));
    assert_eq!(response.model, "phi-4-mini");
}

#[tokio::test]
async fn without_a_key_no_authorization_header_is_sent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion("hi")))
        .mount(&server)
        .await;
    let model = compatible(&server.uri(), fast_retries(1));
    model
        .chat(ChatRequest::builder().user("hi").build())
        .await
        .unwrap();
    let received = server.received_requests().await.unwrap();
    assert!(received[0].headers.get("authorization").is_none());
    assert!(received[0].headers.get("api-key").is_none());
}

#[tokio::test]
async fn streamed_tool_call_deltas_split_across_chunks_are_reassembled() {
    let server = MockServer::start().await;
    let chunks = [
        // Azure's first chunk: prompt filter results, no choices.
        json!({"id": "", "object": "", "created": 0, "model": "", "choices": [],
               "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}]}),
        chunk(
            json!({"choices": [{"index": 0, "delta": {"role": "assistant", "content": null, "tool_calls": [
            {"index": 0, "id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]}}]}),
        ),
        chunk(
            json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{\"ci"}}]}}]}),
        ),
        chunk(
            json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "ty\": \"Os"}}]}}]}),
        ),
        chunk(json!({"choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "function": {"arguments": "lo\"}"}},
            {"index": 1, "id": "call_b", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\""}}]}}]})),
        chunk(
            json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 1, "function": {"arguments": ": \"Bergen\"}"}}]}}]}),
        ),
        finish_chunk("tool_calls"),
        // The usage chunk: no choices.
        chunk(
            json!({"choices": [], "usage": {"prompt_tokens": 40, "completion_tokens": 21, "total_tokens": 61}}),
        ),
    ];
    Mock::given(method("POST"))
        .and(path("/openai/deployments/chat/chat/completions"))
        .and(body_string_contains("\"stream\":true"))
        .and(body_string_contains(
            "\"stream_options\":{\"include_usage\":true}",
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/event-stream")
                .set_body_string(sse(&chunks)),
        )
        .expect(1)
        .mount(&server)
        .await;
    let model = azure(&server.uri(), "chat", fast_retries(1));
    let request = ChatRequest::builder()
        .user("Weather in Oslo and Bergen?")
        .tool(weather_tool())
        .build();
    let events: Vec<ChatEvent> = model
        .chat_stream(request)
        .map(|e| e.unwrap())
        .collect()
        .await;

    let pieces: String = events
        .iter()
        .filter_map(|e| match e {
            ChatEvent::ToolCallDelta {
                index: 0,
                arguments,
                ..
            } => Some(arguments.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(pieces, "{\"city\": \"Oslo\"}");
    let Some(ChatEvent::Done(response)) = events.last() else {
        panic!("the stream must end with Done: {events:?}");
    };
    assert_eq!(response.finish_reason, FinishReason::ToolCalls);
    assert_eq!(
        response.message.tool_calls,
        vec![
            ToolCall::new("call_a", "get_weather", json!({"city": "Oslo"})),
            ToolCall::new("call_b", "get_weather", json!({"city": "Bergen"})),
        ]
    );
    assert_eq!(response.usage, Usage::new(40, 21));
    assert!(response.timings.time_to_first_token > std::time::Duration::ZERO);
    assert!(response.timings.total >= response.timings.time_to_first_token);
}

#[tokio::test]
async fn a_streamed_text_answer_matches_its_final_response() {
    let server = MockServer::start().await;
    let chunks = [
        text_chunk("Par"),
        text_chunk("is"),
        text_chunk("."),
        finish_chunk("stop"),
        chunk(
            json!({"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}}),
        ),
    ];
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/event-stream")
                .set_body_string(sse(&chunks)),
        )
        .mount(&server)
        .await;
    let model = compatible(&server.uri(), fast_retries(1));
    let stream = model.chat_stream(ChatRequest::builder().user("Capital of France?").build());
    let (text, response) = collect_stream(stream).await.unwrap();
    assert_eq!(text, "Paris.");
    assert_eq!(response.text(), "Paris.");
    assert_eq!(response.usage, Usage::new(7, 3));
    assert!(response.timings.decode_tokens_per_second.is_some());
}

#[tokio::test]
async fn a_server_that_rejects_stream_options_gets_streams_without_them() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_string_contains("stream_options"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {
            "message": "Unrecognized request argument supplied: stream_options",
            "type": "invalid_request_error", "param": null, "code": null}})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/event-stream")
                .set_body_string(sse(&[text_chunk("ok"), finish_chunk("stop")])),
        )
        .expect(2)
        .mount(&server)
        .await;
    let model = azure(&server.uri(), "chat", fast_retries(1));
    for _ in 0..2 {
        let stream = model.chat_stream(ChatRequest::builder().user("hi").build());
        let (text, response) = collect_stream(stream).await.unwrap();
        assert_eq!(text, "ok");
        assert_eq!(response.usage, Usage::default());
    }
    // One rejected request, then two accepted: the rejection is remembered.
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}

#[tokio::test]
async fn a_server_that_rejects_json_schema_gets_the_schema_in_json_object() {
    let server = MockServer::start().await;
    // What llama-cpp-python 0.3.36's server answers to `"type": "json_schema"`: a 500 whose
    // text is a pydantic validation error.
    let rejection = "1 validation error:\n  {'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), \
        'msg': \"Input should be 'text' or 'json_object'\", 'input': 'json_schema'}\n";
    Mock::given(method("POST"))
        .and(body_string_contains("\"type\":\"json_schema\""))
        .respond_with(ResponseTemplate::new(500).set_body_string(rejection))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(body_partial_json(json!({
            "response_format": {"type": "json_object", "schema": {"type": "object"}}
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion("{}")))
        .expect(2)
        .mount(&server)
        .await;
    // Several attempts allowed: the rejection must not be retried as a plain 500.
    let model = compatible(&server.uri(), fast_retries(3));
    let request = ChatRequest::builder()
        .user("JSON please")
        .response_format(ResponseFormat::json_schema("x", json!({"type": "object"})))
        .build();
    assert_eq!(model.chat(request.clone()).await.unwrap().text(), "{}");
    // Remembered: the next request goes out in the server's form at once.
    assert_eq!(model.chat(request).await.unwrap().text(), "{}");
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}

#[tokio::test]
async fn a_filtered_answer_finishes_with_content_filter() {
    let server = MockServer::start().await;
    let body: Value = json!({
        "id": "c", "object": "chat.completion", "created": 1, "model": "m",
        "choices": [{"index": 0, "finish_reason": "content_filter",
            "message": {"role": "assistant", "content": "Partial"},
            "content_filter_results": {"violence": {"filtered": true, "severity": "high"}}}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
    });
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(&server)
        .await;
    let model = azure(&server.uri(), "chat", fast_retries(1));
    let response = model
        .chat(ChatRequest::builder().user("x").build())
        .await
        .unwrap();
    assert_eq!(response.finish_reason, FinishReason::ContentFilter);
    assert_eq!(response.text(), "Partial");
}

#[tokio::test]
async fn the_models_path_sends_the_deployment_as_model() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/models/chat/completions"))
        .and(query_param("api-version", "2024-05-01-preview"))
        .and(body_string_contains("\"model\":\"Phi-4-mini\""))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion("ok")))
        .expect(1)
        .mount(&server)
        .await;
    let model = slm_remote::AzureOpenAiModel::builder()
        .endpoint(format!("{}/models", server.uri()))
        .deployment("Phi-4-mini")
        .api_version("2024-05-01-preview")
        .api_key(KEY)
        .retry(RetryPolicy::no_retries())
        .build()
        .unwrap();
    assert_eq!(
        model
            .chat(ChatRequest::builder().user("x").build())
            .await
            .unwrap()
            .text(),
        "ok"
    );
}

#[tokio::test]
async fn a_bearer_token_goes_in_authorization() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(header("authorization", "Bearer entra-token-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion("ok")))
        .expect(1)
        .mount(&server)
        .await;
    let model = slm_remote::AzureOpenAiModel::builder()
        .endpoint(server.uri())
        .deployment("chat")
        .api_version("2024-10-21")
        .bearer_token("entra-token-1")
        .build()
        .unwrap();
    model
        .chat(ChatRequest::builder().user("x").build())
        .await
        .unwrap();
    let received = server.received_requests().await.unwrap();
    assert!(received[0].headers.get("api-key").is_none());
}

//! `slm serve` end to end: the real binary on SmolLM2 (or on models that never load), driven
//! over loopback by slm-remote's client and by plain HTTP: errors in OpenAI's shape and status,
//! 429 from a full queue, cancellation by disconnect and by deadline, batching, draining on
//! SIGTERM, and 503 while a model loads.

mod serve_support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use serve_support::{Server, SseReader, chat_body, long_body, smollm2};
use slm_core::{
    ChatModel, ChatRequest, FinishReason, GenerationOptions, Message, ResponseFormat, ToolChoice,
    ToolSpec, collect_stream,
};

const CHAT: &str = "/v1/chat/completions";

fn weather() -> ToolSpec {
    ToolSpec::new(
        "get_weather",
        "Current weather for a city",
        json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn slm_remote_client_and_slm_serve_agree() {
    let Some(_) = smollm2("slm_remote_client_and_slm_serve_agree") else {
        return;
    };
    // Whole and streamed answers are compared bit for bit: no prompt cache, whose reuse changes
    // the batch shapes llama.cpp's kernels round by.
    let mut server = Server::start(&["--model", "smollm2", "--no-prompt-cache"]);
    server.ready().await;
    let model = slm_remote::OpenAiCompatibleModel::new(server.v1(), "smollm2").unwrap();

    // Chat, then the same request streamed: same text, same usage.
    let ask = ChatRequest::builder()
        .user("What is the capital of France?")
        .options(GenerationOptions::deterministic().with_max_tokens(16))
        .build();
    let whole = model.chat(ask.clone()).await.unwrap();
    assert!(!whole.text().trim().is_empty());
    assert!(whole.usage.prompt_tokens > 0, "{:?}", whole.usage);
    assert!(
        (1..=16).contains(&whole.usage.completion_tokens),
        "{:?}",
        whole.usage
    );
    let (text, streamed) = collect_stream(model.chat_stream(ask)).await.unwrap();
    assert_eq!(text, whole.text());
    assert_eq!(streamed.usage, whole.usage);
    assert_eq!(streamed.finish_reason, whole.finish_reason);

    // A forced tool call, whole and streamed, then its result sent back.
    let call = ChatRequest::builder()
        .user("What's the weather in Paris?")
        .tool(weather())
        .tool_choice(ToolChoice::Named("get_weather".into()))
        .parallel_tool_calls(false)
        .options(GenerationOptions::deterministic().with_max_tokens(64))
        .build();
    let called = model.chat(call.clone()).await.unwrap();
    assert_eq!(called.finish_reason, FinishReason::ToolCalls);
    assert_eq!(called.message.tool_calls.len(), 1, "{:?}", called.message);
    let tool_call = &called.message.tool_calls[0];
    assert_eq!(tool_call.name, "get_weather");
    assert!(
        tool_call.arguments["city"].is_string(),
        "{}",
        tool_call.arguments
    );
    assert!(
        called.tool_call_issues.is_empty(),
        "{:?}",
        called.tool_call_issues
    );
    let (_, streamed_call) = collect_stream(model.chat_stream(call.clone()))
        .await
        .unwrap();
    assert_eq!(
        streamed_call.message.tool_calls[0].arguments,
        tool_call.arguments
    );
    let mut follow = call;
    follow.messages.push(Message::assistant_tool_calls(
        called.message.tool_calls.clone(),
    ));
    follow
        .messages
        .push(Message::tool(tool_call.id.clone(), r#"{"temp_c": 18}"#));
    follow.tool_choice = ToolChoice::None;
    let answer = model.chat(follow).await.unwrap();
    assert!(answer.message.tool_calls.is_empty());
    assert!(!answer.text().trim().is_empty());

    // A JSON schema answer that validates.
    let schema = json!({
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0, "maximum": 120}},
        "required": ["name", "age"],
        "additionalProperties": false
    });
    let person = model
        .chat(
            ChatRequest::builder()
                .user("Invent a person as JSON.")
                .response_format(ResponseFormat::json_schema("person", schema))
                .options(GenerationOptions::deterministic().with_max_tokens(64))
                .build(),
        )
        .await
        .unwrap();
    let person: Value = serde_json::from_str(person.text()).unwrap();
    assert!(person["name"].is_string(), "{person}");
    assert!(
        (0..=120).contains(&person["age"].as_i64().unwrap()),
        "{person}"
    );
    assert_eq!(person.as_object().unwrap().len(), 2, "{person}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_repeated_prompt_reports_its_cached_tokens() {
    let Some(_) = smollm2("a_repeated_prompt_reports_its_cached_tokens") else {
        return;
    };
    let mut server = Server::start(&["--model", "smollm2", "--parallel", "2"]);
    server.ready().await;
    let client = reqwest::Client::new();
    let body = json!({
        "model": "smollm2",
        "messages": [
            {"role": "system", "content": "You are a helpful assistant. Answer briefly."},
            {"role": "user", "content": "What is the capital of France?"}
        ],
        "max_tokens": 8,
        "temperature": 0
    });
    let (status, first) = post(&client, &server, None, &body).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
    let (status, again) = post(&client, &server, None, &body).await;
    assert_eq!(status, 200, "{again}");
    let prompt = again["usage"]["prompt_tokens"].as_u64().unwrap();
    // All but the last prompt token, which is evaluated for its logits.
    assert_eq!(
        again["usage"]["prompt_tokens_details"]["cached_tokens"].as_u64(),
        Some(prompt - 1),
        "{again}"
    );
    // Through slm-remote's client too.
    let model = slm_remote::OpenAiCompatibleModel::new(server.v1(), "smollm2").unwrap();
    let ask = ChatRequest::builder()
        .system("You are a helpful assistant. Answer briefly.")
        .user("What is the capital of France?")
        .options(GenerationOptions::deterministic().with_max_tokens(8))
        .build();
    let answer = model.chat(ask).await.unwrap();
    assert_eq!(
        answer.usage.cached_prompt_tokens,
        answer.usage.prompt_tokens - 1
    );
}

async fn post(
    client: &reqwest::Client,
    server: &Server,
    key: Option<&str>,
    body: &Value,
) -> (u16, Value) {
    let mut request = client.post(format!("{}{CHAT}", server.url)).json(body);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// `{"error": {"message", "type", "param", "code"}}` with a message.
fn assert_error_shape(body: &Value) -> &Value {
    let error = &body["error"];
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(error["type"].is_string(), "{body}");
    let fields = error.as_object().unwrap();
    assert!(
        fields.contains_key("param") && fields.contains_key("code"),
        "{body}"
    );
    error
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_have_openai_shape_and_status() {
    let Some(_) = smollm2("errors_have_openai_shape_and_status") else {
        return;
    };
    let key = "sk-test-secret-1";
    let mut server = Server::start(&["--model", "smollm2", "--api-key", key, "--max-body", "4096"]);
    server.ready().await;
    let client = reqwest::Client::new();
    let ok_body = chat_body("smollm2", "Say hi.", 4, false);

    // 401: no key, a wrong key; never the key in the answer or the logs.
    let (status, body) = post(&client, &server, None, &ok_body).await;
    assert_eq!(status, 401);
    assert_eq!(assert_error_shape(&body)["code"], "invalid_api_key");
    let (status, body) = post(&client, &server, Some("sk-test-secret-2"), &ok_body).await;
    assert_eq!(status, 401, "{body}");
    let models = client
        .get(format!("{}/v1/models", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(models.status(), 401);
    assert_eq!(models.headers()["www-authenticate"], "Bearer");

    // With the key: 200, and every kind of bad request.
    let (status, body) = post(&client, &server, Some(key), &ok_body).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["object"], "chat.completion");
    let bad_json = client
        .post(format!("{}{CHAT}", server.url))
        .bearer_auth(key)
        .body("{\"messages\": [")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_json.status(), 400);
    assert_error_shape(&bad_json.json().await.unwrap());
    let mut two = ok_body.clone();
    two["n"] = json!(2);
    let (status, body) = post(&client, &server, Some(key), &two).await;
    assert_eq!(
        (status, body["error"]["param"].as_str()),
        (400, Some("n")),
        "{body}"
    );
    let mut bad_schema = ok_body.clone();
    bad_schema["response_format"] =
        json!({"type": "json_schema", "json_schema": {"name": "x", "schema": [1]}});
    let (status, body) = post(&client, &server, Some(key), &bad_schema).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(assert_error_shape(&body)["type"], "invalid_request_error");
    let (status, body) = post(
        &client,
        &server,
        Some(key),
        &chat_body("gpt-9", "hi", 4, false),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(assert_error_shape(&body)["code"], "model_not_found");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("smollm2"),
        "{body}"
    );
    let big = chat_body("smollm2", &"x".repeat(5000), 4, false);
    let (status, body) = post(&client, &server, Some(key), &big).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(assert_error_shape(&body)["code"], "request_too_large");
    let nowhere = client
        .get(format!("{}/v1/nowhere", server.url))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(nowhere.status(), 404);
    assert_error_shape(&nowhere.json().await.unwrap());

    // /health needs no key; /metrics counts what happened.
    let health = reqwest::get(format!("{}/health", server.url))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let metrics = client
        .get(format!("{}/metrics", server.url))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let count = |sample: &str| serve_support::metric_value(&metrics, sample);
    assert_eq!(
        count(r#"slm_http_requests_total{route="/v1/chat/completions",status="401"}"#),
        2.0,
        "{metrics}"
    );
    assert_eq!(
        count(r#"slm_http_requests_total{route="/v1/chat/completions",status="413"}"#),
        1.0
    );
    assert_eq!(
        count(r#"slm_chat_requests_total{model="smollm2",status="200"}"#),
        1.0
    );
    assert_eq!(
        count(r#"slm_chat_requests_total{model="smollm2",status="400"}"#),
        2.0
    );
    assert!(count(r#"slm_completion_tokens_total{model="smollm2"}"#) >= 1.0);
    assert_eq!(
        count(r#"slm_request_duration_seconds_count{model="smollm2"}"#),
        3.0,
        "{metrics}"
    );
    assert_eq!(count(r#"slm_model_ready{model="smollm2"}"#), 1.0);
    assert!(
        !server.stderr().contains(key),
        "the key leaked into the logs"
    );
}

/// Decode speed of one sequence now, in tokens per second (from the server's timings).
async fn decode_rate(client: &reqwest::Client, server: &Server) -> f64 {
    let (status, body) = post(
        client,
        server,
        None,
        &chat_body("smollm2", "Tell me about the sea.", 24, false),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["timings"]["decode_tokens_per_second"]
        .as_f64()
        .unwrap()
}

/// Sends a streaming request and reads it up to its first content delta.
async fn first_token(
    client: &reqwest::Client,
    server: &Server,
    body: &Value,
) -> (reqwest::Response, Duration) {
    let started = Instant::now();
    let mut response = client
        .post(format!("{}{CHAT}", server.url))
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut sse = SseReader::default();
    loop {
        let bytes = response.chunk().await.unwrap().expect("the stream goes on");
        for data in sse.push(&bytes) {
            let chunk: Value = serde_json::from_str(&data).unwrap();
            if chunk["choices"][0]["delta"]["content"]
                .as_str()
                .is_some_and(|c| !c.is_empty())
            {
                return (response, started.elapsed());
            }
        }
    }
}

/// Polls `/metrics` until `sample` has `value`.
async fn wait_metric(server: &Server, sample: &str, value: f64, limit: Duration) {
    let started = Instant::now();
    loop {
        let now = server.metric(sample).await;
        if now == value {
            return;
        }
        assert!(
            started.elapsed() < limit,
            "{sample} is {now}, not {value}, after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

const IN_FLIGHT: &str = r#"slm_requests_in_flight{model="smollm2"}"#;
const QUEUED: &str = r#"slm_requests_queued{model="smollm2"}"#;
/// Digits a long answer holds at least: at least as many tokens.
const LONG_ITEMS: u32 = 1000;

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_requests_are_decoded_together() {
    let Some(_) = smollm2("concurrent_requests_are_decoded_together") else {
        return;
    };
    let mut server = Server::start(&["--model", "smollm2", "--parallel", "4"]);
    server.ready().await;
    let client = reqwest::Client::new();
    let rate = decode_rate(&client, &server).await;
    // Four long answers: each gets its first token while the others run. One at a time, the
    // fourth would wait for three answers of >= 2 * LONG_ITEMS tokens each.
    let body = long_body("smollm2", LONG_ITEMS, true);
    let streams =
        futures::future::join_all((0..4).map(|_| first_token(&client, &server, &body))).await;
    let slowest = streams.iter().map(|(_, ttft)| *ttft).max().unwrap();
    let serial = Duration::from_secs_f64(3.0 * f64::from(LONG_ITEMS) / rate);
    assert!(
        slowest < serial / 2,
        "first tokens took {slowest:?}; one at a time would take {serial:?}"
    );
    assert_eq!(server.metric(IN_FLIGHT).await, 4.0);
    drop(streams);
    wait_metric(&server, IN_FLIGHT, 0.0, Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_goes_away_stops_its_generation() {
    let Some(_) = smollm2("a_client_that_goes_away_stops_its_generation") else {
        return;
    };
    let mut server = Server::start(&["--model", "smollm2", "--parallel", "1"]);
    server.ready().await;
    let client = reqwest::Client::new();
    let (stream, _) = first_token(&client, &server, &long_body("smollm2", LONG_ITEMS, true)).await;
    assert_eq!(server.metric(IN_FLIGHT).await, 1.0);
    drop(stream);
    wait_metric(&server, IN_FLIGHT, 0.0, Duration::from_secs(10)).await;
    wait_metric(
        &server,
        r#"slm_chat_requests_total{model="smollm2",status="499"}"#,
        1.0,
        Duration::from_secs(5),
    )
    .await;
    // The model has one sequence: had the abandoned answer gone on, this would wait for it.
    let started = Instant::now();
    let rate = decode_rate(&client, &server).await;
    let abandoned = Duration::from_secs_f64(f64::from(LONG_ITEMS) / rate);
    assert!(
        started.elapsed() < abandoned / 2,
        "{:?} vs {abandoned:?}",
        started.elapsed()
    );

    // The same for a non-streamed request waiting in the queue behind a running one.
    let (running, _) = first_token(&client, &server, &long_body("smollm2", LONG_ITEMS, true)).await;
    let waiting = {
        let client = client.clone();
        let url = format!("{}{CHAT}", server.url);
        tokio::spawn(async move {
            client
                .post(url)
                .json(&long_body("smollm2", LONG_ITEMS, false))
                .send()
                .await
        })
    };
    wait_metric(&server, QUEUED, 1.0, Duration::from_secs(10)).await;
    waiting.abort();
    wait_metric(&server, QUEUED, 0.0, Duration::from_secs(10)).await;
    drop(running);
    wait_metric(&server, IN_FLIGHT, 0.0, Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_queue_answers_429() {
    let Some(_) = smollm2("a_full_queue_answers_429") else {
        return;
    };
    let mut server = Server::start(&["--model", "smollm2", "--parallel", "1", "--queue", "1"]);
    server.ready().await;
    let client = reqwest::Client::new();
    let (running, _) = first_token(&client, &server, &long_body("smollm2", LONG_ITEMS, true)).await;
    let queued = {
        let client = client.clone();
        let url = format!("{}{CHAT}", server.url);
        tokio::spawn(async move {
            client
                .post(url)
                .json(&chat_body("smollm2", "Hi", 4, false))
                .send()
                .await
        })
    };
    wait_metric(&server, QUEUED, 1.0, Duration::from_secs(10)).await;
    let (status, body) = post(
        &client,
        &server,
        None,
        &chat_body("smollm2", "Hi", 4, false),
    )
    .await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(assert_error_shape(&body)["code"], "queue_full");
    // Once the running answer goes away, the queued request is answered.
    drop(running);
    let queued = queued.await.unwrap().unwrap();
    assert_eq!(queued.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_deadline_answers_504_and_stops_generation() {
    let Some(_) = smollm2("the_deadline_answers_504_and_stops_generation") else {
        return;
    };
    // A deadline a long answer cannot meet and a short one can, on this machine now. The long
    // answer needs at least `abandoned`; half of it leaves a short answer ample room even when
    // the tests running beside this one slow the machine down after the rate was measured.
    let rate = {
        let mut server = Server::start(&["--model", "smollm2"]);
        server.ready().await;
        decode_rate(&reqwest::Client::new(), &server).await
    };
    let abandoned = Duration::from_secs_f64(f64::from(LONG_ITEMS) / rate);
    let timeout = (abandoned / 2).as_secs().clamp(3, 120);
    let timeout_arg = timeout.to_string();
    let mut server = Server::start(&[
        "--model",
        "smollm2",
        "--parallel",
        "1",
        "--timeout",
        &timeout_arg,
    ]);
    server.ready().await;
    let client = reqwest::Client::new();
    let started = Instant::now();
    let (status, body) = post(
        &client,
        &server,
        None,
        &long_body("smollm2", LONG_ITEMS, false),
    )
    .await;
    assert_eq!(status, 504, "{body}");
    assert_eq!(assert_error_shape(&body)["code"], "timeout");
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(timeout + 10),
        "{took:?} with a deadline of {timeout} s"
    );
    wait_metric(&server, IN_FLIGHT, 0.0, Duration::from_secs(10)).await;

    // Streamed: the stream ends with an error event, without [DONE] (or 504 before it starts).
    let result = serve_support::stream_chat(
        &client,
        &server.url,
        &long_body("smollm2", LONG_ITEMS, true),
    )
    .await;
    assert!(!result.done, "{result:?}");
    let error = result.error.unwrap_or_default();
    assert!(error.contains("\"timeout\""), "{error}");
    // The one sequence is free again: a short answer comes at once.
    let started = Instant::now();
    let (status, body) = post(
        &client,
        &server,
        None,
        &chat_body("smollm2", "Hi", 4, false),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        started.elapsed() < abandoned / 2,
        "{:?} vs {abandoned:?}",
        started.elapsed()
    );
    wait_metric(
        &server,
        r#"slm_chat_requests_total{model="smollm2",status="504"}"#,
        2.0,
        Duration::from_secs(5),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_lets_the_stream_in_flight_finish() {
    let Some(_) = smollm2("sigterm_lets_the_stream_in_flight_finish") else {
        return;
    };
    let mut server = Server::start(&["--model", "smollm2"]);
    server.ready().await;
    let client = reqwest::Client::new();
    let body = chat_body("smollm2", "Write a poem about the sea.", 48, true);
    let (mut stream, _) = first_token(&client, &server, &body).await;
    server.terminate();
    // New connections are refused at once...
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        reqwest::get(format!("{}/health", server.url))
            .await
            .is_err()
    );
    // ...while the stream in flight runs to its end.
    let mut sse = SseReader::default();
    let (mut finish, mut done) = (None, false);
    while let Some(bytes) = stream.chunk().await.unwrap() {
        for data in sse.push(&bytes) {
            if data == "[DONE]" {
                done = true;
                continue;
            }
            let chunk: Value = serde_json::from_str(&data).unwrap();
            if let Some(reason) = chunk["choices"][0]["finish_reason"].as_str() {
                finish = Some(reason.to_string());
            }
        }
    }
    assert!(done && finish.is_some(), "finish {finish:?}, done {done}");
    let status = server.wait_exit(Duration::from_secs(30));
    assert!(status.success(), "{status}:\n{}", server.stderr());
    assert!(server.stderr().contains("SIGTERM"), "{}", server.stderr());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_loading_model_answers_503() {
    // A Hub that accepts connections and never answers: the model stays loading.
    let hub = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hub_url = format!("http://{}", hub.local_addr().unwrap());
    let hf_home = tempfile::tempdir().unwrap();
    let server = Server::start_with_env(
        &["--model", "hf:acme/tiny-GGUF/tiny.gguf"],
        &[
            ("HF_ENDPOINT", &hub_url),
            ("HF_HOME", hf_home.path().to_str().unwrap()),
        ],
    );
    let client = reqwest::Client::new();
    let health = client
        .get(format!("{}/health", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 503);
    let health: Value = health.json().await.unwrap();
    assert_eq!(health["status"], "loading", "{health}");
    let (status, body) = post(&client, &server, None, &chat_body("tiny", "Hi", 4, false)).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(assert_error_shape(&body)["code"], "model_loading");
    let stream =
        serve_support::stream_chat(&client, &server.url, &chat_body("tiny", "Hi", 4, true)).await;
    assert_eq!(stream.status, 503, "{stream:?}");
    let models: Value = reqwest::get(format!("{}/v1/models", server.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(models["data"][0]["id"], "tiny");
    assert_eq!(models["data"][0]["status"], "loading");
    assert_eq!(server.metric(r#"slm_model_ready{model="tiny"}"#).await, 0.0);
    drop(hub);
}

#[test]
fn a_model_that_cannot_load_stops_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.gguf");
    let mut server = Server::start(&["--model", missing.to_str().unwrap()]);
    let status = server.wait_exit(Duration::from_secs(60));
    assert!(!status.success());
    assert!(
        server.stderr().contains("cannot open model"),
        "{}",
        server.stderr()
    );
}

#[test]
fn bad_arguments_fail_before_listening() {
    let slm = env!("CARGO_BIN_EXE_slm");
    let out = std::process::Command::new(slm)
        .args(["serve", "--model", "gpt", "--port", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad model spec `gpt`"));
    let out = std::process::Command::new(slm)
        .args([
            "serve",
            "--model",
            "a.gguf",
            "--model",
            "dir/a.gguf",
            "--port",
            "0",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("both be served as `a`"));
    let help = std::process::Command::new(slm)
        .args(["serve", "--help"])
        .env("SLM_API_KEY", "sk-hidden-in-help")
        .output()
        .unwrap();
    assert!(help.status.success());
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("--api-key") && help.contains("--queue") && help.contains("--timeout"));
    assert!(!help.contains("sk-hidden-in-help"));
    let none = std::process::Command::new(slm)
        .args(["serve"])
        .output()
        .unwrap();
    assert_eq!(none.status.code(), Some(2));
}

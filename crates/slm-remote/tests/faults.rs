//! The fault matrix: each fault ends with the right number of attempts and a typed error, and
//! nothing panics. Also the concurrency cap, cancellation on drop, and secrets in errors.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;
use futures::StreamExt;
use serde_json::json;
use slm_core::{ChatEvent, ChatModel, ChatRequest, ToolSpec};
use slm_remote::{AzureOpenAiModel, OpenAiCompatibleModel, RemoteError, RetryPolicy};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

fn hi() -> ChatRequest {
    ChatRequest::builder().user("hi").build()
}

async fn requests(server: &MockServer) -> usize {
    server.received_requests().await.unwrap().len()
}

#[tokio::test]
async fn rate_limited_with_retry_after_then_ok() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after-ms", "300")
                .insert_header("retry-after", "1")
                .set_body_json(json!({"error": {"code": "429", "message": "Requests to the ChatCompletions_Create Operation have exceeded the rate limit."}})),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion("ok")))
        .mount(&server)
        .await;
    let model = azure(&server.uri(), "chat", fast_retries(3));
    let started = Instant::now();
    let response = model.chat(hi()).await.unwrap();
    assert_eq!(response.text(), "ok");
    assert_eq!(requests(&server).await, 2);
    // The backoff policy would wait ≤ 5 ms: the 300 ms wait is the server's retry-after-ms.
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn rate_limited_beyond_the_deadline_fails_at_once_with_the_wait() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "60"))
        .mount(&server)
        .await;
    let policy = fast_retries(5).with_total_deadline(Duration::from_secs(5));
    let model = azure(&server.uri(), "chat", policy);
    let started = Instant::now();
    let error = remote_error(&model, hi()).await;
    assert!(
        matches!(error, RemoteError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(60)),
        "{error:?}"
    );
    assert_eq!(requests(&server).await, 1);
    assert!(started.elapsed() < Duration::from_secs(2));
    let core: slm_core::Error = error.into();
    assert!(core.is_retryable());
}

#[tokio::test]
async fn service_unavailable_until_retries_run_out() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).set_body_string("upstream overloaded"))
        .mount(&server)
        .await;
    let model = compatible(&server.uri(), fast_retries(3));
    let error = remote_error(&model, hi()).await;
    assert!(
        matches!(&error, RemoteError::Http { status: 503, message, .. } if message == "upstream overloaded"),
        "{error:?}"
    );
    assert_eq!(requests(&server).await, 3);
    let core = model.chat(hi()).await.unwrap_err();
    assert!(matches!(core, slm_core::Error::Http { status: 503, .. }));
    assert_eq!(requests(&server).await, 6);
}

#[tokio::test]
async fn every_retryable_status_is_retried_and_others_are_not() {
    for (status, retried) in [
        (500, true),
        (502, true),
        (504, true),
        (400, false),
        (409, false),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(status).set_body_json(json!({"error": {"message": "no"}})),
            )
            .mount(&server)
            .await;
        let model = compatible(&server.uri(), fast_retries(2));
        let error = remote_error(&model, hi()).await;
        assert!(
            matches!(error, RemoteError::Http { status: s, .. } if s == status),
            "{error:?}"
        );
        assert_eq!(
            requests(&server).await,
            if retried { 2 } else { 1 },
            "status {status}"
        );
    }
}

#[tokio::test]
async fn a_slow_server_times_out_each_attempt() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(completion("late"))
                .set_delay(Duration::from_secs(2)),
        )
        .mount(&server)
        .await;
    let policy = fast_retries(2).with_request_timeout(Duration::from_millis(150));
    let model = compatible(&server.uri(), policy);
    let error = remote_error(&model, hi()).await;
    assert!(
        matches!(error, RemoteError::Timeout(d) if d == Duration::from_millis(150)),
        "{error:?}"
    );
    assert_eq!(requests(&server).await, 2);
    assert!(matches!(
        slm_core::Error::from(error),
        slm_core::Error::Timeout(..)
    ));
}

#[tokio::test]
async fn the_total_deadline_bounds_the_whole_call() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(completion("late"))
                .set_delay(Duration::from_secs(2)),
        )
        .mount(&server)
        .await;
    let policy = fast_retries(5)
        .with_request_timeout(Duration::from_secs(10))
        .with_total_deadline(Duration::from_millis(200));
    let model = compatible(&server.uri(), policy);
    let started = Instant::now();
    let error = remote_error(&model, hi()).await;
    assert!(
        matches!(error, RemoteError::DeadlineExceeded(_)),
        "{error:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(requests(&server).await, 1);
}

#[tokio::test]
async fn a_connection_cut_mid_stream_ends_the_stream_with_a_connection_error() {
    let server = RawServer::start(|mut conn| async move {
        conn.read_request().await;
        conn.start_sse().await.unwrap();
        conn.send_chunk(&format!("data: {}\n\n", text_chunk("Hel")))
            .await
            .unwrap();
        // Half of the next event, then the socket closes without the final chunk.
        conn.write("40\r\ndata: {\"id\"").await.unwrap();
    })
    .await;
    let model = compatible(&server.base(), fast_retries(3));
    let events: Vec<_> = model.chat_stream(hi()).collect().await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(
        events[0].as_ref().unwrap(),
        &ChatEvent::TextDelta("Hel".into())
    );
    assert!(
        matches!(&events[1], Err(slm_core::Error::Connection(..))),
        "{events:?}"
    );
    // Text had reached the caller, so the stream was not tried again.
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn a_stream_cut_after_its_finish_reason_still_answers() {
    let server = RawServer::start(|mut conn| async move {
        conn.read_request().await;
        conn.start_sse().await.unwrap();
        let events = format!(
            "data: {}\n\ndata: {}\n\n",
            text_chunk("done"),
            finish_chunk("stop")
        );
        conn.send_chunk(&events).await.unwrap();
        // The usage chunk and [DONE] never come: the socket closes mid-chunk.
        conn.write("40\r\ndata: {").await.unwrap();
    })
    .await;
    let model = compatible(&server.base(), fast_retries(3));
    let (text, response) = slm_core::collect_stream(model.chat_stream(hi()))
        .await
        .unwrap();
    assert_eq!(text, "done");
    assert_eq!(response.finish_reason, slm_core::FinishReason::Stop);
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn a_stream_cut_before_its_first_event_is_retried() {
    let attempt = Arc::new(AtomicUsize::new(0));
    let seen = attempt.clone();
    let server = RawServer::start(move |mut conn| {
        let n = seen.fetch_add(1, Ordering::SeqCst);
        async move {
            conn.read_request().await;
            conn.start_sse().await.unwrap();
            if n == 0 {
                return; // cut before any event
            }
            let body = sse(&[text_chunk("ok"), finish_chunk("stop")]);
            conn.send_chunk(&body).await.unwrap();
            conn.write("0\r\n\r\n").await.unwrap();
        }
    })
    .await;
    let model = compatible(&server.base(), fast_retries(3));
    let (text, _) = slm_core::collect_stream(model.chat_stream(hi()))
        .await
        .unwrap();
    assert_eq!(text, "ok");
    assert_eq!(server.connections(), 2);
}

#[tokio::test]
async fn a_connection_cut_before_the_answer_is_retried_then_reported() {
    let server = RawServer::start(|mut conn| async move {
        conn.read_request().await;
        // Close without answering.
    })
    .await;
    let model = compatible(&server.base(), fast_retries(3));
    let error = remote_error(&model, hi()).await;
    assert!(matches!(error, RemoteError::Connection(_)), "{error:?}");
    assert_eq!(server.connections(), 3);
}

#[tokio::test]
async fn no_server_at_all_is_a_connection_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let model = compatible(&base, fast_retries(2));
    let error = remote_error(&model, hi()).await;
    assert!(
        matches!(&error, RemoteError::Connection(m) if m.contains("could not connect")),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_malformed_sse_line_is_a_parse_error() {
    let server = MockServer::start().await;
    let body = format!("data: {}\n\ndata: {{not json\n\n", text_chunk("a"));
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/event-stream")
                .set_body_string(body),
        )
        .mount(&server)
        .await;
    let model = compatible(&server.uri(), fast_retries(3));
    let events: Vec<_> = model.chat_stream(hi()).collect().await;
    assert!(
        matches!(events.last(), Some(Err(slm_core::Error::Parse(..)))),
        "{events:?}"
    );
    assert_eq!(requests(&server).await, 1);
}

#[tokio::test]
async fn an_error_event_inside_a_stream_is_typed() {
    let server = MockServer::start().await;
    let body = "data: {\"error\": {\"code\": \"content_filter\", \"message\": \"The response was filtered\"}}\n\n";
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/event-stream")
                .set_body_string(body),
        )
        .mount(&server)
        .await;
    let model = azure(&server.uri(), "chat", fast_retries(3));
    let events: Vec<_> = model.chat_stream(hi()).collect().await;
    assert!(
        matches!(events.last(), Some(Err(slm_core::Error::ContentFiltered(m, ..))) if m.contains("filtered")),
        "{events:?}"
    );
    assert_eq!(requests(&server).await, 1);
}

#[tokio::test]
async fn an_invalid_json_body_is_a_parse_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/json")
                .set_body_string("{\"choices\": [tru"),
        )
        .mount(&server)
        .await;
    let model = compatible(&server.uri(), fast_retries(3));
    let error = remote_error(&model, hi()).await;
    assert!(
        matches!(&error, RemoteError::Parse(m) if m.contains("{\"choices\": [tru")),
        "{error:?}"
    );
    assert_eq!(requests(&server).await, 1);
}

#[tokio::test]
async fn deployment_not_found_names_the_url_and_what_to_check() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"error": {
            "code": "DeploymentNotFound",
            "message": "The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again."}})))
        .mount(&server)
        .await;
    let model = azure(&server.uri(), "wrong-name", fast_retries(3));
    let error = remote_error(&model, hi()).await;
    let RemoteError::DeploymentNotFound {
        url,
        deployment,
        message,
    } = &error
    else {
        panic!("{error:?}");
    };
    assert_eq!(
        url,
        &format!(
            "{}/openai/deployments/wrong-name/chat/completions?api-version=2024-05-01-preview",
            server.uri()
        )
    );
    assert_eq!(deployment, "wrong-name");
    assert!(message.contains("does not exist"));
    let text = error.to_string();
    assert!(text.contains("AZURE_DEPLOYMENT") && text.contains("models/chat/completions"));
    assert_eq!(requests(&server).await, 1);
    let core = slm_core::Error::from(error);
    assert!(
        matches!(&core, slm_core::Error::Http { status: 404, code: Some(c), body, .. } if c == "DeploymentNotFound" && body.contains("wrong-name"))
    );
}

#[tokio::test]
async fn a_content_filtered_prompt_is_typed_with_its_category() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {
            "message": "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.",
            "type": null, "param": "prompt", "code": "content_filter", "status": 400,
            "innererror": {"code": "ResponsibleAIPolicyViolation", "content_filter_result": {
                "hate": {"filtered": false, "severity": "safe"},
                "violence": {"filtered": true, "severity": "medium"}}}}})))
        .mount(&server)
        .await;
    let model = azure(&server.uri(), "chat", fast_retries(3));
    let error = remote_error(&model, hi()).await;
    let RemoteError::ContentFiltered { message, details } = &error else {
        panic!("{error:?}");
    };
    assert!(message.contains("content management policy"));
    assert_eq!(details.as_ref().unwrap()["violence"]["filtered"], true);
    assert_eq!(requests(&server).await, 1);
    assert!(matches!(
        slm_core::Error::from(error),
        slm_core::Error::ContentFiltered(..)
    ));
}

#[tokio::test]
async fn an_unsupported_api_version_is_typed() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"error": {"code": "BadRequest", "message": "API version not supported"}}),
        ))
        .mount(&server)
        .await;
    let model = azure(&server.uri(), "chat", fast_retries(3));
    let error = remote_error(&model, hi()).await;
    assert!(
        matches!(&error, RemoteError::InvalidApiVersion { api_version, message, .. }
            if api_version == "2024-05-01-preview" && message == "API version not supported"),
        "{error:?}"
    );
    assert!(error.to_string().contains("AZURE_API_VERSION"));
    assert_eq!(requests(&server).await, 1);
}

#[tokio::test]
async fn tool_arguments_that_are_not_json_are_kept_raw_with_a_typed_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "c", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": null,
                "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{city: Oslo"}}]}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})))
        .mount(&server)
        .await;
    let model = compatible(&server.uri(), fast_retries(3));
    let request = ChatRequest::builder()
        .user("x")
        .tool(ToolSpec::new("f", "", json!({"type": "object"})))
        .build();
    let error = remote_error(&model, request.clone()).await;
    let RemoteError::InvalidToolArguments {
        tool,
        raw,
        response,
        ..
    } = &error
    else {
        panic!("{error:?}");
    };
    assert_eq!((tool.as_str(), raw.as_str()), ("f", "{city: Oslo"));
    assert_eq!(
        response.message.tool_calls[0].arguments,
        json!("{city: Oslo")
    );
    assert_eq!(requests(&server).await, 1);
    assert!(
        matches!(model.chat(request).await, Err(slm_core::Error::Parse(m, ..)) if m.contains("{city: Oslo"))
    );
}

#[tokio::test]
async fn keys_never_appear_in_debug_or_errors() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(json!({"error": {"code": "401",
            "message": format!("Access denied: key {KEY} is not valid for this resource")}})),
        )
        .mount(&server)
        .await;
    let model = azure(&server.uri(), "chat", fast_retries(3));
    assert!(!format!("{model:?}").contains(KEY));
    let core = model.chat(hi()).await.unwrap_err();
    let error = typed(&core);
    assert!(
        matches!(error, RemoteError::Unauthorized { status: 401, .. }),
        "{error:?}"
    );
    assert!(!format!("{error} {error:?}").contains(KEY));
    assert!(!format!("{core} {core:?}").contains(KEY));
    // Said once: not "HTTP 401: HTTP 401: access denied".
    let said = core.to_string();
    assert!(said.starts_with("HTTP 401: access denied"), "{said}");
    assert_eq!(said.matches("401").count(), 1, "{said}");
    // The source says the same, so a printed chain that leaves out a cause the message
    // already holds says it once too.
    let source = std::error::Error::source(&core).unwrap().to_string();
    assert!(said.contains(&source), "{said} / {source}");
    // A server message ending in a period does not meet ours as "..".
    let dotted = RemoteError::Unauthorized {
        status: 403,
        message: "Key expired, try again.".into(),
    };
    assert!(!dotted.to_string().contains(".."), "{dotted}");
    assert!(!slm_core::Error::from(dotted).to_string().contains(".."));
    assert_eq!(requests(&server).await, 1);
}

#[tokio::test]
async fn bad_configuration_is_a_typed_error_not_a_panic() {
    let newline_key = AzureOpenAiModel::builder()
        .endpoint("https://r.openai.azure.com/openai/deployments/chat")
        .api_version("2024-05-01-preview")
        .api_key("abc\r\nX-Injected: 1")
        .build()
        .unwrap_err();
    assert!(matches!(newline_key, RemoteError::Config(_)));
    assert!(!newline_key.to_string().contains("X-Injected"));
    assert!(matches!(
        OpenAiCompatibleModel::new("not a url", "m"),
        Err(RemoteError::Config(_))
    ));
    let no_messages = remote_error(
        &compatible("http://127.0.0.1:9", fast_retries(1)),
        ChatRequest::default(),
    )
    .await;
    assert!(matches!(no_messages, RemoteError::InvalidRequest(_)));
}

#[tokio::test]
async fn the_concurrency_cap_bounds_requests_in_flight() {
    let in_flight = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (now, max) = (in_flight.clone(), peak.clone());
    let server = RawServer::start(move |mut conn| {
        let (now, max) = (now.clone(), max.clone());
        async move {
            conn.read_request().await;
            let current = now.fetch_add(1, Ordering::SeqCst) + 1;
            max.fetch_max(current, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(80)).await;
            now.fetch_sub(1, Ordering::SeqCst);
            conn.respond_json(200, &completion("ok")).await.unwrap();
        }
    })
    .await;
    let model = OpenAiCompatibleModel::builder(format!("{}/v1", server.base()), "m")
        .max_concurrency(2)
        .retry(fast_retries(1))
        .build()
        .unwrap();
    let calls = (0..6).map(|_| model.chat(hi()));
    let results = futures::future::join_all(calls).await;
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(peak.load(Ordering::SeqCst), 2);
    let queued = results
        .iter()
        .filter(|r| r.as_ref().unwrap().timings.queue > Duration::from_millis(50));
    assert!(
        queued.count() >= 2,
        "later calls must have waited for a slot"
    );
}

#[tokio::test]
async fn dropping_a_chat_future_closes_the_connection() {
    let (hung_up, mut hung_up_rx) = tokio::sync::mpsc::unbounded_channel();
    let (got_request, mut got_request_rx) = tokio::sync::mpsc::unbounded_channel();
    let server = RawServer::start(move |mut conn| {
        let (hung_up, got_request) = (hung_up.clone(), got_request.clone());
        async move {
            conn.read_request().await;
            got_request.send(()).unwrap();
            conn.wait_for_hangup().await;
            hung_up.send(()).unwrap();
        }
    })
    .await;
    let model = compatible(&server.base(), fast_retries(1));
    let call = model.chat(hi());
    tokio::select! {
        _ = call => panic!("the server never answers"),
        _ = got_request_rx.recv() => {}
    }
    // `call` is dropped here: the connection must close.
    tokio::time::timeout(Duration::from_secs(2), hung_up_rx.recv())
        .await
        .expect("the server saw the client hang up");
}

#[tokio::test]
async fn dropping_a_stream_closes_the_connection_and_frees_its_slot() {
    let (hung_up, mut hung_up_rx) = tokio::sync::mpsc::unbounded_channel();
    let server = RawServer::start(move |mut conn| {
        let hung_up = hung_up.clone();
        async move {
            conn.read_request().await;
            conn.start_sse().await.unwrap();
            conn.send_chunk(&format!("data: {}\n\n", text_chunk("first")))
                .await
                .unwrap();
            conn.wait_for_hangup().await;
            hung_up.send(()).unwrap();
        }
    })
    .await;
    let model = OpenAiCompatibleModel::builder(format!("{}/v1", server.base()), "m")
        .max_concurrency(1)
        .retry(fast_retries(1))
        .build()
        .unwrap();
    for _ in 0..2 {
        let mut stream = model.chat_stream(hi());
        let first = tokio::time::timeout(Duration::from_secs(2), stream.next())
            .await
            .expect("the single slot must be free again");
        assert_eq!(
            first.unwrap().unwrap(),
            ChatEvent::TextDelta("first".into())
        );
        drop(stream);
        tokio::time::timeout(Duration::from_secs(2), hung_up_rx.recv())
            .await
            .expect("the server saw the client hang up");
    }
}

#[tokio::test]
async fn no_retries_means_one_attempt() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let model = OpenAiCompatibleModel::builder(format!("{}/v1", server.uri()), "m")
        .retry(RetryPolicy::no_retries())
        .build()
        .unwrap();
    assert!(model.chat(hi()).await.is_err());
    assert_eq!(requests(&server).await, 1);
}

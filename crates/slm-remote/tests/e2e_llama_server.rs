//! End to end against a real OpenAI-compatible server: llama-cpp-python's server
//! (`python -m llama_cpp.server`) serving a GGUF model that slm-llamacpp generates, on
//! 127.0.0.1. Chat, stream, a forced tool call and a JSON-schema answer.
//!
//! Needs llama-cpp-python's server, which `scripts/setup.sh --test` installs into the project's
//! virtual environment (the interpreter is `$SLM_PYTHON`, else that venv's python, else
//! `python3`). Without it the test fails under CI (`CI` set to anything but empty, `0` or
//! `false`) and prints a loud SKIPPED line otherwise.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};
use slm_core::{
    ChatEvent, ChatModel, ChatRequest, FinishReason, GenerationOptions, ResponseFormat, ToolChoice,
    ToolSpec, collect_stream,
};
use slm_llamacpp::testing::{TestModelSpec, write_test_model};
use slm_remote::{OpenAiCompatibleModel, RetryPolicy};

fn python() -> String {
    if let Ok(python) = std::env::var("SLM_PYTHON") {
        return python;
    }
    let venv = std::env::var("SLM_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/slm/venv")
        });
    let venv_python = venv.join("bin/python");
    if venv_python.exists() {
        return venv_python.display().to_string();
    }
    "python3".into()
}

/// Whether llama-cpp-python's server can be imported.
fn server_available() -> bool {
    Command::new(python())
        .args(["-c", "import llama_cpp.server.app"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The server process; killed when dropped.
struct LlamaServer {
    child: Child,
    base_url: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl LlamaServer {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("tiny.gguf");
        write_test_model(&model, &TestModelSpec::tiny()).unwrap();
        let port = free_port();
        let log = dir.path().join("server.log");
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(python())
            .args(["-m", "llama_cpp.server", "--model"])
            .arg(&model)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--n_ctx", "2048", "--model_alias", "tiny"])
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("start llama_cpp.server");
        let mut server = Self {
            child,
            base_url: format!("http://127.0.0.1:{port}/v1"),
            log,
            _dir: dir,
        };
        server.wait_until_ready(Duration::from_secs(60));
        server
    }

    /// Polls `/v1/models` until it answers 200.
    fn wait_until_ready(&mut self, limit: Duration) {
        let started = Instant::now();
        let url = format!("{}/models", self.base_url);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        while started.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "llama_cpp.server exited ({status}):\n{}",
                    read_log(&self.log)
                );
            }
            let ok = rt.block_on(async {
                reqwest::get(&url)
                    .await
                    .is_ok_and(|r| r.status().is_success())
            });
            if ok {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "llama_cpp.server not ready after {limit:?}:\n{}",
            read_log(&self.log)
        );
    }
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn city_tool() -> ToolSpec {
    ToolSpec::new(
        "get_weather",
        "Current weather in a city",
        json!({
            "type": "object",
            "properties": {"city": {"type": "string", "enum": ["Oslo", "Bergen"]}},
            "required": ["city"],
            "additionalProperties": false
        }),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_stream_tool_call_and_json_schema_against_llama_cpp_python() {
    if !server_available() {
        let message = format!(
            "llama-cpp-python's server is not importable with `{}`; install it with \
             `bash scripts/setup.sh --test` (or set SLM_PYTHON)",
            python()
        );
        if slm_llamacpp::testing::ci_is_strict() {
            panic!("{message}");
        }
        eprintln!("\n*** SKIPPED e2e_llama_server: {message}\n");
        return;
    }
    let server = tokio::task::spawn_blocking(LlamaServer::start)
        .await
        .unwrap();
    let model = OpenAiCompatibleModel::builder(&server.base_url, "tiny")
        .retry(RetryPolicy::default().with_request_timeout(Duration::from_secs(60)))
        .build()
        .unwrap();
    let options = GenerationOptions::deterministic().with_max_tokens(12);

    // Chat.
    let request = ChatRequest::builder()
        .system("You are terse.")
        .user("Say something.")
        .options(options.clone())
        .build();
    let answer = model.chat(request.clone()).await.unwrap();
    assert!(
        (1..=12).contains(&answer.usage.completion_tokens),
        "{answer:?}"
    );
    assert!(answer.usage.prompt_tokens > 5, "{answer:?}");
    assert!(matches!(
        answer.finish_reason,
        FinishReason::Length | FinishReason::Stop
    ));
    assert_eq!(answer.model, "tiny");
    assert!(answer.timings.total >= answer.timings.send);
    assert!(answer.timings.send > Duration::ZERO);

    // Stream: greedy decoding, so the same text arrives delta by delta.
    let events: Vec<ChatEvent> = model
        .chat_stream(request)
        .map(|e| e.unwrap())
        .collect()
        .await;
    let deltas = events.iter().filter(|e| e.text_delta().is_some()).count();
    let streamed: String = events.iter().filter_map(ChatEvent::text_delta).collect();
    let Some(ChatEvent::Done(done)) = events.last() else {
        panic!("no Done event: {events:?}");
    };
    assert_eq!(streamed, answer.text());
    assert_eq!(done.text(), answer.text());
    assert!(deltas >= 2, "{events:?}");
    assert!(done.timings.time_to_first_token > Duration::ZERO);

    // A forced tool call: llama-cpp-python constrains the arguments with the tool's schema.
    let tool_request = ChatRequest::builder()
        .user("What is the weather in Oslo?")
        .tool(city_tool())
        .tool_choice(ToolChoice::Named("get_weather".into()))
        .options(GenerationOptions::deterministic().with_max_tokens(256))
        .build();
    let called = model.chat(tool_request.clone()).await.unwrap();
    assert_eq!(called.finish_reason, FinishReason::ToolCalls);
    assert_eq!(called.message.tool_calls.len(), 1, "{called:?}");
    let call = &called.message.tool_calls[0];
    assert_eq!(call.name, "get_weather");
    assert!(!call.id.is_empty());
    let city = call.arguments["city"].as_str().unwrap_or_default();
    assert!(["Oslo", "Bergen"].contains(&city), "{call:?}");

    // The same call, streamed and reassembled.
    let (_, streamed_call) = collect_stream(model.chat_stream(tool_request))
        .await
        .unwrap();
    assert_eq!(streamed_call.message.tool_calls.len(), 1);
    assert_eq!(
        streamed_call.message.tool_calls[0].arguments,
        call.arguments
    );

    // A JSON-schema answer (the server rejects `json_schema`; the client sends the schema in
    // a `json_object` format, which llama-cpp-python enforces with a grammar).
    let schema = json!({
        "type": "object",
        "properties": {"answer": {"type": "string", "enum": ["yes", "no"]}},
        "required": ["answer"],
        "additionalProperties": false
    });
    let json_request = ChatRequest::builder()
        .user("Is Oslo in Norway? Answer in JSON.")
        .response_format(ResponseFormat::json_schema("verdict", schema))
        .options(GenerationOptions::deterministic().with_max_tokens(256))
        .build();
    let verdict = model.chat(json_request).await.unwrap();
    let value: Value = serde_json::from_str(verdict.text())
        .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", verdict.text()));
    assert!(
        ["yes", "no"].contains(&value["answer"].as_str().unwrap_or_default()),
        "{value}"
    );

    drop(server);
}

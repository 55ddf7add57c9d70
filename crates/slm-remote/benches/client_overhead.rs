//! What the client adds to an HTTP round trip, and how throughput scales with concurrency.
//!
//! A keep-alive HTTP/1.1 server on 127.0.0.1 (its own thread and runtime) answers every request
//! at once with the same chat completion (or event stream). The reference is a raw reqwest POST
//! of the same JSON body to the same server, reading the whole answer: the difference is the
//! cost of mapping the request, async-openai, retries and the concurrency cap, parsing the
//! answer and mapping it back.
//!
//! `cargo bench -p slm-remote --bench client_overhead`

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futures::StreamExt;
use serde_json::json;
use slm_core::{ChatModel, ChatRequest, GenerationOptions, collect_stream};
use slm_remote::{AzureOpenAiModel, OpenAiCompatibleModel};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn completion_body() -> String {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
        "choices": [{"index": 0, "finish_reason": "stop",
            "message": {"role": "assistant", "content": "Paris is the capital of France."}}],
        "usage": {"prompt_tokens": 24, "completion_tokens": 8, "total_tokens": 32}
    })
    .to_string()
}

fn stream_body() -> String {
    let mut body = String::new();
    for word in ["Paris", " is", " the", " capital", " of", " France", "."] {
        let chunk = json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": {"content": word}, "finish_reason": null}]});
        body.push_str(&format!("data: {chunk}\n\n"));
    }
    let last = json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 24, "completion_tokens": 7, "total_tokens": 31}});
    body.push_str(&format!("data: {last}\n\ndata: [DONE]\n\n"));
    body
}

/// Starts the server on its own thread; returns its address.
fn start_server() -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            let json = completion_body();
            let sse = stream_body();
            loop {
                let (socket, _) = listener.accept().await.unwrap();
                socket.set_nodelay(true).unwrap();
                tokio::spawn(serve(socket, json.clone(), sse.clone()));
            }
        });
    });
    rx.recv().unwrap()
}

/// Answers requests on one keep-alive connection until the client closes it.
async fn serve(mut socket: TcpStream, json: String, sse: String) {
    let json_answer = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{json}",
        json.len()
    );
    let sse_answer = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\n\r\n{sse}",
        sse.len()
    );
    let mut data = Vec::with_capacity(8192);
    let mut buf = [0u8; 8192];
    loop {
        // One request: head, then Content-Length bytes of body.
        let (head_end, length) = loop {
            if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                break (end + 4, length);
            }
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => data.extend_from_slice(&buf[..n]),
            }
        };
        while data.len() < head_end + length {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => data.extend_from_slice(&buf[..n]),
            }
        }
        let streamed = data[head_end..head_end + length]
            .windows(13)
            .any(|w| w == b"\"stream\":true");
        data.drain(..head_end + length);
        let answer = if streamed { &sse_answer } else { &json_answer };
        if socket.write_all(answer.as_bytes()).await.is_err() {
            return;
        }
    }
}

fn request() -> ChatRequest {
    ChatRequest::builder()
        .system("You are terse.")
        .user("What is the capital of France?")
        .options(GenerationOptions::deterministic().with_max_tokens(32))
        .build()
}

/// The JSON body our client sends for `request()`, sent as-is by the raw reference.
fn raw_body(streamed: bool) -> String {
    let mut body = json!({
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "What is the capital of France?"}
        ],
        "model": "m", "max_tokens": 32, "seed": 42, "temperature": 0.0, "top_p": 1.0
    });
    if streamed {
        body["stream"] = json!(true);
        body["stream_options"] = json!({"include_usage": true});
    }
    body.to_string()
}

struct Setup {
    rt: tokio::runtime::Runtime,
    raw: reqwest::Client,
    url: String,
    compatible: OpenAiCompatibleModel,
    azure: AzureOpenAiModel,
}

fn setup() -> Setup {
    let addr = start_server();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let base = format!("http://{addr}");
    let compatible = OpenAiCompatibleModel::builder(format!("{base}/v1"), "m")
        .max_concurrency(64)
        .build()
        .unwrap();
    let azure = AzureOpenAiModel::builder()
        .endpoint(format!("{base}/openai/deployments/m"))
        .api_version("2024-10-21")
        .api_key("bench-key-0000")
        .max_concurrency(64)
        .build()
        .unwrap();
    let raw = reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    Setup {
        rt,
        raw,
        url: format!("{base}/v1/chat/completions"),
        compatible,
        azure,
    }
}

async fn raw_round_trip(raw: &reqwest::Client, url: &str, body: &str) -> usize {
    let response = raw
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    response.bytes().await.unwrap().len()
}

fn overhead(c: &mut Criterion) {
    let s = setup();
    let mut group = c.benchmark_group("remote/overhead");
    group.measurement_time(Duration::from_secs(5));
    let json_body = raw_body(false);
    let sse_body = raw_body(true);

    group.bench_function("raw_reqwest_round_trip", |b| {
        b.to_async(&s.rt)
            .iter(|| async { black_box(raw_round_trip(&s.raw, &s.url, &json_body).await) })
    });
    group.bench_function("openai_compatible_chat", |b| {
        b.to_async(&s.rt)
            .iter(|| async { black_box(s.compatible.chat(request()).await.unwrap()) })
    });
    group.bench_function("azure_chat", |b| {
        b.to_async(&s.rt)
            .iter(|| async { black_box(s.azure.chat(request()).await.unwrap()) })
    });
    group.bench_function("raw_reqwest_stream_body", |b| {
        b.to_async(&s.rt).iter(|| async {
            let response = s
                .raw
                .post(&s.url)
                .header("content-type", "application/json")
                .body(sse_body.clone())
                .send()
                .await
                .unwrap();
            let mut bytes = response.bytes_stream();
            let mut n = 0;
            while let Some(chunk) = bytes.next().await {
                n += chunk.unwrap().len();
            }
            black_box(n)
        })
    });
    group.bench_function("openai_compatible_chat_stream", |b| {
        b.to_async(&s.rt).iter(|| async {
            black_box(
                collect_stream(s.compatible.chat_stream(request()))
                    .await
                    .unwrap(),
            )
        })
    });
    group.finish();

    let mut group = c.benchmark_group("remote/concurrent");
    group.measurement_time(Duration::from_secs(5));
    for n in [1usize, 4, 16, 64] {
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("raw_reqwest", n), &n, |b, &n| {
            b.to_async(&s.rt).iter(|| async {
                let calls = (0..n).map(|_| raw_round_trip(&s.raw, &s.url, &json_body));
                black_box(futures::future::join_all(calls).await)
            })
        });
        group.bench_with_input(
            BenchmarkId::new("openai_compatible_chat", n),
            &n,
            |b, &n| {
                b.to_async(&s.rt).iter(|| async {
                    let calls = (0..n).map(|_| s.compatible.chat(request()));
                    let answers = futures::future::join_all(calls).await;
                    assert!(answers.iter().all(Result::is_ok));
                    black_box(answers)
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, overhead);
criterion_main!(benches);

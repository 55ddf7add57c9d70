//! Shared by the `client_overhead` bench and the `cpu_per_request` example: a keep-alive
//! HTTP/1.1 server on 127.0.0.1 that answers every request at once, the request, and the raw
//! reqwest reference.

#![allow(dead_code)]

use std::net::SocketAddr;

use futures::StreamExt;
use serde_json::json;
use slm_core::{ChatRequest, GenerationOptions};
use slm_remote::{AzureOpenAiModel, OpenAiCompatibleModel};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub fn completion_body() -> String {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
        "choices": [{"index": 0, "finish_reason": "stop",
            "message": {"role": "assistant", "content": "Paris is the capital of France."}}],
        "usage": {"prompt_tokens": 24, "completion_tokens": 8, "total_tokens": 32}
    })
    .to_string()
}

pub fn stream_body() -> String {
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
pub fn start_server() -> SocketAddr {
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

pub fn request() -> ChatRequest {
    ChatRequest::builder()
        .system("You are terse.")
        .user("What is the capital of France?")
        .options(GenerationOptions::deterministic().with_max_tokens(32))
        .build()
}

/// The JSON body our client sends for `request()`, sent as-is by the raw reference.
pub fn raw_body(streamed: bool) -> String {
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

pub struct Setup {
    pub rt: tokio::runtime::Runtime,
    pub raw: reqwest::Client,
    pub url: String,
    pub compatible: OpenAiCompatibleModel,
    pub azure: AzureOpenAiModel,
}

pub fn setup() -> Setup {
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

pub async fn raw_round_trip(raw: &reqwest::Client, url: &str, body: &str) -> usize {
    let response = raw
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    response.bytes().await.unwrap().len()
}

pub async fn raw_stream(raw: &reqwest::Client, url: &str, body: &str) -> usize {
    let response = raw
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let mut bytes = response.bytes_stream();
    let mut n = 0;
    while let Some(chunk) = bytes.next().await {
        n += chunk.unwrap().len();
    }
    n
}

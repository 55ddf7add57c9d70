//! A streaming OpenAI-API client and load generator: SSE parsing, per-request TTFT, aggregate
//! tokens/s. Shared by the `slm serve` tests and `examples/loadgen.rs` (the benchmark against
//! llama-server), so both servers are measured by the same code.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// A chat body asking `prompt`, greedy, with at most `max_tokens` tokens.
pub fn chat_body(model: &str, prompt: &str, max_tokens: u32, stream: bool) -> Value {
    json!({
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": max_tokens,
        "temperature": 0,
        "stream": stream,
        "stream_options": {"include_usage": stream},
    })
}

/// Splits server-sent events out of a byte stream.
#[derive(Debug, Default)]
pub struct SseReader {
    buffer: Vec<u8>,
}

impl SseReader {
    /// Adds bytes; returns the `data:` payloads of the events they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        self.buffer.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some(end) = self.buffer.windows(2).position(|w| w == b"\n\n") {
            let event: Vec<u8> = self.buffer.drain(..end + 2).collect();
            let text = String::from_utf8_lossy(&event);
            let data: Vec<&str> = text
                .lines()
                .filter_map(|l| {
                    l.strip_prefix("data:")
                        .map(|d| d.strip_prefix(' ').unwrap_or(d))
                })
                .collect();
            if !data.is_empty() {
                out.push(data.join("\n"));
            }
        }
        out
    }
}

/// What one streamed request saw.
#[derive(Debug, Clone, Default)]
pub struct StreamResult {
    /// The HTTP status.
    pub status: u16,
    /// From sending to the first content or tool-call delta.
    pub ttft: Option<Duration>,
    /// From sending to the end.
    pub total: Duration,
    /// The text.
    pub text: String,
    /// The finish reason of the last choice chunk.
    pub finish_reason: Option<String>,
    /// Generated tokens from the usage chunk.
    pub completion_tokens: Option<u64>,
    /// Whether `data: [DONE]` came.
    pub done: bool,
    /// The first chunk's delta role.
    pub first_role: Option<String>,
    /// An error event or body, if any.
    pub error: Option<String>,
}

impl StreamResult {
    /// Complete: 200, a role first, a finish reason, usage and `[DONE]`.
    pub fn complete(&self) -> bool {
        self.status == 200
            && self.first_role.as_deref() == Some("assistant")
            && self.finish_reason.is_some()
            && self.completion_tokens.is_some()
            && self.done
            && self.error.is_none()
    }
}

/// Sends a streaming request and reads it to the end.
pub async fn stream_chat(client: &reqwest::Client, url: &str, body: &Value) -> StreamResult {
    let started = Instant::now();
    let mut result = StreamResult::default();
    let response = match client
        .post(format!("{url}/v1/chat/completions"))
        .json(body)
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) => {
            result.error = Some(format!("send: {e}"));
            result.total = started.elapsed();
            return result;
        }
    };
    result.status = response.status().as_u16();
    if result.status != 200 {
        result.error = Some(response.text().await.unwrap_or_default());
        result.total = started.elapsed();
        return result;
    }
    let mut response = response;
    let mut sse = SseReader::default();
    loop {
        let bytes = match response.chunk().await {
            Ok(Some(bytes)) => bytes,
            Ok(None) => break,
            Err(e) => {
                result.error = Some(format!("read: {e}"));
                break;
            }
        };
        for data in sse.push(&bytes) {
            if data == "[DONE]" {
                result.done = true;
                continue;
            }
            let chunk: Value = match serde_json::from_str(&data) {
                Ok(v) => v,
                Err(e) => {
                    result.error = Some(format!("bad chunk {data:?}: {e}"));
                    continue;
                }
            };
            if chunk.get("error").is_some() {
                result.error = Some(chunk.to_string());
                continue;
            }
            if let Some(n) = chunk["usage"]["completion_tokens"].as_u64() {
                result.completion_tokens = Some(n);
            }
            let Some(choice) = chunk["choices"].get(0) else {
                continue;
            };
            let delta = &choice["delta"];
            if result.first_role.is_none()
                && let Some(role) = delta["role"].as_str()
            {
                result.first_role = Some(role.to_string());
            }
            let text = delta["content"].as_str().unwrap_or("");
            if (!text.is_empty() || delta.get("tool_calls").is_some()) && result.ttft.is_none() {
                result.ttft = Some(started.elapsed());
            }
            result.text.push_str(text);
            if let Some(reason) = choice["finish_reason"].as_str() {
                result.finish_reason = Some(reason.to_string());
            }
        }
    }
    result.total = started.elapsed();
    result
}

/// The `q` quantile (0..=1) of sorted durations, in milliseconds.
pub fn quantile_ms(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[rank].as_secs_f64() * 1000.0
}

/// What a load run measured.
#[derive(Debug, Clone)]
pub struct LoadReport {
    pub requests: usize,
    pub complete: usize,
    pub errors: Vec<String>,
    pub completion_tokens: u64,
    pub elapsed: Duration,
    pub ttft_p50_ms: f64,
    pub ttft_p99_ms: f64,
}

impl LoadReport {
    /// Generated tokens per second over the run.
    pub fn tokens_per_second(&self) -> f64 {
        self.completion_tokens as f64 / self.elapsed.as_secs_f64()
    }

    /// One JSON line.
    pub fn to_json(&self) -> Value {
        json!({
            "requests": self.requests,
            "complete": self.complete,
            "errors": self.errors.len(),
            "completion_tokens": self.completion_tokens,
            "elapsed_s": self.elapsed.as_secs_f64(),
            "tokens_per_second": self.tokens_per_second(),
            "ttft_p50_ms": self.ttft_p50_ms,
            "ttft_p99_ms": self.ttft_p99_ms,
        })
    }
}

/// `clients` clients each sending `body` (streamed) back to back until `duration` has passed
/// (requests in flight then are finished and counted).
pub async fn load(url: &str, body: Value, clients: usize, duration: Duration) -> LoadReport {
    // A connection per request: no request fails on a keep-alive connection the server just
    // closed (llama-server closes idle ones), and both servers pay the same (loopback) setup.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let client = client.clone();
            let url = url.to_string();
            let body = body.clone();
            tokio::spawn(async move {
                let mut results = Vec::new();
                while started.elapsed() < duration {
                    results.push(stream_chat(&client, &url, &body).await);
                }
                results
            })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.extend(task.await.unwrap());
    }
    let elapsed = started.elapsed();
    let mut ttfts: Vec<Duration> = results.iter().filter_map(|r| r.ttft).collect();
    ttfts.sort();
    LoadReport {
        requests: results.len(),
        complete: results.iter().filter(|r| r.complete()).count(),
        errors: results
            .iter()
            .filter(|r| !r.complete())
            .map(|r| format!("{r:?}"))
            .collect(),
        completion_tokens: results.iter().filter_map(|r| r.completion_tokens).sum(),
        elapsed,
        ttft_p50_ms: quantile_ms(&ttfts, 0.5),
        ttft_p99_ms: quantile_ms(&ttfts, 0.99),
    }
}

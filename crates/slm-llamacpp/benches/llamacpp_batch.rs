//! Constrained vs free decoding, and aggregate decode speed with 1-16 concurrent sequences,
//! through `ChatModel` on the Qwen2.5-0.5B-shaped random-weight model (vocabulary 151,936):
//! the numbers `scripts/bench-llamacpp.sh` puts beside `llama-batched-bench`.
//!
//! - `llamacpp_constrained/{free,llguidance,llamacpp}`: tokens/s of a 64-token greedy answer
//!   that must follow a JSON schema (an object of bounded strings, integers and arrays), against
//!   the same answer length without a constraint.
//! - `llamacpp_batched/{1,2,4,8,16}`: aggregate decode tokens/s when N requests generate 32
//!   tokens each at the same time (the time from the last first-token to the last token),
//!   streamed to a single-threaded client runtime (see `runtime`).
//!
//! Environment as in `llamacpp.rs` (`SLM_BENCH_DIR`, `SLM_BENCH_THREADS`, `SLM_BENCH_SMALL`),
//! plus `SLM_BENCH_QUANT` (default `q4_0`) and `SLM_BENCH_BATCHES` (default `1,2,4,8,16`).

#[path = "llamacpp.rs"]
#[allow(dead_code)]
mod single;

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures::StreamExt;
use serde_json::json;
use slm_core::{ChatEvent, ChatModel, ChatRequest, GenerationOptions, ResponseFormat};
use slm_llamacpp::{LlamaCppModel, LoadOptions, QuantizeType, SchemaBackend};

const CONSTRAINED_TOKENS: u32 = 64;
const BATCH_TOKENS: u32 = 32;

fn quant() -> QuantizeType {
    std::env::var("SLM_BENCH_QUANT")
        .unwrap_or_else(|_| "q4_0".into())
        .parse()
        .expect("a quantization name")
}

fn schema() -> serde_json::Value {
    // Unbounded enough to need 64 tokens, bounded so it cannot end early by itself.
    json!({
        "type": "object",
        "properties": {
            "items": {"type": "array", "minItems": 40, "maxItems": 40,
                      "items": {"type": "string", "minLength": 3, "maxLength": 3}},
        },
        "required": ["items"],
        "additionalProperties": false
    })
}

fn constrained(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let path = single::model_file(quant());
    let mut group = c.benchmark_group("llamacpp_constrained");
    group.sample_size(10).warm_up_time(Duration::from_secs(3));
    group.throughput(Throughput::Elements(u64::from(CONSTRAINED_TOKENS - 1)));
    for (name, backend, format) in [
        ("free", SchemaBackend::Llguidance, ResponseFormat::Text),
        (
            "llguidance",
            SchemaBackend::Llguidance,
            ResponseFormat::json_schema("s", schema()),
        ),
        (
            "llamacpp",
            SchemaBackend::LlamaCpp,
            ResponseFormat::json_schema("s", schema()),
        ),
    ] {
        let options = LoadOptions::default()
            .with_threads(single_threads())
            .with_context_length(1024)
            .with_schema_backend(backend);
        let model = LlamaCppModel::load(&path, options).unwrap();
        let request = ChatRequest::builder()
            .user("List things as JSON.")
            .response_format(format)
            .options(GenerationOptions::deterministic().with_max_tokens(CONSTRAINED_TOKENS))
            .build();
        // Warm once: builds llguidance's token tables (a one-off per model).
        rt.block_on(model.chat(request.clone())).unwrap();
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let r = rt.block_on(model.chat(request.clone())).unwrap();
                    assert_eq!(
                        r.usage.completion_tokens,
                        CONSTRAINED_TOKENS,
                        "{name}: {}",
                        r.text()
                    );
                    total += r.timings.total - r.timings.time_to_first_token;
                }
                total
            })
        });
    }
    group.finish();
}

fn single_threads() -> u32 {
    std::env::var("SLM_BENCH_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(2)
}

fn batches() -> Vec<usize> {
    std::env::var("SLM_BENCH_BATCHES")
        .unwrap_or_else(|_| "1,2,4,8,16".into())
        .split(',')
        .map(|n| n.trim().parse().expect("a number"))
        .collect()
}

/// Runs `n` streamed requests at once; returns the decode window (last first-token to last
/// token) and the tokens generated in it.
async fn concurrent_decode(model: &LlamaCppModel, n: usize) -> (Duration, u64) {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let model = model.clone();
            tokio::spawn(async move {
                let request = ChatRequest::builder()
                    .user(format!("Story number {i}."))
                    .options(GenerationOptions::deterministic().with_max_tokens(BATCH_TOKENS))
                    .build();
                let mut stream = model.chat_stream(request);
                let mut first = None;
                while let Some(event) = stream.next().await {
                    match event.unwrap() {
                        ChatEvent::TextDelta(_) => {
                            first.get_or_insert_with(Instant::now);
                        }
                        ChatEvent::Done(r) => {
                            assert_eq!(r.usage.completion_tokens, BATCH_TOKENS);
                            return (first.unwrap_or_else(Instant::now), Instant::now());
                        }
                        ChatEvent::ToolCallDelta { .. } | ChatEvent::ReasoningDelta(_) => {}
                    }
                }
                panic!("no Done");
            })
        })
        .collect();
    let mut firsts = Vec::new();
    let mut lasts = Vec::new();
    for t in tasks {
        let (first, last) = t.await.unwrap();
        firsts.push(first);
        lasts.push(last);
    }
    let start = *firsts.iter().max().unwrap();
    let end = *lasts.iter().max().unwrap();
    // Tokens after each sequence's first, all decoded inside the window once every sequence
    // has started.
    (end - start, (n as u64) * u64::from(BATCH_TOKENS - 1))
}

/// The client's runtime: one thread for all streams by default. With llama.cpp using every
/// core (2 threads on a 2-core machine), a multi-threaded client runtime's threads, woken once
/// per token per stream, preempt llama.cpp's compute threads, which spin at barriers; at 16
/// streams that costs about a third of the throughput here. `SLM_BENCH_RUNTIME=multi` measures
/// that case.
fn runtime() -> tokio::runtime::Runtime {
    if std::env::var("SLM_BENCH_RUNTIME").as_deref() == Ok("multi") {
        tokio::runtime::Runtime::new().unwrap()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }
}

fn batched(c: &mut Criterion) {
    let rt = runtime();
    let path = single::model_file(quant());
    let mut group = c.benchmark_group("llamacpp_batched");
    group.sample_size(10).warm_up_time(Duration::from_secs(3));
    let max = *batches().iter().max().unwrap();
    let options = LoadOptions::default()
        .with_threads(single_threads())
        .with_context_length(256)
        .with_max_sequences(max as u32);
    let model = LlamaCppModel::load(&path, options).unwrap();
    for n in batches() {
        group.throughput(Throughput::Elements(
            (n as u64) * u64::from(BATCH_TOKENS - 1),
        ));
        group.bench_function(n.to_string(), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    total += rt.block_on(concurrent_decode(&model, n)).0;
                }
                total
            })
        });
    }
    group.finish();
}

criterion_group!(benches, constrained, batched);
criterion_main!(benches);

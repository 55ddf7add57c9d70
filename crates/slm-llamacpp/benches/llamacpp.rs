//! Prompt (pp512) and decode (tg128) speed through `ChatModel`, on a Qwen2.5-0.5B-shaped
//! random-weight model at Q4_0, Q5_1 and Q8_0, with 2 threads: the numbers that
//! `scripts/bench-llamacpp.sh` puts beside llama.cpp's own `llama-bench` on the same files.
//!
//! - pp512: wall time of a `chat` whose rendered prompt is exactly 512 tokens and whose answer
//!   is one token (template rendering, tokenization, prompt decode and one sampling step).
//! - tg128: a streamed, greedy answer of 128 tokens; the time from the first token to the last
//!   (127 decode + sample + stream steps), from the response's measured timings.
//!
//! Environment: `SLM_BENCH_DIR` (models; default `target/slm-bench`, generated when missing),
//! `SLM_BENCH_QUANTS` (default `q4_0,q5_1,q8_0`), `SLM_BENCH_THREADS` (default 2),
//! `SLM_BENCH_SMALL=1` (the tiny test model: a quick check of the bench itself).

use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures::StreamExt;
use slm_core::{ChatEvent, ChatModel, ChatRequest, GenerationOptions};
use slm_llamacpp::testing::{TestModelSpec, TestWeightType, write_test_model};
use slm_llamacpp::{LlamaCppModel, LoadOptions, QuantizeOptions, QuantizeType, quantize};

const PROMPT_TOKENS: usize = 512;
const GENERATED_TOKENS: u32 = 128;

fn bench_dir() -> PathBuf {
    std::env::var_os("SLM_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/slm-bench"))
}

fn spec() -> TestModelSpec {
    if std::env::var_os("SLM_BENCH_SMALL").is_some() {
        TestModelSpec {
            weight_type: TestWeightType::F16,
            ..TestModelSpec::tiny()
        }
    } else {
        TestModelSpec::qwen2_5_0_5b_shaped()
    }
}

/// The model file for `quant`, generated (F16) and quantized when missing.
pub fn model_file(quant: QuantizeType) -> PathBuf {
    let dir = bench_dir();
    std::fs::create_dir_all(&dir).expect("bench dir");
    let spec = spec();
    let f16 = dir.join(format!("{}-f16.gguf", spec.name));
    if !f16.exists() {
        write_test_model(&f16, &spec).expect("write the benchmark model");
    }
    let path = dir.join(format!(
        "{}-{}.gguf",
        spec.name,
        quant.to_string().to_lowercase()
    ));
    if !path.exists() {
        quantize(&f16, &path, &QuantizeOptions::new(quant)).expect("quantize");
    }
    path
}

fn quants() -> Vec<QuantizeType> {
    std::env::var("SLM_BENCH_QUANTS")
        .unwrap_or_else(|_| "q4_0,q5_1,q8_0".into())
        .split(',')
        .map(|q| q.trim().parse().expect("a quantization name"))
        .collect()
}

fn threads() -> u32 {
    std::env::var("SLM_BENCH_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(2)
}

/// A request whose rendered prompt is exactly `tokens` tokens: filler words, one token each.
async fn prompt_of(model: &LlamaCppModel, tokens: usize) -> ChatRequest {
    let build = |words: usize| {
        let text: Vec<String> = (0..words)
            .map(|i| ["a", "b", "c", "d"][i % 4].to_string())
            .collect();
        ChatRequest::builder()
            .user(text.join(" "))
            .options(GenerationOptions::deterministic().with_max_tokens(1))
            .build()
    };
    let mut words = tokens;
    for _ in 0..20 {
        let request = build(words);
        let n = model.prompt_tokens(&request).await.expect("count tokens");
        if n == tokens {
            return request;
        }
        words = (words as isize + tokens as isize - n as isize).max(1) as usize;
    }
    panic!("could not build a prompt of exactly {tokens} tokens");
}

fn load(path: &Path) -> LlamaCppModel {
    let options = LoadOptions::default()
        .with_threads(threads())
        .with_context_length(2048);
    LlamaCppModel::load(path, options).expect("load the benchmark model")
}

fn prompt_processing(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut group = c.benchmark_group("llamacpp_pp512");
    group.sample_size(10).warm_up_time(Duration::from_secs(3));
    group.throughput(Throughput::Elements(PROMPT_TOKENS as u64));
    for quant in quants() {
        let model = load(&model_file(quant));
        let request = rt.block_on(prompt_of(&model, PROMPT_TOKENS));
        group.bench_function(quant.to_string().to_lowercase(), |b| {
            b.iter(|| {
                let answer = rt.block_on(model.chat(request.clone())).unwrap();
                assert_eq!(answer.usage.prompt_tokens as usize, PROMPT_TOKENS);
            })
        });
    }
    group.finish();
}

fn token_generation(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut group = c.benchmark_group("llamacpp_tg128");
    group.sample_size(10).warm_up_time(Duration::from_secs(3));
    // 128 tokens: the first comes with the prompt, the timed window holds the other 127.
    group.throughput(Throughput::Elements(u64::from(GENERATED_TOKENS - 1)));
    let request = ChatRequest::builder()
        .user("Write a long story.")
        .options(GenerationOptions::deterministic().with_max_tokens(GENERATED_TOKENS))
        .build();
    for quant in quants() {
        let model = load(&model_file(quant));
        group.bench_function(quant.to_string().to_lowercase(), |b| {
            b.iter_custom(|iters| {
                let mut decoding = Duration::ZERO;
                for _ in 0..iters {
                    decoding += rt.block_on(streamed_decode_time(&model, request.clone()));
                }
                decoding
            })
        });
    }
    group.finish();
}

/// Streams one answer and returns the time from its first token to its last.
async fn streamed_decode_time(model: &LlamaCppModel, request: ChatRequest) -> Duration {
    let mut stream = model.chat_stream(request);
    let mut deltas = 0usize;
    while let Some(event) = stream.next().await {
        match event.expect("generation") {
            ChatEvent::TextDelta(d) => deltas += d.len(),
            ChatEvent::Done(r) => {
                assert_eq!(
                    r.usage.completion_tokens, GENERATED_TOKENS,
                    "the model stopped early; the benchmark needs {GENERATED_TOKENS} tokens"
                );
                assert!(deltas > 0);
                return r.timings.total - r.timings.time_to_first_token;
            }
            ChatEvent::ToolCallDelta { .. } | ChatEvent::ReasoningDelta(_) => unreachable!(),
        }
    }
    panic!("stream ended without Done");
}

criterion_group!(benches, prompt_processing, token_generation);
criterion_main!(benches);

//! Decode at depth: 128 tokens streamed through `ChatModel` after a prompt of about 680
//! tokens, on SmolLM2-135M-Instruct (the real default model), against llama.cpp's own
//! `llama-bench -p 0 -n 128 -d <our prompt's length>` on the same file and threads when
//! `SLM_LLAMA_BENCH` names it (`../shared/tools/build-llama-tools.sh` builds it against the
//! very static libraries cargo built).
//!
//! Our figure is decode tokens per second from the first streamed token to the last (127
//! tokens: the first comes with the prompt), sampling, detokenizing and streaming included;
//! llama-bench's is its tg128 at that depth (128 single-token decodes after filling the
//! cache, no sampling).
//! Before criterion runs, rounds alternate the two sides (order alternating) and print their
//! medians and the ratio.
//!
//! ```text
//! SLM_LLAMA_BENCH=/path/to/llama-bench cargo bench -p slm-llamacpp --bench llamacpp_depth
//! ```
//!
//! Environment: `SLM_BENCH_THREADS` (default 2), `SLM_BENCH_ROUNDS` (default 5).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures::StreamExt;
use slm_core::{ChatEvent, ChatModel, ChatRequest, GenerationOptions};
use slm_llamacpp::{LlamaCppModel, LoadOptions};
use support::{client_runtime, env_or, median, smollm2, threads};

mod support;

const DEPTH: usize = 680;
const GENERATED_TOKENS: u32 = 128;

/// A story request whose prompt takes about `DEPTH` tokens (within one sentence of it), and
/// its length in tokens.
fn request_at_depth(rt: &tokio::runtime::Runtime, model: &LlamaCppModel) -> (ChatRequest, usize) {
    let opening = "The lighthouse keeper climbed the stairs each evening, counted the ships on \
                   the horizon, and wrote their names in a worn leather book. ";
    let mut story = String::new();
    loop {
        let request = ChatRequest::builder()
            .user(format!(
                "Here is the start of a story:\n{story}\nContinue the story at length, with new \
                 events, in many paragraphs."
            ))
            .options(GenerationOptions::deterministic().with_max_tokens(GENERATED_TOKENS))
            .build();
        let tokens = rt
            .block_on(model.prompt_tokens(&request))
            .expect("count the prompt");
        if tokens >= DEPTH {
            eprintln!("prompt: {tokens} tokens");
            return (request, tokens);
        }
        story.push_str(opening);
    }
}

/// Streams one answer; returns its decode rate from the first token to the last.
async fn decode_rate(model: &LlamaCppModel, request: ChatRequest) -> f64 {
    let mut stream = model.chat_stream(request);
    while let Some(event) = stream.next().await {
        if let ChatEvent::Done(r) = event.expect("generation") {
            assert_eq!(
                r.usage.completion_tokens, GENERATED_TOKENS,
                "the model stopped early; the benchmark needs {GENERATED_TOKENS} tokens"
            );
            let window = r.timings.total - r.timings.time_to_first_token;
            return f64::from(GENERATED_TOKENS - 1) / window.as_secs_f64();
        }
    }
    panic!("stream ended without Done");
}

/// llama-bench's tg128 at `depth`, tokens per second.
fn llama_bench(binary: &Path, model: &Path, depth: usize, threads: u32) -> f64 {
    let output = Command::new(binary)
        .args(["-m", model.to_str().expect("a UTF-8 path")])
        .args(["-p", "0", "-n", &GENERATED_TOKENS.to_string()])
        .args(["-d", &depth.to_string(), "-t", &threads.to_string()])
        .args(["-r", "1", "-o", "json"])
        .output()
        .expect("run llama-bench");
    assert!(output.status.success(), "llama-bench failed: {output:?}");
    let rows: serde_json::Value = serde_json::from_slice(&output.stdout).expect("its JSON");
    rows[0]["avg_ts"].as_f64().expect("avg_ts")
}

fn decode_at_depth(c: &mut Criterion) {
    let (threads, rounds) = (threads(), env_or("SLM_BENCH_ROUNDS", 5).max(1));
    let (rt, path) = (client_runtime(), smollm2());
    // No prompt cache: every answer evaluates its prompt, as llama-bench fills its depth.
    let options = LoadOptions::default()
        .with_threads(threads)
        .with_context_length(1024)
        .with_prompt_cache(false);
    let model = LlamaCppModel::load(&path, options).expect("load SmolLM2");
    let (request, depth) = request_at_depth(&rt, &model);
    let reference = std::env::var_os("SLM_LLAMA_BENCH").map(PathBuf::from);

    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let mut sides = vec![true, false];
        if round % 2 == 1 {
            sides.reverse();
        }
        for side_is_ours in sides {
            match (side_is_ours, &reference) {
                (true, _) => ours.push(rt.block_on(decode_rate(&model, request.clone()))),
                (false, Some(binary)) => theirs.push(llama_bench(binary, &path, depth, threads)),
                (false, None) => {}
            }
        }
    }
    eprintln!(
        "slm-llamacpp: {ours:.1?} tok/s, median {:.1}",
        median(ours.clone())
    );
    if !theirs.is_empty() {
        eprintln!(
            "llama-bench:  {theirs:.1?} tok/s, median {:.1}",
            median(theirs.clone())
        );
        eprintln!(
            "slm / llama-bench = {:.3}x",
            median(ours.clone()) / median(theirs.clone())
        );
    }

    let mut group = c.benchmark_group("llamacpp_tg128_at_depth_680");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .throughput(Throughput::Elements(u64::from(GENERATED_TOKENS - 1)));
    group.bench_function("smollm2", |b| {
        b.iter_custom(|iters| {
            let mut decoding = Duration::ZERO;
            for _ in 0..iters {
                let rate = rt.block_on(decode_rate(&model, request.clone()));
                decoding += Duration::from_secs_f64(f64::from(GENERATED_TOKENS - 1) / rate);
            }
            decoding
        })
    });
    group.finish();
}

criterion_group!(benches, decode_at_depth);
criterion_main!(benches);

//! Prompt-lookup speculative decoding on SmolLM2-135M-Instruct (the real default model, from
//! the model cache): decode speed of one greedy answer with drafts and without, on an
//! extraction prompt (the answer copies the prompt) and a free-form one, interleaved in one
//! run. Before timing, each pair is checked to give the same answer, and the acceptance rate
//! and decode tokens/s (medians of the timed answers) are printed to stderr.
//!
//! ```text
//! cargo bench -p slm-llamacpp --bench llamacpp_speculative
//! ```
//!
//! Environment: `SLM_BENCH_THREADS` (default 2), `SLM_BENCH_MODEL` (a known model's name:
//! `smollm2`, the default, or `gemma-3-270m`).

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use slm_core::{ChatModel, ChatRequest, ChatResponse, GenerationOptions, Message, PromptLookup};
use slm_llamacpp::models::KnownModel;
use slm_llamacpp::{LlamaCppModel, LoadOptions};

const RECORD: &str = "Name: Ada Lovelace\nBorn: 10 December 1815, London\nKnown for: the first \
                      published computer program, for Charles Babbage's Analytical Engine\n\
                      Died: 27 November 1852\nParents: Lord Byron and Anne Isabella Milbanke";
const ANSWER_TOKENS: u32 = 96;

fn threads() -> u32 {
    std::env::var("SLM_BENCH_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(2)
}

fn request(prompt: &str, lookup: bool) -> ChatRequest {
    let mut request = ChatRequest::new(vec![Message::user(prompt)]);
    request.options = GenerationOptions::deterministic().with_max_tokens(ANSWER_TOKENS);
    if lookup {
        request.options = request.options.with_prompt_lookup(PromptLookup::default());
    }
    request
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn bench(c: &mut Criterion) {
    let name = std::env::var("SLM_BENCH_MODEL").unwrap_or_else(|_| "smollm2".into());
    let known = KnownModel::find(&name).expect("SLM_BENCH_MODEL names a known model");
    let path = known
        .locate()
        .expect("the model in the model cache (scripts/setup.sh)");
    let options = LoadOptions::default()
        .with_threads(threads())
        .with_context_length(2048)
        .with_prompt_cache(false);
    let model = LlamaCppModel::load(&path, options).expect("load the model");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let chat = |r: ChatRequest| -> ChatResponse { runtime.block_on(model.chat(r)).unwrap() };
    let prompts = [
        (
            "extraction",
            format!("Repeat the following record exactly, line by line:\n\n{RECORD}"),
        ),
        (
            "free_form",
            "Write a short story about a lighthouse keeper who finds a message in a bottle."
                .to_string(),
        ),
    ];
    let mut group = c.benchmark_group("speculative");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    for (name, prompt) in &prompts {
        let plain = chat(request(prompt, false));
        let fast = chat(request(prompt, true));
        assert_eq!(
            fast.text(),
            plain.text(),
            "{name}: drafts changed the answer"
        );
        // Interleaved, so both sides see the same machine load.
        let mut rates = (Vec::new(), Vec::new());
        let mut spec = slm_core::Speculation::default();
        for _ in 0..5 {
            let p = chat(request(prompt, false));
            let f = chat(request(prompt, true));
            rates
                .0
                .push(p.timings.decode_tokens_per_second.unwrap_or(0.0));
            rates
                .1
                .push(f.timings.decode_tokens_per_second.unwrap_or(0.0));
            let s = f.timings.speculation.unwrap_or_default();
            spec.drafted += s.drafted;
            spec.accepted += s.accepted;
        }
        let (plain_tps, fast_tps) = (median(rates.0), median(rates.1));
        eprintln!(
            "{name}: {} tokens; decode {plain_tps:.1} tok/s plain, {fast_tps:.1} tok/s with \
             prompt lookup ({:.2}x); acceptance {:.0}% ({} of {} drafted)",
            plain.usage.completion_tokens,
            fast_tps / plain_tps,
            100.0 * spec.acceptance_rate().unwrap_or(0.0),
            spec.accepted,
            spec.drafted,
        );
        group.bench_function(format!("{name}/plain"), |b| {
            b.iter(|| chat(request(prompt, false)))
        });
        group.bench_function(format!("{name}/prompt_lookup"), |b| {
            b.iter(|| chat(request(prompt, true)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

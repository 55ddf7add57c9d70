//! Prompt-lookup speculative decoding on SmolLM2-135M-Instruct (the real default model, from
//! the model cache): decode speed of one greedy answer with drafts and without, interleaved in
//! one run, on three prompts:
//! - `copy_edit`: fix the typos of a paragraph; the answer copies the paragraph (the case
//!   prompt lookup is for: extraction, editing, RAG answers quoting their sources);
//! - `record`: repeat a 6-line record; SmolLM2 writes a short biography from it instead, so
//!   only names and dates are copied;
//! - `free_form`: a story, nothing to copy (what drafting must not slow down).
//!
//! Before timing, each pair is checked to give the same answer, and the acceptance rate and
//! decode tokens/s (medians of the timed answers) are printed to stderr.
//!
//! ```text
//! cargo bench -p slm-llamacpp --bench llamacpp_speculative [-- no_bench_matches]
//! ```
//!
//! (`no_bench_matches` prints the interleaved medians and skips criterion's timing.)
//! Environment: `SLM_BENCH_THREADS` (default 2), `SLM_BENCH_ROUNDS` (interleaved pairs, default
//! 7), `SLM_BENCH_MAX_DRAFT`, `SLM_BENCH_NGRAM_MIN`, `SLM_BENCH_NGRAM_MAX` (the fields of
//! `PromptLookup`, its defaults by default), `SLM_BENCH_MODEL` (a known
//! model's name: `smollm2`, the default, or `gemma-3-270m`; or a GGUF file's path).

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use slm_core::{ChatModel, ChatRequest, ChatResponse, GenerationOptions, Message, PromptLookup};
use slm_llamacpp::models::KnownModel;
use slm_llamacpp::{LlamaCppModel, LoadOptions};
use support::{env_or, median, threads};

mod support;

const RECORD: &str = "Name: Ada Lovelace\nBorn: 10 December 1815, London\nKnown for: the first \
                      published computer program, for Charles Babbage's Analytical Engine\n\
                      Died: 27 November 1852\nParents: Lord Byron and Anne Isabella Milbanke";
const PARAGRAPH: &str = "The lighthouse stood on a rocky point at the edge of the bay. Every \
    evening the keeper climbed the narow stairs, cleaned the great lens and lit the lamp before \
    the sun went down. Ships that passed in the night saw its beam sweep across the water and \
    knew where the rocks were. In winter the storms were so strong that the waves reached the \
    windows of the keepers house, but the light never went out. When the keeper retired, the \
    village held a party in the harbour and the children painted pictures of the tower.";
const ANSWER_TOKENS: u32 = 128;

fn request(prompt: &str, lookup: Option<PromptLookup>) -> ChatRequest {
    let mut request = ChatRequest::new(vec![Message::user(prompt)]);
    request.options = GenerationOptions::deterministic().with_max_tokens(ANSWER_TOKENS);
    if let Some(lookup) = lookup {
        request.options = request.options.with_prompt_lookup(lookup);
    }
    request
}

fn bench(c: &mut Criterion) {
    let name = std::env::var("SLM_BENCH_MODEL").unwrap_or_else(|_| "smollm2".into());
    let path = match KnownModel::find(&name) {
        Some(known) => known
            .locate()
            .expect("the model in the model cache (scripts/setup.sh)"),
        None if std::path::Path::new(&name).is_file() => name.into(),
        None => panic!("SLM_BENCH_MODEL is a known model's name or a GGUF file, not {name:?}"),
    };
    let lookup = PromptLookup {
        max_draft: env_or("SLM_BENCH_MAX_DRAFT", PromptLookup::default().max_draft),
        ngram_min: env_or("SLM_BENCH_NGRAM_MIN", PromptLookup::default().ngram_min),
        ngram_max: env_or("SLM_BENCH_NGRAM_MAX", PromptLookup::default().ngram_max),
    };
    GenerationOptions::default()
        .with_prompt_lookup(lookup)
        .validate()
        .expect("SLM_BENCH_MAX_DRAFT / _NGRAM_MIN / _NGRAM_MAX within PromptLookup's bounds");
    let options = LoadOptions::default()
        .with_threads(threads())
        .with_context_length(2048)
        .with_prompt_cache(false);
    let model = LlamaCppModel::load(&path, options).expect("load the model");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let chat = |r: ChatRequest| -> ChatResponse { runtime.block_on(model.chat(r)).unwrap() };
    let prompts = [
        (
            "copy_edit",
            format!(
                "Fix the typos in this text and return the corrected text only:\n\n{PARAGRAPH}"
            ),
        ),
        (
            "record",
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
        let plain = chat(request(prompt, None));
        let fast = chat(request(prompt, Some(lookup)));
        assert_eq!(
            fast.text(),
            plain.text(),
            "{name}: drafts changed the answer"
        );
        // Interleaved, so both sides see the same machine load.
        let mut rates = (Vec::new(), Vec::new());
        let mut spec = slm_core::Speculation::default();
        for _ in 0..env_or("SLM_BENCH_ROUNDS", 7).max(1) {
            let p = chat(request(prompt, None));
            let f = chat(request(prompt, Some(lookup)));
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
            b.iter(|| chat(request(prompt, None)))
        });
        group.bench_function(format!("{name}/prompt_lookup"), |b| {
            b.iter(|| chat(request(prompt, Some(lookup))))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! Time to first token at turn 1 and turn 8 of one growing chat on SmolLM2-135M-Instruct
//! (the real default model, from the model cache), each turn sent whole through plain `chat`
//! (no session object): with the prompt cache, without it, and, when `SLM_LLAMA_SERVER` names
//! a `llama-server` binary, llama.cpp's own server on the same file driven by `slm-remote`.
//!
//! The conversation is made once, up front: eight questions and the cache-less model's greedy
//! answers (64 tokens at most). Turn 8 is timed after turn 7 was asked (and answered) on a slot
//! that first held an unrelated prompt, so the cache holds exactly what a live chat leaves;
//! turn 1 is timed after the unrelated prompt alone. TTFT is measured by the caller, from the
//! call to the first streamed event, the same way for every side.
//!
//! ```text
//! cargo bench -p slm-llamacpp --bench llamacpp_cache
//! SLM_LLAMA_SERVER=/path/to/llama-server cargo bench -p slm-llamacpp --bench llamacpp_cache
//! ```
//!
//! Environment: `SLM_BENCH_THREADS` (default 2).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use futures::StreamExt;
use slm_core::{ChatEvent, ChatModel, ChatRequest, ChatResponse, GenerationOptions, Message};
use slm_llamacpp::models::SMOLLM2;
use slm_llamacpp::{LlamaCppModel, LoadOptions};
use support::{LlamaServer, threads};

mod support;

const QUESTIONS: [&str; 8] = [
    "What is the capital of France?",
    "What is it famous for?",
    "Tell me about its most famous museum.",
    "What else is there to see?",
    "How do I get around the city?",
    "What food should I try?",
    "When is the best time to visit?",
    "Summarise your advice in three points.",
];
const ANSWER_TOKENS: u32 = 64;
const SYSTEM: &str = "You are a helpful travel assistant.";

fn load(path: &Path, cache: bool) -> LlamaCppModel {
    let options = LoadOptions::default()
        .with_threads(threads())
        .with_context_length(2048)
        .with_prompt_cache(cache);
    LlamaCppModel::load(path, options).expect("load SmolLM2")
}

fn request(messages: &[Message], max_tokens: u32) -> ChatRequest {
    let mut request = ChatRequest::new(messages.to_vec());
    request.options = GenerationOptions::deterministic().with_max_tokens(max_tokens);
    request
}

/// The messages of turn `n` (1-based): the system prompt, the first `n` questions and the
/// answers to the first `n - 1`.
fn turn(transcript: &[Message], n: usize) -> Vec<Message> {
    transcript[..2 * n].to_vec()
}

/// Asks the eight questions in turn, keeping the answers.
async fn make_transcript(model: &dyn ChatModel) -> Vec<Message> {
    let mut messages = vec![Message::system(SYSTEM)];
    for question in QUESTIONS {
        messages.push(Message::user(question));
        let answer = model
            .chat(request(&messages, ANSWER_TOKENS))
            .await
            .expect("answer");
        messages.push(Message::assistant(answer.text()));
    }
    messages
}

/// From the call to the first streamed event, and the answer's token counts.
async fn time_to_first_token(
    model: &dyn ChatModel,
    request: ChatRequest,
) -> (Duration, Box<ChatResponse>) {
    let start = Instant::now();
    let mut stream = model.chat_stream(request);
    let first = stream.next().await.expect("an event");
    let elapsed = start.elapsed();
    let mut last = first.expect("generation");
    while let Some(event) = stream.next().await {
        last = event.expect("generation");
    }
    match last {
        ChatEvent::Done(response) => (elapsed, response),
        _ => panic!("the stream ended without its response"),
    }
}

/// One timed turn: the slot first gets an unrelated prompt, then (for turn 8) turn 7 is asked
/// and answered, then the turn is timed.
async fn timed_turn(
    model: &dyn ChatModel,
    transcript: &[Message],
    n: usize,
) -> (Duration, Box<ChatResponse>) {
    let unrelated = vec![
        Message::system("You translate English into German."),
        Message::user("Good morning."),
    ];
    model.chat(request(&unrelated, 1)).await.expect("evict");
    if n > 1 {
        model
            .chat(request(&turn(transcript, n - 1), ANSWER_TOKENS))
            .await
            .expect("previous turn");
    }
    time_to_first_token(model, request(&turn(transcript, n), 1)).await
}

fn multi_turn(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let path: PathBuf = SMOLLM2
        .locate()
        .expect("SmolLM2 in the model cache (scripts/setup.sh)");
    let cold = load(&path, false);
    let transcript = rt.block_on(make_transcript(&cold));
    let cached = load(&path, true);
    let server = std::env::var_os("SLM_LLAMA_SERVER")
        // Its slot's prompt cache stays on; its host-memory cache of older prompts
        // (`--cache-ram`, 8 GiB by default) would answer turn 1 from an earlier iteration,
        // where our side evaluates it cold.
        .map(|binary| {
            let args = ["-np", "1", "-c", "2048", "--cache-ram", "0"];
            LlamaServer::start(Path::new(&binary), &path, threads(), &args)
        });
    let remote = server.as_ref().map(LlamaServer::client);
    let mut sides: Vec<(&str, &dyn ChatModel)> =
        vec![("slm_cache", &cached), ("slm_no_cache", &cold)];
    if let Some(remote) = &remote {
        sides.push(("llama_server", remote));
    }
    for (name, model) in &sides {
        for n in [1, 8] {
            let (ttft, response) = rt.block_on(timed_turn(*model, &transcript, n));
            let (usage, timings) = (response.usage, response.timings);
            eprintln!(
                "{name} turn {n}: {} prompt tokens, {} of them cached; TTFT {ttft:.1?} \
                 (prep {:.1?}, queue {:.1?}, prompt eval {:.1?})",
                usage.prompt_tokens,
                usage.cached_prompt_tokens,
                timings.prep,
                timings.queue,
                timings.prompt_eval
            );
        }
    }
    let mut group = c.benchmark_group("multi_turn_ttft");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    // Interleaved: each turn on every side before the next turn.
    for n in [1, 8] {
        for (name, model) in &sides {
            group.bench_function(format!("{name}/turn{n}"), |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        total += rt.block_on(timed_turn(*model, &transcript, n)).0;
                    }
                    total
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, multi_turn);
criterion_main!(benches);

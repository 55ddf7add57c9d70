//! The prompt cache: a finished request's keys and values stay in its slot, and a later request
//! starting with the same tokens evaluates only the rest. Every answer equals the answer of a
//! model with the cache off (greedy, and sampled with a seed), after eviction too, and under
//! another adapter or a constraint; `Usage::cached_prompt_tokens` says how much was reused.

mod common;

use slm_core::{ChatModel, ChatRequest, GenerationOptions, Message, ResponseFormat};
use slm_llamacpp::models::{GEMMA3_270M, KnownModel, SMOLLM2};
use slm_llamacpp::testing::{TestModelSpec, real_model, write_test_lora};
use slm_llamacpp::{LlamaCppModel, LoadOptions};

/// One token per compute step (`ubatch_size` 1) on both sides: llama.cpp's CPU kernels round
/// differently for different batch shapes (a matrix product for a batch, a dot product for one
/// token), and a cached prefix changes the shapes (a repeat evaluates its last token alone; a
/// cold model reads the last turn's answer in one batch, the cached one generated it token by
/// token). That can flip a near-tie or a sampled token (measured: turn 3 of the chat below on
/// SmolLM2 Q4_1 with 512-token steps, and a seeded sample on the F32 test model). With the
/// same shapes on both sides the answers must be identical, so any difference is the cache's.
fn options(sequences: u32, cache: bool) -> LoadOptions {
    let mut options = LoadOptions::default()
        .with_context_length(1024)
        .with_max_sequences(sequences)
        .with_prompt_cache(cache);
    options.ubatch_size = Some(1);
    options
}

fn greedy(max_tokens: u32) -> GenerationOptions {
    GenerationOptions::deterministic().with_max_tokens(max_tokens)
}

fn request(messages: &[Message], max_tokens: u32) -> ChatRequest {
    let mut request = ChatRequest::new(messages.to_vec());
    request.options = greedy(max_tokens);
    request
}

/// Six turns of one conversation, each sent whole (no session object), through a model with
/// the cache and one without: the same answers, and from turn 2 on the cached model reuses at
/// least the previous turn's prompt.
async fn a_growing_chat_matches_the_cold_model(known: &'static KnownModel, test: &str) {
    let Some(path) = real_model(known, test) else {
        return;
    };
    let cached = LlamaCppModel::load(&path, options(1, true)).unwrap();
    let cold = LlamaCppModel::load(&path, options(1, false)).unwrap();
    let questions = [
        "What is the capital of France?",
        "And of Italy?",
        "Which of the two is larger?",
        "Name a river in each.",
        "Which river is longer?",
        "Thank you. Summarise our conversation in one sentence.",
    ];
    let mut messages = vec![Message::system(
        "You are a helpful assistant. Answer briefly.",
    )];
    let mut previous_prompt = 0;
    for (turn, question) in questions.iter().enumerate() {
        messages.push(Message::user(*question));
        let warm = cached.chat(request(&messages, 24)).await.unwrap();
        let reference = cold.chat(request(&messages, 24)).await.unwrap();
        assert_eq!(warm.text(), reference.text(), "turn {}", turn + 1);
        assert_eq!(warm.usage.prompt_tokens, reference.usage.prompt_tokens);
        assert_eq!(reference.usage.cached_prompt_tokens, 0);
        if turn > 0 {
            assert!(
                warm.usage.cached_prompt_tokens >= previous_prompt,
                "turn {}: {} cached of {}, the previous prompt had {previous_prompt}",
                turn + 1,
                warm.usage.cached_prompt_tokens,
                warm.usage.prompt_tokens
            );
        }
        previous_prompt = warm.usage.prompt_tokens;
        messages.push(Message::assistant(warm.text()));
    }
    let stats = cached.stats().await.unwrap();
    assert!(stats.prompt_tokens_cached > 0);
    assert_eq!(cold.stats().await.unwrap().prompt_tokens_cached, 0);
}

#[tokio::test]
async fn smollm2_growing_chat_reuses_its_history_and_answers_as_a_cold_model() {
    a_growing_chat_matches_the_cold_model(
        &SMOLLM2,
        "smollm2_growing_chat_reuses_its_history_and_answers_as_a_cold_model",
    )
    .await;
}

/// gemma3 interleaves sliding-window attention layers: the cached prefix must still be whole.
#[tokio::test]
async fn gemma3_growing_chat_reuses_its_history_and_answers_as_a_cold_model() {
    a_growing_chat_matches_the_cold_model(
        &GEMMA3_270M,
        "gemma3_growing_chat_reuses_its_history_and_answers_as_a_cold_model",
    )
    .await;
}

fn ask(system: &str, question: &str) -> ChatRequest {
    request(&[Message::system(system), Message::user(question)], 16)
}

const LONG_SYSTEM: &str = "You are a careful assistant. You answer every question in detail, \
     with examples, and you never invent facts you do not know.";

#[tokio::test]
async fn evicted_prompts_are_evaluated_again_and_answer_the_same() {
    let path = common::tiny_f32();
    let cold = LlamaCppModel::load(&path, options(1, false)).unwrap();
    // Two slots: A and B fill them, C evicts the least recently used (A), B stays cached.
    let model = LlamaCppModel::load(&path, options(2, true)).unwrap();
    let a = ask(LONG_SYSTEM, "Tell me about cats.");
    let b = ask("Answer in French, always.", "Tell me about ships.");
    let c = ask("Answer like a pirate would.", "Tell me about rain.");
    let mut answers = Vec::new();
    for r in [&a, &b, &c, &b, &a] {
        answers.push(model.chat(r.clone()).await.unwrap());
    }
    for (answer, r) in answers.iter().zip([&a, &b, &c, &b, &a]) {
        let reference = cold.chat(r.clone()).await.unwrap();
        assert_eq!(answer.text(), reference.text());
    }
    let prompt = |i: usize| answers[i].usage.prompt_tokens;
    let cached = |i: usize| answers[i].usage.cached_prompt_tokens;
    // B again: everything but the last prompt token came from its slot.
    assert_eq!(cached(3), prompt(3) - 1);
    // A again: its slot went to C, so only what A shares with C's prompt was reusable.
    assert!(cached(4) < 16, "A reused {} tokens", cached(4));
}

#[tokio::test]
async fn a_shared_system_prompt_is_evaluated_once_across_requests() {
    let model = LlamaCppModel::load(common::tiny_f32(), options(1, true)).unwrap();
    let first = model
        .chat(ask(LONG_SYSTEM, "Tell me about cats."))
        .await
        .unwrap();
    let second = model
        .chat(ask(LONG_SYSTEM, "Tell me about maps."))
        .await
        .unwrap();
    assert_eq!(first.usage.cached_prompt_tokens, 0);
    // The system turn and the start of the user turn.
    assert!(
        second.usage.cached_prompt_tokens >= 30,
        "{} of {}",
        second.usage.cached_prompt_tokens,
        second.usage.prompt_tokens
    );
    let before = model.stats().await.unwrap();
    model
        .chat(ask(LONG_SYSTEM, "Tell me about maps."))
        .await
        .unwrap();
    let after = model.stats().await.unwrap();
    // The same prompt again: one token evaluated, for its logits.
    assert_eq!(
        after.prompt_tokens_decoded - before.prompt_tokens_decoded,
        1
    );
}

#[tokio::test]
async fn another_adapter_does_not_reuse_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let lora = dir.path().join("lora.gguf");
    write_test_lora(&lora, &TestModelSpec::tiny(), 4, 7).unwrap();
    let load = |cache| {
        LlamaCppModel::load(
            common::tiny_f32(),
            options(1, cache).with_lora_adapter(&lora),
        )
        .unwrap()
    };
    let (model, cold) = (load(true), load(false));
    let r = ask(LONG_SYSTEM, "Tell me about cats.");
    let plain = model.chat(r.clone()).await.unwrap();
    let tuned = model
        .with_lora(0, 1.0)
        .unwrap()
        .chat(r.clone())
        .await
        .unwrap();
    assert_eq!(tuned.usage.cached_prompt_tokens, 0);
    let expected = cold
        .with_lora(0, 1.0)
        .unwrap()
        .chat(r.clone())
        .await
        .unwrap();
    assert_eq!(tuned.text(), expected.text());
    assert_ne!(tuned.text(), plain.text());
    // Back to the base model: the slot holds the adapter's cache, which is not reused either.
    let again = model.chat(r.clone()).await.unwrap();
    assert_eq!(again.usage.cached_prompt_tokens, 0);
    assert_eq!(again.text(), plain.text());
    // The same adapter twice: reused.
    let tuned_again = model.with_lora(0, 1.0).unwrap().chat(r.clone()).await;
    let tuned_twice = model.with_lora(0, 1.0).unwrap().chat(r).await.unwrap();
    assert_eq!(tuned_again.unwrap().text(), tuned_twice.text());
    assert!(tuned_twice.usage.cached_prompt_tokens > 0);
}

#[tokio::test]
async fn constrained_requests_reuse_the_cache_and_answer_as_a_cold_model() {
    let schema = serde_json::json!({
        "type": "object",
        "properties": {"city": {"type": "string", "maxLength": 12}},
        "required": ["city"],
        "additionalProperties": false
    });
    let constrained = |question: &str| {
        let mut r = ask(LONG_SYSTEM, question);
        r.options.max_tokens = Some(48);
        r.response_format = ResponseFormat::json_schema("city", schema.clone());
        r
    };
    let model = LlamaCppModel::load(common::tiny_f32(), options(1, true)).unwrap();
    let cold = LlamaCppModel::load(common::tiny_f32(), options(1, false)).unwrap();
    model
        .chat(ask(LONG_SYSTEM, "Where is the Louvre?"))
        .await
        .unwrap();
    for question in ["Where is the Louvre?", "Where is the Colosseum?"] {
        let warm = model.chat(constrained(question)).await.unwrap();
        let reference = cold.chat(constrained(question)).await.unwrap();
        assert!(warm.usage.cached_prompt_tokens >= 30);
        assert_eq!(warm.text(), reference.text());
        serde_json::from_str::<serde_json::Value>(warm.text()).expect("the answer is JSON");
    }
}

#[tokio::test]
async fn concurrent_requests_after_a_cached_one_still_answer_as_a_cold_model() {
    let path = common::tiny_f32();
    let cold = LlamaCppModel::load(&path, options(1, false)).unwrap();
    let model = LlamaCppModel::load(&path, options(4, true)).unwrap();
    let questions: Vec<ChatRequest> = ["cats", "ships", "rain", "maps", "bread", "tea"]
        .iter()
        .map(|topic| ask(LONG_SYSTEM, &format!("Tell me about {topic}.")))
        .collect();
    // Warm one slot, then send all six at once: they share the cached prefix or copy it.
    model.chat(questions[0].clone()).await.unwrap();
    let answers = model.chat_batch(questions.clone()).await;
    assert_eq!(answers.len(), questions.len());
    for (answer, r) in answers.into_iter().zip(&questions) {
        let answer = answer.unwrap();
        assert_eq!(answer.text(), cold.chat(r.clone()).await.unwrap().text());
        assert!(answer.usage.cached_prompt_tokens >= 30);
    }
}

#[tokio::test]
async fn turning_the_cache_off_evaluates_every_prompt_whole() {
    let model = LlamaCppModel::load(common::tiny_f32(), options(1, false)).unwrap();
    let r = ask(LONG_SYSTEM, "Tell me about cats.");
    let first = model.chat(r.clone()).await.unwrap();
    let before = model.stats().await.unwrap();
    let second = model.chat(r).await.unwrap();
    let after = model.stats().await.unwrap();
    assert_eq!(second.usage.cached_prompt_tokens, 0);
    assert_eq!(
        after.prompt_tokens_decoded - before.prompt_tokens_decoded,
        u64::from(first.usage.prompt_tokens)
    );
}

#[tokio::test]
async fn a_seed_reproduces_a_sampled_answer_with_the_cache_on() {
    let model = LlamaCppModel::load(common::tiny_f32(), options(1, true)).unwrap();
    let mut r = ask(LONG_SYSTEM, "Write something, anything.");
    r.options = GenerationOptions::default()
        .with_temperature(1.0)
        .with_seed(7)
        .with_max_tokens(32);
    let first = model.chat(r.clone()).await.unwrap();
    let again = model.chat(r).await.unwrap();
    assert_eq!(
        again.usage.cached_prompt_tokens,
        again.usage.prompt_tokens - 1
    );
    assert_eq!(first.text(), again.text());
}

/// The cache's memory is the slots' own preallocated KV memory: after 10,000 distinct prompts
/// (each cached by its slot, then evicted by the next) it holds at most one context per slot,
/// and the process has not grown with the number of prompts.
#[tokio::test(flavor = "multi_thread")]
async fn ten_thousand_distinct_prompts_stay_within_the_slots() {
    const SLOTS: u32 = 4;
    const CONTEXT: u32 = 256;
    let model = LlamaCppModel::load(
        common::tiny_f32(),
        LoadOptions::default()
            .with_context_length(CONTEXT)
            .with_max_sequences(SLOTS),
    )
    .unwrap();
    let ask = |k: usize| {
        let mut request = ChatRequest::new(vec![Message::user(format!(
            "prompt {k}: {}",
            "abcdefghij".repeat(k % 7 + 1)
        ))]);
        request.options = greedy(2);
        request
    };
    let rss_kib = || -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    // Warm up allocators and the worker before the first reading.
    for k in 0..500 {
        model.chat(ask(k)).await.unwrap();
    }
    let before = rss_kib();
    for chunk in (500..10_000).collect::<Vec<_>>().chunks(SLOTS as usize) {
        let answers = futures::future::join_all(chunk.iter().map(|&k| model.chat(ask(k)))).await;
        for answer in answers {
            answer.unwrap();
        }
    }
    let after = rss_kib();
    let stats = model.stats().await.unwrap();
    assert_eq!(stats.requests, 10_000);
    assert!(stats.prompt_cache_tokens > 0, "{stats:?}");
    assert!(
        stats.prompt_cache_tokens <= u64::from(SLOTS * CONTEXT),
        "{stats:?}"
    );
    // 9,500 prompts of 20-80 tokens: growth per prompt would show as megabytes.
    assert!(
        after <= before + 8 * 1024,
        "RSS grew from {before} KiB to {after} KiB over 9,500 prompts"
    );
}

//! Prompt-lookup speculative decoding on the real SmolLM2: an answer that copies its prompt is
//! drafted from it, and the answers are the ones plain decoding gives (greedy, and sampled
//! with a seed), alone, next to other requests, under a JSON schema, and for the prompt cache
//! that keeps the slot afterwards.

mod common;

use slm_core::{ChatModel, ChatRequest, GenerationOptions, Message, PromptLookup, ResponseFormat};
use slm_llamacpp::models::SMOLLM2;
use slm_llamacpp::testing::real_model;
use slm_llamacpp::{LlamaCppModel, LoadOptions};

/// One token per compute step on both sides, as in `prompt_cache.rs`: llama.cpp's CPU kernels
/// round differently for a batch (a matrix product) and one token (a dot product), and a draft
/// is checked as a batch. With equal shapes any difference would be the speculation's own.
fn exact_options(sequences: u32) -> LoadOptions {
    let mut options = LoadOptions::default()
        .with_context_length(1024)
        .with_max_sequences(sequences)
        .with_prompt_cache(false);
    options.ubatch_size = Some(1);
    options
}

const RECORD: &str = "Name: Ada Lovelace\nBorn: 10 December 1815, London\nKnown for: the first \
                      published computer program, for Charles Babbage's Analytical Engine\n\
                      Died: 27 November 1852";

fn extraction(options: GenerationOptions) -> ChatRequest {
    let mut request = ChatRequest::new(vec![
        Message::system("You copy text exactly."),
        Message::user(format!(
            "Repeat the following record exactly, line by line:\n\n{RECORD}"
        )),
    ]);
    request.options = options;
    request
}

fn with_lookup(options: GenerationOptions) -> GenerationOptions {
    options.with_prompt_lookup(PromptLookup::default())
}

#[tokio::test(flavor = "multi_thread")]
async fn greedy_and_seeded_answers_are_those_of_plain_decoding() {
    let Some(path) = real_model(&SMOLLM2, "speculative") else {
        return;
    };
    let model = LlamaCppModel::load(&path, exact_options(1)).unwrap();
    let greedy = GenerationOptions::deterministic().with_max_tokens(64);
    let seeded = GenerationOptions::default()
        .with_temperature(0.8)
        .with_seed(7)
        .with_max_tokens(64);
    for (name, options) in [("greedy", greedy), ("seeded", seeded)] {
        let plain = model.chat(extraction(options.clone())).await.unwrap();
        let fast = model.chat(extraction(with_lookup(options))).await.unwrap();
        assert_eq!(fast.text(), plain.text(), "{name}");
        assert_eq!(
            fast.usage.completion_tokens, plain.usage.completion_tokens,
            "{name}"
        );
        assert!(plain.timings.speculation.is_none(), "{name}");
        let spec = fast.timings.speculation.expect("speculation stats");
        assert!(spec.accepted <= spec.drafted, "{name}: {spec:?}");
        if name == "seeded" {
            // Sampling at 0.8 paraphrases rather than copies: few drafts survive.
            continue;
        }
        // The greedy answer copies the record's lines before going on in its own words: a
        // good part of it comes from drafts (30 of 64 tokens measured).
        assert!(
            spec.accepted * 4 >= fast.usage.completion_tokens,
            "{name}: {spec:?} for {} tokens: {:?}",
            fast.usage.completion_tokens,
            fast.text()
        );
    }
}

/// Four requests decoded together, two with drafts and two without, and one more with drafts
/// under a JSON schema: every answer starts as the one it gets alone without drafts. (Exact
/// equality is checked alone, above: beside other sequences in the one KV buffer, a request's
/// attention sums in another order, which can flip a near-tie late in a greedy answer.)
#[tokio::test(flavor = "multi_thread")]
async fn drafts_next_to_other_sequences_and_under_a_schema_change_nothing() {
    let Some(path) = real_model(&SMOLLM2, "speculative") else {
        return;
    };
    let model = LlamaCppModel::load(&path, exact_options(5)).unwrap();
    let greedy = GenerationOptions::deterministic().with_max_tokens(48);
    let schema = serde_json::json!({
        "type": "object",
        "properties": {"name": {"type": "string"}, "born": {"type": "string"}},
        "required": ["name", "born"]
    });
    let mut requests = Vec::new();
    for k in 0..4 {
        let mut options = greedy.clone();
        if k % 2 == 0 {
            options = with_lookup(options);
        }
        let mut request = extraction(options);
        if k >= 2 {
            request.messages[1].content.push_str("\nThen say: done.");
        }
        requests.push(request);
    }
    let mut structured = ChatRequest::new(vec![Message::user(format!(
        "Give the name and birth date of this record as JSON.\n\n{RECORD}"
    ))]);
    structured.response_format = ResponseFormat::JsonSchema {
        name: "person".into(),
        schema,
        strict: true,
    };
    structured.options = greedy.clone();
    let mut structured_fast = structured.clone();
    structured_fast.options = with_lookup(greedy.clone());
    requests.push(structured_fast);

    let together = futures::future::join_all(requests.iter().map(|r| model.chat(r.clone()))).await;
    for (k, (request, answer)) in requests.iter().zip(together).enumerate() {
        let answer = answer.unwrap();
        let mut plain = request.clone();
        plain.options.prompt_lookup = None;
        let alone = model.chat(plain).await.unwrap();
        common::assert_starts_as(answer.text(), alone.text(), 16, &format!("request {k}"));
        assert_eq!(
            answer.timings.speculation.is_some(),
            request.options.prompt_lookup.is_some(),
            "request {k}"
        );
    }
    let json = model.chat(structured).await.unwrap();
    let value: serde_json::Value = serde_json::from_str(json.text()).unwrap();
    assert!(value["name"].is_string(), "{value}");
}

/// A slot whose answer was drafted is kept by the prompt cache: the next turn reuses it and
/// answers as a model without cache and without drafts does.
#[tokio::test(flavor = "multi_thread")]
async fn the_prompt_cache_keeps_exactly_the_accepted_tokens() {
    let Some(path) = real_model(&SMOLLM2, "speculative") else {
        return;
    };
    let cached = LlamaCppModel::load(&path, exact_options(1).with_prompt_cache(true)).unwrap();
    let cold = LlamaCppModel::load(&path, exact_options(1)).unwrap();
    let greedy = GenerationOptions::deterministic().with_max_tokens(40);
    let first = cached
        .chat(extraction(with_lookup(greedy.clone())))
        .await
        .unwrap();
    assert!(first.timings.speculation.unwrap().accepted > 0);
    let mut next = extraction(with_lookup(greedy.clone()));
    next.messages.push(Message::assistant(first.text()));
    next.messages
        .push(Message::user("Now only the year of birth."));
    let warm = cached.chat(next.clone()).await.unwrap();
    assert!(warm.usage.cached_prompt_tokens > 0, "{:?}", warm.usage);
    next.options.prompt_lookup = None;
    let reference = cold.chat(next).await.unwrap();
    assert_eq!(warm.text(), reference.text());
}

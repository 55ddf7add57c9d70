//! Draft-model speculative decoding: a second GGUF with the same vocabulary drafts tokens that
//! the model checks in one batch. The answers are the ones plain decoding gives (greedy, and
//! sampled with a seed), on the real SmolLM2 and on generated models whose draft disagrees
//! with them; a draft model with another vocabulary is a typed error at load.

mod common;

use slm_core::{ChatModel, ChatRequest, GenerationOptions, Message, PromptLookup};
use slm_llamacpp::models::SMOLLM2;
use slm_llamacpp::testing::{TestModelSpec, real_model, write_test_model};
use slm_llamacpp::{DraftModel, LlamaCppError, LlamaCppModel, LoadOptions, QuantizeType};

/// One token per compute step, as in `speculative.rs`: a draft is checked as a batch, and
/// equal kernel shapes on both sides leave any difference to the speculation itself.
fn exact_options() -> LoadOptions {
    let mut options = LoadOptions::default()
        .with_context_length(1024)
        .with_prompt_cache(false);
    options.ubatch_size = Some(1);
    options
}

fn ask(text: &str, options: GenerationOptions) -> ChatRequest {
    let mut request = ChatRequest::new(vec![Message::user(text)]);
    request.options = options;
    request
}

fn greedy_and_seeded(max_tokens: u32) -> [(&'static str, GenerationOptions); 2] {
    [
        (
            "greedy",
            GenerationOptions::deterministic().with_max_tokens(max_tokens),
        ),
        (
            "seeded",
            GenerationOptions::default()
                .with_temperature(0.8)
                .with_seed(7)
                .with_max_tokens(max_tokens),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn smollm2_drafting_for_itself_changes_nothing_but_the_steps() {
    let Some(path) = real_model(&SMOLLM2, "draft_model") else {
        return;
    };
    let plain = LlamaCppModel::load(&path, exact_options()).unwrap();
    let drafted = LlamaCppModel::load(
        &path,
        exact_options().with_draft_model(DraftModel::new(&path)),
    )
    .unwrap();
    let prompt = "Write two sentences about the sea.";
    for (name, options) in greedy_and_seeded(48) {
        let want = plain.chat(ask(prompt, options.clone())).await.unwrap();
        let got = drafted.chat(ask(prompt, options.clone())).await.unwrap();
        assert_eq!(got.text(), want.text(), "{name}");
        assert_eq!(got.usage, want.usage, "{name}");
        assert!(want.timings.speculation.is_none());
        let spec = got.timings.speculation.expect("speculation stats");
        assert!(spec.accepted <= spec.drafted, "{name}: {spec:?}");
        if name == "greedy" {
            // The draft is the model itself: its greedy guesses are the answer.
            assert!(
                spec.accepted * 2 >= got.usage.completion_tokens,
                "{spec:?} for {} tokens",
                got.usage.completion_tokens
            );
        }
        // Prompt lookup, asked for, takes the draft model's place.
        let lookup = drafted
            .chat(ask(
                prompt,
                options.with_prompt_lookup(PromptLookup::default()),
            ))
            .await
            .unwrap();
        assert_eq!(lookup.text(), want.text(), "{name} with prompt lookup");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_draft_that_disagrees_leaves_the_answers_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other-weights.gguf");
    write_test_model(
        &other,
        &TestModelSpec {
            seed: 99,
            n_layer: 1,
            ..TestModelSpec::tiny()
        },
    )
    .unwrap();
    let target = common::tiny(QuantizeType::Q8_0);
    let plain = LlamaCppModel::load(&target, exact_options().with_max_sequences(2)).unwrap();
    let drafted = LlamaCppModel::load(
        &target,
        exact_options()
            .with_max_sequences(2)
            .with_draft_model(DraftModel::new(&other)),
    )
    .unwrap();
    for (name, options) in greedy_and_seeded(40) {
        let requests = [ask("Hi", options.clone()), ask("Tell me more", options)];
        // Alone, the drafts change nothing, bit for bit.
        let mut alone = Vec::new();
        for request in &requests {
            let want = plain.chat(request.clone()).await.unwrap();
            let got = drafted.chat(request.clone()).await.unwrap();
            assert_eq!(got.text(), want.text(), "{name} alone");
            assert_eq!(got.usage, want.usage, "{name} alone");
            let spec = got.timings.speculation.expect("speculation stats");
            assert!(
                spec.drafted > 0 && spec.accepted <= spec.drafted,
                "{spec:?}"
            );
            alone.push(want);
        }
        // Two at once, each sequence drafts from its own slot of the draft model's cache. In
        // the one KV buffer of all sequences their cells interleave otherwise with drafts than
        // without, so attention sums in another order, and a near-tie of this random model can
        // go the other way late in an answer (bit for bit only alone, as the README says): each
        // answer must start as its answer alone.
        let together = drafted.chat_batch(requests.to_vec()).await;
        for (want, got) in alone.iter().zip(together) {
            let got = got.unwrap();
            common::assert_starts_as(got.text(), want.text(), 16, name);
            let spec = got.timings.speculation.expect("speculation stats");
            assert!(
                spec.drafted > 0 && spec.accepted <= spec.drafted,
                "{spec:?}"
            );
        }
    }
}

#[test]
fn a_draft_model_that_cannot_draft_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let target = common::tiny(QuantizeType::Q8_0);
    let wider = dir.path().join("wider-vocab.gguf");
    let tiny = TestModelSpec::tiny();
    write_test_model(
        &wider,
        &TestModelSpec {
            vocab_size: tiny.vocab_size + 32,
            ..tiny
        },
    )
    .unwrap();
    let err = LlamaCppModel::load(
        &target,
        LoadOptions::default().with_draft_model(DraftModel::new(&wider)),
    )
    .unwrap_err();
    assert!(
        matches!(&err, LlamaCppError::DraftModel { path, reason } if *path == wider && reason.contains("vocabulary")),
        "{err}"
    );
    let not_gguf = dir.path().join("notes.txt");
    std::fs::write(&not_gguf, "not a model").unwrap();
    let err = LlamaCppModel::load(
        &target,
        LoadOptions::default().with_draft_model(DraftModel::new(&not_gguf)),
    )
    .unwrap_err();
    assert!(matches!(err, LlamaCppError::NotGguf { .. }), "{err}");
    let mut zero = DraftModel::new(&target);
    zero.max_draft = 0;
    let err =
        LlamaCppModel::load(&target, LoadOptions::default().with_draft_model(zero)).unwrap_err();
    assert!(matches!(err, LlamaCppError::InvalidOption(_)), "{err}");
}

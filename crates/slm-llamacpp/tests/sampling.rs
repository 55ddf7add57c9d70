//! Sampling controls on the real SmolLM2-135M-Instruct: DRY and the repeat penalty break a
//! greedy loop, each sampler is reproducible under a seed, and out-of-range values are typed
//! errors.

use slm_core::{ChatModel, ChatRequest, DrySampling, Error, GenerationOptions};
use slm_llamacpp::testing::{TestModelSpec, write_test_model};
use slm_llamacpp::{LlamaCppModel, LoadOptions, models, testing};

/// Greedy SmolLM2 loops on this prompt ("Abe a sea of dreams," over and over until the limit).
/// (A counting prompt such as "List the numbers from 1 to 100" is no loop: greedy counts
/// correctly, one digit per token, and penalties only spoil it.)
const LOOPING_PROMPT: &str = "Write a poem about the sea.";

fn load(test: &str, sequences: u32) -> Option<LlamaCppModel> {
    let path = testing::real_model(&models::SMOLLM2, test)?;
    let options = LoadOptions::default()
        .with_context_length(1024)
        .with_max_sequences(sequences);
    Some(LlamaCppModel::load(path, options).unwrap())
}

fn ask(prompt: &str, options: GenerationOptions) -> ChatRequest {
    ChatRequest::builder().user(prompt).options(options).build()
}

/// How often the most frequent run of `n` words occurs in `text`.
fn max_ngram_count(text: &str, n: usize) -> usize {
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut counts = std::collections::HashMap::new();
    for gram in words.windows(n) {
        *counts.entry(gram).or_insert(0) += 1;
    }
    counts.into_values().max().unwrap_or(0)
}

#[tokio::test]
async fn dry_and_the_repeat_penalty_break_a_greedy_loop() {
    let Some(model) = load("dry_and_the_repeat_penalty_break_a_greedy_loop", 3) else {
        return;
    };
    let greedy = GenerationOptions::deterministic().with_max_tokens(200);
    let variants = [
        ("greedy", greedy.clone()),
        (
            "greedy + DRY",
            greedy.clone().with_dry(DrySampling::default()),
        ),
        (
            "greedy + repeat_penalty 1.3",
            greedy.with_repeat_penalty(1.3),
        ),
    ];
    let requests = variants
        .iter()
        .map(|(_, o)| ask(LOOPING_PROMPT, o.clone()))
        .collect();
    let answers = model.chat_batch(requests).await;
    assert_eq!(answers.len(), variants.len());
    let mut repeats = Vec::new();
    for ((label, _), answer) in variants.iter().zip(answers) {
        let text = answer.unwrap().text().to_string();
        let count = max_ngram_count(&text, 5);
        eprintln!("--- {label}: most repeated 5-word run x{count}\n{text}\n");
        repeats.push(count);
    }
    assert!(repeats[0] >= 8, "greedy no longer loops: x{}", repeats[0]);
    for (i, count) in repeats.iter().enumerate().skip(1) {
        assert!(*count <= 3, "{} still loops: x{count}", variants[i].0);
    }
}

#[tokio::test]
async fn each_sampler_gives_the_same_bytes_for_the_same_seed() {
    let Some(model) = load("each_sampler_gives_the_same_bytes_for_the_same_seed", 1) else {
        return;
    };
    let sampled = GenerationOptions::default()
        .with_temperature(0.9)
        .with_seed(7)
        .with_max_tokens(40);
    let variants = [
        sampled
            .clone()
            .with_repeat_penalty(1.2)
            .with_repeat_last_n(32),
        sampled.clone().with_presence_penalty(0.8),
        sampled.clone().with_frequency_penalty(0.8),
        sampled.clone().with_dry(DrySampling::with_multiplier(1.0)),
        sampled.clone().with_top_k(5),
        sampled.clone().with_min_p(0.2),
        GenerationOptions::deterministic()
            .with_max_tokens(40)
            .with_dry(DrySampling::default())
            .with_presence_penalty(0.5),
    ];
    for options in variants {
        let first = model
            .chat(ask(LOOPING_PROMPT, options.clone()))
            .await
            .unwrap();
        let second = model
            .chat(ask(LOOPING_PROMPT, options.clone()))
            .await
            .unwrap();
        assert!(!first.text().is_empty(), "{options:?}");
        assert_eq!(first.text(), second.text(), "{options:?}");
    }
}

#[tokio::test]
async fn out_of_range_values_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny.gguf");
    write_test_model(&path, &TestModelSpec::tiny()).unwrap();
    let model = LlamaCppModel::load(&path, LoadOptions::default()).unwrap();
    let base = GenerationOptions::deterministic().with_max_tokens(4);
    let dry = |d: DrySampling| base.clone().with_dry(d);
    let cases = [
        ("presence_penalty", base.clone().with_presence_penalty(2.5)),
        (
            "frequency_penalty",
            base.clone().with_frequency_penalty(f32::NAN),
        ),
        ("repeat_penalty", base.clone().with_repeat_penalty(-1.0)),
        ("top_p", base.clone().with_top_p(1.5)),
        ("min_p", base.clone().with_min_p(-0.1)),
        ("dry.multiplier", dry(DrySampling::with_multiplier(-1.0))),
        (
            "dry.base",
            dry(DrySampling {
                base: 0.9,
                ..DrySampling::default()
            }),
        ),
        (
            "dry.allowed_length",
            dry(DrySampling {
                allowed_length: 0,
                ..DrySampling::default()
            }),
        ),
        (
            "dry.sequence_breakers",
            dry(DrySampling {
                sequence_breakers: vec!["nul\0".into()],
                ..DrySampling::default()
            }),
        ),
    ];
    for (option, options) in cases {
        let err = model.chat(ask("hi", options)).await.unwrap_err();
        assert!(
            matches!(&err, Error::InvalidRequest(m, ..) if m.starts_with(&format!("{option} must be"))),
            "{option}: {err:?}"
        );
    }
    // In range, every sampler runs (a window larger than the context is clamped to it).
    let all = base
        .with_repeat_penalty(1.1)
        .with_repeat_last_n(u32::MAX >> 1)
        .with_presence_penalty(0.5)
        .with_frequency_penalty(0.5)
        .with_dry(DrySampling {
            penalty_last_n: Some(u32::MAX),
            ..DrySampling::default()
        });
    assert!(model.chat(ask("hi", all)).await.is_ok());
}

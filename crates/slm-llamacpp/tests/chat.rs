//! Load, chat and stream on generated models at Q4_0, Q5_1 and Q8_0.

mod common;

use common::{QUANTS, tiny};
use slm_core::{ChatModel, ChatRequest, Error, FinishReason, GenerationOptions, collect_stream};
use slm_llamacpp::{LlamaCppModel, LoadOptions};

fn request(options: GenerationOptions) -> ChatRequest {
    ChatRequest::builder()
        .system("You are a test.")
        .user("Write something, anything.")
        .options(options)
        .build()
}

#[tokio::test]
async fn streamed_text_equals_the_answer_for_every_quantization() {
    for q in QUANTS {
        let model = LlamaCppModel::load(tiny(q), LoadOptions::default()).unwrap();
        let options = GenerationOptions::deterministic().with_max_tokens(40);
        let answer = model.chat(request(options.clone())).await.unwrap();
        assert_eq!(answer.usage.completion_tokens, 40, "{q}");
        assert_eq!(answer.finish_reason, FinishReason::Length, "{q}");
        assert!(!answer.text().is_empty(), "{q}");
        let (streamed, done) = collect_stream(model.chat_stream(request(options)))
            .await
            .unwrap();
        assert_eq!(streamed, answer.text(), "{q}");
        assert_eq!(done.text(), answer.text(), "{q}");
    }
}

#[tokio::test]
async fn the_same_seed_gives_the_same_text() {
    for q in QUANTS {
        // Bit-identical logits for a repeated prompt need the same batch shapes: the prompt
        // cache evaluates only the last token of a repeat (see `LoadOptions::prompt_cache`).
        let options = LoadOptions::default().with_prompt_cache(false);
        let model = LlamaCppModel::load(tiny(q), options).unwrap();
        let sampled = GenerationOptions::default()
            .with_temperature(1.0)
            .with_seed(7)
            .with_max_tokens(32);
        let a = model.chat(request(sampled.clone())).await.unwrap();
        let b = model.chat(request(sampled.clone())).await.unwrap();
        assert_eq!(a.text(), b.text(), "{q}");
        let other = model.chat(request(sampled.with_seed(8))).await.unwrap();
        assert_ne!(
            a.text(),
            other.text(),
            "{q}: another seed should sample differently"
        );
    }
}

#[tokio::test]
async fn an_overlong_prompt_is_an_error_not_an_abort() {
    for q in QUANTS {
        let model =
            LlamaCppModel::load(tiny(q), LoadOptions::default().with_context_length(128)).unwrap();
        let long = ChatRequest::builder().user("word ".repeat(100)).build();
        let err = model.chat(long.clone()).await.unwrap_err();
        match err {
            Error::ContextOverflow { needed, limit, .. } => {
                assert_eq!(limit, 128);
                assert!(needed > 128, "{needed}");
            }
            other => panic!("{q}: expected ContextOverflow, got {other:?}"),
        }
        let streamed = collect_stream(model.chat_stream(long)).await.unwrap_err();
        assert!(matches!(streamed, Error::ContextOverflow { .. }), "{q}");
        // The model still answers afterwards.
        let ok = model
            .chat(request(
                GenerationOptions::deterministic().with_max_tokens(4),
            ))
            .await
            .unwrap();
        assert_eq!(ok.usage.completion_tokens, 4);
    }
}

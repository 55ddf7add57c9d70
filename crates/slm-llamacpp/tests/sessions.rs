//! Saved sessions: a conversation's keys and values written to disk and restored into another
//! model handle on the same file, which then continues exactly as the original would; damaged
//! or foreign files are typed errors checked before llama.cpp reads them.

mod common;

use slm_core::{ChatModel, ChatRequest, GenerationOptions, Message};
use slm_llamacpp::models::SMOLLM2;
use slm_llamacpp::testing::real_model;
use slm_llamacpp::{LlamaCppError, LlamaCppModel, LoadOptions, QuantizeType};

/// One token per compute step on every side, so answers can be compared bit for bit (see
/// tests/prompt_cache.rs).
fn options() -> LoadOptions {
    let mut options = LoadOptions::default().with_context_length(1024);
    options.ubatch_size = Some(1);
    options
}

fn request(messages: &[Message]) -> ChatRequest {
    let mut request = ChatRequest::new(messages.to_vec());
    request.options = GenerationOptions::deterministic().with_max_tokens(24);
    request
}

#[tokio::test]
async fn a_saved_conversation_continues_in_a_fresh_model_as_in_the_original() {
    let test = "a_saved_conversation_continues_in_a_fresh_model_as_in_the_original";
    let Some(path) = real_model(&SMOLLM2, test) else {
        return;
    };
    let original = LlamaCppModel::load(&path, options()).unwrap();
    let mut chat = vec![Message::system(
        "You are a helpful assistant. Answer briefly.",
    )];
    for question in ["What is the capital of France?", "And of Spain?"] {
        chat.push(Message::user(question));
        let answer = original.chat(request(&chat)).await.unwrap();
        chat.push(Message::assistant(answer.text()));
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("chat.session");
    let saved = original.save_session(&request(&chat), &file).await.unwrap();
    assert!(saved.tokens > 40, "{saved:?}");
    assert_eq!(saved.bytes, std::fs::metadata(&file).unwrap().len());

    let fresh = LlamaCppModel::load(&path, options()).unwrap();
    let restored = fresh.load_session(&file).await.unwrap();
    assert_eq!(restored.tokens, saved.tokens);
    assert_eq!(fresh.stats().await.unwrap().prompt_tokens_decoded, 0);

    chat.push(Message::user("Which of the two cities is larger?"));
    let live = original.chat(request(&chat)).await.unwrap();
    let resumed = fresh.chat(request(&chat)).await.unwrap();
    let cold = LlamaCppModel::load(&path, options().with_prompt_cache(false))
        .unwrap()
        .chat(request(&chat))
        .await
        .unwrap();
    assert_eq!(resumed.text(), live.text());
    assert_eq!(resumed.text(), cold.text());
    // The whole session is reused: the next turn's prompt starts with it.
    assert_eq!(resumed.usage.cached_prompt_tokens as usize, saved.tokens);
    assert_eq!(
        resumed.usage.cached_prompt_tokens,
        live.usage.cached_prompt_tokens
    );

    // A model serving several sequences takes the same file: all share one KV buffer.
    let server = LlamaCppModel::load(&path, options().with_max_sequences(4)).unwrap();
    assert_eq!(
        server.load_session(&file).await.unwrap().tokens,
        saved.tokens
    );
    let served = server.chat(request(&chat)).await.unwrap();
    assert_eq!(served.usage.cached_prompt_tokens as usize, saved.tokens);
    assert_eq!(served.text(), live.text());
}

fn session_error(e: LlamaCppError) -> String {
    match e {
        LlamaCppError::Session { reason, .. } => reason,
        other => panic!("expected a session error, got {other:?}"),
    }
}

#[tokio::test]
async fn damaged_or_foreign_sessions_are_typed_errors_and_the_model_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let model = LlamaCppModel::load(common::tiny_f32(), options()).unwrap();
    let chat = vec![
        Message::system("You are a careful assistant who answers in detail."),
        Message::user("Tell me about maps."),
    ];
    let file = dir.path().join("s.session");
    let saved = model.save_session(&request(&chat), &file).await.unwrap();
    let whole = std::fs::read(&file).unwrap();

    let truncated = dir.path().join("truncated.session");
    std::fs::write(&truncated, &whole[..whole.len() / 2]).unwrap();
    let reason = session_error(model.load_session(&truncated).await.unwrap_err());
    assert!(reason.contains("truncated"), "{reason}");

    let altered = dir.path().join("altered.session");
    let mut bytes = whole.clone();
    let at = bytes.len() - 100;
    bytes[at] ^= 0x40;
    std::fs::write(&altered, &bytes).unwrap();
    let reason = session_error(model.load_session(&altered).await.unwrap_err());
    assert!(reason.contains("checksum"), "{reason}");

    // The same architecture quantized: another model file.
    let other = LlamaCppModel::load(common::tiny(QuantizeType::Q8_0), options()).unwrap();
    let reason = session_error(other.load_session(&file).await.unwrap_err());
    assert!(reason.contains("another model"), "{reason}");

    // A context too small for it.
    let small = LlamaCppModel::load(
        common::tiny_f32(),
        options().with_context_length(saved.tokens as u32 - 1),
    )
    .unwrap();
    let reason = session_error(small.load_session(&file).await.unwrap_err());
    assert!(reason.contains("do not fit"), "{reason}");

    // Every model still answers, and the intact file still loads.
    for m in [&model, &other, &small] {
        assert!(m.chat(request(&chat[1..])).await.is_ok());
    }
    assert_eq!(
        model.load_session(&file).await.unwrap().tokens,
        saved.tokens
    );
}

#[tokio::test]
async fn sessions_need_the_prompt_cache() {
    let dir = tempfile::tempdir().unwrap();
    let model =
        LlamaCppModel::load(common::tiny_f32(), options().with_prompt_cache(false)).unwrap();
    let chat = vec![Message::user("Hello.")];
    let file = dir.path().join("s.session");
    let err = model
        .save_session(&request(&chat), &file)
        .await
        .unwrap_err();
    assert!(matches!(err, LlamaCppError::InvalidRequest(_)), "{err}");
    assert!(!file.exists());
}

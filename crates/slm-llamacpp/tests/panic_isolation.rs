//! A failure while answering one request stays with that request: a panic in the worker (at
//! admission, while sampling, while assembling the answer) or a KV cache operation that fails
//! is a typed error for that request, and the same model handle keeps answering, other
//! sequences of the same batch included, with the answers they give when run alone.
//!
//! The faults are provoked for real through `testing::faults` markers in the prompt (this
//! crate's tests build it with the `fault-injection` feature): the worker panics with
//! `panic!` at that point, or sees the KV operation fail.

use slm_core::{ChatModel, ChatRequest, GenerationOptions};
use slm_llamacpp::testing::{TestModelSpec, faults, write_test_model};
use slm_llamacpp::{LlamaCppModel, LoadOptions};

struct Fixture {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny.gguf");
    write_test_model(&path, &TestModelSpec::tiny()).unwrap();
    Fixture { _dir: dir, path }
}

/// F32 weights: batched and single answers are then the same (see tests/batching.rs).
fn load(f: &Fixture, sequences: u32) -> LlamaCppModel {
    let options = LoadOptions::default()
        .with_context_length(512)
        .with_max_sequences(sequences);
    LlamaCppModel::load(&f.path, options).unwrap()
}

fn ask(question: &str) -> ChatRequest {
    ChatRequest::builder()
        .system("You are a careful assistant who answers every question in detail, always.")
        .user(question)
        .options(GenerationOptions::deterministic().with_max_tokens(12))
        .build()
}

async fn alone(f: &Fixture, request: &ChatRequest) -> String {
    load(f, 1)
        .chat(request.clone())
        .await
        .unwrap()
        .text()
        .to_string()
}

fn assert_backend_error(result: slm_core::Result<slm_core::ChatResponse>, needle: &str) {
    match result {
        Err(slm_core::Error::Backend(message, ..)) => {
            assert!(message.contains(needle), "{message}");
        }
        other => panic!("expected a Backend error with {needle:?}, got {other:?}"),
    }
}

#[tokio::test]
async fn a_panic_at_admission_fails_that_request_and_the_model_keeps_serving() {
    let f = fixture();
    let normal = ask("Tell me about cats.");
    let expected = alone(&f, &normal).await;
    // One sequence slot: the panicking request held it, so it must have been reclaimed.
    let model = load(&f, 1);
    let failed = model
        .chat(ask(&format!("Cats? {}", faults::PANIC_AT_START)))
        .await;
    assert_backend_error(failed, "injected fault: panic at start");
    for _ in 0..2 {
        let answer = model.chat(normal.clone()).await.unwrap();
        assert_eq!(answer.text(), expected);
    }
    // The other commands still work.
    assert!(model.count_tokens("hello").await.unwrap() > 0);
    assert_eq!(model.stats().await.unwrap().requests, 3);
}

#[tokio::test]
async fn a_panic_while_sampling_fails_only_its_sequence_in_a_batch() {
    let f = fixture();
    let others = [ask("Tell me about ships."), ask("Tell me about rain.")];
    let expected = [alone(&f, &others[0]).await, alone(&f, &others[1]).await];
    let model = load(&f, 4);
    let faulty = ask(&format!("Maps? {}", faults::PANIC_WHILE_SAMPLING));
    let answers = model
        .chat_batch(vec![others[0].clone(), faulty, others[1].clone()])
        .await;
    assert_eq!(answers.len(), 3);
    let mut answers = answers.into_iter();
    assert_eq!(answers.next().unwrap().unwrap().text(), expected[0]);
    assert_backend_error(
        answers.next().unwrap(),
        "injected fault: panic while sampling",
    );
    assert_eq!(answers.next().unwrap().unwrap().text(), expected[1]);
    // Every slot is usable again: a full batch of four answers as each does alone.
    let again = model
        .chat_batch(vec![
            others[0].clone(),
            others[1].clone(),
            others[0].clone(),
            others[1].clone(),
        ])
        .await;
    assert_eq!(again.len(), 4);
    for (i, answer) in again.into_iter().enumerate() {
        assert_eq!(answer.unwrap().text(), expected[i % 2], "request {i}");
    }
}

#[tokio::test]
async fn a_panic_while_assembling_an_answer_fails_only_that_caller() {
    let f = fixture();
    let normal = ask("Tell me about maps.");
    let expected = alone(&f, &normal).await;
    let model = load(&f, 2);
    // Concurrent callers on one handle: the panicking one and a normal one share batches.
    let faulty = {
        let m = model.clone();
        tokio::spawn(async move {
            m.chat(ask(&format!("Rain? {}", faults::PANIC_AT_FINISH)))
                .await
        })
    };
    let fine = {
        let m = model.clone();
        let r = normal.clone();
        tokio::spawn(async move { m.chat(r).await })
    };
    assert_backend_error(faulty.await.unwrap(), "injected fault: panic at finish");
    assert_eq!(fine.await.unwrap().unwrap().text(), expected);
    // Streams work after it too.
    let stream = model.chat_stream(normal);
    let (text, response) = slm_core::collect_stream(stream).await.unwrap();
    assert_eq!(text, expected);
    assert_eq!(response.text(), expected);
}

#[tokio::test]
async fn a_kv_cache_slot_that_cannot_be_cleared_is_an_error_and_is_reclaimed() {
    let f = fixture();
    let normal = ask("Tell me about cats.");
    let expected = alone(&f, &normal).await;
    let model = load(&f, 1);
    let failed = model
        .chat(ask(&format!("Cats? {}", faults::KV_CLEAR_FAILS)))
        .await;
    assert_backend_error(failed, "KV cache: llama.cpp could not clear sequence");
    // The only slot was left dirty; it is cleared before the next request uses it.
    assert_eq!(model.chat(normal).await.unwrap().text(), expected);
}

#[tokio::test]
async fn a_failed_shared_prefix_copy_decodes_the_whole_prompt_instead() {
    let f = fixture();
    let first = ask("Tell me about ships.");
    let faulty = ask(&format!("Tell me about rain. {}", faults::KV_COPY_FAILS));
    let expected = [alone(&f, &first).await, alone(&f, &faulty).await];

    // Control: without the fault the long system prompt is copied, not decoded again.
    let model = load(&f, 2);
    let control = ask("Tell me about rain.");
    let before = model.stats().await.unwrap();
    let answers = model.chat_batch(vec![first.clone(), control]).await;
    assert!(answers.iter().all(Result::is_ok));
    let copied = model.stats().await.unwrap().prompt_tokens_copied - before.prompt_tokens_copied;
    assert!(copied >= 16, "the control batch copied {copied} tokens");

    // With the cut after the copy failing, the second sequence is emptied and decodes its
    // whole prompt: both answers are the ones they give alone, and nothing counts as copied.
    let before = model.stats().await.unwrap();
    let answers = model.chat_batch(vec![first, faulty]).await;
    let after = model.stats().await.unwrap();
    assert_eq!(answers.len(), 2);
    for (i, (answer, expected)) in answers.into_iter().zip(&expected).enumerate() {
        assert_eq!(answer.unwrap().text(), expected, "request {i}");
    }
    assert_eq!(after.prompt_tokens_copied, before.prompt_tokens_copied);
}

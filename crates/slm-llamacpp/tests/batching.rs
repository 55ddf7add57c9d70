//! Continuous batching: several sequences per `llama_decode`, and shared prompt prefixes
//! decoded once. Every batched answer equals its single-sequence greedy answer.
//!
//! With quantized weights the answers can differ slightly (see `load`): the Q8_0 check below
//! asks only that each batched answer starts like its single-sequence one.

mod common;

use slm_core::{ChatModel, ChatRequest, GenerationOptions};
use slm_llamacpp::{LlamaCppModel, LoadOptions, QuantizeType};

/// The F32 model: llama.cpp's quantized CPU kernels take different code paths for different
/// batch sizes (and so for prompts split at a shared prefix), which can flip a near-tie in a
/// random model's greedy choice; with F32 weights the arithmetic is the same either way.
fn load(sequences: u32) -> LlamaCppModel {
    let options = LoadOptions::default()
        .with_context_length(512)
        .with_max_sequences(sequences);
    LlamaCppModel::load(common::tiny_f32(), options).unwrap()
}

fn requests(n: usize, shared_system: bool) -> Vec<ChatRequest> {
    (0..n)
        .map(|i| {
            let mut b = ChatRequest::builder();
            if shared_system {
                b = b.system("You are a careful assistant who answers every question in detail.");
            }
            b.user(format!(
                "Question number {i}: tell me about {}",
                ["cats", "ships", "rain", "maps"][i % 4]
            ))
            .options(GenerationOptions::deterministic().with_max_tokens(24 + i as u32 % 3))
            .build()
        })
        .collect()
}

async fn sequential(requests: &[ChatRequest]) -> Vec<String> {
    let single = load(1);
    let mut out = Vec::new();
    for r in requests {
        out.push(single.chat(r.clone()).await.unwrap().text().to_string());
    }
    out
}

#[tokio::test]
async fn chat_batch_equals_sequential_greedy_answers() {
    let reqs = requests(8, false);
    let expected = sequential(&reqs).await;
    let batched = load(8);
    let answers = batched.chat_batch(reqs).await;
    assert_eq!(answers.len(), expected.len());
    for (i, (answer, expected)) in answers.into_iter().zip(&expected).enumerate() {
        assert_eq!(answer.unwrap().text(), expected, "request {i}");
    }
}

#[tokio::test]
async fn concurrent_callers_share_batches_and_get_their_own_answers() {
    let reqs = requests(12, false);
    let expected = sequential(&reqs).await;
    let batched = load(4);
    assert!(batched.capabilities().batching);
    let tasks: Vec<_> = reqs
        .into_iter()
        .map(|r| {
            let m = batched.clone();
            tokio::spawn(async move { m.chat(r).await })
        })
        .collect();
    assert_eq!(tasks.len(), expected.len());
    for (i, (task, expected)) in tasks.into_iter().zip(&expected).enumerate() {
        assert_eq!(task.await.unwrap().unwrap().text(), expected, "request {i}");
    }
}

#[tokio::test]
async fn a_shared_prefix_is_decoded_once_and_copied() {
    let reqs = requests(6, true);
    let expected = sequential(&reqs).await;
    let batched = load(8);
    let before = batched.stats().await.unwrap();
    let answers = batched.chat_batch(reqs.clone()).await;
    assert_eq!(answers.len(), expected.len());
    for (i, (answer, expected)) in answers.into_iter().zip(&expected).enumerate() {
        assert_eq!(answer.unwrap().text(), expected, "request {i}");
    }
    let after = batched.stats().await.unwrap();
    let total: usize = {
        let mut n = 0;
        for r in &reqs {
            n += batched.prompt_tokens(r).await.unwrap();
        }
        n
    };
    let copied = after.prompt_tokens_copied - before.prompt_tokens_copied;
    let decoded = after.prompt_tokens_decoded - before.prompt_tokens_decoded;
    assert_eq!(copied + decoded, total as u64);
    // The system prompt and the start of the user turn are shared by all six.
    assert!(copied >= 5 * 60, "copied {copied} of {total}");
}

#[tokio::test]
async fn sixteen_sequences_at_once() {
    let reqs = requests(16, true);
    let expected = sequential(&reqs).await;
    let batched = load(16);
    let answers = batched.chat_batch(reqs).await;
    assert_eq!(answers.len(), expected.len());
    for (i, (answer, expected)) in answers.into_iter().zip(&expected).enumerate() {
        assert_eq!(answer.unwrap().text(), expected, "request {i}");
    }
}

/// Quantized kernels sum in another order when a batch holds other sequences' tokens (as in
/// llama-server), which can flip a near-tie of the random model's greedy choice after a few
/// tokens; a sequence mixed up with another would differ from the start.
#[tokio::test]
async fn quantized_batches_start_like_single_answers() {
    let reqs = requests(8, false);
    let options = |n| {
        LoadOptions::default()
            .with_context_length(512)
            .with_max_sequences(n)
    };
    let path = common::tiny(QuantizeType::Q8_0);
    let single = LlamaCppModel::load(&path, options(1)).unwrap();
    let batched = LlamaCppModel::load(&path, options(8)).unwrap();
    let answers = batched.chat_batch(reqs.clone()).await;
    assert_eq!(answers.len(), reqs.len());
    let mut identical = 0;
    for (i, (answer, r)) in answers.into_iter().zip(reqs).enumerate() {
        let (answer, expected) = (answer.unwrap(), single.chat(r).await.unwrap());
        let same =
            common::assert_starts_as(answer.text(), expected.text(), 8, &format!("request {i}"));
        identical += usize::from(same);
    }
    assert!(identical >= 1, "no batched answer equals its single answer");
}

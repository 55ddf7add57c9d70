//! LoRA adapters: a random adapter written by the test-model writer changes greedy output,
//! and removing it restores the original.

mod common;

use slm_core::{ChatModel, ChatRequest, GenerationOptions};
use slm_llamacpp::testing::{TestModelSpec, write_test_lora};
use slm_llamacpp::{LlamaCppError, LlamaCppModel, LoadOptions};

fn request() -> ChatRequest {
    ChatRequest::builder()
        .user("Describe the weather.")
        .options(GenerationOptions::deterministic().with_max_tokens(24))
        .build()
}

fn adapter(dir: &std::path::Path, seed: u64) -> std::path::PathBuf {
    let path = dir.join(format!("lora-{seed}.gguf"));
    write_test_lora(&path, &TestModelSpec::tiny(), 4, seed).unwrap();
    path
}

#[tokio::test]
async fn an_adapter_changes_the_output_and_removing_it_restores_it() {
    let dir = tempfile::tempdir().unwrap();
    let options = LoadOptions::default()
        .with_lora_adapter(adapter(dir.path(), 1))
        .with_lora_adapter(adapter(dir.path(), 2));
    let base = LlamaCppModel::load(common::tiny_f32(), options).unwrap();
    let original = base.chat(request()).await.unwrap().text().to_string();
    let tuned = base.with_lora(0, 1.0).unwrap();
    let changed = tuned.chat(request()).await.unwrap().text().to_string();
    assert_ne!(changed, original);
    let other = base
        .with_lora(1, 1.0)
        .unwrap()
        .chat(request())
        .await
        .unwrap();
    assert_ne!(other.text(), changed);
    // Back to the base model, and a zero scale is no adapter at all.
    assert_eq!(base.chat(request()).await.unwrap().text(), original);
    assert_eq!(
        base.without_lora().chat(request()).await.unwrap().text(),
        original
    );
    let zero = base
        .with_lora(0, 0.0)
        .unwrap()
        .chat(request())
        .await
        .unwrap();
    assert_eq!(zero.text(), original);
    // The adapter is deterministic.
    assert_eq!(tuned.chat(request()).await.unwrap().text(), changed);
}

#[tokio::test]
async fn a_default_adapter_applies_per_model() {
    let dir = tempfile::tempdir().unwrap();
    let path = adapter(dir.path(), 1);
    let plain = LlamaCppModel::load(common::tiny_f32(), LoadOptions::default()).unwrap();
    let original = plain.chat(request()).await.unwrap().text().to_string();
    let tuned = LlamaCppModel::load(
        common::tiny_f32(),
        LoadOptions::default()
            .with_lora_adapter(&path)
            .with_lora(0, 1.0),
    )
    .unwrap();
    let changed = tuned.chat(request()).await.unwrap().text().to_string();
    assert_ne!(changed, original);
    assert_eq!(
        tuned.without_lora().chat(request()).await.unwrap().text(),
        original
    );
}

#[tokio::test]
async fn requests_with_different_adapters_interleave_correctly() {
    let dir = tempfile::tempdir().unwrap();
    let options = LoadOptions::default()
        .with_max_sequences(4)
        .with_lora_adapter(adapter(dir.path(), 1));
    let base = LlamaCppModel::load(common::tiny_f32(), options).unwrap();
    let tuned = base.with_lora(0, 1.0).unwrap();
    let original = base.chat(request()).await.unwrap().text().to_string();
    let changed = tuned.chat(request()).await.unwrap().text().to_string();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let m = if i % 2 == 0 {
                base.clone()
            } else {
                tuned.clone()
            };
            tokio::spawn(async move { m.chat(request()).await })
        })
        .collect();
    for (i, task) in tasks.into_iter().enumerate() {
        let text = task.await.unwrap().unwrap().text().to_string();
        assert_eq!(
            &text,
            if i % 2 == 0 { &original } else { &changed },
            "request {i}"
        );
    }
}

#[test]
fn bad_adapters_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    // A model file is not an adapter.
    let err = LlamaCppModel::load(
        common::tiny_f32(),
        LoadOptions::default().with_lora_adapter(common::tiny_f32()),
    )
    .unwrap_err();
    assert!(matches!(err, LlamaCppError::Lora(_)), "{err:?}");
    // An adapter for another shape: llama.cpp refuses it, the process lives on.
    let wide = dir.path().join("wide.gguf");
    let spec = TestModelSpec {
        n_embd: 128,
        n_head: 4,
        n_head_kv: 4,
        ..TestModelSpec::tiny()
    };
    write_test_lora(&wide, &spec, 4, 1).unwrap();
    let err = LlamaCppModel::load(
        common::tiny_f32(),
        LoadOptions::default().with_lora_adapter(&wide),
    )
    .unwrap_err();
    assert!(matches!(err, LlamaCppError::Lora(_)), "{err:?}");
    let missing = LlamaCppModel::load(
        common::tiny_f32(),
        LoadOptions::default().with_lora_adapter(dir.path().join("missing.gguf")),
    )
    .unwrap_err();
    assert!(
        matches!(missing, LlamaCppError::NotFound { .. }),
        "{missing:?}"
    );
    let no_adapter =
        LlamaCppModel::load(common::tiny_f32(), LoadOptions::default().with_lora(0, 1.0));
    assert!(matches!(no_adapter, Err(LlamaCppError::InvalidOption(_))));
}

#[tokio::test]
async fn the_identity_names_the_weights_and_the_adapter_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let options = LoadOptions::default()
        .with_lora_adapter(adapter(dir.path(), 1))
        .with_lora_adapter(adapter(dir.path(), 2));
    let base = LlamaCppModel::load(common::tiny_f32(), options).unwrap();
    let identity = |m: LlamaCppModel| async move { m.identity().await.unwrap().unwrap() };
    let plain = identity(base.clone()).await;
    let weights = slm_llamacpp::models::sha256_file(&common::tiny_f32()).unwrap();
    assert!(
        plain.starts_with(&format!("llamacpp:sha256={weights};")),
        "{plain}"
    );
    let first = identity(base.with_lora(0, 1.0).unwrap()).await;
    let second = identity(base.with_lora(1, 1.0).unwrap()).await;
    let half = identity(base.with_lora(0, 0.5).unwrap()).await;
    let lora_1 = slm_llamacpp::models::sha256_file(&dir.path().join("lora-1.gguf")).unwrap();
    assert!(first.contains(&format!("lora={lora_1}*1")), "{first}");
    let all = [&plain, &first, &second, &half];
    for (i, a) in all.iter().enumerate() {
        for b in &all[i + 1..] {
            assert_ne!(a, b);
        }
    }
    // Asked again: the same answer (the files are hashed once).
    assert_eq!(identity(base.with_lora(0, 1.0).unwrap()).await, first);
    // Another chat template: other answers, another identity.
    let templated = LlamaCppModel::load(
        common::tiny_f32(),
        LoadOptions::default().with_chat_template("{{ messages[0].content }}"),
    )
    .unwrap();
    assert_ne!(identity(templated).await, plain);
}

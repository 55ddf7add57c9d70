//! The backend on the tiny random-weight model written by `scripts/onnx/export.py tiny`.

mod common;

use futures::StreamExt;
use slm_core::{
    ChatEvent, ChatModel, ChatRequest, FinishReason, GenerationOptions, ResponseFormat,
};
use slm_onnx::{LoadOptions, OnnxError, OnnxModel};

fn model() -> OnnxModel {
    common::runtime_installed();
    OnnxModel::load(common::tiny_dir(), LoadOptions::default().with_threads(2))
        .expect("tiny model loads")
}

fn request(text: &str, options: GenerationOptions) -> ChatRequest {
    ChatRequest::builder().user(text).options(options).build()
}

#[tokio::test]
async fn loads_and_chats_with_usage_and_timings() {
    let m = model();
    assert!(m.id().starts_with("onnx:"));
    assert_eq!(m.capabilities().context_length, Some(256));
    assert!(slm_onnx::runtime::version_ok(&m.runtime().version));
    let r = m
        .chat(request(
            "hello world",
            GenerationOptions::deterministic().with_max_tokens(12),
        ))
        .await
        .unwrap();
    assert!(r.usage.prompt_tokens > 5, "{:?}", r.usage);
    assert!(r.usage.completion_tokens <= 12);
    assert!(r.usage.completion_tokens >= 1);
    if r.finish_reason == FinishReason::Length {
        assert_eq!(r.usage.completion_tokens, 12);
    }
    assert!(r.timings.total >= r.timings.prompt_eval);
    assert!(r.timings.prompt_tokens_per_second.is_some());
    assert_eq!(r.model, m.id());
    // The identity names the weights: the same for the same export, stable across calls.
    let id = m.identity().await.unwrap().expect("an identity");
    assert!(id.starts_with("onnx:sha256="), "{id}");
    assert_eq!(m.identity().await.unwrap(), Some(id));
}

#[tokio::test]
async fn stream_equals_non_stream() {
    let m = model();
    let opts = GenerationOptions::deterministic().with_max_tokens(24);
    let whole = m
        .chat(request("the answer is", opts.clone()))
        .await
        .unwrap();
    let mut stream = m.chat_stream(request("the answer is", opts));
    let mut text = String::new();
    let mut deltas = 0;
    let mut done = None;
    while let Some(event) = stream.next().await {
        match event.unwrap() {
            ChatEvent::TextDelta(d) => {
                deltas += 1;
                text.push_str(&d);
            }
            ChatEvent::Done(r) => done = Some(*r),
            other => panic!("unexpected {other:?}"),
        }
    }
    let done = done.expect("a Done event");
    assert_eq!(text, whole.message.content);
    assert_eq!(done.message.content, whole.message.content);
    assert_eq!(done.usage, whole.usage);
    assert!(deltas >= 1);
}

#[tokio::test]
async fn the_same_seed_gives_the_same_answer() {
    let m = model();
    let opts = |seed| {
        GenerationOptions::default()
            .with_temperature(1.0)
            .with_seed(seed)
            .with_max_tokens(20)
    };
    let a = m.chat(request("json objects", opts(11))).await.unwrap();
    let b = m.chat(request("json objects", opts(11))).await.unwrap();
    assert_eq!(a.message.content, b.message.content);
    // A second export with the same seed is the same model: the same greedy answer.
    let again_dir = common::export_tiny(0);
    let again = OnnxModel::load(again_dir.path(), LoadOptions::default().with_threads(2)).unwrap();
    let greedy = GenerationOptions::deterministic().with_max_tokens(16);
    let x = m.chat(request("hello", greedy.clone())).await.unwrap();
    let y = again.chat(request("hello", greedy)).await.unwrap();
    assert_eq!(x.message.content, y.message.content);
}

/// The decode path (one token per run, keys and values carried in the KV cache) gives the
/// logits of a single run over the whole sequence without a cache, within 1e-4 absolute
/// (float32; the two paths sum in different orders).
#[tokio::test]
async fn kv_cache_path_equals_no_cache_recomputation() {
    let m = model();
    let tokens = m
        .tokenize("<|im_start|>user\nthe quick brown fox jumps over the lazy dog<|im_end|>")
        .await
        .unwrap();
    assert!(tokens.len() > 10);
    let full = m.last_logits(tokens.clone(), false).await.unwrap();
    let incremental = m.last_logits(tokens, true).await.unwrap();
    assert_eq!(full.len(), incremental.len());
    let worst = full
        .iter()
        .zip(&incremental)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    let scale = full.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    assert!(scale > 1.0, "logits too small to compare: {scale}");
    assert!(
        worst < 1e-4,
        "max |difference| {worst} (logits up to {scale})"
    );
}

#[tokio::test]
async fn generated_ids_follow_the_cache_free_argmax() {
    // Greedy decoding through the cache picks, at each step, the argmax of a cache-free run.
    let m = model();
    let prompt = m.tokenize("hello world").await.unwrap();
    let (ids, _) = m
        .generate_ids(
            prompt.clone(),
            GenerationOptions::deterministic().with_max_tokens(6),
        )
        .await
        .unwrap();
    let mut seq = prompt;
    for id in ids {
        let logits = m.last_logits(seq.clone(), false).await.unwrap();
        let best = logits
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap()
            .0 as u32;
        assert_eq!(best, id);
        seq.push(id);
    }
}

#[tokio::test]
async fn constrained_json_validates_against_the_schema() {
    let m = model();
    let schema = serde_json::json!({
        "type": "object",
        "properties": {
            "name": {"type": "string", "maxLength": 8},
            "count": {"type": "integer"},
            "ok": {"type": "boolean"}
        },
        "required": ["name", "count", "ok"],
        "additionalProperties": false
    });
    let validator = jsonschema::validator_for(&schema).unwrap();
    for seed in 0..3 {
        let req = ChatRequest::builder()
            .user("json objects have keys and values")
            .response_format(ResponseFormat::json_schema("thing", schema.clone()))
            .options(
                GenerationOptions::default()
                    .with_temperature(0.8)
                    .with_seed(seed)
                    .with_max_tokens(200),
            )
            .build();
        let r = m.chat(req).await.unwrap();
        let value: serde_json::Value = serde_json::from_str(&r.message.content)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", r.message.content));
        assert!(validator.is_valid(&value), "{value} does not match");
        assert_eq!(r.finish_reason, FinishReason::Stop);
    }
}

#[tokio::test]
async fn stop_strings_and_max_tokens_end_the_answer() {
    let m = model();
    let base = m
        .chat(request(
            "the",
            GenerationOptions::deterministic().with_max_tokens(30),
        ))
        .await
        .unwrap();
    let text = base.message.content.clone();
    assert!(text.chars().count() > 4, "{text:?}");
    let stop: String = text.chars().skip(3).take(2).collect();
    let cut = m
        .chat(request(
            "the",
            GenerationOptions::deterministic()
                .with_max_tokens(30)
                .with_stop(stop.clone()),
        ))
        .await
        .unwrap();
    assert_eq!(cut.message.content, text[..text.find(&stop).unwrap()]);
    assert_eq!(cut.finish_reason, FinishReason::Stop);
    let short = m
        .chat(request(
            "the",
            GenerationOptions::deterministic().with_max_tokens(2),
        ))
        .await
        .unwrap();
    assert_eq!(short.usage.completion_tokens, 2);
    assert_eq!(short.finish_reason, FinishReason::Length);
}

#[tokio::test]
async fn a_dropped_stream_cancels_and_the_model_keeps_serving() {
    let m = model();
    {
        let mut s = m.chat_stream(request(
            "hello",
            GenerationOptions::deterministic().with_max_tokens(200),
        ));
        let _ = s.next().await;
    }
    let r = m
        .chat(request(
            "hello",
            GenerationOptions::deterministic().with_max_tokens(3),
        ))
        .await
        .unwrap();
    assert!(r.usage.completion_tokens <= 3);
}

#[tokio::test]
async fn a_prompt_over_the_context_is_a_typed_error() {
    let m = model();
    let long = "the quick brown fox ".repeat(200);
    let err = m
        .chat(request(&long, GenerationOptions::deterministic()))
        .await
        .unwrap_err();
    assert!(
        matches!(err, slm_core::Error::ContextOverflow { limit: 256, .. }),
        "{err:?}"
    );
    assert!(matches!(
        err.downcast_ref::<OnnxError>(),
        Some(OnnxError::PromptTooLong { .. })
    ));
}

#[tokio::test]
async fn unsupported_requests_are_refused() {
    let m = model();
    let tool = slm_core::ToolSpec::new("now", "time", serde_json::json!({"type": "object"}));
    let req = ChatRequest::builder().user("hi").tools(vec![tool]).build();
    let err = m.chat(req).await.unwrap_err();
    assert!(
        matches!(err, slm_core::Error::InvalidRequest(..)),
        "{err:?}"
    );
}

#[test]
fn bad_folders_are_typed_errors() {
    common::runtime_installed();
    let empty = tempfile::tempdir().unwrap();
    let err = OnnxModel::load(empty.path(), LoadOptions::default()).unwrap_err();
    assert!(matches!(err, OnnxError::MissingConfig { .. }), "{err}");
    let core: slm_core::Error = err.into();
    assert!(matches!(core, slm_core::Error::ModelLoad(..)));

    let err = OnnxModel::load(empty.path().join("nope"), LoadOptions::default()).unwrap_err();
    assert!(matches!(err, OnnxError::MissingConfig { .. }), "{err}");

    // A config that is not JSON.
    let broken = tempfile::tempdir().unwrap();
    std::fs::write(broken.path().join("genai_config.json"), "{ not json").unwrap();
    let err = OnnxModel::load(broken.path(), LoadOptions::default()).unwrap_err();
    assert!(matches!(err, OnnxError::InvalidFolder { .. }), "{err}");

    // The tiny model without its tokenizer.
    let copy = copy_of_tiny();
    std::fs::remove_file(copy.path().join("tokenizer.json")).unwrap();
    let err = OnnxModel::load(copy.path(), LoadOptions::default()).unwrap_err();
    assert!(matches!(err, OnnxError::InvalidFolder { .. }), "{err}");

    // The graph named by the config is missing.
    let copy = copy_of_tiny();
    std::fs::remove_file(copy.path().join("model.onnx")).unwrap();
    let err = OnnxModel::load(copy.path(), LoadOptions::default()).unwrap_err();
    assert!(matches!(err, OnnxError::InvalidFolder { .. }), "{err}");

    // A config claiming more layers than the graph has: its inputs don't match.
    let copy = copy_of_tiny();
    let path = copy.path().join("genai_config.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    config["model"]["decoder"]["num_hidden_layers"] = 3.into();
    std::fs::write(&path, config.to_string()).unwrap();
    let err = OnnxModel::load(copy.path(), LoadOptions::default()).unwrap_err();
    match &err {
        OnnxError::GraphMismatch { reason, .. } => {
            assert!(reason.contains("past_key_values.2.key"), "{reason}")
        }
        other => panic!("expected GraphMismatch, got {other}"),
    }

    // A graph file that is not ONNX.
    let copy = copy_of_tiny();
    std::fs::write(copy.path().join("model.onnx"), b"not a graph").unwrap();
    let err = OnnxModel::load(copy.path(), LoadOptions::default()).unwrap_err();
    assert!(matches!(err, OnnxError::GraphMismatch { .. }), "{err}");
}

#[test]
fn a_wrong_runtime_library_is_a_typed_error() {
    let tiny = common::tiny_dir();
    let err = OnnxModel::load(
        tiny,
        LoadOptions::default().with_runtime("/nonexistent/libonnxruntime.so"),
    )
    .unwrap_err();
    match &err {
        OnnxError::RuntimeMissing { wanted, .. } => assert_eq!(wanted, "1.31"),
        other => panic!("expected RuntimeMissing, got {other}"),
    }
    assert!(err.to_string().contains("SLM_ONNXRUNTIME"), "{err}");
    // A file that is not a shared library.
    let err = OnnxModel::load(
        tiny,
        LoadOptions::default().with_runtime(tiny.join("tokenizer.json")),
    )
    .unwrap_err();
    assert!(
        matches!(err, OnnxError::RuntimeIncompatible { .. }),
        "{err}"
    );
    // A shared library that is not ONNX Runtime (no OrtGetApiBase).
    let libm = [
        "/lib/x86_64-linux-gnu/libm.so.6",
        "/usr/lib/x86_64-linux-gnu/libm.so.6",
        "/lib64/libm.so.6",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).is_file())
    .expect("libm is installed");
    let err = OnnxModel::load(tiny, LoadOptions::default().with_runtime(libm)).unwrap_err();
    match &err {
        OnnxError::RuntimeIncompatible { found, reason, .. } => {
            assert_eq!(found, "unknown");
            assert!(reason.contains("OrtGetApiBase"), "{reason}");
        }
        other => panic!("expected RuntimeIncompatible, got {other}"),
    }
    let core: slm_core::Error = err.into();
    assert!(matches!(core, slm_core::Error::ModelLoad(..)));
}

fn copy_of_tiny() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(common::tiny_dir()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    dir
}

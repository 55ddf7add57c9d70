//! Quantization on real files (requantizing SmolLM2, K-quants, in-place refusal) and perplexity.
//!
//! Real-model tests use the model cache (`scripts/setup.sh`); without it they print a loud
//! SKIPPED line, and fail under `CI=true`.

use std::path::{Path, PathBuf};

use slm_core::{ChatModel, ChatRequest, GenerationOptions};
use slm_llamacpp::gguf::{GgmlType, inspect};
use slm_llamacpp::models::SMOLLM2;
use slm_llamacpp::testing::{TestModelSpec, real_model, write_test_model};
use slm_llamacpp::{
    LlamaCppError, LlamaCppModel, LoadOptions, PerplexityOptions, QuantizeOptions, QuantizeType,
    SHAKESPEARE_SAMPLE, perplexity, quantize,
};

const THREADS: u32 = 2;

fn options(target: QuantizeType, allow_requantize: bool) -> QuantizeOptions {
    QuantizeOptions {
        allow_requantize,
        threads: Some(THREADS),
        ..QuantizeOptions::new(target)
    }
}

fn tiny_model(dir: &Path) -> PathBuf {
    let path = dir.join("tiny.gguf");
    write_test_model(&path, &TestModelSpec::tiny()).unwrap();
    path
}

#[test]
fn quantizing_onto_the_input_is_refused_through_any_link() {
    let dir = tempfile::tempdir().unwrap();
    let input = tiny_model(dir.path());
    let before = std::fs::read(&input).unwrap();
    let symlink = dir.path().join("link.gguf");
    std::os::unix::fs::symlink(&input, &symlink).unwrap();
    let hard_link = dir.path().join("hard.gguf");
    std::fs::hard_link(&input, &hard_link).unwrap();
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    let dotted = sub.join("..").join("tiny.gguf");
    let cases = [
        (input.clone(), input.clone()),
        (input.clone(), symlink.clone()),
        (symlink.clone(), input.clone()),
        (input.clone(), hard_link.clone()),
        (input.clone(), dotted),
    ];
    for (from, to) in cases {
        let err = quantize(&from, &to, &options(QuantizeType::Q8_0, true)).unwrap_err();
        assert!(
            matches!(err, LlamaCppError::QuantizeInPlace { .. }),
            "{} -> {}: {err}",
            from.display(),
            to.display()
        );
        assert!(err.to_string().contains("another output path"), "{err}");
    }
    assert_eq!(std::fs::read(&input).unwrap(), before, "the input changed");
    assert!(
        std::fs::symlink_metadata(&symlink)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    // A copy is another file: allowed.
    let copy = dir.path().join("copy.gguf");
    std::fs::copy(&input, &copy).unwrap();
    let report = quantize(
        &copy,
        &dir.path().join("q8.gguf"),
        &options(QuantizeType::Q8_0, false),
    )
    .unwrap();
    assert_eq!(report.dominant_type, GgmlType::Q8_0);
    assert_eq!(std::fs::read(&input).unwrap(), before);
}

#[test]
fn requantizing_without_permission_is_a_typed_error_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let input = tiny_model(dir.path());
    let q8 = dir.path().join("q8.gguf");
    quantize(&input, &q8, &options(QuantizeType::Q8_0, false)).unwrap();
    let out = dir.path().join("again.gguf");
    let err = quantize(&q8, &out, &options(QuantizeType::Q4_0, false)).unwrap_err();
    match &err {
        LlamaCppError::AlreadyQuantized {
            input_type, target, ..
        } => {
            assert_eq!(*input_type, GgmlType::Q8_0);
            assert_eq!(*target, QuantizeType::Q4_0);
        }
        other => panic!("expected AlreadyQuantized, got {other}"),
    }
    assert!(err.to_string().contains("allow_requantize = true"), "{err}");
    assert!(!out.exists());
}

#[test]
fn k_quants_on_rows_of_256_have_no_fallback_and_generate() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("wide.gguf");
    let spec = TestModelSpec {
        name: "slm-test-256".into(),
        n_embd: 256,
        n_head: 4,
        n_head_kv: 4,
        n_ff: 512,
        ..TestModelSpec::tiny()
    };
    write_test_model(&input, &spec).unwrap();
    for (target, main) in [
        (QuantizeType::Q4_K_M, GgmlType(12)),
        (QuantizeType::Q5_K_M, GgmlType(13)),
        (QuantizeType::Q6_K, GgmlType::Q6_K),
    ] {
        let out = dir.path().join(format!("wide-{target}.gguf"));
        let report = quantize(&input, &out, &options(target, false)).unwrap();
        assert!(
            report.fallbacks.is_empty(),
            "{target}: {:?}",
            report.fallbacks
        );
        assert_eq!(report.dominant_type, main, "{target}");
        assert!(!report.requantized);
        assert!(report.output_bytes < report.input_bytes / 3, "{target}");
        let model = LlamaCppModel::load(
            &out,
            LoadOptions::default()
                .with_context_length(256)
                .with_threads(THREADS),
        )
        .unwrap();
        let request = ChatRequest::builder()
            .user("hi")
            .options(GenerationOptions::deterministic().with_max_tokens(4))
            .build();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let answer = rt.block_on(model.chat(request)).unwrap();
        assert_eq!(answer.usage.completion_tokens, 4, "{target}");
    }
}

#[test]
fn k_quant_of_a_576_wide_model_reports_its_fallbacks() {
    let Some(path) = real_model(
        &SMOLLM2,
        "k_quant_of_a_576_wide_model_reports_its_fallbacks",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("smollm2-q4_k_m.gguf");
    let report = quantize(&path, &out, &options(QuantizeType::Q4_K_M, true)).unwrap();
    assert!(report.requantized);
    assert_eq!(report.input_type, GgmlType::Q4_1);
    // SmolLM2's width is 576, not a multiple of 256: those tensors get llama.cpp's fallback.
    assert!(!report.fallbacks.is_empty());
    for f in &report.fallbacks {
        assert_ne!(f.dims[0] % 256, 0, "{f:?}");
        assert_eq!(f.dims[0] % f.got.block_size(), 0, "{f:?}");
        assert_ne!(f.got, f.wanted);
    }
    // Rows of 1536 (ffn_down) do split into 256-blocks: K-quant types are there too.
    let output = inspect(&out).unwrap();
    assert!(
        output.tensor_types.contains_key(&GgmlType(12)),
        "{:?}",
        output.tensor_types
    );
    // attn_v gets Q6_K in some layers of the Q4_K_M mix: on 576-wide rows that falls back to Q8_0.
    assert!(
        report
            .fallbacks
            .iter()
            .any(|f| f.wanted == GgmlType::Q6_K && f.got == GgmlType::Q8_0),
        "{:?}",
        report.fallbacks
    );
    assert!(
        report
            .fallbacks
            .iter()
            .any(|f| f.wanted == GgmlType(12) && f.got == GgmlType::Q5_0)
    );
    let fallback_names: Vec<&str> = report.fallbacks.iter().map(|f| f.name.as_str()).collect();
    assert!(fallback_names.iter().any(|n| n.ends_with("attn_q.weight")));
}

fn chat_answer(path: &Path) -> String {
    let model = LlamaCppModel::load(
        path,
        LoadOptions::default()
            .with_context_length(512)
            .with_threads(THREADS),
    )
    .unwrap();
    let request = ChatRequest::builder()
        .user("What is the capital of France? Answer in one sentence.")
        .options(GenerationOptions::deterministic().with_max_tokens(24))
        .build();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(model.chat(request)).unwrap().text().to_string()
}

#[test]
fn smollm2_requantizes_to_q8_0_and_q4_0_only_when_allowed() {
    let Some(path) = real_model(
        &SMOLLM2,
        "smollm2_requantizes_to_q8_0_and_q4_0_only_when_allowed",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let refused = dir.path().join("refused.gguf");
    let err = quantize(&path, &refused, &options(QuantizeType::Q4_0, false)).unwrap_err();
    assert!(
        matches!(
            err,
            LlamaCppError::AlreadyQuantized {
                input_type: GgmlType::Q4_1,
                ..
            }
        ),
        "{err}"
    );
    assert!(!refused.exists());
    for target in [QuantizeType::Q8_0, QuantizeType::Q4_0] {
        let out = dir.path().join(format!("smollm2-{target}.gguf"));
        let report = quantize(&path, &out, &options(target, true)).unwrap();
        assert!(report.requantized, "{target}");
        assert_eq!(report.input_type, GgmlType::Q4_1);
        assert_eq!(report.dominant_type, target.main_type());
        let note = report.quality_note().unwrap();
        assert!(note.contains("F16/F32"), "{note}");
        let text = chat_answer(&out);
        assert!(
            text.chars().filter(|c| c.is_ascii_alphabetic()).count() >= 5,
            "{target}: {text:?}"
        );
    }
}

#[test]
fn smollm2_perplexity_is_finite_and_stable() {
    let Some(path) = real_model(&SMOLLM2, "smollm2_perplexity_is_finite_and_stable") else {
        return;
    };
    let options = PerplexityOptions::default()
        .with_n_ctx(128)
        .with_max_chunks(3)
        .with_threads(THREADS);
    let first = perplexity(&path, SHAKESPEARE_SAMPLE, &options).unwrap();
    assert!(
        first.perplexity.is_finite() && first.perplexity > 1.0,
        "{first:?}"
    );
    assert_eq!(first.chunks.len(), 3);
    assert_eq!(first.scored_tokens, 3 * (128 - 64 - 1));
    let last = first.chunks.last().unwrap();
    assert!((last.running - first.perplexity).abs() < 1e-9 * first.perplexity);
    assert!(first.std_error > 0.0 && first.std_error < first.perplexity);
    let second = perplexity(&path, SHAKESPEARE_SAMPLE, &options).unwrap();
    assert_eq!(first.perplexity, second.perplexity);
    assert_eq!(first.chunks, second.chunks);
    // A real model predicts English far better than chance (vocabulary 49,152).
    assert!(first.perplexity < 1000.0, "{}", first.perplexity);
}

#[test]
fn perplexity_refuses_a_text_shorter_than_two_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let path = tiny_model(dir.path());
    let options = PerplexityOptions::default();
    let err = perplexity(&path, "First Citizen: Before we proceed.", &options).unwrap_err();
    match err {
        LlamaCppError::TextTooShort {
            tokens,
            needed,
            n_ctx,
        } => {
            assert_eq!((needed, n_ctx), (1024, 512));
            assert!(tokens > 0 && tokens < needed);
        }
        other => panic!("expected TextTooShort, got {other}"),
    }
    let err = perplexity(&path, "", &options).unwrap_err();
    assert!(matches!(err, LlamaCppError::TextTooShort { .. }), "{err}");
    let err = perplexity(
        &dir.path().join("missing.gguf"),
        SHAKESPEARE_SAMPLE,
        &options,
    )
    .unwrap_err();
    assert!(matches!(err, LlamaCppError::NotFound { .. }), "{err}");
}

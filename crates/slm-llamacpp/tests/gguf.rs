//! Inspecting and quantizing GGUF files.

mod common;

use slm_core::{ChatModel, ChatRequest, GenerationOptions};
use slm_llamacpp::gguf::{GgmlType, GgufHeader, inspect};
use slm_llamacpp::testing::{TestModelSpec, TestWeightType, write_test_model};
use slm_llamacpp::{LlamaCppModel, LoadOptions, QuantizeOptions, QuantizeType, quantize};

#[test]
fn inspect_reports_shape_types_template_and_memory() {
    let spec = TestModelSpec::tiny();
    let info = inspect(&common::tiny_f32()).unwrap();
    assert_eq!(info.architecture, "llama");
    assert_eq!(info.name.as_deref(), Some("slm-test-tiny"));
    assert_eq!(info.parameter_count, spec.parameter_count());
    assert_eq!(info.dominant_type, GgmlType::F32);
    assert_eq!(info.vocab_size, Some(384));
    assert_eq!(
        (info.embedding_length, info.block_count),
        (Some(64), Some(2))
    );
    assert_eq!(info.context_length, Some(2048));
    assert!(
        info.chat_template
            .as_deref()
            .unwrap()
            .contains("<|im_start|>")
    );
    assert!(info.file_size > 4 * spec.parameter_count());
    let small = info.memory_estimate(512);
    let large = info.memory_estimate(2048);
    // 2 (K and V) x 2 layers x 64 wide x 2 bytes per token.
    assert_eq!(
        large.kv_cache_bytes - small.kv_cache_bytes,
        1536 * 2 * 2 * 64 * 2
    );
    assert_eq!(small.weights_bytes, large.weights_bytes);

    let q4 = inspect(&common::tiny(QuantizeType::Q4_0)).unwrap();
    assert_eq!(q4.dominant_type, GgmlType::Q4_0);
    assert_eq!(q4.parameter_count, info.parameter_count);
    assert!(q4.file_size < info.file_size / 4);
}

#[test]
fn quantization_shrinks_and_reports_each_target() {
    let f32_size = std::fs::metadata(common::tiny_f32()).unwrap().len();
    let mut previous = u64::MAX;
    // Ordered from large to small.
    for q in [QuantizeType::Q8_0, QuantizeType::Q5_1, QuantizeType::Q4_0] {
        let size = std::fs::metadata(common::tiny(q)).unwrap().len();
        assert!(size < previous && size < f32_size, "{q}: {size}");
        previous = size;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("f16.gguf");
    let report = quantize(
        &common::tiny_f32(),
        &out,
        &QuantizeOptions::new(QuantizeType::F16),
    )
    .unwrap();
    assert_eq!(report.dominant_type, GgmlType::F16);
    assert!(
        (0.45..0.6).contains(&report.size_ratio()),
        "{}",
        report.size_ratio()
    );
    assert!(report.fallbacks.is_empty());
}

#[test]
fn rows_that_do_not_fill_a_block_fall_back_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("odd.gguf");
    // Feed-forward width 48: ffn_down's rows (48) are not a multiple of 32.
    let spec = TestModelSpec {
        n_ff: 48,
        weight_type: TestWeightType::F16,
        ..TestModelSpec::tiny()
    };
    write_test_model(&src, &spec).unwrap();
    let out = dir.path().join("odd-q4_0.gguf");
    let report = quantize(&src, &out, &QuantizeOptions::new(QuantizeType::Q4_0)).unwrap();
    let names: Vec<&str> = report.fallbacks.iter().map(|f| f.name.as_str()).collect();
    // The output matrix (rows of 64) is llama.cpp's own fallback: it wants Q6_K there (rows of
    // 256) and gets Q8_0.
    assert_eq!(
        names,
        [
            "output.weight",
            "blk.0.ffn_down.weight",
            "blk.1.ffn_down.weight"
        ]
    );
    assert_eq!(
        (report.fallbacks[0].wanted, report.fallbacks[0].got),
        (GgmlType::Q6_K, GgmlType::Q8_0)
    );
    for f in &report.fallbacks[1..] {
        assert_eq!(f.wanted, GgmlType::Q4_0);
        assert_ne!(f.got, GgmlType::Q4_0);
        assert_eq!(f.dims[0], 48);
    }
    // The result still loads and answers.
    let model = LlamaCppModel::load(&out, LoadOptions::default()).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let request = ChatRequest::builder()
        .user("hi")
        .options(GenerationOptions::deterministic().with_max_tokens(5))
        .build();
    assert_eq!(
        rt.block_on(model.chat(request))
            .unwrap()
            .usage
            .completion_tokens,
        5
    );
}

#[test]
fn requantizing_needs_permission() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("again.gguf");
    let err = quantize(
        &common::tiny(QuantizeType::Q8_0),
        &out,
        &QuantizeOptions::new(QuantizeType::Q4_0),
    )
    .unwrap_err();
    assert!(
        matches!(err, slm_llamacpp::LlamaCppError::AlreadyQuantized { .. }),
        "{err}"
    );
    let allowed = QuantizeOptions {
        allow_requantize: true,
        ..QuantizeOptions::new(QuantizeType::Q4_0)
    };
    let report = quantize(&common::tiny(QuantizeType::Q8_0), &out, &allowed).unwrap();
    assert_eq!(report.dominant_type, GgmlType::Q4_0);
}

#[test]
fn the_writer_round_trips_through_the_reader() {
    let spec = TestModelSpec {
        seed: 9,
        weight_type: TestWeightType::F16,
        ..TestModelSpec::tiny()
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.gguf");
    write_test_model(&path, &spec).unwrap();
    let header = GgufHeader::read(&path).unwrap();
    let shapes = spec.tensor_shapes();
    assert_eq!(header.tensors.len(), shapes.len());
    for (t, (name, dims)) in header.tensors.iter().zip(&shapes) {
        assert_eq!(&t.name, name);
        assert_eq!(&t.dims, dims);
    }
    let (tokens, _, _) = spec.vocabulary();
    let stored = header
        .get("tokenizer.ggml.tokens")
        .unwrap()
        .as_array()
        .unwrap();
    assert_eq!(stored.len(), tokens.len());
    assert_eq!(stored[300].as_str(), Some(tokens[300].as_str()));
    // A different seed gives different weights, the same header.
    let other = dir.path().join("o.gguf");
    write_test_model(&other, &TestModelSpec { seed: 10, ..spec }).unwrap();
    assert_ne!(
        std::fs::read(&path).unwrap(),
        std::fs::read(&other).unwrap()
    );
    assert_eq!(
        GgufHeader::read(&other).unwrap().data_offset,
        header.data_offset
    );
}

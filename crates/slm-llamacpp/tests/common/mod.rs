//! Shared fixtures: generated models in a temporary directory that lives for the test binary.

#![allow(dead_code)]

pub mod schemas;

use std::path::PathBuf;
use std::sync::OnceLock;

use slm_llamacpp::testing::{TestModelSpec, write_test_model};
use slm_llamacpp::{QuantizeOptions, QuantizeType, quantize};

struct Models {
    _dir: tempfile::TempDir,
    f32: PathBuf,
    quantized: Vec<(QuantizeType, PathBuf)>,
}

fn models() -> &'static Models {
    static MODELS: OnceLock<Models> = OnceLock::new();
    MODELS.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let f32 = dir.path().join("tiny-f32.gguf");
        write_test_model(&f32, &TestModelSpec::tiny()).expect("write tiny model");
        let quantized = QUANTS
            .iter()
            .map(|&q| {
                let out = dir.path().join(format!("tiny-{q}.gguf"));
                quantize(&f32, &out, &QuantizeOptions::new(q)).expect("quantize");
                (q, out)
            })
            .collect();
        Models {
            _dir: dir,
            f32,
            quantized,
        }
    })
}

/// The quantizations every behaviour is checked on.
pub const QUANTS: [QuantizeType; 3] = [QuantizeType::Q4_0, QuantizeType::Q5_1, QuantizeType::Q8_0];

/// The tiny F32 model.
pub fn tiny_f32() -> PathBuf {
    models().f32.clone()
}

/// The tiny model quantized to `q`.
pub fn tiny(q: QuantizeType) -> PathBuf {
    models()
        .quantized
        .iter()
        .find(|(t, _)| *t == q)
        .map(|(_, p)| p.clone())
        .expect("a quantization from QUANTS")
}

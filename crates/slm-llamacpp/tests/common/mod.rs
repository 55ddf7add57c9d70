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

/// Asserts that `got` starts as `want` for at least `at_least` bytes (or all of `want`): the
/// check for answers decoded beside other sequences, where a near-tie late in an answer may go
/// the other way (bit for bit only alone). Returns whether the two are identical.
pub fn assert_starts_as(got: &str, want: &str, at_least: usize, what: &str) -> bool {
    let (g, w) = (got.as_bytes(), want.as_bytes());
    let shared = g.iter().zip(w).take_while(|(x, y)| x == y).count();
    assert!(
        shared >= at_least.min(w.len()),
        "{what}: {got:?} vs {want:?}"
    );
    g == w
}

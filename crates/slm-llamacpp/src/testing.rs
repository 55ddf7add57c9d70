//! Writes small llama-architecture GGUF models with random weights, for tests, examples and
//! benchmarks. Nothing is downloaded: a model is generated in milliseconds (tiny) or seconds
//! (Qwen2.5-0.5B-shaped), and the same [`TestModelSpec`] (seed included) always gives the same
//! bytes.
//!
//! The vocabulary is byte-level SentencePiece (`tokenizer.ggml.model = "llama"`): special tokens
//! (`<unk>`, `<s>`, `</s>`, `<|im_start|>`, `<|im_end|>`), the 256 byte tokens `<0x00>`..`<0xFF>`,
//! `▁` and the printable ASCII characters, then filler words (`▁a`, `▁b`, ... `▁ab`...) up to
//! `vocab_size`. Any text tokenizes (bytes are the fallback), and `<|im_end|>` is the
//! end-of-generation token. The chat template is ChatML ([`CHATML_TEMPLATE`], Qwen2.5's, with
//! tool support).
//!
//! ```
//! use slm_llamacpp::testing::{TestModelSpec, write_test_model};
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("tiny.gguf");
//! let spec = TestModelSpec::tiny();
//! write_test_model(&path, &spec).unwrap();
//! assert!(spec.parameter_count() < 160_000);
//! assert!(std::fs::metadata(&path).unwrap().len() > 4 * 100_000);
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::LlamaCppError;
use crate::gguf::{GgmlType, GgufValue, GgufWriter};

/// Qwen2.5's ChatML chat template (with tools in `<tools>` and calls in `<tool_call>` tags):
/// [`ChatTemplate::CHATML`](crate::ChatTemplate::CHATML), the template of generated models.
pub const CHATML_TEMPLATE: &str = crate::ChatTemplate::CHATML;

/// The special tokens of generated models, in id order (ids 0 to 4).
pub const SPECIAL_TOKENS: [&str; 5] = ["<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"];
/// Id of the first byte token `<0x00>`.
pub const FIRST_BYTE_TOKEN: u32 = SPECIAL_TOKENS.len() as u32;
/// Size of the smallest vocabulary: specials, 256 bytes, `▁` and printable ASCII.
pub const BASE_VOCAB_SIZE: u32 = FIRST_BYTE_TOKEN + 256 + 1 + 94;

const TOKEN_TYPE_NORMAL: i32 = 1;
const TOKEN_TYPE_UNKNOWN: i32 = 2;
const TOKEN_TYPE_CONTROL: i32 = 3;
const TOKEN_TYPE_BYTE: i32 = 6;

/// Element type of the generated weights.
///
/// ```
/// assert_eq!(slm_llamacpp::testing::TestWeightType::F16.ggml_type().name(), "f16");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TestWeightType {
    /// 32-bit floats (exact; small models).
    F32,
    /// 16-bit floats (the usual input of quantization).
    F16,
}

impl TestWeightType {
    /// The ggml type written to the file.
    ///
    /// ```
    /// assert_eq!(slm_llamacpp::testing::TestWeightType::F32.ggml_type().name(), "f32");
    /// ```
    pub fn ggml_type(self) -> GgmlType {
        match self {
            TestWeightType::F32 => GgmlType::F32,
            TestWeightType::F16 => GgmlType::F16,
        }
    }
}

/// The shape, vocabulary and seed of a generated model.
///
/// ```
/// use slm_llamacpp::testing::TestModelSpec;
/// let spec = TestModelSpec { seed: 7, ..TestModelSpec::tiny() };
/// assert_eq!(spec.n_embd % spec.n_head, 0);
/// let big = TestModelSpec::qwen2_5_0_5b_shaped();
/// assert_eq!(big.vocab_size, 151_936);
/// assert!(big.parameter_count() > 400_000_000);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestModelSpec {
    /// `general.name`.
    pub name: String,
    /// Tokens in the vocabulary (at least [`BASE_VOCAB_SIZE`]).
    pub vocab_size: u32,
    /// Embedding width.
    pub n_embd: u32,
    /// Transformer blocks.
    pub n_layer: u32,
    /// Attention heads.
    pub n_head: u32,
    /// Key/value heads (grouped-query attention when fewer than `n_head`).
    pub n_head_kv: u32,
    /// Feed-forward width.
    pub n_ff: u32,
    /// Trained context length written to the file.
    pub context_length: u32,
    /// Element type of the weights.
    pub weight_type: TestWeightType,
    /// Reuse the token embedding as output matrix (no `output.weight`), as Qwen2.5-0.5B does.
    pub tied_embeddings: bool,
    /// `tokenizer.chat_template`; `None` writes no template.
    pub chat_template: Option<String>,
    /// Seed of the random weights.
    pub seed: u64,
}

impl TestModelSpec {
    /// About 120k parameters (vocabulary 384, width 64, 2 layers, untied output): a load and a
    /// chat take milliseconds. F32 weights; every row is a multiple of 32, so it quantizes to any
    /// 32-block type.
    ///
    /// ```
    /// let spec = slm_llamacpp::testing::TestModelSpec::tiny();
    /// assert!((80_000..160_000).contains(&spec.parameter_count()));
    /// ```
    pub fn tiny() -> Self {
        Self {
            name: "slm-test-tiny".into(),
            vocab_size: 384,
            n_embd: 64,
            n_layer: 2,
            n_head: 4,
            n_head_kv: 4,
            n_ff: 128,
            context_length: 2048,
            weight_type: TestWeightType::F32,
            tied_embeddings: false,
            chat_template: Some(CHATML_TEMPLATE.to_string()),
            seed: 42,
        }
    }

    /// The shape of Qwen2.5-0.5B (vocabulary 151,936, width 896, 24 layers, 14 heads, 2 KV heads,
    /// feed-forward 4864, tied embeddings) with F16 weights, for benchmarks (about 1 GB).
    ///
    /// ```
    /// let spec = slm_llamacpp::testing::TestModelSpec::qwen2_5_0_5b_shaped();
    /// assert_eq!((spec.n_layer, spec.n_head, spec.n_head_kv), (24, 14, 2));
    /// ```
    pub fn qwen2_5_0_5b_shaped() -> Self {
        Self {
            name: "slm-test-qwen2.5-0.5b-shaped".into(),
            vocab_size: 151_936,
            n_embd: 896,
            n_layer: 24,
            n_head: 14,
            n_head_kv: 2,
            n_ff: 4864,
            context_length: 32768,
            weight_type: TestWeightType::F16,
            tied_embeddings: true,
            chat_template: Some(CHATML_TEMPLATE.to_string()),
            seed: 42,
        }
    }

    /// Width of one attention head.
    ///
    /// ```
    /// assert_eq!(slm_llamacpp::testing::TestModelSpec::tiny().head_dim(), 16);
    /// ```
    pub fn head_dim(&self) -> u32 {
        self.n_embd / self.n_head.max(1)
    }

    /// The tensors of the model: name and dims (ggml order, row length first).
    ///
    /// ```
    /// let t = slm_llamacpp::testing::TestModelSpec::tiny().tensor_shapes();
    /// assert_eq!(t[0].0, "token_embd.weight");
    /// ```
    pub fn tensor_shapes(&self) -> Vec<(String, Vec<u64>)> {
        let e = u64::from(self.n_embd);
        let kv = u64::from(self.head_dim() * self.n_head_kv);
        let ff = u64::from(self.n_ff);
        let mut shapes = vec![
            (
                "token_embd.weight".to_string(),
                vec![e, u64::from(self.vocab_size)],
            ),
            ("output_norm.weight".to_string(), vec![e]),
        ];
        if !self.tied_embeddings {
            shapes.push(("output.weight".into(), vec![e, u64::from(self.vocab_size)]));
        }
        for i in 0..self.n_layer {
            let blk = |n: &str| format!("blk.{i}.{n}.weight");
            shapes.extend([
                (blk("attn_norm"), vec![e]),
                (blk("attn_q"), vec![e, e]),
                (blk("attn_k"), vec![e, kv]),
                (blk("attn_v"), vec![e, kv]),
                (blk("attn_output"), vec![e, e]),
                (blk("ffn_norm"), vec![e]),
                (blk("ffn_gate"), vec![e, ff]),
                (blk("ffn_down"), vec![ff, e]),
                (blk("ffn_up"), vec![e, ff]),
            ]);
        }
        shapes
    }

    /// Number of parameters.
    ///
    /// ```
    /// assert!(slm_llamacpp::testing::TestModelSpec::tiny().parameter_count() > 0);
    /// ```
    pub fn parameter_count(&self) -> u64 {
        self.tensor_shapes()
            .iter()
            .map(|(_, dims)| dims.iter().product::<u64>())
            .sum()
    }

    fn validate(&self) -> Result<(), LlamaCppError> {
        let bad = |m: &str| Err(LlamaCppError::InvalidOption(format!("test model: {m}")));
        if self.vocab_size < BASE_VOCAB_SIZE {
            return bad(&format!("vocab_size must be at least {BASE_VOCAB_SIZE}"));
        }
        if self.n_embd == 0 || self.n_layer == 0 || self.n_head == 0 || self.n_ff == 0 {
            return bad("sizes must be positive");
        }
        if !self.n_embd.is_multiple_of(self.n_head) || !self.head_dim().is_multiple_of(2) {
            return bad("n_embd must be a multiple of n_head with an even head size");
        }
        if self.n_head_kv == 0 || !self.n_head.is_multiple_of(self.n_head_kv) {
            return bad("n_head must be a multiple of n_head_kv");
        }
        Ok(())
    }

    /// The vocabulary: token texts, scores and token types.
    ///
    /// ```
    /// let (tokens, _scores, types) = slm_llamacpp::testing::TestModelSpec::tiny().vocabulary();
    /// assert_eq!(tokens[4], "<|im_end|>");
    /// assert_eq!(tokens[5], "<0x00>");
    /// assert_eq!(types[5], 6); // byte token
    /// assert_eq!(tokens.len(), 384);
    /// ```
    pub fn vocabulary(&self) -> (Vec<String>, Vec<f32>, Vec<i32>) {
        let n = self.vocab_size as usize;
        let mut tokens = Vec::with_capacity(n);
        let mut types = Vec::with_capacity(n);
        for (i, s) in SPECIAL_TOKENS.iter().enumerate() {
            tokens.push(s.to_string());
            types.push(if i == 0 {
                TOKEN_TYPE_UNKNOWN
            } else {
                TOKEN_TYPE_CONTROL
            });
        }
        for b in 0..=255u8 {
            tokens.push(format!("<0x{b:02X}>"));
            types.push(TOKEN_TYPE_BYTE);
        }
        tokens.push("\u{2581}".into());
        types.push(TOKEN_TYPE_NORMAL);
        for c in '!'..='~' {
            tokens.push(c.to_string());
            types.push(TOKEN_TYPE_NORMAL);
        }
        let mut word = 0u64;
        while tokens.len() < n {
            word += 1;
            tokens.push(format!("\u{2581}{}", bijective_base26(word)));
            types.push(TOKEN_TYPE_NORMAL);
        }
        let scores = (0..n)
            .map(|i| {
                if i < BASE_VOCAB_SIZE as usize {
                    0.0
                } else {
                    -(i as f32)
                }
            })
            .collect();
        (tokens, scores, types)
    }

    fn metadata(&self) -> Vec<(String, GgufValue)> {
        let (tokens, scores, types) = self.vocabulary();
        let file_type = match self.weight_type {
            TestWeightType::F32 => 0,
            TestWeightType::F16 => 1,
        };
        let mut m: Vec<(String, GgufValue)> = vec![
            ("general.architecture".into(), "llama".into()),
            ("general.name".into(), self.name.clone().into()),
            ("general.file_type".into(), GgufValue::U32(file_type)),
            ("llama.vocab_size".into(), self.vocab_size.into()),
            ("llama.context_length".into(), self.context_length.into()),
            ("llama.embedding_length".into(), self.n_embd.into()),
            ("llama.block_count".into(), self.n_layer.into()),
            ("llama.feed_forward_length".into(), self.n_ff.into()),
            ("llama.attention.head_count".into(), self.n_head.into()),
            (
                "llama.attention.head_count_kv".into(),
                self.n_head_kv.into(),
            ),
            (
                "llama.attention.layer_norm_rms_epsilon".into(),
                GgufValue::F32(1e-6),
            ),
            ("llama.rope.freq_base".into(), GgufValue::F32(1_000_000.0)),
            ("llama.rope.dimension_count".into(), self.head_dim().into()),
            ("tokenizer.ggml.model".into(), "llama".into()),
            ("tokenizer.ggml.tokens".into(), GgufValue::strings(tokens)),
            ("tokenizer.ggml.scores".into(), GgufValue::f32s(scores)),
            ("tokenizer.ggml.token_type".into(), GgufValue::i32s(types)),
            ("tokenizer.ggml.unknown_token_id".into(), GgufValue::U32(0)),
            ("tokenizer.ggml.bos_token_id".into(), GgufValue::U32(1)),
            ("tokenizer.ggml.eos_token_id".into(), GgufValue::U32(4)),
            ("tokenizer.ggml.add_bos_token".into(), false.into()),
            ("tokenizer.ggml.add_eos_token".into(), false.into()),
            ("tokenizer.ggml.add_space_prefix".into(), false.into()),
        ];
        if let Some(template) = &self.chat_template {
            m.push(("tokenizer.chat_template".into(), template.clone().into()));
        }
        m
    }
}

/// `1 → a`, `26 → z`, `27 → aa`: short distinct words for filler tokens.
fn bijective_base26(mut n: u64) -> String {
    let mut out = Vec::new();
    while n > 0 {
        n -= 1;
        out.push(b'a' + (n % 26) as u8);
        n /= 26;
    }
    out.reverse();
    String::from_utf8(out).expect("ASCII")
}

/// SplitMix64: a tiny, fast generator whose output is fixed forever, so seeds stay reproducible.
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [-1, 1).
    pub(crate) fn next_symmetric(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32 / (1u64 << 23) as f32) - 1.0
    }
}

/// Writes a random-weight model described by `spec` to `path`.
///
/// Norm weights are 1; every other weight is uniform with a variance of about 1/fan-in (the
/// embedding: 1), drawn from `spec.seed` so the same spec gives the same file.
///
/// ```
/// use slm_llamacpp::testing::{TestModelSpec, write_test_model};
/// let dir = tempfile::tempdir().unwrap();
/// let (a, b) = (dir.path().join("a.gguf"), dir.path().join("b.gguf"));
/// write_test_model(&a, &TestModelSpec::tiny()).unwrap();
/// write_test_model(&b, &TestModelSpec::tiny()).unwrap();
/// assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
/// ```
pub fn write_test_model(path: &Path, spec: &TestModelSpec) -> Result<(), LlamaCppError> {
    spec.validate()?;
    let ggml_type = spec.weight_type.ggml_type();
    let shapes = spec.tensor_shapes();
    let tensors = shapes
        .iter()
        .map(|(name, dims)| {
            // Norm vectors stay F32, as in converted models.
            let t = if dims.len() == 1 {
                GgmlType::F32
            } else {
                ggml_type
            };
            (name.clone(), dims.clone(), t)
        })
        .collect();
    let mut writer = GgufWriter::create(path, spec.metadata(), tensors)?;
    let mut rng = SplitMix64::new(spec.seed);
    for (name, dims) in &shapes {
        let n = dims.iter().product::<u64>() as usize;
        if dims.len() == 1 {
            let ones: Vec<u8> = std::iter::repeat_n(1.0f32.to_le_bytes(), n)
                .flatten()
                .collect();
            writer.write_data(&ones)?;
            continue;
        }
        // Unit-variance inputs to every matrix product; the untied output matrix gives logits
        // of standard deviation ~2, so sampling is varied and greedy decoding does not merely
        // copy its input (as a tied random embedding would).
        let unit = (3.0 / dims[0] as f32).sqrt();
        let scale = match name.as_str() {
            "token_embd.weight" => 1.0,
            "output.weight" => 2.0 * unit,
            _ => unit,
        };
        write_random(&mut writer, &mut rng, n, scale, spec.weight_type)?;
    }
    writer.finish()
}

/// The matrices a test LoRA adapter changes, in every block.
pub const LORA_TARGETS: [&str; 7] = [
    "attn_q",
    "attn_k",
    "attn_v",
    "attn_output",
    "ffn_gate",
    "ffn_down",
    "ffn_up",
];

/// Writes a random LoRA adapter (GGUF, as llama.cpp's `convert_lora_to_gguf.py` writes them) for
/// models written from `base`: a rank-`rank` update `B·A` of every matrix in [`LORA_TARGETS`],
/// strong enough to change greedy output. The update is scaled by `alpha / rank` and by the
/// scale it is applied with.
///
/// ```
/// use slm_llamacpp::testing::{TestModelSpec, write_test_lora};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("adapter.gguf");
/// write_test_lora(&path, &TestModelSpec::tiny(), 4, 7).unwrap();
/// let header = slm_llamacpp::gguf::GgufHeader::read(&path).unwrap();
/// assert_eq!(header.get_str("adapter.type"), Some("lora"));
/// assert_eq!(header.tensors.len(), 2 * 7 * 2);
/// ```
pub fn write_test_lora(
    path: &Path,
    base: &TestModelSpec,
    rank: u32,
    seed: u64,
) -> Result<(), LlamaCppError> {
    base.validate()?;
    if rank == 0 {
        return Err(LlamaCppError::InvalidOption(
            "LoRA rank must be positive".into(),
        ));
    }
    let shapes: Vec<(String, Vec<u64>)> = base
        .tensor_shapes()
        .into_iter()
        .filter(|(name, _)| {
            LORA_TARGETS
                .iter()
                .any(|t| name.ends_with(&format!(".{t}.weight")))
        })
        .collect();
    let r = u64::from(rank);
    let mut tensors = Vec::new();
    for (name, dims) in &shapes {
        tensors.push((format!("{name}.lora_a"), vec![dims[0], r], GgmlType::F32));
        tensors.push((format!("{name}.lora_b"), vec![r, dims[1]], GgmlType::F32));
    }
    let metadata = vec![
        ("general.architecture".into(), "llama".into()),
        ("general.type".into(), "adapter".into()),
        ("general.name".into(), format!("{}-lora", base.name).into()),
        ("adapter.type".into(), "lora".into()),
        ("adapter.lora.alpha".into(), GgufValue::F32(rank as f32)),
    ];
    let mut writer = GgufWriter::create(path, metadata, tensors)?;
    let mut rng = SplitMix64::new(seed);
    for (_, dims) in &shapes {
        // A: unit-variance projections to rank dims; B: large enough to move every layer.
        let a_scale = (3.0 / dims[0] as f32).sqrt();
        write_random(
            &mut writer,
            &mut rng,
            (dims[0] * r) as usize,
            a_scale,
            TestWeightType::F32,
        )?;
        let b_scale = 2.0 * (3.0 / r as f32).sqrt();
        write_random(
            &mut writer,
            &mut rng,
            (r * dims[1]) as usize,
            b_scale,
            TestWeightType::F32,
        )?;
    }
    writer.finish()
}

pub(crate) fn write_random(
    writer: &mut GgufWriter,
    rng: &mut SplitMix64,
    n: usize,
    scale: f32,
    weight_type: TestWeightType,
) -> Result<(), LlamaCppError> {
    const CHUNK: usize = 1 << 16;
    let mut buf = Vec::with_capacity(CHUNK * 4);
    let mut left = n;
    while left > 0 {
        let take = left.min(CHUNK);
        buf.clear();
        for _ in 0..take {
            let v = rng.next_symmetric() * scale;
            match weight_type {
                TestWeightType::F32 => buf.extend_from_slice(&v.to_le_bytes()),
                TestWeightType::F16 => buf.extend_from_slice(&half::f16::from_f32(v).to_le_bytes()),
            }
        }
        writer.write_data(&buf)?;
        left -= take;
    }
    Ok(())
}

/// Whether the `CI` environment variable asks for strict tests: set to anything but empty, `0`
/// or `false` (case-insensitive).
///
/// ```
/// // The README's test command sets CI=true, so a missing prerequisite fails there.
/// let _strict = slm_llamacpp::testing::ci_is_strict();
/// ```
pub fn ci_is_strict() -> bool {
    match std::env::var("CI") {
        Ok(v) => {
            let v = v.trim().to_ascii_lowercase();
            !(v.is_empty() || v == "0" || v == "false")
        }
        Err(_) => false,
    }
}

/// The cached file of a real model for a test, or `None` after a loud `SKIPPED` line on stderr
/// when it is not downloaded. Under CI ([`ci_is_strict`]) a missing model panics instead, so a
/// real-model test can never vanish silently.
///
/// ```
/// use slm_llamacpp::{models, testing};
/// // In a test: `let Some(path) = testing::real_model(&models::SMOLLM2, "chat") else { return };`
/// # let _ = testing::ci_is_strict();
/// ```
pub fn real_model(model: &crate::models::KnownModel, test: &str) -> Option<std::path::PathBuf> {
    match model.locate() {
        Ok(path) => Some(path),
        Err(e) if ci_is_strict() => panic!("{test}: real model required under CI: {e}"),
        Err(e) => {
            eprintln!("\n*** SKIPPED {test}: {e}\n*** (set CI=true to make this a failure)\n");
            None
        }
    }
}

/// Faults a test can provoke in the worker (feature `fault-injection`, which this crate's own
/// tests enable; never in a normal build): a request whose prompt contains one of these markers
/// fails the way the marker says, so tests can show that a failure stays with its request.
///
/// ```
/// # #[cfg(feature = "fault-injection")] {
/// use slm_core::{ChatModel, ChatRequest, GenerationOptions};
/// use slm_llamacpp::{LlamaCppError, LlamaCppModel, LoadOptions};
/// use slm_llamacpp::testing::{TestModelSpec, faults, write_test_model};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("m.gguf");
/// write_test_model(&path, &TestModelSpec::tiny()).unwrap();
/// let model = LlamaCppModel::load(&path, LoadOptions::default()).unwrap();
/// let ask = |q: &str| ChatRequest::builder().user(q)
///     .options(GenerationOptions::deterministic().with_max_tokens(4)).build();
/// let rt = tokio::runtime::Runtime::new().unwrap();
/// let err = rt.block_on(model.chat(ask(faults::PANIC_AT_START))).unwrap_err();
/// assert!(err.to_string().contains("injected fault"), "{err}");
/// assert!(rt.block_on(model.chat(ask("hello"))).is_ok());
/// # }
/// ```
#[cfg(feature = "fault-injection")]
pub mod faults {
    /// Panics while the worker admits the request (after it took a sequence slot).
    pub const PANIC_AT_START: &str = "\u{1}slm-fault:panic-at-start\u{1}";
    /// Panics while sampling the request's second token.
    pub const PANIC_WHILE_SAMPLING: &str = "\u{1}slm-fault:panic-while-sampling\u{1}";
    /// Panics while assembling the finished answer.
    pub const PANIC_AT_FINISH: &str = "\u{1}slm-fault:panic-at-finish\u{1}";
    /// Clearing the request's KV cache slot before it starts fails.
    pub const KV_CLEAR_FAILS: &str = "\u{1}slm-fault:kv-clear-fails\u{1}";
    /// Cutting a shared prefix copied from another sequence back to its length fails.
    pub const KV_COPY_FAILS: &str = "\u{1}slm-fault:kv-copy-fails\u{1}";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filler_words_are_distinct_and_short() {
        assert_eq!(bijective_base26(1), "a");
        assert_eq!(bijective_base26(26), "z");
        assert_eq!(bijective_base26(27), "aa");
        let (tokens, _, _) = TestModelSpec::qwen2_5_0_5b_shaped().vocabulary();
        let unique: std::collections::HashSet<_> = tokens.iter().collect();
        assert_eq!(unique.len(), tokens.len());
    }

    #[test]
    fn random_values_are_centered_and_bounded() {
        let mut rng = SplitMix64::new(1);
        let values: Vec<f32> = (0..10_000).map(|_| rng.next_symmetric()).collect();
        assert!(values.iter().all(|v| (-1.0..1.0).contains(v)));
        let mean = values.iter().sum::<f32>() / values.len() as f32;
        assert!(mean.abs() < 0.05, "mean {mean}");
    }
}

//! A model file at a glance: architecture, size, quantization, context and memory needs.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::reader::GgufHeader;
use super::value::GgmlType;
use crate::LlamaCppError;

/// How many tensors and parameters use one ggml type.
///
/// ```
/// let s = slm_llamacpp::gguf::TensorTypeStats { tensors: 2, parameters: 100, bytes: 400 };
/// assert_eq!(s.parameters, 100);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TensorTypeStats {
    /// Tensors of this type.
    pub tensors: u64,
    /// Parameters stored in this type.
    pub parameters: u64,
    /// Bytes of data in this type.
    pub bytes: u64,
}

/// Estimated memory to run a model at a given context length (CPU, F16 KV cache).
///
/// ```
/// let m = slm_llamacpp::gguf::MemoryEstimate { context_length: 4096, weights_bytes: 10, kv_cache_bytes: 5, total_bytes: 15 };
/// assert_eq!(m.total_bytes, m.weights_bytes + m.kv_cache_bytes);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryEstimate {
    /// The context length the estimate is for.
    pub context_length: u64,
    /// Tensor data (memory-mapped from the file).
    pub weights_bytes: u64,
    /// Keys and values of every layer, in F16, for `context_length` tokens.
    pub kv_cache_bytes: u64,
    /// Weights plus KV cache (llama.cpp's compute buffers come on top: tens of MB).
    pub total_bytes: u64,
}

/// What a GGUF model file holds.
///
/// ```
/// use slm_llamacpp::testing::{TestModelSpec, write_test_model};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("tiny.gguf");
/// let spec = TestModelSpec::tiny();
/// write_test_model(&path, &spec).unwrap();
/// let info = slm_llamacpp::gguf::inspect(&path).unwrap();
/// assert_eq!(info.parameter_count, spec.parameter_count());
/// assert_eq!(info.dominant_type.name(), "f32");
/// assert_eq!(info.context_length, Some(2048));
/// let mem = info.memory_estimate(1024);
/// assert!(mem.kv_cache_bytes > 0 && mem.total_bytes > mem.weights_bytes);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GgufInfo {
    /// GGUF version.
    pub version: u32,
    /// `general.architecture`.
    pub architecture: String,
    /// `general.name`, when set.
    pub name: Option<String>,
    /// Size of the file in bytes.
    pub file_size: u64,
    /// Total parameters (elements of every tensor).
    pub parameter_count: u64,
    /// Per ggml type: tensors, parameters and bytes.
    pub tensor_types: BTreeMap<GgmlType, TensorTypeStats>,
    /// The type holding the most parameters among the 2-D weights: the quantization.
    pub dominant_type: GgmlType,
    /// `general.file_type` (llama.cpp's `llama_ftype`), when set.
    pub file_type: Option<u64>,
    /// Trained context length.
    pub context_length: Option<u64>,
    /// Embedding width.
    pub embedding_length: Option<u64>,
    /// Transformer blocks.
    pub block_count: Option<u64>,
    /// Attention heads.
    pub head_count: Option<u64>,
    /// Key/value heads.
    pub head_count_kv: Option<u64>,
    /// Tokens in the vocabulary.
    pub vocab_size: Option<u64>,
    /// `tokenizer.chat_template`.
    pub chat_template: Option<String>,
}

/// Reads a GGUF file's header and summarises it (no tensor data is read).
///
/// ```
/// let err = slm_llamacpp::gguf::inspect(std::path::Path::new("/nonexistent.gguf")).unwrap_err();
/// assert!(matches!(err, slm_llamacpp::LlamaCppError::NotFound { .. }));
/// ```
pub fn inspect(path: &Path) -> Result<GgufInfo, LlamaCppError> {
    let header = GgufHeader::read(path)?;
    Ok(GgufInfo::from_header(&header))
}

impl GgufInfo {
    /// Summarises an already read header.
    ///
    /// ```
    /// # use slm_llamacpp::gguf::{GgufHeader, GgufInfo};
    /// let h = GgufHeader { version: 3, metadata: vec![], tensors: vec![], alignment: 32, data_offset: 0, file_size: 0 };
    /// assert_eq!(GgufInfo::from_header(&h).parameter_count, 0);
    /// ```
    pub fn from_header(header: &GgufHeader) -> Self {
        let mut tensor_types: BTreeMap<GgmlType, TensorTypeStats> = BTreeMap::new();
        let mut matrix_params: BTreeMap<GgmlType, u64> = BTreeMap::new();
        for t in &header.tensors {
            let stats = tensor_types.entry(t.ggml_type).or_default();
            stats.tensors += 1;
            stats.parameters += t.n_elements();
            stats.bytes += t.n_bytes().unwrap_or(0);
            if t.dims.len() >= 2 {
                *matrix_params.entry(t.ggml_type).or_default() += t.n_elements();
            }
        }
        let dominant_type = matrix_params
            .iter()
            .max_by_key(|(_, n)| **n)
            .map(|(t, _)| *t)
            .unwrap_or(GgmlType::F32);
        let vocab_size = header
            .get("tokenizer.ggml.tokens")
            .and_then(|v| v.as_array())
            .map(|a| a.len() as u64);
        GgufInfo {
            version: header.version,
            architecture: header.architecture().unwrap_or("unknown").to_string(),
            name: header.get_str("general.name").map(str::to_string),
            file_size: header.file_size,
            parameter_count: tensor_types.values().map(|s| s.parameters).sum(),
            tensor_types,
            dominant_type,
            file_type: header.get_u64("general.file_type"),
            context_length: header.arch_u64("context_length"),
            embedding_length: header.arch_u64("embedding_length"),
            block_count: header.arch_u64("block_count"),
            head_count: header.arch_u64("attention.head_count"),
            head_count_kv: header
                .arch_u64("attention.head_count_kv")
                .or(header.arch_u64("attention.head_count")),
            vocab_size,
            chat_template: header
                .get_str("tokenizer.chat_template")
                .map(str::to_string),
        }
    }

    /// Weights plus an F16 KV cache for `context_length` tokens.
    ///
    /// ```
    /// # use slm_llamacpp::gguf::{GgufHeader, GgufInfo};
    /// # let h = GgufHeader { version: 3, metadata: vec![], tensors: vec![], alignment: 32, data_offset: 0, file_size: 0 };
    /// let info = GgufInfo::from_header(&h);
    /// assert_eq!(info.memory_estimate(4096).kv_cache_bytes, 0); // no shape known
    /// ```
    pub fn memory_estimate(&self, context_length: u64) -> MemoryEstimate {
        let weights_bytes = self.tensor_types.values().map(|s| s.bytes).sum();
        let kv_cache_bytes = match (
            self.embedding_length,
            self.block_count,
            self.head_count,
            self.head_count_kv,
        ) {
            (Some(embd), Some(layers), Some(heads), Some(kv)) if heads > 0 => {
                let kv_width = embd / heads * kv;
                2 * layers * context_length * kv_width * 2
            }
            _ => 0,
        };
        MemoryEstimate {
            context_length,
            weights_bytes,
            kv_cache_bytes,
            total_bytes: weights_bytes + kv_cache_bytes,
        }
    }
}

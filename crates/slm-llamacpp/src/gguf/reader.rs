//! Reads and validates a GGUF header (metadata and tensor table) in pure Rust.
//!
//! Every count and length is checked against the bytes the file really has before anything is
//! allocated, so a truncated or hostile file gives a typed error and never reaches llama.cpp.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::value::{GgmlType, GgufValue, type_id};
use crate::LlamaCppError;

/// The four bytes every GGUF file starts with.
pub const GGUF_MAGIC: [u8; 4] = *b"GGUF";
/// The GGUF versions llama.cpp reads.
pub const SUPPORTED_VERSIONS: std::ops::RangeInclusive<u32> = 2..=3;
/// The default alignment of tensor data.
pub const DEFAULT_ALIGNMENT: u64 = 32;
const MAX_DIMS: u32 = 4;

/// One entry of a GGUF tensor table.
///
/// ```
/// use slm_llamacpp::gguf::{GgmlType, GgufTensorInfo};
/// let t = GgufTensorInfo { name: "w".into(), dims: vec![64, 8], ggml_type: GgmlType::Q8_0, offset: 0 };
/// assert_eq!(t.n_elements(), 512);
/// assert_eq!(t.n_bytes(), Some(8 * 68));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GgufTensorInfo {
    /// Tensor name, e.g. `blk.0.attn_q.weight`.
    pub name: String,
    /// Sizes, innermost (row length) first, as ggml's `ne`.
    pub dims: Vec<u64>,
    /// Element type.
    pub ggml_type: GgmlType,
    /// Byte offset of the data, relative to the start of the data section.
    pub offset: u64,
}

impl GgufTensorInfo {
    /// Number of elements (product of the dims, saturating).
    ///
    /// ```
    /// # use slm_llamacpp::gguf::{GgmlType, GgufTensorInfo};
    /// let t = GgufTensorInfo { name: "b".into(), dims: vec![3], ggml_type: GgmlType::F32, offset: 0 };
    /// assert_eq!(t.n_elements(), 3);
    /// ```
    pub fn n_elements(&self) -> u64 {
        self.dims.iter().fold(1u64, |acc, &d| acc.saturating_mul(d))
    }

    /// Bytes of data, or `None` when the row length is not a multiple of the type's block size.
    ///
    /// ```
    /// # use slm_llamacpp::gguf::{GgmlType, GgufTensorInfo};
    /// let t = GgufTensorInfo { name: "b".into(), dims: vec![3], ggml_type: GgmlType::F16, offset: 0 };
    /// assert_eq!(t.n_bytes(), Some(6));
    /// ```
    pub fn n_bytes(&self) -> Option<u64> {
        let row = self.ggml_type.row_bytes(*self.dims.first()?)?;
        self.dims[1..]
            .iter()
            .try_fold(row, |acc, &d| acc.checked_mul(d))
    }
}

/// The parsed header of a GGUF file: version, metadata and tensor table.
///
/// ```
/// use slm_llamacpp::testing::{TestModelSpec, write_test_model};
/// use slm_llamacpp::gguf::GgufHeader;
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("tiny.gguf");
/// write_test_model(&path, &TestModelSpec::tiny()).unwrap();
/// let header = GgufHeader::read(&path).unwrap();
/// assert_eq!(header.get_str("general.architecture"), Some("llama"));
/// assert!(header.tensors.len() > 5);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GgufHeader {
    /// GGUF format version (2 or 3).
    pub version: u32,
    /// Metadata in file order.
    pub metadata: Vec<(String, GgufValue)>,
    /// The tensor table in file order.
    pub tensors: Vec<GgufTensorInfo>,
    /// Alignment of tensor data.
    pub alignment: u64,
    /// Where the data section starts.
    pub data_offset: u64,
    /// Size of the whole file.
    pub file_size: u64,
}

impl GgufHeader {
    /// Reads and validates the header of the file at `path`.
    ///
    /// Checks the magic, the version, every length against the file size, value and tensor
    /// types, dimensions, alignment, and that every tensor's data lies inside the file where
    /// ggml expects it.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("not.gguf");
    /// std::fs::write(&path, b"hello world, not a model").unwrap();
    /// let err = slm_llamacpp::gguf::GgufHeader::read(&path).unwrap_err();
    /// assert!(matches!(err, slm_llamacpp::LlamaCppError::NotGguf { .. }));
    /// ```
    pub fn read(path: &Path) -> Result<Self, LlamaCppError> {
        let file = File::open(path).map_err(|e| LlamaCppError::io(path, &e))?;
        let file_size = file
            .metadata()
            .map_err(|e| LlamaCppError::io(path, &e))?
            .len();
        if file_size == 0 {
            return Err(LlamaCppError::EmptyFile {
                path: path.to_path_buf(),
            });
        }
        let mut reader = HeaderReader {
            inner: BufReader::with_capacity(1 << 16, file),
            pos: 0,
            size: file_size,
            path: path.to_path_buf(),
        };
        reader.header()
    }

    /// Reads and validates a header held in memory, as [`GgufHeader::read`] reads a file of
    /// these bytes (`path` only names it in errors). For the fuzz targets.
    pub(crate) fn read_bytes(bytes: &[u8], path: &Path) -> Result<Self, LlamaCppError> {
        if bytes.is_empty() {
            return Err(LlamaCppError::EmptyFile {
                path: path.to_path_buf(),
            });
        }
        let mut reader = HeaderReader {
            inner: bytes,
            pos: 0,
            size: bytes.len() as u64,
            path: path.to_path_buf(),
        };
        reader.header()
    }

    /// The value of a metadata key.
    ///
    /// ```
    /// # use slm_llamacpp::gguf::{GgufHeader, GgufValue};
    /// let h = GgufHeader { version: 3, metadata: vec![("k".into(), GgufValue::U32(1))],
    ///     tensors: vec![], alignment: 32, data_offset: 0, file_size: 0 };
    /// assert_eq!(h.get("k"), Some(&GgufValue::U32(1)));
    /// ```
    pub fn get(&self, key: &str) -> Option<&GgufValue> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// A string metadata value.
    ///
    /// ```
    /// # use slm_llamacpp::gguf::{GgufHeader, GgufValue};
    /// let h = GgufHeader { version: 3, metadata: vec![("a".into(), "llama".into())],
    ///     tensors: vec![], alignment: 32, data_offset: 0, file_size: 0 };
    /// assert_eq!(h.get_str("a"), Some("llama"));
    /// ```
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(GgufValue::as_str)
    }

    /// An unsigned integer metadata value.
    ///
    /// ```
    /// # use slm_llamacpp::gguf::{GgufHeader, GgufValue};
    /// let h = GgufHeader { version: 3, metadata: vec![("n".into(), GgufValue::U32(9))],
    ///     tensors: vec![], alignment: 32, data_offset: 0, file_size: 0 };
    /// assert_eq!(h.get_u64("n"), Some(9));
    /// ```
    pub fn get_u64(&self, key: &str) -> Option<u64> {
        self.get(key).and_then(GgufValue::as_u64)
    }

    /// The architecture (`general.architecture`), e.g. `llama`.
    ///
    /// ```
    /// # use slm_llamacpp::gguf::GgufHeader;
    /// let h = GgufHeader { version: 3, metadata: vec![], tensors: vec![], alignment: 32, data_offset: 0, file_size: 0 };
    /// assert_eq!(h.architecture(), None);
    /// ```
    pub fn architecture(&self) -> Option<&str> {
        self.get_str("general.architecture")
    }

    /// An architecture-scoped integer such as `llama.block_count` (`arch_u64("block_count")`).
    ///
    /// ```
    /// # use slm_llamacpp::gguf::{GgufHeader, GgufValue};
    /// let h = GgufHeader { version: 3, metadata: vec![
    ///     ("general.architecture".into(), "llama".into()),
    ///     ("llama.block_count".into(), GgufValue::U32(2))],
    ///     tensors: vec![], alignment: 32, data_offset: 0, file_size: 0 };
    /// assert_eq!(h.arch_u64("block_count"), Some(2));
    /// ```
    pub fn arch_u64(&self, key: &str) -> Option<u64> {
        let arch = self.architecture()?;
        self.get_u64(&format!("{arch}.{key}"))
    }

    /// Checks what llama.cpp would otherwise assert on while loading a model: an architecture, a
    /// vocabulary, consistent attention shapes, and special-token ids inside the vocabulary.
    ///
    /// ```
    /// # use slm_llamacpp::gguf::GgufHeader;
    /// let h = GgufHeader { version: 3, metadata: vec![], tensors: vec![], alignment: 32, data_offset: 0, file_size: 0 };
    /// assert!(h.validate_for_loading(std::path::Path::new("x.gguf")).is_err());
    /// ```
    pub fn validate_for_loading(&self, path: &Path) -> Result<(), LlamaCppError> {
        let bad = |reason: String| LlamaCppError::UnsupportedModel {
            path: path.to_path_buf(),
            reason,
        };
        let arch = self
            .architecture()
            .ok_or_else(|| bad("no general.architecture".into()))?;
        if self.tensors.is_empty() {
            return Err(bad("the file has no tensors".into()));
        }
        let n_vocab = self
            .get("tokenizer.ggml.tokens")
            .and_then(GgufValue::as_array)
            .map(<[GgufValue]>::len)
            .ok_or_else(|| bad("no tokenizer.ggml.tokens vocabulary".into()))?;
        if n_vocab == 0 {
            return Err(bad("the vocabulary is empty".into()));
        }
        self.validate_vocabulary().map_err(bad)?;
        for key in [
            "bos_token_id",
            "eos_token_id",
            "unknown_token_id",
            "padding_token_id",
            "eot_token_id",
        ] {
            let full = format!("tokenizer.ggml.{key}");
            if let Some(id) = self.get_u64(&full)
                && id >= n_vocab as u64
                && id != u32::MAX as u64
            {
                return Err(bad(format!(
                    "{full} = {id} is outside the vocabulary ({n_vocab})"
                )));
            }
        }
        self.validate_hyperparameters(arch).map_err(bad)?;
        let embd = self.arch_u64("embedding_length");
        let heads = self.arch_u64("attention.head_count");
        let heads_kv = self.arch_u64("attention.head_count_kv");
        for (name, value) in [
            ("embedding_length", embd),
            ("attention.head_count", heads),
            ("context_length", self.arch_u64("context_length")),
        ] {
            if value == Some(0) {
                return Err(bad(format!("{arch}.{name} is 0")));
            }
            if value.is_some_and(|v| v > 1 << 24) {
                return Err(bad(format!("{arch}.{name} is absurdly large")));
            }
        }
        if let (Some(embd), Some(heads)) = (embd, heads)
            && embd % heads != 0
        {
            return Err(bad(format!(
                "embedding_length {embd} is not a multiple of head_count {heads}"
            )));
        }
        if let (Some(heads), Some(kv)) = (heads, heads_kv)
            && (kv == 0 || heads % kv != 0)
        {
            return Err(bad(format!(
                "head_count {heads} is not a multiple of head_count_kv {kv}"
            )));
        }
        Ok(())
    }
}

impl GgufHeader {
    /// Checks that the file is a LoRA adapter llama.cpp can read: `general.type = adapter`,
    /// `adapter.type = lora`, an alpha, and `*.lora_a`/`*.lora_b` matrix pairs.
    ///
    /// ```
    /// use slm_llamacpp::gguf::GgufHeader;
    /// use slm_llamacpp::testing::{TestModelSpec, write_test_lora, write_test_model};
    /// let dir = tempfile::tempdir().unwrap();
    /// let (model, lora) = (dir.path().join("m.gguf"), dir.path().join("l.gguf"));
    /// write_test_model(&model, &TestModelSpec::tiny()).unwrap();
    /// write_test_lora(&lora, &TestModelSpec::tiny(), 2, 1).unwrap();
    /// assert!(GgufHeader::read(&lora).unwrap().validate_lora(&lora).is_ok());
    /// assert!(GgufHeader::read(&model).unwrap().validate_lora(&model).is_err());
    /// ```
    pub fn validate_lora(&self, path: &Path) -> Result<(), LlamaCppError> {
        let bad = |reason: String| LlamaCppError::Lora(format!("{}: {reason}", path.display()));
        if self.get_str("general.type") != Some("adapter") {
            return Err(bad("general.type is not \"adapter\"".into()));
        }
        if self.get_str("adapter.type") != Some("lora") {
            return Err(bad("adapter.type is not \"lora\"".into()));
        }
        if !matches!(self.get("adapter.lora.alpha"), Some(GgufValue::F32(a)) if a.is_finite()) {
            return Err(bad(
                "adapter.lora.alpha is missing or not a finite f32".into()
            ));
        }
        if self.tensors.is_empty() {
            return Err(bad("the adapter has no tensors".into()));
        }
        for t in &self.tensors {
            let paired = t.name.ends_with(".lora_a") || t.name.ends_with(".lora_b");
            if !paired || t.dims.len() != 2 {
                return Err(bad(format!("unexpected tensor {:?} {:?}", t.name, t.dims)));
            }
        }
        Ok(())
    }

    /// llama.cpp asserts (aborts) on duplicate token texts and on byte tokens whose text is not
    /// `<0xXX>`; catch both here.
    fn validate_vocabulary(&self) -> Result<(), String> {
        let tokens = self
            .get("tokenizer.ggml.tokens")
            .and_then(GgufValue::as_array)
            .unwrap_or_default();
        if tokens.len() > i32::MAX as usize {
            return Err(format!(
                "{} tokens is more than llama.cpp can index",
                tokens.len()
            ));
        }
        let types = self
            .get("tokenizer.ggml.token_type")
            .and_then(GgufValue::as_array)
            .unwrap_or_default();
        let mut seen = HashSet::with_capacity(tokens.len());
        for (i, token) in tokens.iter().enumerate() {
            let text = token
                .as_str()
                .ok_or_else(|| format!("token {i} is not a string"))?;
            // llama.cpp renames empty tokens this way before indexing them.
            let key = if text.is_empty() {
                format!("[EMPTY_{i}]")
            } else {
                text.to_string()
            };
            if !seen.insert(key) {
                return Err(format!("token text {text:?} (id {i}) appears twice"));
            }
            const BYTE: i32 = 6;
            if matches!(types.get(i), Some(GgufValue::I32(BYTE))) && !is_byte_token_text(text) {
                return Err(format!("byte token {i} has text {text:?}, not <0xXX>"));
            }
        }
        Ok(())
    }
}

impl GgufHeader {
    /// The generic hyperparameters llama.cpp checks with `GGML_ASSERT` (an abort) rather than an
    /// exception: layer and expert counts and the rope scaling type.
    fn validate_hyperparameters(&self, arch: &str) -> Result<(), String> {
        const MAX_LAYERS: u64 = 512;
        const MAX_EXPERTS: u64 = 1024;
        let key = |k: &str| format!("{arch}.{k}");
        let int = |k: &str| -> Result<Option<u64>, String> {
            match self.get(&key(k)) {
                None => Ok(None),
                Some(v) => v
                    .as_u64()
                    .map(Some)
                    .ok_or_else(|| format!("{} must be a non-negative integer", key(k))),
            }
        };
        // A scalar, or an array with one value per layer: the largest value.
        let int_or_max = |k: &str| -> Result<Option<u64>, String> {
            match self.get(&key(k)) {
                Some(GgufValue::Array { items, .. }) => {
                    Ok(items.iter().filter_map(GgufValue::as_u64).max())
                }
                _ => int(k),
            }
        };
        let layers = int("block_count")?.unwrap_or(1);
        if !(1..=MAX_LAYERS).contains(&layers) {
            return Err(format!(
                "{} = {layers} is outside 1..={MAX_LAYERS}",
                key("block_count")
            ));
        }
        if int("nextn_predict_layers")?.unwrap_or(0) > layers {
            return Err(format!(
                "{} exceeds the block count",
                key("nextn_predict_layers")
            ));
        }
        for k in ["posnet.block_count", "convnext.block_count"] {
            if int(k)?.unwrap_or(0) > layers {
                return Err(format!("{} exceeds the block count", key(k)));
            }
        }
        let experts = int("expert_count")?.unwrap_or(0);
        let used = int_or_max("expert_used_count")?.unwrap_or(0);
        let groups = int("expert_group_count")?.unwrap_or(0);
        let groups_used = int("expert_group_used_count")?.unwrap_or(0);
        let experts_ok = if experts == 0 {
            used == 0 && groups == 0
        } else {
            experts <= MAX_EXPERTS
                && (1..=experts).contains(&used)
                && groups < experts
                && (groups == 0 || (experts % groups == 0 && (1..groups).contains(&groups_used)))
        };
        if !experts_ok {
            return Err(format!(
                "inconsistent experts: count {experts}, used {used}, groups {groups}, groups used {groups_used}"
            ));
        }
        if let Some(v) = self.get(&key("rope.scaling.type")) {
            match v.as_str() {
                Some("none" | "linear" | "yarn" | "longrope") => {}
                _ => {
                    return Err(format!(
                        "{} = {v:?} is not a known rope scaling",
                        key("rope.scaling.type")
                    ));
                }
            }
        }
        Ok(())
    }
}

fn is_byte_token_text(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 6
        && b.starts_with(b"<0x")
        && b[5] == b'>'
        && b[3].is_ascii_hexdigit()
        && b[4].is_ascii_hexdigit()
}

struct HeaderReader<R> {
    inner: R,
    pos: u64,
    size: u64,
    path: PathBuf,
}

impl<R: Read> HeaderReader<R> {
    fn malformed(&self, reason: impl Into<String>) -> LlamaCppError {
        LlamaCppError::MalformedGguf {
            path: self.path.clone(),
            offset: self.pos,
            reason: reason.into(),
        }
    }

    fn remaining(&self) -> u64 {
        self.size.saturating_sub(self.pos)
    }

    fn bytes(&mut self, n: u64, what: &str) -> Result<Vec<u8>, LlamaCppError> {
        if n > self.remaining() {
            return Err(self.malformed(format!(
                "truncated: {what} needs {n} bytes but only {} remain",
                self.remaining()
            )));
        }
        let mut buf = vec![0u8; n as usize];
        self.inner
            .read_exact(&mut buf)
            .map_err(|e| self.malformed(format!("reading {what}: {e}")))?;
        self.pos += n;
        Ok(buf)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], LlamaCppError> {
        let v = self.bytes(N as u64, what)?;
        Ok(v.try_into().expect("length checked"))
    }

    fn u32(&mut self, what: &str) -> Result<u32, LlamaCppError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &str) -> Result<u64, LlamaCppError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    fn string(&mut self, what: &str) -> Result<String, LlamaCppError> {
        let len = self.u64(what)?;
        let bytes = self.bytes(len, what)?;
        String::from_utf8(bytes).map_err(|_| self.malformed(format!("{what} is not UTF-8")))
    }

    fn header(&mut self) -> Result<GgufHeader, LlamaCppError> {
        if self.size < 4 {
            return Err(self.malformed(format!("truncated: the file has only {} bytes", self.size)));
        }
        let magic: [u8; 4] = self.array("magic")?;
        if magic != GGUF_MAGIC {
            return Err(LlamaCppError::NotGguf {
                path: self.path.clone(),
                magic,
            });
        }
        let version = self.u32("version")?;
        if !SUPPORTED_VERSIONS.contains(&version) {
            return Err(LlamaCppError::UnsupportedGgufVersion {
                path: self.path.clone(),
                version,
            });
        }
        let n_tensors = self.u64("tensor count")?;
        let n_kv = self.u64("metadata count")?;
        // Each metadata entry takes at least 12 bytes, each tensor entry at least 28.
        if n_kv > self.remaining() / 12 {
            return Err(self.malformed(format!("metadata count {n_kv} exceeds the file size")));
        }
        if n_tensors > self.remaining() / 28 {
            return Err(self.malformed(format!("tensor count {n_tensors} exceeds the file size")));
        }
        let metadata = self.metadata(n_kv)?;
        let alignment = match metadata.iter().find(|(k, _)| k == "general.alignment") {
            None => DEFAULT_ALIGNMENT,
            Some((_, GgufValue::U32(a))) if a.is_power_of_two() => u64::from(*a),
            Some(_) => return Err(self.malformed("general.alignment must be a power-of-two u32")),
        };
        let tensors = self.tensor_infos(n_tensors)?;
        let data_offset = self.pos.div_ceil(alignment) * alignment;
        let mut expected = 0u64;
        for t in &tensors {
            let n_bytes = t.n_bytes().ok_or_else(|| {
                self.malformed(format!(
                    "tensor {:?}: row length {} is not a multiple of {}'s block size",
                    t.name, t.dims[0], t.ggml_type
                ))
            })?;
            if t.offset != expected {
                return Err(self.malformed(format!(
                    "tensor {:?} has data offset {} where {} was expected",
                    t.name, t.offset, expected
                )));
            }
            let end = data_offset
                .checked_add(t.offset)
                .and_then(|o| o.checked_add(n_bytes))
                .filter(|&end| end <= self.size)
                .ok_or_else(|| {
                    self.malformed(format!(
                        "truncated: data of tensor {:?} ends beyond the file ({} bytes)",
                        t.name, self.size
                    ))
                })?;
            expected = (end - data_offset).div_ceil(alignment) * alignment;
        }
        Ok(GgufHeader {
            version,
            metadata,
            tensors,
            alignment,
            data_offset,
            file_size: self.size,
        })
    }

    fn metadata(&mut self, n_kv: u64) -> Result<Vec<(String, GgufValue)>, LlamaCppError> {
        let mut seen = HashSet::new();
        let mut metadata = Vec::with_capacity(n_kv as usize);
        for _ in 0..n_kv {
            let key = self.string("metadata key")?;
            if !seen.insert(key.clone()) {
                return Err(self.malformed(format!("duplicate metadata key {key:?}")));
            }
            let value_type = self.u32("value type")?;
            let value = self.value(value_type, &key)?;
            metadata.push((key, value));
        }
        Ok(metadata)
    }

    fn value(&mut self, value_type: u32, key: &str) -> Result<GgufValue, LlamaCppError> {
        Ok(match value_type {
            type_id::U8 => GgufValue::U8(self.array::<1>(key)?[0]),
            type_id::I8 => GgufValue::I8(self.array::<1>(key)?[0] as i8),
            type_id::U16 => GgufValue::U16(u16::from_le_bytes(self.array(key)?)),
            type_id::I16 => GgufValue::I16(i16::from_le_bytes(self.array(key)?)),
            type_id::U32 => GgufValue::U32(self.u32(key)?),
            type_id::I32 => GgufValue::I32(i32::from_le_bytes(self.array(key)?)),
            type_id::F32 => GgufValue::F32(f32::from_le_bytes(self.array(key)?)),
            type_id::BOOL => match self.array::<1>(key)?[0] {
                0 => GgufValue::Bool(false),
                1 => GgufValue::Bool(true),
                other => return Err(self.malformed(format!("{key}: bool byte {other}"))),
            },
            type_id::STRING => GgufValue::String(self.string(key)?),
            type_id::U64 => GgufValue::U64(self.u64(key)?),
            type_id::I64 => GgufValue::I64(i64::from_le_bytes(self.array(key)?)),
            type_id::F64 => GgufValue::F64(f64::from_le_bytes(self.array(key)?)),
            type_id::ARRAY => {
                let element_type = self.u32(key)?;
                let n = self.u64(key)?;
                let min_size = match element_type {
                    type_id::U8 | type_id::I8 | type_id::BOOL => 1,
                    type_id::U16 | type_id::I16 => 2,
                    type_id::U32 | type_id::I32 | type_id::F32 => 4,
                    type_id::U64 | type_id::I64 | type_id::F64 | type_id::STRING => 8,
                    other => {
                        return Err(self
                            .malformed(format!("{key}: arrays of type {other} are not allowed")));
                    }
                };
                if n > self.remaining() / min_size {
                    return Err(self.malformed(format!(
                        "{key}: array of {n} elements exceeds the file size"
                    )));
                }
                let items = (0..n)
                    .map(|_| self.value(element_type, key))
                    .collect::<Result<_, _>>()?;
                GgufValue::Array {
                    element_type,
                    items,
                }
            }
            other => return Err(self.malformed(format!("{key}: unknown value type {other}"))),
        })
    }

    fn tensor_infos(&mut self, n_tensors: u64) -> Result<Vec<GgufTensorInfo>, LlamaCppError> {
        let mut names = HashSet::new();
        let mut tensors = Vec::with_capacity(n_tensors as usize);
        for _ in 0..n_tensors {
            let name = self.string("tensor name")?;
            if name.len() >= 64 {
                return Err(self.malformed(format!("tensor name {name:?} is longer than 63 bytes")));
            }
            if !names.insert(name.clone()) {
                return Err(self.malformed(format!("duplicate tensor {name:?}")));
            }
            let n_dims = self.u32("tensor rank")?;
            if !(1..=MAX_DIMS).contains(&n_dims) {
                return Err(self.malformed(format!("tensor {name:?} has {n_dims} dimensions")));
            }
            let dims = (0..n_dims)
                .map(|_| self.u64("tensor dimension"))
                .collect::<Result<Vec<_>, _>>()?;
            let mut total: u64 = 1;
            for &d in &dims {
                total = total
                    .checked_mul(d)
                    .filter(|&t| d > 0 && t <= i64::MAX as u64)
                    .ok_or_else(|| {
                        self.malformed(format!("tensor {name:?} has absurd dimensions {dims:?}"))
                    })?;
            }
            let ggml_type = GgmlType(self.u32("tensor type")?);
            if !ggml_type.is_valid() {
                return Err(
                    self.malformed(format!("tensor {name:?} has unknown type {}", ggml_type.0))
                );
            }
            let offset = self.u64("tensor offset")?;
            tensors.push(GgufTensorInfo {
                name,
                dims,
                ggml_type,
                offset,
            });
        }
        Ok(tensors)
    }
}

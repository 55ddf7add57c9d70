//! Quantization through llama.cpp's own quantizer, with size reporting and fallback warnings.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::LlamaCppError;
use crate::gguf::{GgmlType, GgufHeader, GgufInfo, TensorTypeStats};

/// Target formats of [`quantize`] (llama.cpp's `llama_ftype`s that need no importance matrix).
///
/// Names parse case-insensitively, as llama.cpp's `llama-quantize` spells them.
///
/// K-quants (`Q*_K*`) pack rows in blocks of 256: a tensor whose rows are not a multiple of 256
/// gets llama.cpp's fallback type instead (Q4_K → Q5_0, Q5_K → Q5_1, Q6_K → Q8_0, Q2_K/Q3_K →
/// Q4_0; F16 when even that does not fit), which [`QuantizeReport::fallbacks`] lists. The
/// `_M`/`_L` mixes also give some tensors (e.g. `attn_v`, half of `ffn_down`, the output matrix)
/// a higher-precision type on purpose; those are not fallbacks.
///
/// ```
/// use slm_llamacpp::QuantizeType;
/// assert_eq!(QuantizeType::Q4_0.main_type().name(), "q4_0");
/// assert_eq!("q5_1".parse::<QuantizeType>().unwrap(), QuantizeType::Q5_1);
/// assert_eq!("q4_k_m".parse::<QuantizeType>().unwrap(), QuantizeType::Q4_K_M);
/// assert_eq!("Q6_k".parse::<QuantizeType>().unwrap(), QuantizeType::Q6_K);
/// assert_eq!(QuantizeType::Q4_K_M.to_string(), "Q4_K_M");
/// assert_eq!(QuantizeType::Q5_K_M.block_size(), 256);
/// assert!("q3".parse::<QuantizeType>().is_err());
/// ```
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum QuantizeType {
    /// 32-bit floats.
    F32,
    /// 16-bit floats.
    F16,
    /// bfloat16.
    BF16,
    /// 4-bit, blocks of 32 (scale).
    Q4_0,
    /// 4-bit, blocks of 32 (scale and minimum).
    Q4_1,
    /// 5-bit, blocks of 32 (scale).
    Q5_0,
    /// 5-bit, blocks of 32 (scale and minimum).
    Q5_1,
    /// 8-bit, blocks of 32.
    Q8_0,
    /// 2-bit K-quant mix.
    Q2_K,
    /// 3-bit K-quant, small.
    Q3_K_S,
    /// 3-bit K-quant, medium.
    Q3_K_M,
    /// 3-bit K-quant, large.
    Q3_K_L,
    /// 4-bit K-quant, small.
    Q4_K_S,
    /// 4-bit K-quant, medium.
    Q4_K_M,
    /// 5-bit K-quant, small.
    Q5_K_S,
    /// 5-bit K-quant, medium.
    Q5_K_M,
    /// 6-bit K-quant.
    Q6_K,
    /// 4-bit non-linear, blocks of 32.
    IQ4_NL,
    /// 4-bit non-linear, blocks of 256.
    IQ4_XS,
}

const ALL: [QuantizeType; 19] = [
    QuantizeType::F32,
    QuantizeType::F16,
    QuantizeType::BF16,
    QuantizeType::Q4_0,
    QuantizeType::Q4_1,
    QuantizeType::Q5_0,
    QuantizeType::Q5_1,
    QuantizeType::Q8_0,
    QuantizeType::Q2_K,
    QuantizeType::Q3_K_S,
    QuantizeType::Q3_K_M,
    QuantizeType::Q3_K_L,
    QuantizeType::Q4_K_S,
    QuantizeType::Q4_K_M,
    QuantizeType::Q5_K_S,
    QuantizeType::Q5_K_M,
    QuantizeType::Q6_K,
    QuantizeType::IQ4_NL,
    QuantizeType::IQ4_XS,
];

impl QuantizeType {
    /// Every supported target.
    ///
    /// ```
    /// assert!(slm_llamacpp::QuantizeType::all().contains(&slm_llamacpp::QuantizeType::Q8_0));
    /// ```
    pub fn all() -> &'static [QuantizeType] {
        &ALL
    }

    /// llama.cpp's `llama_ftype` value.
    ///
    /// ```
    /// assert_eq!(slm_llamacpp::QuantizeType::Q8_0.ftype(), 7);
    /// ```
    pub fn ftype(self) -> u32 {
        use llama_cpp_sys_2 as sys;
        match self {
            QuantizeType::F32 => sys::LLAMA_FTYPE_ALL_F32,
            QuantizeType::F16 => sys::LLAMA_FTYPE_MOSTLY_F16,
            QuantizeType::BF16 => sys::LLAMA_FTYPE_MOSTLY_BF16,
            QuantizeType::Q4_0 => sys::LLAMA_FTYPE_MOSTLY_Q4_0,
            QuantizeType::Q4_1 => sys::LLAMA_FTYPE_MOSTLY_Q4_1,
            QuantizeType::Q5_0 => sys::LLAMA_FTYPE_MOSTLY_Q5_0,
            QuantizeType::Q5_1 => sys::LLAMA_FTYPE_MOSTLY_Q5_1,
            QuantizeType::Q8_0 => sys::LLAMA_FTYPE_MOSTLY_Q8_0,
            QuantizeType::Q2_K => sys::LLAMA_FTYPE_MOSTLY_Q2_K,
            QuantizeType::Q3_K_S => sys::LLAMA_FTYPE_MOSTLY_Q3_K_S,
            QuantizeType::Q3_K_M => sys::LLAMA_FTYPE_MOSTLY_Q3_K_M,
            QuantizeType::Q3_K_L => sys::LLAMA_FTYPE_MOSTLY_Q3_K_L,
            QuantizeType::Q4_K_S => sys::LLAMA_FTYPE_MOSTLY_Q4_K_S,
            QuantizeType::Q4_K_M => sys::LLAMA_FTYPE_MOSTLY_Q4_K_M,
            QuantizeType::Q5_K_S => sys::LLAMA_FTYPE_MOSTLY_Q5_K_S,
            QuantizeType::Q5_K_M => sys::LLAMA_FTYPE_MOSTLY_Q5_K_M,
            QuantizeType::Q6_K => sys::LLAMA_FTYPE_MOSTLY_Q6_K,
            QuantizeType::IQ4_NL => sys::LLAMA_FTYPE_MOSTLY_IQ4_NL,
            QuantizeType::IQ4_XS => sys::LLAMA_FTYPE_MOSTLY_IQ4_XS,
        }
    }

    /// The tensor type most weights get.
    ///
    /// ```
    /// assert_eq!(slm_llamacpp::QuantizeType::Q4_K_M.main_type().name(), "q4_K");
    /// ```
    pub fn main_type(self) -> GgmlType {
        match self {
            QuantizeType::F32 => GgmlType::F32,
            QuantizeType::F16 => GgmlType::F16,
            QuantizeType::BF16 => GgmlType::BF16,
            QuantizeType::Q4_0 => GgmlType::Q4_0,
            QuantizeType::Q4_1 => GgmlType::Q4_1,
            QuantizeType::Q5_0 => GgmlType::Q5_0,
            QuantizeType::Q5_1 => GgmlType::Q5_1,
            QuantizeType::Q8_0 => GgmlType::Q8_0,
            QuantizeType::Q2_K => GgmlType(10),
            QuantizeType::Q3_K_S | QuantizeType::Q3_K_M | QuantizeType::Q3_K_L => GgmlType(11),
            QuantizeType::Q4_K_S | QuantizeType::Q4_K_M => GgmlType(12),
            QuantizeType::Q5_K_S | QuantizeType::Q5_K_M => GgmlType(13),
            QuantizeType::Q6_K => GgmlType::Q6_K,
            QuantizeType::IQ4_NL => GgmlType(20),
            QuantizeType::IQ4_XS => GgmlType(23),
        }
    }

    /// Elements per block of the main type: a row must be a multiple of it to get that type
    /// (1 for float types, 32 for Q4_0..Q8_0 and IQ4_NL, 256 for K-quants and IQ4_XS).
    ///
    /// ```
    /// use slm_llamacpp::QuantizeType;
    /// assert_eq!(QuantizeType::Q4_1.block_size(), 32);
    /// assert_eq!(QuantizeType::Q4_K_M.block_size(), 256);
    /// assert_eq!(QuantizeType::F16.block_size(), 1);
    /// ```
    pub fn block_size(self) -> u64 {
        self.main_type().block_size()
    }

    /// Whether the target is a quantized type (not F32, F16 or BF16).
    ///
    /// ```
    /// assert!(slm_llamacpp::QuantizeType::Q8_0.is_quantized());
    /// assert!(!slm_llamacpp::QuantizeType::F16.is_quantized());
    /// ```
    pub fn is_quantized(self) -> bool {
        self.main_type().is_quantized()
    }
}

impl std::fmt::Display for QuantizeType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = format!("{self:?}");
        f.write_str(&name)
    }
}

impl std::str::FromStr for QuantizeType {
    type Err = LlamaCppError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ALL.iter()
            .copied()
            .find(|t| t.to_string().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                LlamaCppError::InvalidOption(format!(
                    "unknown quantization {s:?} (known: {})",
                    ALL.map(|t| t.to_string()).join(", ")
                ))
            })
    }
}

/// Options of [`quantize`].
///
/// ```
/// let o = slm_llamacpp::QuantizeOptions::new(slm_llamacpp::QuantizeType::Q5_1);
/// assert_eq!(o.threads, None);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuantizeOptions {
    /// The target format.
    pub target: QuantizeType,
    /// Threads; `None` uses every hardware thread.
    pub threads: Option<u32>,
    /// Allow quantizing an already quantized file (loses quality).
    pub allow_requantize: bool,
    /// Quantize every tensor to the target type, without llama.cpp's higher-precision choices
    /// for sensitive tensors (e.g. the output matrix).
    pub pure: bool,
}

impl QuantizeOptions {
    /// Options for `target` with llama.cpp's defaults.
    ///
    /// ```
    /// assert!(!slm_llamacpp::QuantizeOptions::new(slm_llamacpp::QuantizeType::Q8_0).pure);
    /// ```
    pub fn new(target: QuantizeType) -> Self {
        Self {
            target,
            threads: None,
            allow_requantize: false,
            pure: false,
        }
    }
}

/// A tensor that did not get the target type because its rows do not split into whole blocks.
///
/// ```
/// use slm_llamacpp::{TensorFallback, gguf::GgmlType};
/// let f = TensorFallback { name: "blk.0.ffn_down.weight".into(), dims: vec![100, 64],
///     wanted: GgmlType::Q4_0, got: GgmlType::F16 };
/// assert_ne!(f.wanted, f.got);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TensorFallback {
    /// Tensor name.
    pub name: String,
    /// Its dims (row length first).
    pub dims: Vec<u64>,
    /// The type llama.cpp wanted (the target's main type, or the K-quant it picked for this
    /// tensor).
    pub wanted: GgmlType,
    /// The type llama.cpp used instead.
    pub got: GgmlType,
}

/// What a quantization did.
///
/// ```
/// use slm_llamacpp::{QuantizeOptions, QuantizeType, quantize};
/// use slm_llamacpp::testing::{TestModelSpec, write_test_model};
/// let dir = tempfile::tempdir().unwrap();
/// let (f32_path, q_path) = (dir.path().join("m.gguf"), dir.path().join("m-q8_0.gguf"));
/// write_test_model(&f32_path, &TestModelSpec::tiny()).unwrap();
/// let report = quantize(&f32_path, &q_path, &QuantizeOptions::new(QuantizeType::Q8_0)).unwrap();
/// assert!(report.output_bytes < report.input_bytes);
/// assert!(report.fallbacks.is_empty());
/// assert_eq!(report.dominant_type.name(), "q8_0");
/// assert!(!report.requantized);
/// assert_eq!(report.input_type.name(), "f32");
/// assert_eq!(report.quality_note(), None);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuantizeReport {
    /// The input file.
    pub input: PathBuf,
    /// The output file.
    pub output: PathBuf,
    /// The target format.
    pub target: QuantizeType,
    /// Input file size.
    pub input_bytes: u64,
    /// Output file size.
    pub output_bytes: u64,
    /// Wall time of the quantization.
    pub duration: Duration,
    /// The type of most weights in the input.
    pub input_type: GgmlType,
    /// Whether the input was already quantized (only possible with
    /// [`QuantizeOptions::allow_requantize`]): the output then carries the input's quantization
    /// error on top of its own, and is worse than the same target quantized from F16/F32.
    pub requantized: bool,
    /// The output's tensor types.
    pub tensor_types: BTreeMap<GgmlType, TensorTypeStats>,
    /// The type of most weights in the output.
    pub dominant_type: GgmlType,
    /// Tensors that fell back to another type because their rows are not a multiple of the
    /// block size of the type llama.cpp wanted for them (each also logged as a `tracing`
    /// warning): the target's main type, or a 256-block K-quant that llama.cpp picks for some
    /// tensors (Q6_K for the output matrix, Q4_K/Q6_K in `_M` mixes), inferred from the
    /// fallback type it got (Q5_0 ← Q4_K, Q5_1 ← Q5_K, Q8_0 ← Q6_K, Q4_0 ← Q3_K).
    pub fallbacks: Vec<TensorFallback>,
}

impl QuantizeReport {
    /// Output size as a fraction of the input size.
    ///
    /// ```
    /// use slm_llamacpp::{QuantizeReport, QuantizeType, gguf::GgmlType};
    /// let r = QuantizeReport { input: "in.gguf".into(), output: "out.gguf".into(),
    ///     target: QuantizeType::Q4_0, input_bytes: 100, output_bytes: 25,
    ///     duration: std::time::Duration::ZERO, input_type: GgmlType::F16, requantized: false,
    ///     tensor_types: Default::default(), dominant_type: GgmlType::Q4_0, fallbacks: vec![] };
    /// assert_eq!(r.size_ratio(), 0.25);
    /// ```
    pub fn size_ratio(&self) -> f64 {
        if self.input_bytes == 0 {
            return 0.0;
        }
        self.output_bytes as f64 / self.input_bytes as f64
    }

    /// A warning to show the user when the input was already quantized, else `None`.
    ///
    /// ```
    /// use slm_llamacpp::{QuantizeReport, QuantizeType, gguf::GgmlType};
    /// let r = QuantizeReport { input: "in.gguf".into(), output: "out.gguf".into(),
    ///     target: QuantizeType::Q8_0, input_bytes: 100, output_bytes: 120,
    ///     duration: std::time::Duration::ZERO, input_type: GgmlType::Q4_1, requantized: true,
    ///     tensor_types: Default::default(), dominant_type: GgmlType::Q8_0, fallbacks: vec![] };
    /// assert!(r.quality_note().unwrap().contains("requantized from Q4_1"));
    /// ```
    pub fn quality_note(&self) -> Option<String> {
        self.requantized.then(|| {
            format!(
                "requantized from {} to {}: the output keeps the input's quantization error and \
                 adds its own, so it is worse than {} made from the F16/F32 original (and never \
                 better than the input, even at a larger size)",
                self.input_type, self.target, self.target
            )
        })
    }
}

/// Quantizes `input` into `output` with llama.cpp's quantizer.
///
/// Before llama.cpp runs:
/// - the input header is validated (a malformed file never reaches llama.cpp);
/// - an `output` that is the input file itself (the same path, a symbolic link or a hard link
///   to it; compared by device and inode, and by canonical path) is refused with
///   [`LlamaCppError::QuantizeInPlace`]: llama.cpp would truncate the file it reads from;
/// - an input that is already quantized is refused with [`LlamaCppError::AlreadyQuantized`]
///   unless [`QuantizeOptions::allow_requantize`] is set (then [`QuantizeReport::requantized`]
///   says so).
///
/// Afterwards the output is read back to report its size, types and any tensor that fell back
/// to another type because its rows are not a multiple of the block size (32 for
/// Q4_0/Q5_1/Q8_0, 256 for K-quants). If llama.cpp fails, an output file it created is removed.
/// This blocks for as long as the quantization takes (seconds to minutes): from async code, call
/// it inside `tokio::task::spawn_blocking`.
///
/// ```
/// use slm_llamacpp::{LlamaCppError, QuantizeOptions, QuantizeType, quantize};
/// use slm_llamacpp::testing::{TestModelSpec, write_test_model};
/// let dir = tempfile::tempdir().unwrap();
/// let bad = dir.path().join("bad.gguf");
/// std::fs::write(&bad, b"GGUF").unwrap();
/// let err = quantize(&bad, &dir.path().join("out.gguf"), &QuantizeOptions::new(QuantizeType::Q4_0)).unwrap_err();
/// assert!(matches!(err, LlamaCppError::MalformedGguf { .. }));
///
/// // Quantizing onto the input itself is refused before anything is written.
/// let model = dir.path().join("m.gguf");
/// write_test_model(&model, &TestModelSpec::tiny()).unwrap();
/// let err = quantize(&model, &model, &QuantizeOptions::new(QuantizeType::Q8_0)).unwrap_err();
/// assert!(matches!(err, LlamaCppError::QuantizeInPlace { .. }));
///
/// // Requantizing needs permission, and the report says it happened.
/// let q8 = dir.path().join("m-q8_0.gguf");
/// quantize(&model, &q8, &QuantizeOptions::new(QuantizeType::Q8_0)).unwrap();
/// let q4 = dir.path().join("m-q4_0.gguf");
/// let err = quantize(&q8, &q4, &QuantizeOptions::new(QuantizeType::Q4_0)).unwrap_err();
/// assert!(matches!(err, LlamaCppError::AlreadyQuantized { .. }));
/// assert!(err.to_string().contains("allow_requantize"));
/// let options = QuantizeOptions { allow_requantize: true, ..QuantizeOptions::new(QuantizeType::Q4_0) };
/// let report = quantize(&q8, &q4, &options).unwrap();
/// assert!(report.requantized && report.quality_note().is_some());
/// ```
pub fn quantize(
    input: &Path,
    output: &Path,
    options: &QuantizeOptions,
) -> Result<QuantizeReport, LlamaCppError> {
    let header = GgufHeader::read(input)?;
    header.validate_for_loading(input)?;
    if is_same_file(input, output)? {
        return Err(LlamaCppError::QuantizeInPlace {
            input: input.to_path_buf(),
            output: output.to_path_buf(),
        });
    }
    let input_info = GgufInfo::from_header(&header);
    let quantized_tensor = header
        .tensors
        .iter()
        .find(|t| t.dims.len() >= 2 && t.ggml_type.is_quantized());
    let requantized = quantized_tensor.is_some();
    if let Some(t) = quantized_tensor.filter(|_| !options.allow_requantize) {
        let input_type = if input_info.dominant_type.is_quantized() {
            input_info.dominant_type
        } else {
            t.ggml_type
        };
        return Err(LlamaCppError::AlreadyQuantized {
            path: input.to_path_buf(),
            input_type,
            target: options.target,
        });
    }
    crate::backend()?;
    let to_c = |p: &Path| {
        p.to_str()
            .and_then(|s| CString::new(s).ok())
            .ok_or_else(|| LlamaCppError::InvalidOption(format!("unusable path {}", p.display())))
    };
    let (c_in, c_out) = (to_c(input)?, to_c(output)?);
    // SAFETY: returns a plain struct of defaults.
    let mut params = unsafe { llama_cpp_sys_2::llama_model_quantize_default_params() };
    params.ftype = options.target.ftype();
    params.nthread = options.threads.map_or(0, |t| t as i32);
    params.allow_requantize = options.allow_requantize;
    params.pure_ = options.pure;
    let output_existed = output.exists();
    let started = Instant::now();
    // SAFETY: valid NUL-terminated paths and a params struct that outlives the call; llama.cpp
    // catches its own exceptions and reports them as a non-zero return. The output is not the
    // input (checked above), so llama.cpp never truncates the file it has memory-mapped.
    let status =
        unsafe { llama_cpp_sys_2::llama_model_quantize(c_in.as_ptr(), c_out.as_ptr(), &params) };
    let duration = started.elapsed();
    if status != 0 {
        if !output_existed {
            let _ = std::fs::remove_file(output);
        }
        return Err(LlamaCppError::Quantize(format!(
            "llama.cpp could not quantize {} to {} (status {status}; see the llama-cpp-2 tracing logs)",
            input.display(),
            options.target
        )));
    }
    let out_header = GgufHeader::read(output)?;
    let fallbacks = fallbacks(&header, &out_header, options.target.main_type());
    for f in &fallbacks {
        tracing::warn!(
            tensor = %f.name,
            row = f.dims[0],
            block = f.wanted.block_size(),
            "tensor kept as {} instead of {}: its rows are not a multiple of the block size",
            f.got,
            f.wanted
        );
    }
    let info = GgufInfo::from_header(&out_header);
    let report = QuantizeReport {
        input: input.to_path_buf(),
        output: output.to_path_buf(),
        target: options.target,
        input_bytes: header.file_size,
        output_bytes: out_header.file_size,
        duration,
        input_type: input_info.dominant_type,
        requantized,
        tensor_types: info.tensor_types,
        dominant_type: info.dominant_type,
        fallbacks,
    };
    if let Some(note) = report.quality_note() {
        tracing::warn!(input = %input.display(), "{note}");
    }
    Ok(report)
}

/// Whether `output` names the file `input` (same path, or a symbolic or hard link to it).
fn is_same_file(input: &Path, output: &Path) -> Result<bool, LlamaCppError> {
    let input_meta = std::fs::metadata(input).map_err(|e| LlamaCppError::io(input, &e))?;
    let output_meta = match std::fs::metadata(output) {
        Ok(meta) => meta,
        // No file there (or a dangling link): llama.cpp creates a new file.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(LlamaCppError::io(output, &e)),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if (input_meta.dev(), input_meta.ino()) == (output_meta.dev(), output_meta.ino()) {
            return Ok(true);
        }
    }
    #[cfg(not(unix))]
    let _ = (&input_meta, &output_meta);
    let canonical = |p: &Path| std::fs::canonicalize(p).map_err(|e| LlamaCppError::io(p, &e));
    Ok(canonical(input)? == canonical(output)?)
}

/// The 256-block type whose llama.cpp fallback is `got` (`tensor_type_fallback` in
/// llama-quant.cpp: Q4_K → Q5_0, Q5_K → Q5_1, Q6_K → Q8_0, Q2_K/Q3_K → Q4_0, IQ4_XS and the
/// other 256-block IQ types → IQ4_NL).
fn k_quant_falling_back_to(got: GgmlType) -> Option<GgmlType> {
    match got {
        GgmlType::Q5_0 => Some(GgmlType(12)),
        GgmlType::Q5_1 => Some(GgmlType(13)),
        GgmlType::Q8_0 => Some(GgmlType::Q6_K),
        GgmlType::Q4_0 => Some(GgmlType(11)),
        GgmlType(20) => Some(GgmlType(23)),
        _ => None,
    }
}

/// Tensors whose type is llama.cpp's fallback for a type their rows do not fit: the target's
/// main type (rows not a multiple of its block), or a 256-block type llama.cpp picks for some
/// tensors (e.g. Q6_K for the output matrix, Q4_K/Q6_K in `_M` mixes) and replaced because the
/// rows are not a multiple of 256. Tensors already in that type in a quantized input are not
/// counted (they were copied, not converted).
fn fallbacks(input: &GgufHeader, output: &GgufHeader, main: GgmlType) -> Vec<TensorFallback> {
    let block = main.block_size();
    if block <= 1 {
        return Vec::new();
    }
    output
        .tensors
        .iter()
        .filter(|t| t.dims.len() >= 2 && t.ggml_type != main)
        .filter_map(|t| {
            let row = t.dims[0];
            let k_quant = k_quant_falling_back_to(t.ggml_type).filter(|_| row % 256 != 0);
            match k_quant {
                Some(k_quant) => Some((t, k_quant)),
                None => (row % block != 0).then_some((t, main)),
            }
        })
        .filter(|(t, _)| {
            // Only tensors that were not already in their final type in the input.
            input
                .tensors
                .iter()
                .find(|i| i.name == t.name)
                .is_some_and(|i| i.ggml_type != t.ggml_type || !i.ggml_type.is_quantized())
        })
        .map(|(t, wanted)| TensorFallback {
            name: t.name.clone(),
            dims: t.dims.clone(),
            wanted,
            got: t.ggml_type,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_parses_back_from_its_name_in_any_case() {
        for &t in QuantizeType::all() {
            let name = t.to_string();
            assert_eq!(name.parse::<QuantizeType>().unwrap(), t);
            assert_eq!(name.to_lowercase().parse::<QuantizeType>().unwrap(), t);
        }
        for (name, t) in [
            ("q4_k_m", QuantizeType::Q4_K_M),
            ("Q5_k_M", QuantizeType::Q5_K_M),
            ("q6_k", QuantizeType::Q6_K),
            ("q4_1", QuantizeType::Q4_1),
        ] {
            assert_eq!(name.parse::<QuantizeType>().unwrap(), t);
        }
        let err = "q4_k_x".parse::<QuantizeType>().unwrap_err();
        assert!(err.to_string().contains("Q4_K_M"), "{err}");
    }

    fn header(tensors: &[(&str, u64, GgmlType)]) -> GgufHeader {
        use crate::gguf::GgufTensorInfo;
        GgufHeader {
            tensors: tensors
                .iter()
                .map(|&(name, row, ggml_type)| GgufTensorInfo {
                    name: name.into(),
                    dims: vec![row, 64],
                    ggml_type,
                    offset: 0,
                })
                .collect(),
            version: 3,
            metadata: Vec::new(),
            alignment: 32,
            data_offset: 0,
            file_size: 0,
        }
    }

    #[test]
    fn fallbacks_name_the_type_llama_cpp_wanted() {
        let q4_k = GgmlType(12);
        let input = header(&[
            ("a", 576, GgmlType::F16),
            ("b", 576, GgmlType::F16),
            ("c", 512, GgmlType::F16),
            ("d", 100, GgmlType::F16),
            ("e", 576, GgmlType::Q8_0),
        ]);
        let output = header(&[
            ("a", 576, GgmlType::Q5_0), // Q4_K -> Q5_0
            ("b", 576, GgmlType::Q8_0), // Q6_K (an _M mix's choice) -> Q8_0
            ("c", 512, GgmlType::Q6_K), // chosen on purpose, fits: not a fallback
            ("d", 100, GgmlType::F16),  // nothing fits rows of 100
            ("e", 576, GgmlType::Q8_0), // copied from a quantized input
        ]);
        let found: Vec<(String, GgmlType, GgmlType)> = fallbacks(&input, &output, q4_k)
            .into_iter()
            .map(|f| (f.name, f.wanted, f.got))
            .collect();
        assert_eq!(
            found,
            [
                ("a".to_string(), q4_k, GgmlType::Q5_0),
                ("b".to_string(), GgmlType::Q6_K, GgmlType::Q8_0),
                ("d".to_string(), q4_k, GgmlType::F16),
            ]
        );
        // A Q4_0 target: the output matrix llama.cpp wanted as Q6_K got Q8_0.
        let input = header(&[("output.weight", 64, GgmlType::F32)]);
        let output = header(&[("output.weight", 64, GgmlType::Q8_0)]);
        let found = fallbacks(&input, &output, GgmlType::Q4_0);
        assert_eq!(found.len(), 1);
        assert_eq!(
            (found[0].wanted, found[0].got),
            (GgmlType::Q6_K, GgmlType::Q8_0)
        );
    }

    #[test]
    fn k_quants_need_rows_of_256() {
        for t in [
            QuantizeType::Q4_K_M,
            QuantizeType::Q5_K_M,
            QuantizeType::Q6_K,
        ] {
            assert_eq!(t.block_size(), 256, "{t}");
            assert!(t.is_quantized());
        }
        assert_eq!(QuantizeType::Q4_1.block_size(), 32);
    }

    #[test]
    fn same_file_is_found_through_links_and_not_for_other_files() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.gguf");
        let b = dir.path().join("b.gguf");
        std::fs::write(&a, b"model").unwrap();
        std::fs::write(&b, b"model").unwrap();
        assert!(is_same_file(&a, &a).unwrap());
        assert!(!is_same_file(&a, &b).unwrap());
        assert!(!is_same_file(&a, &dir.path().join("new.gguf")).unwrap());
        #[cfg(unix)]
        {
            let soft = dir.path().join("soft.gguf");
            std::os::unix::fs::symlink(&a, &soft).unwrap();
            assert!(is_same_file(&a, &soft).unwrap());
            assert!(is_same_file(&soft, &a).unwrap());
            let dangling = dir.path().join("dangling.gguf");
            std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
            assert!(!is_same_file(&a, &dangling).unwrap());
        }
        let hard = dir.path().join("hard.gguf");
        std::fs::hard_link(&a, &hard).unwrap();
        assert!(is_same_file(&a, &hard).unwrap());
        let err = is_same_file(&dir.path().join("missing.gguf"), &a).unwrap_err();
        assert!(matches!(err, LlamaCppError::NotFound { .. }));
    }
}

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
/// ```
/// use slm_llamacpp::QuantizeType;
/// assert_eq!(QuantizeType::Q4_0.main_type().name(), "q4_0");
/// assert_eq!("q5_1".parse::<QuantizeType>().unwrap(), QuantizeType::Q5_1);
/// assert_eq!(QuantizeType::Q4_K_M.to_string(), "Q4_K_M");
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
    /// The target type.
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
    /// The output's tensor types.
    pub tensor_types: BTreeMap<GgmlType, TensorTypeStats>,
    /// The type of most weights in the output.
    pub dominant_type: GgmlType,
    /// Tensors that fell back to another type because their rows are not a multiple of the
    /// target's block size (each also logged as a `tracing` warning).
    pub fallbacks: Vec<TensorFallback>,
}

impl QuantizeReport {
    /// Output size as a fraction of the input size.
    ///
    /// ```
    /// use slm_llamacpp::{QuantizeReport, QuantizeType, gguf::GgmlType};
    /// let r = QuantizeReport { input: "in.gguf".into(), output: "out.gguf".into(),
    ///     target: QuantizeType::Q4_0, input_bytes: 100, output_bytes: 25,
    ///     duration: std::time::Duration::ZERO, tensor_types: Default::default(),
    ///     dominant_type: GgmlType::Q4_0, fallbacks: vec![] };
    /// assert_eq!(r.size_ratio(), 0.25);
    /// ```
    pub fn size_ratio(&self) -> f64 {
        if self.input_bytes == 0 {
            return 0.0;
        }
        self.output_bytes as f64 / self.input_bytes as f64
    }
}

/// Quantizes `input` into `output` with llama.cpp's quantizer.
///
/// The input header is validated first (a malformed file never reaches llama.cpp). Afterwards
/// the output is read back to report its size, types and any tensor that fell back to another
/// type because its rows are not a multiple of the block size (32 for Q4_0/Q5_1/Q8_0, 256 for
/// K-quants).
///
/// ```
/// use slm_llamacpp::{LlamaCppError, QuantizeOptions, QuantizeType, quantize};
/// let dir = tempfile::tempdir().unwrap();
/// let bad = dir.path().join("bad.gguf");
/// std::fs::write(&bad, b"GGUF").unwrap();
/// let err = quantize(&bad, &dir.path().join("out.gguf"), &QuantizeOptions::new(QuantizeType::Q4_0)).unwrap_err();
/// assert!(matches!(err, LlamaCppError::MalformedGguf { .. }));
/// ```
pub fn quantize(
    input: &Path,
    output: &Path,
    options: &QuantizeOptions,
) -> Result<QuantizeReport, LlamaCppError> {
    let header = GgufHeader::read(input)?;
    header.validate_for_loading(input)?;
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
    let started = Instant::now();
    // SAFETY: valid NUL-terminated paths and a params struct that outlives the call; llama.cpp
    // catches its own exceptions and reports them as a non-zero return.
    let status =
        unsafe { llama_cpp_sys_2::llama_model_quantize(c_in.as_ptr(), c_out.as_ptr(), &params) };
    let duration = started.elapsed();
    if status != 0 {
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
    Ok(QuantizeReport {
        input: input.to_path_buf(),
        output: output.to_path_buf(),
        target: options.target,
        input_bytes: header.file_size,
        output_bytes: out_header.file_size,
        duration,
        tensor_types: info.tensor_types,
        dominant_type: info.dominant_type,
        fallbacks,
    })
}

fn fallbacks(input: &GgufHeader, output: &GgufHeader, wanted: GgmlType) -> Vec<TensorFallback> {
    let block = wanted.block_size();
    if block <= 1 {
        return Vec::new();
    }
    output
        .tensors
        .iter()
        .filter(|t| t.dims.len() >= 2 && t.dims[0] % block != 0 && t.ggml_type != wanted)
        .filter(|t| {
            // Only tensors that were not already in their final type in the input.
            input
                .tensors
                .iter()
                .find(|i| i.name == t.name)
                .is_some_and(|i| i.ggml_type != t.ggml_type || !i.ggml_type.is_quantized())
        })
        .map(|t| TensorFallback {
            name: t.name.clone(),
            dims: t.dims.clone(),
            wanted,
            got: t.ggml_type,
        })
        .collect()
}

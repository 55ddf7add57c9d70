//! GGUF metadata values and ggml tensor types.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One metadata value of a GGUF file.
///
/// ```
/// use slm_llamacpp::gguf::GgufValue;
/// let v = GgufValue::from("llama");
/// assert_eq!(v.as_str(), Some("llama"));
/// assert_eq!(GgufValue::U32(7).as_u64(), Some(7));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum GgufValue {
    /// `uint8`
    U8(u8),
    /// `int8`
    I8(i8),
    /// `uint16`
    U16(u16),
    /// `int16`
    I16(i16),
    /// `uint32`
    U32(u32),
    /// `int32`
    I32(i32),
    /// `float32`
    F32(f32),
    /// `bool`
    Bool(bool),
    /// `string`
    String(String),
    /// `array` of values of one type (`element_type` is the GGUF type id of the elements).
    Array {
        /// The GGUF type id of every element.
        element_type: u32,
        /// The elements.
        items: Vec<GgufValue>,
    },
    /// `uint64`
    U64(u64),
    /// `int64`
    I64(i64),
    /// `float64`
    F64(f64),
}

/// GGUF value type ids as written in files.
pub(crate) mod type_id {
    pub const U8: u32 = 0;
    pub const I8: u32 = 1;
    pub const U16: u32 = 2;
    pub const I16: u32 = 3;
    pub const U32: u32 = 4;
    pub const I32: u32 = 5;
    pub const F32: u32 = 6;
    pub const BOOL: u32 = 7;
    pub const STRING: u32 = 8;
    pub const ARRAY: u32 = 9;
    pub const U64: u32 = 10;
    pub const I64: u32 = 11;
    pub const F64: u32 = 12;
}

impl GgufValue {
    /// The GGUF type id of this value.
    ///
    /// ```
    /// assert_eq!(slm_llamacpp::gguf::GgufValue::from("x").type_id(), 8);
    /// ```
    pub fn type_id(&self) -> u32 {
        match self {
            GgufValue::U8(_) => type_id::U8,
            GgufValue::I8(_) => type_id::I8,
            GgufValue::U16(_) => type_id::U16,
            GgufValue::I16(_) => type_id::I16,
            GgufValue::U32(_) => type_id::U32,
            GgufValue::I32(_) => type_id::I32,
            GgufValue::F32(_) => type_id::F32,
            GgufValue::Bool(_) => type_id::BOOL,
            GgufValue::String(_) => type_id::STRING,
            GgufValue::Array { .. } => type_id::ARRAY,
            GgufValue::U64(_) => type_id::U64,
            GgufValue::I64(_) => type_id::I64,
            GgufValue::F64(_) => type_id::F64,
        }
    }

    /// An array of strings.
    ///
    /// ```
    /// let v = slm_llamacpp::gguf::GgufValue::strings(["a", "b"]);
    /// assert_eq!(v.as_array().unwrap().len(), 2);
    /// ```
    pub fn strings<S: Into<String>>(items: impl IntoIterator<Item = S>) -> Self {
        GgufValue::Array {
            element_type: type_id::STRING,
            items: items
                .into_iter()
                .map(|s| GgufValue::String(s.into()))
                .collect(),
        }
    }

    /// An array of `f32`.
    ///
    /// ```
    /// let v = slm_llamacpp::gguf::GgufValue::f32s([0.5, 1.0]);
    /// assert_eq!(v.as_array().unwrap()[1], slm_llamacpp::gguf::GgufValue::F32(1.0));
    /// ```
    pub fn f32s(items: impl IntoIterator<Item = f32>) -> Self {
        GgufValue::Array {
            element_type: type_id::F32,
            items: items.into_iter().map(GgufValue::F32).collect(),
        }
    }

    /// An array of `i32`.
    ///
    /// ```
    /// let v = slm_llamacpp::gguf::GgufValue::i32s([1, 6]);
    /// assert_eq!(v.as_array().unwrap().len(), 2);
    /// ```
    pub fn i32s(items: impl IntoIterator<Item = i32>) -> Self {
        GgufValue::Array {
            element_type: type_id::I32,
            items: items.into_iter().map(GgufValue::I32).collect(),
        }
    }

    /// The string, for a string value.
    ///
    /// ```
    /// assert_eq!(slm_llamacpp::gguf::GgufValue::U8(1).as_str(), None);
    /// ```
    pub fn as_str(&self) -> Option<&str> {
        match self {
            GgufValue::String(s) => Some(s),
            _ => None,
        }
    }

    /// The value as an unsigned integer, for non-negative integer values.
    ///
    /// ```
    /// assert_eq!(slm_llamacpp::gguf::GgufValue::I32(-1).as_u64(), None);
    /// assert_eq!(slm_llamacpp::gguf::GgufValue::U16(3).as_u64(), Some(3));
    /// ```
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            GgufValue::U8(v) => Some(v.into()),
            GgufValue::U16(v) => Some(v.into()),
            GgufValue::U32(v) => Some(v.into()),
            GgufValue::U64(v) => Some(v),
            GgufValue::I8(v) => u64::try_from(v).ok(),
            GgufValue::I16(v) => u64::try_from(v).ok(),
            GgufValue::I32(v) => u64::try_from(v).ok(),
            GgufValue::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    /// The value as a float, for numeric values.
    ///
    /// ```
    /// assert_eq!(slm_llamacpp::gguf::GgufValue::F32(0.5).as_f64(), Some(0.5));
    /// ```
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            GgufValue::F32(v) => Some(v.into()),
            GgufValue::F64(v) => Some(v),
            _ => self.as_u64().map(|v| v as f64),
        }
    }

    /// The elements, for an array value.
    ///
    /// ```
    /// assert!(slm_llamacpp::gguf::GgufValue::Bool(true).as_array().is_none());
    /// ```
    pub fn as_array(&self) -> Option<&[GgufValue]> {
        match self {
            GgufValue::Array { items, .. } => Some(items),
            _ => None,
        }
    }
}

impl From<&str> for GgufValue {
    fn from(s: &str) -> Self {
        GgufValue::String(s.to_string())
    }
}

impl From<String> for GgufValue {
    fn from(s: String) -> Self {
        GgufValue::String(s)
    }
}

impl From<u32> for GgufValue {
    fn from(v: u32) -> Self {
        GgufValue::U32(v)
    }
}

impl From<f32> for GgufValue {
    fn from(v: f32) -> Self {
        GgufValue::F32(v)
    }
}

impl From<bool> for GgufValue {
    fn from(v: bool) -> Self {
        GgufValue::Bool(v)
    }
}

/// A ggml tensor type (`F32`, `F16`, `Q4_0`, ...), as its numeric id.
///
/// Sizes and names come from ggml's own type table, so they never drift from llama.cpp.
///
/// ```
/// use slm_llamacpp::gguf::GgmlType;
/// assert_eq!(GgmlType::Q4_0.name(), "q4_0");
/// assert_eq!(GgmlType::Q4_0.block_size(), 32);
/// assert_eq!(GgmlType::Q4_0.row_bytes(64), Some(36));
/// assert!(GgmlType(4).block_size() == 0); // a removed type
/// assert!(!GgmlType(9999).is_valid());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct GgmlType(pub u32);

impl GgmlType {
    /// 32-bit floats.
    pub const F32: GgmlType = GgmlType(0);
    /// 16-bit floats.
    pub const F16: GgmlType = GgmlType(1);
    /// 4-bit blocks of 32 with one scale.
    pub const Q4_0: GgmlType = GgmlType(2);
    /// 4-bit blocks of 32 with scale and minimum.
    pub const Q4_1: GgmlType = GgmlType(3);
    /// 5-bit blocks of 32 with one scale.
    pub const Q5_0: GgmlType = GgmlType(6);
    /// 5-bit blocks of 32 with scale and minimum.
    pub const Q5_1: GgmlType = GgmlType(7);
    /// 8-bit blocks of 32.
    pub const Q8_0: GgmlType = GgmlType(8);
    /// 6-bit K-quant (blocks of 256).
    pub const Q6_K: GgmlType = GgmlType(14);
    /// bfloat16.
    pub const BF16: GgmlType = GgmlType(30);

    /// Whether ggml knows this type (and it was not removed).
    ///
    /// ```
    /// assert!(slm_llamacpp::gguf::GgmlType::F16.is_valid());
    /// ```
    pub fn is_valid(self) -> bool {
        self.0 < llama_cpp_sys_2::GGML_TYPE_COUNT && self.block_size() > 0
    }

    /// Elements per block (1 for plain floats, 32 or 256 for quantized types); 0 if unknown.
    ///
    /// ```
    /// assert_eq!(slm_llamacpp::gguf::GgmlType::F32.block_size(), 1);
    /// ```
    pub fn block_size(self) -> u64 {
        if self.0 >= llama_cpp_sys_2::GGML_TYPE_COUNT {
            return 0;
        }
        // SAFETY: the id is inside ggml's type table.
        let size = unsafe { llama_cpp_sys_2::ggml_blck_size(self.0) };
        u64::try_from(size).unwrap_or(0)
    }

    /// Bytes per block; 0 if unknown.
    ///
    /// ```
    /// assert_eq!(slm_llamacpp::gguf::GgmlType::Q8_0.block_bytes(), 34);
    /// ```
    pub fn block_bytes(self) -> u64 {
        if self.0 >= llama_cpp_sys_2::GGML_TYPE_COUNT {
            return 0;
        }
        // SAFETY: the id is inside ggml's type table.
        unsafe { llama_cpp_sys_2::ggml_type_size(self.0) as u64 }
    }

    /// Bytes of a row of `n` elements, or `None` if `n` is not a multiple of the block size
    /// (or the type is unknown, or the size overflows).
    ///
    /// ```
    /// assert_eq!(slm_llamacpp::gguf::GgmlType::Q8_0.row_bytes(33), None);
    /// ```
    pub fn row_bytes(self, n: u64) -> Option<u64> {
        let block = self.block_size();
        if block == 0 || !n.is_multiple_of(block) {
            return None;
        }
        (n / block).checked_mul(self.block_bytes())
    }

    /// ggml's lowercase name (`"f16"`, `"q5_1"`...), or `"unknown"`.
    ///
    /// ```
    /// assert_eq!(slm_llamacpp::gguf::GgmlType::Q5_1.name(), "q5_1");
    /// ```
    pub fn name(self) -> &'static str {
        if !self.is_valid() {
            return "unknown";
        }
        // SAFETY: valid id; ggml returns a static NUL-terminated string.
        let ptr = unsafe { llama_cpp_sys_2::ggml_type_name(self.0) };
        if ptr.is_null() {
            return "unknown";
        }
        // SAFETY: static string from ggml's table.
        unsafe { std::ffi::CStr::from_ptr(ptr) }
            .to_str()
            .unwrap_or("unknown")
    }

    /// Whether the type is a quantized (block) type.
    ///
    /// ```
    /// assert!(slm_llamacpp::gguf::GgmlType::Q4_0.is_quantized());
    /// assert!(!slm_llamacpp::gguf::GgmlType::F16.is_quantized());
    /// ```
    pub fn is_quantized(self) -> bool {
        self.block_size() > 1
    }
}

impl fmt::Display for GgmlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name().to_uppercase())
    }
}

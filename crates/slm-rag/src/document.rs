//! Documents: an id, the text, and metadata to filter on.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One metadata value.
///
/// ```
/// use slm_rag::MetaValue;
/// assert_eq!(MetaValue::from("en"), MetaValue::Text("en".into()));
/// assert_eq!(MetaValue::from(2024).as_f64(), Some(2024.0));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MetaValue {
    /// A string.
    Text(String),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A boolean.
    Bool(bool),
}

impl MetaValue {
    /// The value as a number, for integers and floats.
    ///
    /// ```
    /// assert_eq!(slm_rag::MetaValue::from(true).as_f64(), None);
    /// ```
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            MetaValue::Int(i) => Some(*i as f64),
            MetaValue::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// The value as a string, for text.
    ///
    /// ```
    /// assert_eq!(slm_rag::MetaValue::from("x").as_str(), Some("x"));
    /// ```
    pub fn as_str(&self) -> Option<&str> {
        match self {
            MetaValue::Text(s) => Some(s),
            _ => None,
        }
    }
}

impl From<&str> for MetaValue {
    fn from(v: &str) -> Self {
        MetaValue::Text(v.to_string())
    }
}

impl From<String> for MetaValue {
    fn from(v: String) -> Self {
        MetaValue::Text(v)
    }
}

impl From<i64> for MetaValue {
    fn from(v: i64) -> Self {
        MetaValue::Int(v)
    }
}

impl From<i32> for MetaValue {
    fn from(v: i32) -> Self {
        MetaValue::Int(v.into())
    }
}

impl From<usize> for MetaValue {
    fn from(v: usize) -> Self {
        MetaValue::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}

impl From<f64> for MetaValue {
    fn from(v: f64) -> Self {
        MetaValue::Float(v)
    }
}

impl From<bool> for MetaValue {
    fn from(v: bool) -> Self {
        MetaValue::Bool(v)
    }
}

/// Metadata: named values, ordered by name.
pub type Metadata = BTreeMap<String, MetaValue>;

/// A document to index: a unique id, its text and metadata.
///
/// ```
/// use slm_rag::Document;
/// let d = Document::new("faq-1", "Refunds take five days.").with_meta("lang", "en");
/// assert_eq!(d.metadata["lang"].as_str(), Some("en"));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    /// The id, unique within an index.
    pub id: String,
    /// The text that is indexed and returned.
    pub text: String,
    /// Values to filter on.
    #[serde(default)]
    pub metadata: Metadata,
}

impl Document {
    /// A document without metadata.
    ///
    /// ```
    /// assert!(slm_rag::Document::new("a", "text").metadata.is_empty());
    /// ```
    pub fn new(id: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            text: text.into(),
            metadata: Metadata::new(),
        }
    }

    /// Adds one metadata value.
    ///
    /// ```
    /// let d = slm_rag::Document::new("a", "t").with_meta("year", 2020);
    /// assert_eq!(d.metadata["year"].as_f64(), Some(2020.0));
    /// ```
    pub fn with_meta(mut self, key: impl Into<String>, value: impl Into<MetaValue>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }
}

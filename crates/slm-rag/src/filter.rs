//! Metadata filters for search.

use serde::{Deserialize, Serialize};

use crate::{MetaValue, Metadata};

/// A condition on a document's metadata. Search only returns documents that satisfy it.
///
/// Numbers compare by value whether stored as `Int` or `Float`.
///
/// ```
/// use slm_rag::{Document, Filter};
/// let d = Document::new("a", "t").with_meta("lang", "en").with_meta("year", 2021);
/// assert!(Filter::eq("lang", "en").matches(&d.metadata));
/// assert!(Filter::range("year", Some(2020.0), None).matches(&d.metadata));
/// assert!(!Filter::eq("lang", "de").or(Filter::exists("draft")).matches(&d.metadata));
/// assert!(Filter::eq("lang", "en").and(Filter::exists("draft").negate()).matches(&d.metadata));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Filter {
    /// The key holds this value.
    Eq(String, MetaValue),
    /// The key holds one of these values.
    In(String, Vec<MetaValue>),
    /// The key holds a number within `[min, max]` (either bound may be open).
    Range {
        /// The key.
        key: String,
        /// Inclusive lower bound.
        min: Option<f64>,
        /// Inclusive upper bound.
        max: Option<f64>,
    },
    /// The key is present.
    Exists(String),
    /// All conditions hold.
    And(Vec<Filter>),
    /// At least one condition holds.
    Or(Vec<Filter>),
    /// The condition does not hold.
    Not(Box<Filter>),
}

impl Filter {
    /// `key == value`.
    ///
    /// ```
    /// let f = slm_rag::Filter::eq("lang", "en");
    /// assert!(matches!(f, slm_rag::Filter::Eq(..)));
    /// ```
    pub fn eq(key: impl Into<String>, value: impl Into<MetaValue>) -> Self {
        Filter::Eq(key.into(), value.into())
    }

    /// `key` is one of `values`.
    ///
    /// ```
    /// let d = slm_rag::Document::new("a", "t").with_meta("lang", "fr");
    /// assert!(slm_rag::Filter::any_of("lang", ["en", "fr"]).matches(&d.metadata));
    /// ```
    pub fn any_of<V: Into<MetaValue>>(
        key: impl Into<String>,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        Filter::In(key.into(), values.into_iter().map(Into::into).collect())
    }

    /// `min ≤ key ≤ max` for numbers.
    ///
    /// ```
    /// let d = slm_rag::Document::new("a", "t").with_meta("year", 1999);
    /// assert!(!slm_rag::Filter::range("year", Some(2000.0), None).matches(&d.metadata));
    /// ```
    pub fn range(key: impl Into<String>, min: Option<f64>, max: Option<f64>) -> Self {
        Filter::Range {
            key: key.into(),
            min,
            max,
        }
    }

    /// `key` is present.
    ///
    /// ```
    /// assert!(!slm_rag::Filter::exists("x").matches(&Default::default()));
    /// ```
    pub fn exists(key: impl Into<String>) -> Self {
        Filter::Exists(key.into())
    }

    /// Both conditions.
    ///
    /// ```
    /// use slm_rag::Filter;
    /// assert!(matches!(Filter::exists("a").and(Filter::exists("b")), Filter::And(_)));
    /// ```
    pub fn and(self, other: Filter) -> Self {
        match self {
            Filter::And(mut all) => {
                all.push(other);
                Filter::And(all)
            }
            first => Filter::And(vec![first, other]),
        }
    }

    /// Either condition.
    ///
    /// ```
    /// use slm_rag::Filter;
    /// assert!(matches!(Filter::exists("a").or(Filter::exists("b")), Filter::Or(_)));
    /// ```
    pub fn or(self, other: Filter) -> Self {
        match self {
            Filter::Or(mut any) => {
                any.push(other);
                Filter::Or(any)
            }
            first => Filter::Or(vec![first, other]),
        }
    }

    /// The opposite condition.
    ///
    /// ```
    /// assert!(slm_rag::Filter::exists("x").negate().matches(&Default::default()));
    /// ```
    pub fn negate(self) -> Self {
        Filter::Not(Box::new(self))
    }

    /// Whether `metadata` satisfies this filter.
    ///
    /// ```
    /// let d = slm_rag::Document::new("a", "t").with_meta("n", 3);
    /// assert!(slm_rag::Filter::eq("n", 3.0).matches(&d.metadata));
    /// ```
    pub fn matches(&self, metadata: &Metadata) -> bool {
        match self {
            Filter::Eq(key, value) => metadata.get(key).is_some_and(|v| same(v, value)),
            Filter::In(key, values) => metadata
                .get(key)
                .is_some_and(|v| values.iter().any(|x| same(v, x))),
            Filter::Range { key, min, max } => metadata
                .get(key)
                .and_then(MetaValue::as_f64)
                .is_some_and(|x| min.is_none_or(|m| x >= m) && max.is_none_or(|m| x <= m)),
            Filter::Exists(key) => metadata.contains_key(key),
            Filter::And(all) => all.iter().all(|f| f.matches(metadata)),
            Filter::Or(any) => any.iter().any(|f| f.matches(metadata)),
            Filter::Not(f) => !f.matches(metadata),
        }
    }
}

/// Equality where numbers compare by value across `Int` and `Float`.
fn same(a: &MetaValue, b: &MetaValue) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

//! BM25 scoring functions, as bm25s (after Kamphuis et al., ECIR 2020) defines them.
//!
//! A document's score for a query is the sum over query terms `t` of
//! `idf(t) * tfc(tf(t, d), |d|, avgdl)`; BM25L and BM25+ also give a (constant) score to query
//! terms a document lacks, `idf(t) * tfc(0, avgdl, avgdl)`.

use serde::{Deserialize, Serialize};

use crate::{RagError, Result};

/// A BM25 variant: which IDF and which term-frequency component.
///
/// | variant | idf | tfc |
/// | --- | --- | --- |
/// | Lucene | ln(1 + (N − df + 0.5)/(df + 0.5)) | tf / (tf + k1·(1 − b + b·dl/avgdl)) |
/// | Robertson | ln(max(1, (N − df + 0.5)/(df + 0.5))) | as Lucene |
/// | ATIRE | ln(N/df) | tf·(k1 + 1) / (tf + k1·(1 − b + b·dl/avgdl)) |
/// | BM25L | ln((N + 1)/(df + 0.5)) | (k1 + 1)(c + δ)/(k1 + c + δ), c = tf/(1 − b + b·dl/avgdl) |
/// | BM25+ | ln((N + 1)/df) | tf·(k1 + 1)/(tf + k1·(1 − b + b·dl/avgdl)) + δ |
///
/// ```
/// use slm_rag::Bm25Variant;
/// assert_eq!(Bm25Variant::default(), Bm25Variant::Lucene);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Bm25Variant {
    /// Lucene's BM25 (the default; IDF is never negative).
    #[default]
    Lucene,
    /// Robertson's original, IDF clamped at zero.
    Robertson,
    /// ATIRE (Trotman et al.).
    Atire,
    /// BM25L (Lv and Zhai), which lifts long documents with δ.
    Bm25L,
    /// BM25+ (Lv and Zhai), which adds δ to every matching term.
    Bm25Plus,
}

/// BM25 parameters: the variant, `k1`, `b` and `δ` (BM25L and BM25+ only).
///
/// The default is bm25s' default: Lucene, k1 = 1.5, b = 0.75, δ = 0.5.
///
/// ```
/// use slm_rag::{Bm25Params, Bm25Variant};
/// let p = Bm25Params::default().with_k1(0.9).with_b(0.4);
/// assert_eq!(p.variant, Bm25Variant::Lucene);
/// assert!(p.validate().is_ok());
/// assert!(Bm25Params::default().with_b(2.0).validate().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bm25Params {
    /// Which formulas.
    pub variant: Bm25Variant,
    /// Term-frequency saturation (≥ 0).
    pub k1: f32,
    /// Length normalization, 0 (none) to 1 (full).
    pub b: f32,
    /// The lower bound δ of BM25L and BM25+ (≥ 0).
    pub delta: f32,
}

impl Default for Bm25Params {
    fn default() -> Self {
        Self {
            variant: Bm25Variant::Lucene,
            k1: 1.5,
            b: 0.75,
            delta: 0.5,
        }
    }
}

impl Bm25Params {
    /// Default parameters with another variant.
    ///
    /// ```
    /// let p = slm_rag::Bm25Params::variant(slm_rag::Bm25Variant::Bm25Plus);
    /// assert_eq!(p.k1, 1.5);
    /// ```
    pub fn variant(variant: Bm25Variant) -> Self {
        Self {
            variant,
            ..Self::default()
        }
    }

    /// Sets `k1`.
    ///
    /// ```
    /// assert_eq!(slm_rag::Bm25Params::default().with_k1(1.2).k1, 1.2);
    /// ```
    pub fn with_k1(mut self, k1: f32) -> Self {
        self.k1 = k1;
        self
    }

    /// Sets `b`.
    ///
    /// ```
    /// assert_eq!(slm_rag::Bm25Params::default().with_b(0.4).b, 0.4);
    /// ```
    pub fn with_b(mut self, b: f32) -> Self {
        self.b = b;
        self
    }

    /// Sets `δ`.
    ///
    /// ```
    /// assert_eq!(slm_rag::Bm25Params::default().with_delta(1.0).delta, 1.0);
    /// ```
    pub fn with_delta(mut self, delta: f32) -> Self {
        self.delta = delta;
        self
    }

    /// Checks that `k1 ≥ 0`, `0 ≤ b ≤ 1`, `δ ≥ 0`, all finite, and `k1 + δ > 0` for BM25L.
    ///
    /// ```
    /// assert!(slm_rag::Bm25Params::default().with_k1(f32::NAN).validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<()> {
        let bad = |what: String| Err(RagError::InvalidConfig(what));
        if !(self.k1.is_finite() && self.k1 >= 0.0) {
            return bad(format!("BM25 k1 must be finite and >= 0, got {}", self.k1));
        }
        if !(0.0..=1.0).contains(&self.b) {
            return bad(format!("BM25 b must be within [0, 1], got {}", self.b));
        }
        if !(self.delta.is_finite() && self.delta >= 0.0) {
            return bad(format!(
                "BM25 delta must be finite and >= 0, got {}",
                self.delta
            ));
        }
        if self.variant == Bm25Variant::Bm25L && self.k1 + self.delta <= 0.0 {
            return bad("BM25L needs k1 + delta > 0".into());
        }
        Ok(())
    }

    /// The inverse document frequency of a term found in `df` of `n` documents (`1 ≤ df ≤ n`).
    ///
    /// ```
    /// let p = slm_rag::Bm25Params::default();
    /// let rare = p.idf(1, 1000);
    /// let common = p.idf(900, 1000);
    /// assert!(rare > common && common > 0.0);
    /// ```
    pub fn idf(&self, df: u32, n: u32) -> f64 {
        let (df, n) = (f64::from(df.max(1)), f64::from(n.max(1)));
        match self.variant {
            Bm25Variant::Lucene => (1.0 + (n - df + 0.5) / (df + 0.5)).ln(),
            Bm25Variant::Robertson => ((n - df + 0.5) / (df + 0.5)).max(1.0).ln(),
            Bm25Variant::Atire => (n / df).ln(),
            Bm25Variant::Bm25L => ((n + 1.0) / (df + 0.5)).ln(),
            Bm25Variant::Bm25Plus => ((n + 1.0) / df).ln(),
        }
    }

    /// The term-frequency component for a term occurring `tf` times in a document of
    /// `doc_len` terms, when documents average `avg_len` terms.
    ///
    /// ```
    /// let p = slm_rag::Bm25Params::default();
    /// assert!(p.tfc(2.0, 100.0, 100.0) > p.tfc(1.0, 100.0, 100.0));
    /// assert!(p.tfc(1.0, 50.0, 100.0) > p.tfc(1.0, 200.0, 100.0));
    /// ```
    pub fn tfc(&self, tf: f64, doc_len: f64, avg_len: f64) -> f64 {
        let (k1, b, delta) = (f64::from(self.k1), f64::from(self.b), f64::from(self.delta));
        let length_ratio = if avg_len > 0.0 {
            doc_len / avg_len
        } else {
            1.0
        };
        let norm = 1.0 - b + b * length_ratio;
        match self.variant {
            Bm25Variant::Lucene | Bm25Variant::Robertson => ratio(tf, k1 * norm + tf),
            Bm25Variant::Atire => ratio(tf * (k1 + 1.0), tf + k1 * norm),
            Bm25Variant::Bm25L => {
                let c = ratio(tf, norm);
                ratio((k1 + 1.0) * (c + delta), k1 + c + delta)
            }
            Bm25Variant::Bm25Plus => ratio((k1 + 1.0) * tf, k1 * norm + tf) + delta,
        }
    }

    /// Whether documents also score for query terms they lack (BM25L and BM25+).
    ///
    /// ```
    /// use slm_rag::{Bm25Params, Bm25Variant};
    /// assert!(Bm25Params::variant(Bm25Variant::Bm25L).scores_absent_terms());
    /// assert!(!Bm25Params::default().scores_absent_terms());
    /// ```
    pub fn scores_absent_terms(&self) -> bool {
        matches!(self.variant, Bm25Variant::Bm25L | Bm25Variant::Bm25Plus)
    }
}

/// `num / den`, or 0 when `den` is 0 (only reachable with `tf = 0` and `k1 = 0`).
fn ratio(num: f64, den: f64) -> f64 {
    if den == 0.0 { 0.0 } else { num / den }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lucene_matches_bm25s_formula() {
        // bm25s: idf = log(1 + (N - df + 0.5) / (df + 0.5)); tfc = tf / (k1*(1-b+b*dl/avg) + tf)
        let p = Bm25Params::default();
        let idf = p.idf(10, 1000);
        assert!((idf - (1.0f64 + 990.5 / 10.5).ln()).abs() < 1e-12);
        let tfc = p.tfc(3.0, 120.0, 100.0);
        assert!((tfc - 3.0 / (1.5 * (0.25 + 0.75 * 1.2) + 3.0)).abs() < 1e-12);
    }

    #[test]
    fn robertson_idf_is_clamped_at_zero() {
        let p = Bm25Params::variant(Bm25Variant::Robertson);
        assert_eq!(p.idf(900, 1000), 0.0);
        assert!(p.idf(1, 1000) > 0.0);
    }

    #[test]
    fn bm25l_and_plus_score_absent_terms() {
        let l = Bm25Params::variant(Bm25Variant::Bm25L);
        assert!((l.tfc(0.0, 10.0, 10.0) - 2.5 * 0.5 / 2.0).abs() < 1e-12);
        let plus = Bm25Params::variant(Bm25Variant::Bm25Plus);
        assert!((plus.tfc(0.0, 10.0, 10.0) - 0.5).abs() < 1e-12);
    }
}

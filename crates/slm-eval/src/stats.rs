//! Statistics: latency percentiles, McNemar's exact test and the paired bootstrap.

use serde::{Deserialize, Serialize};

use crate::rng::SplitMix64;

/// Percentile with linear interpolation between closest ranks (numpy's default). `None` on no
/// data.
///
/// ```
/// use slm_eval::stats::percentile;
/// assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 50.0), Some(2.5));
/// assert_eq!(percentile(&[10.0], 95.0), Some(10.0));
/// assert_eq!(percentile(&[], 50.0), None);
/// ```
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = (p / 100.0).clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo as f64))
}

/// McNemar's exact test on the discordant pairs of a paired pass/fail metric: `b` cases pass
/// only for the first model, `c` only for the second. Returns the two-sided p-value
/// `min(1, 2 · P[X ≤ min(b, c)])` with `X ~ Binomial(b + c, 1/2)`; 1 when there are none.
///
/// ```
/// use slm_eval::stats::mcnemar_exact;
/// assert_eq!(mcnemar_exact(0, 0), 1.0);
/// assert_eq!(mcnemar_exact(0, 5), 0.0625);
/// assert!((mcnemar_exact(1, 9) - 0.021484375).abs() < 1e-12);
/// assert_eq!(mcnemar_exact(3, 3), 1.0);
/// ```
pub fn mcnemar_exact(b: u64, c: u64) -> f64 {
    let n = b + c;
    if n == 0 {
        return 1.0;
    }
    let k = b.min(c);
    // P[X = i] in log space: ln C(n, i) - n ln 2, built up incrementally.
    let ln_half_n = -(n as f64) * std::f64::consts::LN_2;
    let mut ln_choose = 0.0f64;
    let mut tail = 0.0;
    for i in 0..=k {
        if i > 0 {
            ln_choose += ((n - i + 1) as f64).ln() - (i as f64).ln();
        }
        tail += (ln_choose + ln_half_n).exp();
    }
    (2.0 * tail).min(1.0)
}

/// A confidence interval.
///
/// ```
/// let ci = slm_eval::stats::Interval { low: -0.1, high: 0.2 };
/// assert!(ci.contains(0.0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
}

impl Interval {
    /// Whether `x` lies within the bounds.
    ///
    /// ```
    /// let ci = slm_eval::stats::Interval { low: 0.1, high: 0.3 };
    /// assert!(!ci.contains(0.0) && ci.contains(0.2));
    /// ```
    pub fn contains(&self, x: f64) -> bool {
        self.low <= x && x <= self.high
    }
}

/// Paired bootstrap percentile interval (95% for `level` 0.95) of `statistic(sample)` where each
/// resample draws `n` case indices with replacement, the same indices for both models. The
/// statistic receives the drawn indices and returns `None` when undefined on them (such draws
/// are skipped).
///
/// ```
/// use slm_eval::stats::paired_bootstrap;
/// let a = [1.0, 1.0, 0.0, 1.0];
/// let b = [0.0, 1.0, 0.0, 0.0];
/// let diff = |idx: &[usize]| Some(idx.iter().map(|&i| a[i] - b[i]).sum::<f64>() / idx.len() as f64);
/// let ci = paired_bootstrap(4, 2000, 0.95, 42, diff).unwrap();
/// assert!(ci.low >= 0.0 && ci.high <= 1.0 && ci.contains(0.5));
/// ```
pub fn paired_bootstrap(
    n: usize,
    resamples: usize,
    level: f64,
    seed: u64,
    statistic: impl Fn(&[usize]) -> Option<f64>,
) -> Option<Interval> {
    if n == 0 || resamples == 0 {
        return None;
    }
    let mut rng = SplitMix64::new(seed);
    let mut draws = Vec::with_capacity(resamples);
    let mut indices = vec![0usize; n];
    for _ in 0..resamples {
        for slot in indices.iter_mut() {
            *slot = rng.below(n);
        }
        if let Some(value) = statistic(&indices) {
            draws.push(value);
        }
    }
    let alpha = (1.0 - level) / 2.0 * 100.0;
    Some(Interval {
        low: percentile(&draws, alpha)?,
        high: percentile(&draws, 100.0 - alpha)?,
    })
}

/// Mean, p50 and p95 of a set of measurements.
///
/// ```
/// let s = slm_eval::stats::Summary::of(&[1.0, 2.0, 3.0]).unwrap();
/// assert_eq!((s.mean, s.p50, s.max), (2.0, 2.0, 3.0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Arithmetic mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// Maximum.
    pub max: f64,
}

impl Summary {
    /// Summarizes values; `None` when empty.
    ///
    /// ```
    /// assert!(slm_eval::stats::Summary::of(&[]).is_none());
    /// assert_eq!(slm_eval::stats::Summary::of(&[5.0]).unwrap().p95, 5.0);
    /// ```
    pub fn of(values: &[f64]) -> Option<Self> {
        Some(Self {
            mean: values.iter().sum::<f64>() / values.len().max(1) as f64,
            p50: percentile(values, 50.0)?,
            p95: percentile(values, 95.0)?,
            max: values.iter().copied().fold(f64::MIN, f64::max),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Exact two-sided binomial p-values computed with integer arithmetic.
    fn reference(b: u64, c: u64) -> f64 {
        let n = b + c;
        let k = b.min(c);
        let mut total: u128 = 0;
        let mut choose: u128 = 1;
        for i in 0..=k {
            if i > 0 {
                choose = choose * (n - i + 1) as u128 / i as u128;
            }
            total += choose;
        }
        (2.0 * total as f64 / 2f64.powi(n as i32)).min(1.0)
    }

    #[test]
    fn mcnemar_matches_integer_reference() {
        for b in 0..40 {
            for c in 0..40 {
                let (x, y) = (mcnemar_exact(b, c), reference(b, c));
                assert!((x - y).abs() < 1e-9, "b={b} c={c}: {x} vs {y}");
                assert_eq!(mcnemar_exact(b, c), mcnemar_exact(c, b));
            }
        }
    }

    #[test]
    fn bootstrap_of_identical_models_is_zero() {
        let ci = paired_bootstrap(10, 500, 0.95, 1, |_| Some(0.0)).unwrap();
        assert_eq!((ci.low, ci.high), (0.0, 0.0));
    }
}

//! Comparing an SLM run with an LLM run on the same dataset, and the fine-tune decision.
//!
//! For every core metric of the track: both values on the cases both runs finished, the
//! SLM−LLM delta with a paired bootstrap 95% interval, and for pass/fail metrics McNemar's exact
//! test on the discordant cases. The SLM Swap evaluation's decision rule is kept: fine-tune when the SLM trails
//! the LLM by more than `delta` on any core metric (point estimates).

use serde::{Deserialize, Serialize};

use crate::metrics::{CaseScore, is_field_metric, metric_over, track_metrics};
use crate::stats::{Interval, mcnemar_exact, paired_bootstrap};
use crate::{EvalError, Report, Result, Track};

/// Exit status of `slm eval compare` when fine-tuning is advised (the SLM Swap evaluation's convention).
///
/// ```
/// assert_eq!(slm_eval::FINE_TUNE_EXIT_CODE, 10);
/// ```
pub const FINE_TUNE_EXIT_CODE: i32 = 10;

/// Comparison settings.
///
/// ```
/// let o = slm_eval::CompareOptions::new(0.01);
/// assert_eq!((o.resamples, o.level, o.seed), (2000, 0.95, 42));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompareOptions {
    /// Allowed gap: the SLM may trail by at most this much on every core metric.
    pub delta: f64,
    /// Bootstrap resamples.
    pub resamples: usize,
    /// Confidence level of the intervals.
    pub level: f64,
    /// Bootstrap seed.
    pub seed: u64,
}

impl CompareOptions {
    /// Defaults with a delta.
    ///
    /// ```
    /// assert_eq!(slm_eval::CompareOptions::new(0.05).delta, 0.05);
    /// ```
    pub fn new(delta: f64) -> Self {
        Self {
            delta,
            resamples: 2000,
            level: 0.95,
            seed: 42,
        }
    }
}

/// McNemar's exact test of a pass/fail metric.
///
/// ```
/// let t = slm_eval::McNemar { llm_only: 0, slm_only: 5, p_value: slm_eval::stats::mcnemar_exact(0, 5) };
/// assert_eq!(t.p_value, 0.0625);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct McNemar {
    /// Cases only the LLM passed.
    pub llm_only: u64,
    /// Cases only the SLM passed.
    pub slm_only: u64,
    /// Two-sided exact p-value.
    pub p_value: f64,
}

/// One metric of a comparison.
///
/// ```
/// let m = slm_eval::MetricComparison {
///     metric: "exact_match".into(), llm: 0.9, slm: 0.7, delta: -0.2, ci: None, mcnemar: None, trails: true,
/// };
/// assert!(m.trails);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricComparison {
    /// The metric name.
    pub metric: String,
    /// The LLM's value.
    pub llm: f64,
    /// The SLM's value.
    pub slm: f64,
    /// `slm - llm`.
    pub delta: f64,
    /// Paired bootstrap interval of `slm - llm`.
    pub ci: Option<Interval>,
    /// McNemar's test (pass/fail metrics only).
    pub mcnemar: Option<McNemar>,
    /// Whether the SLM trails by more than the allowed delta.
    pub trails: bool,
}

/// A full comparison and its decision.
///
/// ```
/// # use slm_eval::*;
/// # let data = Dataset::from_cases("d", vec![Case::new("p", "{}")]);
/// # let row = CaseResult { case_id: data.cases[0].fingerprint(), ..CaseResult::example() };
/// # let report = Report::build(&RunConfig::new(Track::Structured), "m", None, Default::default(), &data, &[row], None);
/// let cmp = Comparison::new(&report, &report, CompareOptions::new(0.01)).unwrap();
/// assert_eq!(cmp.paired_cases, 1);
/// assert!(cmp.metrics.iter().all(|m| m.delta == 0.0));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The track.
    pub track: Track,
    /// The LLM's model id.
    pub llm_model: String,
    /// The SLM's model id.
    pub slm_model: String,
    /// The shared dataset hash.
    pub dataset_sha256: String,
    /// Cases finished by both runs.
    pub paired_cases: usize,
    /// The settings used.
    pub options: CompareOptions,
    /// Per-metric results, in the track's metric order.
    pub metrics: Vec<MetricComparison>,
    /// Whether to fine-tune: the SLM trails on at least one core metric.
    pub fine_tune: bool,
}

impl Comparison {
    /// Compares two reports of the same track and dataset.
    ///
    /// ```
    /// use slm_eval::{Case, CaseResult, CompareOptions, Comparison, Dataset, Report, RunConfig, Track};
    /// let data = Dataset::from_cases("d", vec![Case::new("p", "{\"a\": 1}"), Case::new("q", "{\"b\": 2}")]);
    /// let report = |answers: [&str; 2]| {
    ///     let rows: Vec<CaseResult> = answers.iter().enumerate().map(|(i, a)| CaseResult {
    ///         index: i, case_id: data.cases[i].fingerprint(), prediction: a.to_string(), ..CaseResult::example()
    ///     }).collect();
    ///     Report::build(&RunConfig::new(Track::Structured), "m", None, Default::default(), &data, &rows, None)
    /// };
    /// let llm = report(["{\"a\": 1}", "{\"b\": 2}"]);
    /// let slm = report(["{\"a\": 1}", "{\"b\": 3}"]);
    /// let cmp = Comparison::new(&llm, &slm, CompareOptions::new(0.01)).unwrap();
    /// assert!(cmp.fine_tune);
    /// assert_eq!(cmp.exit_code(), 10);
    /// assert!(!Comparison::new(&llm, &llm, CompareOptions::new(0.01)).unwrap().fine_tune);
    /// ```
    pub fn new(llm: &Report, slm: &Report, options: CompareOptions) -> Result<Self> {
        if llm.track != slm.track {
            return Err(EvalError::Incomparable(format!(
                "tracks differ ({} vs {})",
                llm.track, slm.track
            )));
        }
        if llm.dataset.sha256 != slm.dataset.sha256 {
            return Err(EvalError::Incomparable(format!(
                "datasets differ ({} has sha256 {}, {} has {})",
                llm.dataset.path.display(),
                llm.dataset.sha256,
                slm.dataset.path.display(),
                slm.dataset.sha256
            )));
        }
        let pairs = paired_scores(llm, slm);
        if pairs.is_empty() {
            return Err(EvalError::Incomparable(
                "the runs share no finished case".into(),
            ));
        }
        let mut names: Vec<String> = track_metrics(llm.track)
            .iter()
            .map(|s| s.to_string())
            .collect();
        // BFCL: each category the runs share is a metric of its own.
        if llm.track == crate::Track::Bfcl {
            names.extend(
                crate::bfcl::Category::ALL
                    .map(crate::bfcl::category_metric)
                    .into_iter()
                    .filter(|m| llm.metrics.contains_key(m)),
            );
        }
        let mut metrics = Vec::new();
        for name in &names {
            if let Some(row) = compare_metric(name, &pairs, &options) {
                metrics.push(row);
            }
        }
        let fine_tune = metrics.iter().any(|m| m.trails);
        Ok(Self {
            track: llm.track,
            llm_model: llm.model.id.clone(),
            slm_model: slm.model.id.clone(),
            dataset_sha256: llm.dataset.sha256.clone(),
            paired_cases: pairs.len(),
            options,
            metrics,
            fine_tune,
        })
    }

    /// The process exit status: [`FINE_TUNE_EXIT_CODE`] when fine-tuning is advised, else 0.
    ///
    /// ```
    /// # use slm_eval::*;
    /// # let data = Dataset::from_cases("d", vec![Case::new("p", "{}")]);
    /// # let row = CaseResult { case_id: data.cases[0].fingerprint(), ..CaseResult::example() };
    /// # let report = Report::build(&RunConfig::new(Track::Structured), "m", None, Default::default(), &data, &[row], None);
    /// assert_eq!(Comparison::new(&report, &report, CompareOptions::new(0.0)).unwrap().exit_code(), 0);
    /// ```
    pub fn exit_code(&self) -> i32 {
        if self.fine_tune {
            FINE_TUNE_EXIT_CODE
        } else {
            0
        }
    }

    /// The SLM Swap decision line, `FINE_TUNE=1` or `FINE_TUNE=0`.
    ///
    /// ```
    /// # use slm_eval::*;
    /// # let data = Dataset::from_cases("d", vec![Case::new("p", "{}")]);
    /// # let row = CaseResult { case_id: data.cases[0].fingerprint(), ..CaseResult::example() };
    /// # let r = Report::build(&RunConfig::new(Track::Structured), "m", None, Default::default(), &data, &[row], None);
    /// let cmp = Comparison::new(&r, &r, CompareOptions::new(0.0)).unwrap();
    /// assert_eq!(cmp.decision_line(), "FINE_TUNE=0");
    /// ```
    pub fn decision_line(&self) -> String {
        format!("FINE_TUNE={}", u8::from(self.fine_tune))
    }

    /// A plain-text table of the comparison.
    ///
    /// ```
    /// # use slm_eval::*;
    /// # let data = Dataset::from_cases("d", vec![Case::new("p", "{}")]);
    /// # let row = CaseResult { case_id: data.cases[0].fingerprint(), ..CaseResult::example() };
    /// # let report = Report::build(&RunConfig::new(Track::Structured), "m", None, Default::default(), &data, &[row], None);
    /// let table = Comparison::new(&report, &report, CompareOptions::new(0.0)).unwrap().render_table();
    /// assert!(table.contains("exact_match") && table.contains("95% CI"));
    /// ```
    pub fn render_table(&self) -> String {
        let mut out = format!(
            "track={} llm={} slm={} paired_cases={} delta={}\n",
            self.track, self.llm_model, self.slm_model, self.paired_cases, self.options.delta
        );
        out.push_str(&format!(
            "{:<20} {:>8} {:>8} {:>8} {:>20} {:>10}  {}\n",
            "metric", "llm", "slm", "slm-llm", "95% CI", "McNemar p", "trails"
        ));
        for m in &self.metrics {
            let ci =
                m.ci.map(|c| format!("[{:+.3}, {:+.3}]", c.low, c.high))
                    .unwrap_or_else(|| "-".into());
            let p = m
                .mcnemar
                .map(|t| format!("{:.4}", t.p_value))
                .unwrap_or_else(|| "-".into());
            out.push_str(&format!(
                "{:<20} {:>8.3} {:>8.3} {:>+8.3} {:>20} {:>10}  {}\n",
                m.metric,
                m.llm,
                m.slm,
                m.delta,
                ci,
                p,
                if m.trails { "YES" } else { "no" }
            ));
        }
        out
    }
}

fn paired_scores<'a>(llm: &'a Report, slm: &'a Report) -> Vec<(&'a CaseScore, &'a CaseScore)> {
    let by_index: std::collections::HashMap<usize, &crate::report::CaseSummary> =
        slm.per_case.iter().map(|c| (c.index, c)).collect();
    llm.per_case
        .iter()
        .filter_map(|a| {
            by_index
                .get(&a.index)
                .filter(|b| b.case_id == a.case_id)
                .map(|b| (&a.score, &b.score))
        })
        .collect()
}

fn compare_metric(
    name: &str,
    pairs: &[(&CaseScore, &CaseScore)],
    options: &CompareOptions,
) -> Option<MetricComparison> {
    let llm = metric_over(name, pairs.iter().map(|p| p.0))?;
    let slm = metric_over(name, pairs.iter().map(|p| p.1))?;
    let difference = |indices: &[usize]| {
        let a = metric_over(name, indices.iter().map(|&i| pairs[i].1))?;
        let b = metric_over(name, indices.iter().map(|&i| pairs[i].0))?;
        Some(a - b)
    };
    let ci = paired_bootstrap(
        pairs.len(),
        options.resamples,
        options.level,
        options.seed,
        difference,
    );
    let mcnemar = (!is_field_metric(name)).then(|| {
        let (mut llm_only, mut slm_only) = (0u64, 0u64);
        for (a, b) in pairs {
            match (a.passes.get(name), b.passes.get(name)) {
                (Some(true), Some(false)) => llm_only += 1,
                (Some(false), Some(true)) => slm_only += 1,
                _ => {}
            }
        }
        McNemar {
            llm_only,
            slm_only,
            p_value: mcnemar_exact(llm_only, slm_only),
        }
    });
    Some(MetricComparison {
        metric: name.to_string(),
        llm,
        slm,
        delta: slm - llm,
        ci,
        mcnemar,
        // A tolerance keeps float noise (1.0 - 0.99 = 0.01000000000000001) from tipping the rule.
        trails: llm - slm > options.delta + 1e-12,
    })
}

//! The run report: a JSON document with a stable, versioned schema.
//!
//! Schema `slm-eval/report/v1` (fields are only ever added within a version):
//!
//! | field | meaning |
//! |---|---|
//! | `schema` | `"slm-eval/report/v1"` |
//! | `track` | `"structured"` or `"toolcall"` |
//! | `model` | `{id, spec, capabilities}`: the model's id, the spec it was built from, its capabilities |
//! | `options` | the `GenerationOptions` sent (temperature, seed, max_tokens, ...) |
//! | `constrained` | whether constrained decoding was requested |
//! | `dataset` | `{path, sha256, cases}`: SHA-256 of the dataset file's bytes |
//! | `started_at`, `finished_at` | RFC 3339 UTC: first request sent, last answer finished |
//! | `cases` | `{total, completed, errors}` |
//! | `metrics` | metric name → value in \[0, 1\] (see [`crate::metrics`]) |
//! | `latency` | `{ttft_ms, total_ms}`, each `{mean, p50, p95, max}` in milliseconds |
//! | `tokens` | `{prompt, completion, total}` summed over cases |
//! | `cost` | `{total, per_case}` in the price list's currency |
//! | `results_path` | the per-case JSONL file, when there is one |
//! | `per_case` | `[{index, case_id, error, score: {passes, fields: {tp, fp, fn}}}]`, for paired comparison |

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use slm_core::{Capabilities, GenerationOptions};

use crate::metrics::{CaseScore, aggregate, score_case};
use crate::stats::Summary;
use crate::{CaseResult, Dataset, EvalError, Result, RunConfig, Track};

/// The schema identifier written in every report.
///
/// ```
/// assert_eq!(slm_eval::REPORT_SCHEMA, "slm-eval/report/v1");
/// ```
pub const REPORT_SCHEMA: &str = "slm-eval/report/v1";

/// Which model produced a report.
///
/// ```
/// let m = slm_eval::ModelInfo { id: "gpt-4o".into(), spec: Some("azure".into()), capabilities: Default::default() };
/// assert_eq!(serde_json::to_value(&m).unwrap()["spec"], "azure");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// The model's id.
    pub id: String,
    /// The spec it was built from (`llamacpp:...`, `azure`, ...), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<String>,
    /// Its capabilities.
    pub capabilities: Capabilities,
}

/// Which dataset a report is about.
///
/// ```
/// let d = slm_eval::DatasetInfo { path: "test.jsonl".into(), sha256: "ab".repeat(32), cases: 8 };
/// assert_eq!(d.sha256.len(), 64);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetInfo {
    /// Its path.
    pub path: PathBuf,
    /// Hex SHA-256 of its bytes.
    pub sha256: String,
    /// Number of cases.
    pub cases: usize,
}

/// Case counts.
///
/// ```
/// let c = slm_eval::CaseCounts { total: 8, completed: 8, errors: 1, cached: 0 };
/// assert!(c.errors <= c.completed);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseCounts {
    /// Cases in the dataset.
    pub total: usize,
    /// Cases with a result.
    pub completed: usize,
    /// Cases whose model call failed.
    pub errors: usize,
    /// Cases answered from the response cache: their latencies were measured when the model
    /// answered, in an earlier run.
    #[serde(default)]
    pub cached: usize,
}

/// Latency summaries in milliseconds.
///
/// ```
/// let l = slm_eval::Latency { ttft_ms: slm_eval::stats::Summary::of(&[10.0, 30.0]), total_ms: None };
/// assert_eq!(l.ttft_ms.unwrap().p50, 20.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Time to first token.
    pub ttft_ms: Option<Summary>,
    /// Total time per case.
    pub total_ms: Option<Summary>,
}

/// Token totals.
///
/// ```
/// let t = slm_eval::Tokens { prompt: 100, completion: 20, total: 120 };
/// assert_eq!(t.prompt + t.completion, t.total);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tokens {
    /// Prompt tokens.
    pub prompt: u64,
    /// Generated tokens.
    pub completion: u64,
    /// Both.
    pub total: u64,
}

/// Cost totals.
///
/// ```
/// let c = slm_eval::Cost { total: 0.5, per_case: 0.0625 };
/// assert_eq!(c.total / 8.0, c.per_case);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Cost {
    /// Sum over cases.
    pub total: f64,
    /// Mean per completed case.
    pub per_case: f64,
}

/// One case's score, for paired comparisons.
///
/// ```
/// let c = slm_eval::CaseSummary { index: 0, case_id: "0123456789abcdef".into(), error: false, score: Default::default() };
/// assert!(c.score.all_pass());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseSummary {
    /// Position in the dataset.
    pub index: usize,
    /// The case's fingerprint.
    pub case_id: String,
    /// Whether the model call failed.
    pub error: bool,
    /// The score.
    pub score: CaseScore,
}

/// A run report. See the module documentation for the schema.
///
/// ```
/// use slm_core::{Capabilities, GenerationOptions};
/// use slm_eval::{Case, CaseResult, Dataset, Report, RunConfig, Track};
/// let data = Dataset::from_cases("d.jsonl", vec![Case::new("p", "{\"a\": 1}")]);
/// let mut row = CaseResult::example();
/// row.case_id = data.cases[0].fingerprint();
/// row.prediction = "{\"a\": 1.0}".into();
/// let report = Report::build(&RunConfig::new(Track::Structured), "slm", None, Capabilities::default(), &data, &[row], None);
/// assert_eq!(report.metrics["exact_match"], 1.0);
/// assert_eq!(report.schema, "slm-eval/report/v1");
/// assert_eq!(report.latency.total_ms.unwrap().p50, 80.0);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Always [`REPORT_SCHEMA`].
    pub schema: String,
    /// The track.
    pub track: Track,
    /// The model.
    pub model: ModelInfo,
    /// Generation options sent.
    pub options: GenerationOptions,
    /// Whether constrained decoding was requested.
    pub constrained: bool,
    /// The dataset.
    pub dataset: DatasetInfo,
    /// First request sent (RFC 3339).
    pub started_at: String,
    /// Last answer finished (RFC 3339).
    pub finished_at: String,
    /// Case counts.
    pub cases: CaseCounts,
    /// Aggregated metrics by name.
    pub metrics: BTreeMap<String, f64>,
    /// Latency summaries.
    pub latency: Latency,
    /// Token totals.
    pub tokens: Tokens,
    /// Cost totals.
    pub cost: Cost,
    /// The per-case results file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results_path: Option<PathBuf>,
    /// Per-case scores, in dataset order.
    pub per_case: Vec<CaseSummary>,
}

impl Report {
    /// A small report (one passed structured case answered by `phi-4-mini`), for docs and
    /// tests.
    ///
    /// ```
    /// let r = slm_eval::Report::example();
    /// assert_eq!((r.cases.completed, r.metrics["exact_match"]), (1, 1.0));
    /// ```
    pub fn example() -> Self {
        let data = Dataset::from_cases(
            "example.jsonl",
            vec![crate::Case::new("Give me JSON", "{}")],
        );
        let row = CaseResult {
            case_id: data.cases[0].fingerprint(),
            ..CaseResult::example()
        };
        Self::build(
            &RunConfig::new(crate::Track::Structured),
            "phi-4-mini",
            None,
            Capabilities::default(),
            &data,
            &[row],
            None,
        )
    }

    /// Builds a report from finished cases. Cases are rescored from their stored predictions,
    /// so a report always reflects the current metric definitions.
    ///
    /// ```
    /// use slm_eval::{Case, CaseResult, Dataset, Report, RunConfig, Track};
    /// let data = Dataset::from_cases("d", vec![Case::new("p", "{}"), Case::new("q", "{}")]);
    /// let row = CaseResult { case_id: data.cases[0].fingerprint(), ..CaseResult::example() };
    /// let report = Report::build(&RunConfig::new(Track::Structured), "m", None, Default::default(), &data, &[row], None);
    /// assert_eq!((report.cases.total, report.cases.completed), (2, 1));
    /// ```
    pub fn build(
        config: &RunConfig,
        model_id: &str,
        spec: Option<&str>,
        capabilities: Capabilities,
        dataset: &Dataset,
        results: &[CaseResult],
        results_path: Option<&Path>,
    ) -> Self {
        let mut rows: Vec<&CaseResult> = results
            .iter()
            .filter(|r| r.index < dataset.cases.len())
            .collect();
        rows.sort_by_key(|r| r.index);
        let per_case: Vec<CaseSummary> = rows
            .iter()
            .map(|r| CaseSummary {
                index: r.index,
                case_id: r.case_id.clone(),
                error: r.error.is_some(),
                score: score_case(config.track, &dataset.cases[r.index], &r.prediction),
            })
            .collect();
        let ttft: Vec<f64> = rows.iter().map(|r| r.ttft_ms).collect();
        let total: Vec<f64> = rows.iter().map(|r| r.total_ms).collect();
        let prompt: u64 = rows.iter().map(|r| r.usage.prompt_tokens as u64).sum();
        let completion: u64 = rows.iter().map(|r| r.usage.completion_tokens as u64).sum();
        let cost_total: f64 = rows.iter().map(|r| r.cost).sum();
        Self {
            schema: REPORT_SCHEMA.to_string(),
            track: config.track,
            model: ModelInfo {
                id: model_id.to_string(),
                spec: spec.map(str::to_string),
                capabilities,
            },
            options: config.options.clone(),
            constrained: config.constrained,
            dataset: DatasetInfo {
                path: dataset.path.clone(),
                sha256: dataset.sha256.clone(),
                cases: dataset.cases.len(),
            },
            started_at: rows
                .iter()
                .map(|r| r.started_at.clone())
                .min()
                .unwrap_or_default(),
            finished_at: rows
                .iter()
                .map(|r| r.finished_at.clone())
                .max()
                .unwrap_or_default(),
            cases: CaseCounts {
                total: dataset.cases.len(),
                completed: rows.len(),
                errors: rows.iter().filter(|r| r.error.is_some()).count(),
                cached: rows.iter().filter(|r| r.cached).count(),
            },
            metrics: track_aggregate(config.track, per_case.iter().map(|c| &c.score)),
            latency: Latency {
                ttft_ms: Summary::of(&ttft),
                total_ms: Summary::of(&total),
            },
            tokens: Tokens {
                prompt,
                completion,
                total: prompt + completion,
            },
            cost: Cost {
                total: cost_total,
                per_case: cost_total / rows.len().max(1) as f64,
            },
            results_path: results_path.map(Path::to_path_buf),
            per_case,
        }
    }

    /// Writes the report as pretty JSON, creating parent directories.
    ///
    /// ```
    /// # use slm_eval::*;
    /// # let data = Dataset::from_cases("d", vec![Case::new("p", "{}")]);
    /// # let report = Report::build(&RunConfig::new(Track::Structured), "m", None, Default::default(), &data, &[], None);
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("out/report.json");
    /// report.save(&path).unwrap();
    /// assert_eq!(Report::load(&path).unwrap(), report);
    /// ```
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::data::create_parent(path)?;
        let text = serde_json::to_string_pretty(self).map_err(|e| EvalError::Json {
            path: path.into(),
            message: e.to_string(),
        })?;
        std::fs::write(path, text + "\n").map_err(|e| EvalError::io(path, e))
    }

    /// Reads a report, checking its schema identifier.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("r.json");
    /// std::fs::write(&path, r#"{"schema": "other/v9"}"#).unwrap();
    /// assert!(slm_eval::Report::load(&path).is_err());
    /// ```
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| EvalError::io(path, e))?;
        let report: Report = serde_json::from_str(&text).map_err(|e| EvalError::Json {
            path: path.into(),
            message: e.to_string(),
        })?;
        if report.schema != REPORT_SCHEMA {
            return Err(EvalError::Json {
                path: path.into(),
                message: format!(
                    "unsupported report schema {:?}, expected {REPORT_SCHEMA:?}",
                    report.schema
                ),
            });
        }
        Ok(report)
    }
}

/// The aggregate metrics a track reports: BFCL cases have no argument-level field counts, so
/// its report carries no precision / recall / F1.
fn track_aggregate<'a>(
    track: crate::Track,
    scores: impl IntoIterator<Item = &'a crate::CaseScore>,
) -> std::collections::BTreeMap<String, f64> {
    let mut metrics = aggregate(scores);
    if track == crate::Track::Bfcl {
        metrics.retain(|name, _| !crate::metrics::is_field_metric(name));
    }
    metrics
}

//! # slm-eval
//!
//! The SLM Swap workflow in Rust: evaluate a local small model against a hosted large one on a
//! **structured JSON** track and a **tool-calling** track, compare them with honest statistics,
//! and decide whether to fine-tune.
//!
//! A short tour, with a scripted model standing in for real ones:
//!
//! ```
//! use slm_core::ScriptedModel;
//! use slm_eval::{Case, CompareOptions, Comparison, Dataset, Report, RunConfig, Runner, Track};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! // 1. Data: JSONL rows {"prompt", "completion"} (+ optional "tools", "schema").
//! let data = Dataset::from_cases("test.jsonl", vec![
//!     Case::new("Weather in Oslo as JSON", r#"{"tool_name": "weather", "arguments": {"city": "Oslo"}}"#),
//!     Case::new("Weather in Rome as JSON", r#"{"tool_name": "weather", "arguments": {"city": "Rome"}}"#),
//! ]);
//!
//! // 2. Run each model (deterministic options; each case appended to a results file when done).
//! let config = RunConfig::new(Track::Structured);
//! let llm = ScriptedModel::new("gpt-4o")
//!     .reply(r#"{"arguments": {"city": "Oslo"}, "tool_name": "weather"}"#)
//!     .reply(r#"{"tool_name": "weather", "arguments": {"city": "Rome"}}"#);
//! let slm = ScriptedModel::new("phi-4-mini")
//!     .reply(r#"{"tool_name": "weather", "arguments": {"city": "Oslo"}}"#)
//!     .reply("Sure! Here is the JSON: ...");
//! let dir = tempfile::tempdir().unwrap();
//! let mut reports = Vec::new();
//! for model in [&llm, &slm] {
//!     let results = dir.path().join(format!("{}.results.jsonl", slm_core::ChatModel::id(model)));
//!     let outcome = Runner::new(config.clone()).run(model, &data, Some(&results), |_| {}).await.unwrap();
//!     let caps = slm_core::ChatModel::capabilities(model);
//!     let id = slm_core::ChatModel::id(model);
//!     reports.push(Report::build(&config, id, None, caps, &data, &outcome.results, Some(&results)));
//! }
//! assert_eq!(reports[0].metrics["exact_match"], 1.0); // key order does not matter
//! assert_eq!(reports[1].metrics["json_valid"], 0.5);
//!
//! // 3. Compare and decide (the SLM Swap rule: fine-tune when the SLM trails by > delta).
//! let cmp = Comparison::new(&reports[0], &reports[1], CompareOptions::new(0.01)).unwrap();
//! assert_eq!(cmp.decision_line(), "FINE_TUNE=1");
//! assert_eq!(cmp.exit_code(), 10);
//! # });
//! ```
//!
//! The `slm eval` command (crate `slm-cli`) wraps this as `prepare`, `run`, `compare` and `live`.
//!
//! Design decisions:
//! - **The library depends on `slm-core` only.** Models are `&dyn ChatModel`; the CLI builds
//!   real backends (`slm-llamacpp`, `slm-remote`) behind the `llamacpp` and `remote` features.
//! - **Nothing is lost.** Every finished case is one appended, synced JSONL line
//!   ([`ResultsFile`]); a rerun resumes, and a killed run rerun gives the same report.
//! - **Scores are recomputed from answers.** Reports rescore stored predictions, so changing a
//!   metric never needs a model rerun.
//! - **Canonical JSON** ([`canonical`]) makes metrics independent of key order and of `1` vs
//!   `1.0`; tool calls are parsed by `slm_core::wire` so backends and evaluator agree.
//! - **Reproducible randomness**: splits and bootstrap use a fixed SplitMix64 ([`rng`]), so a
//!   seed means the same thing in every version.
//! - **BFCL compatibility** ([`bfcl`]) is a line-by-line port of BFCL's AST checker (Python
//!   equality quirks included) and of its Java/JavaScript value converters, checked against
//!   BFCL's own code (`examples/bfcl_agreement.rs`, `examples/bfcl_converters.rs`).
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod bfcl;
pub mod cache;
pub mod canonical;
mod compare;
pub mod data;
mod error;
mod live;
pub mod metrics;
pub mod pytype;
pub mod render;
mod replay;
mod report;
mod results;
pub mod rng;
pub mod runner;
pub mod stats;
pub mod xlam;

pub use cache::{CachedAnswer, ResponseCache};
pub use compare::{CompareOptions, Comparison, FINE_TUNE_EXIT_CODE, McNemar, MetricComparison};
pub use data::{Case, Dataset, Track};
pub use error::{EvalError, Result};
pub use live::{LiveBoard, LiveModel, run_live};
pub use metrics::{CaseScore, FieldCounts};
pub use replay::ReplayModel;
pub use report::{
    CaseCounts, CaseSummary, Cost, DatasetInfo, Latency, ModelInfo, REPORT_SCHEMA, Report, Tokens,
};
pub use results::{CaseResult, ResultsFile};
pub use runner::{RunConfig, RunObserver, RunOutcome, RunProgress, Runner};

/// Checks that every reference of a dataset parses for the track (and every schema compiles),
/// naming the first bad case by its 1-based position.
///
/// ```
/// use slm_eval::{Case, Dataset, Track, validate_dataset};
/// let good = Dataset::from_cases("d", vec![Case::new("p", "{}")]);
/// assert!(validate_dataset(&good, Track::Structured).is_ok());
/// let err = validate_dataset(&good, Track::Toolcall).unwrap_err();
/// assert!(err.to_string().contains("d:1:"), "{err}");
/// ```
pub fn validate_dataset(dataset: &Dataset, track: Track) -> Result<()> {
    for (i, case) in dataset.cases.iter().enumerate() {
        let line_error = |message: String| EvalError::Line {
            path: dataset.path.clone(),
            line: i + 1,
            message,
        };
        metrics::Reference::parse(track, case).map_err(line_error)?;
        if let Some(schema) = &case.schema {
            jsonschema::validator_for(schema)
                .map_err(|e| line_error(format!("invalid JSON schema: {e}")))?;
        }
    }
    Ok(())
}

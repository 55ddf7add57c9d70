//! Metrics: one [`CaseScore`] per case, aggregated into named rates and micro-averaged
//! precision/recall/F1.
//!
//! Pass/fail metrics (`json_valid`, `exact_match`, ...) are averaged over the cases where they
//! apply; `args_precision`, `args_recall` and `args_f1` are micro-averages over flattened
//! argument key paths (true/false positives summed over cases, as the SLM Swap evaluation's `eval.py` does).

mod structured;
mod toolcall;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use slm_core::ToolCall;

use crate::{Case, Track};

pub use structured::score_structured;
pub use toolcall::{match_calls, score_toolcall};

/// Stable metric names, as they appear in reports.
pub mod names {
    /// Structured: the answer parses as JSON.
    ///
    /// ```
    /// assert!(!slm_eval::metrics::names::JSON_VALID.is_empty());
    /// ```
    pub const JSON_VALID: &str = "json_valid";
    /// Structured: the answer validates against the case's JSON schema (cases with a schema).
    ///
    /// ```
    /// assert!(!slm_eval::metrics::names::SCHEMA_VALID.is_empty());
    /// ```
    pub const SCHEMA_VALID: &str = "schema_valid";
    /// Structured: the answer equals the reference as canonical JSON.
    ///
    /// ```
    /// assert!(!slm_eval::metrics::names::EXACT_MATCH.is_empty());
    /// ```
    pub const EXACT_MATCH: &str = "exact_match";
    /// Tool-call: the answer is made only of well-formed tool calls (`slm_core::wire`).
    ///
    /// ```
    /// assert!(!slm_eval::metrics::names::WRAPPER_VALID.is_empty());
    /// ```
    pub const WRAPPER_VALID: &str = "wrapper_valid";
    /// Both tracks: the called tool names equal the reference's (as a multiset).
    ///
    /// ```
    /// assert!(!slm_eval::metrics::names::TOOL_NAME_ACCURACY.is_empty());
    /// ```
    pub const TOOL_NAME_ACCURACY: &str = "tool_name_accuracy";
    /// Both tracks: the arguments equal the reference's as canonical JSON (every call).
    ///
    /// ```
    /// assert!(!slm_eval::metrics::names::ARGS_EXACT_MATCH.is_empty());
    /// ```
    pub const ARGS_EXACT_MATCH: &str = "args_exact_match";
    /// Micro precision over flattened argument key paths.
    ///
    /// ```
    /// assert!(!slm_eval::metrics::names::ARGS_PRECISION.is_empty());
    /// ```
    pub const ARGS_PRECISION: &str = "args_precision";
    /// Micro recall over flattened argument key paths.
    ///
    /// ```
    /// assert!(!slm_eval::metrics::names::ARGS_RECALL.is_empty());
    /// ```
    pub const ARGS_RECALL: &str = "args_recall";
    /// Micro F1 over flattened argument key paths.
    ///
    /// ```
    /// assert!(!slm_eval::metrics::names::ARGS_F1.is_empty());
    /// ```
    pub const ARGS_F1: &str = "args_f1";
}

/// The metrics of a track, in report order. The first ones are pass/fail rates; the last three
/// are the field metrics.
///
/// ```
/// let m = slm_eval::metrics::track_metrics(slm_eval::Track::Toolcall);
/// assert_eq!(m[0], "wrapper_valid");
/// assert_eq!(*m.last().unwrap(), "args_f1");
/// ```
pub fn track_metrics(track: Track) -> &'static [&'static str] {
    use names::*;
    match track {
        Track::Structured => &[
            JSON_VALID,
            SCHEMA_VALID,
            EXACT_MATCH,
            TOOL_NAME_ACCURACY,
            ARGS_EXACT_MATCH,
            ARGS_PRECISION,
            ARGS_RECALL,
            ARGS_F1,
        ],
        Track::Toolcall => &[
            WRAPPER_VALID,
            TOOL_NAME_ACCURACY,
            ARGS_EXACT_MATCH,
            ARGS_PRECISION,
            ARGS_RECALL,
            ARGS_F1,
        ],
        // Per category too: `bfcl_<category>` (see `crate::bfcl`).
        Track::Bfcl => &[crate::bfcl::BFCL_AST],
    }
}

/// Whether a metric name is one of the micro-averaged field metrics (not a pass/fail rate).
///
/// ```
/// assert!(slm_eval::metrics::is_field_metric("args_f1"));
/// assert!(!slm_eval::metrics::is_field_metric("exact_match"));
/// ```
pub fn is_field_metric(name: &str) -> bool {
    matches!(
        name,
        names::ARGS_PRECISION | names::ARGS_RECALL | names::ARGS_F1
    )
}

/// True positives, false positives and false negatives over flattened `(key path, value)` pairs.
///
/// ```
/// let c = slm_eval::FieldCounts { tp: 2, fp: 1, fn_: 1 };
/// assert!((c.f1() - 2.0 / 3.0).abs() < 1e-12);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FieldCounts {
    /// Pairs in both answer and reference.
    pub tp: u32,
    /// Pairs only in the answer.
    pub fp: u32,
    /// Pairs only in the reference.
    #[serde(rename = "fn")]
    pub fn_: u32,
}

impl FieldCounts {
    /// `tp / (tp + fp)`, 0 when undefined.
    ///
    /// ```
    /// assert_eq!(slm_eval::FieldCounts::default().precision(), 0.0);
    /// ```
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }

    /// `tp / (tp + fn)`, 0 when undefined.
    ///
    /// ```
    /// assert_eq!(slm_eval::FieldCounts { tp: 1, fp: 0, fn_: 1 }.recall(), 0.5);
    /// ```
    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }

    /// Harmonic mean of precision and recall, 0 when both are 0.
    ///
    /// ```
    /// assert_eq!(slm_eval::FieldCounts { tp: 3, fp: 0, fn_: 0 }.f1(), 1.0);
    /// ```
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }

    /// The value of one of the three field metrics by name.
    ///
    /// ```
    /// let c = slm_eval::FieldCounts { tp: 1, fp: 1, fn_: 0 };
    /// assert_eq!(c.metric("args_precision"), Some(0.5));
    /// assert_eq!(c.metric("exact_match"), None);
    /// ```
    pub fn metric(&self, name: &str) -> Option<f64> {
        match name {
            names::ARGS_PRECISION => Some(self.precision()),
            names::ARGS_RECALL => Some(self.recall()),
            names::ARGS_F1 => Some(self.f1()),
            _ => None,
        }
    }
}

impl std::ops::Add for FieldCounts {
    type Output = FieldCounts;
    fn add(self, o: FieldCounts) -> FieldCounts {
        FieldCounts {
            tp: self.tp + o.tp,
            fp: self.fp + o.fp,
            fn_: self.fn_ + o.fn_,
        }
    }
}

fn ratio(a: u32, b: u32) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// The score of one case: pass/fail metrics that apply to it, and field counts.
///
/// ```
/// let s = slm_eval::metrics::score_structured(r#"{"a": 1}"#, &serde_json::json!({"a": 1.0}), None);
/// assert_eq!(s.passes["exact_match"], true);
/// assert_eq!(s.fields.f1(), 1.0);
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CaseScore {
    /// Pass/fail metrics by name; a metric that does not apply to the case is absent.
    pub passes: BTreeMap<String, bool>,
    /// Counts for the argument precision/recall/F1.
    pub fields: FieldCounts,
}

impl CaseScore {
    pub(crate) fn set(&mut self, name: &str, pass: bool) {
        self.passes.insert(name.to_string(), pass);
    }

    /// Per-case value of a metric: 1.0/0.0 for a pass/fail metric, the case's own
    /// precision/recall/F1 for field metrics; `None` when the metric does not apply.
    ///
    /// ```
    /// let s = slm_eval::metrics::score_structured("oops", &serde_json::json!({"a": 1}), None);
    /// assert_eq!(s.value("json_valid"), Some(0.0));
    /// assert_eq!(s.value("args_recall"), Some(0.0));
    /// assert_eq!(s.value("schema_valid"), None);
    /// ```
    pub fn value(&self, name: &str) -> Option<f64> {
        self.fields
            .metric(name)
            .or_else(|| self.passes.get(name).map(|p| if *p { 1.0 } else { 0.0 }))
    }

    /// Whether every pass/fail metric of the case passed.
    ///
    /// ```
    /// let s = slm_eval::metrics::score_structured("{}", &serde_json::json!({}), None);
    /// assert!(s.all_pass());
    /// ```
    pub fn all_pass(&self) -> bool {
        self.passes.values().all(|p| *p)
    }
}

/// A reference answer, parsed once per case.
///
/// ```
/// use slm_eval::{Case, Track, metrics::Reference};
/// let r = Reference::parse(Track::Toolcall, &Case::new("p", r#"<tool_call name="f">{}</tool_call>"#)).unwrap();
/// assert!(matches!(r, Reference::Toolcall(calls) if calls[0].name == "f"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Reference {
    /// The JSON value of a structured reference.
    Structured(Value),
    /// The calls of a tool-call reference.
    Toolcall(Vec<ToolCall>),
    /// A BFCL entry's functions and answer key.
    Bfcl(Box<crate::bfcl::BfclReference>),
}

impl Reference {
    /// Parses a case's reference completion for a track; an error explains what is wrong.
    ///
    /// ```
    /// use slm_eval::{Case, Track, metrics::Reference};
    /// assert!(Reference::parse(Track::Structured, &Case::new("p", "{\"a\": 1}")).is_ok());
    /// assert!(Reference::parse(Track::Toolcall, &Case::new("p", "{\"a\": 1}")).is_err());
    /// ```
    pub fn parse(track: Track, case: &Case) -> Result<Self, String> {
        match track {
            Track::Structured => serde_json::from_str(case.completion.trim())
                .map(Reference::Structured)
                .map_err(|e| format!("reference completion is not JSON: {e}")),
            Track::Toolcall => slm_core::wire::parse_tool_calls(&case.completion)
                .map(Reference::Toolcall)
                .map_err(|e| format!("reference completion is not a tool call: {e}")),
            Track::Bfcl => serde_json::from_str(&case.completion)
                .map(|r| Reference::Bfcl(Box::new(r)))
                .map_err(|e| format!("reference completion is not a BFCL reference: {e}")),
        }
    }
}

/// Scores a prediction for a case on a track. A reference that does not parse, or a schema that
/// does not compile, scores every metric as failed (data errors are caught earlier by
/// [`crate::validate_dataset`]).
///
/// ```
/// use slm_eval::{Case, Track, metrics::score_case};
/// let case = Case::new("p", r#"<tool_call name="f">{"x": 1}</tool_call>"#);
/// let s = score_case(Track::Toolcall, &case, r#"<tool_call name="f">{"x": 1.0}</tool_call>"#);
/// assert!(s.all_pass());
/// ```
pub fn score_case(track: Track, case: &Case, prediction: &str) -> CaseScore {
    match Reference::parse(track, case) {
        Ok(Reference::Structured(reference)) => {
            let validator = case
                .schema
                .as_ref()
                .map(|schema| jsonschema::validator_for(schema).map_err(|e| e.to_string()));
            match validator {
                Some(Err(_)) => failed(track),
                Some(Ok(v)) => score_structured(prediction, &reference, Some(&v)),
                None => score_structured(prediction, &reference, None),
            }
        }
        Ok(Reference::Toolcall(calls)) => score_toolcall(prediction, &calls),
        Ok(Reference::Bfcl(_)) => crate::bfcl::score(case, prediction),
        Err(_) => failed(track),
    }
}

fn failed(track: Track) -> CaseScore {
    let mut score = CaseScore::default();
    for name in track_metrics(track) {
        if !is_field_metric(name) {
            score.set(name, false);
        }
    }
    score
}

/// Aggregates case scores into named metrics: pass/fail rates averaged over the cases where they
/// apply, field metrics micro-averaged. Metrics that apply to no case are absent.
///
/// ```
/// use slm_eval::metrics::{aggregate, score_structured};
/// use serde_json::json;
/// let a = score_structured(r#"{"a": 1}"#, &json!({"a": 1}), None);
/// let b = score_structured(r#"{"a": 2}"#, &json!({"a": 1}), None);
/// let m = aggregate([&a, &b]);
/// assert_eq!(m["exact_match"], 0.5);
/// assert_eq!(m["args_precision"], 0.5);
/// ```
pub fn aggregate<'a>(scores: impl IntoIterator<Item = &'a CaseScore>) -> BTreeMap<String, f64> {
    let mut sums: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    let mut fields = FieldCounts::default();
    let mut any = false;
    for score in scores {
        any = true;
        fields = fields + score.fields;
        for (name, pass) in &score.passes {
            let entry = sums.entry(name.clone()).or_default();
            entry.0 += u32::from(*pass);
            entry.1 += 1;
        }
    }
    let mut out: BTreeMap<String, f64> = sums
        .into_iter()
        .map(|(name, (passed, total))| (name, passed as f64 / total as f64))
        .collect();
    if any {
        out.insert(names::ARGS_PRECISION.into(), fields.precision());
        out.insert(names::ARGS_RECALL.into(), fields.recall());
        out.insert(names::ARGS_F1.into(), fields.f1());
    }
    out
}

/// The value of one metric over a subset of cases (used by the bootstrap): the pass rate for a
/// pass/fail metric, the micro-average for a field metric. `None` when it applies to none.
///
/// ```
/// use slm_eval::metrics::{metric_over, score_structured};
/// let s = score_structured("{}", &serde_json::json!({}), None);
/// assert_eq!(metric_over("exact_match", [&s, &s]), Some(1.0));
/// ```
pub fn metric_over<'a>(name: &str, scores: impl IntoIterator<Item = &'a CaseScore>) -> Option<f64> {
    if is_field_metric(name) {
        let mut fields = FieldCounts::default();
        let mut any = false;
        for s in scores {
            any = true;
            fields = fields + s.fields;
        }
        any.then(|| fields.metric(name)).flatten()
    } else {
        let (mut passed, mut total) = (0u32, 0u32);
        for s in scores {
            if let Some(p) = s.passes.get(name) {
                passed += u32::from(*p);
                total += 1;
            }
        }
        (total > 0).then(|| passed as f64 / total as f64)
    }
}

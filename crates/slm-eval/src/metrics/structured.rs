//! Structured track: one JSON object per answer.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{CaseScore, FieldCounts, names};
use crate::canonical::{flatten, json_eq};

/// Keys that name the chosen tool in a structured answer, in order of preference.
const NAME_KEYS: [&str; 2] = ["tool_name", "name"];
/// The key that holds the arguments.
const ARGS_KEY: &str = "arguments";

/// Scores a structured answer against its reference.
///
/// - `json_valid`: the (trimmed) answer parses as JSON; code fences and prose fail.
/// - `schema_valid`: the answer validates against `schema` (only when given).
/// - `exact_match`: canonical equality (key order ignored, `1 == 1.0`).
/// - `tool_name_accuracy`: same `tool_name` (or `name`), when the reference has one.
/// - `args_exact_match`: canonically equal `arguments`, when the reference has them.
/// - field counts over the flattened `arguments` when the reference has them, else over the
///   whole object.
///
/// ```
/// use serde_json::json;
/// let reference = json!({"tool_name": "weather", "arguments": {"city": "Oslo", "days": 3}});
/// let s = slm_eval::metrics::score_structured(
///     r#"{"arguments": {"days": 3.0, "city": "Bergen"}, "tool_name": "weather"}"#, &reference, None);
/// assert_eq!(s.passes["tool_name_accuracy"], true);
/// assert_eq!(s.passes["args_exact_match"], false);
/// assert_eq!((s.fields.tp, s.fields.fp, s.fields.fn_), (1, 1, 1));
/// ```
pub fn score_structured(
    prediction: &str,
    reference: &Value,
    schema: Option<&jsonschema::Validator>,
) -> CaseScore {
    let mut score = CaseScore::default();
    let parsed: Option<Value> = serde_json::from_str(prediction.trim()).ok();
    score.set(names::JSON_VALID, parsed.is_some());
    if let Some(validator) = schema {
        let valid = parsed.as_ref().is_some_and(|v| validator.is_valid(v));
        score.set(names::SCHEMA_VALID, valid);
    }
    score.set(
        names::EXACT_MATCH,
        parsed.as_ref().is_some_and(|p| json_eq(p, reference)),
    );
    if let Some(expected) = tool_name(reference) {
        let same = parsed.as_ref().and_then(tool_name) == Some(expected);
        score.set(names::TOOL_NAME_ACCURACY, same);
    }
    let reference_args = reference.get(ARGS_KEY);
    if let Some(expected) = reference_args {
        let predicted = parsed.as_ref().and_then(|p| p.get(ARGS_KEY));
        score.set(
            names::ARGS_EXACT_MATCH,
            predicted.is_some_and(|p| json_eq(p, expected)),
        );
    }
    let compared_reference = reference_args.unwrap_or(reference);
    let compared_prediction = match reference_args {
        Some(_) => parsed.as_ref().and_then(|p| p.get(ARGS_KEY)),
        None => parsed.as_ref(),
    };
    score.fields = field_counts(compared_prediction, compared_reference);
    score
}

fn tool_name(value: &Value) -> Option<&str> {
    NAME_KEYS
        .iter()
        .find_map(|key| value.get(key).and_then(Value::as_str))
}

/// Counts over flattened `(path, value)` pairs; a missing prediction contributes only false
/// negatives.
pub(super) fn field_counts(prediction: Option<&Value>, reference: &Value) -> FieldCounts {
    let reference: BTreeSet<(String, String)> = flatten(reference).into_iter().collect();
    let Some(prediction) = prediction else {
        return FieldCounts {
            tp: 0,
            fp: 0,
            fn_: reference.len() as u32,
        };
    };
    let prediction: BTreeSet<(String, String)> = flatten(prediction).into_iter().collect();
    let tp = prediction.intersection(&reference).count() as u32;
    FieldCounts {
        tp,
        fp: prediction.len() as u32 - tp,
        fn_: reference.len() as u32 - tp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn golden_invalid_json_scores_zero_with_recall_denominator() {
        let s = score_structured("```json\n{}\n```", &json!({"a": 1, "b": [1, 2]}), None);
        assert!(!s.passes[names::JSON_VALID]);
        assert!(!s.passes[names::EXACT_MATCH]);
        assert_eq!(
            s.fields,
            FieldCounts {
                tp: 0,
                fp: 0,
                fn_: 3
            }
        );
    }

    #[test]
    fn golden_schema_validity() {
        let schema =
            json!({"type": "object", "required": ["a"], "properties": {"a": {"type": "integer"}}});
        let v = jsonschema::validator_for(&schema).unwrap();
        let r = json!({"a": 1});
        assert!(score_structured("{\"a\": 2}", &r, Some(&v)).passes[names::SCHEMA_VALID]);
        assert!(!score_structured("{\"a\": \"2\"}", &r, Some(&v)).passes[names::SCHEMA_VALID]);
        assert!(!score_structured("nope", &r, Some(&v)).passes[names::SCHEMA_VALID]);
    }

    #[test]
    fn golden_seed_shape() {
        let reference = json!({"query": "Weather in Oslo?", "tool_name": "weather", "arguments": {"city": "Oslo"}});
        let s = score_structured(
            r#"{"query": "Weather in Oslo?", "tool_name": "forecast", "arguments": {"city": "Oslo"}}"#,
            &reference,
            None,
        );
        assert!(!s.passes[names::EXACT_MATCH]);
        assert!(!s.passes[names::TOOL_NAME_ACCURACY]);
        assert!(s.passes[names::ARGS_EXACT_MATCH]);
        assert_eq!(s.fields.f1(), 1.0);
    }
}

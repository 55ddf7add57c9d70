//! Tool-call track: one or more calls per answer, matched to the reference in any order.

use std::collections::BTreeSet;

use slm_core::ToolCall;

use super::{CaseScore, FieldCounts, names};
use crate::canonical::{canonical_string, flatten};

/// Above this many predicted calls the exact assignment (exponential in the number of predicted
/// calls) gives way to a greedy one.
const EXACT_MATCHING_LIMIT: usize = 12;
/// Above this many reference calls, too.
const EXACT_MATCHING_REFERENCE_LIMIT: usize = 64;

/// Scores a tool-call answer against the reference calls.
///
/// - `wrapper_valid`: the answer is only tool calls and whitespace, as [`slm_core::wire`]
///   parses them (`<tool_call name="...">{...}</tool_call>`, Hermes wrappers or JSON objects).
/// - `tool_name_accuracy`: the multiset of called names equals the reference's.
/// - `args_exact_match`: the calls equal the reference's as a multiset of (name, canonical args).
/// - field counts: calls are paired by [`match_calls`] (order ignored); paired calls compare
///   their flattened arguments, unpaired ones count wholly as false positives or negatives.
///
/// ```
/// use slm_core::ToolCall;
/// use serde_json::json;
/// let reference = vec![
///     ToolCall::new("", "a", json!({"x": 1})),
///     ToolCall::new("", "b", json!({"y": 2})),
/// ];
/// let answer = r#"<tool_call name="b">{"y": 2}</tool_call><tool_call name="a">{"x": 1}</tool_call>"#;
/// let s = slm_eval::metrics::score_toolcall(answer, &reference);
/// assert!(s.all_pass());
/// assert_eq!(s.fields.f1(), 1.0);
/// ```
pub fn score_toolcall(prediction: &str, reference: &[ToolCall]) -> CaseScore {
    let mut score = CaseScore::default();
    let parsed = slm_core::wire::parse_tool_calls(prediction).ok();
    score.set(names::WRAPPER_VALID, parsed.is_some());
    let predicted = parsed.unwrap_or_default();
    score.set(
        names::TOOL_NAME_ACCURACY,
        !predicted.is_empty() && name_multiset(&predicted) == name_multiset(reference),
    );
    score.set(
        names::ARGS_EXACT_MATCH,
        !predicted.is_empty() && call_multiset(&predicted) == call_multiset(reference),
    );
    score.fields = field_counts(&predicted, reference);
    score
}

fn name_multiset(calls: &[ToolCall]) -> Vec<&str> {
    let mut names: Vec<&str> = calls.iter().map(|c| c.name.as_str()).collect();
    names.sort_unstable();
    names
}

fn call_multiset(calls: &[ToolCall]) -> Vec<(String, String)> {
    let mut items: Vec<(String, String)> = calls
        .iter()
        .map(|c| (c.name.clone(), canonical_string(&c.arguments)))
        .collect();
    items.sort_unstable();
    items
}

type Leaves = BTreeSet<(String, String)>;

fn leaves(call: &ToolCall) -> Leaves {
    flatten(&call.arguments).into_iter().collect()
}

fn field_counts(predicted: &[ToolCall], reference: &[ToolCall]) -> FieldCounts {
    let p: Vec<Leaves> = predicted.iter().map(leaves).collect();
    let r: Vec<Leaves> = reference.iter().map(leaves).collect();
    let pairs = match_calls(predicted, reference);
    let mut counts = FieldCounts::default();
    let mut used_p = vec![false; p.len()];
    let mut used_r = vec![false; r.len()];
    for (i, j) in pairs {
        used_p[i] = true;
        used_r[j] = true;
        let tp = p[i].intersection(&r[j]).count() as u32;
        counts.tp += tp;
        counts.fp += p[i].len() as u32 - tp;
        counts.fn_ += r[j].len() as u32 - tp;
    }
    counts.fp += unused_total(&p, &used_p);
    counts.fn_ += unused_total(&r, &used_r);
    counts
}

fn unused_total(sets: &[Leaves], used: &[bool]) -> u32 {
    sets.iter()
        .zip(used)
        .filter(|(_, u)| !**u)
        .map(|(s, _)| s.len() as u32)
        .sum()
}

/// Pairs predicted calls with reference calls, ignoring order: the pairing maximizes first the
/// number of pairs with equal names, then the number of shared argument leaves. Returns
/// `(predicted index, reference index)` pairs; at most `min(len)` of them.
///
/// Exact (dynamic programming over subsets) up to 12 predicted calls, greedy beyond.
///
/// ```
/// use slm_core::ToolCall;
/// use serde_json::json;
/// let p = vec![ToolCall::new("", "b", json!({})), ToolCall::new("", "a", json!({"k": 1}))];
/// let r = vec![ToolCall::new("", "a", json!({"k": 1})), ToolCall::new("", "b", json!({}))];
/// let mut pairs = slm_eval::metrics::match_calls(&p, &r);
/// pairs.sort();
/// assert_eq!(pairs, vec![(0, 1), (1, 0)]);
/// ```
pub fn match_calls(predicted: &[ToolCall], reference: &[ToolCall]) -> Vec<(usize, usize)> {
    let p: Vec<Leaves> = predicted.iter().map(leaves).collect();
    let r: Vec<Leaves> = reference.iter().map(leaves).collect();
    let weight = |i: usize, j: usize| -> u64 {
        let same_name = u64::from(predicted[i].name == reference[j].name);
        (same_name << 32) | p[i].intersection(&r[j]).count() as u64
    };
    if predicted.len() <= EXACT_MATCHING_LIMIT && reference.len() <= EXACT_MATCHING_REFERENCE_LIMIT
    {
        exact_assignment(predicted.len(), reference.len(), weight)
    } else {
        greedy_assignment(predicted.len(), reference.len(), weight)
    }
}

/// Best assignment by dynamic programming: `best[mask]` is the best weight after assigning the
/// first k reference calls with the predicted calls in `mask` used.
fn exact_assignment(
    n: usize,
    m: usize,
    weight: impl Fn(usize, usize) -> u64,
) -> Vec<(usize, usize)> {
    let states = 1usize << n;
    // best[j][mask] for the first j reference calls.
    let mut best = vec![vec![None::<u64>; states]; m + 1];
    best[0][0] = Some(0);
    for j in 0..m {
        for mask in 0..states {
            let Some(current) = best[j][mask] else {
                continue;
            };
            relax(&mut best[j + 1][mask], current); // reference call j unpaired
            for i in (0..n).filter(|i| mask & (1 << i) == 0) {
                relax(&mut best[j + 1][mask | (1 << i)], current + weight(i, j));
            }
        }
    }
    // Walk back from the best final state.
    let mut mask = (0..states)
        .max_by_key(|mask| (best[m][*mask], std::cmp::Reverse(mask.count_ones())))
        .unwrap_or(0);
    let mut pairs = Vec::new();
    for j in (0..m).rev() {
        let target = best[j + 1][mask];
        if best[j][mask] == target {
            continue;
        }
        let i = (0..n)
            .filter(|i| mask & (1 << i) != 0)
            .find(|i| best[j][mask & !(1 << i)].map(|b| b + weight(*i, j)) == target);
        if let Some(i) = i {
            pairs.push((i, j));
            mask &= !(1 << i);
        }
    }
    pairs.reverse();
    pairs
}

fn relax(slot: &mut Option<u64>, value: u64) {
    if slot.is_none_or(|v| value > v) {
        *slot = Some(value);
    }
}

fn greedy_assignment(
    n: usize,
    m: usize,
    weight: impl Fn(usize, usize) -> u64,
) -> Vec<(usize, usize)> {
    let mut candidates: Vec<(u64, usize, usize)> = (0..n)
        .flat_map(|i| (0..m).map(move |j| (i, j)))
        .map(|(i, j)| (weight(i, j), i, j))
        .collect();
    candidates.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let (mut used_p, mut used_r) = (vec![false; n], vec![false; m]);
    let mut pairs = Vec::new();
    for (_, i, j) in candidates {
        if !used_p[i] && !used_r[j] {
            used_p[i] = true;
            used_r[j] = true;
            pairs.push((i, j));
        }
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn call(name: &str, args: serde_json::Value) -> ToolCall {
        ToolCall::new("", name, args)
    }

    #[test]
    fn golden_malformed_wrapper() {
        let reference = vec![call("f", json!({"a": 1, "b": 2}))];
        let s = score_toolcall("<tool_call name=\"f\">{\"a\": 1", &reference);
        assert!(!s.passes[names::WRAPPER_VALID]);
        assert!(!s.passes[names::TOOL_NAME_ACCURACY]);
        assert_eq!(
            s.fields,
            FieldCounts {
                tp: 0,
                fp: 0,
                fn_: 2
            }
        );
    }

    #[test]
    fn golden_extra_call_costs_precision_only() {
        let reference = vec![call("f", json!({"a": 1}))];
        let answer =
            r#"<tool_call name="f">{"a": 1}</tool_call> <tool_call name="g">{"z": 0}</tool_call>"#;
        let s = score_toolcall(answer, &reference);
        assert!(s.passes[names::WRAPPER_VALID]);
        assert!(!s.passes[names::TOOL_NAME_ACCURACY]);
        assert_eq!(
            s.fields,
            FieldCounts {
                tp: 1,
                fp: 1,
                fn_: 0
            }
        );
    }

    #[test]
    fn names_are_preferred_over_argument_overlap() {
        // Pairing by arguments alone would pair p0 with r1; names win.
        let p = vec![call("a", json!({"k": 1}))];
        let r = vec![call("a", json!({"k": 2})), call("b", json!({"k": 1}))];
        assert_eq!(match_calls(&p, &r), vec![(0, 0)]);
    }

    #[test]
    fn greedy_and_exact_agree_on_simple_cases() {
        let p: Vec<ToolCall> = (0..14)
            .map(|i| call(&format!("f{i}"), json!({"i": i})))
            .collect();
        let mut r = p.clone();
        r.reverse();
        let pairs = match_calls(&p, &r);
        assert_eq!(pairs.len(), 14);
        assert!(pairs.iter().all(|(i, j)| p[*i] == r[*j]));
    }
}

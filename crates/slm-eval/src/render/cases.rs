//! The page's per-case diff view: for each dataset, each case's prompt and expected answer
//! beside every model's answer, with the model's pass or fail on each metric.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::ReportDetails;
use super::charts::css_colour;
use crate::{CaseResult, CaseSummary, Report};

/// The cases of the reports run on one dataset.
#[derive(Serialize)]
pub(crate) struct CaseGroup {
    dataset: String,
    expected_available: bool,
    models: Vec<String>,
    cases: Vec<CaseView>,
}

#[derive(Serialize)]
struct CaseView {
    index: usize,
    case_id: String,
    prompt: Option<String>,
    expected: Option<String>,
    all_pass: bool,
    answers: Vec<AnswerView>,
}

#[derive(Serialize)]
struct AnswerView {
    model: String,
    colour: String,
    /// The answer's text; `None` when the results file is not available.
    text: Option<String>,
    error: Option<String>,
    /// Whether the model has a result for this case at all.
    ran: bool,
    all_pass: bool,
    passes: Vec<PassView>,
}

#[derive(Serialize)]
struct PassView {
    metric: String,
    pass: bool,
}

/// Groups the reports by dataset (first appearance first) and lists each group's cases.
pub(crate) fn case_groups(
    reports: &[Report],
    answers: &[Option<&BTreeMap<usize, CaseResult>>],
    details: &ReportDetails,
) -> Vec<CaseGroup> {
    let mut order: Vec<&str> = Vec::new();
    for r in reports {
        if !order.contains(&r.dataset.sha256.as_str()) {
            order.push(&r.dataset.sha256);
        }
    }
    order
        .into_iter()
        .map(|sha| {
            let members: Vec<usize> = (0..reports.len())
                .filter(|&i| reports[i].dataset.sha256 == sha)
                .collect();
            group(reports, &members, answers, details)
        })
        .collect()
}

fn group(
    reports: &[Report],
    members: &[usize],
    answers: &[Option<&BTreeMap<usize, CaseResult>>],
    details: &ReportDetails,
) -> CaseGroup {
    let first = &reports[members[0]];
    let dataset = details.dataset_of(first);
    let scored: Vec<BTreeMap<usize, &CaseSummary>> = members
        .iter()
        .map(|&i| reports[i].per_case.iter().map(|c| (c.index, c)).collect())
        .collect();
    let indices: BTreeSet<usize> = scored.iter().flat_map(|s| s.keys().copied()).collect();
    let cases = indices
        .into_iter()
        .map(|index| {
            let case = dataset.and_then(|d| d.cases.get(index));
            let answers: Vec<AnswerView> = members
                .iter()
                .zip(&scored)
                .map(|(&i, scored)| answer(&reports[i], i, scored.get(&index), answers[i], index))
                .collect();
            CaseView {
                index,
                case_id: scored
                    .iter()
                    .find_map(|s| s.get(&index))
                    .map(|c| c.case_id.clone())
                    .unwrap_or_default(),
                prompt: case.map(|c| c.prompt.clone()),
                expected: case.map(|c| c.completion.clone()),
                all_pass: answers.iter().all(|a| a.all_pass),
                answers,
            }
        })
        .collect();
    CaseGroup {
        dataset: first.dataset.path.display().to_string(),
        expected_available: dataset.is_some(),
        models: members
            .iter()
            .map(|&i| reports[i].model.id.clone())
            .collect(),
        cases,
    }
}

fn answer(
    report: &Report,
    position: usize,
    summary: Option<&&CaseSummary>,
    rows: Option<&BTreeMap<usize, CaseResult>>,
    index: usize,
) -> AnswerView {
    let row = rows.and_then(|rows| rows.get(&index));
    let passes: Vec<PassView> = summary
        .map(|s| {
            s.score
                .passes
                .iter()
                .map(|(metric, pass)| PassView {
                    metric: metric.clone(),
                    pass: *pass,
                })
                .collect()
        })
        .unwrap_or_default();
    let error = summary.is_some_and(|s| s.error);
    AnswerView {
        model: report.model.id.clone(),
        colour: css_colour(position),
        text: row.map(|r| r.prediction.clone()),
        error: row
            .and_then(|r| r.error.clone())
            .or_else(|| error.then(|| "the model call failed".to_string())),
        ran: summary.is_some(),
        all_pass: summary.is_some_and(|s| !s.error && s.score.all_pass()),
        passes,
    }
}

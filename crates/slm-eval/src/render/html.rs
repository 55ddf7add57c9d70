//! The self-contained HTML report: what the page shows, computed here, laid out by the embedded
//! template `templates/report.html` (autoescaped), with the charts of [`super::charts`] inline.

use std::collections::BTreeSet;

use minijinja::{AutoEscape, Environment};
use serde::Serialize;

use super::ReportDetails;
use super::cases::{CaseGroup, case_groups};
use super::charts::{self, Bar, Series};
use crate::metrics::{CaseScore, metric_over};
use crate::stats::{Interval, paired_bootstrap};
use crate::{CaseResult, CompareOptions, Comparison, EvalError, Report, Result};

const TEMPLATE: &str = include_str!("../../templates/report.html");

/// The reports as one self-contained HTML page (no scripts, no network: styles inline, charts
/// as inline SVG): the metric table with 95% bootstrap intervals and a bar chart per metric,
/// the `FINE_TUNE` decision when exactly two reports of one track are given (the first is the
/// LLM, the reference; the second the SLM, as `slm eval compare --llm … --slm …`), run
/// summaries, latency and token histograms, cost, and every case: the expected answer beside
/// each model's, with each metric's pass or fail.
///
/// `options` sets the bootstrap (resamples, level, seed: the same seed gives the same page)
/// and the decision's allowed gap. Answers and expected answers come from `details`.
///
/// ```
/// use slm_eval::render::{ReportDetails, html};
/// let report = slm_eval::Report::example();
/// let details = ReportDetails::none(std::slice::from_ref(&report));
/// let page = html(&[report], &details, &slm_eval::CompareOptions::new(0.01)).unwrap();
/// assert!(page.starts_with("<!DOCTYPE html>"));
/// assert!(page.contains("<svg") && page.contains("exact_match"));
/// assert!(!page.contains("http://") || page.contains("http://www.w3.org/2000/svg"));
/// ```
pub fn html(
    reports: &[Report],
    details: &ReportDetails,
    options: &CompareOptions,
) -> Result<String> {
    if reports.is_empty() {
        return Err(EvalError::InvalidArgument("no report to render".into()));
    }
    let answers: Vec<Option<&std::collections::BTreeMap<usize, CaseResult>>> = (0..reports.len())
        .map(|i| details.answers.get(i).and_then(Option::as_ref))
        .collect();
    let page = Page {
        title: reports
            .iter()
            .map(|r| r.model.id.as_str())
            .collect::<Vec<_>>()
            .join(" vs "),
        models: reports
            .iter()
            .enumerate()
            .map(|(i, r)| ModelView {
                name: r.model.id.clone(),
                colour: charts::css_colour(i),
                spec: r.model.spec.clone().unwrap_or_default(),
                track: r.track.to_string(),
                dataset: r.dataset.path.display().to_string(),
                started_at: r.started_at.clone(),
            })
            .collect(),
        level: format!("{:.0}%", options.level * 100.0),
        resamples: options.resamples,
        seed: options.seed,
        metrics: metric_rows(reports, options)?,
        decision: decision(reports, options),
        summary: summary_rows(reports),
        histograms: histograms(reports, &answers)?,
        cost_chart: cost_chart(reports)?,
        groups: case_groups(reports, &answers, details),
        notes: details.notes.clone(),
    };
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    env.add_template("report.html", TEMPLATE)
        .map_err(|e| EvalError::Render(e.to_string()))?;
    let template = env
        .get_template("report.html")
        .map_err(|e| EvalError::Render(e.to_string()))?;
    template
        .render(&page)
        .map_err(|e| EvalError::Render(e.to_string()))
}

#[derive(Serialize)]
struct Page {
    title: String,
    models: Vec<ModelView>,
    level: String,
    resamples: usize,
    seed: u64,
    metrics: Vec<MetricRow>,
    decision: Option<Decision>,
    summary: Vec<SummaryRow>,
    histograms: Histograms,
    cost_chart: String,
    groups: Vec<CaseGroup>,
    notes: Vec<String>,
}

#[derive(Serialize)]
struct ModelView {
    name: String,
    colour: String,
    spec: String,
    track: String,
    dataset: String,
    started_at: String,
}

/// A metric: each model's value and interval, and its chart.
#[derive(Serialize)]
struct MetricRow {
    name: String,
    cells: Vec<MetricCell>,
    chart: String,
}

#[derive(Serialize)]
struct MetricCell {
    value: String,
    interval: String,
}

#[derive(Serialize)]
struct SummaryRow {
    name: String,
    cells: Vec<String>,
}

#[derive(Serialize)]
struct Decision {
    line: String,
    fine_tune: bool,
    llm: String,
    slm: String,
    delta: f64,
    paired_cases: usize,
    rows: Vec<DecisionRow>,
    error: Option<String>,
}

#[derive(Serialize)]
struct DecisionRow {
    metric: String,
    llm: String,
    slm: String,
    delta: String,
    interval: String,
    p_value: String,
    trails: bool,
}

#[derive(Serialize)]
struct Histograms {
    charts: Vec<String>,
    missing: Vec<String>,
}

/// The percentile bootstrap interval of a metric of one run: cases drawn with replacement,
/// the metric recomputed on each draw (the pass rate, or the micro-average of a field metric).
fn metric_interval(report: &Report, metric: &str, options: &CompareOptions) -> Option<Interval> {
    let scores: Vec<&CaseScore> = report.per_case.iter().map(|c| &c.score).collect();
    paired_bootstrap(
        scores.len(),
        options.resamples,
        options.level,
        options.seed,
        |drawn| metric_over(metric, drawn.iter().map(|&i| scores[i])),
    )
}

fn metric_rows(reports: &[Report], options: &CompareOptions) -> Result<Vec<MetricRow>> {
    let names: BTreeSet<&String> = reports.iter().flat_map(|r| r.metrics.keys()).collect();
    names
        .into_iter()
        .map(|name| {
            let mut cells = Vec::new();
            let mut bars = Vec::new();
            for (i, report) in reports.iter().enumerate() {
                let Some(&value) = report.metrics.get(name) else {
                    cells.push(MetricCell {
                        value: "—".into(),
                        interval: String::new(),
                    });
                    continue;
                };
                let interval = metric_interval(report, name, options);
                cells.push(MetricCell {
                    value: format!("{value:.3}"),
                    interval: interval
                        .map(|ci| format!("[{:.3}, {:.3}]", ci.low, ci.high))
                        .unwrap_or_default(),
                });
                bars.push(Bar {
                    label: report.model.id.clone(),
                    value,
                    interval,
                    colour: i,
                });
            }
            Ok(MetricRow {
                name: name.clone(),
                cells,
                chart: charts::bars(name, 1.0, &bars)?,
            })
        })
        .collect()
}

/// `slm eval compare`'s decision, when the reports are an LLM and an SLM of one track.
fn decision(reports: &[Report], options: &CompareOptions) -> Option<Decision> {
    let [llm, slm] = reports else { return None };
    if llm.track != slm.track {
        return None;
    }
    let mut view = Decision {
        line: String::new(),
        fine_tune: false,
        llm: llm.model.id.clone(),
        slm: slm.model.id.clone(),
        delta: options.delta,
        paired_cases: 0,
        rows: Vec::new(),
        error: None,
    };
    match Comparison::new(llm, slm, options.clone()) {
        Ok(cmp) => {
            view.line = cmp.decision_line();
            view.fine_tune = cmp.fine_tune;
            view.paired_cases = cmp.paired_cases;
            view.rows = cmp
                .metrics
                .iter()
                .map(|m| DecisionRow {
                    metric: m.metric.clone(),
                    llm: format!("{:.3}", m.llm),
                    slm: format!("{:.3}", m.slm),
                    delta: format!("{:+.3}", m.delta),
                    interval: m
                        .ci
                        .map(|c| format!("[{:+.3}, {:+.3}]", c.low, c.high))
                        .unwrap_or_else(|| "—".into()),
                    p_value: m
                        .mcnemar
                        .map(|t| format!("{:.4}", t.p_value))
                        .unwrap_or_else(|| "—".into()),
                    trails: m.trails,
                })
                .collect();
        }
        Err(e) => view.error = Some(e.to_string()),
    }
    Some(view)
}

fn summary_rows(reports: &[Report]) -> Vec<SummaryRow> {
    let row = |name: &str, cell: &dyn Fn(&Report) -> String| SummaryRow {
        name: name.to_string(),
        cells: reports.iter().map(cell).collect(),
    };
    let p50_p95 = |s: Option<crate::stats::Summary>| {
        s.map(|s| format!("{:.0} / {:.0}", s.p50, s.p95))
            .unwrap_or_else(|| "—".into())
    };
    vec![
        row("track", &|r| r.track.to_string()),
        row("cases", &|r| {
            format!("{}/{}", r.cases.completed, r.cases.total)
        }),
        row("errors", &|r| r.cases.errors.to_string()),
        row("from the cache", &|r| r.cases.cached.to_string()),
        row("TTFT p50 / p95 (ms)", &|r| p50_p95(r.latency.ttft_ms)),
        row("latency p50 / p95 (ms)", &|r| p50_p95(r.latency.total_ms)),
        row("tokens (prompt / completion)", &|r| {
            format!("{} / {}", r.tokens.prompt, r.tokens.completion)
        }),
        row("cost (total)", &|r| format!("{:.4}", r.cost.total)),
        row("cost per case", &|r| format!("{:.6}", r.cost.per_case)),
    ]
}

/// Latency (total and, when measured, time to first token) and completion tokens per case,
/// from the results files found.
fn histograms(
    reports: &[Report],
    answers: &[Option<&std::collections::BTreeMap<usize, CaseResult>>],
) -> Result<Histograms> {
    let missing = reports
        .iter()
        .zip(answers)
        .filter(|(_, a)| a.is_none())
        .map(|(r, _)| r.model.id.clone())
        .collect();
    let series = |value: &dyn Fn(&CaseResult) -> f64| -> Vec<Series> {
        reports
            .iter()
            .zip(answers)
            .enumerate()
            .filter_map(|(i, (r, rows))| {
                rows.map(|rows| Series {
                    label: r.model.id.clone(),
                    values: rows.values().map(value).collect(),
                    colour: i,
                })
            })
            .collect()
    };
    let mut charts = Vec::new();
    let total = series(&|r| r.total_ms);
    if total.is_empty() {
        return Ok(Histograms { charts, missing });
    }
    charts.push(charts::histogram("Latency per case", "total ms", &total)?);
    let ttft = series(&|r| r.ttft_ms);
    if ttft.iter().flat_map(|s| &s.values).any(|v| *v > 0.0) {
        charts.push(charts::histogram(
            "Time to first token per case",
            "TTFT ms",
            &ttft,
        )?);
    }
    charts.push(charts::histogram(
        "Completion tokens per case",
        "tokens",
        &series(&|r| f64::from(r.usage.completion_tokens)),
    )?);
    Ok(Histograms { charts, missing })
}

fn cost_chart(reports: &[Report]) -> Result<String> {
    let top = reports.iter().map(|r| r.cost.total).fold(0.0, f64::max);
    let bars: Vec<Bar> = reports
        .iter()
        .enumerate()
        .map(|(i, r)| Bar {
            label: r.model.id.clone(),
            value: r.cost.total,
            interval: None,
            colour: i,
        })
        .collect();
    charts::bars("Total cost", if top > 0.0 { top * 1.2 } else { 1.0 }, &bars)
}

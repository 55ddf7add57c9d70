//! Reports rendered for people and for CI: a Markdown table of several models side by side,
//! JUnit XML (one test suite per report, one test case per dataset case) that CI systems
//! (GitLab, Jenkins, GitHub test reporters) show as passed and failed tests, and a
//! self-contained HTML page ([`html`]: metric table and charts with 95% intervals, the
//! fine-tune decision, latency and token histograms, cost, and a per-case diff view).
//!
//! The HTML renderer is split by job: `details` finds each report's answers and dataset,
//! `charts` draws the SVG charts (`plotters`), `cases` builds the per-case diff view and `html`
//! computes the rest and fills the embedded template (`templates/report.html`, autoescaped).

mod cases;
mod charts;
mod details;
mod html;

pub use details::ReportDetails;
pub use html::html;

use std::collections::BTreeSet;
use std::fmt::Write;

use crate::Report;

/// The reports side by side as a Markdown table: one column per model, one row per metric (the
/// union of the reports' metrics), then cases, errors, answers from the cache, latency, tokens
/// and cost.
///
/// ```
/// let mut report = slm_eval::Report::example();
/// report.metrics.insert("exact_match".into(), 0.5);
/// let md = slm_eval::render::markdown(&[report]);
/// assert!(md.starts_with("| | phi-4-mini |"), "{md}");
/// assert!(md.contains("| exact_match | 0.500 |"), "{md}");
/// ```
pub fn markdown(reports: &[Report]) -> String {
    let mut out = String::new();
    let header: Vec<String> = reports.iter().map(|r| cell(&r.model.id)).collect();
    let _ = writeln!(out, "| | {} |", header.join(" | "));
    let _ = writeln!(out, "|---|{}", "---:|".repeat(reports.len()));
    let mut row = |name: &str, value: &dyn Fn(&Report) -> String| {
        let values: Vec<String> = reports.iter().map(value).collect();
        let _ = writeln!(out, "| {name} | {} |", values.join(" | "));
    };
    let metrics: BTreeSet<&String> = reports.iter().flat_map(|r| r.metrics.keys()).collect();
    for metric in metrics {
        row(metric, &|r| {
            r.metrics
                .get(metric)
                .map(|v| format!("{v:.3}"))
                .unwrap_or_else(|| "—".into())
        });
    }
    row("track", &|r| r.track.to_string());
    row("cases", &|r| {
        format!("{}/{}", r.cases.completed, r.cases.total)
    });
    row("errors", &|r| r.cases.errors.to_string());
    row("from the cache", &|r| r.cases.cached.to_string());
    row("TTFT p50 / p95 (ms)", &|r| {
        r.latency
            .ttft_ms
            .map(|s| format!("{:.0} / {:.0}", s.p50, s.p95))
            .unwrap_or_else(|| "—".into())
    });
    row("latency p50 / p95 (ms)", &|r| {
        r.latency
            .total_ms
            .map(|s| format!("{:.0} / {:.0}", s.p50, s.p95))
            .unwrap_or_else(|| "—".into())
    });
    row("tokens (prompt / completion)", &|r| {
        format!("{} / {}", r.tokens.prompt, r.tokens.completion)
    });
    row("cost", &|r| format!("{:.4}", r.cost.total));
    out
}

/// A table cell: pipes escaped, no line breaks.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// The reports as JUnit XML: a `<testsuite>` per report (named `<track>/<model>`), a
/// `<testcase>` per case, with a `<failure>` naming the failed metrics or an `<error>` when the
/// model call failed.
///
/// ```
/// let mut report = slm_eval::Report::example();
/// let xml = slm_eval::render::junit(&[report]);
/// assert!(xml.starts_with("<?xml"));
/// assert!(xml.contains("<testsuites tests=\"1\" failures=\"0\" errors=\"0\">"), "{xml}");
/// ```
pub fn junit(reports: &[Report]) -> String {
    let count = |f: &dyn Fn(&crate::CaseSummary) -> bool| -> usize {
        reports
            .iter()
            .flat_map(|r| &r.per_case)
            .filter(|c| f(c))
            .count()
    };
    let failed = |c: &crate::CaseSummary| !c.error && !c.score.all_pass();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites tests=\"{}\" failures=\"{}\" errors=\"{}\">",
        count(&|_| true),
        count(&failed),
        count(&|c| c.error)
    );
    for report in reports {
        let suite = format!("{}/{}", report.track, report.model.id);
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" timestamp=\"{}\">",
            xml(&suite),
            report.per_case.len(),
            report.per_case.iter().filter(|c| failed(c)).count(),
            report.per_case.iter().filter(|c| c.error).count(),
            xml(&report.started_at),
        );
        for case in &report.per_case {
            let name = format!("case {} ({})", case.index, case.case_id);
            let _ = write!(
                out,
                "    <testcase classname=\"{}\" name=\"{}\"",
                xml(&suite),
                xml(&name)
            );
            if case.error {
                let _ = writeln!(
                    out,
                    ">\n      <error message=\"the model call failed\"/>\n    </testcase>"
                );
            } else if failed(case) {
                let metrics: Vec<&str> = case
                    .score
                    .passes
                    .iter()
                    .filter(|(_, pass)| !**pass)
                    .map(|(name, _)| name.as_str())
                    .collect();
                let _ = writeln!(
                    out,
                    ">\n      <failure message=\"{}\"/>\n    </testcase>",
                    xml(&format!("failed: {}", metrics.join(", ")))
                );
            } else {
                let _ = writeln!(out, "/>");
            }
        }
        let _ = writeln!(out, "  </testsuite>");
    }
    out.push_str("</testsuites>\n");
    out
}

/// Text escaped for an XML attribute.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

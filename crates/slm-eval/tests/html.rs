//! The HTML report: its table, charts, intervals, decision, escaping and determinism, on real
//! files (a dataset, results files and reports written as `slm eval run` writes them).

use std::path::{Path, PathBuf};

use slm_eval::render::{ReportDetails, html};
use slm_eval::{Case, CaseResult, CompareOptions, Dataset, Report, ResultsFile, RunConfig, Track};

const CASES: usize = 12;

/// A dataset of `CASES` structured cases saved in `dir`.
fn dataset(dir: &Path) -> Dataset {
    let cases = (0..CASES)
        .map(|i| Case::new(format!("Give {i} as JSON"), format!("{{\"n\": {i}}}")))
        .collect();
    let path = dir.join("data/test.jsonl");
    Dataset::from_cases("x", cases).save(&path).unwrap();
    Dataset::load(&path).unwrap()
}

/// Runs "model" `name` whose answers are right except for the cases in `wrong` (answered
/// `wrong_answer`); writes its results file and report and returns the report's path.
fn run(dir: &Path, data: &Dataset, name: &str, wrong: &[usize], wrong_answer: &str) -> PathBuf {
    let results = dir.join(format!("{name}.results.jsonl"));
    let mut file = ResultsFile::open(&results, data, name).unwrap();
    let rows: Vec<CaseResult> = data
        .cases
        .iter()
        .enumerate()
        .map(|(i, case)| CaseResult {
            index: i,
            case_id: case.fingerprint(),
            model: name.into(),
            prediction: if wrong.contains(&i) {
                wrong_answer.into()
            } else {
                case.completion.clone()
            },
            ttft_ms: 10.0 + i as f64,
            total_ms: 50.0 + 10.0 * i as f64,
            usage: slm_core::Usage::new(20, 3 + i as u32),
            cost: 0.001,
            ..CaseResult::example()
        })
        .collect();
    for row in &rows {
        file.append(row).unwrap();
    }
    let config = RunConfig::new(Track::Structured);
    let report = Report::build(
        &config,
        name,
        None,
        Default::default(),
        data,
        &rows,
        Some(&results),
    );
    let path = dir.join(format!("{name}.json"));
    report.save(&path).unwrap();
    path
}

fn page(paths: &[PathBuf]) -> (Vec<Report>, String) {
    let reports: Vec<Report> = paths.iter().map(|p| Report::load(p).unwrap()).collect();
    let details = ReportDetails::load(&reports, paths);
    let page = html(&reports, &details, &CompareOptions::new(0.01)).unwrap();
    (reports, page)
}

/// The text between `start` and the next `end` after it.
fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text.find(start).unwrap_or_else(|| panic!("no {start:?}")) + start.len();
    let len = text[from..]
        .find(end)
        .unwrap_or_else(|| panic!("no {end:?}"));
    &text[from..from + len]
}

#[test]
fn the_page_has_a_row_per_metric_a_chart_per_metric_and_intervals_around_the_values() {
    let dir = tempfile::tempdir().unwrap();
    let data = dataset(dir.path());
    let llm = run(dir.path(), &data, "llm", &[], "");
    let slm = run(dir.path(), &data, "slm", &[1, 4, 6], "not json");
    let (reports, page) = page(&[llm, slm]);
    assert!(page.starts_with("<!DOCTYPE html>"));
    if let Some(path) = std::env::var_os("SLM_HTML_SAMPLE") {
        std::fs::write(path, &page).unwrap();
    }

    let metrics = reports[0].metrics.len();
    assert!(metrics >= 4, "{:?}", reports[0].metrics);
    let table = between(&page, "<table id=\"metrics\">", "</table>");
    assert_eq!(
        table.matches("<tr class=\"metric\">").count(),
        metrics,
        "{table}"
    );
    // A chart per metric, latency, TTFT and tokens histograms, and the cost chart.
    assert_eq!(page.matches("<svg").count(), metrics + 3 + 1);
    assert_eq!(
        between(
            &page,
            "<div class=\"charts\" id=\"metric-charts\">",
            "</div>"
        )
        .matches("<svg")
        .count(),
        metrics
    );

    // Every value lies inside its own interval.
    let mut checked = 0;
    for row in table.split("<tr class=\"metric\">").skip(1) {
        for cell in row.split("<td>").skip(2) {
            let value: f64 = cell[..cell.find('<').unwrap()].parse().unwrap();
            let ci = between(cell, "<span class=\"ci\">[", "]");
            let (low, high) = ci.split_once(", ").unwrap();
            let (low, high): (f64, f64) = (low.parse().unwrap(), high.parse().unwrap());
            assert!(
                low <= value && value <= high,
                "{value} not in [{low}, {high}]"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 2 * metrics);
    // The SLM's exact match is 9/12, and its interval is a real one (not a point).
    let exact = between(table, "<td>exact_match</td>", "</tr>");
    assert!(
        exact.contains("<td>1.000<") && exact.contains("<td>0.750<"),
        "{exact}"
    );

    // The decision of `slm eval compare --llm llm.json --slm slm.json`.
    assert!(page.contains(">FINE_TUNE=1<"), "no decision");
    assert!(page.contains("class=\"decision yes\""));
    // The diff view: the expected answer and the wrong one, the failed metric marked.
    assert!(page.contains("<pre>{&quot;n&quot;: 4}</pre>"));
    assert!(page.contains("<pre>not json</pre>"));
    assert!(page.contains("✗ exact_match"));
    assert!(!page.contains("not available"), "everything was found");
    // Self-contained: no scripts, no stylesheet or image links.
    assert!(!page.contains("<script") && !page.contains("<link") && !page.contains("src="));
}

#[test]
fn answers_and_names_are_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let data = dataset(dir.path());
    let evil = "<script>alert(1)</script>";
    let llm = run(dir.path(), &data, "<b>llm", &[], "");
    let slm = run(dir.path(), &data, "slm", &[2], evil);
    let (_, page) = page(&[llm, slm]);
    assert!(!page.contains("<script"), "an unescaped script");
    assert!(!page.contains("<b>"), "an unescaped model name");
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;"),
        "the answer is shown escaped"
    );
    assert!(page.contains("&lt;b&gt;llm"), "the name is shown escaped");
}

#[test]
fn the_same_reports_give_the_same_page() {
    let dir = tempfile::tempdir().unwrap();
    let data = dataset(dir.path());
    let paths = [
        run(dir.path(), &data, "a", &[0, 3], "{\"n\": -1}"),
        run(dir.path(), &data, "b", &[5], "oops"),
        run(dir.path(), &data, "c", &[], ""),
    ];
    let (_, first) = page(&paths);
    let (_, second) = page(&paths);
    assert_eq!(first, second);
    // Three reports: no decision.
    assert!(!first.contains("FINE_TUNE="));
}

#[test]
fn missing_results_and_dataset_are_said_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let data = dataset(dir.path());
    let slm = run(dir.path(), &data, "slm", &[1], "nope");
    std::fs::remove_file(dir.path().join("slm.results.jsonl")).unwrap();
    std::fs::remove_file(dir.path().join("data/test.jsonl")).unwrap();
    let (_, page) = page(std::slice::from_ref(&slm));
    assert!(
        page.contains("results file"),
        "the note names the results file"
    );
    assert!(page.contains("expected answers and prompts are not shown"));
    assert!(page.contains("answer not available"));
    // Metrics, intervals and the cost chart still shown; no histograms without results.
    assert!(page.contains("<tr class=\"metric\">"));
    assert!(page.contains("Per-case results not available for: slm."));
    assert_eq!(
        between(&page, "<div class=\"charts\" id=\"histograms\">", "</div>")
            .matches("<svg")
            .count(),
        0
    );
}

#[test]
fn reports_moved_with_their_files_are_still_found() {
    // Reports name their files relative to where the run started: run from `dir`, the report
    // says `05_eval/slm.results.jsonl`; rendering from elsewhere finds them beside the report.
    let dir = tempfile::tempdir().unwrap();
    let data = dataset(dir.path());
    let path = run(dir.path(), &data, "slm", &[1], "nope");
    let mut report = Report::load(&path).unwrap();
    report.results_path = Some(PathBuf::from("05_eval/slm.results.jsonl"));
    report.dataset.path = PathBuf::from("data/test.jsonl");
    let eval = dir.path().join("05_eval");
    std::fs::create_dir_all(&eval).unwrap();
    std::fs::rename(
        dir.path().join("slm.results.jsonl"),
        eval.join("slm.results.jsonl"),
    )
    .unwrap();
    let moved = eval.join("slm.json");
    report.save(&moved).unwrap();
    let details = ReportDetails::load(std::slice::from_ref(&report), &[&moved]);
    assert!(details.notes.is_empty(), "{:?}", details.notes);
    assert!(details.answers[0].is_some());
    assert_eq!(details.datasets.len(), 1);
}

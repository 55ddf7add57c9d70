//! What the HTML page shows beyond the reports themselves: each model's answers (its per-case
//! results file) and the expected answers (the dataset), found from the paths the reports name.
//!
//! A report names its results file and dataset as the run was given them, often relative to
//! the directory the run was started in. They are looked for as written (relative to the
//! current directory), then relative to the report's directory and each directory above it,
//! then beside the report under their file name. A candidate is accepted only when it matches
//! the report: a dataset by its SHA-256, a results file by the case fingerprints. What cannot be
//! found is not an error: the page says so, and [`ReportDetails::notes`] lists why.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::{CaseResult, Dataset, Report};

/// Per-case answers and expected answers for [`super::html`], one entry per report.
///
/// ```
/// let report = slm_eval::Report::example();
/// let details = slm_eval::render::ReportDetails::none(&[report]);
/// assert_eq!(details.answers.len(), 1);
/// assert!(details.answers[0].is_none() && details.datasets.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReportDetails {
    /// For each report (same order), its per-case rows by case index, or `None` when its
    /// results file is not available.
    pub answers: Vec<Option<BTreeMap<usize, CaseResult>>>,
    /// The datasets found, each matching the SHA-256 of at least one report.
    pub datasets: Vec<Dataset>,
    /// Why something is missing (a results file or dataset not found, or changed since the run).
    pub notes: Vec<String>,
}

impl ReportDetails {
    /// No answers and no datasets: the page shows metrics, decision and summaries only.
    ///
    /// ```
    /// let r = slm_eval::Report::example();
    /// assert_eq!(slm_eval::render::ReportDetails::none(&[r.clone(), r]).answers, vec![None, None]);
    /// ```
    pub fn none(reports: &[Report]) -> Self {
        Self {
            answers: vec![None; reports.len()],
            ..Self::default()
        }
    }

    /// Finds each report's results file and dataset. `report_paths` are where the reports were
    /// read from (same order; used to resolve relative paths), or empty when unknown.
    ///
    /// ```
    /// use slm_eval::{Case, CaseResult, Dataset, Report, ResultsFile, RunConfig, Track};
    /// let dir = tempfile::tempdir().unwrap();
    /// let data_path = dir.path().join("test.jsonl");
    /// Dataset::from_cases("x", vec![Case::new("p", "{}")]).save(&data_path).unwrap();
    /// let data = Dataset::load(&data_path).unwrap();
    /// let results = dir.path().join("m.results.jsonl");
    /// let row = CaseResult { case_id: data.cases[0].fingerprint(), ..CaseResult::example() };
    /// ResultsFile::open(&results, &data, "phi-4-mini").unwrap().append(&row).unwrap();
    /// let report = Report::build(&RunConfig::new(Track::Structured), "phi-4-mini", None,
    ///     Default::default(), &data, &[row], Some(&results));
    /// let details = slm_eval::render::ReportDetails::load(&[report], &[] as &[&std::path::Path]);
    /// assert_eq!(details.answers[0].as_ref().unwrap()[&0].prediction, "{}");
    /// assert_eq!(details.datasets.len(), 1);
    /// assert!(details.notes.is_empty(), "{:?}", details.notes);
    /// ```
    pub fn load(reports: &[Report], report_paths: &[impl AsRef<Path>]) -> Self {
        let mut details = Self::default();
        for (i, report) in reports.iter().enumerate() {
            let base = report_paths.get(i).map(AsRef::as_ref);
            let answers = details.find_answers(report, base);
            details.answers.push(answers);
            details.find_dataset(report, base);
        }
        details
    }

    /// The dataset a report was run on, when it was found.
    ///
    /// ```
    /// let r = slm_eval::Report::example();
    /// assert!(slm_eval::render::ReportDetails::none(&[r.clone()]).dataset_of(&r).is_none());
    /// ```
    pub fn dataset_of(&self, report: &Report) -> Option<&Dataset> {
        self.datasets
            .iter()
            .find(|d| d.sha256 == report.dataset.sha256)
    }

    fn find_answers(
        &mut self,
        report: &Report,
        base: Option<&Path>,
    ) -> Option<BTreeMap<usize, CaseResult>> {
        let name = &report.model.id;
        let Some(path) = &report.results_path else {
            self.notes
                .push(format!("{name}: the report names no results file"));
            return None;
        };
        let expected: BTreeMap<usize, &str> = report
            .per_case
            .iter()
            .map(|c| (c.index, c.case_id.as_str()))
            .collect();
        for candidate in candidates(path, base) {
            let Some(rows) = read_results(&candidate) else {
                continue;
            };
            let matches = |r: &CaseResult| expected.get(&r.index) == Some(&r.case_id.as_str());
            if !rows.is_empty() && rows.values().all(matches) {
                return Some(rows);
            }
        }
        self.notes.push(format!(
            "{name}: results file {} not found (or not this run's)",
            path.display()
        ));
        None
    }

    fn find_dataset(&mut self, report: &Report, base: Option<&Path>) {
        if self.dataset_of(report).is_some() {
            return;
        }
        let path = &report.dataset.path;
        for candidate in candidates(path, base) {
            if let Ok(data) = Dataset::load(&candidate) {
                if data.sha256 == report.dataset.sha256 {
                    self.datasets.push(data);
                    return;
                }
                self.notes.push(format!(
                    "dataset {} has changed since the run of {} (its SHA-256 differs)",
                    candidate.display(),
                    report.model.id
                ));
                return;
            }
        }
        self.notes.push(format!(
            "dataset {} not found: expected answers are not shown",
            path.display()
        ));
    }
}

/// Where a path named in a report may be, most likely first.
fn candidates(path: &Path, report_path: Option<&Path>) -> Vec<PathBuf> {
    let mut out = vec![path.to_path_buf()];
    if path.is_relative()
        && let Some(dir) = report_path.and_then(Path::parent)
    {
        out.extend(dir.ancestors().map(|a| a.join(path)));
        if let Some(file) = path.file_name() {
            out.push(dir.join(file));
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    out.retain(|p| seen.insert(p.clone()));
    out
}

/// The rows of a results file by case index (the last row of a case wins, a torn last line is
/// ignored); `None` when it cannot be read or parsed.
fn read_results(path: &Path) -> Option<BTreeMap<usize, CaseResult>> {
    let bytes = std::fs::read(path).ok()?;
    let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let rows: Vec<CaseResult> = crate::data::parse_jsonl(path, &bytes[..complete]).ok()?;
    Some(rows.into_iter().map(|r| (r.index, r)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_are_looked_for_beside_and_above_the_report() {
        let found = candidates(
            Path::new("05_eval/a.results.jsonl"),
            Some(Path::new("/p/05_eval/a.json")),
        );
        assert_eq!(found[0], Path::new("05_eval/a.results.jsonl"));
        assert!(found.contains(&PathBuf::from("/p/05_eval/a.results.jsonl")));
        assert!(found.contains(&PathBuf::from("/p/05_eval/05_eval/a.results.jsonl")));
        let absolute = candidates(Path::new("/x/a.jsonl"), Some(Path::new("/p/r.json")));
        assert_eq!(absolute, vec![PathBuf::from("/x/a.jsonl")]);
    }
}

//! The live view: several models on the same dataset, side by side in the terminal, redrawn
//! after every finished case with the current metrics and the gap between the first two models
//! (the SLM Swap evaluation's `live_compare.py`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use slm_core::ChatModel;

use crate::metrics::{CaseScore, aggregate, track_metrics};
use crate::stats::percentile;
use crate::{CaseResult, Dataset, Report, Result, RunConfig, RunOutcome, Runner, Track};

#[derive(Debug, Clone)]
struct Lane {
    label: String,
    scores: BTreeMap<usize, CaseScore>,
    latencies: Vec<f64>,
    errors: usize,
}

/// The state shown by the live view: per model, the scores so far.
///
/// ```
/// use slm_eval::{CaseResult, LiveBoard, Track};
/// let mut board = LiveBoard::new(Track::Structured, &["azure", "slm"], 2);
/// let mut row = CaseResult::example();
/// row.score = slm_eval::metrics::score_structured("{}", &serde_json::json!({}), None);
/// board.record(0, &row);
/// let text = board.render();
/// assert!(text.contains("azure") && text.contains("1/2"));
/// assert!(text.contains("exact_match"));
/// ```
#[derive(Debug, Clone)]
pub struct LiveBoard {
    track: Track,
    total: usize,
    lanes: Vec<Lane>,
}

impl LiveBoard {
    /// A board for models with these labels on a dataset of `total` cases.
    ///
    /// ```
    /// let board = slm_eval::LiveBoard::new(slm_eval::Track::Structured, &["llm", "slm"], 10);
    /// assert!(board.render().contains("0/10"));
    /// ```
    pub fn new(track: Track, labels: &[&str], total: usize) -> Self {
        Self {
            track,
            total,
            lanes: labels
                .iter()
                .map(|l| Lane {
                    label: l.to_string(),
                    scores: BTreeMap::new(),
                    latencies: Vec::new(),
                    errors: 0,
                })
                .collect(),
        }
    }

    /// Records a finished case of model `lane`.
    ///
    /// ```
    /// let mut board = slm_eval::LiveBoard::new(slm_eval::Track::Toolcall, &["slm"], 1);
    /// board.record(0, &slm_eval::CaseResult::example());
    /// assert!(board.render_line().starts_with("slm 1/1"));
    /// ```
    pub fn record(&mut self, lane: usize, row: &CaseResult) {
        if let Some(l) = self.lanes.get_mut(lane) {
            l.scores.insert(row.index, row.score.clone());
            l.latencies.push(row.total_ms);
            l.errors += usize::from(row.error.is_some());
        }
    }

    /// The table: progress, every metric per model and the gap (first model − second).
    ///
    /// ```
    /// let board = slm_eval::LiveBoard::new(slm_eval::Track::Toolcall, &["llm", "slm"], 4);
    /// assert!(board.render().contains("gap(1-2)"));
    /// ```
    pub fn render(&self) -> String {
        let width = self
            .lanes
            .iter()
            .map(|l| l.label.len())
            .max()
            .unwrap_or(0)
            .clamp(8, 24);
        let two = self.lanes.len() >= 2;
        let mut out = format!(
            "slm eval live · track={} · {} cases\n",
            self.track, self.total
        );
        out.push_str(&format!("{:<20}", "progress"));
        for lane in &self.lanes {
            let cell = format!("{}/{}", lane.scores.len(), self.total);
            out.push_str(&format!(" {cell:>width$}"));
        }
        out.push('\n');
        out.push_str(&format!("{:<20}", "metric"));
        for lane in &self.lanes {
            out.push_str(&format!(" {:>width$}", truncate(&lane.label, width)));
        }
        if two {
            out.push_str(&format!(" {:>10}", "gap(1-2)"));
        }
        out.push('\n');
        let aggregates: Vec<BTreeMap<String, f64>> = self
            .lanes
            .iter()
            .map(|l| aggregate(l.scores.values()))
            .collect();
        for name in track_metrics(self.track) {
            if aggregates.iter().all(|a| !a.contains_key(*name)) {
                continue;
            }
            out.push_str(&format!("{name:<20}"));
            for a in &aggregates {
                let cell = a
                    .get(*name)
                    .map(|v| format!("{v:.3}"))
                    .unwrap_or_else(|| "-".into());
                out.push_str(&format!(" {cell:>width$}"));
            }
            if two {
                let gap = match (aggregates[0].get(*name), aggregates[1].get(*name)) {
                    (Some(a), Some(b)) => format!("{:+.3}", a - b),
                    _ => "-".into(),
                };
                out.push_str(&format!(" {gap:>10}"));
            }
            out.push('\n');
        }
        out.push_str(&format!("{:<20}", "latency p50 ms"));
        for lane in &self.lanes {
            let cell = percentile(&lane.latencies, 50.0)
                .map(|v| format!("{v:.0}"))
                .unwrap_or_else(|| "-".into());
            out.push_str(&format!(" {cell:>width$}"));
        }
        out.push('\n');
        out.push_str(&format!("{:<20}", "errors"));
        for lane in &self.lanes {
            out.push_str(&format!(" {:>width$}", lane.errors));
        }
        out.push('\n');
        out
    }

    /// One line for logs and pipes: progress and the track's headline metric per model.
    ///
    /// ```
    /// let board = slm_eval::LiveBoard::new(slm_eval::Track::Toolcall, &["a", "b"], 3);
    /// assert_eq!(board.render_line(), "a 0/3 | b 0/3");
    /// ```
    pub fn render_line(&self) -> String {
        let headline = match self.track {
            Track::Structured => crate::metrics::names::EXACT_MATCH,
            Track::Toolcall => crate::metrics::names::ARGS_EXACT_MATCH,
            Track::Bfcl => crate::bfcl::BFCL_AST,
        };
        self.lanes
            .iter()
            .map(|l| {
                let mut cell = format!("{} {}/{}", l.label, l.scores.len(), self.total);
                if let Some(v) = aggregate(l.scores.values()).get(headline) {
                    cell.push_str(&format!(" {headline}={v:.3}"));
                }
                cell
            })
            .collect::<Vec<_>>()
            .join(" | ")
    }
}

fn truncate(text: &str, width: usize) -> String {
    text.chars().take(width).collect()
}

/// One model of a live run.
///
/// ```
/// let model = slm_core::ScriptedModel::new("slm");
/// let lane = slm_eval::LiveModel { label: "slm".into(), spec: None, model: &model, concurrency: 1 };
/// assert_eq!(lane.label, "slm");
/// ```
pub struct LiveModel<'a> {
    /// Its label (column header and file name part).
    pub label: String,
    /// The spec it came from, recorded in saved reports.
    pub spec: Option<String>,
    /// The model.
    pub model: &'a dyn ChatModel,
    /// Requests in flight at once for this model.
    pub concurrency: usize,
}

/// Runs several models on one dataset at the same time, calling `on_update` with the board
/// at the start and after every finished case (the `slm eval live` command redraws it in place;
/// the library draws nothing). With `save_dir`, each model's results (`<track>_<label>.results.jsonl`, resumable) and report
/// (`<track>_<label>.json`) are written there.
///
/// ```
/// use slm_core::ScriptedModel;
/// use slm_eval::{Case, Dataset, LiveModel, RunConfig, Track, run_live};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let data = Dataset::from_cases("d", vec![Case::new("p", "{\"a\": 1}")]);
/// let llm = ScriptedModel::new("llm").reply("{\"a\": 1}");
/// let slm = ScriptedModel::new("slm").reply("{\"a\": 2}");
/// let models = [
///     LiveModel { label: "llm".into(), spec: None, model: &llm, concurrency: 1 },
///     LiveModel { label: "slm".into(), spec: None, model: &slm, concurrency: 1 },
/// ];
/// let mut lines = Vec::new();
/// let reports = run_live(&models, &data, &RunConfig::new(Track::Structured), None, |board| {
///     lines.push(board.render_line())
/// }).await.unwrap();
/// assert_eq!(reports[0].metrics["exact_match"], 1.0);
/// assert_eq!(reports[1].metrics["exact_match"], 0.0);
/// assert_eq!(lines.len(), 3); // the start, then one update per finished case
/// assert!(lines[2].contains("llm 1/1") && lines[2].contains("slm 1/1"), "{lines:?}");
/// # });
/// ```
pub async fn run_live(
    models: &[LiveModel<'_>],
    dataset: &Dataset,
    config: &RunConfig,
    save_dir: Option<&Path>,
    mut on_update: impl FnMut(&LiveBoard),
) -> Result<Vec<Report>> {
    let labels: Vec<&str> = models.iter().map(|m| m.label.as_str()).collect();
    let board = LiveBoard::new(config.track, &labels, dataset.cases.len());
    on_update(&board);
    let state = Mutex::new((board, on_update));
    let paths: Vec<Option<PathBuf>> = models
        .iter()
        .map(|m| save_dir.map(|d| d.join(format!("{}_{}.results.jsonl", config.track, m.label))))
        .collect();
    let runs = models.iter().enumerate().map(|(lane, m)| {
        let mut lane_config = config.clone();
        lane_config.concurrency = m.concurrency;
        let runner = Runner::new(lane_config);
        let state = &state;
        let path = paths[lane].clone();
        async move {
            runner
                .run(m.model, dataset, path.as_deref(), |row: &CaseResult| {
                    if let Ok(mut state) = state.lock() {
                        let (board, on_update) = &mut *state;
                        board.record(lane, row);
                        on_update(board);
                    }
                })
                .await
        }
    });
    let outcomes: Vec<Result<RunOutcome>> = futures::future::join_all(runs).await;
    let mut reports = Vec::new();
    for ((m, outcome), path) in models.iter().zip(outcomes).zip(&paths) {
        let outcome = outcome?;
        let report = Report::build(
            config,
            m.model.id(),
            m.spec.as_deref(),
            m.model.capabilities(),
            dataset,
            &outcome.results,
            path.as_deref(),
        );
        if let Some(dir) = save_dir {
            report.save(&dir.join(format!("{}_{}.json", config.track, m.label)))?;
        }
        reports.push(report);
    }
    Ok(reports)
}

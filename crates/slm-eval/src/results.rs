//! The per-case results file: one JSON line per finished case, appended as soon as the case
//! finishes, so a crash or a kill loses nothing and a rerun resumes where it stopped.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use slm_core::{FinishReason, Timings, Usage};

use crate::metrics::CaseScore;
use crate::{Dataset, EvalError, Result};

/// One finished case.
///
/// ```
/// let row = slm_eval::CaseResult::example();
/// let line = serde_json::to_string(&row).unwrap();
/// assert_eq!(serde_json::from_str::<slm_eval::CaseResult>(&line).unwrap(), row);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseResult {
    /// 0-based position of the case in the dataset.
    pub index: usize,
    /// [`crate::Case::fingerprint`] of the case (checked on resume).
    pub case_id: String,
    /// Id of the model that answered.
    pub model: String,
    /// [`crate::RunConfig::fingerprint`] of the run that produced the row (checked on resume).
    #[serde(default)]
    pub config_id: String,
    /// The answer as text (native tool calls rendered as `<tool_call>` wrappers).
    pub prediction: String,
    /// The error, when the model failed (the case then scores as failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Why generation ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<FinishReason>,
    /// The case's score.
    pub score: CaseScore,
    /// Time to first token, measured by the runner (ms).
    pub ttft_ms: f64,
    /// Total latency, measured by the runner (ms).
    pub total_ms: f64,
    /// Tokens used.
    pub usage: Usage,
    /// Cost of the case in the price list's currency.
    pub cost: f64,
    /// The backend's own timings.
    #[serde(default)]
    pub model_timings: Timings,
    /// When the request was sent (RFC 3339).
    pub started_at: String,
    /// When the answer was complete (RFC 3339).
    pub finished_at: String,
    /// The answer came from the response cache: no model call; the latencies and the backend's
    /// timings are those measured when the model answered.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cached: bool,
}

impl CaseResult {
    /// A filled-in example row (for docs and tests).
    ///
    /// ```
    /// assert_eq!(slm_eval::CaseResult::example().index, 0);
    /// ```
    pub fn example() -> Self {
        Self {
            index: 0,
            case_id: "0123456789abcdef".into(),
            model: "phi-4-mini".into(),
            config_id: String::new(),
            prediction: "{}".into(),
            error: None,
            finish_reason: Some(FinishReason::Stop),
            score: CaseScore::default(),
            ttft_ms: 12.5,
            total_ms: 80.0,
            usage: Usage::new(20, 3),
            cost: 0.0,
            model_timings: Timings::default(),
            started_at: "2025-01-01T00:00:00.000Z".into(),
            finished_at: "2025-01-01T00:00:00.080Z".into(),
            cached: false,
        }
    }
}

/// An append-only results file.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("run.results.jsonl");
/// let data = slm_eval::Dataset::from_cases("d", vec![slm_eval::Case::new("p", "{}")]);
/// let mut file = slm_eval::ResultsFile::open(&path, &data, "m").unwrap();
/// assert!(file.done().is_empty());
/// let mut row = slm_eval::CaseResult::example();
/// row.case_id = data.cases[0].fingerprint();
/// row.model = "m".into();
/// file.append(&row).unwrap();
/// let reopened = slm_eval::ResultsFile::open(&path, &data, "m").unwrap();
/// assert_eq!(reopened.done().len(), 1);
/// ```
#[derive(Debug)]
pub struct ResultsFile {
    path: PathBuf,
    file: File,
    done: BTreeMap<usize, CaseResult>,
}

impl ResultsFile {
    /// Opens (or creates) a results file for a dataset and model, reading the rows already there.
    ///
    /// A torn last line (the process was killed mid-write) is cut off. A row for another
    /// dataset or model is an error: resuming into it would mix runs. When a case appears twice
    /// (it was retried), the last row wins.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let data = slm_eval::Dataset::from_cases("d", vec![slm_eval::Case::new("p", "{}")]);
    /// let path = dir.path().join("r.jsonl");
    /// std::fs::write(&path, "{\"torn line").unwrap(); // a kill in the middle of a write
    /// let file = slm_eval::ResultsFile::open(&path, &data, "m").unwrap();
    /// assert!(file.done().is_empty());
    /// assert_eq!(std::fs::read(&path).unwrap(), b"");
    /// ```
    pub fn open(path: &Path, dataset: &Dataset, model: &str) -> Result<Self> {
        crate::data::create_parent(path)?;
        let done = if path.exists() {
            read_rows(path, dataset, model)?
        } else {
            BTreeMap::new()
        };
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| EvalError::io(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
            done,
        })
    }

    /// The finished cases by index.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let data = slm_eval::Dataset::from_cases("d", vec![slm_eval::Case::new("p", "{}")]);
    /// let file = slm_eval::ResultsFile::open(&dir.path().join("r.jsonl"), &data, "m").unwrap();
    /// assert!(file.done().is_empty());
    /// ```
    pub fn done(&self) -> &BTreeMap<usize, CaseResult> {
        &self.done
    }

    /// The file's path.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let data = slm_eval::Dataset::from_cases("d", vec![slm_eval::Case::new("p", "{}")]);
    /// let f = slm_eval::ResultsFile::open(&dir.path().join("r.jsonl"), &data, "m").unwrap();
    /// assert!(f.path().ends_with("r.jsonl"));
    /// ```
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends a row with one `write` and syncs it to disk before returning.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let data = slm_eval::Dataset::from_cases("d", vec![slm_eval::Case::new("p", "{}")]);
    /// let path = dir.path().join("r.jsonl");
    /// let mut file = slm_eval::ResultsFile::open(&path, &data, "phi-4-mini").unwrap();
    /// let row = slm_eval::CaseResult { case_id: data.cases[0].fingerprint(), ..slm_eval::CaseResult::example() };
    /// file.append(&row).unwrap();
    /// assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 1);
    /// ```
    pub fn append(&mut self, row: &CaseResult) -> Result<()> {
        let mut line = serde_json::to_string(row).map_err(|e| EvalError::Json {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .and_then(|()| self.file.sync_data())
            .map_err(|e| EvalError::io(&self.path, e))?;
        self.done.insert(row.index, row.clone());
        Ok(())
    }

    /// Consumes the file, returning the finished cases.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let data = slm_eval::Dataset::from_cases("d", vec![slm_eval::Case::new("p", "{}")]);
    /// let file = slm_eval::ResultsFile::open(&dir.path().join("r.jsonl"), &data, "m").unwrap();
    /// assert!(file.into_done().is_empty());
    /// ```
    pub fn into_done(self) -> BTreeMap<usize, CaseResult> {
        self.done
    }
}

fn read_rows(path: &Path, dataset: &Dataset, model: &str) -> Result<BTreeMap<usize, CaseResult>> {
    let bytes = std::fs::read(path).map_err(|e| EvalError::io(path, e))?;
    let complete_len = match bytes.iter().rposition(|b| *b == b'\n') {
        Some(i) => i + 1,
        None => 0,
    };
    if complete_len < bytes.len() {
        tracing::warn!(path = %path.display(), "dropping a torn last line of the results file");
        let file = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| EvalError::io(path, e))?;
        file.set_len(complete_len as u64)
            .map_err(|e| EvalError::io(path, e))?;
    }
    let rows: Vec<CaseResult> = crate::data::parse_jsonl(path, &bytes[..complete_len])?;
    let mut done = BTreeMap::new();
    for row in rows {
        let mismatch = |message: String| EvalError::ResultsMismatch {
            path: path.to_path_buf(),
            message,
        };
        let case = dataset.cases.get(row.index).ok_or_else(|| {
            mismatch(format!(
                "case {} is beyond the dataset's {} cases",
                row.index,
                dataset.cases.len()
            ))
        })?;
        if case.fingerprint() != row.case_id {
            return Err(mismatch(format!(
                "case {} differs from the dataset's",
                row.index
            )));
        }
        if row.model != model {
            return Err(mismatch(format!(
                "case {} was answered by {:?}, not {model:?}",
                row.index, row.model
            )));
        }
        done.insert(row.index, row);
    }
    Ok(done)
}

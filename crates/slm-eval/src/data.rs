//! Evaluation data: JSONL rows `{"prompt", "completion"}` with optional `tools` and `schema`.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use slm_core::ToolSpec;

use crate::{EvalError, Result};

/// The two tracks of the SLM Swap workflow.
///
/// ```
/// use slm_eval::Track;
/// assert_eq!("toolcall".parse::<Track>().unwrap(), Track::Toolcall);
/// assert_eq!(Track::Structured.to_string(), "structured");
/// assert!("nope".parse::<Track>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Track {
    /// The answer is one JSON object (e.g. `{"query", "tool_name", "arguments"}`).
    Structured,
    /// The answer is one or more `<tool_call name="...">{...}</tool_call>` wrappers.
    Toolcall,
    /// A BFCL entry (see [`crate::bfcl::dataset`]): its functions are passed as tools and the
    /// calls are checked by BFCL's AST checker.
    Bfcl,
}

impl Track {
    /// The system prompt the SLM Swap evaluation uses for this track.
    ///
    /// ```
    /// assert!(slm_eval::Track::Structured.system_prompt().contains("JSON"));
    /// ```
    pub fn system_prompt(self) -> &'static str {
        match self {
            Track::Structured => {
                "You return valid JSON objects only. Do not add prose or code fences."
            }
            Track::Toolcall => {
                "You must reply with <tool_call name=\"...\">{...}</tool_call> wrappers only, one per \
                 call, matching the tool signatures in the prompt. Arguments must be JSON."
            }
            // BFCL asks function-calling models the question alone, with the functions as tools.
            Track::Bfcl => "",
        }
    }

    /// The two SLM Swap tracks (what `prepare` writes), in a fixed order.
    ///
    /// ```
    /// assert_eq!(slm_eval::Track::ALL.len(), 2);
    /// ```
    pub const ALL: [Track; 2] = [Track::Structured, Track::Toolcall];
}

impl fmt::Display for Track {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Track::Structured => "structured",
            Track::Toolcall => "toolcall",
            Track::Bfcl => "bfcl",
        })
    }
}

impl std::str::FromStr for Track {
    type Err = EvalError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "structured" => Ok(Track::Structured),
            "toolcall" | "tool_call" | "tool-call" => Ok(Track::Toolcall),
            "bfcl" => Ok(Track::Bfcl),
            other => Err(EvalError::InvalidArgument(format!(
                "unknown track {other:?} (expected structured, toolcall or bfcl)"
            ))),
        }
    }
}

/// One evaluation case: a prompt, the reference completion, and optionally the tools the model
/// may call and the JSON schema the answer must satisfy.
///
/// ```
/// let case: slm_eval::Case = serde_json::from_str(r#"{"prompt": "2+2?", "completion": "{\"answer\": 4}"}"#).unwrap();
/// assert!(case.tools.is_empty() && case.schema.is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    /// The user message.
    pub prompt: String,
    /// The reference answer, as text (JSON for the structured track, wrappers for tool calls).
    pub completion: String,
    /// Tools the model may call (tool-call track).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolSpec>,
    /// JSON schema the answer must validate against (structured track).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
}

impl Case {
    /// A case without tools or schema.
    ///
    /// ```
    /// let c = slm_eval::Case::new("Name a colour as JSON", r#"{"colour": "red"}"#);
    /// assert_eq!(c.prompt, "Name a colour as JSON");
    /// ```
    pub fn new(prompt: impl Into<String>, completion: impl Into<String>) -> Self {
        Self {
            prompt: prompt.into(),
            completion: completion.into(),
            tools: Vec::new(),
            schema: None,
        }
    }

    /// A short stable fingerprint of the case (first 16 hex digits of the SHA-256 of its JSON),
    /// used to check that a results file belongs to the dataset it resumes.
    ///
    /// ```
    /// let a = slm_eval::Case::new("p", "c");
    /// assert_eq!(a.fingerprint().len(), 16);
    /// assert_ne!(a.fingerprint(), slm_eval::Case::new("p", "d").fingerprint());
    /// ```
    pub fn fingerprint(&self) -> String {
        let json = serde_json::to_string(self).unwrap_or_default();
        let digest = Sha256::digest(json.as_bytes());
        hex(&digest[..8])
    }
}

/// A loaded dataset: its cases, where it came from and the SHA-256 of its bytes.
///
/// ```
/// let d = slm_eval::Dataset::from_cases("inline", vec![slm_eval::Case::new("p", "{}")]);
/// assert_eq!(d.cases.len(), 1);
/// assert_eq!(d.sha256.len(), 64);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dataset {
    /// The file it was read from (or a label).
    pub path: PathBuf,
    /// Hex SHA-256 of the file's bytes (or of the cases' JSONL rendering).
    pub sha256: String,
    /// The cases, in file order.
    pub cases: Vec<Case>,
}

impl Dataset {
    /// A dataset built in memory; its hash is that of its JSONL rendering.
    ///
    /// ```
    /// let a = slm_eval::Dataset::from_cases("x", vec![slm_eval::Case::new("p", "c")]);
    /// let b = slm_eval::Dataset::from_cases("y", vec![slm_eval::Case::new("p", "c")]);
    /// assert_eq!(a.sha256, b.sha256);
    /// ```
    pub fn from_cases(label: impl Into<PathBuf>, cases: Vec<Case>) -> Self {
        let text = render_jsonl(&cases);
        Self {
            path: label.into(),
            sha256: sha256_hex(text.as_bytes()),
            cases,
        }
    }

    /// Reads a JSONL file of [`Case`]s. Blank lines are skipped; a malformed line is an error
    /// naming its line number; an empty file is an error.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("test.jsonl");
    /// std::fs::write(&path, "{\"prompt\": \"p\", \"completion\": \"{}\"}\n\nnot json\n").unwrap();
    /// let err = slm_eval::Dataset::load(&path).unwrap_err();
    /// assert!(err.to_string().ends_with(&format!("test.jsonl:3: expected ident at line 1 column 2")), "{err}");
    /// ```
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| EvalError::io(path, e))?;
        let cases: Vec<Case> = parse_jsonl(path, &bytes)?;
        if cases.is_empty() {
            return Err(EvalError::EmptyDataset(path.to_path_buf()));
        }
        Ok(Self {
            path: path.to_path_buf(),
            sha256: sha256_hex(&bytes),
            cases,
        })
    }

    /// Writes the cases as JSONL, creating parent directories.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("a/b.jsonl");
    /// let d = slm_eval::Dataset::from_cases("x", vec![slm_eval::Case::new("p", "c")]);
    /// d.save(&path).unwrap();
    /// assert_eq!(slm_eval::Dataset::load(&path).unwrap().cases, d.cases);
    /// ```
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        write_jsonl(path, &self.cases)
    }
}

/// Parses JSONL bytes into rows of `T`, reporting the 1-based line number of a bad line.
///
/// ```
/// let rows: Vec<serde_json::Value> = slm_eval::data::parse_jsonl("x".as_ref(), b"{\"a\":1}\n\n[2]\n").unwrap();
/// assert_eq!(rows.len(), 2);
/// ```
pub fn parse_jsonl<T: serde::de::DeserializeOwned>(path: &Path, bytes: &[u8]) -> Result<Vec<T>> {
    let mut rows = Vec::new();
    for (index, line) in bytes.split(|b| *b == b'\n').enumerate() {
        let line_no = index + 1;
        let text = std::str::from_utf8(line).map_err(|e| EvalError::Line {
            path: path.to_path_buf(),
            line: line_no,
            message: format!("not UTF-8: {e}"),
        })?;
        if text.trim().is_empty() {
            continue;
        }
        let row = serde_json::from_str(text).map_err(|e| EvalError::Line {
            path: path.to_path_buf(),
            line: line_no,
            message: e.to_string(),
        })?;
        rows.push(row);
    }
    Ok(rows)
}

/// Writes rows as JSONL (one compact JSON object per line), creating parent directories.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("rows.jsonl");
/// slm_eval::data::write_jsonl(&path, &[serde_json::json!({"a": 1})]).unwrap();
/// assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"a\":1}\n");
/// ```
pub fn write_jsonl<T: Serialize>(path: impl AsRef<Path>, rows: &[T]) -> Result<()> {
    let path = path.as_ref();
    create_parent(path)?;
    let mut file = std::fs::File::create(path).map_err(|e| EvalError::io(path, e))?;
    file.write_all(render_jsonl(rows).as_bytes())
        .map_err(|e| EvalError::io(path, e))
}

fn render_jsonl<T: Serialize>(rows: &[T]) -> String {
    let mut out = String::new();
    for row in rows {
        out.push_str(&serde_json::to_string(row).unwrap_or_default());
        out.push('\n');
    }
    out
}

pub(crate) fn create_parent(path: &Path) -> Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            std::fs::create_dir_all(dir).map_err(|e| EvalError::io(dir, e))
        }
        _ => Ok(()),
    }
}

/// Hex SHA-256 of some bytes.
///
/// ```
/// assert_eq!(&slm_eval::data::sha256_hex(b"")[..8], "e3b0c442");
/// ```
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

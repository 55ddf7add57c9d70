//! Loading retrieval benchmarks in BEIR format.
//!
//! A BEIR dataset is a folder with `corpus.jsonl` (`_id`, `title`, `text`), `queries.jsonl`
//! (`_id`, `text`) and `qrels/<split>.tsv` (`query-id`, `corpus-id`, `score`, tab-separated,
//! with a header line).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Document, RagError, Result};

/// Relevance judgements: query id → document id → grade (> 0 means relevant).
pub type Qrels = HashMap<String, HashMap<String, i32>>;

/// One corpus document.
///
/// ```
/// let d = slm_rag::BeirDocument { id: "1".into(), title: "Title".into(), text: "Body.".into() };
/// assert_eq!(d.into_document().text, "Title Body.");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BeirDocument {
    /// `_id`.
    pub id: String,
    /// `title` (empty when absent).
    pub title: String,
    /// `text`.
    pub text: String,
}

impl BeirDocument {
    /// A [`Document`] whose text is `title + " " + text`, as bm25s and Pyserini's "flat"
    /// indexes do, with the title also kept as metadata.
    ///
    /// ```
    /// let d = slm_rag::BeirDocument { id: "1".into(), title: String::new(), text: "Body.".into() };
    /// assert_eq!(d.into_document().text, " Body.");
    /// ```
    pub fn into_document(self) -> Document {
        let text = format!("{} {}", self.title, self.text);
        Document::new(self.id, text).with_meta("title", self.title)
    }
}

/// One query.
///
/// ```
/// let q = slm_rag::BeirQuery { id: "1".into(), text: "What is BM25?".into() };
/// assert_eq!(q.id, "1");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BeirQuery {
    /// `_id`.
    pub id: String,
    /// `text`.
    pub text: String,
}

/// A BEIR dataset split: the corpus, the judged queries and their judgements.
///
/// ```no_run
/// let data = slm_rag::BeirDataset::load("../shared/data/scifact")?;
/// println!("{} documents, {} queries", data.corpus.len(), data.queries.len());
/// # Ok::<(), slm_rag::RagError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BeirDataset {
    /// Every document of `corpus.jsonl`, in file order.
    pub corpus: Vec<BeirDocument>,
    /// The queries of `queries.jsonl` that have judgements in the split, in file order.
    pub queries: Vec<BeirQuery>,
    /// The split's judgements.
    pub qrels: Qrels,
}

impl BeirDataset {
    /// Loads the `test` split.
    ///
    /// ```
    /// let err = slm_rag::BeirDataset::load("/nonexistent").unwrap_err();
    /// assert!(matches!(err, slm_rag::RagError::Io { .. }));
    /// ```
    pub fn load(dir: impl AsRef<Path>) -> Result<Self> {
        Self::load_split(dir, "test")
    }

    /// Loads a split (`qrels/<split>.tsv`).
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// std::fs::create_dir(dir.path().join("qrels")).unwrap();
    /// std::fs::write(dir.path().join("corpus.jsonl"), "{\"_id\": \"d1\", \"title\": \"T\", \"text\": \"x\"}\n").unwrap();
    /// std::fs::write(dir.path().join("queries.jsonl"), "{\"_id\": \"q1\", \"text\": \"x?\"}\n{\"_id\": \"q2\", \"text\": \"y?\"}\n").unwrap();
    /// std::fs::write(dir.path().join("qrels/dev.tsv"), "query-id\tcorpus-id\tscore\nq1\td1\t1\n").unwrap();
    /// let data = slm_rag::BeirDataset::load_split(dir.path(), "dev")?;
    /// assert_eq!(data.queries.len(), 1);
    /// assert_eq!(data.qrels["q1"]["d1"], 1);
    /// # Ok::<(), slm_rag::RagError>(())
    /// ```
    pub fn load_split(dir: impl AsRef<Path>, split: &str) -> Result<Self> {
        let dir = dir.as_ref();
        let qrels = read_qrels(&dir.join("qrels").join(format!("{split}.tsv")))?;
        let corpus = read_jsonl(&dir.join("corpus.jsonl"), |object| {
            Ok(BeirDocument {
                id: id_field(object)?,
                title: string_field(object, "title").unwrap_or_default(),
                text: string_field(object, "text").ok_or("missing \"text\"")?,
            })
        })?;
        let queries = read_jsonl(&dir.join("queries.jsonl"), |object| {
            Ok(BeirQuery {
                id: id_field(object)?,
                text: string_field(object, "text").ok_or("missing \"text\"")?,
            })
        })?
        .into_iter()
        .filter(|q| qrels.contains_key(&q.id))
        .collect();
        Ok(Self {
            corpus,
            queries,
            qrels,
        })
    }

    /// The corpus as [`Document`]s (`title + " " + text`).
    ///
    /// ```
    /// assert!(slm_rag::BeirDataset::default().documents().next().is_none());
    /// ```
    pub fn documents(&self) -> impl Iterator<Item = Document> + '_ {
        self.corpus.iter().cloned().map(BeirDocument::into_document)
    }
}

fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| RagError::io(path, e))
}

fn dataset_error(path: &Path, line: usize, message: impl Into<String>) -> RagError {
    RagError::Dataset {
        path: PathBuf::from(path),
        line,
        message: message.into(),
    }
}

/// Parses each non-blank line as a JSON object and converts it.
fn read_jsonl<T>(
    path: &Path,
    convert: impl Fn(&serde_json::Map<String, Value>) -> Result<T, &'static str>,
) -> Result<Vec<T>> {
    let text = read_text(path)?;
    let mut items = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value: Value =
            serde_json::from_str(line).map_err(|e| dataset_error(path, i + 1, e.to_string()))?;
        let object = value
            .as_object()
            .ok_or_else(|| dataset_error(path, i + 1, "not a JSON object"))?;
        items.push(convert(object).map_err(|m| dataset_error(path, i + 1, m))?);
    }
    Ok(items)
}

/// `_id` as a string (BEIR writes strings; some exports write numbers).
fn id_field(object: &serde_json::Map<String, Value>) -> Result<String, &'static str> {
    match object.get("_id") {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        _ => Err("missing or non-string \"_id\""),
    }
}

fn string_field(object: &serde_json::Map<String, Value>, key: &str) -> Option<String> {
    object.get(key).and_then(Value::as_str).map(str::to_string)
}

fn read_qrels(path: &Path) -> Result<Qrels> {
    let text = read_text(path)?;
    let mut qrels = Qrels::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || (i == 0 && line.starts_with("query-id")) {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let [query, doc, grade] = fields[..] else {
            return Err(dataset_error(
                path,
                i + 1,
                format!("expected 3 tab-separated fields, found {}", fields.len()),
            ));
        };
        let grade: i32 = grade.trim().parse().map_err(|_| {
            dataset_error(path, i + 1, format!("grade {grade:?} is not an integer"))
        })?;
        qrels
            .entry(query.to_string())
            .or_default()
            .insert(doc.to_string(), grade);
    }
    Ok(qrels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_lines_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("qrels")).unwrap();
        std::fs::write(
            dir.path().join("qrels/test.tsv"),
            "query-id\tcorpus-id\tscore\nq1\td1\n",
        )
        .unwrap();
        let err = BeirDataset::load(dir.path()).unwrap_err();
        assert!(matches!(err, RagError::Dataset { line: 2, .. }), "{err}");

        std::fs::write(dir.path().join("qrels/test.tsv"), "q1\td1\t1\n").unwrap();
        std::fs::write(
            dir.path().join("corpus.jsonl"),
            "{\"_id\": \"d1\", \"text\": \"x\"}\n{oops\n",
        )
        .unwrap();
        let err = BeirDataset::load(dir.path()).unwrap_err();
        assert!(matches!(err, RagError::Dataset { line: 2, .. }), "{err}");
    }
}

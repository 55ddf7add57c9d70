//! The Berkeley Function Calling Leaderboard (BFCL v4) non-live categories: loader and a port
//! of BFCL's AST checker.
//!
//! A BFCL file holds one entry per line, `{"id", "question": [[{"role", "content"}]],
//! "function": [{"name", "description", "parameters": {"type": "dict", "properties",
//! "required"}}]}`; the answer key in `possible_answer/` holds `{"id", "ground_truth":
//! [{"fn_name": {"param": [acceptable values...]}}]}`.

mod checker;
mod python_calls;
mod suite;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use slm_core::{Message, Role, ToolSpec};

use crate::{EvalError, Result};

pub use checker::{AstError, check};
pub use python_calls::parse_python_calls;
pub use suite::{
    BFCL_AST, BfclMode, BfclReference, BfclSummary, call_from_answer, category_metric, dataset,
    materialize, parse_categories, prompting_system_prompt, request, score,
};

/// The five non-live categories.
///
/// ```
/// use slm_eval::bfcl::Category;
/// assert_eq!(Category::from_id("parallel_multiple_12"), Some(Category::ParallelMultiple));
/// assert_eq!(Category::Simple.file_stem(), "BFCL_v4_simple_python");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// `simple_python`: one function, one call.
    Simple,
    /// `multiple`: several functions, one call.
    Multiple,
    /// `parallel`: one function, several calls in any order.
    Parallel,
    /// `parallel_multiple`: several functions, several calls in any order.
    ParallelMultiple,
    /// `irrelevance`: no function fits; the model must not call any.
    Irrelevance,
}

impl Category {
    /// All five, in BFCL's order.
    ///
    /// ```
    /// assert_eq!(slm_eval::bfcl::Category::ALL.len(), 5);
    /// ```
    pub const ALL: [Category; 5] = [
        Category::Simple,
        Category::Multiple,
        Category::Parallel,
        Category::ParallelMultiple,
        Category::Irrelevance,
    ];

    /// BFCL's category name (`simple_python`, ...).
    ///
    /// ```
    /// assert_eq!(slm_eval::bfcl::Category::Irrelevance.name(), "irrelevance");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Category::Simple => "simple_python",
            Category::Multiple => "multiple",
            Category::Parallel => "parallel",
            Category::ParallelMultiple => "parallel_multiple",
            Category::Irrelevance => "irrelevance",
        }
    }

    /// The data file's name without `.json`.
    ///
    /// ```
    /// assert_eq!(slm_eval::bfcl::Category::Parallel.file_stem(), "BFCL_v4_parallel");
    /// ```
    pub fn file_stem(self) -> String {
        format!("BFCL_v4_{}", self.name())
    }

    /// The category of an entry id such as `multiple_17`.
    ///
    /// ```
    /// assert_eq!(slm_eval::bfcl::Category::from_id("simple_python_3"), Some(slm_eval::bfcl::Category::Simple));
    /// assert_eq!(slm_eval::bfcl::Category::from_id("live_simple_1"), None);
    /// ```
    pub fn from_id(id: &str) -> Option<Category> {
        let prefix = id.rsplit_once('_').map(|(p, _)| p)?;
        Category::ALL.into_iter().find(|c| c.name() == prefix)
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One chat turn of a BFCL question.
///
/// ```
/// let t: slm_eval::bfcl::Turn = serde_json::from_str(r#"{"role": "user", "content": "hi"}"#).unwrap();
/// assert_eq!(t.role, "user");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The text.
    pub content: String,
}

/// A function declaration in BFCL's format (`"type": "dict"`, BFCL type names).
///
/// ```
/// let f: slm_eval::bfcl::Function = serde_json::from_str(
///     r#"{"name": "f", "parameters": {"type": "dict", "properties": {}, "required": []}}"#).unwrap();
/// assert_eq!(f.description, "");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Function {
    /// The function name (may contain dots).
    pub name: String,
    /// What it does.
    #[serde(default)]
    pub description: String,
    /// `{"type": "dict", "properties": {...}, "required": [...]}` with BFCL type names.
    pub parameters: Value,
}

impl Function {
    /// This declaration as a [`ToolSpec`] with standard JSON-schema types (`dict` → `object`,
    /// `float` → `number`, `tuple` → `array`, `any` → no constraint).
    ///
    /// ```
    /// let f = slm_eval::bfcl::Function {
    ///     name: "area".into(), description: "".into(),
    ///     parameters: serde_json::json!({"type": "dict", "properties": {"r": {"type": "float"}}, "required": ["r"]}),
    /// };
    /// assert_eq!(f.to_tool_spec().parameters["properties"]["r"]["type"], "number");
    /// ```
    pub fn to_tool_spec(&self) -> ToolSpec {
        ToolSpec::new(
            self.name.clone(),
            self.description.clone(),
            standard_schema(&self.parameters),
        )
    }
}

fn standard_schema(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, item) in map {
                let converted = match (key.as_str(), item) {
                    ("type", Value::String(t)) => match t.as_str() {
                        "dict" => json!("object"),
                        "float" => json!("number"),
                        "tuple" => json!("array"),
                        "any" => continue,
                        _ => item.clone(),
                    },
                    // `properties` maps names to schemas; every other member is converted as is.
                    _ => standard_schema(item),
                };
                out.insert(key.clone(), converted);
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(standard_schema).collect()),
        other => other.clone(),
    }
}

/// One BFCL entry.
///
/// ```
/// let e: slm_eval::bfcl::Entry = serde_json::from_str(
///     r#"{"id": "multiple_0", "question": [[{"role": "user", "content": "q"}]], "function": []}"#).unwrap();
/// assert_eq!(slm_eval::bfcl::Category::from_id(&e.id), Some(slm_eval::bfcl::Category::Multiple));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// E.g. `simple_python_0`.
    pub id: String,
    /// Conversations (the non-live categories have one, with one user turn).
    pub question: Vec<Vec<Turn>>,
    /// The declared functions.
    pub function: Vec<Function>,
}

impl Entry {
    /// The first conversation as chat messages.
    ///
    /// ```
    /// let e: slm_eval::bfcl::Entry = serde_json::from_str(r#"{"id": "simple_python_0",
    ///   "question": [[{"role": "user", "content": "hi"}]], "function": []}"#).unwrap();
    /// assert_eq!(e.messages()[0].content, "hi");
    /// ```
    pub fn messages(&self) -> Vec<Message> {
        self.question
            .first()
            .map(|turns| {
                turns
                    .iter()
                    .map(|t| {
                        let role = match t.role.as_str() {
                            "system" => Role::System,
                            "assistant" => Role::Assistant,
                            _ => Role::User,
                        };
                        Message::new(role, t.content.clone())
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Acceptable values per parameter of one expected call: `{fn_name: {param: [values...]}}`.
///
/// ```
/// let call: slm_eval::bfcl::ExpectedCall =
///     serde_json::from_str(r#"{"area": {"radius": [3, 3.0], "unit": ["", "cm"]}}"#).unwrap();
/// assert!(call.contains_key("area"));
/// ```
pub type ExpectedCall = Map<String, Value>;

/// One answer-key row.
///
/// ```
/// let a: slm_eval::bfcl::Answer = serde_json::from_str(
///     r#"{"id": "simple_python_0", "ground_truth": [{"f": {"x": [1]}}]}"#).unwrap();
/// assert_eq!(a.ground_truth.len(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    /// The entry id.
    pub id: String,
    /// The expected calls.
    pub ground_truth: Vec<ExpectedCall>,
}

/// A category's entries with their answer keys (irrelevance has none).
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::write(dir.path().join("BFCL_v4_irrelevance.json"),
///     r#"{"id": "irrelevance_0", "question": [[{"role": "user", "content": "Hi"}]], "function": []}"#).unwrap();
/// let suite = slm_eval::bfcl::Suite::load(dir.path(), slm_eval::bfcl::Category::Irrelevance).unwrap();
/// assert_eq!(suite.entries.len(), 1);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Suite {
    /// The category.
    pub category: Category,
    /// Entries in file order.
    pub entries: Vec<Entry>,
    /// Answer keys by entry id.
    pub answers: HashMap<String, Answer>,
}

impl Suite {
    /// Loads `dir/BFCL_v4_<category>.json` and `dir/possible_answer/BFCL_v4_<category>.json`.
    /// Malformed lines are errors naming file and line; an entry without an answer key (outside
    /// `irrelevance`) is an error.
    ///
    /// ```no_run
    /// let suite = slm_eval::bfcl::Suite::load("/data/bfcl".as_ref(), slm_eval::bfcl::Category::Simple).unwrap();
    /// assert_eq!(suite.entries.len(), 400);
    /// ```
    pub fn load(dir: &Path, category: Category) -> Result<Self> {
        let entries_path = dir.join(format!("{}.json", category.file_stem()));
        let entries: Vec<Entry> = read_jsonl(&entries_path)?;
        let mut answers = HashMap::new();
        if category != Category::Irrelevance {
            let answers_path: PathBuf = dir
                .join("possible_answer")
                .join(format!("{}.json", category.file_stem()));
            for answer in read_jsonl::<Answer>(&answers_path)? {
                answers.insert(answer.id.clone(), answer);
            }
            if let Some(missing) = entries.iter().find(|e| !answers.contains_key(&e.id)) {
                return Err(EvalError::Json {
                    path: answers_path,
                    message: format!("no answer key for {}", missing.id),
                });
            }
        }
        Ok(Self {
            category,
            entries,
            answers,
        })
    }
}

fn read_jsonl<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    let bytes = std::fs::read(path).map_err(|e| EvalError::io(path, e))?;
    crate::data::parse_jsonl(path, &bytes)
}

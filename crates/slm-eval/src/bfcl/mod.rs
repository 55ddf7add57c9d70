//! The Berkeley Function Calling Leaderboard (BFCL v4) single-turn categories (non-live Python,
//! Java and JavaScript; live): loader, a port of BFCL's AST checker and of its Java/JavaScript
//! value converters.
//!
//! A BFCL file holds one entry per line, `{"id", "question": [[{"role", "content"}]],
//! "function": [{"name", "description", "parameters": {"type": "dict", "properties",
//! "required"}}]}`; the answer key in `possible_answer/` holds `{"id", "ground_truth":
//! [{"fn_name": {"param": [acceptable values...]}}]}`.

mod checker;
pub mod java_types;
pub mod js_types;
mod py_literals;
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
    materialize, parse_categories, prompting_system_prompt, request, score, source_call,
};

/// The BFCL categories this crate runs: the non-live ones (Python, Java, JavaScript) and the
/// live ones (single-turn, user-contributed).
///
/// ```
/// use slm_eval::bfcl::Category;
/// assert_eq!(Category::from_id("parallel_multiple_12"), Some(Category::ParallelMultiple));
/// assert_eq!(Category::from_id("live_simple_12-3-1"), Some(Category::LiveSimple));
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
    /// `simple_java`: one Java method, one call; arguments are strings in Java syntax.
    SimpleJava,
    /// `simple_javascript`: one JavaScript function, one call; arguments are strings in
    /// JavaScript syntax.
    SimpleJavascript,
    /// `live_simple`: user-contributed, one function, one call.
    LiveSimple,
    /// `live_multiple`: user-contributed, several functions, one call.
    LiveMultiple,
    /// `live_parallel`: user-contributed, one function, several calls in any order.
    LiveParallel,
    /// `live_parallel_multiple`: user-contributed, several functions, several calls.
    LiveParallelMultiple,
    /// `live_irrelevance`: user-contributed; no function fits, the model must not call any.
    LiveIrrelevance,
    /// `live_relevance`: user-contributed; some function fits, the model must call at least one
    /// (its arguments are not checked, and there is no answer key).
    LiveRelevance,
}

/// The language a category's functions are written in, which decides how BFCL presents them
/// and converts the model's arguments.
///
/// ```
/// use slm_eval::bfcl::{Category, Language};
/// assert_eq!(Category::SimpleJava.language(), Language::Java);
/// assert_eq!(Category::LiveMultiple.language(), Language::Python);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    /// Python 3: arguments are JSON values.
    Python,
    /// Java 8: arguments are strings in Java syntax ([`java_types`]).
    Java,
    /// JavaScript: arguments are strings in JavaScript syntax ([`js_types`]).
    JavaScript,
}

impl Category {
    /// All thirteen, in BFCL's order (non-live, then live).
    ///
    /// ```
    /// assert_eq!(slm_eval::bfcl::Category::ALL.len(), 13);
    /// ```
    pub const ALL: [Category; 13] = [
        Category::Simple,
        Category::SimpleJava,
        Category::SimpleJavascript,
        Category::Multiple,
        Category::Parallel,
        Category::ParallelMultiple,
        Category::Irrelevance,
        Category::LiveSimple,
        Category::LiveMultiple,
        Category::LiveParallel,
        Category::LiveParallelMultiple,
        Category::LiveIrrelevance,
        Category::LiveRelevance,
    ];

    /// The five non-live Python categories: the suite's default.
    ///
    /// ```
    /// assert_eq!(slm_eval::bfcl::Category::DEFAULT.len(), 5);
    /// ```
    pub const DEFAULT: [Category; 5] = [
        Category::Simple,
        Category::Multiple,
        Category::Parallel,
        Category::ParallelMultiple,
        Category::Irrelevance,
    ];

    /// BFCL's `non_live` group: the five Python ones with Java and JavaScript.
    ///
    /// ```
    /// assert!(slm_eval::bfcl::Category::NON_LIVE.contains(&slm_eval::bfcl::Category::SimpleJava));
    /// ```
    pub const NON_LIVE: [Category; 7] = [
        Category::Simple,
        Category::SimpleJava,
        Category::SimpleJavascript,
        Category::Multiple,
        Category::Parallel,
        Category::ParallelMultiple,
        Category::Irrelevance,
    ];

    /// BFCL's `live` group.
    ///
    /// ```
    /// assert_eq!(slm_eval::bfcl::Category::LIVE.len(), 6);
    /// ```
    pub const LIVE: [Category; 6] = [
        Category::LiveSimple,
        Category::LiveMultiple,
        Category::LiveParallel,
        Category::LiveParallelMultiple,
        Category::LiveIrrelevance,
        Category::LiveRelevance,
    ];

    /// BFCL's category name (`simple_python`, ...).
    ///
    /// ```
    /// assert_eq!(slm_eval::bfcl::Category::Irrelevance.name(), "irrelevance");
    /// assert_eq!(slm_eval::bfcl::Category::LiveParallelMultiple.name(), "live_parallel_multiple");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Category::Simple => "simple_python",
            Category::Multiple => "multiple",
            Category::Parallel => "parallel",
            Category::ParallelMultiple => "parallel_multiple",
            Category::Irrelevance => "irrelevance",
            Category::SimpleJava => "simple_java",
            Category::SimpleJavascript => "simple_javascript",
            Category::LiveSimple => "live_simple",
            Category::LiveMultiple => "live_multiple",
            Category::LiveParallel => "live_parallel",
            Category::LiveParallelMultiple => "live_parallel_multiple",
            Category::LiveIrrelevance => "live_irrelevance",
            Category::LiveRelevance => "live_relevance",
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

    /// The category of an entry id: `multiple_17`, or `live_simple_19-3-15` (live ids add the
    /// function-doc and prompt sub-indices).
    ///
    /// ```
    /// use slm_eval::bfcl::Category;
    /// assert_eq!(Category::from_id("simple_python_3"), Some(Category::Simple));
    /// assert_eq!(Category::from_id("simple_javascript_0"), Some(Category::SimpleJavascript));
    /// assert_eq!(Category::from_id("live_irrelevance_0-0-0"), Some(Category::LiveIrrelevance));
    /// assert_eq!(Category::from_id("multi_turn_base_1"), None);
    /// ```
    pub fn from_id(id: &str) -> Option<Category> {
        let prefix = id.rsplit_once('_').map(|(p, _)| p)?;
        Category::ALL.into_iter().find(|c| c.name() == prefix)
    }

    /// The language its functions are written in.
    ///
    /// ```
    /// assert_eq!(slm_eval::bfcl::Category::SimpleJavascript.language(), slm_eval::bfcl::Language::JavaScript);
    /// ```
    pub fn language(self) -> Language {
        match self {
            Category::SimpleJava => Language::Java,
            Category::SimpleJavascript => Language::JavaScript,
            _ => Language::Python,
        }
    }

    /// Whether BFCL has an answer key for it (not for the (ir)relevance categories, which only
    /// ask whether a call was made).
    ///
    /// ```
    /// assert!(!slm_eval::bfcl::Category::LiveIrrelevance.has_answer_key());
    /// assert!(slm_eval::bfcl::Category::LiveSimple.has_answer_key());
    /// ```
    pub fn has_answer_key(self) -> bool {
        !matches!(
            self,
            Category::Irrelevance | Category::LiveIrrelevance | Category::LiveRelevance
        )
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
    /// This declaration as a [`ToolSpec`], its types cast to OpenAPI ones as BFCL's
    /// function-calling handlers cast them (`convert_to_tool` with `GORILLA_TO_OPENAPI`):
    /// `dict` → `object`, `float` → `number` (with `"format": "float"` and a note in the
    /// description), `tuple` → `array`, `any` and unknown or missing types → `string`, the same
    /// inside object properties and list items.
    ///
    /// ```
    /// let f = slm_eval::bfcl::Function {
    ///     name: "area".into(), description: "".into(),
    ///     parameters: serde_json::json!({"type": "dict", "properties": {
    ///         "r": {"type": "float", "description": "Radius."}, "tag": {"type": "any"}}, "required": ["r"]}),
    /// };
    /// let spec = f.to_tool_spec();
    /// assert_eq!(spec.parameters["type"], "object");
    /// assert_eq!(spec.parameters["properties"]["r"]["type"], "number");
    /// assert_eq!(spec.parameters["properties"]["r"]["description"], "Radius. This is a float type value.");
    /// assert_eq!(spec.parameters["properties"]["tag"]["type"], "string");
    /// ```
    pub fn to_tool_spec(&self) -> ToolSpec {
        let mut parameters = self.parameters.clone();
        if let Some(schema) = parameters.as_object_mut() {
            schema.insert("type".into(), json!("object"));
            if let Some(Value::Object(properties)) = schema.get_mut("properties") {
                cast_to_openapi(properties);
            }
        }
        ToolSpec::new(self.name.clone(), self.description.clone(), parameters)
    }
}

impl Function {
    /// The declaration as BFCL presents it to the model (its
    /// `_func_doc_language_specific_pre_processing`): the description gains a note on the
    /// language; for Java and JavaScript every parameter becomes a `string` whose description
    /// names the language's type (and the element type of a list, or a JavaScript object's
    /// schema, written as Python's `json.dumps` writes it, keys in the data's order), since
    /// the model writes each argument as source text. The checker still uses the original
    /// declaration.
    ///
    /// ```
    /// use serde_json::json;
    /// use slm_eval::bfcl::{Function, Language};
    /// let f = Function {
    ///     name: "sum".into(), description: "Adds.".into(),
    ///     parameters: json!({"type": "dict", "properties": {"xs": {"type": "ArrayList",
    ///         "description": "Numbers.", "items": {"type": "long"}}}, "required": ["xs"]}),
    /// };
    /// let shown = f.presented(Language::Java);
    /// assert_eq!(shown.description, "Adds. Note that the provided function is in Java 8 SDK syntax.");
    /// let xs = &shown.parameters["properties"]["xs"];
    /// assert_eq!(xs["type"], "string");
    /// assert_eq!(xs["description"], "Numbers. This is Java ArrayList type parameter in string representation. \
    ///     The list elements are of type long; they are not in string representation.");
    /// assert!(xs.get("items").is_none());
    /// ```
    pub fn presented(&self, language: Language) -> Function {
        let mut function = self.clone();
        function.description.push_str(match language {
            Language::Java => " Note that the provided function is in Java 8 SDK syntax.",
            Language::JavaScript => " Note that the provided function is in JavaScript syntax.",
            Language::Python => " Note that the provided function is in Python 3 syntax.",
        });
        let (label, list_type) = match language {
            Language::Python => return function,
            Language::Java => ("Java", &["ArrayList", "Array"][..]),
            Language::JavaScript => ("JavaScript", &["array"][..]),
        };
        let Some(properties) = function
            .parameters
            .get_mut("properties")
            .and_then(Value::as_object_mut)
        else {
            return function;
        };
        for schema in properties.values_mut() {
            let Some(schema) = schema.as_object_mut() else {
                continue;
            };
            let kind = schema
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let mut note = if kind == "any" {
                format!(
                    " This parameter can be of any type of {label} object in string representation."
                )
            } else {
                format!(" This is {label} {kind} type parameter in string representation.")
            };
            if list_type.contains(&kind.as_str()) {
                let item = schema
                    .get("items")
                    .and_then(|i| i.get("type"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                note.push_str(&format!(
                    " The list elements are of type {item}; they are not in string representation."
                ));
                schema.remove("items");
            }
            if language == Language::JavaScript
                && kind == "dict"
                && let Some(fields) = schema.remove("properties")
            {
                note.push_str(&format!(
                    " The dictionary entries have the following schema; they are not in string representation. {}",
                    python_json(&fields)
                ));
            }
            let description = schema
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            schema.insert("description".into(), Value::String(description + &note));
            schema.insert("type".into(), Value::String("string".into()));
        }
        function
    }
}

/// Python's `json.dumps(value)`: `", "` and `": "` separators, non-ASCII escaped.
fn python_json(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let items: Vec<String> = map
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{}: {}",
                        python_json(&Value::String(k.clone())),
                        python_json(v)
                    )
                })
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(python_json).collect();
            format!("[{}]", items.join(", "))
        }
        Value::String(s) => {
            let mut out = String::from("\"");
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    '\u{8}' => out.push_str("\\b"),
                    '\u{c}' => out.push_str("\\f"),
                    c if (c as u32) < 0x20 || (c as u32) > 0x7f => {
                        let mut units = [0u16; 2];
                        for unit in c.encode_utf16(&mut units) {
                            out.push_str(&format!("\\u{unit:04x}"));
                        }
                    }
                    c => out.push(c),
                }
            }
            out.push('"');
            out
        }
        other => other.to_string(),
    }
}

/// BFCL's `GORILLA_TO_OPENAPI` (`None`: not in the table, cast to `string`).
fn openapi_type(name: &str) -> Option<&'static str> {
    Some(match name {
        "integer" | "byte" | "short" | "long" | "Bigint" => "integer",
        "number" | "float" | "double" => "number",
        "string" | "any" | "char" | "Any" | "String" => "string",
        "boolean" | "bool" => "boolean",
        "array" | "list" | "tuple" | "ArrayList" | "Array" | "Queue" | "Stack" => "array",
        "dict" | "object" | "HashMap" | "Hashtable" => "object",
        _ => return None,
    })
}

/// BFCL's `_cast_to_openai_type` over a `properties` map: each property's type, object
/// properties recursively, list items one level (two for a list of lists).
fn cast_to_openapi(properties: &mut Map<String, Value>) {
    let cast_items = |items: &mut Value| {
        let kind = items.get("type").and_then(Value::as_str).unwrap_or("");
        let cast = openapi_type(kind).unwrap_or("string");
        if let Some(items) = items.as_object_mut() {
            items.insert("type".into(), json!(cast));
        }
        cast
    };
    for schema in properties.values_mut() {
        let Some(schema) = schema.as_object_mut() else {
            continue;
        };
        let kind = schema
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("string")
            .to_string();
        if kind == "float" {
            schema.insert("format".into(), json!("float"));
            let description = schema
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or("");
            let description = format!("{description} This is a float type value.");
            schema.insert("description".into(), json!(description));
        }
        let cast = openapi_type(&kind).unwrap_or("string");
        schema.insert("type".into(), json!(cast));
        if cast != "array" && cast != "object" {
            continue;
        }
        if let Some(Value::Object(inner)) = schema.get_mut("properties") {
            cast_to_openapi(inner);
        } else if let Some(items) = schema.get_mut("items") {
            match cast_items(items) {
                "array" => {
                    if let Some(inner) = items.get_mut("items") {
                        cast_items(inner);
                    }
                }
                "object" => {
                    if let Some(Value::Object(inner)) = items.get_mut("properties") {
                        cast_to_openapi(inner);
                    }
                }
                _ => {}
            }
        }
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

/// A category's entries with their answer keys (the (ir)relevance categories have none).
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
    /// Malformed lines are errors naming file and line; an entry without an answer key (in a
    /// category that has them, see [`Category::has_answer_key`]) is an error.
    ///
    /// ```no_run
    /// let suite = slm_eval::bfcl::Suite::load("/data/bfcl".as_ref(), slm_eval::bfcl::Category::Simple).unwrap();
    /// assert_eq!(suite.entries.len(), 400);
    /// ```
    pub fn load(dir: &Path, category: Category) -> Result<Self> {
        let entries_path = dir.join(format!("{}.json", category.file_stem()));
        let entries: Vec<Entry> = read_jsonl(&entries_path)?;
        let mut answers = HashMap::new();
        if category.has_answer_key() {
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

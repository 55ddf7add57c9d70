//! `prepare`: tiny structured and tool-call splits from xLAM function-calling rows.
//!
//! An xLAM row is `{"id", "query", "tools", "answers"}` where `tools` and `answers` are JSON
//! *strings* (lists of `{"name", "description", "parameters": {param: {"type", "description",
//! "default"}}}` and of `{"name", "arguments"}`). Parameter types are Python-style and are turned
//! into JSON schema by [`crate::pytype`].
//!
//! Each usable row gives one structured case (answer: `{"query", "tool_name", "arguments"}` of the
//! first call, with a JSON schema) and one tool-call case (answer: every call as a
//! `<tool_call name="...">{...}</tool_call>` wrapper, with the row's tools). Rows are shuffled
//! with a seeded [`SplitMix64`](crate::rng::SplitMix64) and cut into train/val/test.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use slm_core::{ToolCall, ToolSpec};

use crate::canonical::canonical_string;
use crate::rng::SplitMix64;
use crate::{Case, Dataset, EvalError, Result, Track};

/// Split sizes and seed (the seed workflow's defaults are 32/8/8, seed 42).
///
/// ```
/// let s = slm_eval::xlam::SplitSpec::default();
/// assert_eq!((s.train, s.val, s.test, s.seed), (32, 8, 8, 42));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitSpec {
    /// Training rows.
    pub train: usize,
    /// Validation rows.
    pub val: usize,
    /// Test rows.
    pub test: usize,
    /// Shuffle seed.
    pub seed: u64,
}

impl Default for SplitSpec {
    fn default() -> Self {
        Self {
            train: 32,
            val: 8,
            test: 8,
            seed: 42,
        }
    }
}

/// What `prepare` did: rows read, rows used, rows skipped by reason, files written.
///
/// ```
/// let s = slm_eval::xlam::PrepareSummary::default();
/// assert_eq!(s.usable, 0);
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PrepareSummary {
    /// Rows in the input.
    pub rows: usize,
    /// Rows that gave cases.
    pub usable: usize,
    /// Skipped rows by reason.
    pub skipped: BTreeMap<String, usize>,
    /// Structured references that do not validate against their own generated schema (xLAM
    /// answers sometimes disagree with the declared types).
    pub references_violating_schema: usize,
    /// The files written.
    pub files: Vec<PathBuf>,
}

/// One usable xLAM row turned into its two cases.
///
/// ```
/// let row = serde_json::json!({"query": "Is 7 prime?",
///     "tools": r#"[{"name": "is_prime", "parameters": {"n": {"type": "int"}}}]"#,
///     "answers": r#"[{"name": "is_prime", "arguments": {"n": 7}}]"#});
/// let ex: slm_eval::xlam::XlamExample = slm_eval::xlam::example_from_row(&row).unwrap();
/// assert!(ex.structured.schema.is_some() && !ex.toolcall.tools.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct XlamExample {
    /// The structured-track case.
    pub structured: Case,
    /// The tool-call-track case.
    pub toolcall: Case,
}

/// Reads an xLAM dump: a JSON array, an object with a `data` array, or JSONL.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("x.json");
/// std::fs::write(&path, r#"[{"query": "q", "tools": "[]", "answers": "[]"}]"#).unwrap();
/// assert_eq!(slm_eval::xlam::read_rows(&path).unwrap().len(), 1);
/// ```
pub fn read_rows(path: &Path) -> Result<Vec<Value>> {
    let bytes = std::fs::read(path).map_err(|e| EvalError::io(path, e))?;
    let text = String::from_utf8_lossy(&bytes);
    let trimmed = text.trim_start();
    let whole_document =
        trimmed.starts_with('[') || (trimmed.starts_with('{') && trimmed.contains("\"data\""));
    if whole_document && let Ok(value) = serde_json::from_str::<Value>(&text) {
        return match value {
            Value::Array(rows) => Ok(rows),
            Value::Object(mut map) => match map.remove("data") {
                Some(Value::Array(rows)) => Ok(rows),
                _ => Err(EvalError::Json {
                    path: path.into(),
                    message: "expected a JSON array of rows or {\"data\": [...]}".into(),
                }),
            },
            _ => Err(EvalError::Json {
                path: path.into(),
                message: "expected a JSON array of rows".into(),
            }),
        };
    }
    crate::data::parse_jsonl(path, &bytes)
}

/// Turns one xLAM row into its structured and tool-call cases, or says why it is unusable.
///
/// ```
/// use serde_json::json;
/// let row = json!({
///     "query": "Weather in Oslo for 3 days?",
///     "tools": r#"[{"name": "forecast", "description": "Forecast", "parameters": {
///         "city": {"type": "str", "description": "City"},
///         "days": {"type": "int, optional", "description": "Days", "default": 1}}}]"#,
///     "answers": r#"[{"name": "forecast", "arguments": {"city": "Oslo", "days": 3}}]"#,
/// });
/// let ex = slm_eval::xlam::example_from_row(&row).unwrap();
/// assert_eq!(ex.toolcall.completion, r#"<tool_call name="forecast">{"city":"Oslo","days":3}</tool_call>"#);
/// assert_eq!(ex.toolcall.tools[0].parameters["required"], json!(["city"]));
/// let structured: serde_json::Value = serde_json::from_str(&ex.structured.completion).unwrap();
/// assert_eq!(structured["tool_name"], "forecast");
/// ```
pub fn example_from_row(row: &Value) -> std::result::Result<XlamExample, String> {
    let query = row
        .get("query")
        .and_then(Value::as_str)
        .filter(|q| !q.trim().is_empty())
        .ok_or("missing query")?;
    let tools: Vec<Value> = json_list(row.get("tools")).ok_or("tools is not a JSON list")?;
    let answers: Vec<Value> = json_list(row.get("answers")).ok_or("answers is not a JSON list")?;
    if tools.is_empty() {
        return Err("no tools".into());
    }
    if answers.is_empty() {
        return Err("no answers".into());
    }
    let specs: Vec<ToolSpec> = tools
        .iter()
        .map(tool_spec)
        .collect::<std::result::Result<_, _>>()?;
    let calls: Vec<ToolCall> = answers
        .iter()
        .enumerate()
        .map(|(i, a)| answer_call(a, i))
        .collect::<std::result::Result<_, _>>()?;
    for call in &calls {
        if !specs.iter().any(|s| s.name == call.name) {
            return Err("answer calls an undeclared tool".into());
        }
    }
    Ok(XlamExample {
        structured: structured_case(query, &specs, &calls[0]),
        toolcall: toolcall_case(query, &specs, &calls),
    })
}

fn json_list(value: Option<&Value>) -> Option<Vec<Value>> {
    match value? {
        Value::String(s) => match serde_json::from_str(s).ok()? {
            Value::Array(items) => Some(items),
            _ => None,
        },
        Value::Array(items) => Some(items.clone()),
        _ => None,
    }
}

fn tool_spec(tool: &Value) -> std::result::Result<ToolSpec, String> {
    let name = tool
        .get("name")
        .and_then(Value::as_str)
        .ok_or("tool without a name")?;
    let description = tool
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or("");
    let mut properties = Map::new();
    let mut required = Vec::new();
    if let Some(Value::Object(params)) = tool.get("parameters") {
        for (param, spec) in params {
            let type_string = spec.get("type").and_then(Value::as_str).unwrap_or("");
            let converted = crate::pytype::convert(type_string);
            let mut schema = converted.schema;
            if let (Value::Object(map), Some(d)) = (&mut schema, spec.get("description")) {
                map.insert("description".into(), d.clone());
            }
            let has_default = spec.get("default").is_some();
            if !converted.optional && !has_default {
                required.push(Value::String(param.clone()));
            }
            properties.insert(param.clone(), schema);
        }
    }
    Ok(ToolSpec::new(
        name,
        description,
        json!({"type": "object", "properties": properties, "required": required}),
    ))
}

fn answer_call(answer: &Value, index: usize) -> std::result::Result<ToolCall, String> {
    let name = answer
        .get("name")
        .and_then(Value::as_str)
        .ok_or("answer without a name")?;
    let arguments = match answer.get("arguments") {
        None | Some(Value::Null) => json!({}),
        Some(Value::Object(map)) => Value::Object(map.clone()),
        Some(_) => return Err("answer arguments are not an object".into()),
    };
    Ok(ToolCall::new(format!("call_{index}"), name, arguments))
}

/// `name(param:type, ...)` for prompts, with the JSON-schema types.
fn signature(spec: &ToolSpec) -> String {
    let params: Vec<String> = spec.parameters["properties"]
        .as_object()
        .map(|props| {
            props
                .iter()
                .map(|(name, schema)| {
                    let ty = schema.get("type").and_then(Value::as_str).unwrap_or("any");
                    format!("{name}:{ty}")
                })
                .collect()
        })
        .unwrap_or_default();
    format!("{}({})", spec.name, params.join(", "))
}

fn structured_case(query: &str, specs: &[ToolSpec], call: &ToolCall) -> Case {
    let spec = specs
        .iter()
        .find(|s| s.name == call.name)
        .unwrap_or(&specs[0]);
    let prompt = format!(
        "Return a JSON object with keys query, tool_name, arguments describing the API call.\n\
         Query: {query}\n\
         Chosen tool: {}\n\
         Tool signature: {}\n\
         Arguments should mirror the assistant's recommendation.",
        call.name,
        signature(spec)
    );
    let completion = json!({"query": query, "tool_name": call.name, "arguments": call.arguments});
    let schema = json!({
        "type": "object",
        "properties": {
            "query": {"type": "string"},
            "tool_name": {"type": "string", "enum": [call.name]},
            "arguments": spec.parameters,
        },
        "required": ["query", "tool_name", "arguments"],
        "additionalProperties": false,
    });
    Case {
        prompt,
        completion: canonical_string(&completion),
        tools: Vec::new(),
        schema: Some(schema),
    }
}

fn toolcall_case(query: &str, specs: &[ToolSpec], calls: &[ToolCall]) -> Case {
    let tool_lines: Vec<String> = specs
        .iter()
        .map(|s| format!("- {}: {}", signature(s), s.description))
        .collect();
    let prompt = format!(
        "Respond with <tool_call name=\"...\">{{...}}</tool_call> wrappers only, one per call.\n\
         Tools:\n{}\n\
         Request: {query}",
        tool_lines.join("\n")
    );
    let canonical: Vec<ToolCall> = calls
        .iter()
        .map(|c| {
            let args = serde_json::from_str(&canonical_string(&c.arguments)).unwrap_or(json!({}));
            ToolCall::new(c.id.clone(), c.name.clone(), args)
        })
        .collect();
    Case {
        prompt,
        completion: slm_core::wire::render_tool_calls(&canonical),
        tools: specs.to_vec(),
        schema: None,
    }
}

/// Converts rows and writes `out_dir/{structured,toolcall}/{train,val,test}.jsonl`.
///
/// ```
/// use serde_json::json;
/// let rows: Vec<serde_json::Value> = (0..6).map(|i| json!({
///     "query": format!("Square {i}?"),
///     "tools": r#"[{"name": "square", "description": "x*x", "parameters": {"x": {"type": "int"}}}]"#,
///     "answers": format!(r#"[{{"name": "square", "arguments": {{"x": {i}}}}}]"#),
/// })).collect();
/// let dir = tempfile::tempdir().unwrap();
/// let split = slm_eval::xlam::SplitSpec { train: 3, val: 1, test: 2, seed: 42 };
/// let summary = slm_eval::xlam::prepare(&rows, dir.path(), split).unwrap();
/// assert_eq!(summary.files.len(), 6);
/// let test = slm_eval::Dataset::load(dir.path().join("toolcall/test.jsonl")).unwrap();
/// assert_eq!(test.cases.len(), 2);
/// ```
pub fn prepare(rows: &[Value], out_dir: &Path, split: SplitSpec) -> Result<PrepareSummary> {
    let mut summary = PrepareSummary {
        rows: rows.len(),
        ..PrepareSummary::default()
    };
    let mut examples = Vec::new();
    for row in rows {
        match example_from_row(row) {
            Ok(example) => examples.push(example),
            Err(reason) => *summary.skipped.entry(reason).or_default() += 1,
        }
    }
    summary.usable = examples.len();
    let needed = split.train + split.val + split.test;
    if examples.len() < needed {
        return Err(EvalError::NotEnoughRows {
            available: examples.len(),
            needed,
        });
    }
    SplitMix64::new(split.seed).shuffle(&mut examples);
    let mut rest = examples.as_slice();
    for (name, size) in [
        ("train", split.train),
        ("val", split.val),
        ("test", split.test),
    ] {
        let (part, tail) = rest.split_at(size);
        rest = tail;
        for track in Track::ALL {
            let cases: Vec<Case> = part
                .iter()
                .map(|e| match track {
                    Track::Structured => e.structured.clone(),
                    Track::Toolcall | Track::Bfcl => e.toolcall.clone(),
                })
                .collect();
            if track == Track::Structured {
                summary.references_violating_schema += count_schema_violations(&cases);
            }
            let path = out_dir
                .join(track.to_string())
                .join(format!("{name}.jsonl"));
            Dataset::from_cases(&path, cases).save(&path)?;
            summary.files.push(path);
        }
    }
    Ok(summary)
}

fn count_schema_violations(cases: &[Case]) -> usize {
    cases
        .iter()
        .filter(|c| {
            let Some(schema) = &c.schema else {
                return false;
            };
            let reference: Value = serde_json::from_str(&c.completion).unwrap_or(Value::Null);
            jsonschema::validator_for(schema).is_ok_and(|v| !v.is_valid(&reference))
        })
        .count()
}

//! BFCL as an evaluation suite: the entries of the chosen categories become [`Case`]s of
//! [`Track::Bfcl`](crate::Track::Bfcl) that the ordinary runner asks (resumable, deterministic,
//! cached like the other tracks), and each answer is scored by the AST checker.
//!
//! Requests are built as BFCL builds them, in one of its two modes ([`BfclMode`]):
//! - function calling: the entry's question as is (no system prompt) and its functions as tools
//!   (`tool_choice` auto, so `irrelevance` can decline), with dots in function names written as
//!   underscores as BFCL's OpenAI-style handlers do (the calls are mapped back before checking);
//!   calls are the model's native tool calls, or `<tool_call>` wrappers in its text;
//! - prompting: BFCL's system prompt listing the functions in JSON and asking for a Python list
//!   of calls, no tools; the answer is read as BFCL reads it ([`parse_python_calls`]).
//!
//! Scores: `bfcl_ast` (pass or fail of every case) and `bfcl_<category>` (the cases of that
//! category); [`BfclSummary`] gives BFCL's non-live AST summary, the unweighted mean of the
//! AST categories' accuracies, with irrelevance apart (BFCL's hallucination measure).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use slm_core::{ChatRequest, GenerationOptions, Message, Role, ToolCall, ToolChoice};

use super::{
    Category, ExpectedCall, Function, Language, Suite, Turn, check, java_types, js_types,
    parse_python_calls,
};
use crate::metrics::CaseScore;
use crate::{Case, Dataset, EvalError, Report, Result};

/// The metric every BFCL case has: its AST check passed.
pub const BFCL_AST: &str = "bfcl_ast";

/// What a BFCL case is checked against, kept as the case's `completion` (JSON).
///
/// ```
/// use slm_eval::bfcl::{BfclReference, Category};
/// let r = BfclReference { id: "irrelevance_0".into(), category: Category::Irrelevance, functions: vec![],
///     ground_truth: vec![], prompted: false, conversation: vec![] };
/// let text = serde_json::to_string(&r).unwrap();
/// assert_eq!(serde_json::from_str::<BfclReference>(&text).unwrap(), r);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BfclReference {
    /// The entry id (`simple_python_0`).
    pub id: String,
    /// Its category.
    pub category: Category,
    /// The declared functions, in BFCL's format (its type names are needed by the checker).
    pub functions: Vec<Function>,
    /// The answer key (empty for irrelevance).
    pub ground_truth: Vec<ExpectedCall>,
    /// Asked in BFCL's prompting mode (else with the functions as tools).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub prompted: bool,
    /// The whole question when it is more than one user turn (live entries may open with a
    /// system message); empty otherwise, and the case's prompt is the question.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conversation: Vec<Turn>,
}

/// How the functions reach the model, as in BFCL's two kinds of model handlers.
///
/// ```
/// assert_eq!("prompt".parse::<slm_eval::bfcl::BfclMode>().unwrap(), slm_eval::bfcl::BfclMode::Prompting);
/// assert!("xml".parse::<slm_eval::bfcl::BfclMode>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BfclMode {
    /// The functions as tools; the model's native tool calls (BFCL's `-FC` models).
    #[default]
    FunctionCalling,
    /// BFCL's system prompt with the functions in JSON; a Python list of calls as the answer.
    Prompting,
}

impl std::str::FromStr for BfclMode {
    type Err = EvalError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "fc" | "function_calling" | "function-calling" => Ok(BfclMode::FunctionCalling),
            "prompt" | "prompting" => Ok(BfclMode::Prompting),
            other => Err(EvalError::InvalidArgument(format!(
                "BFCL mode {other:?} (expected fc or prompt)"
            ))),
        }
    }
}

/// BFCL's system prompt for prompting models (its `DEFAULT_SYSTEM_PROMPT`), with the functions
/// in BFCL's format as indented JSON.
///
/// ```
/// let p = slm_eval::bfcl::prompting_system_prompt(&[]);
/// assert!(p.starts_with("You are an expert in composing functions."));
/// assert!(p.contains("[func_name1(params_name1=params_value1"));
/// ```
pub fn prompting_system_prompt(functions: &[Function]) -> String {
    let functions = serde_json::to_string_pretty(functions).unwrap_or_default();
    format!(
        "You are an expert in composing functions. You are given a question and a set of possible \
         functions. Based on the question, you will need to make one or more function/tool calls \
         to achieve the purpose.\nIf none of the function can be used, point it out. If the given \
         question lacks the parameters required by the function, also point it out.\nYou should \
         only return the function call in tools call sections.\n\nIf you decide to invoke any of \
         the function(s), you MUST put it in the format of [func_name1(params_name1=params_value1, \
         params_name2=params_value2...), func_name2(params)]\nYou SHOULD NOT include any other \
         text in the response.\n\nHere is a list of functions in JSON format that you can \
         invoke.\n{functions}\n"
    )
}

/// The metric of one category's cases: `bfcl_simple_python`, ...
///
/// ```
/// assert_eq!(slm_eval::bfcl::category_metric(slm_eval::bfcl::Category::ParallelMultiple), "bfcl_parallel_multiple");
/// ```
pub fn category_metric(category: Category) -> String {
    format!("bfcl_{}", category.name())
}

/// Categories from their BFCL names, comma-separated (`simple_python,live_simple`), or the
/// groups `all` (the thirteen), `non_live` (the Python, Java and JavaScript non-live ones) and
/// `live`. Unknown names are errors.
///
/// ```
/// use slm_eval::bfcl::{Category, parse_categories};
/// assert_eq!(parse_categories("simple_python, irrelevance").unwrap(), vec![Category::Simple, Category::Irrelevance]);
/// assert_eq!(parse_categories("all").unwrap().len(), 13);
/// assert_eq!(parse_categories("live,simple_java").unwrap().len(), 7);
/// assert!(parse_categories("multi_turn_base").unwrap_err().to_string().contains("multi_turn_base"));
/// ```
pub fn parse_categories(text: &str) -> Result<Vec<Category>> {
    let mut categories = Vec::new();
    for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let group: Vec<Category> = match name {
            "all" => Category::ALL.to_vec(),
            "non_live" => Category::NON_LIVE.to_vec(),
            "live" => Category::LIVE.to_vec(),
            _ => {
                let category = Category::ALL
                    .into_iter()
                    .find(|c| c.name() == name)
                    .ok_or_else(|| {
                        EvalError::InvalidArgument(format!(
                            "BFCL category {name:?}: this suite runs {} (or the groups all, non_live, live)",
                            Category::ALL.map(Category::name).join(", ")
                        ))
                    })?;
                vec![category]
            }
        };
        for category in group {
            if !categories.contains(&category) {
                categories.push(category);
            }
        }
    }
    if categories.is_empty() {
        return Err(EvalError::InvalidArgument("no BFCL category given".into()));
    }
    Ok(categories)
}

/// The cases of `categories` from BFCL's data directory (`BFCL_v4_<category>.json` and
/// `possible_answer/`), in category then file order. The dataset's sha256 covers every case, so
/// a results file is resumed only with the same data and categories. The Java and JavaScript
/// categories run in the function-calling mode only (an `InvalidArgument` error otherwise).
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::write(dir.path().join("BFCL_v4_irrelevance.json"), concat!(
///     r#"{"id": "irrelevance_0", "question": [[{"role": "user", "content": "Tell me a joke"}]], "#,
///     r#""function": [{"name": "geo.area", "parameters": {"type": "dict", "properties": {}, "required": []}}]}"#,
/// )).unwrap();
/// use slm_eval::bfcl::{BfclMode, Category};
/// let data = slm_eval::bfcl::dataset(dir.path(), &[Category::Irrelevance], BfclMode::FunctionCalling).unwrap();
/// assert_eq!(data.cases[0].prompt, "Tell me a joke");
/// assert_eq!(data.cases[0].tools[0].name, "geo_area");
/// ```
pub fn dataset(dir: &Path, categories: &[Category], mode: BfclMode) -> Result<Dataset> {
    if mode == BfclMode::Prompting
        && let Some(c) = categories.iter().find(|c| c.language() != Language::Python)
    {
        return Err(EvalError::InvalidArgument(format!(
            "BFCL category {c} in prompting mode: BFCL reads a prompted model's Java/JavaScript calls with tree-sitter parsers that are not ported; use the function-calling mode"
        )));
    }
    let mut cases = Vec::new();
    for &category in categories {
        let suite = Suite::load(dir, category)?;
        for entry in &suite.entries {
            let reference = BfclReference {
                id: entry.id.clone(),
                category,
                functions: entry.function.clone(),
                ground_truth: suite
                    .answers
                    .get(&entry.id)
                    .map(|a| a.ground_truth.clone())
                    .unwrap_or_default(),
                prompted: mode == BfclMode::Prompting,
                conversation: match entry.question.first() {
                    Some(turns) if !(turns.len() == 1 && turns[0].role == "user") => turns.clone(),
                    _ => Vec::new(),
                },
            };
            let prompt = entry
                .messages()
                .into_iter()
                .map(|m| m.content)
                .collect::<Vec<_>>()
                .join("\n");
            let mut case = Case::new(
                prompt,
                serde_json::to_string(&reference).map_err(|e| EvalError::Json {
                    path: dir.to_path_buf(),
                    message: format!("{}: {e}", entry.id),
                })?,
            );
            case.tools = entry
                .function
                .iter()
                .map(|f| {
                    let mut tool = f.presented(category.language()).to_tool_spec();
                    tool.name = wire_name(&f.name);
                    tool
                })
                .collect();
            cases.push(case);
        }
    }
    if cases.is_empty() {
        return Err(EvalError::EmptyDataset(dir.to_path_buf()));
    }
    let names: Vec<&str> = categories.iter().map(|c| c.name()).collect();
    let mode = match mode {
        BfclMode::FunctionCalling => "",
        BfclMode::Prompting => ";prompt",
    };
    Ok(Dataset::from_cases(
        dir.join(format!("bfcl[{}{mode}]", names.join(","))),
        cases,
    ))
}

/// The request for a BFCL case, as BFCL asks: a function-calling model gets the question alone
/// with the functions as tools, free to answer in text (irrelevance); a prompting model gets
/// BFCL's system prompt and no tools (a question's own system message follows BFCL's prompt in
/// the same message). Functions are presented as BFCL presents them
/// ([`Function::presented`]). (A run's `constrained` does not apply.)
///
/// ```
/// use slm_eval::bfcl::{BfclMode, Category};
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::write(dir.path().join("BFCL_v4_irrelevance.json"),
///     r#"{"id": "irrelevance_0", "question": [[{"role": "user", "content": "Hi"}]], "function": []}"#).unwrap();
/// let options = slm_core::GenerationOptions::deterministic();
/// let fc = slm_eval::bfcl::dataset(dir.path(), &[Category::Irrelevance], BfclMode::FunctionCalling).unwrap();
/// assert_eq!(slm_eval::bfcl::request(&fc.cases[0], &options).messages.len(), 1);
/// let prompted = slm_eval::bfcl::dataset(dir.path(), &[Category::Irrelevance], BfclMode::Prompting).unwrap();
/// assert_eq!(slm_eval::bfcl::request(&prompted.cases[0], &options).messages.len(), 2);
/// ```
pub fn request(case: &Case, options: &GenerationOptions) -> ChatRequest {
    let reference = serde_json::from_str::<BfclReference>(&case.completion).ok();
    let mut messages: Vec<Message> = match reference.as_ref().map(|r| &r.conversation) {
        Some(turns) if !turns.is_empty() => turns
            .iter()
            .map(|t| {
                let role = match t.role.as_str() {
                    "system" => Role::System,
                    "assistant" => Role::Assistant,
                    _ => Role::User,
                };
                Message::new(role, t.content.clone())
            })
            .collect(),
        _ => vec![Message::new(Role::User, case.prompt.clone())],
    };
    let builder = ChatRequest::builder();
    let builder = match reference.as_ref().filter(|r| r.prompted) {
        Some(reference) => {
            let language = reference.category.language();
            let shown: Vec<Function> = reference
                .functions
                .iter()
                .map(|f| f.presented(language))
                .collect();
            let system = prompting_system_prompt(&shown);
            match messages.first_mut() {
                Some(first) if first.role == Role::System => {
                    first.content = format!("{system}\n\n{}", first.content);
                }
                _ => messages.insert(0, Message::new(Role::System, system)),
            }
            builder
        }
        None => builder
            .tools(case.tools.clone())
            .tool_choice(ToolChoice::Auto),
    };
    builder.messages(messages).options(options.clone()).build()
}

/// A function name as sent to the model: OpenAI-style APIs allow `[a-zA-Z0-9_-]` only.
fn wire_name(name: &str) -> String {
    name.replace('.', "_")
}

/// Scores a prediction (the model's calls as `<tool_call>` wrappers, or text) against a BFCL
/// case. An answer whose calls cannot be read counts as no call, as in BFCL (so it passes
/// `irrelevance` and fails the others).
///
/// ```
/// use slm_eval::{Track, metrics::score_case};
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::write(dir.path().join("BFCL_v4_irrelevance.json"),
///     r#"{"id": "irrelevance_0", "question": [[{"role": "user", "content": "Tell me a joke"}]], "function": []}"#).unwrap();
/// let case = &slm_eval::bfcl::dataset(dir.path(), &[slm_eval::bfcl::Category::Irrelevance], Default::default()).unwrap().cases[0];
/// assert!(score_case(Track::Bfcl, case, "Why did the chicken...").all_pass());
/// assert!(!score_case(Track::Bfcl, case, r#"<tool_call name="f">{}</tool_call>"#).all_pass());
/// ```
pub fn score(case: &Case, prediction: &str) -> CaseScore {
    let mut score = CaseScore::default();
    let Ok(reference) = serde_json::from_str::<BfclReference>(&case.completion) else {
        score.set(BFCL_AST, false);
        return score;
    };
    let calls = if reference.prompted {
        parse_python_calls(prediction).unwrap_or_default()
    } else {
        read_calls(prediction, &reference.functions)
    };
    let passed = check(
        reference.category,
        &reference.functions,
        &reference.ground_truth,
        &calls,
    )
    .is_ok();
    score.set(BFCL_AST, passed);
    score.set(&category_metric(reference.category), passed);
    score
}

/// The calls in a prediction, with names sent as `a_b` mapped back to the declared `a.b`.
fn read_calls(prediction: &str, functions: &[Function]) -> Vec<ToolCall> {
    let calls = slm_core::wire::extract_tool_calls(prediction)
        .map(|(_, calls)| calls)
        .unwrap_or_default();
    calls
        .into_iter()
        .map(|mut call| {
            if !functions.iter().any(|f| f.name == call.name)
                && let Some(f) = functions.iter().find(|f| wire_name(&f.name) == call.name)
            {
                call.name = f.name.clone();
            }
            call
        })
        .collect()
}

/// A call made from an answer key: for every parameter its first acceptable value that is not
/// BFCL's `""` marker of an optional parameter (with `omit_optional`, optional parameters are
/// left out). Dict values given per key (`{key: [acceptable...]}`) take each key's first value.
///
/// ```
/// use serde_json::json;
/// let key = json!({"area": {"r": [3, 3.0], "unit": ["", "cm"]}}).as_object().unwrap().clone();
/// let full = slm_eval::bfcl::call_from_answer(&key, false);
/// assert_eq!((full.name.as_str(), &full.arguments), ("area", &json!({"r": 3, "unit": "cm"})));
/// assert_eq!(slm_eval::bfcl::call_from_answer(&key, true).arguments, json!({"r": 3}));
/// ```
pub fn call_from_answer(expected: &ExpectedCall, omit_optional: bool) -> ToolCall {
    let Some((name, params)) = expected.iter().next() else {
        return ToolCall::new("", "", Value::Object(Map::new()));
    };
    let mut args = Map::new();
    for (param, acceptable) in params.as_object().into_iter().flatten() {
        let values = acceptable.as_array().cloned().unwrap_or_default();
        let optional = values.iter().any(|v| v == "");
        if omit_optional && optional {
            continue;
        }
        if let Some(value) = values.into_iter().find(|v| v != "") {
            args.insert(param.clone(), materialize(value));
        }
    }
    ToolCall::new("", name.clone(), Value::Object(args))
}

/// A call (with answer-key values, as [`call_from_answer`] makes) as a model of the
/// category's language writes it: for Java and JavaScript every argument becomes source text
/// of the declared type ([`java_types::to_source`], [`js_types::to_source`]); Python calls are
/// returned as they are.
///
/// ```
/// use serde_json::json;
/// use slm_core::ToolCall;
/// use slm_eval::bfcl::{Function, Language, source_call};
/// let f = Function { name: "f".into(), description: String::new(), parameters: json!({"type": "dict",
///     "properties": {"n": {"type": "long"}, "ok": {"type": "boolean"}}, "required": ["n"]}) };
/// let call = source_call(&ToolCall::new("", "f", json!({"n": 5, "ok": true})), &[f], Language::Java);
/// assert_eq!(call.arguments, json!({"n": "5L", "ok": "true"}));
/// ```
pub fn source_call(call: &ToolCall, functions: &[Function], language: Language) -> ToolCall {
    let Some(function) = functions.iter().find(|f| f.name == call.name) else {
        return call.clone();
    };
    let (Some(args), Some(properties)) = (
        call.arguments.as_object(),
        function
            .parameters
            .get("properties")
            .and_then(Value::as_object),
    ) else {
        return call.clone();
    };
    if language == Language::Python {
        return call.clone();
    }
    let mut out = Map::new();
    for (param, value) in args {
        let kind = properties
            .get(param)
            .and_then(|p| p.get("type"))
            .and_then(Value::as_str)
            .unwrap_or("any");
        let nested = properties
            .get(param)
            .and_then(|p| p.get("items"))
            .and_then(|i| i.get("type"))
            .and_then(Value::as_str);
        let text = match language {
            Language::Java => java_types::to_source(value, kind, nested),
            _ => js_types::to_source(value, kind, nested),
        };
        out.insert(param.clone(), Value::String(text));
    }
    ToolCall::new(call.id.clone(), call.name.clone(), Value::Object(out))
}

/// Answer keys describe a dict parameter as `{key: [acceptable...]}` (and a list of dicts as a
/// list of those): a concrete value takes each key's first acceptable value.
///
/// ```
/// use serde_json::json;
/// assert_eq!(slm_eval::bfcl::materialize(json!({"k": ["", 2, 3]})), json!({"k": 2}));
/// assert_eq!(slm_eval::bfcl::materialize(json!([1, 2])), json!([1, 2]));
/// ```
pub fn materialize(value: Value) -> Value {
    match value {
        Value::Object(spec) => Value::Object(
            spec.into_iter()
                .filter_map(|(key, acceptable)| {
                    let first = acceptable.as_array()?.iter().find(|v| *v != "")?.clone();
                    Some((key, materialize(first)))
                })
                .collect(),
        ),
        Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_object) => {
            Value::Array(items.into_iter().map(materialize).collect())
        }
        other => other,
    }
}

/// BFCL's summary of a run, from a report's metrics.
///
/// ```
/// use std::collections::BTreeMap;
/// let metrics = BTreeMap::from([
///     ("bfcl_simple_python".to_string(), 0.5), ("bfcl_multiple".to_string(), 1.0),
///     ("bfcl_irrelevance".to_string(), 0.25), ("bfcl_ast".to_string(), 0.6),
/// ]);
/// let s = slm_eval::bfcl::BfclSummary::of(&metrics);
/// assert_eq!(s.non_live_ast, Some(0.75)); // unweighted: (0.5 + 1.0) / 2
/// assert_eq!(s.irrelevance, Some(0.25));
/// assert_eq!(s.categories.len(), 3);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BfclSummary {
    /// Accuracy of each category run, in BFCL's order.
    pub categories: Vec<(Category, f64)>,
    /// BFCL's non-live AST summary: the unweighted mean of simple (itself the unweighted mean of
    /// the `simple_python`, `simple_java` and `simple_javascript` run), `multiple`, `parallel`
    /// and `parallel_multiple`, over those run; `None` when none of them ran.
    pub non_live_ast: Option<f64>,
    /// Irrelevance detection (`irrelevance`), reported apart as BFCL does.
    pub irrelevance: Option<f64>,
    /// BFCL's live AST summary: the accuracy of `live_simple`, `live_multiple`, `live_parallel`
    /// and `live_parallel_multiple` weighted by their case counts, over those run. Only
    /// [`BfclSummary::of_report`] knows the counts; `None` otherwise and when none ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_ast: Option<f64>,
}

impl BfclSummary {
    /// The summary of a report's metrics (`bfcl_<category>` entries). (BFCL's live summary
    /// weights categories by their case counts, which metrics do not hold: read the live
    /// categories from `categories`.)
    pub fn of(metrics: &BTreeMap<String, f64>) -> Self {
        let categories: Vec<(Category, f64)> = Category::ALL
            .into_iter()
            .filter_map(|c| metrics.get(&category_metric(c)).map(|v| (c, *v)))
            .collect();
        let accuracy = |c: Category| categories.iter().find(|(k, _)| *k == c).map(|(_, v)| *v);
        let mean = |values: &[f64]| {
            (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
        };
        let simple: Vec<f64> = [
            Category::Simple,
            Category::SimpleJava,
            Category::SimpleJavascript,
        ]
        .into_iter()
        .filter_map(accuracy)
        .collect();
        let ast: Vec<f64> = [
            mean(&simple),
            accuracy(Category::Multiple),
            accuracy(Category::Parallel),
            accuracy(Category::ParallelMultiple),
        ]
        .into_iter()
        .flatten()
        .collect();
        Self {
            non_live_ast: mean(&ast),
            irrelevance: accuracy(Category::Irrelevance),
            live_ast: None,
            categories,
        }
    }

    /// The summary of a whole report: [`BfclSummary::of`] its metrics, and the live summary
    /// weighted by the number of cases of each live category (counted in `per_case`).
    ///
    /// ```
    /// use slm_eval::bfcl::{BfclSummary, Category, category_metric};
    /// let mut report = slm_eval::Report::example();
    /// let case = report.per_case[0].clone();
    /// report.per_case.clear();
    /// // 3 live_simple cases (2 pass), 1 live_multiple case (fails).
    /// for (category, pass) in [(Category::LiveSimple, true), (Category::LiveSimple, true),
    ///                          (Category::LiveSimple, false), (Category::LiveMultiple, false)] {
    ///     let mut c = case.clone();
    ///     c.score.passes = [(category_metric(category), pass)].into_iter().collect();
    ///     report.per_case.push(c);
    /// }
    /// report.metrics = [("bfcl_live_simple".to_string(), 2.0 / 3.0),
    ///                   ("bfcl_live_multiple".to_string(), 0.0)].into_iter().collect();
    /// let s = BfclSummary::of_report(&report);
    /// assert_eq!(s.live_ast, Some(0.5)); // (2 + 0) / 4, not (0.67 + 0) / 2
    /// assert_eq!(s.non_live_ast, None);
    /// ```
    pub fn of_report(report: &Report) -> Self {
        let mut summary = Self::of(&report.metrics);
        let count = |category: Category| {
            let metric = category_metric(category);
            report
                .per_case
                .iter()
                .filter(|c| c.score.passes.contains_key(&metric))
                .count()
        };
        let (mut passed, mut cases) = (0.0, 0);
        for category in [
            Category::LiveSimple,
            Category::LiveMultiple,
            Category::LiveParallel,
            Category::LiveParallelMultiple,
        ] {
            let Some(&(_, accuracy)) = summary.categories.iter().find(|(c, _)| *c == category)
            else {
                continue;
            };
            let n = count(category);
            passed += accuracy * n as f64;
            cases += n;
        }
        summary.live_ast = (cases > 0).then(|| passed / cases as f64);
        summary
    }
}

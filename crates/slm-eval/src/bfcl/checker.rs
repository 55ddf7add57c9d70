//! A port of BFCL's AST checker (`bfcl_eval/eval_checker/ast_eval/ast_checker.py`, its Python,
//! Java and JavaScript paths, and the (ir)relevance rule of its `eval_runner.py`), written to
//! return the same verdict as BFCL on every input. Java and JavaScript arguments arrive as
//! source text and are converted ([`super::java_types`], [`super::js_types`]) before the same
//! comparisons.
//!
//! Values are compared with Python's semantics, because BFCL compares Python objects decoded
//! from JSON: `1 == 1.0` and `True == 1`; `int` and `float` and `bool` are distinct *types*.
//! BFCL's quirks are kept on purpose (greedy matching of parallel calls, one level of nested
//! type checking, a string standing for a list in `list_checker`), since agreement with the
//! leaderboard is the point.

use serde_json::{Map, Number, Value};
use slm_core::ToolCall;

use super::{Category, Function, Language, java_types, js_types};

/// Why a call list fails BFCL's check: BFCL's `error_type` and a message.
///
/// ```
/// let e = slm_eval::bfcl::AstError::new("simple_function_checker:wrong_count", "Wrong number of functions.");
/// assert_eq!(e.to_string(), "simple_function_checker:wrong_count: Wrong number of functions.");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct AstError {
    /// BFCL's error type, e.g. `value_error:string`.
    pub kind: String,
    /// A readable explanation.
    pub message: String,
}

impl AstError {
    /// An error of a kind.
    ///
    /// ```
    /// assert_eq!(slm_eval::bfcl::AstError::new("k", "m").kind, "k");
    /// ```
    pub fn new(kind: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            message: message.into(),
        }
    }
}

type Check = Result<(), AstError>;

/// Checks a model's calls against BFCL's answer key for an entry of a category.
///
/// `irrelevance` and `live_irrelevance` pass when no call is made, `live_relevance` when at
/// least one is; `*parallel*` categories need the same number of calls in any order (greedy
/// matching, as BFCL does); the others need exactly one call. `expected` is the entry's
/// `ground_truth` (ignored for the (ir)relevance categories).
///
/// ```
/// use serde_json::json;
/// use slm_core::ToolCall;
/// use slm_eval::bfcl::{Category, Function, check};
/// let functions = vec![Function {
///     name: "calc_area".into(), description: String::new(),
///     parameters: json!({"type": "dict", "properties": {
///         "base": {"type": "integer"}, "unit": {"type": "string"}}, "required": ["base"]}),
/// }];
/// let expected = vec![json!({"calc_area": {"base": [10], "unit": ["units", ""]}}).as_object().unwrap().clone()];
/// let ok = ToolCall::new("", "calc_area", json!({"base": 10}));
/// assert!(check(Category::Simple, &functions, &expected, &[ok]).is_ok());
/// let bad = ToolCall::new("", "calc_area", json!({"base": 10, "unit": "m"}));
/// assert_eq!(check(Category::Simple, &functions, &expected, &[bad]).unwrap_err().kind, "value_error:string");
/// ```
pub fn check(
    category: Category,
    functions: &[Function],
    expected: &[Map<String, Value>],
    calls: &[ToolCall],
) -> Result<(), AstError> {
    let language = category.language();
    match category {
        Category::Irrelevance | Category::LiveIrrelevance => {
            if calls.is_empty() {
                Ok(())
            } else {
                Err(AstError::new(
                    "irrelevance_error:decoder_success",
                    "Valid syntax. Successfully decode AST when it should not.",
                ))
            }
        }
        Category::LiveRelevance => {
            if calls.is_empty() {
                Err(AstError::new(
                    "relevance_error:decoder_failed",
                    "Invalid syntax. Failed to decode AST when it should have.",
                ))
            } else {
                Ok(())
            }
        }
        Category::Parallel
        | Category::ParallelMultiple
        | Category::LiveParallel
        | Category::LiveParallelMultiple => parallel_no_order(functions, calls, expected, language),
        Category::Multiple | Category::LiveMultiple => {
            if calls.len() != expected.len() {
                return Err(wrong_count("multiple_function_checker:wrong_count"));
            }
            let Some(first) = expected.first() else {
                return Ok(());
            };
            let function = find_description(functions, expected_name(first))?;
            simple_function(function, &calls[0], first, language)
        }
        Category::Simple
        | Category::SimpleJava
        | Category::SimpleJavascript
        | Category::LiveSimple => {
            if calls.len() != 1 {
                return Err(wrong_count("simple_function_checker:wrong_count"));
            }
            let function = functions
                .first()
                .ok_or_else(|| AstError::new("checker_error", "no function declared"))?;
            let first = expected
                .first()
                .ok_or_else(|| AstError::new("checker_error", "empty answer key"))?;
            simple_function(function, &calls[0], first, language)
        }
    }
}

fn wrong_count(kind: &str) -> AstError {
    AstError::new(kind, "Wrong number of functions.")
}

fn expected_name(expected: &Map<String, Value>) -> &str {
    expected.keys().next().map(String::as_str).unwrap_or("")
}

fn find_description<'a>(functions: &'a [Function], name: &str) -> Result<&'a Function, AstError> {
    functions.iter().find(|f| f.name == name).ok_or_else(|| {
        AstError::new(
            "checker_error",
            format!("answer key names {name:?}, which is not declared"),
        )
    })
}

fn parallel_no_order(
    functions: &[Function],
    calls: &[ToolCall],
    expected: &[Map<String, Value>],
    language: Language,
) -> Check {
    if calls.len() != expected.len() {
        return Err(wrong_count(
            "parallel_function_checker_no_order:wrong_count",
        ));
    }
    let mut matched = vec![false; calls.len()];
    for (i, answer) in expected.iter().enumerate() {
        let function = find_description(functions, expected_name(answer))?;
        let found = (0..calls.len())
            .filter(|index| !matched[*index])
            .find(|index| simple_function(function, &calls[*index], answer, language).is_ok());
        match found {
            Some(index) => matched[index] = true,
            None => {
                return Err(AstError::new(
                    "parallel_function_checker_no_order:cannot_find_match",
                    format!(
                        "Could not find a matching function for index {i} of possible answers."
                    ),
                ));
            }
        }
    }
    Ok(())
}

// ---- Python values -------------------------------------------------------------------------

/// Python's `type()` of a JSON-decoded value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PyType {
    Str,
    Int,
    Float,
    Bool,
    List,
    Dict,
    NoneType,
}

fn py_type(value: &Value) -> PyType {
    match value {
        Value::String(_) => PyType::Str,
        Value::Number(n) if n.is_f64() => PyType::Float,
        Value::Number(_) => PyType::Int,
        Value::Bool(_) => PyType::Bool,
        Value::Array(_) => PyType::List,
        Value::Object(_) => PyType::Dict,
        Value::Null => PyType::NoneType,
    }
}

/// BFCL's `PYTHON_TYPE_MAPPING`.
fn mapped_type(description: &str) -> Option<PyType> {
    Some(match description {
        "string" | "any" => PyType::Str,
        "integer" => PyType::Int,
        "float" => PyType::Float,
        "boolean" => PyType::Bool,
        "array" | "tuple" => PyType::List,
        "dict" => PyType::Dict,
        _ => return None,
    })
}

/// BFCL's `JAVA_TYPE_CONVERSION` (`Set` is left out: BFCL cannot convert one).
fn java_type(description: &str) -> Option<PyType> {
    Some(match description {
        "byte" | "short" | "integer" | "long" => PyType::Int,
        "float" | "double" => PyType::Float,
        "boolean" => PyType::Bool,
        "char" | "String" | "any" => PyType::Str,
        "Array" | "ArrayList" | "Queue" | "Stack" => PyType::List,
        "HashMap" | "Hashtable" => PyType::Dict,
        _ => return None,
    })
}

/// BFCL's `JS_TYPE_CONVERSION`.
fn js_type(description: &str) -> Option<PyType> {
    Some(match description {
        "String" | "any" => PyType::Str,
        "integer" | "Bigint" => PyType::Int,
        "float" => PyType::Float,
        "Boolean" => PyType::Bool,
        "dict" => PyType::Dict,
        "array" => PyType::List,
        _ => return None,
    })
}

/// Python's numeric value of an `int`, `float` or `bool`.
fn py_number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        _ => None,
    }
}

/// Python's `==` on JSON-decoded values.
fn py_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if !x.is_f64() && !y.is_f64() => {
            x.as_i128() == y.as_i128()
        }
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Null, Value::Null) => true,
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| py_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| py_eq(v, w)))
        }
        _ => match (py_number(a), py_number(b)) {
            (Some(x), Some(y)) => x == y,
            _ => false,
        },
    }
}

/// Python's `value in list`.
fn py_in(value: &Value, list: &[Value]) -> bool {
    list.iter().any(|item| py_eq(value, item))
}

/// Python's `"" in value`: true for any string (the empty string is a substring of all),
/// membership for a list, a key for a dict.
fn py_contains_empty(value: &Value) -> bool {
    match value {
        Value::String(_) => true,
        Value::Array(items) => is_optional_marker(items),
        Value::Object(map) => map.contains_key(""),
        _ => false,
    }
}

fn is_optional_marker(list: &[Value]) -> bool {
    py_in(&Value::String(String::new()), list)
}

/// BFCL's `standardize_string`: drop ` ,./-_*^`, lowercase, `'` → `"`.
fn standardize(text: &str) -> String {
    text.chars()
        .filter(|c| !matches!(c, ' ' | ',' | '.' | '/' | '-' | '_' | '*' | '^'))
        .collect::<String>()
        .to_lowercase()
        .replace('\'', "\"")
}

fn standardize_if_str(value: &Value) -> Value {
    match value {
        Value::String(s) => Value::String(standardize(s)),
        other => other.clone(),
    }
}

/// Python iterates a string as its characters; BFCL's list checker relies on that.
fn as_py_sequence(value: &Value) -> Option<Vec<Value>> {
    match value {
        Value::Array(items) => Some(items.clone()),
        Value::String(s) => Some(s.chars().map(|c| Value::String(c.to_string())).collect()),
        _ => None,
    }
}

fn as_list(value: &Value) -> &[Value] {
    value.as_array().map(Vec::as_slice).unwrap_or(&[])
}

// ---- The checker ---------------------------------------------------------------------------

fn simple_function(
    function: &Function,
    call: &ToolCall,
    expected: &Map<String, Value>,
    language: Language,
) -> Check {
    let empty = Map::new();
    let possible = expected
        .values()
        .next()
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let properties = function
        .parameters
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let required = as_list(function.parameters.get("required").unwrap_or(&Value::Null));

    if call.name != function.name {
        return Err(AstError::new(
            "simple_function_checker:wrong_func_name",
            format!(
                "Function name {:?} not found in model output.",
                function.name
            ),
        ));
    }
    let model_params = call.arguments.as_object().unwrap_or(&empty);
    for param in required.iter().filter_map(Value::as_str) {
        if !model_params.contains_key(param) {
            return Err(AstError::new(
                "simple_function_checker:missing_required",
                format!("Missing required parameter: {param:?}."),
            ));
        }
    }
    for (param, value) in model_params {
        let (Some(details), Some(acceptable)) = (properties.get(param), possible.get(param)) else {
            return Err(AstError::new(
                "simple_function_checker:unexpected_param",
                format!("Unexpected parameter: {param:?}."),
            ));
        };
        check_param(param, value, details, as_list(acceptable), language)?;
    }
    for (param, acceptable) in possible {
        if !model_params.contains_key(param) && !is_optional_marker(as_list(acceptable)) {
            return Err(AstError::new(
                "simple_function_checker:missing_optional",
                format!("Optional parameter {param:?} not provided and not marked as optional."),
            ));
        }
    }
    Ok(())
}

fn check_param(
    param: &str,
    value: &Value,
    details: &Value,
    acceptable: &[Value],
    language: Language,
) -> Check {
    let description = details.get("type").and_then(Value::as_str).unwrap_or("");
    let unknown = |what: &str, name: &str| {
        AstError::new(
            "checker_error",
            format!("unknown {what} {name:?} for {param:?}"),
        )
    };
    let type_of = |name: &str| match language {
        Language::Python => mapped_type(name),
        Language::Java => java_type(name),
        Language::JavaScript => js_type(name),
    };
    let expected_type = type_of(description).ok_or_else(|| unknown("type", description))?;
    let nested_name = || {
        details
            .get("items")
            .and_then(|i| i.get("type"))
            .and_then(Value::as_str)
            .ok_or_else(|| unknown("item type of", description))
    };
    let converted;
    let (value, nested_type) = match language {
        Language::Python => {
            let nested_type = if matches!(description, "array" | "tuple") {
                let item_type = nested_name()?;
                Some(type_of(item_type).ok_or_else(|| unknown("item type", item_type))?)
            } else {
                None
            };
            // Python auto-converts int to float.
            let value = match (description, value) {
                ("float", Value::Number(n)) if !n.is_f64() => {
                    converted = n.as_f64().and_then(Number::from_f64).map(Value::Number);
                    converted.as_ref().unwrap_or(value)
                }
                _ => value,
            };
            (value, nested_type)
        }
        Language::Java | Language::JavaScript => {
            let Value::String(text) = value else {
                let (kind, label) = match language {
                    Language::Java => ("type_error:java", "Java"),
                    _ => ("type_error:js", "JavaScript"),
                };
                return Err(AstError::new(
                    kind,
                    format!(
                        "Incorrect type for parameter {param:?}: a {label} argument is a string, got {value}."
                    ),
                ));
            };
            let nested = if matches!(description, "Array" | "ArrayList" | "array") {
                Some(nested_name()?)
            } else {
                None
            };
            let nested_type = nested
                .map(|n| type_of(n).ok_or_else(|| unknown("item type", n)))
                .transpose()?;
            let result = match language {
                Language::Java => java_types::convert(text, description, nested),
                _ => js_types::convert(text, description, nested),
            };
            converted = Some(result.map_err(|e| {
                AstError::new("checker_error", format!("BFCL's converter raises: {e}"))
            })?);
            (converted.as_ref().unwrap_or(value), nested_type)
        }
    };
    let is_variable = type_check(param, value, acceptable, expected_type, nested_type)?;
    if !is_variable {
        match (expected_type, nested_type) {
            (PyType::Dict, _) => return dict_checker(param, value, acceptable),
            (PyType::List, Some(PyType::Dict)) => {
                return list_dict_checker(param, value, acceptable);
            }
            (PyType::Str, _) => return string_checker(param, value, acceptable),
            (PyType::List, _) => return list_checker(param, value, acceptable),
            _ => {}
        }
    }
    if py_in(value, acceptable) {
        Ok(())
    } else {
        Err(AstError::new(
            "value_error:others",
            format!(
                "Invalid value for parameter {param:?}: {value}. Expected one of {acceptable:?}."
            ),
        ))
    }
}

/// The type of the first acceptable value that is not the `""` optional marker.
fn acceptable_type(acceptable: &[Value]) -> Option<PyType> {
    acceptable
        .iter()
        .find(|a| !py_eq(a, &Value::String(String::new())))
        .map(py_type)
}

/// BFCL's `type_checker`: `Ok(is_variable)` or a type error.
fn type_check(
    param: &str,
    value: &Value,
    acceptable: &[Value],
    expected: PyType,
    nested: Option<PyType>,
) -> Result<bool, AstError> {
    let answer_type = acceptable_type(acceptable);
    let is_variable = answer_type.is_some_and(|t| t != expected);
    if py_type(value) == expected {
        let Some(nested) = nested else {
            return Ok(is_variable);
        };
        let items = as_list(value);
        for candidate in acceptable {
            let fits = match candidate {
                Value::Array(inner) => items
                    .iter()
                    .all(|item| type_check(param, item, inner, nested, None).is_ok()),
                _ => true,
            };
            if fits {
                return Ok(is_variable);
            }
        }
        return Err(AstError::new(
            "type_error:nested",
            format!("Nested type checking failed for parameter {param:?}."),
        ));
    }
    if answer_type.is_some_and(|t| t == py_type(value)) {
        return Ok(true);
    }
    Err(AstError::new(
        "type_error:simple",
        format!("Incorrect type for parameter {param:?}. Parameter value: {value}."),
    ))
}

fn string_checker(param: &str, value: &Value, acceptable: &[Value]) -> Check {
    let output = value.as_str().map(standardize).unwrap_or_default();
    let found = acceptable
        .iter()
        .filter_map(Value::as_str)
        .any(|a| standardize(a) == output);
    if found {
        Ok(())
    } else {
        Err(AstError::new(
            "value_error:string",
            format!(
                "Invalid value for parameter {param:?}: {value}. Expected one of {acceptable:?}. Case insensitive."
            ),
        ))
    }
}

fn list_checker(param: &str, value: &Value, acceptable: &[Value]) -> Check {
    let output: Vec<Value> = as_list(value).iter().map(standardize_if_str).collect();
    let output = Value::Array(output);
    let found = acceptable.iter().any(|candidate| {
        as_py_sequence(candidate).is_some_and(|items| {
            let standardized: Vec<Value> = items.iter().map(standardize_if_str).collect();
            py_eq(&output, &Value::Array(standardized))
        })
    });
    if found {
        Ok(())
    } else {
        Err(AstError::new(
            "value_error:list/tuple",
            format!(
                "Invalid value for parameter {param:?}: {value}. Expected one of {acceptable:?}."
            ),
        ))
    }
}

fn dict_checker(param: &str, value: &Value, acceptable: &[Value]) -> Check {
    let empty = Map::new();
    let output = value.as_object().unwrap_or(&empty);
    let mut last = Err(AstError::new(
        "dict_checker:unclear",
        format!("No acceptable value for parameter {param:?}."),
    ));
    for candidate in acceptable {
        if py_eq(candidate, &Value::String(String::new())) {
            continue;
        }
        last = dict_matches(output, candidate);
        if last.is_ok() {
            return Ok(());
        }
    }
    last
}

fn dict_matches(output: &Map<String, Value>, candidate: &Value) -> Check {
    let Some(expected) = candidate.as_object() else {
        return Err(AstError::new(
            "value_error:dict_key",
            "acceptable value is not a dict",
        ));
    };
    for (key, value) in output {
        let Some(allowed) = expected.get(key) else {
            return Err(AstError::new(
                "value_error:dict_key",
                format!("Unexpected dict key parameter: '{key}'."),
            ));
        };
        // Python iterates a string key value (an answer-key defect) as its characters.
        let standardized: Vec<Value> = as_py_sequence(allowed)
            .unwrap_or_default()
            .iter()
            .map(standardize_if_str)
            .collect();
        if !py_in(&standardize_if_str(value), &standardized) {
            return Err(AstError::new(
                "value_error:dict_value",
                format!("Invalid value for parameter {key:?}: {value}."),
            ));
        }
    }
    for (key, allowed) in expected {
        if !output.contains_key(key) && !py_contains_empty(allowed) {
            return Err(AstError::new(
                "value_error:dict_key",
                format!("Missing dict key parameter: '{key}'."),
            ));
        }
    }
    Ok(())
}

fn list_dict_checker(param: &str, value: &Value, acceptable: &[Value]) -> Check {
    let output = as_list(value);
    let mut last = Err(AstError::new(
        "list_dict_checker:unclear",
        format!("No acceptable value for parameter {param:?}."),
    ));
    for candidate in acceptable {
        let items = as_py_sequence(candidate).unwrap_or_default();
        if items.len() != output.len() {
            last = Err(AstError::new(
                "value_error:list_dict_count",
                "Wrong number of dictionaries in the list.",
            ));
            continue;
        }
        let all = output.iter().zip(&items).try_for_each(|(dict, expected)| {
            dict_checker(param, dict, std::slice::from_ref(expected))
        });
        match all {
            Ok(()) => return Ok(()),
            Err(e) => last = Err(e),
        }
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn function(params: Value, required: &[&str]) -> Vec<Function> {
        vec![Function {
            name: "f".into(),
            description: String::new(),
            parameters: json!({"type": "dict", "properties": params, "required": required}),
        }]
    }

    fn key(params: Value) -> Vec<Map<String, Value>> {
        vec![json!({"f": params}).as_object().unwrap().clone()]
    }

    fn run(functions: &[Function], expected: &[Map<String, Value>], args: Value) -> Check {
        check(
            Category::Simple,
            functions,
            expected,
            &[ToolCall::new("", "f", args)],
        )
    }

    #[test]
    fn golden_float_accepts_int_but_integer_rejects_float() {
        let f = function(
            json!({"x": {"type": "float"}, "n": {"type": "integer"}}),
            &["x"],
        );
        let k = key(json!({"x": [2.0], "n": [3, ""]}));
        assert!(run(&f, &k, json!({"x": 2})).is_ok());
        assert!(run(&f, &k, json!({"x": 2.0, "n": 3})).is_ok());
        assert_eq!(
            run(&f, &k, json!({"x": 2.0, "n": 3.0})).unwrap_err().kind,
            "type_error:simple"
        );
        assert_eq!(
            run(&f, &k, json!({"x": true})).unwrap_err().kind,
            "type_error:simple"
        );
    }

    #[test]
    fn golden_strings_are_standardized() {
        let f = function(json!({"d": {"type": "string"}}), &["d"]);
        let k = key(json!({"d": ["April 1, 2024"]}));
        assert!(run(&f, &k, json!({"d": "april 1 2024"})).is_ok());
        assert!(run(&f, &k, json!({"d": "APRIL-1-2024"})).is_ok());
        assert_eq!(
            run(&f, &k, json!({"d": "April 2, 2024"})).unwrap_err().kind,
            "value_error:string"
        );
    }

    #[test]
    fn golden_unknown_and_missing_parameters() {
        let f = function(
            json!({"a": {"type": "integer"}, "b": {"type": "integer"}}),
            &["a"],
        );
        let k = key(json!({"a": [1], "b": [2]}));
        assert_eq!(
            run(&f, &k, json!({"b": 2})).unwrap_err().kind,
            "simple_function_checker:missing_required"
        );
        assert_eq!(
            run(&f, &k, json!({"a": 1, "c": 1})).unwrap_err().kind,
            "simple_function_checker:unexpected_param"
        );
        assert_eq!(
            run(&f, &k, json!({"a": 1})).unwrap_err().kind,
            "simple_function_checker:missing_optional"
        );
    }

    #[test]
    fn golden_lists_tuples_and_dicts() {
        let f = function(
            json!({
                "xs": {"type": "array", "items": {"type": "float"}},
                "t": {"type": "tuple", "items": {"type": "integer"}},
                "d": {"type": "dict", "properties": {}},
            }),
            &["xs"],
        );
        let k = key(
            json!({"xs": [[1.5, 2.5]], "t": [[1, 2], ""], "d": [{"unit": ["Km", "km"], "n": [1, ""]}, ""]}),
        );
        assert!(run(&f, &k, json!({"xs": [1.5, 2.5]})).is_ok());
        assert!(
            run(
                &f,
                &k,
                json!({"xs": [1.5, 2.5], "t": [1, 2], "d": {"unit": "KM"}})
            )
            .is_ok()
        );
        assert_eq!(
            run(&f, &k, json!({"xs": [2.5, 1.5]})).unwrap_err().kind,
            "value_error:list/tuple"
        );
        assert_eq!(
            run(&f, &k, json!({"xs": [1.5, 2.5], "d": {"unit": "mi"}}))
                .unwrap_err()
                .kind,
            "value_error:dict_value"
        );
        assert_eq!(
            run(&f, &k, json!({"xs": [1.5, 2.5], "d": {"zzz": 1}}))
                .unwrap_err()
                .kind,
            "value_error:dict_key"
        );
        // One level of nested type checking: an int inside a float list is a nested type error.
        assert_eq!(
            run(&f, &k, json!({"xs": [1, 2.5]})).unwrap_err().kind,
            "type_error:nested"
        );
    }

    #[test]
    fn golden_parallel_any_order_and_irrelevance() {
        let f = function(json!({"a": {"type": "integer"}}), &["a"]);
        let expected = vec![
            json!({"f": {"a": [1]}}).as_object().unwrap().clone(),
            json!({"f": {"a": [2]}}).as_object().unwrap().clone(),
        ];
        let calls = [
            ToolCall::new("", "f", json!({"a": 2})),
            ToolCall::new("", "f", json!({"a": 1})),
        ];
        assert!(check(Category::Parallel, &f, &expected, &calls).is_ok());
        assert_eq!(
            check(Category::Parallel, &f, &expected, &calls[..1])
                .unwrap_err()
                .kind,
            "parallel_function_checker_no_order:wrong_count"
        );
        assert!(check(Category::Irrelevance, &f, &[], &[]).is_ok());
        assert!(check(Category::Irrelevance, &f, &[], &calls[..1]).is_err());
    }

    #[test]
    fn python_equality_quirks() {
        assert!(py_eq(&json!(1), &json!(1.0)));
        assert!(py_eq(&json!(true), &json!(1)));
        assert!(!py_eq(&json!("1"), &json!(1)));
        assert!(py_eq(&json!({"a": [1, 2.0]}), &json!({"a": [1.0, 2]})));
        assert_eq!(standardize("Hello, World's_end"), "helloworld\"send");
    }
}

//! A port of BFCL's `js_type_converter` (`eval_checker/ast_eval/type_convertor/`): a
//! JavaScript category's model gives every argument as a string in JavaScript syntax (`"42"`,
//! `"[1, 2]"`, `"{'a': 1}"`), which BFCL converts to a Python value before comparing it with the
//! answer key. Quirks are kept (arrays and objects are split on commas, not parsed; a value that
//! does not parse stays a string).

use std::sync::LazyLock;

use fancy_regex::Regex;
use serde_json::{Map, Value};

use super::py_literals::{
    chop_last, float_value, full_match, inner, py_float, py_int, regex, without_final_newline,
};

static INTEGER: LazyLock<Regex> = LazyLock::new(|| regex(r"^-?[0-9]+\z"));
static FLOAT: LazyLock<Regex> = LazyLock::new(|| regex(r"^-?[0-9]+(\.[0-9]+)?\z"));
static BIGINT: LazyLock<Regex> = LazyLock::new(|| regex(r"^-?[0-9]+n\z"));
static ARRAY_2D: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"^(?:\[\s*\[.*?\]\s*(,\s*\[.*?\]\s*)*\]|\bnew\s+Array\(\s*\[.*?\]\s*(,\s*\[.*?\]\s*)*\))",
    )
});
static BRACKETED: LazyLock<Regex> = LazyLock::new(|| regex(r"\[(.*?)\]"));
static ARRAY: LazyLock<Regex> = LazyLock::new(|| regex(r"^(?:\[(.*?)\]|\bnew\s+Array\((.*?)\))"));
static OBJECT: LazyLock<Regex> = LazyLock::new(|| regex(r"^\{(.*?)\}"));
static PAIR: LazyLock<Regex> = LazyLock::new(|| regex(r"([^:]+):\s*(.*?)(?:,\s*(?=[^,]+:)|$)"));

/// The JavaScript types BFCL knows (`JS_TYPE_CONVERSION`).
///
/// ```
/// assert!(slm_eval::bfcl::js_types::is_js_type("Bigint"));
/// assert!(!slm_eval::bfcl::js_types::is_js_type("HashMap"));
/// ```
pub fn is_js_type(name: &str) -> bool {
    matches!(
        name,
        "String" | "integer" | "float" | "Bigint" | "Boolean" | "dict" | "array" | "any"
    )
}

/// Converts a JavaScript-syntax argument as BFCL's `js_type_converter(value, js_type, nested)`
/// does. `Err` where BFCL raises (a type it does not know, a `Bigint` ending in a newline).
///
/// ```
/// use serde_json::json;
/// use slm_eval::bfcl::js_types::convert;
/// assert_eq!(convert("'abc'", "String", None).unwrap(), json!("abc"));
/// assert_eq!(convert("123n", "Bigint", None).unwrap(), json!(123));
/// assert_eq!(convert("3.14", "float", None).unwrap(), json!(3.14));
/// assert_eq!(convert("[1, 'two', true]", "array", None).unwrap(), json!([1, "two", true]));
/// assert_eq!(convert("[[1, 2], [3, 4]]", "array", Some("array")).unwrap(), json!([[1, 2], [3, 4]]));
/// assert_eq!(convert("{'key': 123}", "dict", None).unwrap(), json!({"key": 123}));
/// assert_eq!(convert("yes", "Boolean", None).unwrap(), json!("yes"));
/// assert!(convert("1", "Number", None).is_err());
/// ```
pub fn convert(value: &str, js_type: &str, nested: Option<&str>) -> Result<Value, String> {
    if !is_js_type(js_type) {
        return Err(format!("Unsupported type: {js_type}"));
    }
    let text = || Value::String(value.to_string());
    let bare = without_final_newline(value);
    Ok(match js_type {
        "String" => {
            let quoted = (value.starts_with('"') && value.ends_with('"'))
                || (value.starts_with('\'') && value.ends_with('\''));
            if quoted {
                Value::String(inner(value))
            } else {
                text()
            }
        }
        "integer" if full_match(&INTEGER, value) => py_int(bare).map_or_else(text, Value::from),
        "float" if full_match(&FLOAT, value) => {
            py_float(bare).map_or_else(text, |f| float_value(f, value))
        }
        "Bigint" if full_match(&BIGINT, value) => {
            if bare.len() != value.len() {
                // Python: `int(value[:-1])` keeps the `n` when a newline follows, and raises.
                return Err(format!("invalid literal for int(): {value:?}"));
            }
            py_int(chop_last(value)).map_or_else(text, Value::from)
        }
        "Boolean" => match value {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => text(),
        },
        "dict" => parse_object(value),
        "array" => parse_array(value, nested),
        // `any`, and numbers that do not parse.
        _ => text(),
    })
}

/// A JavaScript value without a declared type, as BFCL's `parse_js_value` reads it.
///
/// ```
/// use serde_json::json;
/// use slm_eval::bfcl::js_types::parse_value;
/// assert_eq!(parse_value(" false "), json!(false));
/// assert_eq!(parse_value("'x'"), json!("x"));
/// assert_eq!(parse_value("12"), json!(12));
/// assert_eq!(parse_value("1.5"), json!(1.5));
/// assert_eq!(parse_value("someVar"), json!("someVar"));
/// ```
pub fn parse_value(text: &str) -> Value {
    let text = text.trim();
    match text {
        "true" => return Value::Bool(true),
        "false" => return Value::Bool(false),
        _ => {}
    }
    if (text.starts_with('"') && text.ends_with('"'))
        || (text.starts_with('\'') && text.ends_with('\''))
    {
        return Value::String(inner(text));
    }
    if let Some(n) = py_int(text) {
        return Value::from(n);
    }
    match py_float(text) {
        Some(f) => float_value(f, text),
        None => Value::String(text.into()),
    }
}

fn parse_array(code: &str, nested: Option<&str>) -> Value {
    let code = code.trim();
    let as_text = || Value::String(code.into());
    if let Ok(Some(found)) = ARRAY_2D.find(code) {
        let rows = BRACKETED
            .captures_iter(found.as_str())
            .filter_map(|c| c.ok().and_then(|c| c.get(1)).map(|m| m.as_str()))
            .enumerate()
            .map(|(index, row)| {
                let mut row = row.trim();
                if index == 0 {
                    row = row.strip_prefix('[').unwrap_or(row);
                }
                Value::Array(row.split(',').map(parse_value).collect())
            })
            .collect();
        return Value::Array(rows);
    }
    let Ok(Some(captures)) = ARRAY.captures(code) else {
        return as_text();
    };
    let elements = captures
        .get(1)
        .or_else(|| captures.get(2))
        .map(|m| m.as_str().trim())
        .filter(|e| !e.is_empty())
        .map(|e| e.split(',').collect::<Vec<_>>())
        .unwrap_or_default();
    match nested {
        Some(nested) if !nested.is_empty() => {
            let items: Result<Vec<Value>, String> = elements
                .iter()
                // (BFCL passes a third argument for quoted elements, which changes nothing.)
                .map(|e| convert(e.trim(), nested, None))
                .collect();
            // BFCL's converter raises on an unknown nested type; the collection parser
            // catches it and keeps the text.
            items.map_or_else(|_| as_text(), Value::Array)
        }
        _ => Value::Array(elements.iter().map(|e| parse_value(e)).collect()),
    }
}

fn parse_object(code: &str) -> Value {
    let code = code.trim();
    if code == "{}" {
        return Value::Object(Map::new());
    }
    let Ok(Some(captures)) = OBJECT.captures(code) else {
        return Value::String(code.into());
    };
    let content = captures.get(1).map_or("", |m| m.as_str());
    let mut map = Map::new();
    for pair in PAIR.captures_iter(content).filter_map(Result::ok) {
        let key = pair.get(1).map_or("", |m| m.as_str());
        let key = key.trim().trim_matches(['\'', '"']);
        let value = pair.get(2).map_or("", |m| m.as_str()).trim();
        let parsed = if value.starts_with('[') && value.ends_with(']') {
            parse_array(value, None)
        } else if value.starts_with('{') && value.ends_with('}') {
            parse_object(value)
        } else {
            parse_value(value.trim_matches(['\'', '"']))
        };
        map.insert(key.to_string(), parsed);
    }
    Value::Object(map)
}

/// The JavaScript source text BFCL's converter reads back as `value` (the inverse of
/// [`convert`] for the values answer keys hold), for building model-like calls from an answer
/// key.
///
/// ```
/// use serde_json::json;
/// use slm_eval::bfcl::js_types::{convert, to_source};
/// assert_eq!(to_source(&json!(["a", "b"]), "array", Some("String")), r#"["a", "b"]"#);
/// assert_eq!(to_source(&json!(7), "Bigint", None), "7n");
/// let object = json!({"depth": 2, "name": "x"});
/// assert_eq!(convert(&to_source(&object, "dict", None), "dict", None).unwrap(), object);
/// ```
pub fn to_source(value: &Value, js_type: &str, nested: Option<&str>) -> String {
    match (js_type, value) {
        ("Bigint", Value::Number(n)) => format!("{n}n"),
        ("float", Value::Number(n)) => format!("{}", n.as_f64().unwrap_or(0.0)),
        ("array", Value::Array(items)) => {
            let elements: Vec<String> = items
                .iter()
                .map(|i| match (nested, i) {
                    (Some("String") | None, Value::String(s)) => format!("\"{s}\""),
                    (Some(nested), _) => to_source(i, nested, None),
                    (None, other) => untyped_source(other),
                })
                .collect();
            format!("[{}]", elements.join(", "))
        }
        ("dict", Value::Object(map)) => {
            let pairs: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("\"{k}\": {}", untyped_source(v)))
                .collect();
            format!("{{{}}}", pairs.join(", "))
        }
        (_, Value::String(s)) => s.clone(),
        (_, other) => untyped_source(other),
    }
}

/// A value as [`parse_value`] (or, for a list, the array parser) reads it back.
fn untyped_source(value: &Value) -> String {
    match value {
        Value::String(s) => format!("\"{s}\""),
        Value::Number(n) if n.is_f64() => format!("{:?}", n.as_f64().unwrap_or(0.0)),
        Value::Array(items) => {
            let elements: Vec<String> = items.iter().map(untyped_source).collect();
            format!("[{}]", elements.join(", "))
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Values printed by BFCL's own `js_type_converter` (bfcl-eval 2026.3.23).
    #[test]
    fn golden_values_from_bfcls_converter() {
        let cases: &[(&str, &str, Option<&str>, Value)] = &[
            ("\"quoted\"", "String", None, json!("quoted")),
            ("'q'", "String", None, json!("q")),
            ("\"", "String", None, json!("")),
            ("1.5", "float", None, json!(1.5)),
            ("1.", "float", None, json!("1.")),
            ("12", "Bigint", None, json!("12")),
            ("[]", "array", None, json!([])),
            ("new Array(1, 2)", "array", Some("integer"), json!([1, 2])),
            ("[1, x, 'y']", "array", None, json!([1, "x", "y"])),
            (
                "[[1, 2], [3]]",
                "array",
                Some("array"),
                json!([[1, 2], [3]]),
            ),
            (
                "[{a: 1}, {b: 2}]",
                "array",
                Some("dict"),
                json!([{"a": 1}, {"b": 2}]),
            ),
            ("[1, 2]", "array", Some("Number"), json!("[1, 2]")),
            ("{}", "dict", None, json!({})),
            (
                "{a: [1, 2], b: {c: 3}, d: 'e'}",
                "dict",
                None,
                json!({"a": [1, 2], "b": "{c: 3"}),
            ),
            (
                "{a: 1, b: 'x, y'}",
                "dict",
                None,
                json!({"a": 1, "b": "x, y"}),
            ),
            ("not an object", "dict", None, json!("not an object")),
            ("NaN", "integer", None, json!("NaN")),
        ];
        for (text, js_type, nested, expected) in cases {
            assert_eq!(
                &convert(text, js_type, *nested).unwrap(),
                expected,
                "{text:?} as {js_type}"
            );
        }
        assert!(convert("5n\n", "Bigint", None).is_err());
        assert!(convert("1", "Number", None).is_err());
    }

    #[test]
    fn sources_read_back_as_their_values() {
        let cases = [
            (json!(9007199254740993_i64), "Bigint", None),
            (json!(1.5), "float", None),
            (json!(false), "Boolean", None),
            (json!(["q1", "q2"]), "array", Some("String")),
            (json!([1, 2]), "array", Some("integer")),
            (json!({"theme": "dark", "depth": 2}), "dict", None),
        ];
        for (value, js_type, nested) in cases {
            let text = to_source(&value, js_type, nested);
            assert_eq!(convert(&text, js_type, nested).unwrap(), value, "{text}");
        }
    }
}

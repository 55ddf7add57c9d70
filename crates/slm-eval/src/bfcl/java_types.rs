//! A port of BFCL's `java_type_converter` (`eval_checker/ast_eval/type_convertor/`): a Java
//! category's model gives every argument as a string in Java syntax (`"3.5f"`,
//! `"new ArrayList<>(Arrays.asList(1, 2))"`), which BFCL converts to a Python value before
//! comparing it with the answer key. Quirks are kept (a `char` is never unquoted, a value that
//! does not parse stays a string, `HashMap` values are read without their declared type).

use std::sync::LazyLock;

use fancy_regex::Regex;
use serde_json::{Map, Value};

use super::py_literals::{
    chop_last, float_value, full_match, inner, py_float, py_int, regex, without_final_newline,
};

static INTEGER: LazyLock<Regex> = LazyLock::new(|| regex(r"^-?[0-9]+\z"));
static FLOAT: LazyLock<Regex> =
    LazyLock::new(|| regex(r"^-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?[fF]\z"));
static DOUBLE: LazyLock<Regex> =
    LazyLock::new(|| regex(r"^-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?\z"));
static LONG: LazyLock<Regex> = LazyLock::new(|| regex(r"^-?[0-9]+[lL]\z"));
static AS_LIST: LazyLock<Regex> =
    LazyLock::new(|| regex(r"new\s+ArrayList<\w*>\(Arrays\.asList\((.+?)\)\)"));
static ADDS: LazyLock<Regex> =
    LazyLock::new(|| regex(r"(?s)new\s+ArrayList<\w*>\(\)\s*\{\{\s*(.+?)\s*\}\}"));
static ADD: LazyLock<Regex> = LazyLock::new(|| regex(r"add\((.+?)\)"));
static EMPTY_LIST: LazyLock<Regex> = LazyLock::new(|| regex(r"new\s+ArrayList<\w*>\(\)"));
static ARRAY: LazyLock<Regex> = LazyLock::new(|| regex(r"new\s+\w+\[\]\s*\{(.*?)\}"));
static HASHMAP: LazyLock<Regex> =
    LazyLock::new(|| regex(r"(?s)new\s+HashMap<.*?>\s*\(\)\s*\{\s*\{?\s*(.*?)\s*\}?\s*\}"));
static PUT: LazyLock<Regex> = LazyLock::new(|| regex(r#"put\("(.*?)",\s*(.*?)\)"#));
static EMPTY_MAP: LazyLock<Regex> = LazyLock::new(|| regex(r"new\s+HashMap<.*?>\s*\(\)"));

/// The Java types BFCL knows (`JAVA_TYPE_CONVERSION`).
///
/// ```
/// assert!(slm_eval::bfcl::java_types::is_java_type("ArrayList"));
/// assert!(!slm_eval::bfcl::java_types::is_java_type("dict"));
/// ```
pub fn is_java_type(name: &str) -> bool {
    matches!(
        name,
        "byte"
            | "short"
            | "integer"
            | "float"
            | "double"
            | "long"
            | "boolean"
            | "char"
            | "Array"
            | "ArrayList"
            | "Set"
            | "HashMap"
            | "Hashtable"
            | "Queue"
            | "Stack"
            | "String"
            | "any"
    )
}

/// Converts a Java-syntax argument as BFCL's `java_type_converter(value, java_type, nested)`
/// does. `Err` where BFCL raises (a type it does not know or does not implement: `Set`,
/// `Hashtable`, `Queue`, `Stack`).
///
/// ```
/// use serde_json::json;
/// use slm_eval::bfcl::java_types::convert;
/// assert_eq!(convert("3.14f", "float", None).unwrap(), json!(3.14));
/// assert_eq!(convert("3.14", "float", None).unwrap(), json!("3.14")); // no `f`: stays a string
/// assert_eq!(convert("123L", "long", None).unwrap(), json!(123));
/// assert_eq!(convert("new int[]{1, 2, 3}", "Array", Some("integer")).unwrap(), json!([1, 2, 3]));
/// assert_eq!(
///     convert(r#"new HashMap<String, Object>() {{ put("a", 1); put("b", "x"); }}"#, "HashMap", None).unwrap(),
///     json!({"a": 1, "b": "x"}));
/// assert!(convert("x", "Set", None).is_err());
/// ```
pub fn convert(value: &str, java_type: &str, nested: Option<&str>) -> Result<Value, String> {
    if !is_java_type(java_type) {
        return Err(format!("Unsupported type: {java_type}"));
    }
    let text = || Value::String(value.to_string());
    let bare = without_final_newline(value);
    Ok(match java_type {
        "byte" | "short" | "integer" if full_match(&INTEGER, value) => {
            py_int(bare).map_or_else(text, Value::from)
        }
        "float" if full_match(&FLOAT, value) => {
            py_float(chop_last(bare)).map_or_else(text, |f| float_value(f, value))
        }
        "double" if full_match(&DOUBLE, value) => {
            py_float(bare).map_or_else(text, |f| float_value(f, value))
        }
        "long" if full_match(&LONG, value) => {
            py_int(chop_last(bare)).map_or_else(text, Value::from)
        }
        "boolean" => match value {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => text(),
        },
        "Array" => parse_array(value, nested)?,
        "ArrayList" => parse_arraylist(value, nested)?,
        "HashMap" => parse_hashmap(value),
        "Set" | "Hashtable" | "Queue" | "Stack" => {
            return Err(format!("{java_type} conversion is not implemented"));
        }
        // `char` (BFCL's pattern for a quoted char never matches), `String`, `any`, and
        // numbers that do not parse.
        _ => text(),
    })
}

/// A Java value without a declared type, as BFCL's `parse_java_value` reads it.
///
/// ```
/// use serde_json::json;
/// use slm_eval::bfcl::java_types::parse_value;
/// assert_eq!(parse_value("true"), json!(true));
/// assert_eq!(parse_value("\"hi\""), json!("hi"));
/// assert_eq!(parse_value("5L"), json!(5));
/// assert_eq!(parse_value("2.5f"), json!(2.5));
/// assert_eq!(parse_value("7"), json!(7));
/// assert_eq!(parse_value("someVariable"), json!("someVariable"));
/// ```
pub fn parse_value(text: &str) -> Value {
    if text == "true" {
        return Value::Bool(true);
    }
    if text == "false" {
        return Value::Bool(false);
    }
    if text.starts_with('"') && text.ends_with('"') {
        return Value::String(inner(text));
    }
    if full_match(&LONG, text) {
        // Python: `int(value_str[:-1])`.
        return py_int(chop_last(text)).map_or_else(|| Value::String(text.into()), Value::from);
    }
    if full_match(&FLOAT, text) {
        let bare = chop_last(without_final_newline(text));
        return py_float(bare).map_or_else(|| Value::String(text.into()), |f| float_value(f, text));
    }
    if let Some(n) = py_int(text) {
        return Value::from(n);
    }
    match py_float(text) {
        Some(f) => float_value(f, text),
        None => Value::String(text.into()),
    }
}

fn element(text: &str, nested: Option<&str>) -> Result<Value, String> {
    Ok(match nested {
        Some("char") | Some("String") => Value::String(inner(text)),
        Some(nested) if !nested.is_empty() => convert(text, nested, None)?,
        _ => parse_value(text),
    })
}

fn group<'t>(re: &Regex, text: &'t str) -> Option<&'t str> {
    re.captures(text)
        .ok()
        .flatten()
        .and_then(|c| c.get(1))
        .map(|m| m.as_str())
}

fn parse_arraylist(input: &str, nested: Option<&str>) -> Result<Value, String> {
    if let Some(elements) = group(&AS_LIST, input) {
        let items = elements
            .split(',')
            .map(|e| element(e.trim(), nested))
            .collect::<Result<_, _>>()?;
        return Ok(Value::Array(items));
    }
    if let Some(adds) = group(&ADDS, input) {
        let items = ADD
            .captures_iter(adds)
            .filter_map(|c| c.ok().and_then(|c| c.get(1)).map(|m| m.as_str().trim()))
            .map(|e| element(e, nested))
            .collect::<Result<_, _>>()?;
        return Ok(Value::Array(items));
    }
    if EMPTY_LIST.is_match(input).unwrap_or(false) {
        return Ok(Value::Array(Vec::new()));
    }
    Ok(Value::String(input.into()))
}

fn parse_array(input: &str, nested: Option<&str>) -> Result<Value, String> {
    let Some(elements) = group(&ARRAY, input) else {
        return Ok(Value::String(input.into()));
    };
    let nested = nested.filter(|n| !n.is_empty());
    let items = elements
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|e| match nested {
            Some(nested) => convert(e, nested, None),
            None => Ok(parse_value(e)),
        })
        .collect::<Result<_, _>>()?;
    Ok(Value::Array(items))
}

fn parse_hashmap(input: &str) -> Value {
    if let Some(puts) = group(&HASHMAP, input) {
        let mut map = Map::new();
        if !puts.trim().is_empty() {
            for captures in PUT.captures_iter(puts).filter_map(Result::ok) {
                let key = captures.get(1).map_or("", |m| m.as_str());
                let value = captures.get(2).map_or("", |m| m.as_str());
                map.insert(key.to_string(), parse_value(value.trim()));
            }
        }
        return Value::Object(map);
    }
    if EMPTY_MAP.is_match(input).unwrap_or(false) {
        return Value::Object(Map::new());
    }
    Value::String(input.into())
}

/// The Java source text BFCL's converter reads back as `value` (the inverse of [`convert`] for
/// the values answer keys hold), for building model-like calls from an answer key.
///
/// ```
/// use serde_json::json;
/// use slm_eval::bfcl::java_types::{convert, to_source};
/// assert_eq!(to_source(&json!(5), "long", None), "5L");
/// assert_eq!(to_source(&json!(["a", "b"]), "ArrayList", Some("String")),
///     r#"new ArrayList<>(Arrays.asList("a", "b"))"#);
/// let map = json!({"limit": 50, "schema": "public"});
/// assert_eq!(convert(&to_source(&map, "HashMap", None), "HashMap", None).unwrap(), map);
/// ```
pub fn to_source(value: &Value, java_type: &str, nested: Option<&str>) -> String {
    match (java_type, value) {
        ("long", Value::Number(n)) => format!("{n}L"),
        ("float", Value::Number(n)) => format!("{}f", n.as_f64().unwrap_or(0.0)),
        ("double", Value::Number(n)) => format!("{}", n.as_f64().unwrap_or(0.0)),
        ("Array", Value::Array(items)) => {
            let elements: Vec<String> = items
                .iter()
                .map(|i| to_source(i, nested.unwrap_or(""), None))
                .collect();
            format!("new Object[]{{{}}}", elements.join(", "))
        }
        ("ArrayList", Value::Array(items)) if items.is_empty() => "new ArrayList<>()".into(),
        ("ArrayList", Value::Array(items)) => {
            let elements: Vec<String> = items
                .iter()
                .map(|i| match (nested, i) {
                    (Some("String" | "char"), Value::String(s)) => format!("\"{s}\""),
                    _ => to_source(i, nested.unwrap_or(""), None),
                })
                .collect();
            format!("new ArrayList<>(Arrays.asList({}))", elements.join(", "))
        }
        ("HashMap", Value::Object(map)) if map.is_empty() => "new HashMap<>()".into(),
        ("HashMap", Value::Object(map)) => {
            let puts: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("put(\"{k}\", {});", untyped_source(v)))
                .collect();
            format!("new HashMap<String, Object>() {{{{ {} }}}}", puts.join(" "))
        }
        (_, Value::String(s)) => s.clone(),
        (_, other) => untyped_source(other),
    }
}

/// A value as [`parse_value`] reads it back.
fn untyped_source(value: &Value) -> String {
    match value {
        Value::String(s) => format!("\"{s}\""),
        Value::Number(n) if n.is_f64() => format!("{:?}", n.as_f64().unwrap_or(0.0)),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Values printed by BFCL's own `java_type_converter` (bfcl-eval 2026.3.23).
    #[test]
    fn golden_values_from_bfcls_converter() {
        let cases: &[(&str, &str, Option<&str>, Value)] = &[
            ("3f", "float", None, json!(3.0)),
            ("3e3F", "float", None, json!(3000.0)),
            ("-2.75", "double", None, json!(-2.75)),
            ("1_000", "integer", None, json!("1_000")),
            ("12\n", "integer", None, json!(12)),
            ("5L\n", "long", None, json!(5)),
            ("'a'", "char", None, json!("'a'")),
            ("yes", "boolean", None, json!("yes")),
            (
                "new long[]{1L, 2, 3L}",
                "Array",
                Some("long"),
                json!([1, "2", 3]),
            ),
            (
                r#"new String[]{"a", b}"#,
                "Array",
                Some("String"),
                json!(["\"a\"", "b"]),
            ),
            (
                "new ArrayList<Character>() {{ add('a'); add('b'); }}",
                "ArrayList",
                Some("char"),
                json!(["a", "b"]),
            ),
            ("new ArrayList<>()", "ArrayList", Some("String"), json!([])),
            ("new HashMap<>() {{}}", "HashMap", None, json!({})),
            (
                r#"new HashMap<String, Object>() {{ put("k1", 1.5); put("k2", "v"); put("k3", 2L); }}"#,
                "HashMap",
                None,
                json!({"k1": 1.5, "k2": "v", "k3": 2}),
            ),
            (
                "Arrays.asList(1, 2)",
                "ArrayList",
                Some("integer"),
                json!("Arrays.asList(1, 2)"),
            ),
        ];
        for (text, java_type, nested, expected) in cases {
            assert_eq!(
                &convert(text, java_type, *nested).unwrap(),
                expected,
                "{text:?} as {java_type}"
            );
        }
        for raises in ["Set", "Queue", "Unknown"] {
            assert!(convert("x", raises, None).is_err(), "{raises}");
        }
    }

    #[test]
    fn sources_read_back_as_their_values() {
        let cases = [
            (json!(500), "long", None),
            (json!(0.75), "float", None),
            (json!(2.5), "double", None),
            (json!(true), "boolean", None),
            (json!(["a", "b"]), "ArrayList", Some("String")),
            (json!([1, 2]), "Array", Some("integer")),
            (json!({"k": "v", "n": 2}), "HashMap", None),
        ];
        for (value, java_type, nested) in cases {
            let text = to_source(&value, java_type, nested);
            assert_eq!(convert(&text, java_type, nested).unwrap(), value, "{text}");
        }
    }
}

//! Canonical JSON: key order ignored and `1 == 1.0`, plus flattening into key paths.
//!
//! Exact-match and field metrics compare canonical renderings, so two answers that differ only in
//! key order, whitespace or the spelling of an integral number are equal.

use std::collections::BTreeMap;

use serde_json::{Number, Value};

/// Renders a value canonically: object keys sorted, no whitespace, integral numbers written as
/// integers (`1.0` → `1`).
///
/// ```
/// use serde_json::json;
/// use slm_eval::canonical::canonical_string;
/// assert_eq!(canonical_string(&json!({"b": 1.0, "a": [2.5, {"d": null, "c": true}]})),
///            r#"{"a":[2.5,{"c":true,"d":null}],"b":1}"#);
/// ```
pub fn canonical_string(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Number(n) => out.push_str(&canonical_number(n)),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let sorted: BTreeMap<&String, &Value> = map.iter().collect();
            out.push('{');
            for (i, (key, item)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Largest magnitude below which an integral float is printed as an integer (beyond it, floats
/// no longer hold every integer, so they keep their float spelling).
const EXACT_INTEGER_LIMIT: f64 = 9_007_199_254_740_992.0; // 2^53

fn canonical_number(n: &Number) -> String {
    match n.as_f64() {
        Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() <= EXACT_INTEGER_LIMIT => {
            format!("{}", f as i64)
        }
        _ => n.to_string(),
    }
}

/// Whether two values are equal as canonical JSON (key order ignored, `1 == 1.0`).
///
/// ```
/// use serde_json::json;
/// assert!(slm_eval::canonical::json_eq(&json!({"a": 1, "b": [1.0]}), &json!({"b": [1], "a": 1.0})));
/// assert!(!slm_eval::canonical::json_eq(&json!(true), &json!(1)));
/// ```
pub fn json_eq(a: &Value, b: &Value) -> bool {
    canonical_string(a) == canonical_string(b)
}

/// Flattens a value into `(key path, canonical leaf)` pairs: `{"a": {"b": [1, 2]}}` gives
/// `a.b[0] = 1` and `a.b[1] = 2`. Empty objects and arrays are leaves (`{}`, `[]`); a scalar at
/// the top has the path `$`. Keys containing `.`, `[` or `\` are escaped with `\`.
///
/// ```
/// use serde_json::json;
/// let flat = slm_eval::canonical::flatten(&json!({"a": {"b": [1, 2.0]}, "c": {}}));
/// assert_eq!(flat.get("a.b[1]").map(String::as_str), Some("2"));
/// assert_eq!(flat.get("c").map(String::as_str), Some("{}"));
/// assert_eq!(flat.len(), 3);
/// ```
pub fn flatten(value: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    flatten_into(value, String::new(), &mut out);
    out
}

fn flatten_into(value: &Value, prefix: String, out: &mut BTreeMap<String, String>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, item) in map {
                let key = escape_key(key);
                let path = if prefix.is_empty() {
                    key
                } else {
                    format!("{prefix}.{key}")
                };
                flatten_into(item, path, out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (i, item) in items.iter().enumerate() {
                flatten_into(item, format!("{prefix}[{i}]"), out);
            }
        }
        leaf => {
            let path = if prefix.is_empty() {
                "$".to_string()
            } else {
                prefix
            };
            out.insert(path, canonical_string(leaf));
        }
    }
}

fn escape_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for c in key.chars() {
        if matches!(c, '.' | '[' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn golden_canonical_forms() {
        assert_eq!(canonical_string(&json!(1.5)), "1.5");
        assert_eq!(canonical_string(&json!(-0.0)), "0");
        assert_eq!(canonical_string(&json!(1e300)), json!(1e300).to_string());
        assert_eq!(canonical_string(&json!(u64::MAX)), "18446744073709551615");
        assert_eq!(canonical_string(&json!("a\"b")), r#""a\"b""#);
    }

    #[test]
    fn keys_with_dots_do_not_collide_with_nesting() {
        let dotted = flatten(&json!({"a.b": 1}));
        let nested = flatten(&json!({"a": {"b": 1}}));
        assert_ne!(dotted, nested);
    }
}

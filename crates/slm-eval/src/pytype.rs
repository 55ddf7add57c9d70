//! Python-style type strings (as xLAM writes them) turned into JSON schema.
//!
//! xLAM declares parameters like `str`, `List[int]`, `Dict[str, Any]`, `int, optional` or
//! `str, default='en'`. The part before the first top-level comma is a type expression; a
//! trailing `optional` (or a `default=`) makes the parameter optional.

use serde_json::{Value, json};

/// A converted parameter type: its JSON schema and whether the parameter may be omitted.
///
/// ```
/// let t = slm_eval::pytype::convert("List[int], optional");
/// assert_eq!(t.schema, serde_json::json!({"type": "array", "items": {"type": "integer"}}));
/// assert!(t.optional);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ParamType {
    /// JSON schema of the value.
    pub schema: Value,
    /// Whether the type string marks the parameter optional.
    pub optional: bool,
}

/// Converts a Python-style type string. Unknown names become `{}` (any value); this never fails.
///
/// ```
/// use serde_json::json;
/// use slm_eval::pytype::convert;
/// assert_eq!(convert("str").schema, json!({"type": "string"}));
/// assert_eq!(convert("Dict[str, float]").schema,
///            json!({"type": "object", "additionalProperties": {"type": "number"}}));
/// assert_eq!(convert("Optional[int]").schema, json!({"type": "integer"}));
/// assert!(convert("Optional[int]").optional);
/// assert_eq!(convert("Union[int, str]").schema, json!({"anyOf": [{"type": "integer"}, {"type": "string"}]}));
/// assert_eq!(convert("Callable").schema, json!({}));
/// ```
pub fn convert(type_string: &str) -> ParamType {
    let parts = split_top_level(type_string, ',');
    let head = parts.first().map(|s| s.trim()).unwrap_or("");
    let modifiers_optional = parts[1..].iter().any(|m| {
        let m = m.trim().to_ascii_lowercase();
        m.starts_with("optional") || m.starts_with("default")
    });
    let expr = parse(head);
    let head_optional = matches!(&expr, Expr::Generic(name, _) if base_name(name) == "optional");
    ParamType {
        schema: to_schema(&expr),
        optional: modifiers_optional || head_optional,
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Name(String),
    Generic(String, Vec<Expr>),
    Literal(Vec<Value>),
}

fn parse(text: &str) -> Expr {
    let text = text.trim();
    let Some(open) = text.find('[') else {
        return Expr::Name(text.to_string());
    };
    let name = text[..open].trim().to_string();
    let inner = text[open + 1..].trim_end();
    let inner = inner.strip_suffix(']').unwrap_or(inner);
    let args = split_top_level(inner, ',');
    if base_name(&name) == "literal" {
        return Expr::Literal(args.iter().map(|a| literal_value(a.trim())).collect());
    }
    Expr::Generic(name, args.iter().map(|a| parse(a)).collect())
}

fn literal_value(text: &str) -> Value {
    let unquoted = text
        .strip_prefix('\'')
        .and_then(|t| t.strip_suffix('\''))
        .or_else(|| text.strip_prefix('"').and_then(|t| t.strip_suffix('"')));
    match unquoted {
        Some(s) => Value::String(s.to_string()),
        None => serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string())),
    }
}

/// `typing.List` → `list`.
fn base_name(name: &str) -> String {
    name.rsplit('.')
        .next()
        .unwrap_or(name)
        .trim()
        .to_ascii_lowercase()
}

fn scalar(name: &str) -> Option<Value> {
    let ty = match name {
        "str" | "string" | "text" | "bytes" => "string",
        "int" | "integer" | "long" => "integer",
        "float" | "double" | "number" | "decimal" | "complex" => "number",
        "bool" | "boolean" => "boolean",
        "none" | "nonetype" | "null" => "null",
        "list" | "array" | "sequence" | "iterable" | "set" | "frozenset" | "tuple" => "array",
        "dict" | "mapping" | "dictionary" | "map" => "object",
        _ => return None,
    };
    Some(json!({"type": ty}))
}

fn to_schema(expr: &Expr) -> Value {
    match expr {
        Expr::Name(name) => scalar(&base_name(name)).unwrap_or_else(|| json!({})),
        Expr::Literal(values) => json!({"enum": values}),
        Expr::Generic(name, args) => generic_schema(&base_name(name), args),
    }
}

fn generic_schema(name: &str, args: &[Expr]) -> Value {
    match name {
        "optional" => args.first().map(to_schema).unwrap_or_else(|| json!({})),
        "union" => {
            let options: Vec<Value> = args.iter().map(to_schema).collect();
            if options.iter().any(|o| o == &json!({})) {
                json!({})
            } else {
                json!({"anyOf": options})
            }
        }
        "list" | "sequence" | "iterable" | "set" | "frozenset" | "tuple" => {
            let items: Vec<Value> = args
                .iter()
                .filter(|a| !matches!(a, Expr::Name(n) if n.trim() == "..."))
                .map(to_schema)
                .collect();
            let mut unique: Vec<Value> = Vec::new();
            for item in items {
                if !unique.contains(&item) {
                    unique.push(item);
                }
            }
            match unique.len() {
                0 => json!({"type": "array"}),
                1 if unique[0] == json!({}) => json!({"type": "array"}),
                1 => json!({"type": "array", "items": unique.remove(0)}),
                _ => json!({"type": "array", "items": {"anyOf": unique}}),
            }
        }
        "dict" | "mapping" => match args.get(1).map(to_schema) {
            Some(value) if value != json!({}) => {
                json!({"type": "object", "additionalProperties": value})
            }
            _ => json!({"type": "object"}),
        },
        other => scalar(other).unwrap_or_else(|| json!({})),
    }
}

/// Splits on `sep` outside brackets and quotes.
fn split_top_level(text: &str, sep: char) -> Vec<String> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut current = String::new();
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '[' | '(' | '{') => depth += 1,
            (None, ']' | ')' | '}') => depth -= 1,
            (None, c) if c == sep && depth == 0 => {
                parts.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    parts.push(current);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_xlam_types() {
        let cases = [
            ("int", json!({"type": "integer"}), false),
            ("float, optional", json!({"type": "number"}), true),
            ("bool, default=True", json!({"type": "boolean"}), true),
            (
                "List[str]",
                json!({"type": "array", "items": {"type": "string"}}),
                false,
            ),
            ("List", json!({"type": "array"}), false),
            (
                "List[Dict[str, Any]]",
                json!({"type": "array", "items": {"type": "object"}}),
                false,
            ),
            (
                "Tuple[int, int]",
                json!({"type": "array", "items": {"type": "integer"}}),
                false,
            ),
            (
                "Tuple[int, str]",
                json!({"type": "array", "items": {"anyOf": [{"type": "integer"}, {"type": "string"}]}}),
                false,
            ),
            (
                "typing.List[float]",
                json!({"type": "array", "items": {"type": "number"}}),
                false,
            ),
            (
                "Literal['asc', 'desc']",
                json!({"enum": ["asc", "desc"]}),
                false,
            ),
            ("Union[int, Any]", json!({}), false),
            (
                "str, optional, default='en, us'",
                json!({"type": "string"}),
                true,
            ),
            ("", json!({}), false),
            ("List[[", json!({"type": "array"}), false),
        ];
        for (text, schema, optional) in cases {
            let t = convert(text);
            assert_eq!(t.schema, schema, "{text}");
            assert_eq!(t.optional, optional, "{text}");
        }
    }
}

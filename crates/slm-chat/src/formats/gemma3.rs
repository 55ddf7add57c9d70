//! Gemma 3: Python calls in a `tool_code` fence, as Google documents for Gemma function
//! calling (Gemma 3's templates do not render tools):
//! ```` ```tool_code\nget_weather(city="Oslo", days=3)\n``` ````.
//!
//! Arguments are Python literals (strings, ints, floats, `True`/`False`/`None`, lists, tuples,
//! dicts), converted to JSON when the call closes; positional arguments take the declared
//! properties' names in order.

use serde_json::{Map, Number, Value};
use slm_core::ToolSpec;

use super::engine::Syntax;
use super::scan::Shape;
use super::{lit, repeated};

pub(crate) const SYNTAX: Syntax = Syntax {
    openers: &[
        ("```tool_code", Shape::Python { close: Some("```") }),
        ("```tool_call", Shape::Python { close: Some("```") }),
    ],
    silent: &[],
    bare_json: None,
};

/// Gemma's turn marker `<start_of_turn>` (Gemma 2 and 3n templates match too).
pub(crate) fn detect(src: &str) -> bool {
    src.contains("<start_of_turn>")
}

/// Google's Gemma function-calling prompt, with the tools as Python signatures.
pub(crate) fn system_instructions(tools: &[ToolSpec]) -> String {
    let defs: Vec<String> = tools.iter().map(python_def).collect();
    format!(
        "At each turn, if you decide to invoke any of the function(s), it should be wrapped with \
         ```tool_code```. The python methods described below are imported and available, you can \
         only use defined methods. The generated code should be readable and efficient. The \
         response to a method will be wrapped in ```tool_output``` use it to call more tools or \
         generate a helpful, friendly response. When using a ```tool_call``` think step by step \
         why and how it should be used.\n\nThe following Python methods are available:\n\n\
         ```python\n{}```\n",
        defs.join("\n")
    )
}

fn python_type(schema: &Value) -> &'static str {
    match schema.get("type").and_then(Value::as_str) {
        Some("string") => "str",
        Some("integer") => "int",
        Some("number") => "float",
        Some("boolean") => "bool",
        Some("array") => "list",
        Some("object") => "dict",
        _ => "Any",
    }
}

fn python_def(tool: &ToolSpec) -> String {
    let required: Vec<&str> = tool.parameters["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut params = Vec::new();
    let mut docs = Vec::new();
    if let Some(props) = tool.parameters["properties"].as_object() {
        for (name, schema) in props {
            let ty = python_type(schema);
            params.push(if required.contains(&name.as_str()) {
                format!("{name}: {ty}")
            } else {
                format!("{name}: {ty} | None = None")
            });
            if let Some(d) = schema.get("description").and_then(Value::as_str) {
                docs.push(format!("      {name}: {d}"));
            }
        }
    }
    let args = if docs.is_empty() {
        String::new()
    } else {
        format!("\n\n    Args:\n{}", docs.join("\n"))
    };
    format!(
        "def {}({}) -> dict:\n    \"\"\"{}{args}\n    \"\"\"\n",
        tool.name,
        params.join(", "),
        tool.description
    )
}

/// Lark for one Python call of each tool, keyword arguments only; values are Python literals
/// of any type (the schema's value types are not enforced).
pub(crate) fn grammar(tools: &[ToolSpec], max_calls: usize) -> String {
    let mut lark = format!(
        "start: {} {} {}\n",
        lit("```tool_code\n"),
        repeated("call", "\n", max_calls),
        lit("\n```")
    );
    let rules: Vec<String> = (0..tools.len().max(1))
        .map(|i| format!("call_{i}"))
        .collect();
    lark.push_str(&format!("call: {}\n", rules.join(" | ")));
    if tools.is_empty() {
        lark.push_str("call_0: NAME \"(\" (NAME \"=\" value (\", \" NAME \"=\" value)*)? \")\"\n");
    }
    for (i, tool) in tools.iter().enumerate() {
        lark.push_str(&format!(
            "call_{i}: {} \"(\" {} \")\"\n",
            lit(&tool.name),
            keyword_arguments(&tool.parameters)
        ));
    }
    lark.push_str(
        "value: STRING | NUMBER | \"True\" | \"False\" | \"None\" | list | dict\n\
         list: \"[\" (value (\", \" value)*)? \"]\"\n\
         dict: \"{\" (STRING \": \" value (\", \" STRING \": \" value)*)? \"}\"\n\
         STRING: /\"([^\"\\\\\\n]|\\\\.){0,512}\"/\n\
         NUMBER: /-?[0-9]{1,16}(\\.[0-9]{1,16})?([eE][-+]?[0-9]{1,3})?/\n\
         INT: /-?[0-9]{1,16}/\n\
         NAME: /[A-Za-z_][A-Za-z0-9_]*/\n",
    );
    lark
}

/// The keyword arguments of a call, in declaration order: every required one, then each
/// optional one or not; each value of its declared type (Python literals).
fn keyword_arguments(parameters: &serde_json::Value) -> String {
    let Some(properties) = parameters["properties"].as_object() else {
        return String::new();
    };
    let required: Vec<&str> = parameters["required"]
        .as_array()
        .map(|r| r.iter().filter_map(|n| n.as_str()).collect())
        .unwrap_or_default();
    let keyword = |(name, schema): (&String, &serde_json::Value)| {
        format!("{} \"=\" {}", lit(name), python_value(schema))
    };
    let (must, may): (Vec<_>, Vec<_>) = properties
        .iter()
        .partition(|(name, _)| required.contains(&name.as_str()));
    let must: Vec<String> = must.into_iter().map(keyword).collect();
    let may: Vec<String> = may.into_iter().map(keyword).collect();
    let optional_after = |from: usize| -> String {
        may[from..]
            .iter()
            .map(|k| format!(" (\", \" {k})?"))
            .collect()
    };
    if !must.is_empty() {
        return format!("{}{}", must.join(" \", \" "), optional_after(0));
    }
    if may.is_empty() {
        return String::new();
    }
    // No required argument: the first one written is any of the optional ones.
    let starts: Vec<String> = (0..may.len())
        .map(|k| format!("{}{}", may[k], optional_after(k + 1)))
        .collect();
    format!("({})?", starts.join(" | "))
}

/// The Lark rule for a Python literal of a JSON schema's type.
fn python_value(schema: &serde_json::Value) -> String {
    if let Some(options) = schema["enum"].as_array()
        && options.iter().all(|o| o.is_string())
    {
        let literals: Vec<String> = options
            .iter()
            .map(|o| lit(&serde_json::to_string(o).expect("strings serialize")))
            .collect();
        return format!("({})", literals.join(" | "));
    }
    match schema["type"].as_str() {
        Some("string") => "STRING".into(),
        Some("integer") => "INT".into(),
        Some("number") => "NUMBER".into(),
        Some("boolean") => "(\"True\" | \"False\")".into(),
        Some("array") => "list".into(),
        Some("object") => "dict".into(),
        _ => "value".into(),
    }
}

/// The JSON text of the arguments between a call's parentheses.
pub(crate) fn python_args(src: &str, spec: Option<&ToolSpec>) -> Result<String, String> {
    let mut p = Py {
        s: src.as_bytes(),
        src,
        p: 0,
    };
    let names: Vec<&String> = spec
        .and_then(|s| s.parameters["properties"].as_object())
        .map(|p| p.keys().collect())
        .unwrap_or_default();
    let mut args = Map::new();
    let mut positional = 0;
    loop {
        p.ws();
        if p.p == p.s.len() {
            break;
        }
        let save = p.p;
        let key = match p.ident() {
            Some(k) => {
                p.ws();
                if p.peek() == Some(b'=') && p.s.get(p.p + 1) != Some(&b'=') {
                    p.p += 1;
                    Some(k)
                } else {
                    p.p = save;
                    None
                }
            }
            None => None,
        };
        let key = match key {
            Some(k) => k,
            None => {
                let name = names.get(positional).ok_or_else(|| {
                    "positional argument without a declared parameter name".to_string()
                })?;
                positional += 1;
                name.to_string()
            }
        };
        let value = p.value()?;
        args.insert(key, value);
        p.ws();
        match p.peek() {
            None => break,
            Some(b',') => p.p += 1,
            Some(c) => return Err(format!("unexpected {:?} in Python arguments", c as char)),
        }
    }
    Ok(Value::Object(args).to_string())
}

struct Py<'a> {
    s: &'a [u8],
    src: &'a str,
    p: usize,
}

impl Py<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.p).copied()
    }

    fn ws(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            self.p += 1;
        }
    }

    fn ident(&mut self) -> Option<String> {
        let start = self.p;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
        {
            self.p += 1;
        }
        let ident = &self.src[start..self.p];
        if ident.is_empty() || ident.as_bytes()[0].is_ascii_digit() {
            self.p = start;
            None
        } else {
            Some(ident.to_string())
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        self.ws();
        if self.peek() == Some(c) {
            self.p += 1;
            Ok(())
        } else {
            Err(format!("expected {:?} in Python arguments", c as char))
        }
    }

    fn value(&mut self) -> Result<Value, String> {
        self.ws();
        match self.peek() {
            None => Err("missing Python value".into()),
            Some(q @ (b'"' | b'\'')) => self.string(q).map(Value::String),
            Some(open @ (b'[' | b'(')) => {
                let close = if open == b'[' { b']' } else { b')' };
                self.p += 1;
                let mut items = Vec::new();
                loop {
                    self.ws();
                    if self.peek() == Some(close) {
                        self.p += 1;
                        return Ok(Value::Array(items));
                    }
                    items.push(self.value()?);
                    self.ws();
                    if self.peek() == Some(b',') {
                        self.p += 1;
                    } else {
                        self.expect(close)?;
                        return Ok(Value::Array(items));
                    }
                }
            }
            Some(b'{') => {
                self.p += 1;
                let mut map = Map::new();
                loop {
                    self.ws();
                    if self.peek() == Some(b'}') {
                        self.p += 1;
                        return Ok(Value::Object(map));
                    }
                    let key = match self.value()? {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    self.expect(b':')?;
                    map.insert(key, self.value()?);
                    self.ws();
                    if self.peek() == Some(b',') {
                        self.p += 1;
                    } else {
                        self.expect(b'}')?;
                        return Ok(Value::Object(map));
                    }
                }
            }
            Some(_) => {
                let start = self.p;
                while self.peek().is_some_and(|c| {
                    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'+' | b'_')
                }) {
                    self.p += 1;
                }
                let word = &self.src[start..self.p];
                match word {
                    "True" | "true" => Ok(Value::Bool(true)),
                    "False" | "false" => Ok(Value::Bool(false)),
                    "None" | "null" => Ok(Value::Null),
                    _ => number(&word.replace('_', ""))
                        .ok_or_else(|| format!("not a Python literal: {word:?}")),
                }
            }
        }
    }

    fn string(&mut self, quote: u8) -> Result<String, String> {
        self.p += 1;
        let mut out = String::new();
        loop {
            let rest = &self.src[self.p..];
            let mut chars = rest.chars();
            let c = chars.next().ok_or("unclosed Python string")?;
            self.p += c.len_utf8();
            match c {
                c if c as u32 == quote as u32 => return Ok(out),
                '\\' => {
                    let e = chars.next().ok_or("unclosed Python string")?;
                    self.p += e.len_utf8();
                    match e {
                        'n' => out.push('\n'),
                        't' => out.push('\t'),
                        'r' => out.push('\r'),
                        '0' => out.push('\0'),
                        'u' => {
                            let hex = self.src.get(self.p..self.p + 4).ok_or("bad \\u escape")?;
                            let code =
                                u32::from_str_radix(hex, 16).map_err(|_| "bad \\u escape")?;
                            out.push(char::from_u32(code).ok_or("bad \\u escape")?);
                            self.p += 4;
                        }
                        other => out.push(other),
                    }
                }
                c => out.push(c),
            }
        }
    }
}

fn number(word: &str) -> Option<Value> {
    if let Ok(i) = word.parse::<i64>() {
        return Some(Value::Number(i.into()));
    }
    let f: f64 = word.parse().ok()?;
    Number::from_f64(f).map(Value::Number)
}

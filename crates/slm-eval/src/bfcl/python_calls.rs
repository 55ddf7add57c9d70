//! Reads the answer of a model prompted the BFCL way: a Python list of calls,
//! `[func(a=1, b="x"), mod.g(c=[1, 2.5], d={"k": True})]`, as BFCL's
//! `default_decode_ast_prompting` reads it (Python's `ast` there): code fences and blanks are
//! stripped, missing outer brackets added, keyword arguments kept (positional ones ignored, as
//! BFCL ignores them), literals turned into JSON with ints and floats kept apart, tuples as
//! lists, a bare name as its string. Anything else is an error: the answer holds no calls.

use serde_json::{Map, Number, Value};
use slm_core::ToolCall;

/// The calls in a prompted answer.
///
/// ```
/// use serde_json::json;
/// let calls = slm_eval::bfcl::parse_python_calls(
///     "```python\n[geo.area(r=3.0, unit='cm'), f(xs=[1, -2], pair=(1, 2), d={'k': None}, flag=True)]\n```",
/// ).unwrap();
/// assert_eq!(calls[0].name, "geo.area");
/// assert_eq!(calls[0].arguments, json!({"r": 3.0, "unit": "cm"}));
/// assert!(calls[0].arguments["r"].is_f64());
/// assert_eq!(calls[1].arguments, json!({"xs": [1, -2], "pair": [1, 2], "d": {"k": null}, "flag": true}));
/// assert!(slm_eval::bfcl::parse_python_calls("The answer is 4.").is_err());
/// assert_eq!(slm_eval::bfcl::parse_python_calls("f(x=1)").unwrap().len(), 1);
/// ```
pub fn parse_python_calls(text: &str) -> Result<Vec<ToolCall>, String> {
    let mut body = text.trim_matches(|c: char| c == '`' || c.is_whitespace());
    body = body.strip_prefix("python").unwrap_or(body).trim();
    let wrapped;
    let source = match (body.starts_with('['), body.ends_with(']')) {
        (true, true) => body,
        (starts, ends) => {
            wrapped = format!(
                "{}{body}{}",
                if starts { "" } else { "[" },
                if ends { "" } else { "]" }
            );
            &wrapped
        }
    };
    let mut parser = Parser {
        text: source.as_bytes(),
        at: 0,
    };
    let calls = parser.call_list()?;
    parser.blank();
    if parser.at != parser.text.len() {
        return Err(format!("unexpected text at byte {}", parser.at));
    }
    Ok(calls)
}

struct Parser<'a> {
    text: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn blank(&mut self) {
        while self.at < self.text.len() && self.text[self.at].is_ascii_whitespace() {
            self.at += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.blank();
        self.text.get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        if self.peek() == Some(byte) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), String> {
        if self.eat(byte) {
            Ok(())
        } else {
            Err(format!("expected '{}' at byte {}", byte as char, self.at))
        }
    }

    /// `[call, call, ...]`
    fn call_list(&mut self) -> Result<Vec<ToolCall>, String> {
        self.expect(b'[')?;
        let mut calls = Vec::new();
        while !self.eat(b']') {
            let name = self.dotted_name()?;
            calls.push(self.call(name, calls.len())?);
            if !self.eat(b',') {
                self.expect(b']')?;
                break;
            }
        }
        Ok(calls)
    }

    /// `(kw=value, ...)` after a function name.
    fn call(&mut self, name: String, index: usize) -> Result<ToolCall, String> {
        self.expect(b'(')?;
        let mut args = Map::new();
        while !self.eat(b')') {
            let start = self.at;
            let keyword = self.identifier();
            if keyword.is_some() && self.eat(b'=') {
                let value = self.value()?;
                args.insert(keyword.unwrap_or_default(), value);
            } else {
                // A positional argument: read and ignored, as BFCL does.
                self.at = start;
                self.value()?;
            }
            if !self.eat(b',') {
                self.expect(b')')?;
                break;
            }
        }
        Ok(ToolCall::new(
            format!("call_{index}"),
            name,
            Value::Object(args),
        ))
    }

    fn identifier(&mut self) -> Option<String> {
        self.blank();
        let start = self.at;
        while self.at < self.text.len()
            && (self.text[self.at].is_ascii_alphanumeric() || self.text[self.at] == b'_')
        {
            self.at += 1;
        }
        let word = &self.text[start..self.at];
        if word.is_empty() || word[0].is_ascii_digit() {
            self.at = start;
            return None;
        }
        Some(String::from_utf8_lossy(word).into_owned())
    }

    fn dotted_name(&mut self) -> Result<String, String> {
        let mut name = self
            .identifier()
            .ok_or_else(|| format!("expected a function name at byte {}", self.at))?;
        while self.text.get(self.at) == Some(&b'.') {
            self.at += 1;
            let part = self
                .identifier()
                .ok_or_else(|| format!("expected a name after '.' at byte {}", self.at))?;
            name.push('.');
            name.push_str(&part);
        }
        Ok(name)
    }

    fn value(&mut self) -> Result<Value, String> {
        match self.peek() {
            Some(b'[') => {
                self.at += 1;
                self.sequence(b']')
            }
            Some(b'(') => {
                self.at += 1;
                self.sequence(b')')
            }
            Some(b'{') => {
                self.at += 1;
                self.dict()
            }
            Some(b'\'' | b'"') => self.string().map(Value::String),
            Some(b'-' | b'+') => {
                let negative = self.text[self.at] == b'-';
                self.at += 1;
                match self.value()? {
                    Value::Number(n) if negative => Ok(negate(&n)),
                    Value::Number(n) => Ok(Value::Number(n)),
                    other => Err(format!("a sign before {other}")),
                }
            }
            Some(c) if c.is_ascii_digit() || c == b'.' => self.number(),
            Some(_) => {
                let name = self
                    .identifier()
                    .ok_or_else(|| format!("unexpected character at byte {}", self.at))?;
                Ok(match name.as_str() {
                    "True" => Value::Bool(true),
                    "False" => Value::Bool(false),
                    "None" => Value::Null,
                    // BFCL resolves a bare name to its text.
                    _ => Value::String(name),
                })
            }
            None => Err("the text ends inside a call".into()),
        }
    }

    fn sequence(&mut self, close: u8) -> Result<Value, String> {
        let mut items = Vec::new();
        while !self.eat(close) {
            items.push(self.value()?);
            if !self.eat(b',') {
                self.expect(close)?;
                break;
            }
        }
        Ok(Value::Array(items))
    }

    fn dict(&mut self) -> Result<Value, String> {
        let mut map = Map::new();
        while !self.eat(b'}') {
            let key = match self.value()? {
                Value::String(s) => s,
                other => other.to_string(),
            };
            self.expect(b':')?;
            map.insert(key, self.value()?);
            if !self.eat(b',') {
                self.expect(b'}')?;
                break;
            }
        }
        Ok(Value::Object(map))
    }

    fn number(&mut self) -> Result<Value, String> {
        let start = self.at;
        let mut float = false;
        while let Some(&c) = self.text.get(self.at) {
            match c {
                b'0'..=b'9' | b'_' => {}
                b'.' | b'e' | b'E' => float = true,
                b'+' | b'-' if matches!(self.text[self.at - 1], b'e' | b'E') => {}
                _ => break,
            }
            self.at += 1;
        }
        let digits: String = String::from_utf8_lossy(&self.text[start..self.at]).replace('_', "");
        let bad = |e: &dyn std::fmt::Display| format!("number {digits:?}: {e}");
        if float {
            let v: f64 = digits.parse().map_err(|e| bad(&e))?;
            Number::from_f64(v)
                .map(Value::Number)
                .ok_or_else(|| bad(&"not finite"))
        } else {
            digits
                .parse::<i64>()
                .map(|v| Value::Number(v.into()))
                .map_err(|e| bad(&e))
        }
    }

    /// A quoted string, single or double, triple-quoted too, with Python's common escapes.
    fn string(&mut self) -> Result<String, String> {
        let quote = self.text[self.at];
        let triple = self.text[self.at..].starts_with(&[quote; 3]);
        self.at += if triple { 3 } else { 1 };
        let mut out = Vec::new();
        loop {
            let Some(&c) = self.text.get(self.at) else {
                return Err("the text ends inside a string".into());
            };
            if c == quote && (!triple || self.text[self.at..].starts_with(&[quote; 3])) {
                self.at += if triple { 3 } else { 1 };
                break;
            }
            if c == b'\\' {
                let escaped = self.text.get(self.at + 1).copied().unwrap_or(b'\\');
                out.push(match escaped {
                    b'n' => b'\n',
                    b't' => b'\t',
                    b'r' => b'\r',
                    other => other,
                });
                self.at += 2;
                continue;
            }
            out.push(c);
            self.at += 1;
        }
        String::from_utf8(out).map_err(|e| e.to_string())
    }
}

fn negate(n: &Number) -> Value {
    if let Some(i) = n.as_i64() {
        Value::Number((-i).into())
    } else {
        Number::from_f64(-n.as_f64().unwrap_or(0.0))
            .map(Value::Number)
            .unwrap_or(Value::Null)
    }
}

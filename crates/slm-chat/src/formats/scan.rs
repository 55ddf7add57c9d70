//! Prefix scanning of one tool-call block: what is known so far of its calls, whether it is
//! complete, or where and why it cannot be a call.
//!
//! Scanning is a pure function of the block's text: the streaming parser re-scans the block
//! after each piece and emits the difference, so the outcome never depends on how the text was
//! cut into pieces.

use serde_json::Value;
use slm_core::ToolSpec;

/// How the calls inside a block are written.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Shape {
    /// JSON objects that carry the name and the arguments (`{"name": .., "arguments": ..}`).
    Json {
        /// One object, a JSON array of them, or either.
        list: List,
        /// Keys that hold the arguments, first match wins.
        args_keys: &'static [&'static str],
        /// Key of a model-made call id (Mistral), if the format has one.
        id_key: Option<&'static str>,
        /// Literals closing the block, each after optional whitespace.
        close: &'static [&'static str],
    },
    /// The name is framed by markers, the arguments follow as one JSON object.
    Framed {
        /// What ends the name.
        name_end: &'static str,
        /// What comes between the name and the arguments (after optional whitespace).
        args_open: &'static str,
        /// Literals closing the call, each after optional whitespace.
        close: &'static [&'static str],
        /// The name is an XML attribute value (`&quot;` escapes).
        attr_name: bool,
    },
    /// Python calls `name(a=1, b="x")` (a `.call` suffix of the name is dropped, as in
    /// Llama's `python.call(code=..)`), one per line, until `close`; with no `close`, one call.
    Python {
        /// What ends the block.
        close: Option<&'static str>,
    },
    /// A JSON object call (the first shape) or a Python call (the second), whichever the
    /// first character says: Llama's `<|python_tag|>`.
    JsonOrPython(&'static Shape, &'static Shape),
}

/// The JSON container of a [`Shape::Json`] block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum List {
    /// One object.
    One,
    /// A JSON array of objects.
    Array,
    /// An array or one object.
    Either,
}

/// What is known of one call.
#[derive(Debug, Clone, Default)]
pub(crate) struct CallSnap {
    pub name: String,
    pub id: Option<String>,
    /// The call may be announced: its name (and id, where the format puts one) is known.
    pub ready: bool,
    pub args: Args,
}

/// The arguments of a call, as far as they are known.
#[derive(Debug, Clone, Default)]
pub(crate) enum Args {
    /// Not seen yet.
    #[default]
    None,
    /// Raw JSON text in the block, `start..end` (so far).
    Raw { start: usize, end: usize },
    /// Complete arguments converted to JSON text (Python syntax, string-encoded or absent).
    Text(String),
}

/// How far a block got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum End {
    /// More text is needed.
    Open,
    /// The block is complete and ends at this byte.
    Done(usize),
    /// The text from this byte on cannot continue the block, for this reason.
    Failed(usize, String),
}

/// The state of a block after a scan.
#[derive(Debug, Clone)]
pub(crate) struct Snap {
    pub calls: Vec<CallSnap>,
    pub end: End,
}

enum Stop {
    More,
    Fail(usize, String),
}

type Step<T> = Result<T, Stop>;

struct Cur<'a> {
    s: &'a str,
    p: usize,
}

impl Cur<'_> {
    fn bytes(&self) -> &[u8] {
        self.s.as_bytes()
    }

    fn ws(&mut self) {
        while self.p < self.s.len() && self.bytes()[self.p].is_ascii_whitespace() {
            self.p += 1;
        }
    }

    fn peek(&self) -> Step<u8> {
        self.bytes().get(self.p).copied().ok_or(Stop::More)
    }

    fn lit(&mut self, lit: &str) -> Step<()> {
        let rest = &self.s[self.p..];
        if rest.starts_with(lit) {
            self.p += lit.len();
            Ok(())
        } else if lit.starts_with(rest) {
            Err(Stop::More)
        } else {
            Err(Stop::Fail(self.p, format!("expected {lit:?}")))
        }
    }

    /// A JSON string literal, decoded; the cursor ends after its closing quote.
    fn json_string(&mut self) -> Step<String> {
        let start = self.p;
        if self.peek()? != b'"' {
            return Err(Stop::Fail(self.p, "expected a JSON string".into()));
        }
        let end = string_end(self.bytes(), start, b'"').ok_or(Stop::More)?;
        self.p = end;
        serde_json::from_str(&self.s[start..end])
            .map_err(|e| Stop::Fail(end, format!("bad JSON string: {e}")))
    }

    /// Skips one JSON value (structurally: brackets and strings).
    fn skip_value(&mut self) -> Step<()> {
        match self.peek()? {
            b'"' => {
                self.p = string_end(self.bytes(), self.p, b'"').ok_or(Stop::More)?;
                Ok(())
            }
            b'{' | b'[' => {
                self.p = balanced_end(self.bytes(), self.p, false)?;
                Ok(())
            }
            b',' | b'}' | b']' | b':' => Err(Stop::Fail(self.p, "expected a JSON value".into())),
            _ => {
                let b = self.bytes();
                let mut q = self.p;
                while q < b.len()
                    && !matches!(b[q], b',' | b'}' | b']')
                    && !b[q].is_ascii_whitespace()
                {
                    q += 1;
                }
                if q == b.len() {
                    return Err(Stop::More);
                }
                self.p = q;
                Ok(())
            }
        }
    }
}

/// The byte after the string that opens at `start` with `quote`, if it is closed.
fn string_end(b: &[u8], start: usize, quote: u8) -> Option<usize> {
    let mut q = start + 1;
    while q < b.len() {
        match b[q] {
            b'\\' => q += 2,
            c if c == quote => return Some(q + 1),
            _ => q += 1,
        }
    }
    None
}

/// The byte after the bracketed value that opens at `start`; `python` also quotes with `'`.
fn balanced_end(b: &[u8], start: usize, python: bool) -> Step<usize> {
    let mut stack = Vec::new();
    let mut q = start;
    while q < b.len() {
        match b[q] {
            c @ (b'"' | b'\'') if c == b'"' || python => {
                q = string_end(b, q, c).ok_or(Stop::More)?;
                continue;
            }
            b'{' => stack.push(b'}'),
            b'[' => stack.push(b']'),
            b'(' if python => stack.push(b')'),
            c @ (b'}' | b']' | b')') => {
                if stack.pop() != Some(c) {
                    return Err(Stop::Fail(q, format!("unbalanced {:?}", c as char)));
                }
                if stack.is_empty() {
                    return Ok(q + 1);
                }
            }
            _ => {}
        }
        q += 1;
    }
    Err(Stop::More)
}

/// Whether `name` may be called: declared, or any name when no tool is declared.
fn declared<'t>(tools: &'t [ToolSpec], name: &str) -> Result<Option<&'t ToolSpec>, String> {
    if tools.is_empty() {
        return Ok(None);
    }
    match tools.iter().find(|t| t.name == name) {
        Some(t) => Ok(Some(t)),
        None => Err(format!("tool {name:?} is not declared")),
    }
}

/// Scans the block `raw`, whose calls start at byte `body`.
pub(crate) fn scan_block(shape: Shape, raw: &str, body: usize, tools: &[ToolSpec]) -> Snap {
    let mut calls = Vec::new();
    let mut c = Cur { s: raw, p: body };
    let shape = match shape {
        Shape::JsonOrPython(json, python) => {
            c.ws();
            match c.peek() {
                Err(Stop::More) => {
                    return Snap {
                        calls,
                        end: End::Open,
                    };
                }
                Ok(b'{') => *json,
                _ => *python,
            }
        }
        shape => shape,
    };
    let result = match shape {
        Shape::Json {
            list,
            args_keys,
            id_key,
            close,
        } => json_block(&mut c, list, args_keys, id_key, close, &mut calls, tools),
        Shape::Framed {
            name_end,
            args_open,
            close,
            attr_name,
        } => framed_call(
            &mut c, name_end, args_open, close, attr_name, &mut calls, tools,
        ),
        Shape::Python { close } => python_block(&mut c, close, &mut calls, tools),
        Shape::JsonOrPython(..) => Err(Stop::Fail(c.p, "nested shapes".into())),
    };
    let end = match result {
        Ok(()) => End::Done(c.p),
        Err(Stop::More) => End::Open,
        Err(Stop::Fail(at, why)) => End::Failed(at.max(1), why),
    };
    Snap { calls, end }
}

fn json_block(
    c: &mut Cur<'_>,
    list: List,
    args_keys: &[&str],
    id_key: Option<&str>,
    close: &[&str],
    calls: &mut Vec<CallSnap>,
    tools: &[ToolSpec],
) -> Step<()> {
    c.ws();
    let array = match (list, c.peek()?) {
        (List::One, _) => false,
        (List::Array, _) => true,
        (List::Either, b) => b == b'[',
    };
    if array {
        c.lit("[")?;
        loop {
            c.ws();
            json_call(c, args_keys, id_key, calls, tools)?;
            c.ws();
            match c.peek()? {
                b',' => c.p += 1,
                b']' => {
                    c.p += 1;
                    break;
                }
                _ => {
                    return Err(Stop::Fail(
                        c.p,
                        "expected ',' or ']' after a tool call".into(),
                    ));
                }
            }
        }
    } else {
        json_call(c, args_keys, id_key, calls, tools)?;
    }
    close_with(c, close)
}

fn close_with(c: &mut Cur<'_>, close: &[&str]) -> Step<()> {
    for part in close {
        c.ws();
        c.lit(part)?;
    }
    Ok(())
}

fn json_call(
    c: &mut Cur<'_>,
    args_keys: &[&str],
    id_key: Option<&str>,
    calls: &mut Vec<CallSnap>,
    tools: &[ToolSpec],
) -> Step<()> {
    let start = c.p;
    c.lit("{")?;
    calls.push(CallSnap::default());
    let at = calls.len() - 1;
    let mut seen_name = false;
    loop {
        c.ws();
        if c.peek()? == b'}' {
            c.p += 1;
            break;
        }
        let key = c.json_string()?;
        c.ws();
        c.lit(":")?;
        c.ws();
        let value = c.p;
        let call = &mut calls[at];
        if key == "name" && !seen_name {
            let name = c.json_string()?;
            declared(tools, &name).map_err(|why| Stop::Fail(c.p, why))?;
            call.name = name;
            seen_name = true;
        } else if args_keys.contains(&key.as_str()) && matches!(call.args, Args::None) {
            if c.peek()? == b'"' {
                let text = c.json_string()?;
                let args = object_text(&text).map_err(|why| Stop::Fail(c.p, why))?;
                call.args = Args::Text(args);
            } else {
                let step = c.skip_value();
                let end = if step.is_ok() { c.p } else { c.s.len() };
                call.args = Args::Raw { start: value, end };
                step?;
                object_text(&c.s[value..c.p]).map_err(|why| Stop::Fail(c.p, why))?;
            }
        } else if Some(key.as_str()) == id_key {
            call.id = Some(c.json_string()?);
        } else {
            c.skip_value()?;
        }
        let call = &mut calls[at];
        call.ready = seen_name && (id_key.is_none() || call.id.is_some());
        c.ws();
        match c.peek()? {
            b',' => c.p += 1,
            b'}' => {
                c.p += 1;
                break;
            }
            _ => return Err(Stop::Fail(c.p, "expected ',' or '}' in a tool call".into())),
        }
    }
    if let Err(e) = serde_json::from_str::<Value>(&c.s[start..c.p]) {
        return Err(Stop::Fail(c.p, format!("invalid JSON in a tool call: {e}")));
    }
    let call = &mut calls[at];
    if !seen_name {
        return Err(Stop::Fail(c.p, "tool call without a \"name\"".into()));
    }
    if matches!(call.args, Args::None) {
        call.args = Args::Text("{}".into());
    }
    call.ready = true;
    Ok(())
}

/// `text` as the JSON text of an arguments object.
fn object_text(text: &str) -> Result<String, String> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(_)) => Ok(text.to_string()),
        Ok(Value::Null) => Ok("{}".into()),
        Ok(_) => Err("the arguments are not a JSON object".into()),
        Err(e) => Err(format!("the arguments are not JSON: {e}")),
    }
}

fn framed_call(
    c: &mut Cur<'_>,
    name_end: &str,
    args_open: &str,
    close: &[&str],
    attr_name: bool,
    calls: &mut Vec<CallSnap>,
    tools: &[ToolSpec],
) -> Step<()> {
    // Decided on the shortest prefix, so a failure never depends on how much text arrived.
    let rest = &c.s[c.p..];
    let (bytes, end) = (rest.as_bytes(), name_end.as_bytes());
    let mut len = 0;
    loop {
        if bytes[len..].starts_with(end) {
            break;
        }
        if end.starts_with(&bytes[len..]) || len == bytes.len() {
            return Err(Stop::More);
        }
        if matches!(bytes[len], b'\n' | b'<' | b'>') || len >= 256 {
            return Err(Stop::Fail(c.p, "no tool name".into()));
        }
        len += 1;
    }
    let mut name = rest[..len].trim().to_string();
    if attr_name {
        name = name
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&");
    }
    if name.is_empty() || name.contains(['\n', '<', '>']) {
        return Err(Stop::Fail(c.p, format!("bad tool name {name:?}")));
    }
    c.p += len + name_end.len();
    declared(tools, &name).map_err(|why| Stop::Fail(c.p, why))?;
    calls.push(CallSnap {
        name,
        id: None,
        ready: true,
        args: Args::None,
    });
    if !args_open.is_empty() {
        c.ws();
        c.lit(args_open)?;
    }
    c.ws();
    let start = c.p;
    if c.peek()? != b'{' {
        return Err(Stop::Fail(
            c.p,
            "the arguments are not a JSON object".into(),
        ));
    }
    let step = c.skip_value();
    let at = calls.len() - 1;
    calls[at].args = Args::Raw {
        start,
        end: if step.is_ok() { c.p } else { c.s.len() },
    };
    step?;
    object_text(&c.s[start..c.p]).map_err(|why| Stop::Fail(c.p, why))?;
    close_with(c, close)
}

fn python_block(
    c: &mut Cur<'_>,
    close: Option<&str>,
    calls: &mut Vec<CallSnap>,
    tools: &[ToolSpec],
) -> Step<()> {
    let Some(close) = close else {
        c.ws();
        return python_call(c, calls, tools);
    };
    loop {
        c.ws();
        if c.peek()? == close.as_bytes()[0] {
            return c.lit(close);
        }
        python_call(c, calls, tools)?;
    }
}

fn python_call(c: &mut Cur<'_>, calls: &mut Vec<CallSnap>, tools: &[ToolSpec]) -> Step<()> {
    let b = c.bytes();
    let start = c.p;
    let mut q = start;
    while q < b.len() && (b[q].is_ascii_alphanumeric() || matches!(b[q], b'_' | b'.')) {
        q += 1;
    }
    if q == b.len() {
        return Err(Stop::More);
    }
    if q == start {
        return Err(Stop::Fail(q, "expected a Python function call".into()));
    }
    let name = c.s[start..q].trim_end_matches(".call").to_string();
    c.p = q;
    c.ws();
    c.lit("(")?;
    let spec = declared(tools, &name).map_err(|why| Stop::Fail(c.p, why))?;
    calls.push(CallSnap {
        name,
        id: None,
        ready: true,
        args: Args::None,
    });
    let open = c.p - 1;
    let end = balanced_end(c.bytes(), open, true)?;
    let args = super::gemma3::python_args(&c.s[open + 1..end - 1], spec)
        .map_err(|why| Stop::Fail(end, why))?;
    let at = calls.len() - 1;
    calls[at].args = Args::Text(args);
    c.p = end;
    Ok(())
}

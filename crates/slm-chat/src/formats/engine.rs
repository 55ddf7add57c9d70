//! The incremental parser shared by every family: reasoning first, then text scanned for the
//! family's markers, then call blocks scanned by [`scan_block`].

use slm_core::{ToolCall, ToolSpec};

use super::reasoning::{Piece, ReasoningSplitter, held_suffix};
use super::scan::{Args, End, Shape, scan_block};
use super::{FormatEvent, ParsedOutput};

/// Where a family's calls are found in the text.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Syntax {
    /// Markers that open a call block, and how the block is written.
    pub openers: &'static [(&'static str, Shape)],
    /// Markers dropped from the text (block wrappers, Granite's `<response>`).
    pub silent: &'static [&'static str],
    /// A `{` at the start of the answer, or right after a call, opens a block (Llama 3).
    pub bare_json: Option<Shape>,
}

#[derive(Debug, Clone)]
enum Mode {
    Text,
    Block {
        shape: Shape,
        raw: String,
        body: usize,
        /// Stream indices of the calls of this block announced so far.
        announced: Vec<usize>,
        /// Bytes of each announced call's arguments already emitted.
        emitted: Vec<usize>,
    },
    /// Right after a block: whitespace (and `;` between Llama 3 calls) is dropped.
    AfterBlock,
}

#[derive(Debug, Clone)]
struct Started {
    id: String,
    name: String,
    arguments: String,
    aborted: bool,
}

/// Parses a model's answer as it streams: reasoning, text and tool calls of one format.
///
/// Events concatenate to the final [`ParsedOutput`]: the `Text` events to its content, the
/// `Reasoning` events to its reasoning, each call's `ToolCallArguments` fragments to its
/// arguments' JSON text; a call announced and later found malformed is withdrawn by a
/// `ToolCallAborted` event and its text follows as `Text`.
///
/// ```
/// use slm_chat::formats::{FormatEvent, ToolFormat};
/// use slm_core::ToolSpec;
/// let tools = [ToolSpec::new("add", "Adds", serde_json::json!({"type": "object"}))];
/// let mut p = ToolFormat::Hermes.stream_parser(&tools, false);
/// let mut events = p.push("Sure.<tool_call>\n{\"name\": \"add\", \"argu");
/// events.extend(p.push("ments\": {\"a\": 1}}\n</tool_call>"));
/// let (rest, out) = p.finish();
/// events.extend(rest);
/// assert_eq!(events[0], FormatEvent::Text("Sure.".into()));
/// assert!(matches!(&events[1], FormatEvent::ToolCallStart { name, .. } if name == "add"));
/// assert_eq!(out.tool_calls[0].arguments, serde_json::json!({"a": 1}));
/// assert_eq!(out.content, "Sure.");
/// ```
#[derive(Debug, Clone)]
pub struct StreamParser {
    syntax: Syntax,
    tools: Vec<ToolSpec>,
    reasoning: ReasoningSplitter,
    mode: Mode,
    pending: String,
    /// Only whitespace seen so far (a bare JSON call may still open).
    at_start: bool,
    content: String,
    reasoning_text: String,
    calls: Vec<Started>,
    problems: Vec<String>,
}

impl StreamParser {
    pub(crate) fn new(syntax: Syntax, tools: &[ToolSpec], starts_in_reasoning: bool) -> Self {
        Self {
            syntax,
            tools: tools.to_vec(),
            reasoning: ReasoningSplitter::new(starts_in_reasoning),
            mode: Mode::Text,
            pending: String::new(),
            at_start: true,
            content: String::new(),
            reasoning_text: String::new(),
            calls: Vec::new(),
            problems: Vec::new(),
        }
    }

    /// Parses the next piece of the answer and returns what can be told of it now.
    ///
    /// ```
    /// use slm_chat::formats::{FormatEvent, ToolFormat};
    /// let mut p = ToolFormat::Hermes.stream_parser(&[], false);
    /// assert_eq!(p.push("Hi <tool"), vec![FormatEvent::Text("Hi ".into())]);
    /// ```
    pub fn push(&mut self, text: &str) -> Vec<FormatEvent> {
        let mut events = Vec::new();
        let pieces = self.reasoning.push(text);
        self.take(pieces, &mut events);
        events
    }

    /// Whether the answer so far ends inside an open `<think>` section.
    ///
    /// ```
    /// use slm_chat::formats::ToolFormat;
    /// let mut p = ToolFormat::Hermes.stream_parser(&[], true);
    /// assert!(p.in_reasoning());
    /// p.push("hm</think>Hi");
    /// assert!(!p.in_reasoning());
    /// ```
    pub fn in_reasoning(&self) -> bool {
        self.reasoning.in_reasoning()
    }

    /// Ends the answer: the last events, and the whole parse.
    ///
    /// ```
    /// use slm_chat::formats::ToolFormat;
    /// let mut p = ToolFormat::Hermes.stream_parser(&[], false);
    /// p.push("<tool_call>{\"name\": \"f\"");
    /// let (_, out) = p.finish();
    /// assert!(out.tool_calls.is_empty());
    /// assert_eq!(out.content, "<tool_call>{\"name\": \"f\"");
    /// assert_eq!(out.problems.len(), 1);
    /// ```
    pub fn finish(mut self) -> (Vec<FormatEvent>, ParsedOutput) {
        let mut events = Vec::new();
        let pieces = self.reasoning.finish();
        self.take(pieces, &mut events);
        self.drain(true, &mut events);
        let mut tool_calls = Vec::new();
        for call in self.calls.into_iter().filter(|c| !c.aborted) {
            match serde_json::from_str(&call.arguments) {
                Ok(arguments) => tool_calls.push(ToolCall::new(call.id, call.name, arguments)),
                Err(e) => self
                    .problems
                    .push(format!("arguments of {}: {e}", call.name)),
            }
        }
        let output = ParsedOutput {
            content: self.content,
            reasoning: self.reasoning.opened().then_some(self.reasoning_text),
            tool_calls,
            problems: self.problems,
        };
        (events, output)
    }

    fn take(&mut self, pieces: Vec<Piece>, events: &mut Vec<FormatEvent>) {
        for piece in pieces {
            match piece {
                Piece::Reasoning(r) => self.emit(FormatEvent::Reasoning(r), events),
                Piece::Content(c) => {
                    if self.pending.is_empty() {
                        self.pending = c;
                    } else {
                        self.pending.push_str(&c);
                    }
                    self.drain(false, events);
                }
            }
        }
    }

    fn emit(&mut self, event: FormatEvent, events: &mut Vec<FormatEvent>) {
        match &event {
            FormatEvent::Text(t) => {
                if t.is_empty() {
                    return;
                }
                self.content.push_str(t);
            }
            FormatEvent::Reasoning(r) => self.reasoning_text.push_str(r),
            FormatEvent::ToolCallStart { id, name, .. } => self.calls.push(Started {
                id: id.clone(),
                name: name.clone(),
                arguments: String::new(),
                aborted: false,
            }),
            FormatEvent::ToolCallArguments { index, fragment } => {
                self.calls[*index].arguments.push_str(fragment)
            }
            FormatEvent::ToolCallAborted { index, .. } => self.calls[*index].aborted = true,
        }
        events.push(event);
    }

    fn markers(&self) -> impl Iterator<Item = (&'static str, Option<Shape>)> + '_ {
        let openers = self.syntax.openers.iter().map(|&(m, s)| (m, Some(s)));
        openers.chain(self.syntax.silent.iter().map(|&m| (m, None)))
    }

    fn open_block(&mut self, shape: Shape, raw: String, body: usize) {
        self.mode = Mode::Block {
            shape,
            raw,
            body,
            announced: Vec::new(),
            emitted: Vec::new(),
        };
    }

    fn drain(&mut self, last: bool, events: &mut Vec<FormatEvent>) {
        loop {
            match &mut self.mode {
                Mode::Text => {
                    if self.at_start
                        && let Some(shape) = self.syntax.bare_json
                    {
                        let trimmed = self.pending.trim_start();
                        if trimmed.is_empty() && !last {
                            return;
                        }
                        self.at_start = false;
                        if trimmed.starts_with('{') {
                            let raw = trimmed.to_string();
                            self.pending.clear();
                            self.open_block(shape, raw, 0);
                            continue;
                        }
                    }
                    // Most pieces hold no byte a marker starts with: emit them at once.
                    let bytes = self.pending.as_bytes();
                    if !self
                        .markers()
                        .any(|(m, _)| bytes.contains(&m.as_bytes()[0]))
                    {
                        let text = std::mem::take(&mut self.pending);
                        self.emit(FormatEvent::Text(text), events);
                        return;
                    }
                    let found = self
                        .markers()
                        .filter_map(|(m, shape)| self.pending.find(m).map(|at| (at, m, shape)))
                        .min_by_key(|&(at, m, _)| (at, usize::MAX - m.len()));
                    if let Some((at, marker, shape)) = found {
                        let before = self.pending[..at].to_string();
                        let rest = self.pending.split_off(at);
                        self.pending.clear();
                        self.emit(FormatEvent::Text(before), events);
                        match shape {
                            Some(shape) => self.open_block(shape, rest, marker.len()),
                            None => self.pending = rest[marker.len()..].to_string(),
                        }
                        continue;
                    }
                    let keep = if last {
                        0
                    } else {
                        self.markers()
                            .map(|(m, _)| held_suffix(&self.pending, m))
                            .max()
                            .unwrap_or(0)
                    };
                    let text = self.pending[..self.pending.len() - keep].to_string();
                    self.pending.drain(..text.len());
                    self.emit(FormatEvent::Text(text), events);
                    return;
                }
                Mode::AfterBlock => {
                    let skip = if self.syntax.bare_json.is_some() {
                        |c: char| c.is_whitespace() || c == ';'
                    } else {
                        |c: char| c.is_whitespace()
                    };
                    let trimmed = self.pending.trim_start_matches(skip);
                    if trimmed.is_empty() {
                        self.pending.clear();
                        return;
                    }
                    self.pending = trimmed.to_string();
                    self.mode = Mode::Text;
                    match self.syntax.bare_json {
                        Some(shape) if self.pending.starts_with('{') => {
                            let raw = std::mem::take(&mut self.pending);
                            self.open_block(shape, raw, 0);
                        }
                        _ => self.at_start = false,
                    }
                }
                Mode::Block { .. } => {
                    if !self.step_block(last, events) {
                        return;
                    }
                }
            }
        }
    }

    /// Advances the open block; `false` when it needs more text.
    fn step_block(&mut self, last: bool, events: &mut Vec<FormatEvent>) -> bool {
        let Mode::Block {
            shape,
            mut raw,
            body,
            mut announced,
            mut emitted,
        } = std::mem::replace(&mut self.mode, Mode::Text)
        else {
            return false;
        };
        raw.push_str(&self.pending);
        self.pending.clear();
        let snap = scan_block(shape, &raw, body, &self.tools);
        for (i, call) in snap.calls.iter().enumerate() {
            if i == announced.len() && call.ready {
                let index = self.calls.len();
                announced.push(index);
                emitted.push(0);
                let id = call.id.clone().unwrap_or_else(|| format!("call_{index}"));
                let name = call.name.clone();
                self.emit(FormatEvent::ToolCallStart { index, id, name }, events);
            }
            if i >= announced.len() {
                break;
            }
            let fragment = match &call.args {
                Args::None => "",
                Args::Raw { start, end } => &raw[start + emitted[i]..*end],
                Args::Text(text) if emitted[i] == 0 => text.as_str(),
                Args::Text(_) => "",
            };
            if !fragment.is_empty() {
                emitted[i] += fragment.len();
                let event = FormatEvent::ToolCallArguments {
                    index: announced[i],
                    fragment: fragment.to_string(),
                };
                self.emit(event, events);
            }
        }
        let end = match snap.end {
            End::Open if last => End::Failed(raw.len(), "unclosed tool call".into()),
            end => end,
        };
        match end {
            End::Open => {
                self.mode = Mode::Block {
                    shape,
                    raw,
                    body,
                    announced,
                    emitted,
                };
                false
            }
            End::Done(at) => {
                self.pending = raw[at..].to_string();
                self.mode = Mode::AfterBlock;
                self.at_start = false;
                true
            }
            End::Failed(at, why) => {
                let at = (at..=raw.len())
                    .find(|&i| raw.is_char_boundary(i))
                    .unwrap_or(raw.len());
                for index in announced {
                    let reason = why.clone();
                    self.emit(FormatEvent::ToolCallAborted { index, reason }, events);
                }
                self.problems
                    .push(format!("{why} at {:?}", preview(&raw[..at])));
                self.pending = raw[at..].to_string();
                raw.truncate(at);
                self.emit(FormatEvent::Text(raw), events);
                self.at_start = false;
                true
            }
        }
    }
}

fn preview(text: &str) -> String {
    let mut end = text.len().min(60);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

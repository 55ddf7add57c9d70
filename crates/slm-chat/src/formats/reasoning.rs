//! `<think>…</think>` reasoning, separated from the answer before tool calls are looked for.
//!
//! A reasoning section is recognised only at the start of the answer (after whitespace), as
//! llama.cpp's `try_parse_reasoning` does, or from the very first byte when the prompt already
//! opened it (DeepSeek-R1 distills and QwQ end their generation prompt with `<think>\n`). An
//! unclosed section is reasoning to the end. Whitespace right inside the tags and right after
//! `</think>` is dropped.

use serde::{Deserialize, Serialize};

const OPEN: &str = "<think>";
const CLOSE: &str = "</think>";

/// What closes a reasoning section so the answer can start: written after a prompt that opened
/// one when thinking is off, forced when a thinking budget runs out, and put before a forced
/// tool call.
///
/// ```
/// use slm_chat::formats::{ReasoningSplitter, THINKING_CLOSE};
/// let (reasoning, answer) = ReasoningSplitter::split(&format!("hm{THINKING_CLOSE}Hi"), true);
/// assert_eq!((reasoning.as_deref(), answer.as_str()), (Some("hm"), "Hi"));
/// ```
pub const THINKING_CLOSE: &str = "</think>\n\n";

/// A piece of the answer, as the splitter sorted it.
///
/// ```
/// use slm_chat::formats::{Piece, ReasoningSplitter};
/// let mut s = ReasoningSplitter::new(false);
/// assert_eq!(s.push("<think>hm</think>Hi"), vec![
///     Piece::Reasoning("hm".into()),
///     Piece::Content("Hi".into()),
/// ]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Piece {
    /// Text of the reasoning section.
    Reasoning(String),
    /// Text of the answer proper.
    Content(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nothing but whitespace seen: a `<think>` may still come.
    Start,
    /// Inside the reasoning; `skip_ws` while nothing was emitted of it yet.
    Think { skip_ws: bool },
    /// After the reasoning (or none); `skip_ws` right after `</think>`.
    Content { skip_ws: bool },
}

/// Splits a streamed answer into reasoning and content.
///
/// ```
/// use slm_chat::formats::{Piece, ReasoningSplitter};
/// // The prompt ended with `<think>\n`: the answer starts inside the reasoning.
/// let mut s = ReasoningSplitter::new(true);
/// let mut pieces = s.push("I'm\nthinking</th");
/// pieces.extend(s.push("ink>\n\nHello"));
/// pieces.extend(s.finish());
/// assert_eq!(pieces, vec![
///     Piece::Reasoning("I'm\nthinking".into()),
///     Piece::Content("Hello".into()),
/// ]);
/// assert!(s.opened());
/// ```
#[derive(Debug, Clone)]
pub struct ReasoningSplitter {
    state: State,
    pending: String,
    opened: bool,
}

impl ReasoningSplitter {
    /// A splitter; `starts_in_reasoning` when the prompt already opened `<think>`.
    ///
    /// ```
    /// let s = slm_chat::formats::ReasoningSplitter::new(false);
    /// assert!(!s.opened());
    /// ```
    pub fn new(starts_in_reasoning: bool) -> Self {
        Self {
            state: if starts_in_reasoning {
                State::Think { skip_ws: true }
            } else {
                State::Start
            },
            pending: String::new(),
            opened: starts_in_reasoning,
        }
    }

    /// Whether a reasoning section was opened (by the prompt or the answer).
    ///
    /// ```
    /// let mut s = slm_chat::formats::ReasoningSplitter::new(false);
    /// s.push("<think>");
    /// assert!(s.opened());
    /// ```
    pub fn opened(&self) -> bool {
        self.opened
    }

    /// Whether the text so far ends inside an open reasoning section.
    ///
    /// ```
    /// let mut s = slm_chat::formats::ReasoningSplitter::new(false);
    /// assert!(!s.in_reasoning());
    /// s.push("<think>hm");
    /// assert!(s.in_reasoning());
    /// s.push("</think>ok");
    /// assert!(!s.in_reasoning());
    /// ```
    pub fn in_reasoning(&self) -> bool {
        matches!(self.state, State::Think { .. })
    }

    /// Sorts the next piece of the answer; text that may be the start of a tag is held back.
    ///
    /// ```
    /// use slm_chat::formats::{Piece, ReasoningSplitter};
    /// let mut s = ReasoningSplitter::new(false);
    /// assert_eq!(s.push("<thi"), vec![]);
    /// assert_eq!(s.push("s is text"), vec![Piece::Content("<this is text".into())]);
    /// ```
    pub fn push(&mut self, text: &str) -> Vec<Piece> {
        let mut out = Vec::new();
        if self.state == (State::Content { skip_ws: false }) {
            // The common case, past the reasoning: nothing is held back.
            if !text.is_empty() {
                out.push(Piece::Content(text.to_string()));
            }
            return out;
        }
        self.pending.push_str(text);
        loop {
            match self.state {
                State::Start => {
                    let trimmed = self.pending.trim_start();
                    if trimmed.is_empty() {
                        return out;
                    }
                    if let Some(rest) = trimmed.strip_prefix(OPEN) {
                        self.pending = rest.to_string();
                        self.opened = true;
                        self.state = State::Think { skip_ws: true };
                    } else if OPEN.starts_with(trimmed) {
                        return out;
                    } else {
                        self.state = State::Content { skip_ws: false };
                    }
                }
                State::Think { skip_ws } => {
                    if skip_ws {
                        let trimmed = self.pending.trim_start();
                        if trimmed.is_empty() {
                            self.pending.clear();
                            return out;
                        }
                        if trimmed.len() != self.pending.len() {
                            self.pending = trimmed.to_string();
                        }
                    }
                    if let Some(at) = self.pending.find(CLOSE) {
                        let reasoning = self.pending[..at].trim_end();
                        if !reasoning.is_empty() {
                            out.push(Piece::Reasoning(reasoning.to_string()));
                        }
                        self.pending.drain(..at + CLOSE.len());
                        self.state = State::Content { skip_ws: true };
                        continue;
                    }
                    let keep = held_suffix(&self.pending, CLOSE);
                    let cut = self.pending[..self.pending.len() - keep].trim_end().len();
                    if cut > 0 {
                        out.push(Piece::Reasoning(self.pending[..cut].to_string()));
                        self.pending.drain(..cut);
                        self.state = State::Think { skip_ws: false };
                    }
                    return out;
                }
                State::Content { skip_ws } => {
                    if skip_ws {
                        let trimmed = self.pending.trim_start();
                        if trimmed.is_empty() {
                            self.pending.clear();
                            return out;
                        }
                        self.pending = trimmed.to_string();
                        self.state = State::Content { skip_ws: false };
                    }
                    if !self.pending.is_empty() {
                        out.push(Piece::Content(std::mem::take(&mut self.pending)));
                    }
                    return out;
                }
            }
        }
    }

    /// The text still held back, at the end of the answer.
    ///
    /// ```
    /// use slm_chat::formats::{Piece, ReasoningSplitter};
    /// let mut s = ReasoningSplitter::new(false);
    /// s.push("<think>unfinished </th");
    /// assert_eq!(s.finish(), vec![Piece::Reasoning(" </th".into())]);
    /// ```
    pub fn finish(&mut self) -> Vec<Piece> {
        let rest = std::mem::take(&mut self.pending);
        match self.state {
            State::Think { .. } => {
                let rest = rest.trim_end();
                if rest.is_empty() {
                    vec![]
                } else {
                    vec![Piece::Reasoning(rest.to_string())]
                }
            }
            _ if rest.is_empty() => vec![],
            State::Start | State::Content { skip_ws: false } => vec![Piece::Content(rest)],
            State::Content { skip_ws: true } => vec![],
        }
    }

    /// Splits a whole answer: `(reasoning, content)`; the reasoning is `None` when no section
    /// was opened.
    ///
    /// ```
    /// let (r, c) = slm_chat::formats::ReasoningSplitter::split("<think>a</think>b", false);
    /// assert_eq!((r.as_deref(), c.as_str()), (Some("a"), "b"));
    /// ```
    pub fn split(text: &str, starts_in_reasoning: bool) -> (Option<String>, String) {
        let mut s = Self::new(starts_in_reasoning);
        let mut pieces = s.push(text);
        pieces.extend(s.finish());
        let (mut reasoning, mut content) = (String::new(), String::new());
        for p in pieces {
            match p {
                Piece::Reasoning(r) => reasoning.push_str(&r),
                Piece::Content(c) => content.push_str(&c),
            }
        }
        (s.opened.then_some(reasoning), content)
    }
}

/// Length of the longest suffix of `text` that is a proper prefix of `marker`.
pub(crate) fn held_suffix(text: &str, marker: &str) -> usize {
    let max = marker.len().saturating_sub(1).min(text.len());
    (1..=max)
        .rev()
        .find(|&n| {
            let start = text.len() - n;
            text.is_char_boundary(start) && marker.starts_with(&text[start..])
        })
        .unwrap_or(0)
}

/// Whether a chat template can reason in `<think>` sections (mentions `enable_thinking` or
/// `<think>`).
///
/// ```
/// assert!(slm_chat::formats::supports_thinking("{% if enable_thinking %}<think>{% endif %}"));
/// assert!(!slm_chat::formats::supports_thinking("{{ messages }}"));
/// ```
pub fn supports_thinking(template_source: &str) -> bool {
    template_source.contains("enable_thinking") || template_source.contains(OPEN)
}

/// Whether the template's generation prompt opens `<think>` itself, so the answer starts
/// inside the reasoning (DeepSeek-R1 distills, QwQ): a `<think>` written after the last
/// `add_generation_prompt` test and not closed there.
///
/// This reads the source; when the prompt is at hand, [`prompt_opens_thinking`] is exact.
///
/// ```
/// let r1 = "{% if add_generation_prompt %}{{'<｜Assistant｜><think>\\n'}}{% endif %}";
/// assert!(slm_chat::formats::template_opens_thinking(r1));
/// let qwen3 = "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- if enable_thinking is defined and enable_thinking is false %}{{- '<think>\\n\\n</think>\\n\\n' }}{%- endif %}{%- endif %}";
/// assert!(!slm_chat::formats::template_opens_thinking(qwen3));
/// ```
pub fn template_opens_thinking(template_source: &str) -> bool {
    let Some(at) = template_source.rfind("add_generation_prompt") else {
        return false;
    };
    let tail = &template_source[at..];
    match tail.find(OPEN) {
        Some(open) => !tail[open..].contains(CLOSE),
        None => false,
    }
}

/// Whether a rendered prompt ends inside an opened `<think>` section.
///
/// ```
/// assert!(slm_chat::formats::prompt_opens_thinking("<｜Assistant｜><think>\n"));
/// assert!(!slm_chat::formats::prompt_opens_thinking("assistant\n<think>\n\n</think>\n\n"));
/// ```
pub fn prompt_opens_thinking(prompt: &str) -> bool {
    prompt.trim_end().ends_with(OPEN)
}

//! Fitting retrieved passages into a prompt budget, numbered for citation.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::{Hit, Metadata};

/// A retrieved passage: what a [`crate::Retriever`] returns and a [`Citation`] refers to.
///
/// ```
/// let index = slm_rag::Index::from_documents([slm_rag::Document::new("1", "red fox")])?;
/// let p = slm_rag::Passage::from(index.search("fox", 1)[0]);
/// assert_eq!(p.id, "1");
/// # Ok::<(), slm_rag::RagError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Passage {
    /// The document (or chunk) id.
    pub id: String,
    /// The passage text.
    pub text: String,
    /// The retrieval score.
    pub score: f32,
    /// The document's metadata.
    #[serde(default)]
    pub metadata: Metadata,
}

impl From<Hit<'_>> for Passage {
    fn from(hit: Hit<'_>) -> Self {
        Self {
            id: hit.document.id.clone(),
            text: hit.document.text.clone(),
            score: hit.score,
            metadata: hit.document.metadata.clone(),
        }
    }
}

/// Counts tokens for a [`Budget::Tokens`] budget. Any `Fn(&str) -> usize` is one, so a model's
/// own tokenizer can be plugged in.
///
/// ```
/// use slm_rag::TokenCounter;
/// let words = |text: &str| text.split_whitespace().count();
/// assert_eq!(words.count_tokens("a b c"), 3);
/// ```
pub trait TokenCounter: Send + Sync {
    /// How many tokens `text` takes.
    fn count_tokens(&self, text: &str) -> usize;
}

impl<F: Fn(&str) -> usize + Send + Sync> TokenCounter for F {
    fn count_tokens(&self, text: &str) -> usize {
        self(text)
    }
}

/// How much context fits.
///
/// ```
/// use slm_rag::Budget;
/// let b = Budget::Chars(2000);
/// assert!(matches!(b, Budget::Chars(2000)));
/// ```
#[derive(Clone)]
pub enum Budget {
    /// At most this many characters (Unicode scalar values).
    Chars(usize),
    /// At most this many tokens, as counted by the counter.
    Tokens(usize, Arc<dyn TokenCounter>),
}

impl fmt::Debug for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Budget::Chars(n) => write!(f, "Chars({n})"),
            Budget::Tokens(n, _) => write!(f, "Tokens({n})"),
        }
    }
}

impl Budget {
    fn cost(&self, text: &str) -> usize {
        match self {
            Budget::Chars(_) => text.chars().count(),
            Budget::Tokens(_, counter) => counter.count_tokens(text),
        }
    }

    fn limit(&self) -> usize {
        match self {
            Budget::Chars(n) | Budget::Tokens(n, _) => *n,
        }
    }
}

/// A passage that made it into the context, with the number the prompt shows for it.
///
/// ```
/// let c = slm_rag::ContextBuilder::chars(100).build(&[slm_rag::Passage {
///     id: "a".into(), text: "x".into(), score: 1.0, metadata: Default::default(),
/// }]);
/// assert_eq!(c.citations[0].number, 1);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Citation {
    /// The number shown in the prompt, `[number]`, from 1.
    pub number: usize,
    /// The passage (its text as it appears in the prompt, possibly shortened).
    pub passage: Passage,
}

/// The context block of a grounded prompt and the passages it cites.
///
/// ```
/// let c = slm_rag::Context::default();
/// assert!(c.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Context {
    /// Numbered passages, `[1] ...`, separated by blank lines.
    pub text: String,
    /// The passages, in the order shown.
    pub citations: Vec<Citation>,
}

impl Context {
    /// Whether no passage fit (or none was retrieved).
    ///
    /// ```
    /// assert!(slm_rag::ContextBuilder::chars(10).build(&[]).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.citations.is_empty()
    }
}

impl Context {
    /// Which passages `answer` cites with markers like `[2]` or `[1, 3]`: the known ones in
    /// order of first mention (each once), and the numbers that name no passage (each once).
    ///
    /// ```
    /// use slm_rag::{ContextBuilder, Passage};
    /// let p = |id: &str| Passage { id: id.into(), text: id.into(), score: 1.0, metadata: Default::default() };
    /// let ctx = ContextBuilder::chars(100).build(&[p("a"), p("b"), p("c")]);
    /// let cited = ctx.cited_by("C [3], then A [1, 3] and [7].");
    /// let ids: Vec<&str> = cited.citations.iter().map(|c| c.passage.id.as_str()).collect();
    /// assert_eq!(ids, ["c", "a"]);
    /// assert_eq!(cited.unknown, [7]);
    /// assert!(ctx.cited_by("No markers.").citations.is_empty());
    /// ```
    pub fn cited_by(&self, answer: &str) -> Cited {
        let mut cited = Cited::default();
        for number in citation_markers(answer) {
            match self.citations.iter().find(|c| c.number == number) {
                Some(c) => {
                    if !cited.citations.iter().any(|k| k.number == number) {
                        cited.citations.push(c.clone());
                    }
                }
                None => {
                    if !cited.unknown.contains(&number) {
                        cited.unknown.push(number);
                    }
                }
            }
        }
        cited
    }
}

/// The passages an answer cites, as found by [`Context::cited_by`].
///
/// ```
/// let c = slm_rag::Cited::default();
/// assert!(c.citations.is_empty() && c.unknown.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cited {
    /// The cited passages, in order of first mention, each once.
    pub citations: Vec<Citation>,
    /// Marker numbers that name no passage of the context (out of range), each once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unknown: Vec<usize>,
}

/// The numbers of the citation markers in `text`, in order, repeats kept: `[2]`, and lists
/// such as `[1, 3]` or `[1][2]`. Brackets holding anything but numbers (`[x]`, `[1-2]`) are
/// not markers.
///
/// ```
/// assert_eq!(slm_rag::citation_markers("a [1] b [2, 3] c [x] [1][4"), [1, 2, 3, 1]);
/// ```
pub fn citation_markers(text: &str) -> Vec<usize> {
    let mut numbers = Vec::new();
    for (open, _) in text.match_indices('[') {
        let rest = &text[open + 1..];
        let Some(close) = rest.find(']') else { break };
        let inside = &rest[..close];
        if inside.contains('[') {
            continue;
        }
        let parsed: Option<Vec<usize>> = inside.split(',').map(|n| n.trim().parse().ok()).collect();
        numbers.extend(parsed.unwrap_or_default());
    }
    numbers
}

/// Builds a [`Context`] from ranked passages within a character or token budget.
///
/// Passages are taken best first; one that does not fit is skipped and later, shorter ones
/// may still fit. When not even the best passage fits, it is shortened to fit (ending in `…`)
/// so the model always sees something.
///
/// ```
/// use slm_rag::{ContextBuilder, Passage};
/// let p = |id: &str, text: &str| Passage { id: id.into(), text: text.into(), score: 1.0, metadata: Default::default() };
/// let ctx = ContextBuilder::chars(40).build(&[p("a", "Paris is in France."), p("b", "x".repeat(50).as_str()), p("c", "Rome.")]);
/// assert_eq!(ctx.text, "[1] Paris is in France.\n\n[2] Rome.");
/// assert_eq!(ctx.citations[1].passage.id, "c");
/// ```
#[derive(Debug, Clone)]
pub struct ContextBuilder {
    budget: Budget,
}

impl Default for ContextBuilder {
    /// 4,000 characters: roughly 1,000 tokens of English.
    fn default() -> Self {
        Self::chars(4000)
    }
}

impl ContextBuilder {
    /// A budget of `max_chars` characters.
    ///
    /// ```
    /// let b = slm_rag::ContextBuilder::chars(1000);
    /// ```
    pub fn chars(max_chars: usize) -> Self {
        Self {
            budget: Budget::Chars(max_chars),
        }
    }

    /// A budget of `max_tokens` tokens as `counter` counts them.
    ///
    /// ```
    /// use slm_rag::{ContextBuilder, Passage};
    /// let words = |t: &str| t.split_whitespace().count();
    /// let p = Passage { id: "a".into(), text: "one two three four".into(), score: 1.0, metadata: Default::default() };
    /// let ctx = ContextBuilder::tokens(3, words).build(&[p]);
    /// assert_eq!(ctx.text, "[1] one two…");
    /// ```
    pub fn tokens(max_tokens: usize, counter: impl TokenCounter + 'static) -> Self {
        Self {
            budget: Budget::Tokens(max_tokens, Arc::new(counter)),
        }
    }

    /// The budget.
    ///
    /// ```
    /// assert!(matches!(slm_rag::ContextBuilder::chars(5).budget(), slm_rag::Budget::Chars(5)));
    /// ```
    pub fn budget(&self) -> &Budget {
        &self.budget
    }

    /// Numbers and joins the passages that fit.
    ///
    /// ```
    /// let ctx = slm_rag::ContextBuilder::chars(0).build(&[]);
    /// assert_eq!(ctx.text, "");
    /// ```
    pub fn build(&self, passages: &[Passage]) -> Context {
        const SEPARATOR: &str = "\n\n";
        let limit = self.budget.limit();
        let mut context = Context::default();
        let mut used = 0;
        for passage in passages {
            let number = context.citations.len() + 1;
            let separator = if context.text.is_empty() {
                ""
            } else {
                SEPARATOR
            };
            let entry = format!("{separator}[{number}] {}", passage.text);
            let cost = self.budget.cost(&entry);
            let (entry, shown) = if used + cost <= limit {
                (entry, passage.text.clone())
            } else if context.citations.is_empty() {
                match self.shortened(number, &passage.text, limit) {
                    Some(fit) => fit,
                    None => continue,
                }
            } else {
                continue;
            };
            used += self.budget.cost(&entry);
            context.text.push_str(&entry);
            context.citations.push(Citation {
                number,
                passage: Passage {
                    text: shown,
                    ..passage.clone()
                },
            });
        }
        context
    }

    /// The longest prefix of `text` (ending in `…`) whose entry fits `limit`, if any does.
    fn shortened(&self, number: usize, text: &str, limit: usize) -> Option<(String, String)> {
        let chars: Vec<(usize, char)> = text.char_indices().collect();
        let entry_of = |n: usize| {
            let end = chars.get(n).map_or(text.len(), |(at, _)| *at);
            let shown = format!("{}…", text[..end].trim_end());
            (format!("[{number}] {shown}"), shown)
        };
        // Binary search the number of characters kept: cost grows with it.
        let (mut lo, mut hi) = (0usize, chars.len());
        let mut best = None;
        while lo <= hi {
            let mid = lo + (hi - lo) / 2;
            let (entry, shown) = entry_of(mid);
            if self.budget.cost(&entry) <= limit {
                if mid > 0 {
                    best = Some((entry, shown));
                }
                lo = mid + 1;
            } else if mid == 0 {
                break;
            } else {
                hi = mid - 1;
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passage(id: &str, text: &str) -> Passage {
        Passage {
            id: id.into(),
            text: text.into(),
            score: 1.0,
            metadata: Metadata::new(),
        }
    }

    #[test]
    fn never_exceeds_the_budget() {
        let passages: Vec<Passage> = (0..20)
            .map(|i| passage(&i.to_string(), &"word ".repeat(i * 3 + 1)))
            .collect();
        for limit in [0, 5, 17, 64, 300, 5000] {
            let ctx = ContextBuilder::chars(limit).build(&passages);
            assert!(ctx.text.chars().count() <= limit, "limit {limit}");
            for (i, c) in ctx.citations.iter().enumerate() {
                assert_eq!(c.number, i + 1);
                assert!(ctx.text.contains(&format!("[{}] ", c.number)));
            }
        }
    }

    #[test]
    fn shortens_the_first_passage_when_nothing_fits() {
        let ctx = ContextBuilder::chars(12).build(&[passage("a", "abcdefghijklmnop")]);
        assert_eq!(ctx.text, "[1] abcdefg…");
        assert_eq!(ctx.citations[0].passage.text, "abcdefg…");
    }
}

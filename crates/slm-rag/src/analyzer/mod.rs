//! Text analysis: how text becomes index terms.
//!
//! Analysis has two steps, and the split between them is what makes indexing fast:
//! 1. [`Analyzer::split`] cuts text into (lowercased) words;
//! 2. [`Analyzer::normalize`] maps one word to its term, or drops it (a stopword).
//!
//! `normalize` must depend on the word alone, so the index runs it once per *distinct* word and
//! caches the result (stemming is the costly part of analysis), as bm25s does.

mod language;
mod stopwords;

use std::fmt;

use rustc_hash::FxHashSet;
use serde::{Deserialize, Serialize};
use unicode_segmentation::UnicodeSegmentation;

pub use language::Language;
pub use stopwords::LUCENE_ENGLISH_STOPWORDS;

/// Turns text into index terms. Implement it to support another language or tokenizer.
///
/// ```
/// use slm_rag::Analyzer;
///
/// /// Splits on whitespace and keeps words as they are.
/// #[derive(Debug)]
/// struct Whitespace;
///
/// impl Analyzer for Whitespace {
///     fn split(&self, text: &str, emit: &mut dyn FnMut(&str)) {
///         text.split_whitespace().for_each(|w| emit(w));
///     }
///     fn normalize(&self, word: &str) -> Option<String> {
///         Some(word.to_string())
///     }
/// }
///
/// assert_eq!(Whitespace.terms("Hello  world"), vec!["Hello", "world"]);
/// ```
pub trait Analyzer: Send + Sync + fmt::Debug {
    /// Cuts `text` into words and calls `emit` once per word, in order.
    fn split(&self, text: &str, emit: &mut dyn FnMut(&str));

    /// The index term of one word from [`Analyzer::split`], or `None` to drop it.
    ///
    /// Must be a pure function of `word`: the index caches its result per distinct word.
    fn normalize(&self, word: &str) -> Option<String>;

    /// This analyzer as a [`TextAnalyzer`] configuration, when it is one. A saved index stores
    /// it so that [`crate::Index::load`] can rebuild the analyzer; custom analyzers return
    /// `None` and are passed to [`crate::Index::load_with_analyzer`] instead.
    fn config(&self) -> Option<TextAnalyzer> {
        None
    }

    /// A short description, stored in saved indexes and used in error messages.
    fn describe(&self) -> String {
        std::any::type_name::<Self>().to_string()
    }

    /// All terms of `text`, in order (split, then normalize).
    fn terms(&self, text: &str) -> Vec<String> {
        let mut terms = Vec::new();
        self.split(text, &mut |word| terms.extend(self.normalize(word)));
        terms
    }
}

/// How [`TextAnalyzer`] cuts text into words.
///
/// ```
/// use slm_rag::{TextAnalyzer, Tokenizer};
/// let a = TextAnalyzer::english().with_tokenizer(Tokenizer::Bm25s);
/// // bm25s keeps runs of 2+ word characters: "a" and "2" are dropped, "e_coli" is one word.
/// assert_eq!(a.terms("E_coli in 2 mice"), vec!["e_coli", "mice"]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Tokenizer {
    /// Unicode word boundaries (UAX #29), words with at least one letter or digit.
    #[default]
    UnicodeWords,
    /// bm25s' (and scikit-learn's) `\b\w\w+\b`: maximal runs of word characters (letters,
    /// digits, `_`) of length two or more.
    Bm25s,
}

/// Which stemmer [`TextAnalyzer`] applies.
///
/// ```
/// use slm_rag::{Language, Stemming, TextAnalyzer};
/// let german = TextAnalyzer::english()
///     .with_stopwords(["der", "die", "das"])
///     .with_stemming(Stemming::Snowball(Language::German));
/// assert_eq!(german.terms("Die Häuser"), vec!["haus"]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stemming {
    /// Keep words as they are.
    None,
    /// A Snowball stemmer, as PyStemmer and Lucene's `SnowballFilter` apply it.
    Snowball(Language),
}

/// The built-in analyzer: split into words, lowercase, drop stopwords, stem.
///
/// [`TextAnalyzer::english`] is the default (Unicode words, Lucene's 33 English stopwords,
/// Snowball English); [`TextAnalyzer::bm25s`] reproduces bm25s' tokenization exactly.
///
/// ```
/// use slm_rag::{Analyzer, TextAnalyzer};
/// let a = TextAnalyzer::english();
/// assert_eq!(a.terms("The running of the bulls"), vec!["run", "bull"]);
/// assert!(a.terms("the of and").is_empty());
/// assert_eq!(a.terms("Москва — столица"), vec!["москва", "столица"]);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextAnalyzer {
    tokenizer: Tokenizer,
    lowercase: bool,
    stopwords: StopWords,
    stemming: Stemming,
}

impl Default for TextAnalyzer {
    fn default() -> Self {
        Self::english()
    }
}

impl TextAnalyzer {
    /// Unicode words, lowercased, Lucene's 33 English stopwords, Snowball English stemmer.
    ///
    /// ```
    /// assert_eq!(slm_rag::TextAnalyzer::english().terms("Cats"), vec!["cat"]);
    /// ```
    pub fn english() -> Self {
        Self {
            tokenizer: Tokenizer::UnicodeWords,
            lowercase: true,
            stopwords: StopWords::from_iter(LUCENE_ENGLISH_STOPWORDS.iter().copied()),
            stemming: Stemming::Snowball(Language::English),
        }
    }

    /// bm25s' default pipeline with PyStemmer English: lowercase, `\b\w\w+\b` tokens, Lucene's
    /// 33 English stopwords, Snowball English. Use it to reproduce bm25s' numbers.
    ///
    /// ```
    /// let a = slm_rag::TextAnalyzer::bm25s();
    /// assert_eq!(a.terms("A 0-dimensional biomaterial"), vec!["dimension", "biomateri"]);
    /// ```
    pub fn bm25s() -> Self {
        Self::english().with_tokenizer(Tokenizer::Bm25s)
    }

    /// Unicode words, lowercased, nothing dropped or stemmed: works for any language.
    ///
    /// ```
    /// assert_eq!(slm_rag::TextAnalyzer::plain().terms("The Cats"), vec!["the", "cats"]);
    /// ```
    pub fn plain() -> Self {
        Self {
            tokenizer: Tokenizer::UnicodeWords,
            lowercase: true,
            stopwords: StopWords::default(),
            stemming: Stemming::None,
        }
    }

    /// Sets the tokenizer.
    ///
    /// ```
    /// use slm_rag::{TextAnalyzer, Tokenizer};
    /// assert!(TextAnalyzer::english().with_tokenizer(Tokenizer::Bm25s).terms("x").is_empty());
    /// ```
    pub fn with_tokenizer(mut self, tokenizer: Tokenizer) -> Self {
        self.tokenizer = tokenizer;
        self
    }

    /// Lowercases words (on by default). Stopwords are compared after this step.
    ///
    /// ```
    /// let a = slm_rag::TextAnalyzer::plain().with_lowercase(false);
    /// assert_eq!(a.terms("NASA"), vec!["NASA"]);
    /// ```
    pub fn with_lowercase(mut self, lowercase: bool) -> Self {
        self.lowercase = lowercase;
        self
    }

    /// Replaces the stopword list.
    ///
    /// ```
    /// let a = slm_rag::TextAnalyzer::plain().with_stopwords(["le", "la"]);
    /// assert_eq!(a.terms("la maison"), vec!["maison"]);
    /// ```
    pub fn with_stopwords<S: AsRef<str>>(mut self, words: impl IntoIterator<Item = S>) -> Self {
        self.stopwords = StopWords::from_iter(words);
        self
    }

    /// Keeps every word.
    ///
    /// ```
    /// let a = slm_rag::TextAnalyzer::english().without_stopwords();
    /// assert_eq!(a.terms("the"), vec!["the"]);
    /// ```
    pub fn without_stopwords(mut self) -> Self {
        self.stopwords = StopWords::default();
        self
    }

    /// Sets the stemmer.
    ///
    /// ```
    /// use slm_rag::{Stemming, TextAnalyzer};
    /// let a = TextAnalyzer::english().with_stemming(Stemming::None);
    /// assert_eq!(a.terms("running"), vec!["running"]);
    /// ```
    pub fn with_stemming(mut self, stemming: Stemming) -> Self {
        self.stemming = stemming;
        self
    }

    /// All terms of `text` (the same as [`Analyzer::terms`], without importing the trait).
    ///
    /// ```
    /// assert_eq!(slm_rag::TextAnalyzer::english().terms("Running dogs"), vec!["run", "dog"]);
    /// ```
    pub fn terms(&self, text: &str) -> Vec<String> {
        Analyzer::terms(self, text)
    }

    fn emit_word(&self, word: &str, buffer: &mut String, emit: &mut dyn FnMut(&str)) {
        if !self.lowercase {
            emit(word);
        } else if word.is_ascii() {
            buffer.clear();
            buffer.push_str(word);
            buffer.make_ascii_lowercase();
            emit(buffer);
        } else {
            buffer.clear();
            buffer.extend(word.chars().flat_map(char::to_lowercase));
            emit(buffer);
        }
    }
}

impl Analyzer for TextAnalyzer {
    fn split(&self, text: &str, emit: &mut dyn FnMut(&str)) {
        let mut buffer = String::new();
        match self.tokenizer {
            Tokenizer::UnicodeWords => {
                for word in text.unicode_words() {
                    self.emit_word(word, &mut buffer, emit);
                }
            }
            Tokenizer::Bm25s => {
                for word in word_char_runs(text) {
                    self.emit_word(word, &mut buffer, emit);
                }
            }
        }
    }

    fn normalize(&self, word: &str) -> Option<String> {
        if self.stopwords.contains(word) {
            return None;
        }
        match self.stemming {
            Stemming::None => Some(word.to_string()),
            Stemming::Snowball(language) => Some(
                frostem::Stemmer::new(language.algorithm())
                    .stem(word)
                    .into_owned(),
            ),
        }
    }

    fn config(&self) -> Option<TextAnalyzer> {
        Some(self.clone())
    }

    fn describe(&self) -> String {
        format!("{self:?}")
    }
}

/// Whether `c` is a regex `\w` character: a letter, a digit or `_` (Rust's Unicode
/// `Alphabetic` and `Numeric` properties, which Python's `str.isalnum` follows closely).
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Maximal runs of word characters that are at least two characters long: what
/// `re.findall(r"(?u)\b\w\w+\b", text)` returns.
fn word_char_runs(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        loop {
            let start = rest.find(is_word_char)?;
            let tail = &rest[start..];
            let len = tail.find(|c| !is_word_char(c)).unwrap_or(tail.len());
            let word = &tail[..len];
            rest = &tail[len..];
            let mut chars = word.chars();
            if chars.next().is_some() && chars.next().is_some() {
                return Some(word);
            }
        }
    })
}

/// A set of stopwords, stored sorted in files.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Vec<String>", into = "Vec<String>")]
struct StopWords(FxHashSet<String>);

impl StopWords {
    fn contains(&self, word: &str) -> bool {
        !self.0.is_empty() && self.0.contains(word)
    }
}

impl<S: AsRef<str>> FromIterator<S> for StopWords {
    fn from_iter<I: IntoIterator<Item = S>>(words: I) -> Self {
        Self(words.into_iter().map(|w| w.as_ref().to_string()).collect())
    }
}

impl From<Vec<String>> for StopWords {
    fn from(words: Vec<String>) -> Self {
        Self(words.into_iter().collect())
    }
}

impl From<StopWords> for Vec<String> {
    fn from(words: StopWords) -> Self {
        let mut words: Vec<String> = words.0.into_iter().collect();
        words.sort();
        words
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bm25s_runs_match_python_findall() {
        // Expected values are what Python's re.findall(r"(?u)\b\w\w+\b", s) returns.
        let runs: Vec<&str> = word_char_runs("a bc, d-ef_g 12 x9 é café ü").collect();
        assert_eq!(runs, vec!["bc", "ef_g", "12", "x9", "café"]);
        assert_eq!(word_char_runs("").count(), 0);
        assert_eq!(word_char_runs("!! ?").count(), 0);
    }

    #[test]
    fn stemming_matches_pystemmer_english() {
        // Stems checked against PyStemmer 3.1 (Snowball English), including words where
        // older Snowball English (rust-stemmers) differs.
        let a = TextAnalyzer::bm25s();
        assert_eq!(
            a.terms("generalization biomaterials inductive properties mapping"),
            vec!["general", "biomateri", "induct", "properti", "map"]
        );
        assert_eq!(
            a.terms("cardiologist universal international interval"),
            vec!["cardiolog", "universal", "internat", "interval"]
        );
    }

    #[test]
    fn stopwords_are_dropped_after_lowercasing() {
        let a = TextAnalyzer::english();
        assert!(a.terms("THE Of AND").is_empty());
        assert_eq!(a.terms("Theory"), vec!["theori"]);
    }

    #[test]
    fn non_latin_scripts_are_kept() {
        let a = TextAnalyzer::english();
        assert_eq!(a.terms("Ελληνικά κείμενα"), vec!["ελληνικά", "κείμενα"]);
        // Han characters are one word each under UAX #29.
        assert_eq!(a.terms("東京都"), vec!["東", "京", "都"]);
        let b = TextAnalyzer::bm25s();
        assert_eq!(b.terms("東京都 нет"), vec!["東京都", "нет"]);
    }

    #[test]
    fn stopword_config_round_trips_through_postcard() {
        let a = TextAnalyzer::english().with_stopwords(["x", "y"]);
        let bytes = postcard::to_stdvec(&a).unwrap();
        let b: TextAnalyzer = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(a, b);
        assert!(b.terms("x z").contains(&"z".to_string()));
    }
}

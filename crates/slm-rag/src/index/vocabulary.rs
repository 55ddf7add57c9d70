//! Terms and their ids, plus a cache from words to terms.

use rustc_hash::FxHashMap;

use crate::Analyzer;

/// A term's position in the vocabulary (and in the postings).
pub(crate) type TermId = u32;

/// The vocabulary: every term ever indexed, and which term each seen word normalizes to.
///
/// The word cache is what makes indexing fast: stemming runs once per distinct word. It is
/// not saved; a loaded index refills it as documents are added.
#[derive(Debug, Clone, Default)]
pub(crate) struct Vocabulary {
    terms: Vec<String>,
    ids: FxHashMap<String, TermId>,
    words: FxHashMap<String, Option<TermId>>,
}

impl Vocabulary {
    /// A vocabulary of these terms, in id order. Fails on a repeated term.
    pub(crate) fn from_terms(terms: Vec<String>) -> Result<Self, String> {
        let mut ids = FxHashMap::default();
        ids.reserve(terms.len());
        for (id, term) in terms.iter().enumerate() {
            let id = TermId::try_from(id).map_err(|_| "too many terms".to_string())?;
            if ids.insert(term.clone(), id).is_some() {
                return Err(format!("term {term:?} appears twice in the vocabulary"));
            }
        }
        Ok(Self {
            terms,
            ids,
            words: FxHashMap::default(),
        })
    }

    pub(crate) fn terms(&self) -> &[String] {
        &self.terms
    }

    pub(crate) fn len(&self) -> usize {
        self.terms.len()
    }

    /// What `word` normalized to when it was last indexed: `Some(None)` for a dropped word,
    /// `None` when the word was never seen.
    pub(crate) fn cached(&self, word: &str) -> Option<Option<TermId>> {
        self.words.get(word).copied()
    }

    /// Records that `word` normalizes to `term` (`None`: dropped), adding the term when new.
    pub(crate) fn insert_word(&mut self, word: &str, term: Option<String>) -> Option<TermId> {
        let term = term.map(|t| self.intern(t));
        self.words.insert(word.to_string(), term);
        term
    }

    /// The term of `word` if the vocabulary has it; never adds anything.
    pub(crate) fn lookup_word(&self, analyzer: &dyn Analyzer, word: &str) -> Option<TermId> {
        match self.words.get(word) {
            Some(term) => *term,
            None => analyzer
                .normalize(word)
                .and_then(|term| self.ids.get(&term).copied()),
        }
    }

    fn intern(&mut self, term: String) -> TermId {
        if let Some(id) = self.ids.get(&term) {
            return *id;
        }
        let id = self.terms.len() as TermId;
        self.ids.insert(term.clone(), id);
        self.terms.push(term);
        id
    }
}

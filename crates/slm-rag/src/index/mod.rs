//! The BM25 index: documents, postings, and precomputed scores.

mod bulk;
mod persist;
mod scores;
mod search;
mod vocabulary;

use std::fmt;
use std::sync::{Arc, OnceLock};

use rustc_hash::{FxHashMap, FxHashSet};

use crate::{Analyzer, Bm25Params, Document, RagError, Result, TextAnalyzer};
use scores::ScoreTable;
use vocabulary::{TermId, Vocabulary};

pub use search::Hit;

/// Where a document lives in the index. Slots only grow; deleted slots stay empty until the
/// index compacts them (keeping the order of the others, so ties still rank the same).
type Slot = u32;

/// The documents containing one term, by ascending slot, with the term's frequency in each.
#[derive(Debug, Clone, Default)]
struct PostingList {
    slots: Vec<Slot>,
    tfs: Vec<u32>,
}

/// An indexed document and its term frequencies (sorted by term), kept to delete it later.
#[derive(Debug, Clone)]
struct Entry {
    document: Document,
    terms: Vec<(TermId, u32)>,
}

/// A BM25 index over [`Document`]s, with add, delete, filters, parallel batch search and a
/// versioned file format.
///
/// Scores are precomputed per posting ("eager" scoring, as bm25s does) the first time a search
/// needs them after a change, so a query costs one addition per matching posting. Adding or
/// deleting documents marks them stale; the next search recomputes them (linear in the number
/// of postings, in parallel). Add documents in batches when you can.
///
/// Search returns documents that contain at least one query term, best first; ties go to the
/// document added first.
///
/// ```
/// use slm_rag::{Document, Filter, Index};
/// let mut index = Index::new();
/// index.add_documents([
///     Document::new("a", "Cats purr when they are content.").with_meta("kind", "pet"),
///     Document::new("b", "Tigers are large cats.").with_meta("kind", "wild"),
///     Document::new("c", "Dogs bark."),
/// ])?;
/// let hits = index.search("content cat", 10);
/// assert_eq!(hits[0].id(), "a");
/// assert_eq!(hits.len(), 2);
/// let wild = index.search_filtered("cats", 10, &Filter::eq("kind", "wild"));
/// assert_eq!(wild[0].id(), "b");
/// assert!(index.delete("a"));
/// assert_eq!(index.search("content", 10).len(), 0);
/// # Ok::<(), slm_rag::RagError>(())
/// ```
#[derive(Clone)]
pub struct Index {
    params: Bm25Params,
    analyzer: Arc<dyn Analyzer>,
    vocabulary: Vocabulary,
    postings: Vec<PostingList>,
    entries: Vec<Option<Entry>>,
    doc_lens: Vec<u32>,
    slot_of: FxHashMap<String, Slot>,
    total_len: u64,
    scores: OnceLock<ScoreTable>,
}

impl fmt::Debug for Index {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Index")
            .field("params", &self.params)
            .field("analyzer", &self.analyzer.describe())
            .field("documents", &self.len())
            .field("terms", &self.vocabulary.len())
            .finish()
    }
}

impl Default for Index {
    fn default() -> Self {
        Self::new()
    }
}

/// Configures an [`Index`]: its analyzer and BM25 parameters.
///
/// ```
/// use slm_rag::{Bm25Params, Bm25Variant, Index, TextAnalyzer};
/// let index = Index::builder()
///     .analyzer(TextAnalyzer::bm25s())
///     .params(Bm25Params::variant(Bm25Variant::Bm25Plus).with_delta(1.0))
///     .build()?;
/// assert!(index.is_empty());
/// # Ok::<(), slm_rag::RagError>(())
/// ```
#[derive(Debug, Clone)]
pub struct IndexBuilder {
    params: Bm25Params,
    analyzer: Arc<dyn Analyzer>,
}

impl IndexBuilder {
    /// Sets the analyzer (default: [`TextAnalyzer::english`]).
    ///
    /// ```
    /// let b = slm_rag::Index::builder().analyzer(slm_rag::TextAnalyzer::plain());
    /// assert!(b.build().is_ok());
    /// ```
    pub fn analyzer(mut self, analyzer: impl Analyzer + 'static) -> Self {
        self.analyzer = Arc::new(analyzer);
        self
    }

    /// Sets an analyzer shared with other indexes.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let shared: Arc<dyn slm_rag::Analyzer> = Arc::new(slm_rag::TextAnalyzer::english());
    /// assert!(slm_rag::Index::builder().shared_analyzer(shared).build().is_ok());
    /// ```
    pub fn shared_analyzer(mut self, analyzer: Arc<dyn Analyzer>) -> Self {
        self.analyzer = analyzer;
        self
    }

    /// Sets the BM25 parameters (default: Lucene, k1 = 1.5, b = 0.75).
    ///
    /// ```
    /// let b = slm_rag::Index::builder().params(slm_rag::Bm25Params::default().with_k1(-1.0));
    /// assert!(b.build().is_err());
    /// ```
    pub fn params(mut self, params: Bm25Params) -> Self {
        self.params = params;
        self
    }

    /// An empty index; fails when the parameters are out of range.
    ///
    /// ```
    /// assert!(slm_rag::Index::builder().build()?.is_empty());
    /// # Ok::<(), slm_rag::RagError>(())
    /// ```
    pub fn build(self) -> Result<Index> {
        self.params.validate()?;
        Ok(Index::empty(self.params, self.analyzer))
    }
}

impl Index {
    /// An empty index with the English analyzer and Lucene BM25 (k1 = 1.5, b = 0.75).
    ///
    /// ```
    /// assert_eq!(slm_rag::Index::new().len(), 0);
    /// ```
    pub fn new() -> Self {
        Self::empty(Bm25Params::default(), Arc::new(TextAnalyzer::english()))
    }

    /// A builder to choose the analyzer and BM25 parameters.
    ///
    /// ```
    /// let index = slm_rag::Index::builder().build()?;
    /// # Ok::<(), slm_rag::RagError>(())
    /// ```
    pub fn builder() -> IndexBuilder {
        IndexBuilder {
            params: Bm25Params::default(),
            analyzer: Arc::new(TextAnalyzer::english()),
        }
    }

    /// An index of these documents with the default settings.
    ///
    /// ```
    /// use slm_rag::{Document, Index};
    /// let index = Index::from_documents([Document::new("1", "hello world")])?;
    /// assert_eq!(index.len(), 1);
    /// # Ok::<(), slm_rag::RagError>(())
    /// ```
    pub fn from_documents(documents: impl IntoIterator<Item = Document>) -> Result<Self> {
        let mut index = Self::new();
        index.add_documents(documents)?;
        Ok(index)
    }

    fn empty(params: Bm25Params, analyzer: Arc<dyn Analyzer>) -> Self {
        Self {
            params,
            analyzer,
            vocabulary: Vocabulary::default(),
            postings: Vec::new(),
            entries: Vec::new(),
            doc_lens: Vec::new(),
            slot_of: FxHashMap::default(),
            total_len: 0,
            scores: OnceLock::new(),
        }
    }

    /// The BM25 parameters.
    ///
    /// ```
    /// assert_eq!(slm_rag::Index::new().params().k1, 1.5);
    /// ```
    pub fn params(&self) -> &Bm25Params {
        &self.params
    }

    /// The analyzer.
    ///
    /// ```
    /// use slm_rag::Analyzer;
    /// assert_eq!(slm_rag::Index::new().analyzer().terms("Cats"), vec!["cat"]);
    /// ```
    pub fn analyzer(&self) -> &dyn Analyzer {
        self.analyzer.as_ref()
    }

    /// How many documents are indexed.
    ///
    /// ```
    /// assert_eq!(slm_rag::Index::new().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.slot_of.len()
    }

    /// Whether no document is indexed.
    ///
    /// ```
    /// assert!(slm_rag::Index::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.slot_of.is_empty()
    }

    /// How many distinct terms were ever indexed.
    ///
    /// ```
    /// let index = slm_rag::Index::from_documents([slm_rag::Document::new("1", "red red fox")])?;
    /// assert_eq!(index.term_count(), 2);
    /// # Ok::<(), slm_rag::RagError>(())
    /// ```
    pub fn term_count(&self) -> usize {
        self.vocabulary.len()
    }

    /// The document with this id.
    ///
    /// ```
    /// let index = slm_rag::Index::from_documents([slm_rag::Document::new("1", "x y")])?;
    /// assert_eq!(index.get("1").unwrap().text, "x y");
    /// assert!(index.get("2").is_none());
    /// # Ok::<(), slm_rag::RagError>(())
    /// ```
    pub fn get(&self, id: &str) -> Option<&Document> {
        let slot = *self.slot_of.get(id)?;
        self.entry(slot).map(|e| &e.document)
    }

    /// Whether a document with this id is indexed.
    ///
    /// ```
    /// assert!(!slm_rag::Index::new().contains("x"));
    /// ```
    pub fn contains(&self, id: &str) -> bool {
        self.slot_of.contains_key(id)
    }

    /// The indexed documents, in the order they were added.
    ///
    /// ```
    /// use slm_rag::{Document, Index};
    /// let index = Index::from_documents([Document::new("1", "a"), Document::new("2", "b")])?;
    /// let ids: Vec<&str> = index.documents().map(|d| d.id.as_str()).collect();
    /// assert_eq!(ids, ["1", "2"]);
    /// # Ok::<(), slm_rag::RagError>(())
    /// ```
    pub fn documents(&self) -> impl Iterator<Item = &Document> {
        self.entries.iter().flatten().map(|e| &e.document)
    }

    /// The average document length in terms (0 for an empty index).
    ///
    /// ```
    /// use slm_rag::{Document, Index};
    /// let index = Index::from_documents([Document::new("1", "red fox"), Document::new("2", "dog")])?;
    /// assert_eq!(index.average_length(), 1.5);
    /// # Ok::<(), slm_rag::RagError>(())
    /// ```
    pub fn average_length(&self) -> f64 {
        if self.is_empty() {
            0.0
        } else {
            self.total_len as f64 / self.len() as f64
        }
    }

    /// Adds documents and returns how many were added.
    ///
    /// All or nothing: when an id is already indexed or repeated in the batch, nothing is added
    /// and [`RagError::DuplicateId`] names it.
    ///
    /// ```
    /// use slm_rag::{Document, Index, RagError};
    /// let mut index = Index::new();
    /// assert_eq!(index.add_documents([Document::new("1", "a b")])?, 1);
    /// let again = index.add_documents([Document::new("2", "c"), Document::new("1", "d")]);
    /// assert!(matches!(again, Err(RagError::DuplicateId(id)) if id == "1"));
    /// assert_eq!(index.len(), 1);
    /// # Ok::<(), slm_rag::RagError>(())
    /// ```
    pub fn add_documents(
        &mut self,
        documents: impl IntoIterator<Item = Document>,
    ) -> Result<usize> {
        let documents: Vec<Document> = documents.into_iter().collect();
        let mut batch_ids = FxHashSet::default();
        for document in &documents {
            if self.slot_of.contains_key(&document.id) || !batch_ids.insert(document.id.as_str()) {
                return Err(RagError::DuplicateId(document.id.clone()));
            }
        }
        if u32::try_from(self.entries.len() + documents.len()).is_err() {
            return Err(RagError::InvalidConfig(
                "an index holds at most 2^32 - 1 documents".into(),
            ));
        }
        let added = documents.len();
        let texts: Vec<&str> = documents.iter().map(|d| d.text.as_str()).collect();
        let analyzed = bulk::analyze(self.analyzer.as_ref(), &mut self.vocabulary, &texts);
        self.entries.reserve(added);
        self.doc_lens.reserve(added);
        for (document, terms) in documents.into_iter().zip(analyzed) {
            self.insert(Entry { document, terms });
        }
        self.scores = OnceLock::new();
        tracing::debug!(
            added,
            documents = self.len(),
            terms = self.term_count(),
            "indexed"
        );
        Ok(added)
    }

    /// Adds one document.
    ///
    /// ```
    /// let mut index = slm_rag::Index::new();
    /// index.add(slm_rag::Document::new("1", "hello"))?;
    /// assert!(index.contains("1"));
    /// # Ok::<(), slm_rag::RagError>(())
    /// ```
    pub fn add(&mut self, document: Document) -> Result<()> {
        self.add_documents([document]).map(|_| ())
    }

    /// Deletes the document with this id; returns whether it was indexed.
    ///
    /// ```
    /// let mut index = slm_rag::Index::from_documents([slm_rag::Document::new("1", "x")])?;
    /// assert!(index.delete("1"));
    /// assert!(!index.delete("1"));
    /// # Ok::<(), slm_rag::RagError>(())
    /// ```
    pub fn delete(&mut self, id: &str) -> bool {
        let Some(slot) = self.slot_of.remove(id) else {
            return false;
        };
        let Some(entry) = self.entries.get_mut(slot as usize).and_then(Option::take) else {
            return false;
        };
        for (term, _) in &entry.terms {
            let list = &mut self.postings[*term as usize];
            if let Ok(at) = list.slots.binary_search(&slot) {
                list.slots.remove(at);
                list.tfs.remove(at);
            }
        }
        self.total_len -= u64::from(self.doc_lens[slot as usize]);
        self.doc_lens[slot as usize] = 0;
        self.scores = OnceLock::new();
        if self.entries.len() > 1024 && self.entries.len() > 2 * self.len() {
            self.compact();
        }
        true
    }

    /// Appends an analyzed document in a new slot.
    fn insert(&mut self, entry: Entry) {
        let slot = self.entries.len() as Slot;
        let len: u32 = entry.terms.iter().map(|(_, tf)| tf).sum();
        if self.postings.len() < self.vocabulary.len() {
            self.postings
                .resize_with(self.vocabulary.len(), PostingList::default);
        }
        for &(term, tf) in &entry.terms {
            let list = &mut self.postings[term as usize];
            list.slots.push(slot);
            list.tfs.push(tf);
        }
        self.slot_of.insert(entry.document.id.clone(), slot);
        self.entries.push(Some(entry));
        self.doc_lens.push(len);
        self.total_len += u64::from(len);
    }

    /// Renumbers slots without gaps, keeping the documents' order.
    fn compact(&mut self) {
        let entries = std::mem::take(&mut self.entries);
        self.postings = vec![PostingList::default(); self.vocabulary.len()];
        self.doc_lens.clear();
        self.slot_of.clear();
        self.total_len = 0;
        for entry in entries.into_iter().flatten() {
            self.insert(entry);
        }
    }

    fn entry(&self, slot: Slot) -> Option<&Entry> {
        self.entries.get(slot as usize).and_then(Option::as_ref)
    }

    /// The precomputed scores, computing them if a change made them stale.
    fn score_table(&self) -> &ScoreTable {
        self.scores.get_or_init(|| {
            ScoreTable::compute(
                &self.params,
                &self.postings,
                &self.doc_lens,
                self.len() as u32,
                self.average_length(),
            )
        })
    }

    /// Computes the precomputed scores now rather than at the next search (e.g. right after a
    /// bulk load, so that the first query is not the one that pays).
    ///
    /// ```
    /// let index = slm_rag::Index::from_documents([slm_rag::Document::new("1", "x")])?;
    /// index.prepare();
    /// # Ok::<(), slm_rag::RagError>(())
    /// ```
    pub fn prepare(&self) {
        self.score_table();
    }
}

/// Counts repeated term ids: `[3, 1, 3]` → `[(1, 1), (3, 2)]`.
fn term_frequencies(words: &mut [TermId]) -> Vec<(TermId, u32)> {
    words.sort_unstable();
    let mut counts: Vec<(TermId, u32)> = Vec::new();
    for &term in words.iter() {
        match counts.last_mut() {
            Some((last, tf)) if *last == term => *tf += 1,
            _ => counts.push((term, 1)),
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn term_frequencies_counts_runs() {
        assert_eq!(term_frequencies(&mut [3, 1, 3]), vec![(1, 1), (3, 2)]);
        assert!(term_frequencies(&mut []).is_empty());
    }

    #[test]
    fn compaction_keeps_ranking_and_lookups() {
        let docs = (0..3000)
            .map(|i| Document::new(format!("d{i}"), format!("apple {}", "pie ".repeat(i % 7))));
        let mut index = Index::from_documents(docs).unwrap();
        for i in 0..2000 {
            assert!(index.delete(&format!("d{i}")));
        }
        assert!(index.entries.len() < 3000, "compaction ran");
        let hits = index.search("apple", 5);
        assert_eq!(hits.len(), 5);
        assert!(hits.iter().all(|h| h.id() >= "d2000"));
        assert!(index.get("d2500").is_some());
    }
}

//! What a [`crate::RagModel`] retrieves from.

use std::sync::{Arc, RwLock};

use crate::{Filter, Index, Passage, RagError, Result};

/// Finds the passages that best answer a query.
///
/// Implemented by [`Index`], by `RwLock<Index>` (to keep adding documents while serving), by
/// [`FilteredIndex`] and by `Arc`s of these.
///
/// ```
/// use slm_rag::{Document, Index, Retriever};
/// let index = Index::from_documents([Document::new("1", "Refunds take five days.")])?;
/// let passages = index.retrieve("how long do refunds take", 3)?;
/// assert_eq!(passages[0].id, "1");
/// # Ok::<(), slm_rag::RagError>(())
/// ```
pub trait Retriever: Send + Sync {
    /// The `k` best passages for `query`, best first.
    fn retrieve(&self, query: &str, k: usize) -> Result<Vec<Passage>>;

    /// A short name for stage records (default `"bm25"`).
    fn name(&self) -> String {
        "bm25".to_string()
    }
}

impl Retriever for Index {
    fn retrieve(&self, query: &str, k: usize) -> Result<Vec<Passage>> {
        Ok(self
            .search(query, k)
            .into_iter()
            .map(Passage::from)
            .collect())
    }
}

impl Retriever for RwLock<Index> {
    fn retrieve(&self, query: &str, k: usize) -> Result<Vec<Passage>> {
        let index = self
            .read()
            .map_err(|_| RagError::InvalidConfig("the index lock is poisoned".into()))?;
        index.retrieve(query, k)
    }
}

impl<R: Retriever + ?Sized> Retriever for Arc<R> {
    fn retrieve(&self, query: &str, k: usize) -> Result<Vec<Passage>> {
        (**self).retrieve(query, k)
    }

    fn name(&self) -> String {
        (**self).name()
    }
}

/// An index searched through a metadata filter.
///
/// ```
/// use std::sync::Arc;
/// use slm_rag::{Document, Filter, FilteredIndex, Index, Retriever};
/// let index = Arc::new(Index::from_documents([
///     Document::new("en", "refund policy").with_meta("lang", "en"),
///     Document::new("de", "refund Richtlinie").with_meta("lang", "de"),
/// ])?);
/// let english = FilteredIndex::new(index, Filter::eq("lang", "en"));
/// let ids: Vec<String> = english.retrieve("refund", 5)?.into_iter().map(|p| p.id).collect();
/// assert_eq!(ids, ["en"]);
/// # Ok::<(), slm_rag::RagError>(())
/// ```
#[derive(Debug, Clone)]
pub struct FilteredIndex {
    index: Arc<Index>,
    filter: Filter,
}

impl FilteredIndex {
    /// Searches `index` among documents that satisfy `filter`.
    ///
    /// ```
    /// let f = slm_rag::FilteredIndex::new(Default::default(), slm_rag::Filter::exists("x"));
    /// ```
    pub fn new(index: Arc<Index>, filter: Filter) -> Self {
        Self { index, filter }
    }
}

impl Retriever for FilteredIndex {
    fn retrieve(&self, query: &str, k: usize) -> Result<Vec<Passage>> {
        let hits = self.index.search_filtered(query, k, &self.filter);
        Ok(hits.into_iter().map(Passage::from).collect())
    }
}

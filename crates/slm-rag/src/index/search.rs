//! Top-k search: a score accumulator over the query terms' postings, then a partial sort.

use std::cell::RefCell;
use std::cmp::Ordering;

use rayon::prelude::*;
use serde::Serialize;

use super::{Index, Slot, TermId};
use crate::{Document, Filter};

/// One search result: a document and its BM25 score.
///
/// ```
/// let index = slm_rag::Index::from_documents([slm_rag::Document::new("1", "red fox")])?;
/// let hit = &index.search("fox", 1)[0];
/// assert_eq!(hit.id(), "1");
/// assert!(hit.score > 0.0);
/// # Ok::<(), slm_rag::RagError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Hit<'a> {
    /// The document.
    pub document: &'a Document,
    /// Its score for the query (higher is better).
    pub score: f32,
}

impl<'a> Hit<'a> {
    /// The document's id.
    ///
    /// ```
    /// let index = slm_rag::Index::from_documents([slm_rag::Document::new("7", "x")])?;
    /// assert_eq!(index.search("x", 1)[0].id(), "7");
    /// # Ok::<(), slm_rag::RagError>(())
    /// ```
    pub fn id(&self) -> &'a str {
        &self.document.id
    }
}

/// Per-thread buffers reused across queries: dense scores by slot, which slots were touched,
/// After each query the touched entries are reset, so the buffers are
/// always clean and a query never pays for zeroing the whole corpus.
#[derive(Default)]
struct Scratch {
    scores: Vec<f32>,
    seen: Vec<bool>,
    touched: Vec<Slot>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

impl Index {
    /// The `k` best documents for `query`, best first.
    ///
    /// An empty query, or one made only of stopwords or unknown words, returns nothing.
    ///
    /// ```
    /// use slm_rag::{Document, Index};
    /// let index = Index::from_documents([Document::new("1", "BM25 ranks documents")])?;
    /// assert_eq!(index.search("ranking", 5).len(), 1);
    /// assert!(index.search("", 5).is_empty());
    /// assert!(index.search("the of", 5).is_empty());
    /// # Ok::<(), slm_rag::RagError>(())
    /// ```
    pub fn search(&self, query: &str, k: usize) -> Vec<Hit<'_>> {
        self.search_inner(query, k, None)
    }

    /// The `k` best documents for `query` among those whose metadata satisfies `filter`.
    ///
    /// ```
    /// use slm_rag::{Document, Filter, Index};
    /// let index = Index::from_documents([
    ///     Document::new("1", "solar power").with_meta("year", 2010),
    ///     Document::new("2", "solar panels").with_meta("year", 2022),
    /// ])?;
    /// let recent = index.search_filtered("solar", 5, &Filter::range("year", Some(2020.0), None));
    /// assert_eq!(recent.len(), 1);
    /// assert_eq!(recent[0].id(), "2");
    /// # Ok::<(), slm_rag::RagError>(())
    /// ```
    pub fn search_filtered(&self, query: &str, k: usize, filter: &Filter) -> Vec<Hit<'_>> {
        self.search_inner(query, k, Some(filter))
    }

    /// Searches many queries in parallel (on rayon's thread pool); results are in query order.
    ///
    /// ```
    /// use slm_rag::{Document, Index};
    /// let index = Index::from_documents([Document::new("1", "red"), Document::new("2", "blue")])?;
    /// let results = index.search_batch(&["red", "blue", "green"], 3);
    /// assert_eq!(results[1][0].id(), "2");
    /// assert!(results[2].is_empty());
    /// # Ok::<(), slm_rag::RagError>(())
    /// ```
    pub fn search_batch<Q: AsRef<str> + Sync>(&self, queries: &[Q], k: usize) -> Vec<Vec<Hit<'_>>> {
        self.prepare();
        queries
            .par_iter()
            .map(|q| self.search_inner(q.as_ref(), k, None))
            .collect()
    }

    /// [`Index::search_batch`] with a metadata filter applied to every query.
    ///
    /// ```
    /// use slm_rag::{Document, Filter, Index};
    /// let index = Index::from_documents([Document::new("1", "red").with_meta("ok", true)])?;
    /// let results = index.search_batch_filtered(&["red"], 3, &Filter::eq("ok", false));
    /// assert!(results[0].is_empty());
    /// # Ok::<(), slm_rag::RagError>(())
    /// ```
    pub fn search_batch_filtered<Q: AsRef<str> + Sync>(
        &self,
        queries: &[Q],
        k: usize,
        filter: &Filter,
    ) -> Vec<Vec<Hit<'_>>> {
        self.prepare();
        queries
            .par_iter()
            .map(|q| self.search_inner(q.as_ref(), k, Some(filter)))
            .collect()
    }

    /// The query's terms that the index knows, repeated as often as they occur (bm25s counts
    /// a repeated query word once per occurrence).
    fn query_terms(&self, query: &str) -> Vec<TermId> {
        let mut terms = Vec::new();
        let analyzer = self.analyzer.as_ref();
        analyzer.split(query, &mut |word| {
            terms.extend(self.vocabulary.lookup_word(analyzer, word));
        });
        terms
    }

    fn search_inner(&self, query: &str, k: usize, filter: Option<&Filter>) -> Vec<Hit<'_>> {
        if k == 0 || self.is_empty() {
            return Vec::new();
        }
        let terms = self.query_terms(query);
        if terms.is_empty() {
            return Vec::new();
        }
        let ranked = SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut scratch) => self.rank(&terms, k, filter, &mut scratch),
            Err(_) => self.rank(&terms, k, filter, &mut Scratch::default()),
        });
        let table = self.score_table();
        let absent: f32 = terms.iter().map(|&t| table.absent[t as usize]).sum();
        ranked
            .into_iter()
            .filter_map(|(score, slot)| {
                let entry = self.entry(slot)?;
                Some(Hit {
                    document: &entry.document,
                    score: score + absent,
                })
            })
            .collect()
    }

    /// Accumulates the terms' contributions and returns the top `k` `(score, slot)` pairs.
    ///
    /// Two ways to find the matched documents: when the query's postings are few compared with
    /// the corpus, remember which slots were touched; when they are many (and every contribution
    /// is positive, so "matched" means "score > 0"), skip that bookkeeping and scan all slots.
    fn rank(
        &self,
        terms: &[TermId],
        k: usize,
        filter: Option<&Filter>,
        scratch: &mut Scratch,
    ) -> Vec<(f32, Slot)> {
        let table = self.score_table();
        let slots = self.entries.len();
        if scratch.scores.len() < slots {
            scratch.scores.resize(slots, 0.0);
            scratch.seen.resize(slots, false);
        }
        let Scratch {
            scores,
            seen,
            touched,
        } = scratch;
        let terms = with_multiplicity(terms);
        let postings: usize = terms
            .iter()
            .map(|&(t, _)| self.postings[t as usize].slots.len())
            .sum();
        let dense = table.all_positive && postings * 4 >= slots;
        for &(term, times) in &terms {
            let list = &self.postings[term as usize].slots;
            let contributions = &table.contributions[term as usize];
            let factor = times as f32;
            for (&slot, &contribution) in list.iter().zip(contributions.iter()) {
                let s = slot as usize;
                if !dense && !seen[s] {
                    seen[s] = true;
                    touched.push(slot);
                }
                scores[s] += if times == 1 {
                    contribution
                } else {
                    contribution * factor
                };
            }
        }
        let mut best = TopK::new(k);
        let keep = |slot: Slot| {
            filter.is_none_or(|f| {
                self.entry(slot)
                    .is_some_and(|e| f.matches(&e.document.metadata))
            })
        };
        let offer = |best: &mut TopK, slot: Slot, score: f32| {
            if best.would_keep(score) && keep(slot) {
                best.push(score, slot);
            }
        };
        if dense {
            // Slots ascend, so a later slot with an equal score never ranks higher: a strict
            // comparison with the current k-th best score is exact, and it is mostly false once
            // the top k fills, which keeps the branch predictable.
            let mut threshold = 0.0f32;
            for (s, &score) in scores[..slots].iter().enumerate() {
                if score > threshold {
                    offer(&mut best, s as Slot, score);
                    threshold = best.threshold();
                }
            }
            scores[..slots].fill(0.0);
        } else {
            for &slot in touched.iter() {
                let s = slot as usize;
                offer(&mut best, slot, scores[s]);
                scores[s] = 0.0;
                seen[s] = false;
            }
            touched.clear();
        }
        best.into_sorted()
    }
}

/// Sorts term ids and counts repeats: `[5, 2, 5]` → `[(2, 1), (5, 2)]`.
fn with_multiplicity(terms: &[TermId]) -> Vec<(TermId, u32)> {
    let mut sorted = terms.to_vec();
    sorted.sort_unstable();
    let mut out: Vec<(TermId, u32)> = Vec::with_capacity(sorted.len());
    for term in sorted {
        match out.last_mut() {
            Some((last, n)) if *last == term => *n += 1,
            _ => out.push((term, 1)),
        }
    }
    out
}

/// Best first: higher score, then lower slot (the document added first).
fn by_rank(a: &(f32, Slot), b: &(f32, Slot)) -> Ordering {
    b.0.total_cmp(&a.0).then(a.1.cmp(&b.1))
}

/// The `k` best candidates: a buffer of up to `2k` that is cut back to the best `k` (one
/// quickselect) whenever it fills, raising the score later candidates must reach. Most
/// candidates then fail one predictable comparison, which is what makes top-k cheap.
struct TopK {
    k: usize,
    buffer: Vec<(f32, Slot)>,
    /// The k-th best score after the last cut (`None` before the first).
    floor: Option<f32>,
}

impl TopK {
    fn new(k: usize) -> Self {
        Self {
            k,
            buffer: Vec::with_capacity(2 * k.min(1 << 16)),
            floor: None,
        }
    }

    /// Whether a candidate can still enter the top k. Ties with the floor may (a lower slot
    /// wins a tie), so they are kept for the final cut.
    fn would_keep(&self, score: f32) -> bool {
        self.floor.is_none_or(|floor| score >= floor)
    }

    /// A score candidates scanned in ascending slot order must exceed: they lose ties.
    fn threshold(&self) -> f32 {
        self.floor.map_or(0.0, |floor| floor.max(0.0))
    }

    fn push(&mut self, score: f32, slot: Slot) {
        self.buffer.push((score, slot));
        if self.buffer.len() >= self.k.max(32).saturating_mul(2) {
            self.cut();
        }
    }

    /// Keeps the best `k` in the buffer and raises the floor to the k-th best score.
    fn cut(&mut self) {
        if self.buffer.len() > self.k {
            self.buffer.select_nth_unstable_by(self.k - 1, by_rank);
            self.buffer.truncate(self.k);
            self.floor = Some(self.buffer[self.k - 1].0);
        }
    }

    fn into_sorted(mut self) -> Vec<(f32, Slot)> {
        self.cut();
        self.buffer.sort_unstable_by(by_rank);
        self.buffer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_orders_by_score_then_slot() {
        let mut best = TopK::new(3);
        for (score, slot) in [(1.0, 4), (3.0, 2), (3.0, 1), (2.0, 0), (0.5, 3)] {
            if best.would_keep(score) {
                best.push(score, slot);
            }
        }
        assert_eq!(best.into_sorted(), vec![(3.0, 1), (3.0, 2), (2.0, 0)]);
        let mut one = TopK::new(5);
        one.push(1.0, 0);
        assert_eq!(one.into_sorted(), vec![(1.0, 0)]);
    }

    #[test]
    fn repeated_terms_are_counted() {
        assert_eq!(with_multiplicity(&[5, 2, 5]), vec![(2, 1), (5, 2)]);
    }
}

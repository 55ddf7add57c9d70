//! Precomputed ("eager") BM25 scores: one `f32` per posting.

use rayon::prelude::*;

use super::PostingList;
use crate::Bm25Params;

/// Per term: each posting's score contribution, aligned with the posting list, and the score
/// every document gets for the term when it lacks it (BM25L and BM25+ only, else 0).
///
/// For BM25L/BM25+ the stored contribution is `idf·tfc(tf) − idf·tfc(0)`, and search adds the
/// query's summed `idf·tfc(0)` back, so a posting costs one addition for every variant.
#[derive(Debug, Clone, Default)]
pub(super) struct ScoreTable {
    pub(super) contributions: Vec<Box<[f32]>>,
    pub(super) absent: Vec<f32>,
    /// Whether every contribution is > 0, so that a document matched a query term exactly
    /// when its accumulated score is > 0.
    pub(super) all_positive: bool,
}

impl ScoreTable {
    pub(super) fn compute(
        params: &Bm25Params,
        postings: &[PostingList],
        doc_lens: &[u32],
        documents: u32,
        avg_len: f64,
    ) -> Self {
        let scores_absent = params.scores_absent_terms();
        let (contributions, absent): (Vec<Box<[f32]>>, Vec<f32>) = postings
            .par_iter()
            .with_min_len(256)
            .map(|list| {
                let df = list.slots.len() as u32;
                if df == 0 {
                    return (Box::default(), 0.0);
                }
                let idf = params.idf(df, documents);
                let absent = if scores_absent {
                    idf * params.tfc(0.0, avg_len, avg_len)
                } else {
                    0.0
                };
                let contributions = list
                    .slots
                    .iter()
                    .zip(&list.tfs)
                    .map(|(&slot, &tf)| {
                        let len = f64::from(doc_lens[slot as usize]);
                        (idf * params.tfc(f64::from(tf), len, avg_len) - absent) as f32
                    })
                    .collect();
                (contributions, absent as f32)
            })
            .unzip();
        let all_positive = contributions.iter().all(|c| c.iter().all(|&x| x > 0.0));
        Self {
            contributions,
            absent,
            all_positive,
        }
    }
}

//! Retrieval quality metrics, as trec_eval (and so BEIR and bm25s) computes them.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::Qrels;

/// nDCG@k of one ranked list: gains are the judged grades (≤ 0 counts as 0), discounted by
/// `log2(rank + 1)`, normalized by the ideal ranking of all judged documents.
///
/// ```
/// use std::collections::HashMap;
/// let judged = HashMap::from([("a".to_string(), 1), ("b".to_string(), 1)]);
/// assert_eq!(slm_rag::ndcg_at_k(&["a", "b", "c"], &judged, 10), 1.0);
/// assert!(slm_rag::ndcg_at_k(&["c", "a"], &judged, 10) < 1.0);
/// assert_eq!(slm_rag::ndcg_at_k(&["c"], &judged, 10), 0.0);
/// ```
pub fn ndcg_at_k<S: AsRef<str>>(ranked: &[S], judged: &HashMap<String, i32>, k: usize) -> f64 {
    let gain = |doc: &str| f64::from(judged.get(doc).copied().unwrap_or(0).max(0));
    let discount = |rank: usize| (rank as f64 + 2.0).log2();
    let dcg: f64 = ranked
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, doc)| gain(doc.as_ref()) / discount(i))
        .sum();
    let mut ideal: Vec<f64> = judged
        .values()
        .map(|&g| f64::from(g.max(0)))
        .filter(|&g| g > 0.0)
        .collect();
    ideal.sort_by(|a, b| b.total_cmp(a));
    let idcg: f64 = ideal
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, g)| g / discount(i))
        .sum();
    if idcg == 0.0 { 0.0 } else { dcg / idcg }
}

/// Recall@k: the share of relevant documents (grade > 0) found in the first `k`.
///
/// ```
/// use std::collections::HashMap;
/// let judged = HashMap::from([("a".to_string(), 1), ("b".to_string(), 1)]);
/// assert_eq!(slm_rag::recall_at_k(&["a", "x"], &judged, 100), 0.5);
/// ```
pub fn recall_at_k<S: AsRef<str>>(ranked: &[S], judged: &HashMap<String, i32>, k: usize) -> f64 {
    let relevant = judged.values().filter(|&&g| g > 0).count();
    if relevant == 0 {
        return 0.0;
    }
    let found = ranked
        .iter()
        .take(k)
        .filter(|doc| judged.get(doc.as_ref()).is_some_and(|&g| g > 0))
        .count();
    found as f64 / relevant as f64
}

/// MRR@k: `1 / rank` of the first relevant document within the first `k`, else 0.
///
/// ```
/// use std::collections::HashMap;
/// let judged = HashMap::from([("b".to_string(), 1)]);
/// assert_eq!(slm_rag::mrr_at_k(&["a", "b"], &judged, 10), 0.5);
/// assert_eq!(slm_rag::mrr_at_k(&["a", "b"], &judged, 1), 0.0);
/// ```
pub fn mrr_at_k<S: AsRef<str>>(ranked: &[S], judged: &HashMap<String, i32>, k: usize) -> f64 {
    ranked
        .iter()
        .take(k)
        .position(|doc| judged.get(doc.as_ref()).is_some_and(|&g| g > 0))
        .map_or(0.0, |i| 1.0 / (i as f64 + 1.0))
}

/// Mean nDCG@10, Recall@100 and MRR@10 over the judged queries.
///
/// ```
/// use std::collections::HashMap;
/// let qrels = HashMap::from([("q".to_string(), HashMap::from([("a".to_string(), 1)]))]);
/// let run = HashMap::from([("q".to_string(), vec!["a".to_string()])]);
/// let s = slm_rag::RetrievalScores::evaluate(&run, &qrels);
/// assert_eq!((s.ndcg_at_10, s.recall_at_100, s.mrr_at_10, s.queries), (1.0, 1.0, 1.0, 1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct RetrievalScores {
    /// Mean nDCG@10.
    pub ndcg_at_10: f64,
    /// Mean Recall@100.
    pub recall_at_100: f64,
    /// Mean MRR@10.
    pub mrr_at_10: f64,
    /// How many queries were averaged.
    pub queries: usize,
}

impl RetrievalScores {
    /// Scores a run (query id → ranked document ids) against judgements. Every judged query
    /// with at least one relevant document counts; a query missing from the run scores 0.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// let qrels = HashMap::from([("q".to_string(), HashMap::from([("a".to_string(), 1)]))]);
    /// let run: HashMap<String, Vec<String>> = HashMap::new();
    /// assert_eq!(slm_rag::RetrievalScores::evaluate(&run, &qrels).ndcg_at_10, 0.0);
    /// ```
    pub fn evaluate<S: AsRef<str>>(run: &HashMap<String, Vec<S>>, qrels: &Qrels) -> Self {
        let mut scores = Self::default();
        for (query, judged) in qrels {
            if !judged.values().any(|&g| g > 0) {
                continue;
            }
            let ranked: &[S] = run.get(query).map_or(&[], Vec::as_slice);
            scores.ndcg_at_10 += ndcg_at_k(ranked, judged, 10);
            scores.recall_at_100 += recall_at_k(ranked, judged, 100);
            scores.mrr_at_10 += mrr_at_k(ranked, judged, 10);
            scores.queries += 1;
        }
        if scores.queries > 0 {
            let n = scores.queries as f64;
            scores.ndcg_at_10 /= n;
            scores.recall_at_100 /= n;
            scores.mrr_at_10 /= n;
        }
        scores
    }
}

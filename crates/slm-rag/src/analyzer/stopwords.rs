//! Stopword lists.

/// Lucene's default English stopwords (`EnglishAnalyzer.ENGLISH_STOP_WORDS_SET`), the 33 words
/// bm25s also uses by default.
///
/// ```
/// assert_eq!(slm_rag::LUCENE_ENGLISH_STOPWORDS.len(), 33);
/// assert!(slm_rag::LUCENE_ENGLISH_STOPWORDS.contains(&"the"));
/// ```
pub const LUCENE_ENGLISH_STOPWORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with",
];

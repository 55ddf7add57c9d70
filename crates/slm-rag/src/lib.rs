//! # slm-rag
//!
//! Retrieval-augmented generation for `slm`: a BM25 index that matches bm25s' quality and
//! beats its speed, chunking, cited context, and [`RagModel`], a [`slm_core::ChatModel`] that
//! answers from retrieved passages and can escalate to a larger model.
//!
//! ## Tutorial
//!
//! Chunk documents, index the chunks, and ground a model on them:
//!
//! ```
//! use std::sync::Arc;
//! use slm_core::{ChatModel, ChatRequest, ScriptedModel};
//! use slm_rag::{Chunker, Document, Escalation, Index, RagModel};
//!
//! # futures::executor::block_on(async {
//! // 1. Split long documents into overlapping passages that remember where they came from.
//! let chunker = Chunker::sentences(2, 1)?;
//! let handbook = Document::new("handbook", "Refunds are paid within five days. \
//!     Shipping is free above 50 EUR. Returns need a receipt.");
//! let chunks = chunker.chunk_document(&handbook);
//!
//! // 2. Index them (BM25, Lucene variant, English analyzer by default).
//! let mut index = Index::new();
//! index.add_documents(chunks.into_iter().map(|c| c.into_document()))?;
//! let hits = index.search("how fast are refunds paid", 3);
//! assert_eq!(hits[0].id(), "handbook#0");
//!
//! // 3. Answer with a (here scripted) local model; a larger model takes over when the local
//! //    one says the context is insufficient.
//! let local = ScriptedModel::new("phi-4-mini").reply("Within five days [1].");
//! let large = Arc::new(ScriptedModel::new("gpt-4o"));
//! let rag = RagModel::new(local, index).top_k(3).escalation(Escalation::to(large));
//! let answer = rag.answer(ChatRequest::builder().user("When are refunds paid?").build()).await?;
//! assert!(answer.text().starts_with("Within five days [1]."));
//! assert_eq!(answer.cited()[0].passage.id, "handbook#0");
//! assert_eq!(answer.escalated, None);
//! # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
//! ```
//!
//! Evaluate retrieval on a BEIR dataset:
//!
//! ```no_run
//! use std::collections::HashMap;
//! use slm_rag::{BeirDataset, Index, RetrievalScores, TextAnalyzer};
//!
//! let data = BeirDataset::load("../shared/data/scifact")?;
//! let mut index = Index::builder().analyzer(TextAnalyzer::bm25s()).build()?;
//! index.add_documents(data.documents())?;
//! let texts: Vec<&str> = data.queries.iter().map(|q| q.text.as_str()).collect();
//! let run: HashMap<String, Vec<String>> = data.queries.iter()
//!     .zip(index.search_batch(&texts, 100))
//!     .map(|(q, hits)| (q.id.clone(), hits.iter().map(|h| h.id().to_string()).collect()))
//!     .collect();
//! println!("nDCG@10 = {:.3}", RetrievalScores::evaluate(&run, &data.qrels).ndcg_at_10);
//! # Ok::<(), slm_rag::RagError>(())
//! ```
//!
//! ## Design decisions
//!
//! - **bm25s' formulas, Lucene's defaults.** [`Bm25Params`] implements the five variants
//!   exactly as bm25s does (Lucene IDF, k1 = 1.5, b = 0.75 by default), and
//!   [`TextAnalyzer::bm25s`] reproduces its tokenizer, so SciFact scores match bm25s.
//! - **Current Snowball stemmers.** Stemming uses [frostem](https://docs.rs/frostem), which
//!   tracks Snowball upstream and stems all 35,995 distinct SciFact words exactly as PyStemmer 3
//!   (bm25s' stemmer) does; rust-stemmers implements an older Snowball English and differs on
//!   75 of them (`-ologist`, `inter-`, `univers-`).
//! - **Analysis is split + per-word normalize.** An [`Analyzer`] cuts text into words and maps
//!   each word to a term; the mapping is cached per distinct word, so stemming runs once per
//!   word of the vocabulary, not once per occurrence.
//! - **Eager scores, recomputed lazily.** Each posting stores its precomputed BM25 contribution
//!   (like bm25s' sparse matrix), so a query is additions into a reusable per-thread accumulator
//!   plus a partial sort. Unlike bm25s, documents can be added and deleted: a change marks the
//!   scores stale and the next search recomputes them in parallel.
//! - **A small, checked file format.** A 24-byte header (magic, version, length, CRC-32) and a
//!   [postcard](https://docs.rs/postcard) payload: postcard has a documented, stable wire
//!   format and compact varints, and is maintained (bincode is not, RUSTSEC-2025-0141). Files
//!   store documents and term counts only; postings are rebuilt on load, so a file cannot
//!   hold an inconsistent index, and every defect is a typed [`RagError`].
//! - **RAG is just another `ChatModel`.** [`RagModel`] nests with `slm-core`'s compositions;
//!   its citations come back as data ([`RagModel::answer`]) and, by default, as a `Sources:`
//!   list at the end of the text, so the response stays a plain `ChatResponse`.
//! - **No passage, no local answer.** A passage grounds an answer only when its BM25 score
//!   reaches [`DEFAULT_MIN_SCORE`] (configurable; question words such as "what" are not
//!   searched for). When none does, the local model is never asked: the answer is a
//!   configurable "not in the documents" reply with zero tokens, or the escalation model's.
//!   A small model given no passage invents an answer; it cannot be instructed out of it.
//! - **Citations are what the answer cites.** The `[n]` markers in the answer are parsed:
//!   [`RagAnswer::citations`] holds only the passages named (markers naming no passage are
//!   reported), [`RagAnswer::passages`] everything the model was given.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod analyzer;
mod beir;
mod bm25;
mod chunk;
mod context;
mod document;
mod error;
mod filter;
#[doc(hidden)]
pub mod fuzzing;
mod index;
mod metrics;
mod rag_model;
mod retriever;

pub use analyzer::{
    Analyzer, LUCENE_ENGLISH_STOPWORDS, Language, Stemming, TextAnalyzer, Tokenizer,
};
pub use beir::{BeirDataset, BeirDocument, BeirQuery, Qrels};
pub use bm25::{Bm25Params, Bm25Variant};
pub use chunk::{Chunk, ChunkBy, Chunker};
pub use context::{
    Budget, Citation, Cited, Context, ContextBuilder, Passage, TokenCounter, citation_markers,
};
pub use document::{Document, MetaValue, Metadata};
pub use error::{RagError, Result};
pub use filter::Filter;
pub use index::{Hit, Index, IndexBuilder};
pub use metrics::{RetrievalScores, mrr_at_k, ndcg_at_k, recall_at_k};
pub use rag_model::{
    DEFAULT_INSTRUCTION, DEFAULT_MIN_RELATIVE_SCORE, DEFAULT_MIN_SCORE, Escalation,
    EscalationReason, GROUNDED_INSTRUCTION, Grounded, NOT_IN_DOCUMENTS, NOT_IN_DOCUMENTS_STAGE,
    QUESTION_WORDS, RagAnswer, RagModel, RagOutcome,
};
pub use retriever::{FilteredIndex, Retriever};

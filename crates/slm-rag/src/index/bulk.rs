//! Analyzing a batch of documents on all cores.
//!
//! 1. In parallel, each chunk of documents is split into words, numbered by a chunk-local
//!    table of distinct words.
//! 2. Each chunk-distinct word is looked up in the vocabulary's word cache; words never seen
//!    before are collected once across chunks.
//! 3. In parallel, the new words are normalized (stemmed): once per distinct word.
//! 4. The new terms enter the vocabulary, and, in parallel, each document's local word ids
//!    become `(term, frequency)` pairs.

use rayon::prelude::*;
use rustc_hash::FxHashMap;

use super::term_frequencies;
use super::vocabulary::{TermId, Vocabulary};
use crate::Analyzer;

/// The words of a chunk of documents: distinct words in first-seen order, and each
/// document's words as indexes into them.
struct ChunkWords {
    words: Vec<String>,
    documents: Vec<Vec<u32>>,
}

/// What a chunk-distinct word resolves to: a cached term (or stopword), or the n-th new word.
#[derive(Clone, Copy)]
enum Resolved {
    Known(Option<TermId>),
    New(usize),
}

/// Each text's `(term, frequency)` pairs, sorted by term, adding new terms to `vocabulary`.
pub(super) fn analyze(
    analyzer: &dyn Analyzer,
    vocabulary: &mut Vocabulary,
    texts: &[&str],
) -> Vec<Vec<(TermId, u32)>> {
    let chunk_len = texts
        .len()
        .div_ceil(2 * rayon::current_num_threads())
        .clamp(16, 4096);
    let chunks: Vec<ChunkWords> = texts
        .par_chunks(chunk_len)
        .map(|c| split_chunk(analyzer, c))
        .collect();

    let mut new_words: Vec<&str> = Vec::new();
    let mut new_index: FxHashMap<&str, usize> = FxHashMap::default();
    let resolved: Vec<Vec<Resolved>> = chunks
        .iter()
        .map(|chunk| {
            chunk
                .words
                .iter()
                .map(|word| match vocabulary.cached(word) {
                    Some(term) => Resolved::Known(term),
                    None => Resolved::New(*new_index.entry(word.as_str()).or_insert_with(|| {
                        new_words.push(word.as_str());
                        new_words.len() - 1
                    })),
                })
                .collect()
        })
        .collect();

    let normalized: Vec<Option<String>> = new_words
        .par_iter()
        .map(|w| analyzer.normalize(w))
        .collect();
    let new_terms: Vec<Option<TermId>> = new_words
        .iter()
        .zip(normalized)
        .map(|(word, term)| vocabulary.insert_word(word, term))
        .collect();

    chunks
        .par_iter()
        .zip(resolved)
        .flat_map_iter(|(chunk, resolved)| {
            let terms: Vec<Option<TermId>> = resolved
                .iter()
                .map(|r| match *r {
                    Resolved::Known(term) => term,
                    Resolved::New(i) => new_terms[i],
                })
                .collect();
            chunk.documents.iter().map(move |local| {
                let mut ids: Vec<TermId> =
                    local.iter().filter_map(|&w| terms[w as usize]).collect();
                term_frequencies(&mut ids)
            })
        })
        .collect()
}

fn split_chunk(analyzer: &dyn Analyzer, texts: &[&str]) -> ChunkWords {
    let mut index: FxHashMap<String, u32> = FxHashMap::default();
    index.reserve(texts.len() * 16);
    let documents = texts
        .iter()
        .map(|text| {
            let mut ids = Vec::with_capacity(text.len() / 6);
            analyzer.split(text, &mut |word| {
                let id = match index.get(word) {
                    Some(&id) => id,
                    None => {
                        let id = index.len() as u32;
                        index.insert(word.to_string(), id);
                        id
                    }
                };
                ids.push(id);
            });
            ids
        })
        .collect();
    let mut words = vec![String::new(); index.len()];
    for (word, id) in index {
        words[id as usize] = word;
    }
    ChunkWords { words, documents }
}

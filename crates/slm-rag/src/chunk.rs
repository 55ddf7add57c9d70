//! Splitting long documents into overlapping passages.

use serde::{Deserialize, Serialize};
use unicode_segmentation::UnicodeSegmentation;

use crate::{Document, MetaValue, Metadata, RagError, Result};

/// What a [`Chunker`] counts.
///
/// ```
/// assert_ne!(slm_rag::ChunkBy::Words, slm_rag::ChunkBy::Sentences);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChunkBy {
    /// Unicode words (UAX #29).
    Words,
    /// Unicode sentences (UAX #29).
    Sentences,
}

/// Splits text into passages of `size` words or sentences, consecutive passages sharing
/// `overlap` of them.
///
/// A passage's text is the exact slice of the source from its first unit to its last, so
/// `&source[chunk.start..chunk.end] == chunk.text` (byte offsets).
///
/// ```
/// use slm_rag::Chunker;
/// let chunker = Chunker::words(4, 1)?;
/// let chunks = chunker.chunk("doc", "one two three four five six seven");
/// let texts: Vec<&str> = chunks.iter().map(|c| c.text.as_str()).collect();
/// assert_eq!(texts, ["one two three four", "four five six seven"]);
/// assert_eq!(chunks[1].id(), "doc#1");
/// assert_eq!(chunks[1].start, 14);
/// # Ok::<(), slm_rag::RagError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunker {
    by: ChunkBy,
    size: usize,
    overlap: usize,
}

/// One passage of a source document.
///
/// ```
/// let c = slm_rag::Chunker::sentences(1, 0)?.chunk("faq", "Hi there. Bye now.");
/// assert_eq!(c[1].text, "Bye now.");
/// assert_eq!(c[1].source_id, "faq");
/// # Ok::<(), slm_rag::RagError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chunk {
    /// The id of the document it comes from.
    pub source_id: String,
    /// Its position among the document's chunks (0-based).
    pub index: usize,
    /// Byte offset of its first character in the source text.
    pub start: usize,
    /// Byte offset just past its last character in the source text.
    pub end: usize,
    /// The passage.
    pub text: String,
    /// The source document's metadata.
    #[serde(default)]
    pub metadata: Metadata,
}

impl Chunk {
    /// `"{source_id}#{index}"`: the id the chunk gets as a [`Document`].
    ///
    /// ```
    /// let c = &slm_rag::Chunker::words(10, 0)?.chunk("a", "x")[0];
    /// assert_eq!(c.id(), "a#0");
    /// # Ok::<(), slm_rag::RagError>(())
    /// ```
    pub fn id(&self) -> String {
        format!("{}#{}", self.source_id, self.index)
    }

    /// The chunk as a document to index, its metadata extended with `source_id`, `chunk`,
    /// `start` and `end`.
    ///
    /// ```
    /// let c = slm_rag::Chunker::words(10, 0)?.chunk("a", "x y").remove(0);
    /// let d = c.into_document();
    /// assert_eq!(d.id, "a#0");
    /// assert_eq!(d.metadata["source_id"].as_str(), Some("a"));
    /// # Ok::<(), slm_rag::RagError>(())
    /// ```
    pub fn into_document(self) -> Document {
        let id = self.id();
        let mut metadata = self.metadata;
        metadata.insert("source_id".into(), MetaValue::Text(self.source_id));
        metadata.insert("chunk".into(), self.index.into());
        metadata.insert("start".into(), self.start.into());
        metadata.insert("end".into(), self.end.into());
        Document {
            id,
            text: self.text,
            metadata,
        }
    }
}

impl Chunker {
    /// Passages of `size` words, `overlap` of them shared with the previous passage.
    ///
    /// ```
    /// assert!(slm_rag::Chunker::words(3, 3).is_err());
    /// assert!(slm_rag::Chunker::words(0, 0).is_err());
    /// ```
    pub fn words(size: usize, overlap: usize) -> Result<Self> {
        Self::new(ChunkBy::Words, size, overlap)
    }

    /// Passages of `size` sentences, `overlap` of them shared with the previous passage.
    ///
    /// ```
    /// assert!(slm_rag::Chunker::sentences(3, 1).is_ok());
    /// ```
    pub fn sentences(size: usize, overlap: usize) -> Result<Self> {
        Self::new(ChunkBy::Sentences, size, overlap)
    }

    /// A chunker; `size` must be positive and `overlap` smaller than `size`.
    ///
    /// ```
    /// let c = slm_rag::Chunker::new(slm_rag::ChunkBy::Words, 100, 20)?;
    /// # Ok::<(), slm_rag::RagError>(())
    /// ```
    pub fn new(by: ChunkBy, size: usize, overlap: usize) -> Result<Self> {
        if size == 0 || overlap >= size {
            return Err(RagError::InvalidConfig(format!(
                "chunk size must be positive and overlap smaller than it (size {size}, overlap {overlap})"
            )));
        }
        Ok(Self { by, size, overlap })
    }

    /// Splits `text` of document `source_id`. Text without any word gives no chunk.
    ///
    /// ```
    /// assert!(slm_rag::Chunker::words(5, 0)?.chunk("a", "  ...  ").is_empty());
    /// # Ok::<(), slm_rag::RagError>(())
    /// ```
    pub fn chunk(&self, source_id: &str, text: &str) -> Vec<Chunk> {
        let units = self.units(text);
        let step = self.size - self.overlap;
        let mut chunks = Vec::new();
        let mut first = 0;
        while first < units.len() {
            let last = (first + self.size).min(units.len()) - 1;
            let (start, end) = (units[first].0, units[last].1);
            chunks.push(Chunk {
                source_id: source_id.to_string(),
                index: chunks.len(),
                start,
                end,
                text: text[start..end].to_string(),
                metadata: Metadata::new(),
            });
            if last + 1 == units.len() {
                break;
            }
            first += step;
        }
        chunks
    }

    /// Splits a document, each chunk keeping the document's metadata.
    ///
    /// ```
    /// let d = slm_rag::Document::new("d", "a b c").with_meta("lang", "en");
    /// let chunks = slm_rag::Chunker::words(2, 0)?.chunk_document(&d);
    /// assert_eq!(chunks.len(), 2);
    /// assert_eq!(chunks[1].metadata["lang"].as_str(), Some("en"));
    /// # Ok::<(), slm_rag::RagError>(())
    /// ```
    pub fn chunk_document(&self, document: &Document) -> Vec<Chunk> {
        let mut chunks = self.chunk(&document.id, &document.text);
        for chunk in &mut chunks {
            chunk.metadata = document.metadata.clone();
        }
        chunks
    }

    /// The `(start, end)` byte ranges of the units, without surrounding whitespace.
    fn units(&self, text: &str) -> Vec<(usize, usize)> {
        match self.by {
            ChunkBy::Words => text
                .unicode_word_indices()
                .map(|(at, word)| (at, at + word.len()))
                .collect(),
            ChunkBy::Sentences => text
                .split_sentence_bound_indices()
                .filter_map(|(at, sentence)| {
                    let trimmed = sentence.trim_end();
                    let lead = trimmed.len() - trimmed.trim_start().len();
                    let has_word = trimmed.unicode_words().next().is_some();
                    has_word.then_some((at + lead, at + trimmed.len()))
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_slice_the_source() {
        let text = "Première phrase. Deuxième phrase ici!  Troisième? Quatrième.";
        for chunker in [
            Chunker::sentences(2, 1).unwrap(),
            Chunker::words(3, 2).unwrap(),
        ] {
            let chunks = chunker.chunk("s", text);
            assert!(!chunks.is_empty());
            for c in &chunks {
                assert_eq!(&text[c.start..c.end], c.text);
            }
        }
    }

    #[test]
    fn sentence_windows_overlap() {
        let chunks = Chunker::sentences(2, 1)
            .unwrap()
            .chunk("s", "A one. B two. C three.");
        let texts: Vec<&str> = chunks.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts, ["A one. B two.", "B two. C three."]);
    }

    #[test]
    fn every_word_is_covered_once_without_overlap() {
        let text = (0..23)
            .map(|i| format!("w{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        let chunks = Chunker::words(5, 0).unwrap().chunk("s", &text);
        assert_eq!(chunks.len(), 5);
        let words: usize = chunks.iter().map(|c| c.text.split(' ').count()).sum();
        assert_eq!(words, 23);
    }
}

//! The index file format.
//!
//! ```text
//! offset  size  field
//! 0       8     magic  b"SLMBM25\0"
//! 8       2     format version, little endian (currently 1)
//! 10      2     reserved, 0
//! 12      8     payload length in bytes, little endian
//! 20      4     CRC-32 (IEEE) of the payload, little endian
//! 24      ...   payload: postcard encoding of `SavedIndex`
//! ```
//!
//! The payload holds the parameters, the analyzer configuration, the vocabulary and every
//! document with its term frequencies; postings and scores are rebuilt on load (linear time),
//! so a file can never hold postings inconsistent with its documents.

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::vocabulary::{TermId, Vocabulary};
use super::{Entry, Index};
use crate::{Analyzer, Bm25Params, Document, RagError, Result, TextAnalyzer};

const MAGIC: &[u8; 8] = b"SLMBM25\0";
/// The format version this build writes and reads.
pub(crate) const FORMAT_VERSION: u16 = 1;
const HEADER_LEN: usize = 24;

/// How the analyzer is recorded: the built-in one by its configuration, a custom one by name.
#[derive(Debug, Serialize, Deserialize)]
enum SavedAnalyzer {
    Text(TextAnalyzer),
    Custom(String),
}

#[derive(Serialize)]
struct SavedIndexRef<'a> {
    params: &'a Bm25Params,
    analyzer: SavedAnalyzer,
    terms: &'a [String],
    documents: Vec<SavedDocumentRef<'a>>,
}

#[derive(Serialize)]
struct SavedDocumentRef<'a> {
    document: &'a Document,
    terms: &'a [(TermId, u32)],
}

#[derive(Deserialize)]
struct SavedIndex {
    params: Bm25Params,
    analyzer: SavedAnalyzer,
    terms: Vec<String>,
    documents: Vec<SavedDocument>,
}

#[derive(Deserialize)]
struct SavedDocument {
    document: Document,
    terms: Vec<(TermId, u32)>,
}

impl Index {
    /// The index in the file format (header and payload).
    ///
    /// ```
    /// use slm_rag::{Document, Index};
    /// let index = Index::from_documents([Document::new("1", "hello world")])?;
    /// let copy = Index::from_bytes(&index.to_bytes()?)?;
    /// assert_eq!(copy.search("hello", 1)[0].id(), "1");
    /// # Ok::<(), slm_rag::RagError>(())
    /// ```
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let analyzer = match self.analyzer.config() {
            Some(config) => SavedAnalyzer::Text(config),
            None => SavedAnalyzer::Custom(self.analyzer.describe()),
        };
        let saved = SavedIndexRef {
            params: &self.params,
            analyzer,
            terms: self.vocabulary.terms(),
            documents: self
                .entries
                .iter()
                .flatten()
                .map(|e| SavedDocumentRef {
                    document: &e.document,
                    terms: &e.terms,
                })
                .collect(),
        };
        let payload = postcard::to_stdvec(&saved)
            .map_err(|e| RagError::InvalidConfig(format!("cannot encode the index: {e}")))?;
        let mut bytes = Vec::with_capacity(HEADER_LEN + payload.len());
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        bytes.extend_from_slice(&0u16.to_le_bytes());
        bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        bytes.extend_from_slice(&payload);
        Ok(bytes)
    }

    /// Writes the index to `path`, atomically: a temporary file in the same folder is renamed
    /// over `path` once complete, so a crash never leaves a half-written index.
    ///
    /// ```
    /// use slm_rag::{Document, Index};
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("docs.bm25");
    /// Index::from_documents([Document::new("1", "hello")])?.save(&path)?;
    /// assert_eq!(Index::load(&path)?.len(), 1);
    /// # Ok::<(), slm_rag::RagError>(())
    /// ```
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        use std::io::Write;
        let path = path.as_ref();
        let bytes = self.to_bytes()?;
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let mut file = tempfile::NamedTempFile::new_in(dir).map_err(|e| RagError::io(dir, e))?;
        file.write_all(&bytes).map_err(|e| RagError::io(path, e))?;
        file.as_file()
            .sync_all()
            .map_err(|e| RagError::io(path, e))?;
        file.persist(path)
            .map_err(|e| RagError::io(path, e.error))?;
        Ok(())
    }

    /// Reads an index saved with the built-in [`TextAnalyzer`].
    ///
    /// Fails with [`RagError::NotAnIndex`], [`RagError::UnsupportedVersion`] or
    /// [`RagError::Corrupt`] on a bad file, and [`RagError::CustomAnalyzer`] when the index used
    /// a custom analyzer.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("junk.bm25");
    /// std::fs::write(&path, b"not an index").unwrap();
    /// assert!(matches!(slm_rag::Index::load(&path), Err(slm_rag::RagError::NotAnIndex(_))));
    /// ```
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| RagError::io(path, e))?;
        Self::decode(&bytes, None).map_err(|e| with_path(e, path))
    }

    /// Reads an index saved with a custom analyzer, which must be the one it was built with.
    ///
    /// ```
    /// use slm_rag::{Document, Index, TextAnalyzer};
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("i.bm25");
    /// Index::from_documents([Document::new("1", "x y")])?.save(&path)?;
    /// let index = Index::load_with_analyzer(&path, TextAnalyzer::english())?;
    /// assert_eq!(index.len(), 1);
    /// # Ok::<(), slm_rag::RagError>(())
    /// ```
    pub fn load_with_analyzer(
        path: impl AsRef<Path>,
        analyzer: impl Analyzer + 'static,
    ) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| RagError::io(path, e))?;
        Self::decode(&bytes, Some(Arc::new(analyzer))).map_err(|e| with_path(e, path))
    }

    /// Reads an index from bytes made by [`Index::to_bytes`].
    ///
    /// ```
    /// let mut bytes = slm_rag::Index::new().to_bytes()?;
    /// let last = bytes.len() - 1;
    /// bytes[last] ^= 0xFF;
    /// assert!(matches!(slm_rag::Index::from_bytes(&bytes), Err(slm_rag::RagError::Corrupt(_))));
    /// # Ok::<(), slm_rag::RagError>(())
    /// ```
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        Self::decode(bytes, None)
    }

    fn decode(bytes: &[u8], analyzer: Option<Arc<dyn Analyzer>>) -> Result<Self> {
        let payload = check_header(bytes)?;
        let saved: SavedIndex = postcard::from_bytes(payload)
            .map_err(|e| RagError::Corrupt(format!("undecodable payload: {e}")))?;
        saved
            .params
            .validate()
            .map_err(|e| RagError::Corrupt(format!("stored parameters: {e}")))?;
        let analyzer: Arc<dyn Analyzer> = match (analyzer, saved.analyzer) {
            (Some(given), _) => given,
            (None, SavedAnalyzer::Text(config)) => Arc::new(config),
            (None, SavedAnalyzer::Custom(name)) => return Err(RagError::CustomAnalyzer(name)),
        };
        let vocabulary = Vocabulary::from_terms(saved.terms).map_err(RagError::Corrupt)?;
        let mut index = Index::empty(saved.params, analyzer);
        index.vocabulary = vocabulary;
        index.entries.reserve(saved.documents.len());
        for SavedDocument { document, terms } in saved.documents {
            check_document(&document, &terms, index.vocabulary.len())?;
            if index.slot_of.contains_key(&document.id) {
                return Err(RagError::Corrupt(format!(
                    "document id {:?} appears twice",
                    document.id
                )));
            }
            index.insert(Entry { document, terms });
        }
        index
            .postings
            .resize_with(index.vocabulary.len(), Default::default);
        Ok(index)
    }
}

/// Checks magic, version, length and checksum; returns the payload.
fn check_header(bytes: &[u8]) -> Result<&[u8]> {
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return Err(RagError::NotAnIndex(Default::default()));
    }
    if bytes.len() < HEADER_LEN {
        return Err(RagError::Corrupt(format!(
            "truncated header ({} bytes)",
            bytes.len()
        )));
    }
    let version = u16::from_le_bytes([bytes[8], bytes[9]]);
    if version != FORMAT_VERSION {
        return Err(RagError::UnsupportedVersion {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    let mut len = [0u8; 8];
    len.copy_from_slice(&bytes[12..20]);
    let len = u64::from_le_bytes(len);
    let mut crc = [0u8; 4];
    crc.copy_from_slice(&bytes[20..24]);
    let crc = u32::from_le_bytes(crc);
    let payload = &bytes[HEADER_LEN..];
    if payload.len() as u64 != len {
        return Err(RagError::Corrupt(format!(
            "payload is {} bytes but the header says {len} (truncated or appended to)",
            payload.len()
        )));
    }
    if crc32fast::hash(payload) != crc {
        return Err(RagError::Corrupt("checksum mismatch".into()));
    }
    Ok(payload)
}

/// Checks that a stored document's term frequencies are well formed.
fn check_document(document: &Document, terms: &[(TermId, u32)], vocabulary: usize) -> Result<()> {
    let bad = |what: &str| {
        Err(RagError::Corrupt(format!(
            "document {:?}: {what}",
            document.id
        )))
    };
    if terms.iter().any(|&(t, _)| t as usize >= vocabulary) {
        return bad("term id outside the vocabulary");
    }
    if terms.iter().any(|&(_, tf)| tf == 0) {
        return bad("zero term frequency");
    }
    if terms.windows(2).any(|w| w[0].0 >= w[1].0) {
        return bad("terms not sorted or repeated");
    }
    if terms.iter().map(|&(_, tf)| u64::from(tf)).sum::<u64>() > u64::from(u32::MAX) {
        return bad("document too long");
    }
    Ok(())
}

/// Names the file in errors that were raised without it.
fn with_path(error: RagError, path: &Path) -> RagError {
    match error {
        RagError::NotAnIndex(_) => RagError::NotAnIndex(path.to_path_buf()),
        RagError::Corrupt(m) => RagError::Corrupt(format!("{}: {m}", path.display())),
        other => other,
    }
}

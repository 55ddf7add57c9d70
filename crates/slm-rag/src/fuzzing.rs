//! Entry points shared by the fuzz target (`fuzz/fuzz_targets/bm25_index.rs`) and the corpus
//! replay test (`tests/fuzz_replay.rs`). Not part of the API: they exist so the same code runs
//! under `cargo fuzz` (nightly) and `cargo test` (stable).

use crate::Index;

/// Loads arbitrary bytes as an index file and, when they load, uses the index (search,
/// lookups, statistics, a save/load round trip). The first byte chooses how the rest is read:
/// as the file itself (even), or as a payload to which a valid header with the right length
/// and checksum is prepended (odd), so the fuzzer reaches the decoder behind the checksum.
/// Never panics; every outcome is an index or a typed error.
///
/// ```
/// slm_rag::fuzzing::bm25_index(b"\x00SLMBM25\0not an index");
/// ```
pub fn bm25_index(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let bytes = if mode % 2 == 0 {
        rest.to_vec()
    } else {
        with_header(rest)
    };
    let Ok(index) = Index::from_bytes(&bytes) else {
        return;
    };
    let terms: Vec<String> = index
        .documents()
        .take(4)
        .flat_map(|d| d.text.split_whitespace().take(3).map(str::to_string))
        .collect();
    for query in terms.iter().map(String::as_str).chain(["the", "a b c", ""]) {
        let hits = index.search(query, 5);
        assert!(hits.len() <= 5.min(index.len()), "more hits than asked for");
        for hit in &hits {
            assert!(hit.score.is_finite(), "non-finite score");
            assert!(index.contains(hit.id()), "a hit that is not in the index");
        }
    }
    let _ = index.average_length();
    let _ = index.term_count();
    let again = index.to_bytes().expect("a loaded index saves");
    let reloaded = Index::from_bytes(&again).expect("a saved index loads");
    assert_eq!(reloaded.len(), index.len(), "the round trip lost documents");
}

/// A valid file header (magic, version, length, CRC-32) for `payload`.
fn with_header(payload: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(24 + payload.len());
    bytes.extend_from_slice(b"SLMBM25\0");
    // The version and reserved bytes this build writes.
    let empty = Index::new().to_bytes().expect("an empty index saves");
    bytes.extend_from_slice(&empty[8..12]);
    bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    bytes.extend_from_slice(payload);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_behind_a_fixed_header_loads() {
        let index = Index::from_documents([crate::Document::new("a", "red apples")]).unwrap();
        let bytes = index.to_bytes().unwrap();
        let rebuilt = with_header(&bytes[24..]);
        assert_eq!(rebuilt, bytes);
        bm25_index(&[[1].as_slice(), &bytes[24..]].concat());
    }
}

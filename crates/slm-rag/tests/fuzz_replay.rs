//! Replays the committed fuzz corpora (`fuzz/corpus/<target>/`) through the functions the fuzz
//! targets call, on stable: every input that fuzzing kept (and every crash it found, once
//! fixed) stays a regression test. See RELIABILITY.md for running the fuzzers themselves.

use std::path::{Path, PathBuf};

/// Every file of a target's corpus; a missing or empty corpus fails (no silent skip).
fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    assert!(
        files.len() >= 5,
        "{}: only {} inputs",
        dir.display(),
        files.len()
    );
    files
}

/// Runs `entry` on every input of `target`'s corpus, naming the input that panics.
fn replay(target: &str, entry: fn(&[u8])) {
    let files = corpus(target);
    let failed: Vec<String> = files
        .iter()
        .filter(|path| {
            let data = std::fs::read(path).unwrap();
            std::panic::catch_unwind(|| entry(&data)).is_err()
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} inputs panic: {failed:#?}",
        failed.len(),
        files.len()
    );
}

#[test]
fn bm25_index_corpus_replays_without_a_panic() {
    replay("bm25_index", slm_rag::fuzzing::bm25_index);
}

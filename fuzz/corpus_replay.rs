//! The corpus replay shared by the `tests/fuzz_replay.rs` of slm-llamacpp, slm-remote and
//! slm-rag (each includes this file with `#[path]`): every file of `fuzz/corpus/<target>/`
//! through the function that fuzz target calls, on stable.

use std::path::{Path, PathBuf};

/// Every file of a target's corpus; a missing or empty corpus fails (no silent skip).
pub fn corpus(target: &str) -> Vec<PathBuf> {
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
pub fn replay(target: &str, entry: fn(&[u8])) {
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

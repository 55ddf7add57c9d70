//! Saved sessions: a conversation's keys and values written to disk, so a new process (or a new
//! model handle) continues the conversation without evaluating it again.
//!
//! A session file is one line of magic, one line of JSON metadata, then the bytes llama.cpp's
//! `llama_state_seq_save_file` wrote. The metadata names the model (its file's sha256), the
//! versions that wrote it and the payload's length and sha256; all of it is checked in Rust
//! before llama.cpp reads a byte, so a truncated file, a file for another model or one from
//! another llama.cpp build is a typed error, never garbage in the cache or an abort.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::LlamaCppError;

/// The first line of every session file.
const MAGIC: &[u8] = b"SLM-SESSION 1\n";

/// The version of llama-cpp-sys-2 (so of llama.cpp) this crate is built against: a state
/// written by another build may lay out its keys and values differently. A unit test keeps it
/// equal to `Cargo.lock`'s.
pub(crate) const LLAMA_CPP_SYS_VERSION: &str = "0.1.161";

/// What a saved session holds, as [`crate::LlamaCppModel::save_session`] and
/// [`crate::LlamaCppModel::load_session`] report it.
///
/// ```
/// let info = slm_llamacpp::SessionInfo { tokens: 120, bytes: 2_800_000 };
/// assert_eq!(info.tokens, 120);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// Tokens whose keys and values the session holds (the conversation's prompt).
    pub tokens: usize,
    /// Size of the file.
    pub bytes: u64,
}

/// The metadata line of a session file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SessionMeta {
    /// sha256 of the model file the keys and values were computed with.
    pub(crate) model_sha256: String,
    /// The model file's name, for error messages.
    pub(crate) model_file: String,
    /// `slm-llamacpp`'s version.
    pub(crate) slm_llamacpp: String,
    /// llama-cpp-sys-2's version.
    pub(crate) llama_cpp_sys: String,
    /// The LoRA adapter (index, scale) the keys and values were computed with.
    pub(crate) lora: Option<(usize, f32)>,
    /// Tokens in the state.
    pub(crate) tokens: usize,
    /// Length of llama.cpp's state that follows the metadata.
    pub(crate) payload_bytes: u64,
    /// sha256 of that state.
    pub(crate) payload_sha256: String,
}

/// sha256 of bytes, in hex.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn bad(path: &Path, reason: impl Into<String>) -> LlamaCppError {
    LlamaCppError::Session {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Writes `meta` and the state llama.cpp wrote to `state` into `path` (through a temporary
/// file renamed into place, so a crash never leaves half a session under the name).
pub(crate) fn write(path: &Path, meta: &SessionMeta, state: &Path) -> Result<u64, LlamaCppError> {
    let partial = partial_path(path);
    let result = (|| -> std::io::Result<u64> {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&partial)?);
        out.write_all(MAGIC)?;
        serde_json::to_writer(&mut out, meta)?;
        out.write_all(b"\n")?;
        std::io::copy(&mut std::fs::File::open(state)?, &mut out)?;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        let bytes = file.metadata()?.len();
        std::fs::rename(&partial, path)?;
        Ok(bytes)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&partial);
        LlamaCppError::io(path, &e)
    })
}

fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    path.with_file_name(name)
}

/// Reads and checks a session file: magic, metadata, model, versions, payload length and
/// checksum. On success llama.cpp's state is copied to `state` (a file llama.cpp may read).
pub(crate) fn read(
    path: &Path,
    model_sha256: &str,
    state: &Path,
) -> Result<(SessionMeta, u64), LlamaCppError> {
    let file = std::fs::File::open(path).map_err(|e| LlamaCppError::io(path, &e))?;
    let bytes = file
        .metadata()
        .map_err(|e| LlamaCppError::io(path, &e))?
        .len();
    let mut reader = BufReader::new(file);
    let mut magic = vec![0; MAGIC.len()];
    if reader.read_exact(&mut magic).is_err() || magic != MAGIC {
        return Err(bad(path, "not an slm session file"));
    }
    let mut line = Vec::new();
    reader
        .by_ref()
        .take(1 << 20)
        .read_until(b'\n', &mut line)
        .map_err(|e| LlamaCppError::io(path, &e))?;
    let meta: SessionMeta = serde_json::from_slice(&line)
        .map_err(|e| bad(path, format!("unreadable metadata: {e}")))?;
    if meta.model_sha256 != model_sha256 {
        return Err(bad(
            path,
            format!(
                "saved for another model ({}, sha256 {}…)",
                meta.model_file,
                meta.model_sha256.get(..12).unwrap_or(&meta.model_sha256)
            ),
        ));
    }
    if meta.llama_cpp_sys != LLAMA_CPP_SYS_VERSION {
        return Err(bad(
            path,
            format!(
                "written by llama.cpp of llama-cpp-sys-2 {}, this build has {LLAMA_CPP_SYS_VERSION}",
                meta.llama_cpp_sys
            ),
        ));
    }
    let mut out = std::fs::File::create(state).map_err(|e| LlamaCppError::io(state, &e))?;
    let mut hasher = Sha256::new();
    let mut copied = 0u64;
    let mut buffer = vec![0; 1 << 16];
    loop {
        let n = reader
            .read(&mut buffer)
            .map_err(|e| LlamaCppError::io(path, &e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        out.write_all(&buffer[..n])
            .map_err(|e| LlamaCppError::io(state, &e))?;
        copied += n as u64;
    }
    if copied != meta.payload_bytes {
        return Err(bad(
            path,
            format!(
                "truncated or padded: {copied} bytes of state, the metadata says {}",
                meta.payload_bytes
            ),
        ));
    }
    if hex(&hasher.finalize()) != meta.payload_sha256 {
        return Err(bad(path, "the state does not match its checksum"));
    }
    Ok((meta, bytes))
}

/// The metadata of a state llama.cpp wrote to `state`.
pub(crate) fn meta_for(
    model_path: &Path,
    model_sha256: &str,
    lora: Option<(usize, f32)>,
    tokens: usize,
    state: &Path,
) -> Result<SessionMeta, LlamaCppError> {
    let payload_bytes = std::fs::metadata(state)
        .map_err(|e| LlamaCppError::io(state, &e))?
        .len();
    Ok(SessionMeta {
        model_sha256: model_sha256.to_string(),
        model_file: model_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        slm_llamacpp: env!("CARGO_PKG_VERSION").to_string(),
        llama_cpp_sys: LLAMA_CPP_SYS_VERSION.to_string(),
        lora,
        tokens,
        payload_bytes,
        payload_sha256: crate::models::sha256_file(state)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recorded_llama_cpp_version_is_the_one_built() {
        let lock = include_str!("../../../Cargo.lock");
        let entry = lock
            .split("[[package]]")
            .find(|p| p.contains("name = \"llama-cpp-sys-2\""))
            .expect("llama-cpp-sys-2 in Cargo.lock");
        assert!(
            entry.contains(&format!("version = \"{LLAMA_CPP_SYS_VERSION}\"")),
            "update LLAMA_CPP_SYS_VERSION: {entry}"
        );
    }

    fn meta(state: &Path) -> SessionMeta {
        meta_for(Path::new("m.gguf"), "abc", None, 3, state).unwrap()
    }

    #[test]
    fn a_file_round_trips_and_every_damage_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        std::fs::write(&state, b"llama.cpp state bytes").unwrap();
        let path = dir.path().join("s.session");
        let bytes = write(&path, &meta(&state), &state).unwrap();
        assert_eq!(bytes, std::fs::metadata(&path).unwrap().len());
        assert!(!partial_path(&path).exists());
        let copy = dir.path().join("copy");
        let (read_meta, _) = read(&path, "abc", &copy).unwrap();
        assert_eq!(read_meta, meta(&state));
        assert_eq!(std::fs::read(&copy).unwrap(), b"llama.cpp state bytes");

        let reason = |path: &Path, sha: &str| match read(path, sha, &copy).unwrap_err() {
            LlamaCppError::Session { reason, .. } => reason,
            other => panic!("{other:?}"),
        };
        assert!(reason(&path, "other").contains("another model (m.gguf"));
        let whole = std::fs::read(&path).unwrap();
        let cut = dir.path().join("cut.session");
        std::fs::write(&cut, &whole[..whole.len() - 4]).unwrap();
        assert!(reason(&cut, "abc").contains("truncated"));
        let mut flipped = whole.clone();
        *flipped.last_mut().unwrap() ^= 1;
        std::fs::write(&cut, &flipped).unwrap();
        assert!(reason(&cut, "abc").contains("checksum"));
        std::fs::write(&cut, b"GGUF....").unwrap();
        assert!(reason(&cut, "abc").contains("not an slm session"));
        let text = String::from_utf8_lossy(&whole).replace(LLAMA_CPP_SYS_VERSION, "0.0.1");
        std::fs::write(&cut, text.as_bytes()).unwrap();
        assert!(reason(&cut, "abc").contains("llama-cpp-sys-2 0.0.1"));
        assert!(matches!(
            read(&dir.path().join("none"), "abc", &copy).unwrap_err(),
            LlamaCppError::NotFound { .. }
        ));
    }
}

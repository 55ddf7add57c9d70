//! Finding and loading the ONNX Runtime C library at run time.
//!
//! Nothing is linked at build time. The library is looked for, in order, at
//! [`LoadOptions::runtime`](crate::LoadOptions::runtime), `$SLM_ONNXRUNTIME`,
//! `$ORT_DYLIB_PATH`, then in `~/.cache/slm/onnxruntime/` where `scripts/setup.sh` installs
//! the pinned release. It is checked before use (it must export `OrtGetApiBase` and report
//! version [`WANTED_VERSION`] or later) so a wrong file gives an [`OnnxError`], never a panic.
//!
//! One process loads one library: the first successful load stays in use; a later request for
//! another path is checked the same way and then served by the library already loaded.

use std::ffi::CStr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::OnnxError;

/// The ONNX Runtime release this crate is built against (API version 1.31); later 1.x
/// releases are accepted.
pub const WANTED_VERSION: &str = "1.31";

/// The runtime in use: where it was loaded from and the version it reports.
///
/// ```
/// let r = slm_onnx::runtime::RuntimeInfo { path: "/lib/libonnxruntime.so".into(), version: "1.31.1".into() };
/// assert_eq!(r.version, "1.31.1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeInfo {
    /// The library file.
    pub path: PathBuf,
    /// The version it reports (`OrtGetApiBase()->GetVersionString()`).
    pub version: String,
}

struct Loaded {
    info: RuntimeInfo,
    env: ort::environment::Environment,
}

static LOADED: Mutex<Option<Loaded>> = Mutex::new(None);

/// The folder `scripts/setup.sh` installs the runtime into: `~/.cache/slm/onnxruntime`.
///
/// ```
/// if let Some(dir) = slm_onnx::runtime::default_dir() {
///     assert!(dir.ends_with(".cache/slm/onnxruntime"));
/// }
/// ```
pub fn default_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".cache/slm/onnxruntime"))
}

/// Where the library is looked for when `explicit` is `None`: `$SLM_ONNXRUNTIME`, then
/// `$ORT_DYLIB_PATH`, then `libonnxruntime.so` (or the newest `libonnxruntime.so.1.*`) in
/// [`default_dir`].
///
/// ```
/// let p = slm_onnx::runtime::resolve(Some("/opt/ort/libonnxruntime.so".as_ref()));
/// assert_eq!(p, std::path::PathBuf::from("/opt/ort/libonnxruntime.so"));
/// ```
pub fn resolve(explicit: Option<&Path>) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_path_buf();
    }
    for var in ["SLM_ONNXRUNTIME", "ORT_DYLIB_PATH"] {
        if let Some(v) = std::env::var_os(var).filter(|v| !v.is_empty()) {
            return PathBuf::from(v);
        }
    }
    let dir = default_dir().unwrap_or_else(|| PathBuf::from("."));
    let plain = dir.join(format!(
        "{}onnxruntime{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ));
    if plain.exists() {
        return plain;
    }
    let mut versioned: Vec<PathBuf> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("libonnxruntime.so.1."))
        })
        .collect();
    versioned.sort();
    versioned.pop().unwrap_or(plain)
}

/// Whether a reported version (`"1.31.1"`) is [`WANTED_VERSION`] or a later 1.x.
///
/// ```
/// use slm_onnx::runtime::version_ok;
/// assert!(version_ok("1.31.1"));
/// assert!(version_ok("1.32.0"));
/// assert!(!version_ok("1.20.0"));
/// assert!(!version_ok("2.0.0"));
/// assert!(!version_ok("garbage"));
/// ```
pub fn version_ok(version: &str) -> bool {
    let wanted_minor: u32 = WANTED_VERSION
        .split('.')
        .nth(1)
        .and_then(|m| m.parse().ok())
        .unwrap_or(u32::MAX);
    let mut parts = version.split('.');
    matches!(
        (parts.next(), parts.next().and_then(|m| m.parse::<u32>().ok())),
        (Some("1"), Some(minor)) if minor >= wanted_minor
    )
}

/// Checks a library file without making it the process's runtime: it exists, loads, exports
/// `OrtGetApiBase` and reports a version this crate can use. Returns that version.
///
/// ```
/// let err = slm_onnx::runtime::probe("/nonexistent/libonnxruntime.so".as_ref()).unwrap_err();
/// assert!(matches!(err, slm_onnx::OnnxError::RuntimeMissing { .. }));
/// ```
pub fn probe(path: &Path) -> Result<String, OnnxError> {
    if !path.is_file() {
        return Err(OnnxError::RuntimeMissing {
            path: path.to_path_buf(),
            wanted: WANTED_VERSION.into(),
        });
    }
    let incompatible = |found: &str, reason: String| OnnxError::RuntimeIncompatible {
        path: path.to_path_buf(),
        found: found.into(),
        wanted: WANTED_VERSION.into(),
        reason,
    };
    // SAFETY: loading a shared library runs its initializers; the file is the one the user
    // (or set-up) named as the ONNX Runtime library.
    let library = unsafe { libloading::Library::new(path) }
        .map_err(|e| incompatible("unknown", format!("it does not load: {e}")))?;
    let version = {
        // SAFETY: `OrtGetApiBase` has this signature in every ONNX Runtime release.
        let get_base = unsafe {
            library.get::<unsafe extern "system" fn() -> *const ort::sys::OrtApiBase>(
                b"OrtGetApiBase\0",
            )
        }
        .map_err(|_| incompatible("unknown", "it does not export OrtGetApiBase".into()))?;
        // SAFETY: the function takes no arguments and returns a pointer to a static table.
        let base = unsafe { get_base() };
        if base.is_null() {
            return Err(incompatible(
                "unknown",
                "OrtGetApiBase returned null".into(),
            ));
        }
        // SAFETY: `base` points to the library's static OrtApiBase; the string is static.
        let raw = unsafe { ((*base).GetVersionString)() };
        if raw.is_null() {
            return Err(incompatible("unknown", "it reports no version".into()));
        }
        // SAFETY: a NUL-terminated static string.
        unsafe { CStr::from_ptr(raw) }
            .to_string_lossy()
            .into_owned()
    };
    if !version_ok(&version) {
        return Err(incompatible(&version, "the version is too old".into()));
    }
    // Keep the library mapped: ort opens the same file next, and unloading ONNX Runtime is not
    // something it supports well.
    std::mem::forget(library);
    Ok(version)
}

/// Loads the runtime (once per process) and returns what is in use and its environment.
pub(crate) fn ensure(
    explicit: Option<&Path>,
) -> Result<(RuntimeInfo, ort::environment::Environment), OnnxError> {
    let path = resolve(explicit);
    let mut loaded = LOADED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(l) = loaded.as_ref() {
        if l.info.path != path {
            let version = probe(&path)?;
            tracing::warn!(
                requested = %path.display(),
                requested_version = %version,
                in_use = %l.info.path.display(),
                "one ONNX Runtime per process: the library already loaded stays in use"
            );
        }
        return Ok((l.info.clone(), l.env.clone()));
    }
    let version = probe(&path)?;
    let builder = ort::init_from(&path).map_err(|e| OnnxError::RuntimeIncompatible {
        path: path.clone(),
        found: version.clone(),
        wanted: WANTED_VERSION.into(),
        reason: e.to_string(),
    })?;
    let env = builder
        .with_name("slm-onnx")
        .with_telemetry(false)
        .build()?;
    let info = RuntimeInfo { path, version };
    tracing::info!(path = %info.path.display(), version = %info.version, "ONNX Runtime loaded");
    *loaded = Some(Loaded {
        info: info.clone(),
        env: env.clone(),
    });
    Ok((info, env))
}

/// The runtime this process loaded, if any.
///
/// ```
/// // Nothing is loaded until a model is.
/// let _ = slm_onnx::runtime::loaded();
/// ```
pub fn loaded() -> Option<RuntimeInfo> {
    LOADED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
        .map(|l| l.info.clone())
}

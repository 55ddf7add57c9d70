//! Shared by the integration tests: the tiny model written by the export script, the SmolLM2
//! folders from set-up. Missing prerequisites fail the test with what to run; nothing skips.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub fn home() -> PathBuf {
    PathBuf::from(std::env::var_os("HOME").expect("HOME is set"))
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn venv_python() -> PathBuf {
    std::env::var_os("SLM_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| home().join(".cache/slm/venv"))
        .join("bin/python")
}

/// Writes the tiny model (seed `seed`) into a fresh temporary folder with the export script.
pub fn export_tiny(seed: u64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let python = venv_python();
    let out = Command::new(&python)
        .arg(repo_root().join("scripts/onnx/export.py"))
        .arg("tiny")
        .arg(dir.path())
        .arg("--seed")
        .arg(seed.to_string())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} ({e}): run scripts/setup.sh, which creates the venv with numpy, onnx and onnxruntime",
                python.display()
            )
        });
    assert!(
        out.status.success(),
        "scripts/onnx/export.py tiny failed (run scripts/setup.sh): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

/// The tiny model shared by the tests of one binary (seed 0).
pub fn tiny_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| export_tiny(0)).path()
}

/// A folder exported by scripts/setup.sh into ~/.cache/slm/onnx/.
pub fn setup_folder(name: &str) -> PathBuf {
    let dir = std::env::var_os("SLM_ONNX_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| home().join(".cache/slm/onnx"))
        .join(name);
    assert!(
        dir.join("genai_config.json").is_file(),
        "{} is missing: run scripts/setup.sh (it exports the ONNX models)",
        dir.display()
    );
    dir
}

pub fn runtime_installed() -> PathBuf {
    let path = slm_onnx::runtime::resolve(None);
    assert!(
        path.is_file(),
        "no ONNX Runtime library at {}: run scripts/setup.sh",
        path.display()
    );
    path
}

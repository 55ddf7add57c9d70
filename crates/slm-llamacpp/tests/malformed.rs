//! A corpus of broken GGUF files: every one must give a typed error, never kill the process.

mod common;

use std::path::{Path, PathBuf};

use slm_llamacpp::gguf::{GgufHeader, inspect};
use slm_llamacpp::{LlamaCppError, LlamaCppModel, LoadOptions, QuantizeOptions, QuantizeType};

fn find(bytes: &[u8], needle: &[u8]) -> usize {
    bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("needle in header")
}

fn put_u64(bytes: &mut [u8], at: usize, v: u64) {
    bytes[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

fn put_u32(bytes: &mut [u8], at: usize, v: u32) {
    bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// Offset just after a metadata key's name (where its value type begins).
fn after_key(bytes: &[u8], key: &str) -> usize {
    find(bytes, key.as_bytes()) + key.len()
}

/// (name, bytes) of every malformed variant of a valid model.
fn corpus(valid: &[u8], data_offset: usize) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    out.push(("zero bytes".to_string(), Vec::new()));
    out.push(("only zeros".to_string(), vec![0u8; 4096]));
    for cut in [
        1,
        3,
        4,
        7,
        8,
        15,
        23,
        24,
        40,
        100,
        1000,
        data_offset - 1,
        data_offset,
        data_offset + 1,
    ]
    .into_iter()
    .chain([valid.len() / 2, valid.len() - 1])
    {
        out.push((format!("truncated at {cut}"), valid[..cut].to_vec()));
    }
    let mut v = valid.to_vec();
    v[..4].copy_from_slice(b"GGML");
    out.push(("wrong magic".into(), v));
    let mut v = valid.to_vec();
    v[..4].copy_from_slice(b"\x7fELF");
    out.push(("an ELF header".into(), v));
    for version in [0u32, 1, 4, 0x0300_0000, u32::MAX] {
        let mut v = valid.to_vec();
        put_u32(&mut v, 4, version);
        out.push((format!("version {version:#x}"), v));
    }
    for (what, at) in [("tensor count", 8), ("metadata count", 16)] {
        for n in [u64::MAX, 1 << 40, 1_000_000] {
            let mut v = valid.to_vec();
            put_u64(&mut v, at, n);
            out.push((format!("{what} {n}"), v));
        }
    }
    // The first key's length.
    let mut v = valid.to_vec();
    put_u64(&mut v, 24, u64::MAX);
    out.push(("key length u64::MAX".into(), v));
    // An array whose element count is absurd.
    let at = after_key(valid, "tokenizer.ggml.tokens") + 8;
    for n in [u64::MAX, 1 << 50] {
        let mut v = valid.to_vec();
        put_u64(&mut v, at, n);
        out.push((format!("token array of {n}"), v));
    }
    // An unknown value type.
    let mut v = valid.to_vec();
    put_u32(&mut v, after_key(valid, "general.name"), 77);
    out.push(("unknown value type".into(), v));
    // A nested array type.
    let mut v = valid.to_vec();
    put_u32(&mut v, after_key(valid, "tokenizer.ggml.scores") + 4, 9);
    out.push(("array of arrays".into(), v));
    // Tensor table entries: rank, dims, type, offset.
    let t = after_key(valid, "token_embd.weight");
    let mut v = valid.to_vec();
    put_u32(&mut v, t, 9);
    out.push(("tensor rank 9".into(), v));
    let mut v = valid.to_vec();
    put_u64(&mut v, t + 4, u64::MAX / 2);
    out.push(("tensor dim huge".into(), v));
    let mut v = valid.to_vec();
    put_u64(&mut v, t + 4, 0);
    out.push(("tensor dim zero".into(), v));
    let mut v = valid.to_vec();
    put_u32(&mut v, t + 4 + 16, 9999);
    out.push(("tensor type 9999".into(), v));
    let mut v = valid.to_vec();
    put_u32(&mut v, t + 4 + 16, 4); // a removed ggml type
    out.push(("tensor type removed".into(), v));
    let mut v = valid.to_vec();
    put_u64(&mut v, t + 4 + 16 + 4, 3);
    out.push(("tensor offset misaligned".into(), v));
    let mut v = valid.to_vec();
    put_u64(&mut v, t + 4 + 16 + 4, 1 << 40);
    out.push(("tensor offset beyond the file".into(), v));
    // Well-formed files that are not loadable models.
    let mut v = valid.to_vec();
    let key = after_key(valid, "general.architecture");
    // Replace the architecture string "llama" by "zzzzz".
    v[key + 4 + 8..key + 4 + 8 + 5].copy_from_slice(b"zzzzz");
    out.push(("unknown architecture".into(), v));
    let mut v = valid.to_vec();
    let key = after_key(valid, "llama.attention.head_count");
    put_u32(&mut v, key + 4, 0);
    out.push(("zero heads".into(), v));
    let mut v = valid.to_vec();
    let key = after_key(valid, "llama.embedding_length");
    put_u32(&mut v, key + 4, 63);
    out.push(("embedding length not matching tensors".into(), v));
    let mut v = valid.to_vec();
    let key = after_key(valid, "tokenizer.ggml.eos_token_id");
    put_u32(&mut v, key + 4, 1_000_000);
    out.push(("eos id outside the vocabulary".into(), v));
    out
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(format!("{}.gguf", name.replace([' ', ':'], "_")));
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn every_malformed_file_gives_an_error() {
    let valid_path = common::tiny_f32();
    let valid = std::fs::read(&valid_path).unwrap();
    let header = GgufHeader::read(&valid_path).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cases = corpus(&valid, header.data_offset as usize);
    assert!(cases.len() >= 40, "{}", cases.len());
    for (name, bytes) in cases {
        let path = write(dir.path(), &name, &bytes);
        let load = LlamaCppModel::load(&path, LoadOptions::default());
        let err = load
            .err()
            .unwrap_or_else(|| panic!("{name}: loaded a broken file"));
        assert!(
            err.is_file_error() || matches!(err, LlamaCppError::ModelLoad(_)),
            "{name}: unexpected error kind {err:?}"
        );
        assert!(!err.to_string().is_empty());
        let q = slm_llamacpp::quantize(
            &path,
            &dir.path().join("out.gguf"),
            &QuantizeOptions::new(QuantizeType::Q8_0),
        );
        assert!(q.is_err(), "{name}: quantized a broken file");
    }
}

#[test]
fn typed_errors_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.gguf");
    assert!(matches!(
        inspect(&missing),
        Err(LlamaCppError::NotFound { .. })
    ));
    let empty = write(dir.path(), "empty", b"");
    assert!(matches!(
        inspect(&empty),
        Err(LlamaCppError::EmptyFile { .. })
    ));
    let text = write(dir.path(), "text", b"{\"not\": \"a model\"}");
    assert!(
        matches!(inspect(&text), Err(LlamaCppError::NotGguf { magic, .. }) if &magic == b"{\"no")
    );
    let valid = std::fs::read(common::tiny_f32()).unwrap();
    let mut v1 = valid.clone();
    put_u32(&mut v1, 4, 1);
    let v1 = write(dir.path(), "v1", &v1);
    assert!(matches!(
        LlamaCppModel::load(&v1, LoadOptions::default()),
        Err(LlamaCppError::UnsupportedGgufVersion { version: 1, .. })
    ));
    let truncated = write(dir.path(), "truncated", &valid[..valid.len() - 10]);
    let err = LlamaCppModel::load(&truncated, LoadOptions::default()).unwrap_err();
    assert!(
        matches!(&err, LlamaCppError::MalformedGguf { reason, .. } if reason.contains("truncated")),
        "{err}"
    );
    // Errors convert to slm-core's ModelLoad at the ChatModel boundary.
    assert!(matches!(
        slm_core::Error::from(err),
        slm_core::Error::ModelLoad(..)
    ));
}

/// Random byte flips in the header: whatever they produce, loading returns (Ok or Err).
/// `SLM_FUZZ_CASES` and `SLM_FUZZ_SEED` run a longer or different campaign.
#[test]
fn random_header_corruption_never_aborts() {
    let env = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let cases = env("SLM_FUZZ_CASES", 150) as usize;
    let valid_path = common::tiny_f32();
    let valid = std::fs::read(&valid_path).unwrap();
    let header_len = GgufHeader::read(&valid_path).unwrap().data_offset as usize;
    let dir = tempfile::tempdir().unwrap();
    let mut state = env("SLM_FUZZ_SEED", 0x1234_5678_9abc_def0) | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut loaded = 0;
    for case in 0..cases {
        let mut bytes = valid.clone();
        for _ in 0..1 + next() % 4 {
            // Half the flips hit the first 1.5 kB: counts, hyperparameters and early tokens.
            let span = if next() % 2 == 0 {
                header_len.min(1500)
            } else {
                header_len
            };
            let at = (next() as usize) % span;
            bytes[at] = next() as u8;
        }
        let path = write(dir.path(), &format!("fuzz{case}"), &bytes);
        if LlamaCppModel::load(&path, LoadOptions::default().with_context_length(64)).is_ok() {
            loaded += 1;
        }
    }
    // Most flips land in token texts and stay loadable; the point is that we got here.
    assert!(loaded < cases);
    eprintln!("{loaded} of {cases} corrupted files still loaded");
}

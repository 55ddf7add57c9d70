//! The `slm` binary's surface without a model: `--help` of every subcommand, shell completions,
//! and the exit codes of usage errors (2) and failures (1).

use std::process::{Command, Output, Stdio};

fn slm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_slm"))
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("run slm")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn every_subcommand_has_help_that_names_its_flags() {
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["run", "--help"],
            &[
                "--system",
                "--max-tokens",
                "--temperature",
                "--seed",
                "--json-schema",
                "--stats",
                "--parallel",
                "--ctx-size",
                "--threads",
                "--gpu-layers",
                "--no-prompt-cache",
                "SPEC",
                "PROMPT",
            ],
        ),
        (
            &["chat", "--help"],
            &[
                "--system",
                "--max-tokens",
                "--temperature",
                "/reset",
                "/save",
            ],
        ),
        (
            &["quantize", "--help"],
            &["--type", "--allow-requantize", "--pure", "Q8_0", "Q4_K_M"],
        ),
        (&["inspect", "--help"], &["--json", "--template", "FILE"]),
        (&["models", "--help"], &["list", "fetch", "verify", "path"]),
        (&["models", "list", "--help"], &["--verify", "--json"]),
        (&["models", "fetch", "--help"], &["hf:"]),
        (&["models", "verify", "--help"], &["NAME"]),
        (&["completions", "--help"], &["bash"]),
    ];
    for (args, needles) in cases {
        let out = slm(args);
        let help = text(&out.stdout);
        assert!(out.status.success(), "slm {args:?}: {:?}", out.status);
        for needle in *needles {
            assert!(
                help.contains(needle),
                "slm {args:?} lacks {needle}:\n{help}"
            );
        }
    }
}

#[test]
fn completions_for_bash_name_the_command_and_its_subcommands() {
    let out = slm(&["completions", "bash"]);
    assert!(out.status.success());
    let script = text(&out.stdout);
    assert!(script.contains("slm"), "{script}");
    for sub in ["run", "chat", "quantize", "inspect", "models"] {
        assert!(script.contains(sub), "no {sub} in the bash completions");
    }
}

#[test]
fn a_bad_spec_is_a_usage_error_naming_the_spec() {
    let out = slm(&["run", "gpt-nonsense", "hi"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("gpt-nonsense"), "{err}");
    let out = slm(&["chat", "openai:not-a-url"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("openai:not-a-url"));
}

#[test]
fn a_missing_model_file_fails_with_exit_1_naming_it() {
    let out = slm(&["run", "/no/such/dir/model.gguf", "hi"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("/no/such/dir/model.gguf"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn an_empty_prompt_on_stdin_is_refused_before_loading() {
    // stdin is /dev/null: not a terminal, and empty.
    let out = slm(&["run", "/no/such/model.gguf"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("prompt is empty"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn an_unknown_quantization_type_lists_the_valid_ones() {
    let out = slm(&["quantize", "a.gguf", "b.gguf", "--type", "q3"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    for name in ["Q8_0", "Q4_K_M", "Q6_K"] {
        assert!(err.contains(name), "{err}");
    }
}

#[test]
fn out_of_range_flags_are_usage_errors() {
    let out = slm(&["run", "smollm2", "hi", "--max-tokens", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let out = slm(&["run", "smollm2", "hi", "--temperature=-1"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("temperature"));
}

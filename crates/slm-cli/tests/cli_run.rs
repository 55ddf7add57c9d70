//! `slm run` and `slm chat` on the real default model (SmolLM2-135M-Instruct), driving the
//! binary as a user does: arguments, stdin, stdout, exit codes, Ctrl-C.

use std::io::{Read, Write};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use slm_llamacpp::{models, testing};

fn slm() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_slm"));
    command.env_remove("RUST_LOG");
    command
}

fn run_with_stdin(args: &[&str], stdin: &str) -> Output {
    let mut child = slm()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn slm");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Mostly letters and spaces, with at least two words: English-looking text.
fn looks_like_english(s: &str) -> bool {
    let letters = s.chars().filter(|c| c.is_ascii_alphabetic()).count();
    let words = s
        .split_whitespace()
        .filter(|w| w.chars().any(|c| c.is_ascii_alphabetic()))
        .count();
    letters * 2 > s.trim().chars().count() && words >= 2
}

#[test]
fn run_answers_a_question_and_reports_stats() {
    let Some(_) = testing::real_model(&models::SMOLLM2, "run_answers_a_question") else {
        return;
    };
    let out = slm()
        .args([
            "run",
            "smollm2",
            "What is the capital of France?",
            "--max-tokens",
            "16",
            "--temperature",
            "0",
            "--stats",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(looks_like_english(&stdout), "not English text: {stdout:?}");
    assert!(stdout.ends_with('\n'));
    // --stats: token counts from the backend, within the limit asked for.
    let completion: u32 = stderr
        .split(" · ")
        .find_map(|part| {
            part.strip_prefix("completion ")?
                .strip_suffix(" tok")?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no completion count in {stderr:?}"));
    assert!((1..=16).contains(&completion), "{stderr}");
    assert!(
        stderr.contains("TTFT") && stderr.contains("tok/s"),
        "{stderr}"
    );

    // Greedy decoding is reproducible, and a prompt from stdin is the same prompt.
    let again = run_with_stdin(
        &[
            "run",
            "smollm2",
            "-",
            "--max-tokens",
            "16",
            "--temperature",
            "0",
        ],
        "What is the capital of France?",
    );
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert_eq!(text(&again.stdout), stdout);
}

#[test]
fn run_with_a_json_schema_prints_json_that_fits_it() {
    let Some(_) = testing::real_model(&models::SMOLLM2, "run_with_a_json_schema") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("city.schema.json");
    std::fs::write(
        &schema,
        r#"{"type":"object","properties":{"city":{"type":"string","maxLength":40},
            "country":{"type":"string","maxLength":40}},
            "required":["city","country"],"additionalProperties":false}"#,
    )
    .unwrap();
    let out = slm()
        .args([
            "run",
            "smollm2",
            "Name a city in France and its country, as JSON.",
        ])
        .args(["--temperature", "0", "--max-tokens", "80", "--json-schema"])
        .arg(&schema)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)));
    assert!(
        value["city"].is_string() && value["country"].is_string(),
        "{value}"
    );
    assert_eq!(value.as_object().unwrap().len(), 2, "{value}");
}

#[test]
fn ctrl_c_stops_a_long_generation_cleanly() {
    let Some(_) = testing::real_model(&models::SMOLLM2, "ctrl_c_stops_generation") else {
        return;
    };
    let mut child = slm()
        .args(["run", "smollm2", "Write a very long story about a dragon."])
        .args(["--max-tokens", "1500", "--temperature", "0.8"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the first streamed bytes: the model is generating.
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 8];
    let n = stdout.read(&mut first).unwrap();
    assert!(n > 0, "no output before the interrupt");
    let sent = Instant::now();
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let mut rest = Vec::new();
    stdout.read_to_end(&mut rest).unwrap();
    let status = child.wait().unwrap();
    assert!(
        sent.elapsed() < Duration::from_secs(10),
        "took {:?}",
        sent.elapsed()
    );
    assert_eq!(status.code(), Some(130), "{status:?}");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn chat_over_a_pipe_keeps_history_saves_and_resets() {
    let Some(_) = testing::real_model(&models::SMOLLM2, "chat_over_a_pipe") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("chat.json");
    let after_reset = dir.path().join("after-reset.json");
    let script = format!(
        "What is the capital of France?\n\nAnd what is the capital of Italy?\n/save {}\n/reset\n\
         /save {}\n/nonsense\nHello!\n/exit\nthis line is never read\n",
        saved.display(),
        after_reset.display()
    );
    let out = run_with_stdin(
        &[
            "chat",
            "smollm2",
            "--system",
            "You are a terse geography assistant.",
            "--max-tokens",
            "24",
            "--temperature",
            "0",
            "--stats",
        ],
        &script,
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(looks_like_english(&stdout), "{stdout:?}");
    assert!(stderr.contains("unknown command /nonsense"), "{stderr}");

    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&saved).unwrap()).unwrap();
    let messages = json["messages"].as_array().unwrap();
    let roles: Vec<&str> = messages
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["system", "user", "assistant", "user", "assistant"]);
    assert_eq!(messages[3]["content"], "And what is the capital of Italy?");
    // The replies saved are the replies printed, turn by turn.
    for reply in [&messages[2], &messages[4]] {
        let reply = reply["content"].as_str().unwrap();
        assert!(!reply.trim().is_empty());
        assert!(stdout.contains(reply.trim()), "{reply:?} not in {stdout:?}");
    }
    let reset: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&after_reset).unwrap()).unwrap();
    let roles: Vec<&str> = reset["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["system"], "/reset keeps only the system message");
    assert_eq!(stderr.matches("(saved").count(), 2, "{stderr}");
    // Three turns were answered ("Hello!" after the reset); the line after /exit was not.
    assert_eq!(stderr.matches("completion ").count(), 3, "{stderr}");
}

#[test]
fn chat_ends_at_end_of_input_with_exit_0() {
    let Some(_) = testing::real_model(&models::SMOLLM2, "chat_ends_at_eof") else {
        return;
    };
    let out = run_with_stdin(&["chat", "smollm2", "--max-tokens", "8"], "Hi\n");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!text(&out.stdout).trim().is_empty());
}

/// A reasoning model's thinking goes to stderr and its answer to stdout; `--reasoning-budget`
/// caps the thinking (0: none). The model is generated and carries DeepSeek-R1's real template,
/// which opens `<think>` in every prompt (no real thinking model is small enough for CI).
#[test]
fn run_shows_thinking_on_stderr_and_caps_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r1.gguf");
    let template = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(
        "../slm-chat/tests/fixtures/formats/templates/deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja",
    );
    let spec = testing::TestModelSpec {
        chat_template: Some(std::fs::read_to_string(template).unwrap()),
        ..testing::TestModelSpec::tiny()
    };
    testing::write_test_model(&path, &spec).unwrap();
    let run = |budget: Option<&str>| {
        let path = path.display().to_string();
        let mut args = vec![
            "run",
            &path,
            "Hi",
            "--max-tokens",
            "24",
            "--temperature",
            "0",
        ];
        if let Some(n) = budget {
            args.extend(["--reasoning-budget", n]);
        }
        let out = slm().args(&args).stdin(Stdio::null()).output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        (text(&out.stdout), text(&out.stderr))
    };
    // Uncapped, the random model never closes its thought: stdout stays empty.
    let (stdout, thinking) = run(None);
    assert!(stdout.trim().is_empty(), "{stdout:?}");
    assert!(!thinking.trim().is_empty());
    let (stdout, capped) = run(Some("4"));
    assert!(!stdout.trim().is_empty(), "{capped:?}");
    assert!(
        capped.trim().len() < thinking.trim().len(),
        "{capped:?} / {thinking:?}"
    );
    let (stdout, none) = run(Some("0"));
    assert!(!stdout.trim().is_empty());
    assert!(none.trim().is_empty(), "{none:?}");
    let bad = slm()
        .args([
            "run",
            &path.display().to_string(),
            "Hi",
            "--reasoning-budget",
            "-2",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).contains("reasoning-budget"),
        "{}",
        text(&bad.stderr)
    );
}

/// `--draft-model` (speculative decoding) changes no answer; a draft model that cannot be
/// read is a clear error. SmolLM2 drafts for itself: the only real pair with one vocabulary
/// that set-up installs.
#[test]
fn a_draft_model_drafts_and_answers() {
    let Some(_) = testing::real_model(&models::SMOLLM2, "a_draft_model_drafts_and_answers") else {
        return;
    };
    let run = |extra: &[&str]| {
        let mut args = vec![
            "run",
            "smollm2",
            "Name three colours.",
            "--max-tokens",
            "24",
        ];
        args.extend(["--temperature", "0", "--no-prompt-cache"]);
        args.extend(extra);
        slm().args(&args).stdin(Stdio::null()).output().unwrap()
    };
    // Drafts are checked in a batch, whose kernels round unlike one token's: a near-tie may
    // flip, so the answers are compared by their start (the library's tests compare them
    // whole with equal kernel shapes).
    let plain = run(&["--stats"]);
    let drafted = run(&["--draft-model", "smollm2", "--stats"]);
    assert!(drafted.status.success(), "{}", text(&drafted.stderr));
    let (want, got) = (text(&plain.stdout), text(&drafted.stdout));
    assert!(looks_like_english(&got), "{got:?}");
    assert_eq!(
        got.split_whitespace().next(),
        want.split_whitespace().next()
    );
    assert!(
        text(&drafted.stderr).contains(" accepted"),
        "{}",
        text(&drafted.stderr)
    );
    assert!(!text(&plain.stderr).contains(" accepted"));
    let missing = run(&["--draft-model", "/nonexistent/draft.gguf"]);
    assert!(!missing.status.success());
    assert!(
        text(&missing.stderr).contains("/nonexistent/draft.gguf"),
        "{}",
        text(&missing.stderr)
    );
}

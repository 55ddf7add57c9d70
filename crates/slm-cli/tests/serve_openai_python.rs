//! The official `openai` Python client against `slm serve` on SmolLM2: chat, stream with
//! usage, forced tool calls, a JSON schema answer that validates, and bad requests as the SDK's
//! typed exceptions (`tests/python/openai_client.py`). The interpreter is `$SLM_PYTHON`
//! (default `~/.cache/slm/venv/bin/python`, where `scripts/setup.sh --test` installs `openai`);
//! without it the test fails under CI and says SKIPPED otherwise.

mod serve_support;

use std::path::PathBuf;
use std::process::Command;

use serve_support::{Server, smollm2};

fn python() -> Option<PathBuf> {
    let python = std::env::var_os("SLM_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").unwrap_or_default();
            PathBuf::from(home).join(".cache/slm/venv/bin/python")
        });
    let works = Command::new(&python)
        .args(["-c", "import openai"])
        .output()
        .is_ok_and(|o| o.status.success());
    if works {
        return Some(python);
    }
    let why = format!(
        "{} cannot import openai (run scripts/setup.sh --test)",
        python.display()
    );
    if slm_llamacpp::testing::ci_is_strict() {
        panic!("the openai Python client is required under CI: {why}");
    }
    eprintln!("\n*** SKIPPED the_official_openai_python_client_works: {why}\n");
    None
}

#[tokio::test(flavor = "multi_thread")]
async fn the_official_openai_python_client_works() {
    let Some(_) = smollm2("the_official_openai_python_client_works") else {
        return;
    };
    let Some(python) = python() else { return };
    let key = "sk-python-test";
    let mut server = Server::start(&[
        "--model",
        "smollm2",
        "--api-key",
        &format!("{key},sk-other"),
    ]);
    server.ready().await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/openai_client.py");
    let out = Command::new(&python)
        .arg(script)
        .env("SLM_BASE_URL", server.v1())
        .env("SLM_MODEL", "smollm2")
        .env("SLM_API_KEY", key)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "{stdout}\n{stderr}\nserver:\n{}",
        server.stderr()
    );
    for check in [
        "models",
        "chat",
        "stream_with_usage",
        "forced_tool_call",
        "json_schema",
        "typed_errors",
    ] {
        assert!(
            stdout.lines().any(|l| l == format!("ok {check}")),
            "{check} missing:\n{stdout}"
        );
    }
    assert!(stdout.contains("ALL OK"));
}

//! `replicas:` over two real `slm serve` processes on SmolLM2: `slm eval run` spreads its cases
//! over both, and when one replica dies the other answers everything.

mod serve_support;

use std::path::Path;
use std::process::Command;

use serve_support::{Server, smollm2};

/// Chat completions a server answered with 200.
async fn answered(server: &Server) -> f64 {
    let text = reqwest::get(format!("{}/metrics", server.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| l.starts_with("slm_chat_requests_total{") && l.contains("status=\"200\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn slm(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_slm"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn replicas_spread_an_evaluation_over_two_servers_and_survive_one_dying() {
    let Some(_) = smollm2("replicas_spread_an_evaluation_over_two_servers") else {
        return;
    };
    let mut first = Server::start(&["--model", "smollm2", "--parallel", "2", "--threads", "1"]);
    let mut second = Server::start(&["--model", "smollm2", "--parallel", "2", "--threads", "1"]);
    first.ready().await;
    second.ready().await;
    let spec = format!(
        "replicas:openai:{}#smollm2,openai:{}#smollm2",
        first.v1(),
        second.v1()
    );

    let dir = tempfile::tempdir().unwrap();
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../slm-eval/tests/fixtures/xlam_sample.json");
    let data = dir.path().join("02_dataset");
    let prepared = slm(&[
        "eval",
        "prepare",
        "--dataset-path",
        fixture.to_str().unwrap(),
        "--out",
        data.to_str().unwrap(),
    ]);
    assert!(prepared.status.success());
    let out = dir.path().join("report.json");
    let run = slm(&[
        "eval",
        "run",
        "--track",
        "structured",
        "--data",
        data.join("structured/test.jsonl").to_str().unwrap(),
        "--model",
        &spec,
        "--max-tokens",
        "8",
        "--out",
        out.to_str().unwrap(),
        "--no-progress",
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(report["cases"]["errors"], 0, "{report}");
    let (a, b) = (answered(&first).await, answered(&second).await);
    assert_eq!(a + b, 8.0, "every case answered once: {a} + {b}");
    assert!(a >= 2.0 && b >= 2.0, "both replicas served: {a} and {b}");

    // One replica dies: every request still gets an answer, from the other.
    first.terminate();
    first.wait_exit(std::time::Duration::from_secs(30));
    let before = answered(&second).await;
    for _ in 0..3 {
        let done = slm(&["run", &spec, "Say hi.", "--max-tokens", "4"]);
        assert!(
            done.status.success(),
            "{}",
            String::from_utf8_lossy(&done.stderr)
        );
        assert!(!done.stdout.is_empty());
    }
    assert_eq!(answered(&second).await - before, 3.0);
}

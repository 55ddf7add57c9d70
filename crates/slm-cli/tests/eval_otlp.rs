//! With the `otlp` feature and an OTLP endpoint configured, `slm eval run` and `compare` export
//! their spans over OTLP/HTTP protobuf to a real HTTP server.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use slm_eval::{Case, Dataset};

/// `(path, content type, body)` of each POST received.
type Posts = Arc<Mutex<Vec<(String, String, Vec<u8>)>>>;

/// Collects every POST.
fn collector() -> (String, Posts) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let posts = Arc::new(Mutex::new(Vec::new()));
    let log = posts.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            let (mut length, mut content_type) = (0usize, String::new());
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line.trim().is_empty() {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
                if let Some(v) = lower.strip_prefix("content-type:") {
                    content_type = v.trim().to_string();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let path = request_line
                .split_whitespace()
                .nth(1)
                .unwrap_or("")
                .to_string();
            log.lock().unwrap().push((path, content_type, body));
            let mut out = stream;
            let _ =
                out.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (url, posts)
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn spans_are_exported_over_otlp_http() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("test.jsonl");
    let cases = vec![
        Case::new("One as JSON", "{\"n\": 1}"),
        Case::new("Two as JSON", "{\"n\": 2}"),
    ];
    Dataset::from_cases(&data, cases).save(&data).unwrap();
    let (url, posts) = collector();
    let report = dir.path().join("r.json");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_slm"))
            .arg("eval")
            .args(args)
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", &url)
            .output()
            .unwrap()
    };
    let model = format!("replay:{}#oracle", data.display());
    let done = run(&[
        "run",
        "--track",
        "structured",
        "--data",
        s(&data),
        "--model",
        &model,
        "--out",
        s(&report),
        "--no-progress",
    ]);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let done = run(&[
        "compare",
        "--llm",
        s(&report),
        "--slm",
        s(&report),
        "--delta",
        "0",
    ]);
    assert_eq!(done.status.code(), Some(0));

    let posts = posts.lock().unwrap();
    assert!(!posts.is_empty(), "nothing was exported");
    assert!(
        posts
            .iter()
            .all(|(path, ty, _)| path == "/v1/traces" && ty == "application/x-protobuf")
    );
    let all: Vec<u8> = posts.iter().flat_map(|(_, _, body)| body.clone()).collect();
    for name in [
        "eval.run",
        "eval.case",
        "eval.compare",
        "slm-eval",
        "oracle",
        "fine_tune",
    ] {
        assert!(contains(&all, name), "{name} was not exported");
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

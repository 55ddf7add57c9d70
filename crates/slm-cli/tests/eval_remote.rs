//! `slm eval run` against a real HTTP server that speaks OpenAI's chat-completions protocol
//! (streaming and not), through the `openai:` and `azure` specs and slm-remote.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use slm_eval::{Case, Dataset, Report};

/// A chat-completions server answering from a prompt → reply table, recording what it saw.
struct Server {
    url: String,
    seen: Arc<Mutex<Vec<(String, Value)>>>,
}

fn serve(answers: HashMap<String, String>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let answers = Arc::new(answers);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (answers, log) = (answers.clone(), log.clone());
            std::thread::spawn(move || handle(stream, &answers, &log));
        }
    });
    Server { url, seen }
}

fn handle(stream: TcpStream, answers: &HashMap<String, String>, log: &Mutex<Vec<(String, Value)>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    reader.read_line(&mut request_line).unwrap();
    let mut headers = HashMap::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    let request: Value = serde_json::from_slice(&body).unwrap();
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .to_string();
    log.lock().unwrap().push((path, request.clone()));
    let prompt = request["messages"]
        .as_array()
        .and_then(|m| m.iter().rev().find(|m| m["role"] == "user"))
        .and_then(|m| m["content"].as_str())
        .unwrap_or("");
    let reply = answers
        .get(prompt)
        .cloned()
        .unwrap_or_else(|| "unknown prompt".into());
    let usage = json!({"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10});
    let mut out = stream;
    if request["stream"] == true {
        let chunk = |delta: Value, finish: Value| {
            json!({"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "m",
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        };
        let mut sse = String::new();
        for event in [
            chunk(json!({"role": "assistant", "content": reply}), Value::Null),
            chunk(json!({}), json!("stop")),
            json!({"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "m", "choices": [], "usage": usage}),
        ] {
            sse.push_str(&format!("data: {event}\n\n"));
        }
        sse.push_str("data: [DONE]\n\n");
        let _ = write!(
            out,
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{sse}",
            sse.len()
        );
    } else {
        let body = json!({"id": "c1", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}],
            "usage": usage}).to_string();
        let _ = write!(
            out,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    }
}

fn dataset(dir: &Path) -> (std::path::PathBuf, HashMap<String, String>) {
    let cases: Vec<Case> = (0..6)
        .map(|i| Case::new(format!("Number {i} as JSON"), format!("{{\"n\": {i}}}")))
        .collect();
    // The server gets every answer right except the last.
    let answers = cases
        .iter()
        .enumerate()
        .map(|(i, c)| {
            (
                c.prompt.clone(),
                if i == 5 {
                    "{\"n\": 0}".into()
                } else {
                    c.completion.clone()
                },
            )
        })
        .collect();
    let path = dir.join("test.jsonl");
    Dataset::from_cases(&path, cases).save(&path).unwrap();
    (path, answers)
}

fn slm_eval(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_slm"));
    cmd.arg("eval");
    cmd.args(args);
    for var in [
        "AZURE_ENDPOINT",
        "AZURE_DEPLOYMENT",
        "AZURE_API_KEY",
        "AZURE_API_VERSION",
        "OPENAI_API_KEY",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied());
    cmd.output().unwrap()
}

#[test]
fn run_against_an_openai_compatible_server() {
    let dir = tempfile::tempdir().unwrap();
    let (data, answers) = dataset(dir.path());
    let server = serve(answers);
    let out = dir.path().join("report.json");
    let spec = format!("openai:{}/v1#phi-4-mini", server.url);
    let done = slm_eval(
        &[
            "run",
            "--track",
            "structured",
            "--data",
            data.to_str().unwrap(),
            "--model",
            &spec,
            "--out",
            out.to_str().unwrap(),
            "--no-progress",
            "--price",
            "1,2",
        ],
        &[],
    );
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let report = Report::load(&out).unwrap();
    assert_eq!(report.model.id, "phi-4-mini");
    assert!((report.metrics["exact_match"] - 5.0 / 6.0).abs() < 1e-12);
    assert_eq!(report.tokens.total, 60, "usage comes from the server");
    assert!((report.cost.total - 6.0 * (7.0 + 2.0 * 3.0) / 1e6).abs() < 1e-12);
    let seen = server.seen.lock().unwrap();
    assert_eq!(seen.len(), 6);
    assert!(seen.iter().all(|(path, _)| path == "/v1/chat/completions"));
    let request = &seen[0].1;
    assert_eq!(request["temperature"], 0.0);
    assert_eq!(request["seed"], 42);
    assert_eq!(request["messages"][0]["role"], "system");
}

#[test]
fn run_against_azure_from_the_environment_without_leaking_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let (data, answers) = dataset(dir.path());
    let server = serve(answers);
    let out = dir.path().join("azure.json");
    let key = "sk-test-SECRET-0123456789";
    let endpoint = format!("{}/openai/deployments/chat", server.url);
    let env = [
        ("AZURE_ENDPOINT", endpoint.as_str()),
        ("AZURE_DEPLOYMENT", "chat"),
        ("AZURE_API_KEY", key),
        ("AZURE_API_VERSION", "2024-05-01-preview"),
    ];
    let done = slm_eval(
        &[
            "run",
            "--track",
            "structured",
            "--data",
            data.to_str().unwrap(),
            "--model",
            "azure",
            "--out",
            out.to_str().unwrap(),
            "--no-progress",
        ],
        &env,
    );
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let report_text = std::fs::read_to_string(&out).unwrap();
    let results_text = std::fs::read_to_string(out.with_extension("results.jsonl")).unwrap();
    for text in [
        &report_text,
        &results_text,
        &String::from_utf8_lossy(&done.stderr).into_owned(),
    ] {
        assert!(!text.contains("SECRET"), "the key leaked");
    }
    let report = Report::load(&out).unwrap();
    assert!((report.metrics["exact_match"] - 5.0 / 6.0).abs() < 1e-12);
    let seen = server.seen.lock().unwrap();
    assert!(
        seen[0].0.starts_with(
            "/openai/deployments/chat/chat/completions?api-version=2024-05-01-preview"
        ),
        "{}",
        seen[0].0
    );

    // Without the variables, the error names them and the exit status is 1.
    let missing = slm_eval(
        &[
            "run",
            "--track",
            "structured",
            "--data",
            data.to_str().unwrap(),
            "--model",
            "azure",
            "--no-progress",
        ],
        &[],
    );
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("AZURE_"));
}

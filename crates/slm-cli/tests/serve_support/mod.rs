//! What the `slm serve` tests share: the server process (killed on drop), and (in `load.rs`)
//! the SSE reader and streaming load generator that `examples/loadgen.rs` uses too.
#![allow(dead_code)] // each test file uses part of it

mod load;
pub use load::*;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// A running `slm serve`, killed when dropped.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    stderr: Arc<Mutex<String>>,
}

impl Server {
    /// Starts `slm serve --port 0 ARGS…` and waits for its `listening on` line.
    pub fn start(args: &[&str]) -> Self {
        Self::start_with_env(args, &[])
    }

    /// [`Server::start`] with extra environment variables.
    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_slm"));
        command
            .args(["serve", "--port", "0"])
            .args(args)
            .env("RUST_LOG", "warn")
            .env_remove("SLM_API_KEY")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("the slm binary starts");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut server = Self {
            child,
            url: String::new(),
            stderr,
        };
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("no `listening on` line; stderr:\n{}", server.stderr()));
        server.url = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        server
    }

    /// What the server wrote on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// `URL/v1`.
    pub fn v1(&self) -> String {
        format!("{}/v1", self.url)
    }

    /// Waits until `/health` answers 200.
    pub async fn ready(&mut self) {
        let started = Instant::now();
        let client = reqwest::Client::new();
        loop {
            if let Ok(r) = client.get(format!("{}/health", self.url)).send().await
                && r.status() == 200
            {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "the server exited ({status}) while loading:\n{}",
                    self.stderr()
                );
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "not ready after 120 s:\n{}",
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// Waits for the process to exit, at most `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                started.elapsed() < limit,
                "the server did not exit within {limit:?}:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The value of a metric sample (`name{labels}`) in `/metrics`, 0 when absent.
    pub async fn metric(&self, sample: &str) -> f64 {
        let text = reqwest::get(format!("{}/metrics", self.url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        metric_value(&text, sample)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of `sample` in a Prometheus text, 0 when absent.
pub fn metric_value(text: &str, sample: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

/// The SmolLM2 GGUF, or `None` (SKIPPED; a failure under CI).
pub fn smollm2(test: &str) -> Option<std::path::PathBuf> {
    slm_llamacpp::testing::real_model(&slm_llamacpp::models::SMOLLM2, test)
}

/// A body whose answer is long whatever the model does: a JSON array of at least `items`
/// digits (so generation runs for a while; tests stop it early).
pub fn long_body(model: &str, items: u32, stream: bool) -> Value {
    let mut body = chat_body(model, "List digits.", 8 * items, stream);
    body["response_format"] = json!({"type": "json_schema", "json_schema": {"name": "digits", "schema": {
        "type": "object",
        "properties": {"digits": {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 9}, "minItems": items}},
        "required": ["digits"]
    }}});
    body
}

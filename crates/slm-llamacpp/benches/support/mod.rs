//! Shared by the benches: their environment settings, medians, llama.cpp's `llama-server` as a
//! child process, and the tool-call cases of the bundled xLAM sample.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use slm_eval::Dataset;
use slm_eval::xlam::{self, SplitSpec};

/// A number from the environment, or `default`.
pub fn env_or(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(default)
}

/// Threads given to llama.cpp on every side: `SLM_BENCH_THREADS`, 2 by default.
pub fn threads() -> u32 {
    env_or("SLM_BENCH_THREADS", 2)
}

/// SmolLM2-135M-Instruct, the real default model, from the model cache.
pub fn smollm2() -> std::path::PathBuf {
    slm_llamacpp::models::SMOLLM2
        .locate()
        .expect("SmolLM2 in the model cache (scripts/setup.sh)")
}

/// A single-threaded runtime for the clients, so that only llama.cpp's threads compete for
/// the cores.
pub fn client_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// The median of some measurements.
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The first `n` tool-call cases the bundled xLAM sample prepares (in `dir`).
pub fn xlam_toolcall_cases(dir: &Path, n: usize) -> Dataset {
    let sample =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../slm-eval/tests/fixtures/xlam_sample.json");
    let rows = xlam::read_rows(&sample).expect("the xLAM sample");
    let split = SplitSpec {
        train: 0,
        val: 0,
        test: n,
        seed: 42,
    };
    xlam::prepare(&rows, dir, split).expect("prepare");
    let data = Dataset::load(dir.join("toolcall/test.jsonl")).expect("the prepared cases");
    assert_eq!(
        data.cases.len(),
        n,
        "the sample prepares {n} tool-call cases"
    );
    data
}

/// llama-server on a model with `threads` threads and the given extra arguments (slots,
/// context...), on a free local port; killed and reaped on drop.
pub struct LlamaServer {
    child: Child,
    /// Its base URL, without `/v1`.
    pub url: String,
}

impl LlamaServer {
    /// Starts it and waits (at most 60 s) until `/health` answers 200.
    pub fn start(binary: &Path, model: &Path, threads: u32, args: &[&str]) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(binary)
            .args(["-m", model.to_str().expect("a UTF-8 path")])
            .args(["-t", &threads.to_string()])
            .args(args)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start llama-server");
        // Owned from here on: dropping it (a panic included) kills and reaps the process.
        let server = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let healthy = ureq::get(&format!("{}/health", server.url))
                .call()
                .is_ok_and(|r| r.status() == 200);
            if healthy {
                return server;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("llama-server did not become healthy in 60 s");
    }

    /// `slm-remote`'s client for it.
    pub fn client(&self) -> slm_remote::OpenAiCompatibleModel {
        slm_remote::OpenAiCompatibleModel::new(format!("{}/v1", self.url), "smollm2")
            .expect("client")
    }
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

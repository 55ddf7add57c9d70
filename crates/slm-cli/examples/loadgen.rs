//! A load generator for OpenAI-compatible servers (`slm serve`, `llama-server`): N clients
//! stream chat completions back to back for a while; prints one JSON line with the requests,
//! errors, aggregate completion tokens/s and p50/p99 time to first token.
//!
//! ```text
//! cargo run --release -p slm-cli --example loadgen -- --url http://127.0.0.1:8080 --clients 8
//! ```

#[path = "../tests/serve_support/load.rs"]
mod load;

use std::time::Duration;

use clap::Parser;

/// Streams chat completions from N concurrent clients.
#[derive(Debug, Parser)]
struct Args {
    /// The server's address (without `/v1`).
    #[arg(long)]
    url: String,
    /// The model name sent.
    #[arg(long, default_value = "smollm2")]
    model: String,
    /// Concurrent clients.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Seconds during which clients start new requests (those in flight then finish).
    #[arg(long, default_value_t = 30)]
    duration: u64,
    /// Tokens per answer (greedy decoding).
    #[arg(long, default_value_t = 32)]
    max_tokens: u32,
    /// The prompt.
    #[arg(long, default_value = "Write a long story about a lighthouse keeper.")]
    prompt: String,
    /// A label copied into the output line.
    #[arg(long, default_value = "")]
    label: String,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let body = load::chat_body(&args.model, &args.prompt, args.max_tokens, true);
    // One request first: the server is up and the answer is complete.
    let client = reqwest::Client::new();
    let probe = load::stream_chat(&client, &args.url, &body).await;
    if !probe.complete() {
        eprintln!("loadgen: the probe request failed: {probe:?}");
        std::process::exit(1);
    }
    let report = load::load(
        &args.url,
        body,
        args.clients,
        Duration::from_secs(args.duration),
    )
    .await;
    let mut line = report.to_json();
    line["label"] = args.label.into();
    line["clients"] = args.clients.into();
    line["max_tokens"] = args.max_tokens.into();
    line["probe_completion_tokens"] = probe.completion_tokens.into();
    println!("{line}");
    if let Some(first) = report.errors.first() {
        eprintln!(
            "loadgen: {} requests failed; first: {first}",
            report.errors.len()
        );
        std::process::exit(1);
    }
}

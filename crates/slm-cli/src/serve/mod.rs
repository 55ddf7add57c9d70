//! `slm serve`: any model slm can open, over OpenAI's HTTP API.
//!
//! - `POST /v1/chat/completions` — whole answers or server-sent events, tools, JSON schemas
//!   ([`wire`] maps OpenAI's JSON to slm's types and back);
//! - `GET /v1/models`, `GET /health` (503 while a model loads), `GET /metrics` (Prometheus).
//!
//! The server answers as soon as it listens; models load in the background. Each model has
//! `--parallel` slots (a local model decodes that many requests together, with continuous
//! batching) and a queue of `--queue` requests beyond them; more get 429. A request past
//! `--timeout`, or whose client went away, stops its generation. SIGINT or SIGTERM stops
//! accepting connections and lets the requests in flight finish.

mod errors;
mod metrics;
mod routes;
mod state;
mod wire;

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use slm::{ModelSpec, OpenOptions};
use tokio::sync::watch;

use crate::model_args::ModelArgs;
use state::{ApiKey, AppState, ModelSlot};

/// Arguments of `slm serve`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  slm serve --model smollm2\n  \
    slm serve --model smollm2 --model gemma-3-270m --port 8081 --parallel 16\n  \
    SLM_API_KEY=sk-local slm serve --model smollm2 --host 0.0.0.0\n\n\
    The server prints `listening on http://HOST:PORT` on stdout once it accepts connections.")]
pub struct ServeArgs {
    /// A model to serve (repeatable): `smollm2`, a GGUF path, `hf:owner/repo:Q4_K_M`,
    /// `openai:URL#MODEL`, `azure`, or a composition. Requests name it by its label (the file
    /// stem, `smollm2`), its spec, or its id; requests that name no model get the first.
    #[arg(long = "model", short = 'm', value_name = "SPEC", required = true)]
    pub models: Vec<String>,
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// The port to listen on (0: any free port).
    #[arg(long, short = 'p', default_value_t = 8080)]
    pub port: u16,
    /// API keys clients must send as `Authorization: Bearer KEY` (repeatable, or a comma
    /// list). Default: none needed.
    #[arg(
        long = "api-key",
        value_name = "KEY",
        env = "SLM_API_KEY",
        hide_env_values = true,
        value_delimiter = ','
    )]
    pub api_keys: Vec<ApiKey>,
    /// Largest request body, in bytes (larger: 413).
    #[arg(long = "max-body", value_name = "BYTES", default_value_t = 8 << 20)]
    pub max_body: usize,
    /// Per-request deadline in seconds, queueing included (past it: 504 and the generation
    /// stops); 0: none.
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    pub timeout: u64,
    /// Requests that may wait for a busy model's slot (more: 429).
    #[arg(long, value_name = "N", default_value_t = 256)]
    pub queue: usize,
    #[command(flatten)]
    pub model: ModelArgs,
}

/// Runs `slm serve` until SIGINT or SIGTERM (exit 0), or until a model fails to load (error).
pub async fn run(args: ServeArgs) -> anyhow::Result<u8> {
    let mut slots: Vec<Arc<ModelSlot>> = Vec::new();
    for given in &args.models {
        let spec: ModelSpec = given
            .parse()
            .with_context(|| format!("bad model spec `{given}`"))?;
        let slot = ModelSlot::new(given, spec, args.queue);
        if let Some(same) = slots.iter().find(|s| s.label == slot.label) {
            bail!(
                "`{}` and `{}` would both be served as `{}`; serve one of them",
                same.spec,
                slot.spec,
                slot.label
            );
        }
        slots.push(Arc::new(slot));
    }
    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
        .await
        .with_context(|| format!("cannot listen on {}:{}", args.host, args.port))?;
    let address = listener.local_addr().context("reading the bound address")?;
    let state = Arc::new(AppState {
        models: slots,
        api_keys: args.api_keys,
        metrics: metrics::Metrics::default(),
        timeout: (args.timeout > 0).then(|| Duration::from_secs(args.timeout)),
        max_body: args.max_body,
        started: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    });
    {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "listening on http://{address}");
        let _ = stdout.flush();
    }
    let (failed, mut failure) = watch::channel(None::<String>);
    let options = args.model.open_options(None);
    for slot in &state.models {
        tokio::spawn(load(slot.clone(), options.clone(), failed.clone()));
    }
    let shutdown = async move {
        let reason = tokio::select! {
            reason = signal() => reason.to_string(),
            _ = failure.wait_for(Option::is_some) => "a model failed to load".to_string(),
        };
        eprintln!("slm serve: {reason}: finishing the requests in flight, then exiting");
        // A second Ctrl-C does not wait.
        tokio::spawn(async {
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        });
    };
    axum::serve(listener, routes::router(state.clone()))
        .with_graceful_shutdown(shutdown)
        .await
        .context("serving")?;
    let failure = failed.borrow().clone();
    match failure {
        Some(message) => bail!(message),
        None => Ok(0),
    }
}

/// Opens a model in the background; a failure stops the server.
async fn load(slot: Arc<ModelSlot>, options: OpenOptions, failed: watch::Sender<Option<String>>) {
    let started = Instant::now();
    eprintln!("slm serve: loading `{}` ({})", slot.label, slot.spec);
    match slm::open(&slot.spec, &options).await {
        Ok(opened) => {
            slot.set_ready(opened.model, opened.concurrency);
            eprintln!(
                "slm serve: `{}` ready in {:.1} s ({} at once)",
                slot.label,
                started.elapsed().as_secs_f64(),
                opened.concurrency
            );
        }
        Err(e) => {
            let message = format!("cannot open model {}: {e}", slot.spec);
            slot.set_failed(message.clone());
            failed.send_replace(Some(message));
        }
    }
}

/// The first of SIGINT and SIGTERM.
async fn signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => "SIGINT",
            _ = async {
                match term.as_mut() {
                    Some(term) => { term.recv().await; }
                    None => std::future::pending::<()>().await,
                }
            } => "SIGTERM",
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}

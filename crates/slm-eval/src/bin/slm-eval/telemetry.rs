//! Logging and tracing: `tracing` spans per run and per case, printed to stderr according to
//! `RUST_LOG` (default `warn`).

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Keeps exporters alive until the end of `main`.
pub struct Telemetry;

/// Installs the subscriber.
pub fn init() -> Telemetry {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let _ = tracing_subscriber::registry().with(filter).with(fmt).try_init();
    Telemetry
}

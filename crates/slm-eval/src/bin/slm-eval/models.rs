//! Building models from specs. Backends are optional features of this binary.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, bail};
use slm_core::ChatModel;
use slm_eval::{ModelSpec, ReplayModel};

/// Concurrency for remote models when not given.
const REMOTE_CONCURRENCY: usize = 4;
/// Batch size for local models that batch, when not given (the seed's default).
const LOCAL_BATCH: usize = 8;

/// Builds the model a spec names.
pub async fn build(spec: &ModelSpec) -> Result<Arc<dyn ChatModel>> {
    match spec {
        ModelSpec::Replay { path, delay_ms, .. } => {
            let model = ReplayModel::load(path, spec.label())?
                .with_delay(Duration::from_millis(*delay_ms));
            Ok(Arc::new(model))
        }
        ModelSpec::LlamaCpp { path } => build_llamacpp(path).await,
        ModelSpec::Azure => build_azure(),
        ModelSpec::OpenAi { base_url, model } => build_openai(base_url, model),
    }
}

/// Requests in flight for a model when `--concurrency` is not given.
pub fn default_concurrency(spec: &ModelSpec, model: &dyn ChatModel) -> usize {
    match spec {
        ModelSpec::Azure | ModelSpec::OpenAi { .. } => REMOTE_CONCURRENCY,
        ModelSpec::LlamaCpp { .. } if model.capabilities().batching => LOCAL_BATCH,
        _ => 1,
    }
}

#[cfg(feature = "llamacpp")]
async fn build_llamacpp(path: &std::path::Path) -> Result<Arc<dyn ChatModel>> {
    let _ = path;
    bail!("the llamacpp backend is not wired yet")
}

#[cfg(not(feature = "llamacpp"))]
async fn build_llamacpp(_path: &std::path::Path) -> Result<Arc<dyn ChatModel>> {
    bail!("this slm-eval was built without the `llamacpp` feature")
}

#[cfg(feature = "remote")]
fn build_azure() -> Result<Arc<dyn ChatModel>> {
    bail!("the azure backend is not wired yet")
}

#[cfg(feature = "remote")]
fn build_openai(base_url: &str, model: &str) -> Result<Arc<dyn ChatModel>> {
    let _ = (base_url, model);
    bail!("the openai backend is not wired yet")
}

#[cfg(not(feature = "remote"))]
fn build_azure() -> Result<Arc<dyn ChatModel>> {
    bail!("this slm-eval was built without the `remote` feature")
}

#[cfg(not(feature = "remote"))]
fn build_openai(_base_url: &str, _model: &str) -> Result<Arc<dyn ChatModel>> {
    bail!("this slm-eval was built without the `remote` feature")
}

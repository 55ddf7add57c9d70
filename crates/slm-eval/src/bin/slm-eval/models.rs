//! Building models from specs. Backends are optional features of this binary.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use slm_core::ChatModel;
use slm_eval::{ModelSpec, ReplayModel};

/// Requests in flight for remote models when not given.
const REMOTE_CONCURRENCY: usize = 4;
/// Sequences decoded together by local models when not given (the seed's `--batch-size`).
const LOCAL_BATCH: usize = 8;

/// How to build and drive models.
#[derive(Debug, Clone, Copy, Default)]
pub struct ModelOptions {
    /// `--concurrency`: requests in flight (remote) or sequences decoded together (local).
    pub concurrency: Option<usize>,
    /// `--ctx-size`: context length per sequence of a local model.
    #[cfg_attr(not(feature = "llamacpp"), allow(dead_code))]
    pub ctx_size: Option<u32>,
    /// `--gpu-layers`: layers offloaded to the GPU by a local model.
    #[cfg_attr(not(feature = "llamacpp"), allow(dead_code))]
    pub gpu_layers: u32,
}

/// A built model and the number of requests to keep in flight for it.
pub struct Built {
    pub model: Arc<dyn ChatModel>,
    pub concurrency: usize,
}

/// Builds the model a spec names.
pub async fn build(spec: &ModelSpec, options: ModelOptions) -> Result<Built> {
    match spec {
        ModelSpec::Replay { path, delay_ms, .. } => {
            let model =
                ReplayModel::load(path, spec.label())?.with_delay(Duration::from_millis(*delay_ms));
            Ok(Built {
                model: Arc::new(model),
                concurrency: options.concurrency.unwrap_or(1),
            })
        }
        ModelSpec::LlamaCpp { path } => {
            let batch = options.concurrency.unwrap_or(LOCAL_BATCH).max(1);
            let model = build_llamacpp(path, batch, options).await?;
            let concurrency = if model.capabilities().batching {
                batch
            } else {
                1
            };
            Ok(Built { model, concurrency })
        }
        ModelSpec::Azure => Ok(Built {
            model: build_azure()?,
            concurrency: options.concurrency.unwrap_or(REMOTE_CONCURRENCY),
        }),
        ModelSpec::OpenAi { base_url, model } => Ok(Built {
            model: build_openai(base_url, model)?,
            concurrency: options.concurrency.unwrap_or(REMOTE_CONCURRENCY),
        }),
    }
}

#[cfg(feature = "llamacpp")]
async fn build_llamacpp(
    path: &std::path::Path,
    batch: usize,
    options: ModelOptions,
) -> Result<Arc<dyn ChatModel>> {
    use slm_llamacpp::{LlamaCppModel, LoadOptions};
    let mut load = LoadOptions::default()
        .with_max_sequences(batch as u32)
        .with_gpu_layers(options.gpu_layers);
    if let Some(ctx) = options.ctx_size {
        load = load.with_context_length(ctx);
    }
    let path = path.to_path_buf();
    // Resolving may download, and loading reads the whole file: keep both off the async workers.
    let model = tokio::task::spawn_blocking(move || {
        let path = resolve_llamacpp(&path)?;
        anyhow::Ok(LlamaCppModel::load(&path, load)?)
    })
    .await??;
    Ok(Arc::new(model))
}

/// The GGUF file a `llamacpp:` spec names: a path as it is, a known model (`smollm2`) from the
/// model cache, or a Hub file (`hf:owner/repo:Q4_K_M`) downloaded once, with a progress bar on
/// stderr (hidden when stderr is not a terminal).
#[cfg(feature = "llamacpp")]
fn resolve_llamacpp(path: &std::path::Path) -> Result<std::path::PathBuf> {
    use indicatif::{ProgressBar, ProgressStyle};
    use slm_llamacpp::source::{DownloadEvent, ModelSource};
    let Some(text) = path.to_str() else {
        return Ok(path.to_path_buf());
    };
    let source: ModelSource = text.parse()?;
    let bar = ProgressBar::hidden();
    let resolved = source.resolve(&mut |event| match event {
        DownloadEvent::Started { file, total_bytes } => {
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            bar.set_length(*total_bytes);
            bar.set_style(
                ProgressStyle::with_template("{msg} {wide_bar} {bytes}/{total_bytes} {eta}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.set_message(format!("downloading {file}"));
        }
        DownloadEvent::Progress { downloaded, .. } => bar.set_position(*downloaded),
        DownloadEvent::Verifying { file } => bar.set_message(format!("checking {file}")),
        _ => {}
    });
    bar.finish_and_clear();
    Ok(resolved?)
}

#[cfg(not(feature = "llamacpp"))]
async fn build_llamacpp(
    _path: &std::path::Path,
    _batch: usize,
    _options: ModelOptions,
) -> Result<Arc<dyn ChatModel>> {
    anyhow::bail!("this slm-eval was built without the `llamacpp` feature")
}

/// Azure from the seed's variables: AZURE_ENDPOINT, AZURE_DEPLOYMENT, AZURE_API_KEY,
/// AZURE_API_VERSION.
#[cfg(feature = "remote")]
fn build_azure() -> Result<Arc<dyn ChatModel>> {
    Ok(Arc::new(slm_remote::AzureOpenAiModel::from_env()?))
}

/// An OpenAI-compatible server; `OPENAI_API_KEY` is sent when set.
#[cfg(feature = "remote")]
fn build_openai(base_url: &str, model: &str) -> Result<Arc<dyn ChatModel>> {
    let mut builder = slm_remote::OpenAiCompatibleModel::builder(base_url, model);
    if let Ok(key) = std::env::var("OPENAI_API_KEY") {
        builder = builder.api_key(key);
    }
    Ok(Arc::new(builder.build()?))
}

#[cfg(not(feature = "remote"))]
fn build_azure() -> Result<Arc<dyn ChatModel>> {
    anyhow::bail!("this slm-eval was built without the `remote` feature")
}

#[cfg(not(feature = "remote"))]
fn build_openai(_base_url: &str, _model: &str) -> Result<Arc<dyn ChatModel>> {
    anyhow::bail!("this slm-eval was built without the `remote` feature")
}

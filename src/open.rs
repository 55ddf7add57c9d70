//! Opening a model from a spec string, the way the `slm-eval` CLI names models.

use std::sync::Arc;

use slm_core::{ChatModel, Error};
use slm_eval::ModelSpec;

/// Opens the model a spec names:
/// - `llamacpp:path/to/model.gguf` — a local GGUF file (default load options);
/// - `llamacpp:smollm2` — a model slm knows by name, from the model cache (`$SLM_HOME`);
/// - `llamacpp:hf:owner/repo/file.gguf`, `llamacpp:hf:owner/repo:Q4_K_M` — a file of a Hugging
///   Face Hub repository, downloaded once into the Hub cache (`HF_HOME`, `HF_ENDPOINT`,
///   `HF_TOKEN`; see [`slm::llamacpp::source`](slm_llamacpp::source)). This blocks while it downloads, silently: to show
///   progress, resolve a [`ModelSource`](slm_llamacpp::source::ModelSource) first and pass its path;
/// - `azure` — an Azure OpenAI deployment from `AZURE_ENDPOINT`, `AZURE_DEPLOYMENT`,
///   `AZURE_API_KEY`, `AZURE_API_VERSION`;
/// - `openai:http://host:port/v1#model` — any OpenAI-compatible server;
/// - `replay:answers.jsonl[#id]` — recorded answers (for tests and demos).
///
/// ```
/// let err = slm::open_model("llamacpp:/no/such/model.gguf").err().unwrap();
/// assert!(matches!(err, slm::Error::ModelLoad(_)));
/// assert!(matches!(slm::open_model("gpt"), Err(slm::Error::Config(_))));
/// // A malformed Hub source is a configuration error.
/// assert!(matches!(slm::open_model("llamacpp:hf:no-repo"), Err(slm::Error::Config(_))));
/// let m = slm::open_model("openai:http://127.0.0.1:5273/v1#phi-4-mini").unwrap();
/// assert_eq!(m.id(), "phi-4-mini");
/// ```
pub fn open_model(spec: &str) -> Result<Arc<dyn ChatModel>, Error> {
    let parsed: ModelSpec = spec.parse().map_err(|e| Error::Config(format!("{e}")))?;
    let model: Arc<dyn ChatModel> = match &parsed {
        ModelSpec::LlamaCpp { path } => {
            let path = resolve_llamacpp(path)?;
            Arc::new(
                slm_llamacpp::LlamaCppModel::load(&path, slm_llamacpp::LoadOptions::default())
                    .map_err(Error::from)?,
            )
        }
        ModelSpec::Azure => {
            Arc::new(slm_remote::AzureOpenAiModel::from_env().map_err(Error::from)?)
        }
        ModelSpec::OpenAi { base_url, model } => Arc::new(
            slm_remote::OpenAiCompatibleModel::new(base_url.as_str(), model.as_str())
                .map_err(Error::from)?,
        ),
        ModelSpec::Replay { path, delay_ms, .. } => Arc::new(
            slm_eval::ReplayModel::load(path, parsed.label())
                .map_err(|e| Error::Config(e.to_string()))?
                .with_delay(std::time::Duration::from_millis(*delay_ms)),
        ),
    };
    Ok(model)
}

/// The GGUF file a `llamacpp:` spec names: a path as it is (even one that is not UTF-8), or a
/// known model / Hub file resolved to a path in its cache.
fn resolve_llamacpp(path: &std::path::Path) -> Result<std::path::PathBuf, Error> {
    let Some(text) = path.to_str() else {
        return Ok(path.to_path_buf());
    };
    let source: slm_llamacpp::source::ModelSource = text.parse().map_err(Error::from)?;
    source.resolve(&mut |_| {}).map_err(Error::from)
}

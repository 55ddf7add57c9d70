//! The one place that turns a [`ModelSpec`] into a model: the `slm` command, `slm serve`, the
//! examples and the benches all open models here.

use std::fmt;
use std::sync::Arc;

use slm_core::{ChatModel, Error};

use crate::ModelSpec;

/// Sequences a local model decodes together when not told (the SLM Swap `--batch-size`).
pub const DEFAULT_LOCAL_PARALLEL: u32 = 8;
/// Requests kept in flight to a remote model when not told.
pub const DEFAULT_REMOTE_CONCURRENCY: usize = 4;

/// What a download of a model file reports (a Hub file on first use).
#[cfg(feature = "llamacpp")]
pub type DownloadEvent = slm_llamacpp::source::DownloadEvent;

/// Where [`OpenOptions::on_download`] sends download progress.
///
/// ```
/// let report: slm::DownloadReporter = std::sync::Arc::new(|event: &slm::DownloadEvent| {
///     let _ = event;
/// });
/// let options = slm::OpenOptions { on_download: Some(report), ..Default::default() };
/// assert!(options.on_download.is_some());
/// ```
#[cfg(feature = "llamacpp")]
pub type DownloadReporter = Arc<dyn Fn(&DownloadEvent) + Send + Sync>;

/// How to open models: the load options of local models and where download progress goes.
///
/// ```
/// let options = slm::OpenOptions { parallel: Some(4), context_length: Some(2048), ..Default::default() };
/// assert_eq!(options.parallel, Some(4));
/// ```
#[derive(Clone, Default)]
pub struct OpenOptions {
    /// Sequences a local model decodes together (continuous batching), or requests kept in
    /// flight to a remote one. Default: [`DEFAULT_LOCAL_PARALLEL`] /
    /// [`DEFAULT_REMOTE_CONCURRENCY`].
    pub parallel: Option<u32>,
    /// Context length per sequence of local models (default: the model's, at most 4096).
    pub context_length: Option<u32>,
    /// Layers of local models offloaded to the GPU (builds with the `cuda` feature).
    pub gpu_layers: u32,
    /// CPU threads of local models (default: all cores).
    pub threads: Option<u32>,
    /// Turn off local models' prompt cache (on by default: a request that starts like an
    /// earlier one evaluates only the rest; see `slm_llamacpp::LoadOptions::prompt_cache`).
    pub no_prompt_cache: bool,
    /// A draft model for local GGUF models' speculative decoding: a path or a known name
    /// (`smollm2`), a smaller model with the same vocabulary (see
    /// `slm_llamacpp::LoadOptions::draft_model`). Default: none.
    pub draft_model: Option<String>,
    /// Called with the progress of model downloads (Hub files on first use), on the thread
    /// that downloads.
    #[cfg(feature = "llamacpp")]
    pub on_download: Option<DownloadReporter>,
}

impl fmt::Debug for OpenOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenOptions")
            .field("parallel", &self.parallel)
            .field("context_length", &self.context_length)
            .field("gpu_layers", &self.gpu_layers)
            .field("threads", &self.threads)
            .field("no_prompt_cache", &self.no_prompt_cache)
            .field("draft_model", &self.draft_model)
            .finish_non_exhaustive()
    }
}

/// An opened model and how many requests to keep in flight to it.
///
/// ```
/// # tokio_test_block_on(async {
/// let spec: slm::ModelSpec = "openai:http://127.0.0.1:9/v1#m".parse().unwrap();
/// let opened = slm::open(&spec, &slm::OpenOptions::default()).await.unwrap();
/// assert_eq!(opened.model.id(), "m");
/// assert_eq!(opened.concurrency, slm::DEFAULT_REMOTE_CONCURRENCY);
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Runtime::new().unwrap().block_on(f)
/// # }
/// ```
#[derive(Clone)]
pub struct OpenedModel {
    /// The model.
    pub model: Arc<dyn ChatModel>,
    /// Requests worth keeping in flight: the local model's batch size, the remote
    /// concurrency, or 1 for a local model that does not batch.
    pub concurrency: usize,
}

impl fmt::Debug for OpenedModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenedModel")
            .field("model", &self.model.id())
            .field("concurrency", &self.concurrency)
            .finish()
    }
}

/// Opens the model a spec names, loading local files on a blocking thread (never on the async
/// workers). See [`open_blocking`] for what each kind of spec needs.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let spec: slm::ModelSpec = "llamacpp:/no/such/model.gguf".parse().unwrap();
/// let err = slm::open(&spec, &slm::OpenOptions::default()).await.unwrap_err();
/// assert!(matches!(err, slm::Error::ModelLoad(..)));
/// # });
/// ```
pub async fn open(spec: &ModelSpec, options: &OpenOptions) -> Result<OpenedModel, Error> {
    let spec = spec.clone();
    let options = options.clone();
    tokio::task::spawn_blocking(move || open_blocking(&spec, &options))
        .await
        .map_err(|e| Error::Backend(format!("opening the model stopped: {e}"), None))?
}

/// Opens the model a spec names, on the calling thread (which it blocks while files load or
/// download):
/// - `llamacpp:…`: the GGUF file (a known model from the model cache, `$SLM_HOME`; a Hub file
///   downloaded once into the Hub cache, `HF_HOME`, `HF_ENDPOINT`, `HF_TOKEN`);
/// - `onnx:DIR`: an ONNX model folder, with the ONNX Runtime library that `scripts/setup.sh`
///   installs (or `$SLM_ONNXRUNTIME`);
/// - `azure`: `AZURE_ENDPOINT`, `AZURE_DEPLOYMENT`, `AZURE_API_KEY`, `AZURE_API_VERSION`;
/// - `openai:URL#MODEL`: sends `OPENAI_API_KEY` when it is set;
/// - `replay:FILE`, and the compositions, whose parts open the same way; `replicas:` keeps as
///   many requests in flight as its replicas together.
///
/// A part whose feature this build lacks is a [`Error::Config`] naming the feature.
///
/// ```
/// let spec: slm::ModelSpec = "fallback:openai:http://127.0.0.1:9/v1#a,openai:http://127.0.0.1:9/v1#b".parse().unwrap();
/// let opened = slm::open_blocking(&spec, &slm::OpenOptions::default()).unwrap();
/// assert_eq!(opened.model.id(), "fallback(a|b)");
/// ```
pub fn open_blocking(spec: &ModelSpec, options: &OpenOptions) -> Result<OpenedModel, Error> {
    match spec {
        ModelSpec::LlamaCpp { path } => open_llamacpp(path, options),
        ModelSpec::Onnx { dir } => open_onnx(dir, options),
        ModelSpec::Azure => open_azure().map(|model| remote(model, options)),
        ModelSpec::OpenAi { base_url, model } => {
            open_openai(base_url, model).map(|model| remote(model, options))
        }
        ModelSpec::Replay { path, delay_ms, .. } => open_replay(spec, path, *delay_ms, options),
        ModelSpec::DraftRefine { draft, refine } => {
            let draft = open_blocking(draft, options)?;
            let refine = open_blocking(refine, options)?;
            Ok(OpenedModel {
                concurrency: draft.concurrency.min(refine.concurrency),
                model: Arc::new(slm_core::DraftRefine::new(draft.model, refine.model)),
            })
        }
        ModelSpec::Fallback(parts) => {
            let opened = parts
                .iter()
                .map(|p| open_blocking(p, options))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(OpenedModel {
                concurrency: opened.iter().map(|o| o.concurrency).min().unwrap_or(1),
                model: Arc::new(slm_core::Fallback::new(
                    opened.into_iter().map(|o| o.model).collect(),
                )),
            })
        }
        ModelSpec::Replicas(parts) => {
            let opened = parts
                .iter()
                .map(|p| open_blocking(p, options))
                .collect::<Result<Vec<_>, _>>()?;
            let per_replica = opened.iter().map(|o| o.concurrency).min().unwrap_or(1);
            Ok(OpenedModel {
                concurrency: opened.iter().map(|o| o.concurrency).sum(),
                model: Arc::new(slm_core::Balanced::new(
                    opened.into_iter().map(|o| o.model).collect(),
                    per_replica,
                )),
            })
        }
        ModelSpec::Rag { index, model } => open_rag(index, model, options),
    }
}

/// Opens a model from spec text, with default options, blocking while it loads: the short
/// form of [`open_blocking`].
///
/// ```
/// let err = slm::open_model("llamacpp:/no/such/model.gguf").err().unwrap();
/// assert!(matches!(err, slm::Error::ModelLoad(..)));
/// assert!(matches!(slm::open_model("gpt"), Err(slm::Error::Config(..))));
/// // A malformed Hub source is a configuration error.
/// assert!(matches!(slm::open_model("llamacpp:hf:no-repo"), Err(slm::Error::Config(..))));
/// let m = slm::open_model("openai:http://127.0.0.1:5273/v1#phi-4-mini").unwrap();
/// assert_eq!(m.id(), "phi-4-mini");
/// ```
pub fn open_model(spec: &str) -> Result<Arc<dyn ChatModel>, Error> {
    let spec: ModelSpec = spec.parse()?;
    Ok(open_blocking(&spec, &OpenOptions::default())?.model)
}

fn remote(model: Arc<dyn ChatModel>, options: &OpenOptions) -> OpenedModel {
    OpenedModel {
        model,
        concurrency: options
            .parallel
            .map_or(DEFAULT_REMOTE_CONCURRENCY, |p| p.max(1) as usize),
    }
}

#[cfg(not(all(
    feature = "llamacpp",
    feature = "remote",
    feature = "eval",
    feature = "rag",
    feature = "onnx"
)))]
fn missing(feature: &str) -> Error {
    Error::Config(
        format!("this build of slm has no `{feature}` feature; rebuild with --features {feature}"),
        None,
    )
}

#[cfg(feature = "llamacpp")]
fn open_llamacpp(path: &std::path::Path, options: &OpenOptions) -> Result<OpenedModel, Error> {
    use slm_llamacpp::{LlamaCppModel, LoadOptions, source::ModelSource};
    let resolve = |text: &str| -> Result<std::path::PathBuf, Error> {
        let source: ModelSource = text.parse()?;
        let on_download = options.on_download.clone();
        Ok(source.resolve(&mut |event| {
            if let Some(report) = &on_download {
                report(event)
            }
        })?)
    };
    let path = match path.to_str() {
        // A path that is not UTF-8 is a path, never a name.
        None => path.to_path_buf(),
        Some(text) => resolve(text)?,
    };
    let parallel = options.parallel.unwrap_or(DEFAULT_LOCAL_PARALLEL).max(1);
    let mut load = LoadOptions::default()
        .with_max_sequences(parallel)
        .with_gpu_layers(options.gpu_layers)
        .with_prompt_cache(!options.no_prompt_cache);
    if let Some(tokens) = options.context_length {
        load = load.with_context_length(tokens);
    }
    if let Some(threads) = options.threads {
        load = load.with_threads(threads);
    }
    if let Some(draft) = &options.draft_model {
        load = load.with_draft_model(slm_llamacpp::DraftModel::new(resolve(draft)?));
    }
    let model = LlamaCppModel::load(&path, load)?;
    let concurrency = if model.capabilities().batching {
        parallel as usize
    } else {
        1
    };
    Ok(OpenedModel {
        model: Arc::new(model),
        concurrency,
    })
}

#[cfg(feature = "onnx")]
fn open_onnx(dir: &std::path::Path, options: &OpenOptions) -> Result<OpenedModel, Error> {
    let mut load = slm_onnx::LoadOptions::default();
    if let Some(threads) = options.threads {
        load = load.with_threads(threads as usize);
    }
    let model = slm_onnx::OnnxModel::load(dir, load)?;
    // One sequence at a time: requests queue on the model's worker.
    Ok(OpenedModel {
        model: Arc::new(model),
        concurrency: 1,
    })
}

#[cfg(not(feature = "onnx"))]
fn open_onnx(_: &std::path::Path, _: &OpenOptions) -> Result<OpenedModel, Error> {
    Err(missing("onnx"))
}

#[cfg(not(feature = "llamacpp"))]
fn open_llamacpp(_: &std::path::Path, _: &OpenOptions) -> Result<OpenedModel, Error> {
    Err(missing("llamacpp"))
}

#[cfg(feature = "remote")]
fn open_azure() -> Result<Arc<dyn ChatModel>, Error> {
    Ok(Arc::new(slm_remote::AzureOpenAiModel::from_env()?))
}

#[cfg(feature = "remote")]
fn open_openai(base_url: &str, model: &str) -> Result<Arc<dyn ChatModel>, Error> {
    let mut builder = slm_remote::OpenAiCompatibleModel::builder(base_url, model);
    if let Ok(key) = std::env::var("OPENAI_API_KEY")
        && !key.is_empty()
    {
        builder = builder.api_key(key);
    }
    Ok(Arc::new(builder.build()?))
}

#[cfg(not(feature = "remote"))]
fn open_azure() -> Result<Arc<dyn ChatModel>, Error> {
    Err(missing("remote"))
}

#[cfg(not(feature = "remote"))]
fn open_openai(_: &str, _: &str) -> Result<Arc<dyn ChatModel>, Error> {
    Err(missing("remote"))
}

#[cfg(feature = "eval")]
fn open_replay(
    spec: &ModelSpec,
    path: &std::path::Path,
    delay_ms: u64,
    options: &OpenOptions,
) -> Result<OpenedModel, Error> {
    let model = slm_eval::ReplayModel::load(path, spec.label())?
        .with_delay(std::time::Duration::from_millis(delay_ms));
    Ok(OpenedModel {
        model: Arc::new(model),
        concurrency: options.parallel.map_or(1, |p| p.max(1) as usize),
    })
}

#[cfg(not(feature = "eval"))]
fn open_replay(
    _: &ModelSpec,
    _: &std::path::Path,
    _: u64,
    _: &OpenOptions,
) -> Result<OpenedModel, Error> {
    Err(missing("eval"))
}

#[cfg(feature = "rag")]
fn open_rag(
    index: &std::path::Path,
    model: &ModelSpec,
    options: &OpenOptions,
) -> Result<OpenedModel, Error> {
    let index = if index.is_dir() {
        index_folder(index)?
    } else {
        slm_rag::Index::load(index)?
    };
    let opened = open_blocking(model, options)?;
    Ok(OpenedModel {
        concurrency: opened.concurrency,
        model: Arc::new(slm_rag::RagModel::new(opened.model, index)),
    })
}

/// Indexes the `.txt` and `.md` files of a folder (not its subfolders), two sentences per
/// passage with one of overlap; a passage's id is `file-name#n`.
#[cfg(feature = "rag")]
fn index_folder(folder: &std::path::Path) -> Result<slm_rag::Index, Error> {
    let read_error =
        |e: std::io::Error| Error::Config(format!("reading {}: {e}", folder.display()), None);
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(folder)
        .map_err(read_error)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("txt") || e.eq_ignore_ascii_case("md"))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Error::Config(
            format!("{} holds no .txt or .md file to index", folder.display()),
            None,
        ));
    }
    let chunker = slm_rag::Chunker::sentences(2, 1)?;
    let mut index = slm_rag::Index::new();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .map_err(|e| Error::Config(format!("reading {}: {e}", file.display()), None))?;
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let document = slm_rag::Document::new(name, text);
        index.add_documents(
            chunker
                .chunk_document(&document)
                .into_iter()
                .map(|c| c.into_document()),
        )?;
    }
    Ok(index)
}

#[cfg(not(feature = "rag"))]
fn open_rag(_: &std::path::Path, _: &ModelSpec, _: &OpenOptions) -> Result<OpenedModel, Error> {
    Err(missing("rag"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "rag")]
    #[test]
    fn rag_over_a_folder_indexes_its_text_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a.md"),
            "Refunds take five days. Ask first.",
        )
        .unwrap();
        std::fs::write(dir.path().join("skip.bin"), "Refunds refunds refunds.").unwrap();
        let index = index_folder(dir.path()).unwrap();
        let hits = index.search("refunds", 5);
        assert!(!hits.is_empty());
        assert!(
            hits.iter().all(|h| h.id().starts_with("a.md#")),
            "only a.md"
        );
        let empty = tempfile::tempdir().unwrap();
        assert!(matches!(index_folder(empty.path()), Err(Error::Config(..))));
    }

    #[cfg(all(feature = "rag", feature = "remote"))]
    #[test]
    fn compositions_open_their_parts() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), "Refunds take five days.").unwrap();
        let spec: ModelSpec = format!(
            "rag:{},[draft-refine:openai:http://127.0.0.1:9/v1#s,openai:http://127.0.0.1:9/v1#l]",
            dir.path().display()
        )
        .parse()
        .unwrap();
        let opened = open_blocking(&spec, &OpenOptions::default()).unwrap();
        assert!(
            opened.model.id().starts_with("rag("),
            "{}",
            opened.model.id()
        );
        assert_eq!(opened.concurrency, DEFAULT_REMOTE_CONCURRENCY);
    }

    #[cfg(feature = "remote")]
    #[test]
    fn replicas_keep_the_sum_of_their_requests_in_flight() {
        let spec: ModelSpec =
            "replicas:openai:http://127.0.0.1:9/v1#m,openai:http://127.0.0.1:10/v1#m"
                .parse()
                .unwrap();
        let options = OpenOptions {
            parallel: Some(3),
            ..Default::default()
        };
        let opened = open_blocking(&spec, &options).unwrap();
        assert_eq!(opened.model.id(), "balanced(m|m)");
        assert_eq!(opened.concurrency, 6);
        assert_eq!(spec.label(), "m");
    }
}

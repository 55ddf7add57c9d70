//! [`OnnxModel`]: an onnxruntime-genai model folder as a [`ChatModel`].

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc::Sender;
use std::time::Instant;

use slm_chat::ChatTemplate;
use slm_core::{
    Capabilities, ChatEvent, ChatModel, ChatRequest, ChatResponse, ChatStream, GenerationOptions,
    ResponseFormat, Timings,
};
use tokio::sync::{mpsc, oneshot};

use crate::config::{GenaiConfig, TokenizerConfig, invalid};
use crate::worker::{Command, ConstraintSpec, EventReceiver, Job};
use crate::{OnnxError, runtime::RuntimeInfo};

/// How to load a model folder.
///
/// ```
/// let o = slm_onnx::LoadOptions::default().with_threads(2);
/// assert_eq!(o.threads, Some(2));
/// assert!(o.runtime.is_none());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Threads of ONNX Runtime's intra-op pool (default: every core).
    pub threads: Option<usize>,
    /// The ONNX Runtime library to use (default: see [`crate::runtime::resolve`]).
    pub runtime: Option<PathBuf>,
    /// A chat template replacing the folder's.
    pub chat_template: Option<String>,
}

impl LoadOptions {
    /// Sets the number of threads.
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = Some(threads);
        self
    }

    /// Sets the ONNX Runtime library.
    ///
    /// ```
    /// let o = slm_onnx::LoadOptions::default().with_runtime("/opt/ort/libonnxruntime.so");
    /// assert!(o.runtime.is_some());
    /// ```
    pub fn with_runtime(mut self, path: impl Into<PathBuf>) -> Self {
        self.runtime = Some(path.into());
        self
    }

    /// Replaces the folder's chat template.
    ///
    /// ```
    /// let o = slm_onnx::LoadOptions::default().with_chat_template(slm_chat::ChatTemplate::CHATML);
    /// assert!(o.chat_template.is_some());
    /// ```
    pub fn with_chat_template(mut self, template: impl Into<String>) -> Self {
        self.chat_template = Some(template.into());
        self
    }
}

/// An ONNX decoder model folder (onnxruntime-genai's layout) answering chats.
///
/// Loading starts a worker thread that owns the ONNX Runtime session; requests queue and run
/// one at a time. Dropping the model (every clone of it) stops the thread. Dropping a
/// `chat` future or a `chat_stream` stream cancels its generation at the next token.
///
/// ```no_run
/// use slm_core::{ChatModel, ChatRequest};
/// # async fn demo() -> Result<(), slm_core::Error> {
/// let dir = dirs_home().join(".cache/slm/onnx/smollm2-135m-instruct-int4");
/// let model = slm_onnx::OnnxModel::load(&dir, slm_onnx::LoadOptions::default().with_threads(2))?;
/// let answer = model.chat(ChatRequest::builder().user("What is the capital of France?").build()).await?;
/// println!("{}", answer.text());
/// # Ok(()) }
/// # fn dirs_home() -> std::path::PathBuf { std::env::var_os("HOME").unwrap().into() }
/// ```
#[derive(Clone)]
pub struct OnnxModel {
    inner: std::sync::Arc<Inner>,
}

struct Inner {
    id: String,
    dir: PathBuf,
    config: GenaiConfig,
    template: ChatTemplate,
    runtime: RuntimeInfo,
    commands: Mutex<Option<Sender<Command>>>,
    /// `identity()`'s answer, computed once.
    identity: std::sync::OnceLock<String>,
    worker: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Ok(mut c) = self.commands.lock() {
            c.take();
        }
        if let Some(handle) = self.worker.lock().ok().and_then(|mut w| w.take()) {
            let _ = handle.join();
        }
    }
}

impl std::fmt::Debug for OnnxModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnnxModel")
            .field("id", &self.inner.id)
            .field("dir", &self.inner.dir)
            .field("runtime", &self.inner.runtime)
            .finish_non_exhaustive()
    }
}

impl OnnxModel {
    /// Loads a model folder: `genai_config.json`, the graph it names, `tokenizer.json` and
    /// (for the chat template) `tokenizer_config.json`.
    ///
    /// ```
    /// let err = slm_onnx::OnnxModel::load("/nonexistent/model", Default::default()).unwrap_err();
    /// assert!(matches!(err, slm_onnx::OnnxError::MissingConfig { .. }));
    /// ```
    pub fn load(dir: impl AsRef<Path>, options: LoadOptions) -> Result<Self, OnnxError> {
        let dir = dir.as_ref().to_path_buf();
        let _span = tracing::info_span!("onnx_model_load", dir = %dir.display()).entered();
        let config = GenaiConfig::load(&dir)?;
        let tok_config = TokenizerConfig::load(&dir)?;
        let source = options
            .chat_template
            .clone()
            .or(tok_config.chat_template.clone())
            .ok_or_else(|| {
                invalid(
                    &dir,
                    "no chat template (tokenizer_config.json has no chat_template; pass LoadOptions::with_chat_template)".into(),
                )
            })?;
        let template = ChatTemplate::new(source, tok_config.bos_token, tok_config.eos_token)?;
        let (commands, handle, loaded) = crate::worker::spawn(dir.clone(), options)?;
        let id = format!(
            "onnx:{}",
            dir.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| dir.display().to_string())
        );
        Ok(Self {
            inner: std::sync::Arc::new(Inner {
                id,
                dir,
                config,
                template,
                runtime: loaded.runtime,
                commands: Mutex::new(Some(commands)),
                identity: std::sync::OnceLock::new(),
                worker: Mutex::new(Some(handle)),
            }),
        })
    }

    /// The folder's `genai_config.json`.
    ///
    /// ```no_run
    /// # let model = slm_onnx::OnnxModel::load("m", Default::default()).unwrap();
    /// println!("{} layers", model.config().model.decoder.num_hidden_layers);
    /// ```
    pub fn config(&self) -> &GenaiConfig {
        &self.inner.config
    }

    /// The ONNX Runtime library in use.
    ///
    /// ```no_run
    /// # let model = slm_onnx::OnnxModel::load("m", Default::default()).unwrap();
    /// assert!(slm_onnx::runtime::version_ok(&model.runtime().version));
    /// ```
    pub fn runtime(&self) -> &RuntimeInfo {
        &self.inner.runtime
    }

    /// Renders a request's messages with the model's chat template (the prompt `chat` uses).
    ///
    /// ```no_run
    /// # let model = slm_onnx::OnnxModel::load("m", Default::default()).unwrap();
    /// let prompt = model.render(&[slm_core::Message::user("Hi")]).unwrap();
    /// assert!(prompt.contains("Hi"));
    /// ```
    pub fn render(&self, messages: &[slm_core::Message]) -> Result<String, OnnxError> {
        Ok(self.inner.template.render(messages, &[], true)?)
    }

    fn send(&self, command: Command) -> Result<(), OnnxError> {
        let guard = self
            .inner
            .commands
            .lock()
            .map_err(|_| OnnxError::WorkerStopped)?;
        guard
            .as_ref()
            .ok_or(OnnxError::WorkerStopped)?
            .send(command)
            .map_err(|_| OnnxError::WorkerStopped)
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, OnnxError>>) -> Command,
    ) -> Result<T, OnnxError> {
        let (tx, rx) = oneshot::channel();
        self.send(make(tx))?;
        rx.await.map_err(|_| OnnxError::WorkerStopped)?
    }

    /// Token ids of a text (special tokens written in it are recognised, no BOS added).
    ///
    /// ```no_run
    /// # futures::executor::block_on(async {
    /// # let model = slm_onnx::OnnxModel::load("m", Default::default()).unwrap();
    /// let ids = model.tokenize("Hello").await.unwrap();
    /// assert!(!ids.is_empty());
    /// # });
    /// ```
    pub async fn tokenize(&self, text: &str) -> Result<Vec<u32>, OnnxError> {
        let text = text.to_string();
        self.ask(|reply| Command::Tokenize { text, reply }).await
    }

    /// The logits after `tokens` (the whole vocabulary). `incremental` runs the tokens one at
    /// a time carrying the KV cache, as decoding does; otherwise one run without a cache.
    ///
    /// ```no_run
    /// # futures::executor::block_on(async {
    /// # let model = slm_onnx::OnnxModel::load("m", Default::default()).unwrap();
    /// let a = model.last_logits(vec![1, 2, 3], false).await.unwrap();
    /// let b = model.last_logits(vec![1, 2, 3], true).await.unwrap();
    /// assert_eq!(a.len(), b.len());
    /// # });
    /// ```
    pub async fn last_logits(
        &self,
        tokens: Vec<u32>,
        incremental: bool,
    ) -> Result<Vec<f32>, OnnxError> {
        self.ask(|reply| Command::Logits {
            tokens,
            incremental,
            reply,
        })
        .await
    }

    /// Generates token ids after a tokenized prompt (no template, no stop strings, no
    /// constraint; it ends at an end token or `max_tokens`). The timings measure the prefill
    /// and the decode loop.
    ///
    /// ```no_run
    /// # futures::executor::block_on(async {
    /// # let model = slm_onnx::OnnxModel::load("m", Default::default()).unwrap();
    /// let opts = slm_core::GenerationOptions::deterministic().with_max_tokens(8);
    /// let (ids, timings) = model.generate_ids(vec![1, 2, 3], opts).await.unwrap();
    /// assert!(ids.len() <= 8);
    /// # });
    /// ```
    pub async fn generate_ids(
        &self,
        prompt: Vec<u32>,
        options: GenerationOptions,
    ) -> Result<(Vec<u32>, Timings), OnnxError> {
        options
            .validate()
            .map_err(|e| OnnxError::Unsupported(e.to_string()))?;
        self.ask(|reply| Command::GenerateIds {
            prompt,
            options,
            reply,
        })
        .await
    }

    fn submit(&self, request: ChatRequest) -> Result<EventReceiver, slm_core::Error> {
        let started = Instant::now();
        request.options.validate()?;
        if !request.tools.is_empty() {
            return Err(
                OnnxError::Unsupported("tools (slm-onnx answers in text only)".into()).into(),
            );
        }
        if request.options.dry.is_some() {
            return Err(OnnxError::Unsupported("DRY sampling".into()).into());
        }
        let constraint = match &request.response_format {
            ResponseFormat::Text => None,
            ResponseFormat::Json => Some(ConstraintSpec::Json),
            ResponseFormat::JsonSchema { schema, .. } => {
                Some(ConstraintSpec::Schema(schema.clone()))
            }
            ResponseFormat::Grammar { .. } => {
                return Err(
                    OnnxError::Unsupported("GBNF grammars (use a JSON schema)".into()).into(),
                );
            }
        };
        let prompt = self.render(&request.messages)?;
        let (events, receiver) = mpsc::unbounded_channel();
        let job = Job {
            prompt,
            options: request.options,
            constraint,
            started,
            prep: started.elapsed(),
            queued: Instant::now(),
            model_id: self.inner.id.clone(),
            events,
        };
        self.send(Command::Generate(Box::new(job)))?;
        Ok(receiver)
    }
}

#[slm_core::async_trait]
impl ChatModel for OnnxModel {
    fn id(&self) -> &str {
        &self.inner.id
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            streaming: true,
            tools: false,
            json_schema: true,
            grammar: false,
            batching: false,
            context_length: Some(self.inner.config.model.context_length),
        }
    }

    async fn chat(&self, request: ChatRequest) -> slm_core::Result<ChatResponse> {
        let mut events = self.submit(request)?;
        while let Some(event) = events.recv().await {
            if let ChatEvent::Done(response) = event? {
                return Ok(*response);
            }
        }
        Err(OnnxError::WorkerStopped.into())
    }

    fn chat_stream(&self, request: ChatRequest) -> ChatStream<'_> {
        match self.submit(request) {
            Ok(mut events) => Box::pin(futures::stream::poll_fn(move |cx| events.poll_recv(cx))),
            Err(e) => Box::pin(futures::stream::once(futures::future::ready(Err(e)))),
        }
    }

    /// `onnx:sha256=<digest>`: one sha256 over the folder's files that decide answers (the
    /// graph and its external data, `genai_config.json`, `tokenizer.json`) and the chat
    /// template in use. The files are hashed once, on first call, off the caller's thread.
    async fn identity(&self) -> slm_core::Result<Option<String>> {
        if let Some(id) = self.inner.identity.get() {
            return Ok(Some(id.clone()));
        }
        let dir = self.inner.dir.clone();
        let graph = self.inner.config.model.decoder.filename.clone();
        let template = self.inner.template.source().to_string();
        let (tx, rx) = oneshot::channel();
        std::thread::Builder::new()
            .name("slm-onnx-hash".into())
            .spawn(move || {
                let _ = tx.send(folder_digest(&dir, &graph, &template));
            })
            .map_err(|e| OnnxError::Runtime(format!("cannot start a thread: {e}")))?;
        let digest = rx.await.map_err(|_| OnnxError::WorkerStopped)??;
        let id = format!("onnx:sha256={digest}");
        Ok(Some(self.inner.identity.get_or_init(|| id).clone()))
    }
}

/// The sha256 (hex) of a folder's answer-deciding files and a template.
fn folder_digest(dir: &Path, graph: &str, template: &str) -> Result<String, OnnxError> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut hasher = Sha256::new();
    let mut files = vec![
        dir.join(graph),
        dir.join("genai_config.json"),
        dir.join("tokenizer.json"),
    ];
    let data = dir.join(format!("{graph}.data"));
    if data.is_file() {
        files.push(data);
    }
    let mut buffer = vec![0u8; 1 << 20];
    for path in files {
        let mut file = std::fs::File::open(&path)
            .map_err(|e| invalid(dir, format!("{}: {e}", path.display())))?;
        hasher.update(
            path.file_name()
                .map(|n| n.as_encoded_bytes())
                .unwrap_or_default(),
        );
        loop {
            let n = file
                .read(&mut buffer)
                .map_err(|e| invalid(dir, format!("{}: {e}", path.display())))?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
        }
    }
    hasher.update(template.as_bytes());
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

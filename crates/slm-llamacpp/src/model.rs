//! [`LlamaCppModel`]: a GGUF model behind a `Send + Sync + Clone` handle implementing
//! [`ChatModel`].

use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use slm_core::{
    Capabilities, ChatEvent, ChatModel, ChatRequest, ChatResponse, ChatStream, Message,
    ResponseFormat, Role, ToolChoice, ToolSpec, async_trait,
};
use tokio::sync::{mpsc, oneshot};

use crate::constrain::ConstraintSpec;
use crate::gguf::{GgufHeader, GgufInfo};
use crate::tools;
use crate::worker::CallMode;
use crate::worker::{self, Command, Job};
use crate::{ChatTemplate, LlamaCppError, LoadOptions, sampling};
use slm_chat::ToolFormat;

/// Facts about a loaded model.
///
/// ```
/// # use slm_llamacpp::{LlamaCppModel, LoadOptions, testing::{TestModelSpec, write_test_model}};
/// # let dir = tempfile::tempdir().unwrap();
/// # let path = dir.path().join("tiny.gguf");
/// # write_test_model(&path, &TestModelSpec::tiny()).unwrap();
/// let model = LlamaCppModel::load(&path, LoadOptions::default().with_context_length(256)).unwrap();
/// let info = model.info();
/// assert_eq!(info.context_length, 256);
/// assert_eq!(info.gguf.architecture, "llama");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// The file.
    pub path: PathBuf,
    /// What the file's header says.
    pub gguf: GgufInfo,
    /// Context length of each sequence, in tokens.
    pub context_length: u32,
    /// Tokens in the vocabulary.
    pub vocab_size: u32,
    /// Threads used for generation.
    pub threads: u32,
    /// The options the model was loaded with.
    pub options: LoadOptions,
}

/// A local GGUF model run by llama.cpp.
///
/// One worker thread owns llama.cpp's model and context; this handle only sends it requests, so
/// it is `Send + Sync + Clone` and concurrent callers queue. The worker stops when the last
/// handle is dropped.
///
/// ```
/// use slm_core::{ChatModel, ChatRequest, GenerationOptions};
/// use slm_llamacpp::{LlamaCppModel, LoadOptions};
/// use slm_llamacpp::testing::{TestModelSpec, write_test_model};
///
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("tiny.gguf");
/// write_test_model(&path, &TestModelSpec::tiny()).unwrap();
/// let model = LlamaCppModel::load(&path, LoadOptions::default()).unwrap();
///
/// let request = ChatRequest::builder()
///     .user("Hello!")
///     .options(GenerationOptions::deterministic().with_max_tokens(8))
///     .build();
/// let rt = tokio::runtime::Runtime::new().unwrap();
/// let answer = rt.block_on(model.chat(request)).unwrap();
/// assert_eq!(answer.usage.completion_tokens, 8);
/// assert!(answer.timings.decode_tokens_per_second.is_some());
/// ```
#[derive(Debug, Clone)]
pub struct LlamaCppModel {
    inner: Arc<Inner>,
    /// This handle's adapter choice: `None` uses the model's default.
    lora: Option<Option<(usize, f32)>>,
    id: Arc<str>,
}

#[derive(Debug)]
struct Inner {
    id: String,
    info: ModelInfo,
    template: ChatTemplate,
    commands: Mutex<Option<Sender<Command>>>,
    worker: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// sha256 of the weights and adapter files, once [`ChatModel::identity`] asked for them.
    digests: std::sync::OnceLock<FileDigests>,
}

/// sha256 of a model's files.
#[derive(Debug, Clone)]
struct FileDigests {
    model: String,
    adapters: Vec<String>,
}

impl FileDigests {
    /// Hashes the files on a thread of its own (a large GGUF takes seconds), off the caller's
    /// async runtime.
    async fn compute(model: &std::path::Path, adapters: &[PathBuf]) -> Result<Self, LlamaCppError> {
        let (model, adapters) = (model.to_path_buf(), adapters.to_vec());
        let (sender, receiver) = futures::channel::oneshot::channel();
        std::thread::spawn(move || {
            let digests = crate::models::sha256_file(&model).and_then(|model| {
                let adapters = adapters
                    .iter()
                    .map(|a| crate::models::sha256_file(a))
                    .collect::<Result<_, _>>()?;
                Ok(Self { model, adapters })
            });
            let _ = sender.send(digests);
        });
        receiver.await.map_err(|_| LlamaCppError::Io {
            path: PathBuf::new(),
            message: "the hashing thread stopped".into(),
        })?
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the channel ends the worker's loop.
        if let Ok(mut commands) = self.commands.lock() {
            commands.take();
        }
        if let Ok(mut worker) = self.worker.lock()
            && let Some(handle) = worker.take()
        {
            let _ = handle.join();
        }
    }
}

impl LlamaCppModel {
    /// Loads a GGUF model.
    ///
    /// The header is read and validated in Rust first, so a missing, empty, truncated, non-GGUF
    /// or wrong-version file gives a typed error and never reaches llama.cpp. The chat template
    /// is `options.chat_template`, else the file's `tokenizer.chat_template`, else ChatML.
    ///
    /// ```
    /// use slm_llamacpp::{LlamaCppError, LlamaCppModel, LoadOptions};
    /// let err = LlamaCppModel::load("/no/such/model.gguf", LoadOptions::default()).unwrap_err();
    /// assert!(matches!(err, LlamaCppError::NotFound { .. }));
    /// ```
    pub fn load(path: impl AsRef<Path>, options: LoadOptions) -> Result<Self, LlamaCppError> {
        let path = path.as_ref().to_path_buf();
        options.validate()?;
        let header = GgufHeader::read(&path)?;
        header.validate_for_loading(&path)?;
        for adapter in &options.lora_adapters {
            GgufHeader::read(adapter)?.validate_lora(adapter)?;
        }
        if let Some(draft) = &options.draft_model {
            GgufHeader::read(&draft.path)?.validate_for_loading(&draft.path)?;
        }
        let gguf = GgufInfo::from_header(&header);
        let template = template_for(&header, &options)?;
        let id = options.id.clone().unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "llama.cpp".into())
        });
        let (commands, handle, loaded) = worker::spawn(path.clone(), options.clone(), id.clone())?;
        let info = ModelInfo {
            path,
            gguf,
            context_length: loaded.context_length,
            vocab_size: loaded.n_vocab.max(0) as u32,
            threads: options.effective_threads(),
            options,
        };
        Ok(Self {
            lora: None,
            id: id.clone().into(),
            inner: Arc::new(Inner {
                id,
                info,
                template,
                commands: Mutex::new(Some(commands)),
                worker: Mutex::new(Some(handle)),
                digests: std::sync::OnceLock::new(),
            }),
        })
    }

    /// A handle to the same model whose requests run with LoRA adapter `index` (from
    /// [`LoadOptions::lora_adapters`]) at `scale`. Handles share the model: requests with
    /// different adapters queue for each other, since an adapter applies to the whole context.
    ///
    /// ```
    /// use slm_llamacpp::{LlamaCppModel, LoadOptions};
    /// use slm_llamacpp::testing::{TestModelSpec, write_test_lora, write_test_model};
    /// let dir = tempfile::tempdir().unwrap();
    /// let (path, lora) = (dir.path().join("m.gguf"), dir.path().join("l.gguf"));
    /// write_test_model(&path, &TestModelSpec::tiny()).unwrap();
    /// write_test_lora(&lora, &TestModelSpec::tiny(), 4, 1).unwrap();
    /// let base = LlamaCppModel::load(&path, LoadOptions::default().with_lora_adapter(&lora)).unwrap();
    /// let tuned = base.with_lora(0, 1.0).unwrap();
    /// assert_eq!(slm_core::ChatModel::id(&tuned), "m+lora0@1");
    /// assert!(base.with_lora(1, 1.0).is_err());
    /// ```
    pub fn with_lora(&self, index: usize, scale: f32) -> Result<Self, LlamaCppError> {
        if index >= self.inner.info.options.lora_adapters.len() || !scale.is_finite() {
            return Err(LlamaCppError::InvalidOption(format!(
                "no LoRA adapter {index} (or a non-finite scale)"
            )));
        }
        Ok(Self {
            inner: self.inner.clone(),
            lora: Some(Some((index, scale))),
            id: format!("{}+lora{index}@{scale}", self.inner.id).into(),
        })
    }

    /// A handle to the same model whose requests run without any adapter.
    ///
    /// ```
    /// # use slm_llamacpp::{LlamaCppModel, LoadOptions, testing::{TestModelSpec, write_test_model}};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let path = dir.path().join("m.gguf");
    /// # write_test_model(&path, &TestModelSpec::tiny()).unwrap();
    /// let model = LlamaCppModel::load(&path, LoadOptions::default()).unwrap();
    /// assert_eq!(slm_core::ChatModel::id(&model.without_lora()), "m");
    /// ```
    pub fn without_lora(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            lora: Some(None),
            id: self.inner.id.clone().into(),
        }
    }

    /// Facts about the model: file, header summary, context length, vocabulary, threads.
    ///
    /// ```
    /// # use slm_llamacpp::{LlamaCppModel, LoadOptions, testing::{TestModelSpec, write_test_model}};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let path = dir.path().join("tiny.gguf");
    /// # write_test_model(&path, &TestModelSpec::tiny()).unwrap();
    /// let model = LlamaCppModel::load(&path, LoadOptions::default().with_threads(1)).unwrap();
    /// assert_eq!(model.info().threads, 1);
    /// assert_eq!(model.info().vocab_size, 384);
    /// ```
    pub fn info(&self) -> &ModelInfo {
        &self.inner.info
    }

    /// The chat template in use.
    ///
    /// ```
    /// # use slm_llamacpp::{LlamaCppModel, LoadOptions, testing::{TestModelSpec, write_test_model}};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let path = dir.path().join("tiny.gguf");
    /// # write_test_model(&path, &TestModelSpec::tiny()).unwrap();
    /// let model = LlamaCppModel::load(&path, LoadOptions::default()).unwrap();
    /// assert!(model.template().source().contains("<|im_start|>"));
    /// ```
    pub fn template(&self) -> &ChatTemplate {
        &self.inner.template
    }

    /// The prompt text a request is rendered to (before tokenization).
    ///
    /// ```
    /// # use slm_llamacpp::{LlamaCppModel, LoadOptions, testing::{TestModelSpec, write_test_model}};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let path = dir.path().join("tiny.gguf");
    /// # write_test_model(&path, &TestModelSpec::tiny()).unwrap();
    /// let model = LlamaCppModel::load(&path, LoadOptions::default()).unwrap();
    /// let prompt = model.render_prompt(&slm_core::ChatRequest::builder().user("Hi").build()).unwrap();
    /// assert_eq!(prompt, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    /// ```
    pub fn render_prompt(&self, request: &ChatRequest) -> Result<String, LlamaCppError> {
        let mut prompt = self.render(request, true)?;
        let thinking_off = request.options.thinking.is_some_and(|t| t.is_off());
        // JSON is data: written inside an open thought it would be taken for reasoning.
        let json = matches!(
            request.response_format,
            ResponseFormat::Json | ResponseFormat::JsonSchema { .. }
        );
        if (thinking_off || json) && slm_chat::formats::prompt_opens_thinking(&prompt) {
            // The template opens the thought whatever it is told (DeepSeek-R1 distills):
            // close it, so the answer comes at once (llama.cpp's `--reasoning-budget 0`).
            prompt.push_str(slm_chat::formats::THINKING_CLOSE);
        }
        Ok(prompt)
    }

    /// The request's messages through the chat template, with the assistant's turn opened
    /// (`add_generation_prompt`) or not (the conversation as it stands, which the next turn's
    /// prompt starts with).
    fn render(
        &self,
        request: &ChatRequest,
        add_generation_prompt: bool,
    ) -> Result<String, LlamaCppError> {
        let template = &self.inner.template;
        let thinking = request.options.thinking.map(|t| !t.is_off());
        let draw = |messages: &[Message], tools: &[ToolSpec]| match thinking {
            Some(enabled) => {
                template.render_thinking(messages, tools, add_generation_prompt, enabled)
            }
            None => template.render(messages, tools, add_generation_prompt),
        };
        if request.tools.is_empty() || request.tool_choice == ToolChoice::None {
            return Ok(draw(&request.messages, &[])?);
        }
        if template.source().contains("tools") {
            return Ok(draw(&request.messages, &request.tools)?);
        }
        // The template cannot show tools: describe them in the system message, in the syntax
        // of the model's family.
        let instructions = Message::new(
            Role::System,
            self.tool_format().system_instructions(&request.tools),
        );
        let mut messages = request.messages.clone();
        match messages.first_mut() {
            Some(first) if first.role == Role::System => {
                first.content = format!("{}\n\n{}", first.content, instructions.content);
            }
            _ => messages.insert(0, instructions),
        }
        Ok(draw(&messages, &[])?)
    }

    /// The tool-call syntax this model's family writes, detected from its chat template
    /// (slm-core's generic `<tool_call name="...">` when the template shows none).
    ///
    /// ```
    /// # use slm_llamacpp::{LlamaCppModel, LoadOptions, testing::{TestModelSpec, write_test_model}};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let path = dir.path().join("m.gguf");
    /// # write_test_model(&path, &TestModelSpec::tiny()).unwrap();
    /// let model = LlamaCppModel::load(&path, LoadOptions::default()).unwrap();
    /// // Generated models carry a ChatML template with Qwen's `<tool_call>` convention.
    /// assert_eq!(model.tool_format(), slm_chat::ToolFormat::Hermes);
    /// ```
    pub fn tool_format(&self) -> ToolFormat {
        ToolFormat::detect(self.inner.template.source())
    }

    /// Counts the tokens of `text` as the model tokenizes a prompt (special tokens parsed).
    ///
    /// ```
    /// # use slm_llamacpp::{LlamaCppModel, LoadOptions, testing::{TestModelSpec, write_test_model}};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let path = dir.path().join("tiny.gguf");
    /// # write_test_model(&path, &TestModelSpec::tiny()).unwrap();
    /// let model = LlamaCppModel::load(&path, LoadOptions::default()).unwrap();
    /// let rt = tokio::runtime::Runtime::new().unwrap();
    /// assert_eq!(rt.block_on(model.count_tokens("<|im_start|>ab")).unwrap(), 3);
    /// ```
    pub async fn count_tokens(&self, text: &str) -> Result<usize, LlamaCppError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::CountTokens {
            text: text.to_string(),
            reply,
        })?;
        answer.await.map_err(|_| LlamaCppError::WorkerStopped)?
    }

    /// The token ids of `text`, exactly as llama.cpp's `llama_tokenize` gives them:
    /// `add_special` adds the model's BOS (and EOS) where its tokenizer wants them,
    /// `parse_special` turns special-token text such as `<|im_start|>` into its id.
    ///
    /// ```
    /// # use slm_llamacpp::{LlamaCppModel, LoadOptions, testing::{TestModelSpec, write_test_model}};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let path = dir.path().join("tiny.gguf");
    /// # write_test_model(&path, &TestModelSpec::tiny()).unwrap();
    /// let model = LlamaCppModel::load(&path, LoadOptions::default()).unwrap();
    /// let rt = tokio::runtime::Runtime::new().unwrap();
    /// let ids = rt.block_on(model.tokenize("<|im_start|>hi", false, true)).unwrap();
    /// assert_eq!(ids[0], 3); // <|im_start|>
    /// let text = rt.block_on(model.detokenize(&ids, true)).unwrap();
    /// assert_eq!(text, "<|im_start|>hi");
    /// ```
    pub async fn tokenize(
        &self,
        text: &str,
        add_special: bool,
        parse_special: bool,
    ) -> Result<Vec<u32>, LlamaCppError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Tokenize {
            text: text.to_string(),
            add_special,
            parse_special,
            reply,
        })?;
        answer.await.map_err(|_| LlamaCppError::WorkerStopped)?
    }

    /// The text of `tokens` (special tokens rendered as their text when `special`). Ids outside
    /// the vocabulary are an [`LlamaCppError::InvalidRequest`]; bytes that do not form valid
    /// UTF-8 become U+FFFD.
    ///
    /// ```
    /// # use slm_llamacpp::{LlamaCppModel, LoadOptions, testing::{TestModelSpec, write_test_model}};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let path = dir.path().join("tiny.gguf");
    /// # write_test_model(&path, &TestModelSpec::tiny()).unwrap();
    /// let model = LlamaCppModel::load(&path, LoadOptions::default()).unwrap();
    /// let rt = tokio::runtime::Runtime::new().unwrap();
    /// assert!(rt.block_on(model.detokenize(&[1_000_000], false)).is_err());
    /// ```
    pub async fn detokenize(&self, tokens: &[u32], special: bool) -> Result<String, LlamaCppError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Detokenize {
            tokens: tokens.to_vec(),
            special,
            reply,
        })?;
        answer.await.map_err(|_| LlamaCppError::WorkerStopped)?
    }

    /// The worker's counters: requests, decode calls, prompt tokens decoded or copied from a
    /// shared prefix, tokens generated.
    ///
    /// ```
    /// # use slm_llamacpp::{LlamaCppModel, LoadOptions, testing::{TestModelSpec, write_test_model}};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let path = dir.path().join("m.gguf");
    /// # write_test_model(&path, &TestModelSpec::tiny()).unwrap();
    /// let model = LlamaCppModel::load(&path, LoadOptions::default()).unwrap();
    /// let rt = tokio::runtime::Runtime::new().unwrap();
    /// assert_eq!(rt.block_on(model.stats()).unwrap().requests, 0);
    /// ```
    pub async fn stats(&self) -> Result<crate::WorkerStats, LlamaCppError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Stats(reply))?;
        answer.await.map_err(|_| LlamaCppError::WorkerStopped)
    }

    /// Tokens the request's prompt takes.
    ///
    /// ```
    /// # use slm_llamacpp::{LlamaCppModel, LoadOptions, testing::{TestModelSpec, write_test_model}};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let path = dir.path().join("tiny.gguf");
    /// # write_test_model(&path, &TestModelSpec::tiny()).unwrap();
    /// let model = LlamaCppModel::load(&path, LoadOptions::default()).unwrap();
    /// let rt = tokio::runtime::Runtime::new().unwrap();
    /// let n = rt.block_on(model.prompt_tokens(&slm_core::ChatRequest::builder().user("Hi").build())).unwrap();
    /// assert!(n > 5);
    /// ```
    pub async fn prompt_tokens(&self, request: &ChatRequest) -> Result<usize, LlamaCppError> {
        let prompt = self.render_prompt(request)?;
        self.count_tokens(&prompt).await
    }

    /// How far constrained decoding with `format` lets the model write `text`: every token of
    /// `text` must pass the constraint, and the answer must be allowed to end after it
    /// ([`ConstraintCheck::accepted`]). Use it to check that the answers you expect (an eval
    /// set's gold outputs, say) are reachable under a schema before relying on it, or to see
    /// where a backend over- or under-constrains. JSON schemas compile with the model's
    /// [`SchemaBackend`]; llguidance expects JSON laid out as `{"a": 1, "b": [1, 2]}` (one
    /// space after `:` and `,`). A format that does not compile is an error, as in
    /// [`ChatModel::chat`]; `Text` accepts everything. The text is tokenized as the model would
    /// write it; a tokenizer that does not give the text back token for token (SentencePiece
    /// models that prefix every text with a space, such as Llama 2 or Mistral) makes this an
    /// [`LlamaCppError::InvalidRequest`] rather than a misleading answer.
    ///
    /// [`SchemaBackend`]: crate::SchemaBackend
    /// [`ConstraintCheck::accepted`]: crate::ConstraintCheck::accepted
    ///
    /// ```
    /// use slm_core::ResponseFormat;
    /// # use slm_llamacpp::{LlamaCppModel, LoadOptions, testing::{TestModelSpec, write_test_model}};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let path = dir.path().join("tiny.gguf");
    /// # write_test_model(&path, &TestModelSpec::tiny()).unwrap();
    /// let model = LlamaCppModel::load(&path, LoadOptions::default()).unwrap();
    /// let format = ResponseFormat::json_schema("rating", serde_json::json!({
    ///     "type": "object",
    ///     "properties": {"stars": {"type": "integer", "minimum": 1, "maximum": 5}},
    ///     "required": ["stars"], "additionalProperties": false
    /// }));
    /// let rt = tokio::runtime::Runtime::new().unwrap();
    /// let check = |text: &str| rt.block_on(model.check_constraint(&format, text)).unwrap();
    /// assert!(check(r#"{"stars": 4}"#).accepted());
    /// assert_eq!(check(r#"{"stars": 9}"#).valid_up_to, 10); // the 9 is refused
    /// let unfinished = check(r#"{"stars": 4"#);
    /// assert!(!unfinished.accepted() && unfinished.is_prefix_of(11));
    /// ```
    pub async fn check_constraint(
        &self,
        format: &ResponseFormat,
        text: &str,
    ) -> Result<crate::ConstraintCheck, LlamaCppError> {
        let Some(spec) = format_constraint(format)? else {
            return Ok(crate::ConstraintCheck {
                valid_up_to: text.len(),
                complete: true,
            });
        };
        let (reply, answer) = oneshot::channel();
        self.send(Command::CheckConstraint {
            spec,
            text: text.to_string(),
            reply,
        })?;
        answer.await.map_err(|_| LlamaCppError::WorkerStopped)?
    }

    /// Saves a conversation's keys and values to `path`, so [`LlamaCppModel::load_session`]
    /// (in this process or another, on the same model file) continues it without evaluating
    /// it again. `request` is the conversation so far: its prompt is put in the prompt cache
    /// (evaluating only what is not there yet, and sampling one token that is thrown away),
    /// then the slot holding it is cut back to the conversation as it stands (without the
    /// opened assistant turn, so that every next turn starts with it) and written out. Needs
    /// the prompt cache ([`LoadOptions::prompt_cache`], on by default).
    ///
    /// ```
    /// use slm_core::{ChatModel, ChatRequest, GenerationOptions, Message};
    /// # use slm_llamacpp::{LlamaCppModel, LoadOptions, testing::{TestModelSpec, write_test_model}};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let path = dir.path().join("m.gguf");
    /// # write_test_model(&path, &TestModelSpec::tiny()).unwrap();
    /// let rt = tokio::runtime::Runtime::new().unwrap();
    /// let mut chat = vec![Message::system("Be brief."), Message::user("Hello!")];
    /// let model = LlamaCppModel::load(&path, LoadOptions::default()).unwrap();
    /// let ask = |chat: &[Message]| {
    ///     let mut request = ChatRequest::new(chat.to_vec());
    ///     request.options = GenerationOptions::deterministic().with_max_tokens(8);
    ///     request
    /// };
    /// let answer = rt.block_on(model.chat(ask(&chat))).unwrap();
    /// chat.push(Message::assistant(answer.text()));
    /// let file = dir.path().join("chat.session");
    /// let saved = rt.block_on(model.save_session(&ask(&chat), &file)).unwrap();
    ///
    /// // Later, another model handle (or process) on the same file:
    /// let fresh = LlamaCppModel::load(&path, LoadOptions::default()).unwrap();
    /// assert_eq!(rt.block_on(fresh.load_session(&file)).unwrap().tokens, saved.tokens);
    /// chat.push(Message::user("And now?"));
    /// let reply = rt.block_on(fresh.chat(ask(&chat))).unwrap();
    /// assert_eq!(reply.usage.cached_prompt_tokens as usize, saved.tokens);
    /// ```
    pub async fn save_session(
        &self,
        request: &ChatRequest,
        path: impl AsRef<Path>,
    ) -> Result<crate::SessionInfo, LlamaCppError> {
        let mut warm = request.clone();
        warm.options.max_tokens = Some(1);
        self.chat(warm).await.map_err(|e| {
            LlamaCppError::InvalidRequest(format!("evaluating the conversation: {e}"))
        })?;
        // The conversation without the opened assistant turn: every next turn starts with it.
        let prompt = self.render(request, false)?;
        let (reply, answer) = oneshot::channel();
        self.send(Command::SaveSession {
            prompt,
            lora: self.lora.unwrap_or(self.inner.info.options.lora),
            path: path.as_ref().to_path_buf(),
            reply,
        })?;
        answer.await.map_err(|_| LlamaCppError::WorkerStopped)?
    }

    /// Restores a session saved by [`LlamaCppModel::save_session`] into the prompt cache: the
    /// next request that starts with its conversation evaluates only what is new. The file is
    /// checked before llama.cpp reads it: a file that is not a session, truncated, altered,
    /// saved for another model file or by another llama.cpp build is a
    /// [`LlamaCppError::Session`], and the model keeps serving.
    ///
    /// ```
    /// # use slm_llamacpp::{LlamaCppError, LlamaCppModel, LoadOptions, testing::{TestModelSpec, write_test_model}};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let path = dir.path().join("m.gguf");
    /// # write_test_model(&path, &TestModelSpec::tiny()).unwrap();
    /// let model = LlamaCppModel::load(&path, LoadOptions::default()).unwrap();
    /// let rt = tokio::runtime::Runtime::new().unwrap();
    /// let bogus = dir.path().join("bogus.session");
    /// std::fs::write(&bogus, b"not a session").unwrap();
    /// let err = rt.block_on(model.load_session(&bogus)).unwrap_err();
    /// assert!(matches!(err, LlamaCppError::Session { .. }), "{err}");
    /// ```
    pub async fn load_session(
        &self,
        path: impl AsRef<Path>,
    ) -> Result<crate::SessionInfo, LlamaCppError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::LoadSession {
            path: path.as_ref().to_path_buf(),
            reply,
        })?;
        answer.await.map_err(|_| LlamaCppError::WorkerStopped)?
    }

    fn send(&self, command: Command) -> Result<(), LlamaCppError> {
        let commands = self
            .inner
            .commands
            .lock()
            .map_err(|_| LlamaCppError::WorkerStopped)?;
        commands
            .as_ref()
            .ok_or(LlamaCppError::WorkerStopped)?
            .send(command)
            .map_err(|_| LlamaCppError::WorkerStopped)
    }

    /// Answers several requests together. Up to [`LoadOptions::max_sequences`] run in the same
    /// `llama_decode` batches, and a prompt prefix they share is decoded once and copied in the
    /// KV cache. Answers come back in request order; one failing request fails only itself.
    ///
    /// ```
    /// use slm_core::{ChatRequest, GenerationOptions};
    /// # use slm_llamacpp::{LlamaCppModel, LoadOptions, testing::{TestModelSpec, write_test_model}};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let path = dir.path().join("m.gguf");
    /// # write_test_model(&path, &TestModelSpec::tiny()).unwrap();
    /// let model = LlamaCppModel::load(&path, LoadOptions::default().with_max_sequences(4)).unwrap();
    /// let ask = |q: &str| ChatRequest::builder().user(q)
    ///     .options(GenerationOptions::deterministic().with_max_tokens(8)).build();
    /// let rt = tokio::runtime::Runtime::new().unwrap();
    /// let answers = rt.block_on(model.chat_batch(vec![ask("a"), ask("b"), ChatRequest::default()]));
    /// assert!(answers[0].is_ok() && answers[1].is_ok());
    /// assert!(answers[2].is_err()); // no messages
    /// ```
    pub async fn chat_batch(
        &self,
        requests: Vec<ChatRequest>,
    ) -> Vec<slm_core::Result<ChatResponse>> {
        let mut jobs = Vec::new();
        let mut receivers = Vec::new();
        for request in requests {
            match self.prepare(request) {
                Ok((job, receiver)) => {
                    jobs.push(job);
                    receivers.push(Ok(receiver));
                }
                Err(e) => receivers.push(Err(e)),
            }
        }
        let sent = self.send(Command::GenerateBatch(jobs));
        let answers = receivers.into_iter().map(|receiver| {
            let sent = sent.clone();
            async move {
                sent?;
                let mut events = receiver?;
                while let Some(event) = events.recv().await {
                    if let ChatEvent::Done(response) = event? {
                        return Ok(*response);
                    }
                }
                Err(LlamaCppError::WorkerStopped.into())
            }
        });
        futures::future::join_all(answers).await
    }

    /// Validates and renders a request, queues it, and returns the channel its events come on.
    fn submit(&self, request: ChatRequest) -> Result<worker::EventReceiver, LlamaCppError> {
        let (job, receiver) = self.prepare(request)?;
        self.send(Command::Generate(Box::new(job)))?;
        Ok(receiver)
    }

    /// Validates and renders a request into a job for the worker; a panic while doing so (in
    /// a schema compiler, say) fails this request only.
    fn prepare(&self, request: ChatRequest) -> Result<(Job, worker::EventReceiver), LlamaCppError> {
        worker::guard(|| self.prepare_job(request)).and_then(|job| job)
    }

    fn prepare_job(
        &self,
        request: ChatRequest,
    ) -> Result<(Job, worker::EventReceiver), LlamaCppError> {
        let started = Instant::now();
        if request.messages.is_empty() {
            return Err(LlamaCppError::InvalidRequest("no messages".into()));
        }
        sampling::validate(&request.options)?;
        let (mut constraint, mut tool_calls) = self.constraint_of(&request)?;
        let prompt = self.render_prompt(&request)?;
        if let Some(mode) = tool_calls.as_mut() {
            // DeepSeek-R1 distills' templates open `<think>` in the generation prompt.
            mode.starts_in_reasoning = slm_chat::formats::prompt_opens_thinking(&prompt);
            if mode.forced
                && mode.starts_in_reasoning
                && let Some(ConstraintSpec::Lark(lark)) = constraint.as_mut()
            {
                // A forced call closes the thought the prompt opened, then calls.
                let close =
                    serde_json::to_string(slm_chat::formats::THINKING_CLOSE).unwrap_or_default();
                *lark = lark.replacen("start: ", &format!("start: {close} "), 1);
            }
        }
        // Refuse what cannot fit before the worker spends time tokenizing it (a template or a
        // message can make a prompt of any size).
        let limit = self.inner.info.context_length as usize * MAX_BYTES_PER_TOKEN;
        if prompt.len() > limit {
            return Err(LlamaCppError::InvalidRequest(format!(
                "the prompt is {} bytes; a context of {} tokens holds at most {limit} bytes",
                prompt.len(),
                self.inner.info.context_length
            )));
        }
        let (events, receiver) = mpsc::unbounded_channel();
        let queued = Instant::now();
        let job = Job {
            call_rules: tools::CallRules::of(&request),
            options: request.options,
            constraint,
            prompt,
            tool_calls,
            lora: self.lora.unwrap_or(self.inner.info.options.lora),
            started,
            prep: queued - started,
            queued,
            events,
        };
        Ok((job, receiver))
    }
}

impl LlamaCppModel {
    /// The constraint a request puts on the output, and how to read tool calls and reasoning
    /// out of it.
    fn constraint_of(
        &self,
        request: &ChatRequest,
    ) -> Result<(Option<ConstraintSpec>, Option<CallMode>), LlamaCppError> {
        let format = self.tool_format();
        let mode = |forced| {
            Some(CallMode {
                forced,
                format,
                tools: request.tools.clone(),
                reasoning_only: false,
                starts_in_reasoning: false,
            })
        };
        if let Some(forced) = tools::forced_tools(request)? {
            if !request.response_format.is_text() {
                return Err(LlamaCppError::InvalidRequest(
                    "a forced tool call cannot also have a response format".into(),
                ));
            }
            let grammar = tools::forced_call_grammar(&forced, format)?;
            return Ok((Some(grammar), mode(true)));
        }
        let constraint = format_constraint(&request.response_format)?;
        if constraint.is_some() {
            // Structured output is data, not a tool call.
            return Ok((constraint, None));
        }
        if !request.tools.is_empty() && request.tool_choice != ToolChoice::None {
            return Ok((None, mode(false)));
        }
        // A model that thinks aloud: its `<think>` section is kept apart from the answer.
        let reasoning = slm_chat::formats::supports_thinking(self.inner.template.source());
        Ok((
            None,
            reasoning.then(|| CallMode {
                forced: false,
                format,
                tools: Vec::new(),
                reasoning_only: true,
                starts_in_reasoning: false,
            }),
        ))
    }
}

/// More bytes than any token of any vocabulary spells: a prompt longer than this many bytes
/// per token of context cannot fit.
const MAX_BYTES_PER_TOKEN: usize = 256;

fn template_for(header: &GgufHeader, options: &LoadOptions) -> Result<ChatTemplate, LlamaCppError> {
    let token_text = |key: &str| -> String {
        let tokens = header
            .get("tokenizer.ggml.tokens")
            .and_then(|v| v.as_array());
        header
            .get_u64(key)
            .and_then(|id| tokens?.get(id as usize)?.as_str().map(str::to_string))
            .unwrap_or_default()
    };
    let source = match (
        &options.chat_template,
        header.get_str("tokenizer.chat_template"),
    ) {
        (Some(own), _) => own.clone(),
        (None, Some(file)) => file.to_string(),
        (None, None) => {
            tracing::warn!("the model has no chat template; using ChatML");
            ChatTemplate::CHATML.to_string()
        }
    };
    Ok(ChatTemplate::new(
        source,
        token_text("tokenizer.ggml.bos_token_id"),
        token_text("tokenizer.ggml.eos_token_id"),
    )?)
}

#[async_trait]
impl ChatModel for LlamaCppModel {
    fn id(&self) -> &str {
        &self.id
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            streaming: true,
            tools: true,
            json_schema: true,
            grammar: true,
            batching: self.inner.info.options.max_sequences > 1,
            context_length: Some(self.inner.info.context_length),
        }
    }

    async fn chat(&self, request: ChatRequest) -> slm_core::Result<ChatResponse> {
        let mut events = self.submit(request)?;
        while let Some(event) = events.recv().await {
            if let ChatEvent::Done(response) = event? {
                return Ok(*response);
            }
        }
        Err(LlamaCppError::WorkerStopped.into())
    }

    fn chat_stream(&self, request: ChatRequest) -> ChatStream<'_> {
        match self.submit(request) {
            Ok(mut events) => Box::pin(futures::stream::poll_fn(move |cx| events.poll_recv(cx))),
            Err(e) => Box::pin(futures::stream::once(futures::future::ready(Err(e.into())))),
        }
    }

    /// `llamacpp:sha256=<weights>`, then what else changes answers: a replacing chat template
    /// (its sha256), this handle's adapter (its file's sha256 and scale) and the schema backend.
    /// The files are hashed once, on first call.
    async fn identity(&self) -> slm_core::Result<Option<String>> {
        let options = &self.inner.info.options;
        let digests = match self.inner.digests.get() {
            Some(digests) => digests.clone(),
            None => {
                let digests =
                    FileDigests::compute(&self.inner.info.path, &options.lora_adapters).await?;
                self.inner.digests.get_or_init(|| digests).clone()
            }
        };
        let mut identity = format!("llamacpp:sha256={}", digests.model);
        if let Some(template) = &options.chat_template {
            identity += &format!(
                ";template={}",
                crate::session::sha256_hex(template.as_bytes())
            );
        }
        if let Some((index, scale)) = self.lora.unwrap_or(options.lora)
            && let Some(adapter) = digests.adapters.get(index)
        {
            identity += &format!(";lora={adapter}*{scale}");
        }
        identity += &format!(";schema={:?}", options.schema_backend);
        Ok(Some(identity))
    }
}

/// The constraint a response format puts on the output.
fn format_constraint(format: &ResponseFormat) -> Result<Option<ConstraintSpec>, LlamaCppError> {
    Ok(match format {
        ResponseFormat::Text => None,
        ResponseFormat::Json => Some(ConstraintSpec::JsonSchema(
            serde_json::json!({"type": "object"}),
        )),
        ResponseFormat::JsonSchema { schema, .. } => {
            if !(schema.is_object() || schema.is_boolean()) {
                return Err(LlamaCppError::Schema(
                    "a JSON schema must be an object".into(),
                ));
            }
            Some(ConstraintSpec::JsonSchema(schema.clone()))
        }
        ResponseFormat::Grammar { gbnf } => Some(ConstraintSpec::Gbnf(gbnf.clone())),
    })
}

//! How a model is loaded: context, threads, GPU layers, memory mapping, batch size, template.

use serde::{Deserialize, Serialize};

/// Options of [`crate::LlamaCppModel::load`]. `None` fields take the defaults described on each.
///
/// ```
/// use slm_llamacpp::LoadOptions;
/// let o = LoadOptions::default().with_context_length(2048).with_threads(2);
/// assert_eq!(o.context_length, Some(2048));
/// assert_eq!(o.batch_size, 512);
/// assert!(o.use_mmap);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadOptions {
    /// Context length in tokens. Default: the model's trained length, at most 4096.
    pub context_length: Option<u32>,
    /// Threads for generation. Default: the number of physical cores.
    pub threads: Option<u32>,
    /// Threads for prompt processing. Default: same as `threads`.
    pub threads_batch: Option<u32>,
    /// Layers to offload to the GPU (0 on CPU builds).
    pub gpu_layers: u32,
    /// Memory-map the file (fast loads, pages shared between processes).
    pub use_mmap: bool,
    /// Tokens per `llama_decode` call while processing a prompt (llama.cpp's `n_batch`).
    pub batch_size: u32,
    /// Tokens per compute micro-batch (`n_ubatch`). Default: `batch_size`.
    pub ubatch_size: Option<u32>,
    /// Sequences decoded together (continuous batching); each gets the full context length.
    /// They share one KV buffer of `max_sequences × context_length` cells, as in llama-server.
    /// A request decoded beside others goes through kernels that sum in another order than
    /// alone, which can flip a near-tie of the greedy choice late in an answer; with 1 (the
    /// default) greedy answers are reproducible bit for bit.
    pub max_sequences: u32,
    /// Use flash attention: `None` lets llama.cpp decide.
    pub flash_attention: Option<bool>,
    /// A Jinja chat template that replaces the one in the file.
    pub chat_template: Option<String>,
    /// The model id reported by `ChatModel::id`. Default: the file name without extension.
    pub id: Option<String>,
    /// The compiler of JSON schemas into token masks.
    #[serde(default)]
    pub schema_backend: crate::SchemaBackend,
    /// LoRA adapters (GGUF) loaded with the model; they are referred to by their index here.
    #[serde(default)]
    pub lora_adapters: Vec<std::path::PathBuf>,
    /// The adapter and scale applied to every request of the model by default.
    #[serde(default)]
    pub lora: Option<(usize, f32)>,
    /// Keep each finished request's keys and values in its sequence slot, so a later request
    /// starting with the same tokens (a growing conversation, a shared system prompt and tool
    /// list) evaluates only the rest. On by default; the cache lives in the context's own KV
    /// memory (`max_sequences` slots of `context_length` tokens), so it costs no extra memory.
    ///
    /// Reusing a prefix changes how the rest of the prompt is batched, and llama.cpp's CPU
    /// kernels round differently for different batch shapes (a matrix product for a batch, a
    /// dot product for one token): the logits can differ from a cold run's in the last bits,
    /// which can flip a near-tie or a sampled token (as with llama-server's `cache_prompt`, and
    /// as with concurrent requests batched together). With the same shapes on both sides
    /// (`ubatch_size` 1) the answers are identical; the tests check that. Turn the cache off
    /// when a seed must reproduce a sampled answer bit for bit.
    #[serde(default = "enabled")]
    pub prompt_cache: bool,
    /// A smaller model with the same vocabulary that drafts tokens for this one (speculative
    /// decoding): each step it proposes up to `max_draft` tokens greedily, and this model
    /// checks them in one batch, keeping those its own sampler picks, so answers are the same
    /// as without it (identical when greedy). Used by every request that does not ask for
    /// prompt lookup. Its vocabulary is checked at load. Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draft_model: Option<DraftModel>,
}

/// The draft model of [`LoadOptions::draft_model`].
///
/// ```
/// let d = slm_llamacpp::DraftModel::new("small.gguf");
/// assert_eq!(d.max_draft, 8);
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DraftModel {
    /// The draft model's GGUF file.
    pub path: std::path::PathBuf,
    /// Most tokens drafted per step (1 to 64). Default: 8.
    #[serde(default = "default_max_draft")]
    pub max_draft: u32,
}

fn default_max_draft() -> u32 {
    8
}

impl DraftModel {
    /// The model at `path`, drafting up to 8 tokens a step.
    ///
    /// ```
    /// let d = slm_llamacpp::DraftModel::new("small.gguf");
    /// assert_eq!(d.path, std::path::PathBuf::from("small.gguf"));
    /// ```
    pub fn new(path: impl Into<std::path::PathBuf>) -> Self {
        Self {
            path: path.into(),
            max_draft: default_max_draft(),
        }
    }
}

fn enabled() -> bool {
    true
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            context_length: None,
            threads: None,
            threads_batch: None,
            gpu_layers: 0,
            use_mmap: true,
            batch_size: 512,
            ubatch_size: None,
            max_sequences: 1,
            flash_attention: None,
            chat_template: None,
            id: None,
            schema_backend: crate::SchemaBackend::Llguidance,
            lora_adapters: Vec::new(),
            lora: None,
            prompt_cache: true,
            draft_model: None,
        }
    }
}

impl LoadOptions {
    /// Sets the context length.
    ///
    /// ```
    /// assert_eq!(slm_llamacpp::LoadOptions::default().with_context_length(512).context_length, Some(512));
    /// ```
    pub fn with_context_length(mut self, tokens: u32) -> Self {
        self.context_length = Some(tokens);
        self
    }

    /// Sets the generation and prompt threads.
    ///
    /// ```
    /// assert_eq!(slm_llamacpp::LoadOptions::default().with_threads(4).threads, Some(4));
    /// ```
    pub fn with_threads(mut self, threads: u32) -> Self {
        self.threads = Some(threads);
        self
    }

    /// Sets the layers offloaded to the GPU.
    ///
    /// ```
    /// assert_eq!(slm_llamacpp::LoadOptions::default().with_gpu_layers(99).gpu_layers, 99);
    /// ```
    pub fn with_gpu_layers(mut self, layers: u32) -> Self {
        self.gpu_layers = layers;
        self
    }

    /// Turns memory mapping on or off.
    ///
    /// ```
    /// assert!(!slm_llamacpp::LoadOptions::default().with_mmap(false).use_mmap);
    /// ```
    pub fn with_mmap(mut self, use_mmap: bool) -> Self {
        self.use_mmap = use_mmap;
        self
    }

    /// Sets the prompt batch size.
    ///
    /// ```
    /// assert_eq!(slm_llamacpp::LoadOptions::default().with_batch_size(256).batch_size, 256);
    /// ```
    pub fn with_batch_size(mut self, tokens: u32) -> Self {
        self.batch_size = tokens;
        self
    }

    /// Sets how many sequences are decoded together.
    ///
    /// ```
    /// assert_eq!(slm_llamacpp::LoadOptions::default().with_max_sequences(8).max_sequences, 8);
    /// ```
    pub fn with_max_sequences(mut self, sequences: u32) -> Self {
        self.max_sequences = sequences;
        self
    }

    /// Replaces the file's chat template.
    ///
    /// ```
    /// let o = slm_llamacpp::LoadOptions::default().with_chat_template("{{ messages[0].content }}");
    /// assert!(o.chat_template.is_some());
    /// ```
    pub fn with_chat_template(mut self, template: impl Into<String>) -> Self {
        self.chat_template = Some(template.into());
        self
    }

    /// Sets the reported model id.
    ///
    /// ```
    /// assert_eq!(slm_llamacpp::LoadOptions::default().with_id("qwen").id.as_deref(), Some("qwen"));
    /// ```
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Sets the JSON-schema compiler.
    ///
    /// ```
    /// use slm_llamacpp::{LoadOptions, SchemaBackend};
    /// let o = LoadOptions::default().with_schema_backend(SchemaBackend::LlamaCpp);
    /// assert_eq!(o.schema_backend, SchemaBackend::LlamaCpp);
    /// ```
    pub fn with_schema_backend(mut self, backend: crate::SchemaBackend) -> Self {
        self.schema_backend = backend;
        self
    }

    /// Loads a LoRA adapter with the model; its index is the number of adapters added before.
    ///
    /// ```
    /// let o = slm_llamacpp::LoadOptions::default().with_lora_adapter("style.gguf");
    /// assert_eq!(o.lora_adapters.len(), 1);
    /// ```
    pub fn with_lora_adapter(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.lora_adapters.push(path.into());
        self
    }

    /// Applies adapter `index` with `scale` to every request by default.
    ///
    /// ```
    /// let o = slm_llamacpp::LoadOptions::default().with_lora_adapter("a.gguf").with_lora(0, 0.5);
    /// assert_eq!(o.lora, Some((0, 0.5)));
    /// ```
    pub fn with_lora(mut self, index: usize, scale: f32) -> Self {
        self.lora = Some((index, scale));
        self
    }

    /// Turns the prompt cache on or off (see [`LoadOptions::prompt_cache`]).
    ///
    /// ```
    /// let o = slm_llamacpp::LoadOptions::default();
    /// assert!(o.prompt_cache);
    /// assert!(!o.with_prompt_cache(false).prompt_cache);
    /// ```
    pub fn with_prompt_cache(mut self, on: bool) -> Self {
        self.prompt_cache = on;
        self
    }

    /// Sets the draft model (see [`LoadOptions::draft_model`]).
    ///
    /// ```
    /// let o = slm_llamacpp::LoadOptions::default().with_draft_model(slm_llamacpp::DraftModel::new("s.gguf"));
    /// assert!(o.draft_model.is_some());
    /// ```
    pub fn with_draft_model(mut self, draft: DraftModel) -> Self {
        self.draft_model = Some(draft);
        self
    }

    /// Threads used for generation: the option, or the number of physical cores.
    ///
    /// ```
    /// assert!(slm_llamacpp::LoadOptions::default().effective_threads() >= 1);
    /// ```
    pub fn effective_threads(&self) -> u32 {
        self.threads
            .unwrap_or_else(|| num_cpus::get_physical().max(1) as u32)
    }

    pub(crate) fn validate(&self) -> Result<(), crate::LlamaCppError> {
        let bad = |m: &str| Err(crate::LlamaCppError::InvalidOption(m.to_string()));
        if self.context_length == Some(0) {
            return bad("context_length must be positive");
        }
        if self.threads == Some(0) || self.threads_batch == Some(0) {
            return bad("threads must be positive");
        }
        if self.batch_size == 0 || self.ubatch_size == Some(0) {
            return bad("batch sizes must be positive");
        }
        if !(1..=256).contains(&self.max_sequences) {
            return bad("max_sequences must be between 1 and 256");
        }
        if let Some((index, scale)) = self.lora
            && (index >= self.lora_adapters.len() || !scale.is_finite())
        {
            return bad("lora must name a loaded adapter with a finite scale");
        }
        if let Some(draft) = &self.draft_model
            && !(1..=64).contains(&draft.max_draft)
        {
            return bad("draft_model.max_draft must be between 1 and 64");
        }
        Ok(())
    }
}

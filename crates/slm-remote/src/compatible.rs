//! [`OpenAiCompatibleModel`]: any server that speaks OpenAI's chat completions.

use std::sync::Arc;

use reqwest::Url;
use slm_core::{Capabilities, ChatModel, ChatRequest, ChatResponse, ChatStream, async_trait};

use crate::classify::CallSite;
use crate::endpoint::{Credential, Endpoint};
use crate::engine::{Engine, RemoteOptions};
use crate::{RemoteError, RetryPolicy};

/// A model behind an OpenAI-compatible server: Foundry Local (`http://localhost:5273/v1`),
/// Ollama (`http://localhost:11434/v1`), vLLM, llama.cpp's or llama-cpp-python's server, or
/// OpenAI itself.
///
/// ```
/// use slm_core::ChatModel;
/// use slm_remote::OpenAiCompatibleModel;
///
/// let model = OpenAiCompatibleModel::new("http://localhost:5273/v1", "phi-4-mini").unwrap();
/// assert_eq!(model.id(), "phi-4-mini");
/// assert_eq!(model.chat_url(), "http://localhost:5273/v1/chat/completions");
/// ```
#[derive(Debug, Clone)]
pub struct OpenAiCompatibleModel {
    engine: Arc<Engine>,
}

impl OpenAiCompatibleModel {
    /// A model at `base_url` (the part before `/chat/completions`) with no key and default
    /// options.
    ///
    /// ```
    /// let m = slm_remote::OpenAiCompatibleModel::new("http://127.0.0.1:11434/v1/", "llama3.2").unwrap();
    /// assert_eq!(m.chat_url(), "http://127.0.0.1:11434/v1/chat/completions");
    /// assert!(slm_remote::OpenAiCompatibleModel::new("localhost:1/v1", "m").is_err());
    /// ```
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Result<Self, RemoteError> {
        Self::builder(base_url, model).build()
    }

    /// A builder.
    ///
    /// ```
    /// let m = slm_remote::OpenAiCompatibleModel::builder("http://127.0.0.1:8000/v1", "m")
    ///     .max_concurrency(64)
    ///     .build()
    ///     .unwrap();
    /// # let _ = m;
    /// ```
    pub fn builder(
        base_url: impl Into<String>,
        model: impl Into<String>,
    ) -> OpenAiCompatibleModelBuilder {
        OpenAiCompatibleModelBuilder {
            base_url: base_url.into(),
            model: model.into(),
            credential: Credential::None,
            options: RemoteOptions::default(),
        }
    }

    /// The chat-completions URL requests go to.
    ///
    /// ```
    /// let m = slm_remote::OpenAiCompatibleModel::new("http://h:1/v1", "m").unwrap();
    /// assert_eq!(m.chat_url(), "http://h:1/v1/chat/completions");
    /// ```
    pub fn chat_url(&self) -> String {
        self.engine.chat_url()
    }
}

#[async_trait]
impl ChatModel for OpenAiCompatibleModel {
    fn id(&self) -> &str {
        self.engine.id()
    }

    fn capabilities(&self) -> Capabilities {
        self.engine.capabilities()
    }

    async fn chat(&self, request: ChatRequest) -> slm_core::Result<ChatResponse> {
        self.engine.chat(request).await.map_err(Into::into)
    }

    fn chat_stream(&self, request: ChatRequest) -> ChatStream<'_> {
        crate::stream::chat_stream(&self.engine, request)
    }

    /// `openai:<chat URL>#<model>`: the server and model answering (a server's weights may still
    /// change behind the same name; a response cache keyed on this trusts it not to).
    ///
    /// ```
    /// use slm_core::ChatModel;
    /// # futures::executor::block_on(async {
    /// let m = slm_remote::OpenAiCompatibleModel::new("http://127.0.0.1:8080/v1", "qwen2.5").unwrap();
    /// assert_eq!(
    ///     m.identity().await.unwrap().as_deref(),
    ///     Some("openai:http://127.0.0.1:8080/v1/chat/completions#qwen2.5")
    /// );
    /// # });
    /// ```
    async fn identity(&self) -> slm_core::Result<Option<String>> {
        Ok(Some(format!("openai:{}", self.engine.identity())))
    }
}

/// Builds an [`OpenAiCompatibleModel`].
///
/// ```
/// use slm_remote::{OpenAiCompatibleModel, RetryPolicy};
/// let m = OpenAiCompatibleModel::builder("https://api.openai.com/v1", "gpt-4o-mini")
///     .api_key("sk-not-real")
///     .retry(RetryPolicy::default().with_max_attempts(6))
///     .build()
///     .unwrap();
/// assert!(!format!("{m:?}").contains("sk-not-real"));
/// ```
#[derive(Debug, Clone)]
pub struct OpenAiCompatibleModelBuilder {
    base_url: String,
    model: String,
    credential: Credential,
    options: RemoteOptions,
}

impl OpenAiCompatibleModelBuilder {
    /// Sends `Authorization: Bearer <key>`.
    ///
    /// ```
    /// let b = slm_remote::OpenAiCompatibleModel::builder("http://h/v1", "m").api_key("k");
    /// # let _ = b;
    /// ```
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.credential = Credential::bearer(key);
        self
    }

    /// Sets the credential directly (e.g. an `api-key` header for an Azure-style proxy).
    ///
    /// ```
    /// let b = slm_remote::OpenAiCompatibleModel::builder("http://h/v1", "m")
    ///     .credential(slm_remote::Credential::api_key("k"));
    /// # let _ = b;
    /// ```
    pub fn credential(mut self, credential: Credential) -> Self {
        self.credential = credential;
        self
    }

    /// The retry policy.
    ///
    /// ```
    /// let b = slm_remote::OpenAiCompatibleModel::builder("http://h/v1", "m")
    ///     .retry(slm_remote::RetryPolicy::no_retries());
    /// # let _ = b;
    /// ```
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.options.retry = policy;
        self
    }

    /// The most requests in flight at once.
    ///
    /// ```
    /// let b = slm_remote::OpenAiCompatibleModel::builder("http://h/v1", "m").max_concurrency(2);
    /// # let _ = b;
    /// ```
    pub fn max_concurrency(mut self, max: usize) -> Self {
        self.options.max_concurrency = max;
        self
    }

    /// All shared options at once.
    ///
    /// ```
    /// let mut o = slm_remote::RemoteOptions::default();
    /// o.capabilities.context_length = Some(4096);
    /// let m = slm_remote::OpenAiCompatibleModel::builder("http://h/v1", "m").options(o).build().unwrap();
    /// assert_eq!(slm_core::ChatModel::capabilities(&m).context_length, Some(4096));
    /// ```
    pub fn options(mut self, options: RemoteOptions) -> Self {
        self.options = options;
        self
    }

    /// Checks the URL and key and builds the model. Nothing is sent yet.
    ///
    /// ```
    /// assert!(slm_remote::OpenAiCompatibleModel::builder("http://h/v1", " ").build().is_err());
    /// ```
    pub fn build(self) -> Result<OpenAiCompatibleModel, RemoteError> {
        let model = self.model.trim().to_string();
        if model.is_empty() {
            return Err(RemoteError::Config("the model name is empty".into()));
        }
        let url = Url::parse(self.base_url.trim()).map_err(|e| {
            RemoteError::Config(format!("base URL `{}` is not a URL: {e}", self.base_url))
        })?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(RemoteError::Config(format!(
                "base URL `{}` must be an http(s) URL with a host, e.g. http://localhost:5273/v1",
                self.base_url
            )));
        }
        let path = url.path().trim_end_matches('/');
        let path = path.strip_suffix("/chat/completions").unwrap_or(path);
        let base = format!("{}{}", url.origin().ascii_serialization(), path);
        let query = url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let endpoint = Endpoint::new(base, query, self.credential)?;
        let site = CallSite {
            endpoint,
            azure: None,
        };
        let engine = Engine::new(site, model.clone(), model, self.options)?;
        Ok(OpenAiCompatibleModel {
            engine: Arc::new(engine),
        })
    }
}

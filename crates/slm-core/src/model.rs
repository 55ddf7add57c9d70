//! The [`ChatModel`] trait: one abstraction for local models, remote models and pipelines.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{ChatRequest, ChatResponse, ChatStream, Result, events_of_response};

/// What a model can do. Callers use it to pick formats and strategies.
///
/// ```
/// let caps = slm_core::Capabilities { streaming: true, context_length: Some(4096), ..Default::default() };
/// assert!(!caps.tools);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Capabilities {
    /// Streams token by token (otherwise the whole answer comes as one delta).
    pub streaming: bool,
    /// Understands `tools` and returns `ToolCall`s.
    pub tools: bool,
    /// Enforces `ResponseFormat::JsonSchema`.
    pub json_schema: bool,
    /// Enforces `ResponseFormat::Grammar` (GBNF).
    pub grammar: bool,
    /// Decodes several requests together.
    pub batching: bool,
    /// The context window in tokens, when known.
    pub context_length: Option<u32>,
}

/// Anything that answers a chat: a local GGUF model, a remote deployment, or a composition.
///
/// The trait is object safe, so `Arc<dyn ChatModel>` works, and implemented for `Arc`, `Box`
/// and references, so compositions nest.
///
/// ```
/// use std::sync::Arc;
/// use slm_core::{ChatModel, ChatRequest, ScriptedModel};
/// # tokio_test_block_on(async {
/// let model: Arc<dyn ChatModel> = Arc::new(ScriptedModel::new("demo").reply("Hello!"));
/// let answer = model.chat(ChatRequest::builder().user("Hi").build()).await.unwrap();
/// assert_eq!(answer.text(), "Hello!");
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output { futures::executor::block_on(f) }
/// ```
#[async_trait]
pub trait ChatModel: Send + Sync {
    /// A stable identifier: a model name, a deployment, or a composition's description.
    fn id(&self) -> &str;

    /// What this model can do.
    fn capabilities(&self) -> Capabilities;

    /// Answers a request.
    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse>;

    /// Answers a request as a stream of events ending with [`crate::ChatEvent::Done`].
    ///
    /// The default runs [`ChatModel::chat`] and streams the finished answer at once.
    fn chat_stream(&self, request: ChatRequest) -> ChatStream<'_> {
        Box::pin(async_stream_of(self.chat(request)))
    }

    /// What decides this model's answers besides the request, as a string that changes when
    /// they may change: the weights file's sha256 (and adapters) of a local model, the endpoint
    /// and model name of a remote one. Response caches key on it with the whole request.
    ///
    /// `None` (the default) means the model cannot say (a scripted model, a composition whose
    /// parts or settings the string would not cover): its answers are never cached.
    ///
    /// ```
    /// use slm_core::{ChatModel, ScriptedModel};
    /// # futures::executor::block_on(async {
    /// assert_eq!(ScriptedModel::new("m").identity().await.unwrap(), None);
    /// # });
    /// ```
    async fn identity(&self) -> Result<Option<String>> {
        Ok(None)
    }
}

fn async_stream_of<'a>(
    answer: impl std::future::Future<Output = Result<ChatResponse>> + Send + 'a,
) -> impl futures::Stream<Item = Result<crate::ChatEvent>> + Send + 'a {
    use futures::StreamExt;
    futures::stream::once(answer).flat_map(|result| {
        let events: Vec<Result<crate::ChatEvent>> = match result {
            Ok(response) => events_of_response(response).into_iter().map(Ok).collect(),
            Err(e) => vec![Err(e)],
        };
        futures::stream::iter(events)
    })
}

macro_rules! forward_chat_model {
    ($($ty:ty),*) => {$(
        #[async_trait]
        impl<T: ChatModel + ?Sized> ChatModel for $ty {
            fn id(&self) -> &str {
                (**self).id()
            }
            fn capabilities(&self) -> Capabilities {
                (**self).capabilities()
            }
            async fn chat(&self, request: ChatRequest) -> Result<ChatResponse> {
                (**self).chat(request).await
            }
            fn chat_stream(&self, request: ChatRequest) -> ChatStream<'_> {
                (**self).chat_stream(request)
            }
            async fn identity(&self) -> Result<Option<String>> {
                (**self).identity().await
            }
        }
    )*};
}

forward_chat_model!(Arc<T>, Box<T>, &T);

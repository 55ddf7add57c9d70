//! A small model drafts; a large model refines when the policy says so.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::StreamExt;

use crate::compose::EscalationPolicy;
use crate::{
    Capabilities, ChatEvent, ChatModel, ChatRequest, ChatResponse, ChatStream, Message, Result,
    Role, StageLog, collect_stream,
};

/// The default refine prompt: improve the draft, with the original question kept for context.
const DEFAULT_REFINE_TEMPLATE: &str = "Refine and polish the draft answer below. Keep its facts.\n\nQuestion:\n{question}\n\nDraft:\n{draft}";

/// Draft with a small model; refine with a large one when an [`EscalationPolicy`] says so.
///
/// The response lists both shares as [`Stage`]s ("draft", "refine"), its usage is their sum, and
/// its timings are measured end to end: time to first token is when the first token of the final
/// answer arrived, so escalation's latency shows.
///
/// ```
/// use std::sync::Arc;
/// use slm_core::{ChatModel, ChatRequest, DraftRefine, EscalationPolicy, ScriptedModel};
/// # futures::executor::block_on(async {
/// let small = Arc::new(ScriptedModel::new("small").reply("Short."));
/// let large = Arc::new(ScriptedModel::new("large").reply("Refined."));
/// let model = DraftRefine::new(small, large).policy(EscalationPolicy::DraftLongerThan(600));
/// let r = model.chat(ChatRequest::builder().user("Summarize").build()).await.unwrap();
/// assert_eq!(r.text(), "Short."); // short drafts are kept
/// assert_eq!(r.stages.len(), 1);
/// # });
/// ```
#[derive(Clone)]
pub struct DraftRefine {
    draft: Arc<dyn ChatModel>,
    refine: Arc<dyn ChatModel>,
    policy: EscalationPolicy,
    template: String,
    id: String,
}

impl std::fmt::Debug for DraftRefine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DraftRefine")
            .field("id", &self.id)
            .field("policy", &self.policy)
            .finish()
    }
}

impl DraftRefine {
    /// A pipeline that always refines (change it with [`DraftRefine::policy`]).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use slm_core::{ChatModel, DraftRefine, ScriptedModel};
    /// let m = DraftRefine::new(Arc::new(ScriptedModel::new("a")), Arc::new(ScriptedModel::new("b")));
    /// assert_eq!(m.id(), "draft-refine(a→b)");
    /// ```
    pub fn new(draft: Arc<dyn ChatModel>, refine: Arc<dyn ChatModel>) -> Self {
        let id = format!("draft-refine({}→{})", draft.id(), refine.id());
        Self {
            draft,
            refine,
            policy: EscalationPolicy::Always,
            template: DEFAULT_REFINE_TEMPLATE.to_string(),
            id,
        }
    }

    /// Sets the escalation policy.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use slm_core::{DraftRefine, EscalationPolicy, ScriptedModel};
    /// let m = DraftRefine::new(Arc::new(ScriptedModel::new("a")), Arc::new(ScriptedModel::new("b")))
    ///     .policy(EscalationPolicy::Never);
    /// # let _ = m;
    /// ```
    pub fn policy(mut self, policy: EscalationPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Sets the refine prompt; `{question}` and `{draft}` are replaced.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use slm_core::{DraftRefine, ScriptedModel};
    /// let m = DraftRefine::new(Arc::new(ScriptedModel::new("a")), Arc::new(ScriptedModel::new("b")))
    ///     .refine_template("Refine and polish:\n{draft}");
    /// # let _ = m;
    /// ```
    pub fn refine_template(mut self, template: impl Into<String>) -> Self {
        self.template = template.into();
        self
    }

    /// The request sent to the large model: the conversation, with the last user message
    /// replaced by the refine prompt.
    fn refine_request(&self, request: &ChatRequest, draft: &ChatResponse) -> ChatRequest {
        let question = request.last_user_text().unwrap_or_default();
        let prompt = self
            .template
            .replace("{question}", question)
            .replace("{draft}", draft.text());
        let mut refined = request.clone();
        match refined.messages.iter().rposition(|m| m.role == Role::User) {
            Some(i) => refined.messages[i] = Message::user(prompt),
            None => refined.messages.push(Message::user(prompt)),
        }
        refined
    }
}

/// Joins the draft (and the refinement, if any) into one response with honest totals.
/// `refined` carries when the refinement started (after `started`); `first_token_at`, when
/// the answer streamed, when its first token came.
fn combine(
    started: Instant,
    draft: ChatResponse,
    refined: Option<(Duration, ChatResponse)>,
    first_token_at: Option<Duration>,
) -> ChatResponse {
    let mut log = StageLog::started_at(started);
    log.push_response("draft", &draft);
    let mut out = match refined {
        Some((offset, refined)) => {
            log.push_response("refine", &refined);
            log.finish(refined, started + offset)
        }
        None => log.finish(draft, started),
    };
    if let Some(ttft) = first_token_at {
        out.timings.time_to_first_token = ttft;
    }
    out
}

#[async_trait]
impl ChatModel for DraftRefine {
    fn id(&self) -> &str {
        &self.id
    }

    fn capabilities(&self) -> Capabilities {
        let (a, b) = (self.draft.capabilities(), self.refine.capabilities());
        Capabilities {
            streaming: a.streaming || b.streaming,
            tools: a.tools && b.tools,
            json_schema: a.json_schema && b.json_schema,
            grammar: a.grammar && b.grammar,
            batching: false,
            context_length: match (a.context_length, b.context_length) {
                (Some(x), Some(y)) => Some(x.min(y)),
                (x, y) => x.or(y),
            },
        }
    }

    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse> {
        let started = Instant::now();
        let draft = self.draft.chat(request.clone()).await?;
        if !self.policy.should_escalate(&request, &draft) {
            tracing::debug!(model = %self.id, "draft kept");
            return Ok(combine(started, draft, None, None));
        }
        tracing::debug!(model = %self.id, "draft escalated");
        let offset = started.elapsed();
        let refined = self
            .refine
            .chat(self.refine_request(&request, &draft))
            .await?;
        Ok(combine(started, draft, Some((offset, refined)), None))
    }

    fn chat_stream(&self, request: ChatRequest) -> ChatStream<'_> {
        let started = Instant::now();
        let decided = async move {
            let (_, draft) = match collect_stream(self.draft.chat_stream(request.clone())).await {
                Ok(d) => d,
                Err(e) => return futures::stream::iter(vec![Err(e)]).boxed(),
            };
            if !self.policy.should_escalate(&request, &draft) {
                let ttft = started.elapsed();
                let text = draft.text().to_string();
                let done = combine(started, draft, None, Some(ttft));
                let events = [ChatEvent::TextDelta(text), ChatEvent::Done(Box::new(done))];
                return futures::stream::iter(
                    events
                        .into_iter()
                        .filter(|e| e.text_delta() != Some(""))
                        .map(Ok),
                )
                .boxed();
            }
            let offset = started.elapsed();
            let refine_stream = self
                .refine
                .chat_stream(self.refine_request(&request, &draft));
            let mut first_token_at = None;
            let mut draft = Some(draft);
            refine_stream
                .map(move |event| match event? {
                    ChatEvent::Done(refined) => {
                        let draft = draft.take().unwrap_or_default();
                        let done =
                            combine(started, draft, Some((offset, *refined)), first_token_at);
                        Ok(ChatEvent::Done(Box::new(done)))
                    }
                    other => {
                        first_token_at.get_or_insert_with(|| started.elapsed());
                        Ok(other)
                    }
                })
                .boxed()
        };
        Box::pin(futures::stream::once(decided).flatten())
    }
}

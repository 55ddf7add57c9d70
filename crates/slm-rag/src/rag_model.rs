//! [`RagModel`]: a chat model that answers from retrieved passages, with citations and an
//! escalation hook to a larger model.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use slm_core::{
    Capabilities, ChatEvent, ChatModel, ChatRequest, ChatResponse, ChatStream, EscalationPolicy,
    Message, Role, Stage, Timings,
};

use crate::{Citation, Context, ContextBuilder, RagError, Retriever};

/// The grounding instruction of seed 000's RAG demo.
///
/// ```
/// assert!(slm_rag::GROUNDED_INSTRUCTION.starts_with("Answer using ONLY"));
/// ```
pub const GROUNDED_INSTRUCTION: &str =
    "Answer using ONLY the provided context. If insufficient, say so.";

/// The default system instruction: [`GROUNDED_INSTRUCTION`] plus a request to cite passages.
///
/// ```
/// assert!(slm_rag::DEFAULT_INSTRUCTION.contains("[1]"));
/// ```
pub const DEFAULT_INSTRUCTION: &str = "Answer using ONLY the provided context. If insufficient, say so. \
     Cite the passages you use by their number, like [1].";

/// When and how a [`RagModel`] hands the question to a larger model.
///
/// It escalates when the local answer is rejected by the policy (by default: it says the
/// context is insufficient, [`EscalationPolicy::DraftSaysInsufficient`]), or before asking the
/// local model at all when the best retrieval score is below `min_score`.
///
/// ```
/// use std::sync::Arc;
/// use slm_core::ScriptedModel;
/// let big = Arc::new(ScriptedModel::new("gpt-4o"));
/// let e = slm_rag::Escalation::to(big).min_score(2.0).with_context(true);
/// assert!(format!("{e:?}").contains("gpt-4o"));
/// ```
#[derive(Clone)]
pub struct Escalation {
    model: Arc<dyn ChatModel>,
    policy: EscalationPolicy,
    min_score: Option<f32>,
    with_context: bool,
}

impl fmt::Debug for Escalation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Escalation")
            .field("model", &self.model.id())
            .field("policy", &self.policy)
            .field("min_score", &self.min_score)
            .field("with_context", &self.with_context)
            .finish()
    }
}

impl Escalation {
    /// Escalates to `model` when the local answer says the context is insufficient.
    ///
    /// ```
    /// let e = slm_rag::Escalation::to(std::sync::Arc::new(slm_core::ScriptedModel::new("big")));
    /// ```
    pub fn to(model: Arc<dyn ChatModel>) -> Self {
        Self {
            model,
            policy: EscalationPolicy::DraftSaysInsufficient,
            min_score: None,
            with_context: false,
        }
    }

    /// Which local answers escalate (`EscalationPolicy::Never` leaves only `min_score`).
    ///
    /// ```
    /// use slm_core::{EscalationPolicy, ScriptedModel};
    /// let e = slm_rag::Escalation::to(std::sync::Arc::new(ScriptedModel::new("big")))
    ///     .when(EscalationPolicy::DraftLongerThan(600));
    /// ```
    pub fn when(mut self, policy: EscalationPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Escalates without asking the local model when the best passage scores below
    /// `threshold` (or nothing was retrieved).
    ///
    /// ```
    /// let e = slm_rag::Escalation::to(std::sync::Arc::new(slm_core::ScriptedModel::new("big"))).min_score(1.5);
    /// ```
    pub fn min_score(mut self, threshold: f32) -> Self {
        self.min_score = Some(threshold);
        self
    }

    /// Whether the larger model also gets the retrieved context (default: no, it gets the
    /// original conversation and answers from its own knowledge).
    ///
    /// ```
    /// let e = slm_rag::Escalation::to(std::sync::Arc::new(slm_core::ScriptedModel::new("big"))).with_context(true);
    /// ```
    pub fn with_context(mut self, with_context: bool) -> Self {
        self.with_context = with_context;
        self
    }
}

/// Why a [`RagModel`] escalated.
///
/// ```
/// let r = slm_rag::EscalationReason::LowRetrievalScore { best: None, threshold: 1.0 };
/// assert!(serde_json::to_string(&r).unwrap().contains("threshold"));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum EscalationReason {
    /// The escalation policy rejected the local answer (by default: it said the context is
    /// insufficient).
    AnswerRejected,
    /// The best retrieval score (none when nothing matched) was below the threshold.
    LowRetrievalScore {
        /// The best passage's score.
        best: Option<f32>,
        /// The configured minimum.
        threshold: f32,
    },
}

/// A retrieval-grounded request, ready for a model, and what it was built from.
///
/// ```
/// use slm_core::{ChatRequest, ScriptedModel};
/// use slm_rag::{Document, Index, RagModel};
/// let index = Index::from_documents([Document::new("1", "The sky is blue.")])?;
/// let rag = RagModel::new(ScriptedModel::new("m"), index);
/// let g = rag.ground(&ChatRequest::builder().user("What colour is the sky?").build())?;
/// assert!(g.request.messages[1].content.contains("[1] The sky is blue."));
/// assert_eq!(g.context.citations.len(), 1);
/// # Ok::<(), slm_rag::RagError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Grounded {
    /// The request with the grounding instruction and the context.
    pub request: ChatRequest,
    /// The numbered passages.
    pub context: Context,
    /// The best passage's score, if anything was retrieved.
    pub best_score: Option<f32>,
    /// How long retrieval and prompt building took.
    pub retrieval_time: Duration,
}

/// A [`RagModel`] answer: the chat response and the passages it was grounded on.
///
/// ```
/// use slm_rag::{Citation, Passage, RagAnswer};
/// let passage = |id: &str| Passage { id: id.into(), text: "t".into(), score: 1.0, metadata: Default::default() };
/// let answer = RagAnswer {
///     response: slm_core::ChatResponse::from_text("m", "Blue [2]."),
///     citations: vec![Citation { number: 1, passage: passage("a") }, Citation { number: 2, passage: passage("b") }],
///     escalated: None,
/// };
/// assert_eq!(answer.cited()[0].passage.id, "b");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RagAnswer {
    /// The answer, as [`ChatModel::chat`] returns it.
    pub response: ChatResponse,
    /// The passages given as context, numbered as in the prompt (empty when the question was
    /// escalated without context).
    pub citations: Vec<Citation>,
    /// Whether and why the larger model answered.
    pub escalated: Option<EscalationReason>,
}

impl RagAnswer {
    /// The answer text.
    ///
    /// ```
    /// let a = slm_rag::RagAnswer { response: slm_core::ChatResponse::from_text("m", "x"), citations: vec![], escalated: None };
    /// assert_eq!(a.text(), "x");
    /// ```
    pub fn text(&self) -> &str {
        self.response.text()
    }

    /// The passages the answer refers to by `[n]` (also `[1, 2]`), or all of them when it
    /// refers to none.
    ///
    /// ```
    /// let a = slm_rag::RagAnswer { response: slm_core::ChatResponse::from_text("m", "x"), citations: vec![], escalated: None };
    /// assert!(a.cited().is_empty());
    /// ```
    pub fn cited(&self) -> Vec<&Citation> {
        cited_in(self.response.text(), &self.citations)
    }
}

/// A [`ChatModel`] that answers the last user message from retrieved passages.
///
/// For each request it retrieves the `top_k` passages for the last user message, fits them
/// into the context budget with numbers, and asks the model with the grounding instruction as
/// the system message and `Context:\n...\n\nQuestion: ...` as the user turn (seed 000's
/// prompt). The response lists a `retrieve` stage, then the model's stage(s).
///
/// Citations come back two ways: [`RagModel::answer`] returns them as data ([`RagAnswer`]),
/// and by default the response text ends with a `Sources:` list of the cited passages' ids
/// (streamed as a last text delta), so plain `ChatModel` users see them too; turn that off
/// with [`RagModel::sources_in_text`].
///
/// ```
/// use slm_core::{ChatModel, ChatRequest, ScriptedModel};
/// use slm_rag::{Document, Index, RagModel};
/// # futures::executor::block_on(async {
/// let index = Index::from_documents([
///     Document::new("faq-refunds", "Refunds are paid within five working days."),
///     Document::new("faq-shipping", "Orders ship from Oslo."),
/// ])?;
/// let local = ScriptedModel::new("phi-4-mini").reply("Within five working days [1].");
/// let rag = RagModel::new(local.clone(), index);
/// let answer = rag.answer(ChatRequest::builder().user("When are refunds paid?").build()).await?;
/// assert_eq!(answer.cited()[0].passage.id, "faq-refunds");
/// assert!(answer.text().ends_with("Sources:\n[1] faq-refunds"));
/// let prompt = &local.requests()[0].messages;
/// assert!(prompt[0].content.starts_with("Answer using ONLY the provided context."));
/// assert!(prompt[1].content.contains("Question: When are refunds paid?"));
/// # Ok::<(), slm_core::Error>(()) }).unwrap();
/// ```
pub struct RagModel<M: ChatModel> {
    model: M,
    retriever: Arc<dyn Retriever>,
    top_k: usize,
    context: ContextBuilder,
    instruction: String,
    escalation: Option<Escalation>,
    sources_in_text: bool,
    id: String,
}

impl<M: ChatModel> fmt::Debug for RagModel<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RagModel")
            .field("id", &self.id)
            .field("top_k", &self.top_k)
            .field("context", &self.context)
            .field("escalation", &self.escalation)
            .finish()
    }
}

impl<M: ChatModel> RagModel<M> {
    /// Grounds `model` on `retriever` with 5 passages, a 4,000-character context and
    /// [`DEFAULT_INSTRUCTION`].
    ///
    /// ```
    /// use slm_core::ChatModel;
    /// let rag = slm_rag::RagModel::new(slm_core::ScriptedModel::new("m"), slm_rag::Index::new());
    /// assert_eq!(rag.id(), "rag(m)");
    /// ```
    pub fn new(model: M, retriever: impl Retriever + 'static) -> Self {
        let id = format!("rag({})", model.id());
        Self {
            model,
            retriever: Arc::new(retriever),
            top_k: 5,
            context: ContextBuilder::default(),
            instruction: DEFAULT_INSTRUCTION.to_string(),
            escalation: None,
            sources_in_text: true,
            id,
        }
    }

    /// How many passages to retrieve (default 5).
    ///
    /// ```
    /// let rag = slm_rag::RagModel::new(slm_core::ScriptedModel::new("m"), slm_rag::Index::new()).top_k(3);
    /// ```
    pub fn top_k(mut self, k: usize) -> Self {
        self.top_k = k;
        self
    }

    /// The context budget.
    ///
    /// ```
    /// let rag = slm_rag::RagModel::new(slm_core::ScriptedModel::new("m"), slm_rag::Index::new())
    ///     .context(slm_rag::ContextBuilder::chars(1500));
    /// ```
    pub fn context(mut self, context: ContextBuilder) -> Self {
        self.context = context;
        self
    }

    /// Replaces the system instruction.
    ///
    /// ```
    /// let rag = slm_rag::RagModel::new(slm_core::ScriptedModel::new("m"), slm_rag::Index::new())
    ///     .instruction(slm_rag::GROUNDED_INSTRUCTION);
    /// ```
    pub fn instruction(mut self, instruction: impl Into<String>) -> Self {
        self.instruction = instruction.into();
        self
    }

    /// Sends some questions to a larger model (seed 000's "RAG + LLM fallback").
    ///
    /// ```
    /// use std::sync::Arc;
    /// let big = Arc::new(slm_core::ScriptedModel::new("big"));
    /// let rag = slm_rag::RagModel::new(slm_core::ScriptedModel::new("m"), slm_rag::Index::new())
    ///     .escalation(slm_rag::Escalation::to(big));
    /// ```
    pub fn escalation(mut self, escalation: Escalation) -> Self {
        self.escalation = Some(escalation);
        self
    }

    /// Whether the response text ends with a `Sources:` list (default true).
    ///
    /// ```
    /// let rag = slm_rag::RagModel::new(slm_core::ScriptedModel::new("m"), slm_rag::Index::new())
    ///     .sources_in_text(false);
    /// ```
    pub fn sources_in_text(mut self, on: bool) -> Self {
        self.sources_in_text = on;
        self
    }

    /// The wrapped model.
    ///
    /// ```
    /// use slm_core::ChatModel;
    /// let rag = slm_rag::RagModel::new(slm_core::ScriptedModel::new("m"), slm_rag::Index::new());
    /// assert_eq!(rag.inner().id(), "m");
    /// ```
    pub fn inner(&self) -> &M {
        &self.model
    }

    /// Retrieves for the last user message and builds the grounded request, without asking
    /// any model (e.g. to show the sources before streaming).
    ///
    /// ```
    /// use slm_core::{ChatRequest, ScriptedModel};
    /// let rag = slm_rag::RagModel::new(ScriptedModel::new("m"), slm_rag::Index::new());
    /// let no_user = ChatRequest::builder().system("hi").build();
    /// assert!(matches!(rag.ground(&no_user), Err(slm_rag::RagError::InvalidRequest(_))));
    /// ```
    pub fn ground(&self, request: &ChatRequest) -> Result<Grounded, RagError> {
        let started = Instant::now();
        let question = request.last_user_text().ok_or_else(|| {
            RagError::InvalidRequest("the request has no user message to retrieve for".into())
        })?;
        let passages = self.retriever.retrieve(question, self.top_k)?;
        let best_score = passages.first().map(|p| p.score);
        let context = self.context.build(&passages);
        let request = self.grounded_request(request, &context);
        tracing::debug!(passages = context.citations.len(), ?best_score, "grounded");
        Ok(Grounded {
            request,
            context,
            best_score,
            retrieval_time: started.elapsed(),
        })
    }

    /// Answers `request` and returns the response with its citations and escalation.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use slm_core::{ChatRequest, ScriptedModel};
    /// use slm_rag::{Escalation, EscalationReason, Index, RagModel};
    /// # futures::executor::block_on(async {
    /// let local = ScriptedModel::new("small").reply("The context is insufficient.");
    /// let big = Arc::new(ScriptedModel::new("big").reply("Paris."));
    /// let rag = RagModel::new(local, Index::new()).escalation(Escalation::to(big));
    /// let answer = rag.answer(ChatRequest::builder().user("Capital of France?").build()).await?;
    /// assert_eq!(answer.text(), "Paris.");
    /// assert_eq!(answer.escalated, Some(EscalationReason::AnswerRejected));
    /// assert_eq!(answer.response.stages.len(), 3);
    /// # Ok::<(), slm_core::Error>(()) }).unwrap();
    /// ```
    pub async fn answer(&self, request: ChatRequest) -> slm_core::Result<RagAnswer> {
        let started = Instant::now();
        let grounded = self.ground(&request)?;
        self.answer_grounded(started, request, grounded).await
    }

    async fn answer_grounded(
        &self,
        started: Instant,
        original: ChatRequest,
        grounded: Grounded,
    ) -> slm_core::Result<RagAnswer> {
        let mut stages = vec![self.retrieve_stage(&grounded)];
        if let Some((escalation, reason)) = self.low_score(&grounded) {
            let call_started = Instant::now();
            let response = escalation
                .model
                .chat(self.escalated_request(escalation, &original, &grounded))
                .await?;
            stages.push(Stage::of("escalate", &response));
            let keep = escalation.with_context;
            return Ok(self.assemble(
                started,
                call_started,
                grounded,
                stages,
                response,
                Some(reason),
                keep,
            ));
        }
        let call_started = Instant::now();
        let response = self.model.chat(grounded.request.clone()).await?;
        stages.extend(model_stages("answer", &response));
        if let Some(escalation) = &self.escalation
            && escalation.policy.should_escalate(&original, &response)
        {
            tracing::debug!(
                model = escalation.model.id(),
                "local answer rejected, escalating"
            );
            let call_started = Instant::now();
            let big = escalation
                .model
                .chat(self.escalated_request(escalation, &original, &grounded))
                .await?;
            stages.push(Stage::of("escalate", &big));
            let reason = Some(EscalationReason::AnswerRejected);
            return Ok(self.assemble(
                started,
                call_started,
                grounded,
                stages,
                big,
                reason,
                escalation.with_context,
            ));
        }
        Ok(self.assemble(
            started,
            call_started,
            grounded,
            stages,
            response,
            None,
            true,
        ))
    }

    fn retrieve_stage(&self, grounded: &Grounded) -> Stage {
        Stage {
            timings: Timings {
                total: grounded.retrieval_time,
                ..Timings::default()
            },
            ..Stage::new("retrieve", self.retriever.name())
        }
    }

    /// The escalation to apply before asking the local model, if retrieval scored too low.
    fn low_score(&self, grounded: &Grounded) -> Option<(&Escalation, EscalationReason)> {
        let escalation = self.escalation.as_ref()?;
        let threshold = escalation.min_score?;
        let too_low = grounded.best_score.is_none_or(|best| best < threshold);
        too_low.then_some((
            escalation,
            EscalationReason::LowRetrievalScore {
                best: grounded.best_score,
                threshold,
            },
        ))
    }

    fn escalated_request(
        &self,
        escalation: &Escalation,
        original: &ChatRequest,
        grounded: &Grounded,
    ) -> ChatRequest {
        if escalation.with_context {
            grounded.request.clone()
        } else {
            original.clone()
        }
    }

    /// The request with the instruction as (the start of) the system message and the last user
    /// message replaced by the context and the question.
    fn grounded_request(&self, request: &ChatRequest, context: &Context) -> ChatRequest {
        let mut system = self.instruction.clone();
        for message in request.messages.iter().filter(|m| m.role == Role::System) {
            system.push_str("\n\n");
            system.push_str(&message.content);
        }
        let last_user = request.messages.iter().rposition(|m| m.role == Role::User);
        let mut messages = vec![Message::system(system)];
        for (i, message) in request.messages.iter().enumerate() {
            if message.role == Role::System {
                continue;
            }
            if Some(i) == last_user {
                messages.push(Message::user(grounded_user_text(context, &message.content)));
            } else {
                messages.push(message.clone());
            }
        }
        ChatRequest {
            messages,
            ..request.clone()
        }
    }

    /// Puts the final response together: stages, summed usage, end-to-end timings, citations
    /// and the optional sources list.
    #[allow(clippy::too_many_arguments)]
    fn assemble(
        &self,
        started: Instant,
        call_started: Instant,
        grounded: Grounded,
        stages: Vec<Stage>,
        mut response: ChatResponse,
        escalated: Option<EscalationReason>,
        keep_citations: bool,
    ) -> RagAnswer {
        let citations = if keep_citations {
            grounded.context.citations
        } else {
            Vec::new()
        };
        response.usage = stages
            .iter()
            .map(|s| s.usage)
            .fold(Default::default(), |a, b| a + b);
        response.timings.time_to_first_token += call_started.duration_since(started);
        response.timings.total = started.elapsed();
        response.stages = stages;
        if self.sources_in_text {
            let footer = sources_footer(response.text(), &citations);
            response.message.content.push_str(&footer);
        }
        RagAnswer {
            response,
            citations,
            escalated,
        }
    }
}

/// The stages a model's response contributes: its own stages if it is a composition, or itself.
fn model_stages(name: &str, response: &ChatResponse) -> Vec<Stage> {
    if response.stages.is_empty() {
        vec![Stage::of(name, response)]
    } else {
        response.stages.clone()
    }
}

/// Seed 000's user turn: `Context:\n{ctx}\n\nQuestion: {question}`.
fn grounded_user_text(context: &Context, question: &str) -> String {
    let passages = if context.is_empty() {
        "(no relevant passages found)"
    } else {
        context.text.as_str()
    };
    format!("Context:\n{passages}\n\nQuestion: {question}")
}

/// `\n\nSources:\n[1] id...` for the passages the answer cites; empty when there are none or
/// the answer says the context is insufficient.
fn sources_footer(answer: &str, citations: &[Citation]) -> String {
    if citations.is_empty() || EscalationPolicy::says_insufficient_text(answer) {
        return String::new();
    }
    let mut footer = String::from("\n\nSources:");
    for citation in cited_in(answer, citations) {
        footer.push_str(&format!("\n[{}] {}", citation.number, citation.passage.id));
    }
    footer
}

/// The citations whose numbers appear as `[n]` or `[n, m]` in `text`, or all when none does.
fn cited_in<'a>(text: &str, citations: &'a [Citation]) -> Vec<&'a Citation> {
    let numbers = bracketed_numbers(text);
    let cited: Vec<&Citation> = citations
        .iter()
        .filter(|c| numbers.contains(&c.number))
        .collect();
    if cited.is_empty() {
        citations.iter().collect()
    } else {
        cited
    }
}

/// Numbers inside square brackets: `"a [1] b [2, 3]"` → `[1, 2, 3]`.
fn bracketed_numbers(text: &str) -> Vec<usize> {
    let mut numbers = Vec::new();
    for (open, _) in text.match_indices('[') {
        let rest = &text[open + 1..];
        let Some(close) = rest.find(']') else { break };
        let inside = &rest[..close];
        let parsed: Option<Vec<usize>> = inside.split(',').map(|n| n.trim().parse().ok()).collect();
        numbers.extend(parsed.unwrap_or_default());
    }
    numbers
}

fn error_stream<'a>(error: slm_core::Error) -> ChatStream<'a> {
    Box::pin(futures::stream::once(async move { Err(error) }))
}

fn answer_events<'a>(answer: slm_core::Result<RagAnswer>) -> ChatStream<'a> {
    let events: Vec<slm_core::Result<ChatEvent>> = match answer {
        Ok(a) => slm_core::events_of_response(a.response)
            .into_iter()
            .map(Ok)
            .collect(),
        Err(e) => vec![Err(e)],
    };
    Box::pin(futures::stream::iter(events))
}

#[slm_core::async_trait]
impl<M: ChatModel> ChatModel for RagModel<M> {
    fn id(&self) -> &str {
        &self.id
    }

    fn capabilities(&self) -> Capabilities {
        self.model.capabilities()
    }

    async fn chat(&self, request: ChatRequest) -> slm_core::Result<ChatResponse> {
        self.answer(request).await.map(|a| a.response)
    }

    /// Streams the model's answer as it is generated, then the `Sources:` list as one more text
    /// delta. When an escalation policy must judge the whole local answer first, nothing
    /// streams until the answer is final (as with [`slm_core::Fallback`]).
    fn chat_stream(&self, request: ChatRequest) -> ChatStream<'_> {
        let started = Instant::now();
        let grounded = match self.ground(&request) {
            Ok(g) => g,
            Err(e) => return error_stream(e.into()),
        };
        let low = self.low_score(&grounded);
        let judges_answer = self
            .escalation
            .as_ref()
            .is_some_and(|e| !matches!(e.policy, EscalationPolicy::Never));
        if low.is_none() && judges_answer {
            let answer = async move { self.answer_grounded(started, request, grounded).await };
            return Box::pin(futures::stream::once(answer).flat_map(answer_events));
        }
        let stages = vec![self.retrieve_stage(&grounded)];
        let (model, model_request, stage, escalated, keep): (&dyn ChatModel, _, _, _, _) = match low
        {
            Some((e, reason)) => (
                e.model.as_ref(),
                self.escalated_request(e, &request, &grounded),
                "escalate",
                Some(reason),
                e.with_context,
            ),
            None => (&self.model, grounded.request.clone(), "answer", None, true),
        };
        let call_started = Instant::now();
        let mut pending = Some((grounded, stages, escalated));
        let events = model.chat_stream(model_request).flat_map(move |event| {
            let out: Vec<slm_core::Result<ChatEvent>> = match (event, pending.take()) {
                (Ok(ChatEvent::Done(response)), Some((grounded, mut stages, escalated))) => {
                    stages.extend(model_stages(stage, &response));
                    let text_len = response.text().len();
                    let answer = self.assemble(
                        started,
                        call_started,
                        grounded,
                        stages,
                        *response,
                        escalated,
                        keep,
                    );
                    let footer = answer.response.text()[text_len..].to_string();
                    let mut out = Vec::new();
                    if !footer.is_empty() {
                        out.push(Ok(ChatEvent::TextDelta(footer)));
                    }
                    out.push(Ok(ChatEvent::Done(Box::new(answer.response))));
                    out
                }
                (event, state) => {
                    pending = state;
                    vec![event]
                }
            };
            futures::stream::iter(out)
        });
        Box::pin(events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bracketed_numbers_reads_single_and_lists() {
        assert_eq!(bracketed_numbers("a [1] b [2, 3] c [x] [4"), vec![1, 2, 3]);
        assert!(bracketed_numbers("no refs").is_empty());
    }
}

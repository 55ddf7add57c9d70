//! [`RagModel`]: a chat model that answers from retrieved passages, with citations and an
//! escalation hook to a larger model.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use slm_core::{
    Capabilities, ChatEvent, ChatModel, ChatRequest, ChatResponse, ChatStream, EscalationPolicy,
    Message, Role, Stage, StageLog, Timings,
};

use unicode_segmentation::UnicodeSegmentation;

use crate::{Citation, Cited, Context, ContextBuilder, Passage, RagError, Retriever};

/// The default grounding instruction: answer from the passages, cite them, or say the
/// context is insufficient.
///
/// ```
/// assert!(slm_rag::GROUNDED_INSTRUCTION.starts_with("Answer using ONLY"));
/// ```
pub const GROUNDED_INSTRUCTION: &str =
    "Answer using ONLY the provided context. If insufficient, say so.";

/// The default instruction, written after the passages and the question in the user turn.
///
/// Chosen on SmolLM2-135M-Instruct (greedy) over the bundled handbook among six wordings
/// (system vs. user turn, "context" vs. "passages", with and without a repeat penalty): a
/// short instruction right after the question, with no system prompt, is the one that model
/// follows best, answering from the passage and citing it as `[1]`.
///
/// ```
/// assert!(slm_rag::DEFAULT_INSTRUCTION.contains("[1]"));
/// ```
pub const DEFAULT_INSTRUCTION: &str =
    "Answer in one sentence using only the passages, and cite the passage number like [1].";

/// The default minimum BM25 score of a passage that can ground an answer (see
/// [`RagModel::min_score`]).
///
/// With the default BM25 (Lucene's IDF `ln(1 + (N − df + 0.5)/(df + 0.5))`, k1 = 1.5,
/// b = 0.75), one occurrence of a query term in a passage of average length scores IDF / 2.5.
/// A term found in half the passages or more has IDF ≤ ln 2 ≈ 0.69, so a passage sharing only
/// such a word with the question stays below 0.5: a word the corpus uses everywhere does not
/// ground an answer. One rarer term (in at most about a quarter of the passages), or several
/// terms, do. On the bundled handbook (8 passages) the passages that answer a question score
/// 1.1–2.2 and incidental matches 0.2–0.7. Corpora of fewer than about five passages have
/// IDFs so low that even a unique term stays below 0.5: lower the threshold there.
///
/// ```
/// assert_eq!(slm_rag::DEFAULT_MIN_SCORE, 0.5);
/// ```
pub const DEFAULT_MIN_SCORE: f32 = 0.5;

/// The default share of the best passage's score that the other passages need to be shown
/// (see [`RagModel::min_relative_score`]): a passage scoring less than half the best one
/// matched the question incidentally, and only distracts a small model.
///
/// ```
/// assert_eq!(slm_rag::DEFAULT_MIN_RELATIVE_SCORE, 0.5);
/// ```
pub const DEFAULT_MIN_RELATIVE_SCORE: f32 = 0.5;

/// The default reply when no passage grounds an answer (see [`RagModel::not_in_documents`]).
///
/// ```
/// assert!(slm_rag::NOT_IN_DOCUMENTS.contains("documents"));
/// ```
pub const NOT_IN_DOCUMENTS: &str = "I don't have that in the documents.";

/// Words dropped from the question before retrieval (see [`RagModel::question_words`]):
/// interrogatives, auxiliaries, pronouns and politeness. They say how a question is asked,
/// not what it is about, and Lucene's stopword list keeps them, so without this a passage
/// could match "What is the boiling point of tungsten?" on "what" alone.
///
/// ```
/// assert!(slm_rag::QUESTION_WORDS.contains(&"what"));
/// ```
pub const QUESTION_WORDS: &[&str] = &[
    "what", "which", "who", "whom", "whose", "when", "where", "why", "how", "do", "does", "did",
    "can", "could", "would", "should", "shall", "may", "might", "must", "i", "me", "my", "we",
    "us", "our", "you", "your", "please", "tell", "explain",
];

/// When and how a [`RagModel`] hands the question to a larger model.
///
/// It escalates before asking the local model when no passage grounds the question (none
/// scores at least [`RagModel::min_score`]), or when the best passage scores below this
/// escalation's own `min_score` (a stricter bar for "weakly grounded"); and after asking it
/// when the local answer is rejected by the policy (by default: it says the context is
/// insufficient, [`EscalationPolicy::DraftSaysInsufficient`]).
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

    /// Escalates without asking the local model when the best grounding passage scores below
    /// `threshold` (questions with no grounding passage at all always escalate).
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
/// let r = slm_rag::EscalationReason::LowRetrievalScore { best: Some(1.2), threshold: 2.0 };
/// assert!(serde_json::to_string(&r).unwrap().contains("threshold"));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum EscalationReason {
    /// The escalation policy rejected the local answer (by default: it said the context is
    /// insufficient).
    AnswerRejected,
    /// Passages ground the question, but the best one scored below [`Escalation::min_score`].
    LowRetrievalScore {
        /// The best passage's score.
        best: Option<f32>,
        /// The escalation's minimum.
        threshold: f32,
    },
    /// No passage scored at least [`RagModel::min_score`]: the documents do not answer it.
    NoPassage {
        /// The best retrieved score, if anything matched at all.
        best: Option<f32>,
        /// The grounding minimum.
        min_score: f32,
    },
}

/// Who answered a [`RagModel`] question.
///
/// The response's stages say the same to plain [`ChatModel`] users: `answer`, `escalate` or
/// `not-in-documents` after `retrieve`.
///
/// ```
/// assert_eq!(serde_json::to_string(&slm_rag::RagOutcome::NotInDocuments).unwrap(), "\"not_in_documents\"");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RagOutcome {
    /// The local model answered from the passages.
    Grounded,
    /// No passage grounded the question and no escalation was set: the
    /// [`RagModel::not_in_documents`] reply, without calling any model.
    NotInDocuments,
    /// The escalation model answered ([`RagAnswer::escalated`] says why).
    Escalated,
}

/// The name of the stage recorded when no passage grounds the question and no model is asked.
///
/// ```
/// assert_eq!(slm_rag::NOT_IN_DOCUMENTS_STAGE, "not-in-documents");
/// ```
pub const NOT_IN_DOCUMENTS_STAGE: &str = "not-in-documents";

/// A retrieval-grounded request, ready for a model, and what it was built from.
///
/// ```
/// use slm_core::{ChatRequest, ScriptedModel};
/// use slm_rag::{Document, Index, RagModel};
/// let index = Index::from_documents([Document::new("1", "The sky is blue.")])?;
/// let rag = RagModel::new(ScriptedModel::new("m"), index).min_score(0.0);
/// let g = rag.ground(&ChatRequest::builder().user("What colour is the sky?").build())?;
/// assert!(g.request.messages[0].content.contains("[1] The sky is blue."));
/// assert_eq!(g.context.citations.len(), 1);
/// assert!(g.is_grounded());
/// # Ok::<(), slm_rag::RagError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Grounded {
    /// The request with the grounding instruction and the context.
    pub request: ChatRequest,
    /// The numbered passages that scored at least the minimum.
    pub context: Context,
    /// Retrieved passages that scored below the minimum, or below the minimum share of the
    /// best score: not shown to the model.
    pub below_min_score: Vec<Passage>,
    /// The best retrieved score (grounding or not), if anything matched at all.
    pub best_score: Option<f32>,
    /// The query the retriever was given (the question without [`QUESTION_WORDS`]).
    pub query: String,
    /// How long retrieval and prompt building took.
    pub retrieval_time: Duration,
}

impl Grounded {
    /// Whether at least one passage grounds the question.
    ///
    /// ```
    /// use slm_core::{ChatRequest, ScriptedModel};
    /// let rag = slm_rag::RagModel::new(ScriptedModel::new("m"), slm_rag::Index::new());
    /// let g = rag.ground(&ChatRequest::builder().user("anything?").build())?;
    /// assert!(!g.is_grounded());
    /// # Ok::<(), slm_rag::RagError>(())
    /// ```
    pub fn is_grounded(&self) -> bool {
        !self.context.is_empty()
    }
}

/// A [`RagModel`] answer: the chat response, the passages it was given and the ones it cited.
///
/// `passages` are what the model saw (retrieved and above the minimum score); `citations` are
/// only those the answer refers to with `[n]` markers. An answer that cites nothing has no
/// citations (never "all of them"), and markers that name no passage are listed in
/// `unknown_citations`, not silently dropped.
///
/// ```
/// use slm_rag::{Citation, Passage, RagAnswer};
/// let passage = |id: &str| Passage { id: id.into(), text: "t".into(), score: 1.0, metadata: Default::default() };
/// let b = Citation { number: 2, passage: passage("b") };
/// let answer = RagAnswer {
///     response: slm_core::ChatResponse::from_text("m", "Blue [2]."),
///     passages: vec![Citation { number: 1, passage: passage("a") }, b.clone()],
///     citations: vec![b],
///     unknown_citations: vec![],
///     outcome: slm_rag::RagOutcome::Grounded,
///     escalated: None,
/// };
/// assert_eq!(answer.cited()[0].passage.id, "b");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RagAnswer {
    /// The answer, as [`ChatModel::chat`] returns it.
    pub response: ChatResponse,
    /// The passages given as context, numbered as in the prompt (empty when none grounded the
    /// question, or when it was escalated without context).
    pub passages: Vec<Citation>,
    /// The passages the answer cites, in order of first mention, each once.
    pub citations: Vec<Citation>,
    /// Citation markers in the answer that name no passage (e.g. `[7]` with three passages).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unknown_citations: Vec<usize>,
    /// Who answered.
    pub outcome: RagOutcome,
    /// Whether and why the larger model answered.
    pub escalated: Option<EscalationReason>,
}

impl RagAnswer {
    /// The answer text.
    ///
    /// ```
    /// let a = slm_rag::RagAnswer {
    ///     response: slm_core::ChatResponse::from_text("m", "x"), passages: vec![], citations: vec![],
    ///     unknown_citations: vec![], outcome: slm_rag::RagOutcome::Grounded, escalated: None,
    /// };
    /// assert_eq!(a.text(), "x");
    /// ```
    pub fn text(&self) -> &str {
        self.response.text()
    }

    /// The passages the answer cites (the same as [`RagAnswer::citations`]).
    ///
    /// ```
    /// let a = slm_rag::RagAnswer {
    ///     response: slm_core::ChatResponse::from_text("m", "x"), passages: vec![], citations: vec![],
    ///     unknown_citations: vec![], outcome: slm_rag::RagOutcome::Grounded, escalated: None,
    /// };
    /// assert!(a.cited().is_empty());
    /// ```
    pub fn cited(&self) -> Vec<&Citation> {
        self.citations.iter().collect()
    }
}

/// A [`ChatModel`] that answers the last user message from retrieved passages, and says so
/// when the documents do not answer it.
///
/// For each request it retrieves the `top_k` passages for the last user message (without its
/// [`QUESTION_WORDS`]), keeps those scoring at least [`RagModel::min_score`] and at least
/// [`RagModel::min_relative_score`] of the best one, fits them into
/// the context budget with numbers, and asks the model with
/// `Passages:\n[1] ...\n\nQuestion: ...\n{instruction}` as the last user turn (the rest of the
/// conversation, system messages included, is passed on unchanged). The response lists a
/// `retrieve` stage, then the model's stage(s).
///
/// **No grounding passage, no local answer.** When no passage reaches the minimum score, the
/// local model is never asked: the answer is the [`RagModel::not_in_documents`] reply (stage
/// `not-in-documents`, zero tokens), or, when an [`Escalation`] is set, the escalation model's
/// answer to the original conversation (stage `escalate`).
///
/// **Citations are what the answer cites.** [`RagModel::answer`] returns the passages the
/// answer refers to with `[n]` markers ([`RagAnswer::citations`]) apart from those it was given
/// ([`RagAnswer::passages`]). By default the response text also ends with a `Sources:` list of
/// the cited passages' ids (streamed as a last text delta), or `Sources: none cited` when it
/// cites none; turn that off with [`RagModel::sources_in_text`].
///
/// ```
/// use slm_core::{ChatModel, ChatRequest, ScriptedModel};
/// use slm_rag::{Document, Index, RagModel, RagOutcome};
/// # futures::executor::block_on(async {
/// let index = Index::from_documents([
///     Document::new("faq-refunds", "Refunds are paid within five working days."),
///     Document::new("faq-shipping", "Orders ship from Oslo."),
///     Document::new("faq-returns", "Returns need a receipt."),
///     Document::new("faq-hours", "The shop opens at nine."),
/// ])?;
/// let local = ScriptedModel::new("phi-4-mini").reply("Within five working days [1].");
/// let rag = RagModel::new(local.clone(), index);
/// let answer = rag.answer(ChatRequest::builder().user("When are refunds paid?").build()).await?;
/// assert_eq!(answer.cited()[0].passage.id, "faq-refunds");
/// assert!(answer.text().ends_with("Sources:\n[1] faq-refunds"));
/// let prompt = &local.requests()[0].messages;
/// assert!(prompt[0].content.starts_with("Passages:\n[1] Refunds are paid"));
/// assert!(prompt[0].content.contains("Question: When are refunds paid?\nAnswer in one sentence"));
///
/// let unanswerable = rag.answer(ChatRequest::builder().user("What is tungsten's boiling point?").build()).await?;
/// assert_eq!(unanswerable.outcome, RagOutcome::NotInDocuments);
/// assert_eq!(unanswerable.text(), slm_rag::NOT_IN_DOCUMENTS);
/// assert_eq!(local.requests().len(), 1, "the model was not asked");
/// # Ok::<(), slm_core::Error>(()) }).unwrap();
/// ```
pub struct RagModel<M: ChatModel> {
    model: M,
    retriever: Arc<dyn Retriever>,
    top_k: usize,
    context: ContextBuilder,
    instruction: String,
    min_score: f32,
    min_relative_score: f32,
    not_in_documents: String,
    question_words: Vec<String>,
    escalation: Option<Escalation>,
    sources_in_text: bool,
    id: String,
}

impl<M: ChatModel> fmt::Debug for RagModel<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RagModel")
            .field("id", &self.id)
            .field("top_k", &self.top_k)
            .field("min_score", &self.min_score)
            .field("min_relative_score", &self.min_relative_score)
            .field("context", &self.context)
            .field("escalation", &self.escalation)
            .finish()
    }
}

/// Where a grounded question goes.
enum Route<'a> {
    Local,
    NotInDocuments,
    Escalate(&'a Escalation, EscalationReason),
}

impl<M: ChatModel> RagModel<M> {
    /// Grounds `model` on `retriever` with 5 passages, a 4,000-character context,
    /// [`DEFAULT_INSTRUCTION`], [`DEFAULT_MIN_SCORE`] and the [`NOT_IN_DOCUMENTS`] reply.
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
            min_score: DEFAULT_MIN_SCORE,
            min_relative_score: DEFAULT_MIN_RELATIVE_SCORE,
            not_in_documents: NOT_IN_DOCUMENTS.to_string(),
            question_words: QUESTION_WORDS.iter().map(|w| w.to_string()).collect(),
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

    /// The minimum retrieval score of a passage that grounds an answer (default
    /// [`DEFAULT_MIN_SCORE`], which explains the choice for BM25). Passages scoring less are
    /// not shown to the model; when none is left, the model is not asked (see
    /// [`RagModel::not_in_documents`]). `0.0` grounds on any match. Use your retriever's scale
    /// for other retrievers.
    ///
    /// ```
    /// let rag = slm_rag::RagModel::new(slm_core::ScriptedModel::new("m"), slm_rag::Index::new()).min_score(2.5);
    /// ```
    pub fn min_score(mut self, min_score: f32) -> Self {
        self.min_score = min_score;
        self
    }

    /// The share of the best passage's score that the other passages need to be shown
    /// (default [`DEFAULT_MIN_RELATIVE_SCORE`]; `0.0` shows every passage above
    /// [`RagModel::min_score`]).
    ///
    /// ```
    /// let rag = slm_rag::RagModel::new(slm_core::ScriptedModel::new("m"), slm_rag::Index::new())
    ///     .min_relative_score(0.25);
    /// ```
    pub fn min_relative_score(mut self, share: f32) -> Self {
        self.min_relative_score = share;
        self
    }

    /// The reply when no passage grounds the question and no escalation is set (default
    /// [`NOT_IN_DOCUMENTS`]).
    ///
    /// ```
    /// let rag = slm_rag::RagModel::new(slm_core::ScriptedModel::new("m"), slm_rag::Index::new())
    ///     .not_in_documents("Das steht nicht in den Unterlagen.");
    /// ```
    pub fn not_in_documents(mut self, reply: impl Into<String>) -> Self {
        self.not_in_documents = reply.into();
        self
    }

    /// The words dropped from the question before retrieval, compared case-insensitively
    /// (default [`QUESTION_WORDS`]; an empty list retrieves with the whole question).
    ///
    /// ```
    /// let rag = slm_rag::RagModel::new(slm_core::ScriptedModel::new("m"), slm_rag::Index::new())
    ///     .question_words(["was", "wie", "wo"]);
    /// ```
    pub fn question_words<S: Into<String>>(mut self, words: impl IntoIterator<Item = S>) -> Self {
        self.question_words = words.into_iter().map(|w| w.into().to_lowercase()).collect();
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

    /// Replaces the instruction that follows the question (default [`DEFAULT_INSTRUCTION`]).
    ///
    /// ```
    /// let rag = slm_rag::RagModel::new(slm_core::ScriptedModel::new("m"), slm_rag::Index::new())
    ///     .instruction(slm_rag::GROUNDED_INSTRUCTION);
    /// ```
    pub fn instruction(mut self, instruction: impl Into<String>) -> Self {
        self.instruction = instruction.into();
        self
    }

    /// Sends some questions to a larger model (a "RAG + LLM fallback"); questions
    /// no passage grounds then go to it instead of getting the not-in-documents reply.
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

    /// The question without its [`RagModel::question_words`]: what the retriever is asked.
    ///
    /// ```
    /// let rag = slm_rag::RagModel::new(slm_core::ScriptedModel::new("m"), slm_rag::Index::new());
    /// assert_eq!(rag.retrieval_query("What is the boiling point of tungsten?"), "is the boiling point of tungsten");
    /// ```
    pub fn retrieval_query(&self, question: &str) -> String {
        question
            .unicode_words()
            .filter(|w| !self.question_words.iter().any(|q| q == &w.to_lowercase()))
            .collect::<Vec<_>>()
            .join(" ")
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
        let query = self.retrieval_query(question);
        let retrieved = self.retriever.retrieve(&query, self.top_k)?;
        let best_score = retrieved.iter().map(|p| p.score).reduce(f32::max);
        let bar = best_score.map_or(self.min_score, |best| {
            self.min_score.max(best * self.min_relative_score)
        });
        let (passages, below_min_score): (Vec<Passage>, Vec<Passage>) =
            retrieved.into_iter().partition(|p| p.score >= bar);
        let context = self.context.build(&passages);
        let request = self.grounded_request(request, &context);
        tracing::debug!(
            passages = context.citations.len(),
            below_min_score = below_min_score.len(),
            ?best_score,
            "grounded"
        );
        Ok(Grounded {
            request,
            context,
            below_min_score,
            best_score,
            query,
            retrieval_time: started.elapsed(),
        })
    }

    /// Answers `request` and returns the response with its citations and escalation.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use slm_core::{ChatRequest, ScriptedModel};
    /// use slm_rag::{Document, Escalation, EscalationReason, Index, RagModel};
    /// # futures::executor::block_on(async {
    /// let index = Index::from_documents([Document::new("fr", "France is in Europe.")])?;
    /// let local = ScriptedModel::new("small").reply("The context is insufficient.");
    /// let big = Arc::new(ScriptedModel::new("big").reply("Paris."));
    /// let rag = RagModel::new(local, index).min_score(0.0).escalation(Escalation::to(big));
    /// let answer = rag.answer(ChatRequest::builder().user("Capital of France?").build()).await?;
    /// assert_eq!(answer.text(), "Paris.");
    /// assert_eq!(answer.escalated, Some(EscalationReason::AnswerRejected));
    /// assert_eq!(answer.response.stages.len(), 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
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
        let mut log = StageLog::started_at(started);
        log.push(self.retrieve_stage(&grounded));
        match self.route(&grounded) {
            Route::NotInDocuments => {
                let call_started = Instant::now();
                log.push(Stage::new(NOT_IN_DOCUMENTS_STAGE, self.id.as_str()));
                let response = ChatResponse::from_text(self.id.as_str(), &self.not_in_documents);
                return Ok(self.assemble(
                    log,
                    call_started,
                    grounded,
                    response,
                    RagOutcome::NotInDocuments,
                    None,
                    false,
                ));
            }
            Route::Escalate(escalation, reason) => {
                let call_started = Instant::now();
                let keep = self.escalates_with_context(escalation, &grounded);
                let response = escalation
                    .model
                    .chat(self.escalated_request(escalation, &original, &grounded))
                    .await?;
                log.push_response("escalate", &response);
                return Ok(self.assemble(
                    log,
                    call_started,
                    grounded,
                    response,
                    RagOutcome::Escalated,
                    Some(reason),
                    keep,
                ));
            }
            Route::Local => {}
        }
        let call_started = Instant::now();
        let response = self.model.chat(grounded.request.clone()).await?;
        log.push_response("answer", &response);
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
            log.push_response("escalate", &big);
            let reason = Some(EscalationReason::AnswerRejected);
            return Ok(self.assemble(
                log,
                call_started,
                grounded,
                big,
                RagOutcome::Escalated,
                reason,
                escalation.with_context,
            ));
        }
        Ok(self.assemble(
            log,
            call_started,
            grounded,
            response,
            RagOutcome::Grounded,
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

    /// Where the question goes before any model is asked.
    fn route(&self, grounded: &Grounded) -> Route<'_> {
        if !grounded.is_grounded() {
            return match &self.escalation {
                Some(escalation) => Route::Escalate(
                    escalation,
                    EscalationReason::NoPassage {
                        best: grounded.best_score,
                        min_score: self.min_score,
                    },
                ),
                None => Route::NotInDocuments,
            };
        }
        let Some(escalation) = &self.escalation else {
            return Route::Local;
        };
        let Some(threshold) = escalation.min_score else {
            return Route::Local;
        };
        let best = grounded
            .context
            .citations
            .iter()
            .map(|c| c.passage.score)
            .reduce(f32::max);
        if best.is_none_or(|b| b < threshold) {
            Route::Escalate(
                escalation,
                EscalationReason::LowRetrievalScore { best, threshold },
            )
        } else {
            Route::Local
        }
    }

    /// Whether the escalation model gets the grounded prompt (only when it asks for context
    /// and there is some).
    fn escalates_with_context(&self, escalation: &Escalation, grounded: &Grounded) -> bool {
        escalation.with_context && grounded.is_grounded()
    }

    fn escalated_request(
        &self,
        escalation: &Escalation,
        original: &ChatRequest,
        grounded: &Grounded,
    ) -> ChatRequest {
        if self.escalates_with_context(escalation, grounded) {
            grounded.request.clone()
        } else {
            original.clone()
        }
    }

    /// The request with the last user message replaced by the passages, the question and
    /// the instruction.
    fn grounded_request(&self, request: &ChatRequest, context: &Context) -> ChatRequest {
        let last_user = request.messages.iter().rposition(|m| m.role == Role::User);
        let messages = request
            .messages
            .iter()
            .enumerate()
            .map(|(i, message)| {
                if Some(i) == last_user {
                    Message::user(grounded_user_text(
                        context,
                        &message.content,
                        &self.instruction,
                    ))
                } else {
                    message.clone()
                }
            })
            .collect();
        ChatRequest {
            messages,
            ..request.clone()
        }
    }

    /// Puts the final response together: the stages in `log` with their totals (see
    /// [`StageLog::finish`]; `call_started` is when the call that answered began), citations
    /// and the optional sources list.
    #[allow(clippy::too_many_arguments)]
    fn assemble(
        &self,
        log: StageLog,
        call_started: Instant,
        grounded: Grounded,
        response: ChatResponse,
        outcome: RagOutcome,
        escalated: Option<EscalationReason>,
        keep_citations: bool,
    ) -> RagAnswer {
        let (passages, cited) = if keep_citations {
            let cited = grounded.context.cited_by(response.text());
            (grounded.context.citations, cited)
        } else {
            (Vec::new(), Cited::default())
        };
        if !cited.unknown.is_empty() {
            tracing::debug!(unknown = ?cited.unknown, "the answer cites passages that do not exist");
        }
        let mut response = log.finish(response, call_started);
        if self.sources_in_text {
            let footer = sources_footer(response.text(), &passages, &cited);
            response.message.content.push_str(&footer);
        }
        RagAnswer {
            response,
            passages,
            citations: cited.citations,
            unknown_citations: cited.unknown,
            outcome,
            escalated,
        }
    }
}

/// The grounded user turn: `Passages:\n{ctx}\n\nQuestion: {question}\n{instruction}`.
fn grounded_user_text(context: &Context, question: &str, instruction: &str) -> String {
    let passages = if context.is_empty() {
        "(no relevant passages found)"
    } else {
        context.text.as_str()
    };
    let mut text = format!("Passages:\n{passages}\n\nQuestion: {question}");
    if !instruction.is_empty() {
        text.push('\n');
        text.push_str(instruction);
    }
    text
}

/// `\n\nSources:\n[1] id...` for the passages the answer cites; `Sources: none cited` when it
/// was given passages and cites none; markers naming no passage are listed as such. Empty when
/// there were no passages or the answer says the context is insufficient.
fn sources_footer(answer: &str, passages: &[Citation], cited: &Cited) -> String {
    if passages.is_empty() || EscalationPolicy::says_insufficient_text(answer) {
        return String::new();
    }
    let mut footer = String::from("\n\nSources:");
    if cited.citations.is_empty() {
        footer.push_str(" none cited");
    }
    for citation in &cited.citations {
        footer.push_str(&format!("\n[{}] {}", citation.number, citation.passage.id));
    }
    if !cited.unknown.is_empty() {
        let unknown: Vec<String> = cited.unknown.iter().map(|n| format!("[{n}]")).collect();
        footer.push_str(&format!("\n(no such passage: {})", unknown.join(", ")));
    }
    footer
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
    /// delta. The not-in-documents reply comes as one delta. When an escalation policy must
    /// judge the whole local answer first, nothing streams until the answer is final (as with
    /// [`slm_core::Fallback`]).
    fn chat_stream(&self, request: ChatRequest) -> ChatStream<'_> {
        let started = Instant::now();
        let grounded = match self.ground(&request) {
            Ok(g) => g,
            Err(e) => return error_stream(e.into()),
        };
        let route = self.route(&grounded);
        let judges_answer = self
            .escalation
            .as_ref()
            .is_some_and(|e| !matches!(e.policy, EscalationPolicy::Never));
        let whole = match route {
            Route::NotInDocuments => true,
            Route::Local => judges_answer,
            Route::Escalate(..) => false,
        };
        if whole {
            let answer = async move { self.answer_grounded(started, request, grounded).await };
            return Box::pin(futures::stream::once(answer).flat_map(answer_events));
        }
        let mut log = StageLog::started_at(started);
        log.push(self.retrieve_stage(&grounded));
        let (model, model_request, stage, outcome, escalated, keep): (
            &dyn ChatModel,
            _,
            _,
            _,
            _,
            _,
        ) = match route {
            Route::Escalate(e, reason) => (
                e.model.as_ref(),
                self.escalated_request(e, &request, &grounded),
                "escalate",
                RagOutcome::Escalated,
                Some(reason),
                self.escalates_with_context(e, &grounded),
            ),
            _ => (
                &self.model,
                grounded.request.clone(),
                "answer",
                RagOutcome::Grounded,
                None,
                true,
            ),
        };
        let call_started = Instant::now();
        let mut pending = Some((grounded, log, escalated));
        let events = model.chat_stream(model_request).flat_map(move |event| {
            let out: Vec<slm_core::Result<ChatEvent>> = match (event, pending.take()) {
                (Ok(ChatEvent::Done(response)), Some((grounded, mut log, escalated))) => {
                    log.push_response(stage, &response);
                    let text_len = response.text().len();
                    let answer = self.assemble(
                        log,
                        call_started,
                        grounded,
                        *response,
                        outcome,
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

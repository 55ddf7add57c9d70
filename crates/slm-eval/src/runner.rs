//! The runner: asks a [`ChatModel`] every case of a dataset, scores the answers and appends each
//! result to the results file as soon as it is done.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use slm_core::{
    ChatEvent, ChatModel, ChatRequest, ChatResponse, CostModel, GenerationOptions, ResponseFormat,
    ToolChoice,
};
use tracing::Instrument;

use crate::cache::CachedAnswer;
use crate::metrics::{self, score_case};
use crate::{Case, CaseResult, Dataset, Result, ResultsFile, Track};

/// How a run asks the model.
///
/// ```
/// let c = slm_eval::RunConfig::new(slm_eval::Track::Structured);
/// assert_eq!(c.options.temperature, Some(0.0));
/// assert_eq!(c.options.seed, Some(42));
/// assert_eq!(c.concurrency, 1);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    /// The track (decides the system prompt, the constraints and the metrics).
    pub track: Track,
    /// Sampling options; deterministic by default (temperature 0, top-p 1, seed 42, at most 512
    /// new tokens).
    pub options: GenerationOptions,
    /// Requests in flight at once. Remote models take several; local models that batch
    /// (`Capabilities::batching`) decode this many together; others use 1.
    pub concurrency: usize,
    /// Constrained decoding: structured cases ask for `ResponseFormat::JsonSchema` with the
    /// case's schema (or `Json`), tool-call cases pass their tools with `ToolChoice::Required`.
    pub constrained: bool,
    /// On resume, run again the cases whose stored result is an error.
    pub retry_errors: bool,
    /// The system prompt; the track's own prompt by default.
    pub system_prompt: String,
    /// Prices used to cost each case.
    #[serde(skip)]
    pub costs: CostModel,
    /// Where answers are looked up before the model is asked, and stored after (models that
    /// can say what decides their answers only: [`ChatModel::identity`]). None by default.
    #[serde(skip)]
    pub cache: Option<crate::ResponseCache>,
}

impl RunConfig {
    /// The defaults for a track.
    ///
    /// ```
    /// let c = slm_eval::RunConfig::new(slm_eval::Track::Toolcall);
    /// assert!(c.system_prompt.contains("tool_call"));
    /// ```
    pub fn new(track: Track) -> Self {
        Self {
            track,
            options: GenerationOptions::deterministic().with_max_tokens(512),
            concurrency: 1,
            constrained: false,
            retry_errors: false,
            system_prompt: track.system_prompt().to_string(),
            costs: CostModel::new(),
            cache: None,
        }
    }

    /// A short fingerprint of what decides the answers (track, options, constraints, system
    /// prompt): a results file is only resumed by a run with the same fingerprint.
    ///
    /// ```
    /// let a = slm_eval::RunConfig::new(slm_eval::Track::Structured);
    /// let mut b = a.clone();
    /// b.concurrency = 8; // does not change answers
    /// assert_eq!(a.fingerprint(), b.fingerprint());
    /// b.constrained = true;
    /// assert_ne!(a.fingerprint(), b.fingerprint());
    /// ```
    pub fn fingerprint(&self) -> String {
        let key = serde_json::json!([
            self.track,
            self.options,
            self.constrained,
            self.system_prompt
        ]);
        crate::data::sha256_hex(key.to_string().as_bytes())[..16].to_string()
    }

    /// The request sent for a case.
    ///
    /// ```
    /// use slm_eval::{Case, RunConfig, Track};
    /// let mut case = Case::new("Give me JSON", "{}");
    /// case.schema = Some(serde_json::json!({"type": "object"}));
    /// let mut config = RunConfig::new(Track::Structured);
    /// assert!(config.request(&case).response_format.is_text());
    /// config.constrained = true;
    /// assert!(matches!(config.request(&case).response_format, slm_core::ResponseFormat::JsonSchema { .. }));
    /// ```
    pub fn request(&self, case: &Case) -> ChatRequest {
        if self.track == Track::Bfcl {
            return crate::bfcl::request(case, &self.options);
        }
        let mut builder = ChatRequest::builder();
        if !self.system_prompt.is_empty() {
            builder = builder.system(self.system_prompt.clone());
        }
        builder = builder
            .user(case.prompt.clone())
            .options(self.options.clone());
        if self.constrained {
            builder = match self.track {
                Track::Structured => builder.response_format(match &case.schema {
                    Some(schema) => ResponseFormat::json_schema("answer", schema.clone()),
                    None => ResponseFormat::Json,
                }),
                Track::Toolcall if !case.tools.is_empty() => builder
                    .tools(case.tools.clone())
                    .tool_choice(ToolChoice::Required),
                Track::Toolcall | Track::Bfcl => builder,
            };
        }
        builder.build()
    }
}

/// What a run produced: every finished case in dataset order, and how many were resumed.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let data = slm_eval::Dataset::from_cases("d", vec![slm_eval::Case::new("p", "{}")]);
/// let model = slm_core::ScriptedModel::new("m").reply("{}");
/// let outcome = slm_eval::Runner::new(slm_eval::RunConfig::new(slm_eval::Track::Structured))
///     .run(&model, &data, None, |_| {}).await.unwrap();
/// assert_eq!((outcome.resumed, outcome.ran, outcome.results.len()), (0, 1, 1));
/// # });
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RunOutcome {
    /// Finished cases, by index.
    pub results: Vec<CaseResult>,
    /// Cases found already finished in the results file.
    pub resumed: usize,
    /// Cases run now (answered by the model or by the cache).
    pub ran: usize,
    /// Of the cases run now, those answered by the response cache (no model call).
    pub from_cache: usize,
    /// Why a run given a cache did not use it (the model cannot say what decides its answers,
    /// or identifying it failed).
    pub cache_skipped: Option<String>,
}

impl RunOutcome {
    /// Requests the model answered in this run: cases run now, less those from the cache.
    ///
    /// ```
    /// let o = slm_eval::RunOutcome { results: vec![], resumed: 0, ran: 5, from_cache: 3, cache_skipped: None };
    /// assert_eq!(o.model_calls(), 2);
    /// ```
    pub fn model_calls(&self) -> usize {
        self.ran - self.from_cache
    }
}

/// Where a run stands after a finished case, for progress displays.
///
/// ```
/// let p = slm_eval::runner::RunProgress { done: 3, total: 8, summary: "exact_match=0.67".into() };
/// assert!(p.done <= p.total);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunProgress {
    /// Finished cases, resumed ones included.
    pub done: usize,
    /// Cases in the dataset.
    pub total: usize,
    /// The track's headline metrics so far (`json_valid=1.00 exact_match=0.67`).
    pub summary: String,
}

/// Follows a run ([`Runner::run_observed`]): the library draws nothing, the caller (the `slm` command's progress bar, a
/// test, a log) decides what to show.
///
/// ```
/// use slm_eval::runner::{RunObserver, RunProgress};
/// struct Count(usize);
/// impl RunObserver for Count {
///     fn case_done(&mut self, _: &slm_eval::CaseResult, progress: &RunProgress) { self.0 = progress.done; }
/// }
/// let mut count = Count(0);
/// count.case_done(&slm_eval::CaseResult::example(), &RunProgress { done: 1, total: 1, summary: String::new() });
/// assert_eq!(count.0, 1);
/// ```
pub trait RunObserver {
    /// The run starts: `total` cases, `resumed` of them already done.
    fn started(&mut self, model: &str, total: usize, resumed: usize) {
        let _ = (model, total, resumed);
    }

    /// A case finished (any result, errors included).
    fn case_done(&mut self, result: &CaseResult, progress: &RunProgress);
}

impl<T: RunObserver + ?Sized> RunObserver for &mut T {
    fn started(&mut self, model: &str, total: usize, resumed: usize) {
        (**self).started(model, total, resumed)
    }

    fn case_done(&mut self, result: &CaseResult, progress: &RunProgress) {
        (**self).case_done(result, progress)
    }
}

/// Adapts a closure called after each finished case to a [`RunObserver`].
struct OnCase<F>(F);

impl<F: FnMut(&CaseResult)> RunObserver for OnCase<F> {
    fn case_done(&mut self, result: &CaseResult, _: &RunProgress) {
        (self.0)(result)
    }
}

/// Runs a dataset through a model.
///
/// ```
/// use slm_core::ScriptedModel;
/// use slm_eval::{Case, Dataset, RunConfig, Runner, Track};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let data = Dataset::from_cases("inline", vec![
///     Case::new("Colour as JSON", r#"{"colour": "red"}"#),
///     Case::new("Number as JSON", r#"{"n": 1}"#),
/// ]);
/// let model = ScriptedModel::new("slm").reply(r#"{"colour": "red"}"#).reply(r#"{"n": 2}"#);
/// let outcome = Runner::new(RunConfig::new(Track::Structured))
///     .run(&model, &data, None, |_| {})
///     .await
///     .unwrap();
/// let metrics = slm_eval::metrics::aggregate(outcome.results.iter().map(|r| &r.score));
/// assert_eq!(metrics["exact_match"], 0.5);
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct Runner {
    config: RunConfig,
}

impl Runner {
    /// A runner with a configuration.
    ///
    /// ```
    /// let r = slm_eval::Runner::new(slm_eval::RunConfig::new(slm_eval::Track::Toolcall));
    /// assert_eq!(r.config().track, slm_eval::Track::Toolcall);
    /// ```
    pub fn new(config: RunConfig) -> Self {
        Self { config }
    }

    /// The configuration.
    ///
    /// ```
    /// let r = slm_eval::Runner::new(slm_eval::RunConfig::new(slm_eval::Track::Structured));
    /// assert_eq!(r.config().concurrency, 1);
    /// ```
    pub fn config(&self) -> &RunConfig {
        &self.config
    }

    /// Runs every case not yet in the results file (all of them without one), calling
    /// `on_case` after each finished case, in finishing order. Returns all finished cases.
    ///
    /// ```
    /// use slm_eval::{Case, Dataset, RunConfig, Runner, Track};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let data = Dataset::from_cases("d", vec![Case::new("p", "{}"), Case::new("q", "{}")]);
    /// let dir = tempfile::tempdir().unwrap();
    /// let results = dir.path().join("r.jsonl");
    /// let model = slm_core::ScriptedModel::new("m").reply("{}").reply("{}");
    /// let mut seen = 0;
    /// let first = Runner::new(RunConfig::new(Track::Structured))
    ///     .run(&model, &data, Some(&results), |_| seen += 1).await.unwrap();
    /// assert_eq!((first.ran, seen), (2, 2));
    /// // A rerun finds everything done and asks the model nothing.
    /// let again = Runner::new(RunConfig::new(Track::Structured))
    ///     .run(&model, &data, Some(&results), |_| {}).await.unwrap();
    /// assert_eq!((again.resumed, again.ran), (2, 0));
    /// # });
    /// ```
    pub async fn run(
        &self,
        model: &dyn ChatModel,
        dataset: &Dataset,
        results: Option<&Path>,
        on_case: impl FnMut(&CaseResult),
    ) -> Result<RunOutcome> {
        self.run_observed(model, dataset, results, OnCase(on_case))
            .await
    }

    /// [`Runner::run`] with an observer told when the run starts (cases in all, resumed) and
    /// after each finished case (with the progress so far): what a progress bar needs.
    ///
    /// ```
    /// use slm_eval::runner::{RunObserver, RunProgress};
    /// use slm_eval::{Case, CaseResult, Dataset, RunConfig, Runner, Track};
    /// #[derive(Default)]
    /// struct Seen { total: usize, last: Option<RunProgress> }
    /// impl RunObserver for Seen {
    ///     fn started(&mut self, _: &str, total: usize, _: usize) { self.total = total; }
    ///     fn case_done(&mut self, _: &CaseResult, p: &RunProgress) { self.last = Some(p.clone()); }
    /// }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let data = Dataset::from_cases("d", vec![Case::new("p", "{}")]);
    /// let model = slm_core::ScriptedModel::new("m").reply("{}");
    /// let mut seen = Seen::default();
    /// Runner::new(RunConfig::new(Track::Structured))
    ///     .run_observed(&model, &data, None, &mut seen).await.unwrap();
    /// assert_eq!(seen.total, 1);
    /// assert_eq!(seen.last.unwrap().summary, "json_valid=1.00 exact_match=1.00");
    /// # });
    /// ```
    pub async fn run_observed(
        &self,
        model: &dyn ChatModel,
        dataset: &Dataset,
        results: Option<&Path>,
        mut observer: impl RunObserver,
    ) -> Result<RunOutcome> {
        let span = tracing::info_span!(
            "eval.run",
            dataset = %dataset.path.display(),
            dataset_sha256 = %dataset.sha256,
            model = model.id(),
            track = %self.config.track,
            results = %results.map(|p| p.display().to_string()).unwrap_or_default(),
            cases = dataset.cases.len(),
            resumed = tracing::field::Empty,
        );
        async move {
            let mut file = match results {
                Some(path) => Some(ResultsFile::open(path, dataset, model.id())?),
                None => None,
            };
            let mut done = file.as_ref().map(|f| f.done().clone()).unwrap_or_default();
            let config_id = self.config.fingerprint();
            if let (Some(path), Some(row)) = (results, done.values().find(|r| r.config_id != config_id)) {
                return Err(crate::EvalError::ResultsMismatch {
                    path: path.to_path_buf(),
                    message: format!(
                        "case {} was run with other options (track, sampling, constraints or system prompt)",
                        row.index
                    ),
                });
            }
            if self.config.retry_errors {
                done.retain(|_, row| row.error.is_none());
            }
            let resumed = done.len();
            tracing::Span::current().record("resumed", resumed);
            let pending: Vec<usize> = (0..dataset.cases.len())
                .filter(|i| !done.contains_key(i))
                .collect();
            observer.started(model.id(), dataset.cases.len(), resumed);
            let (identity, cache_skipped) = match &self.config.cache {
                Some(_) if !pending.is_empty() => cache_identity(model).await,
                _ => (None, None),
            };
            let concurrency = self.config.concurrency.max(1);
            let mut stream = futures::stream::iter(pending.iter().copied())
                .map(|index| self.run_case(model, identity.as_deref(), index, &dataset.cases[index]))
                .buffer_unordered(concurrency);
            let (mut ran, mut from_cache) = (0, 0);
            while let Some(row) = stream.next().await {
                from_cache += usize::from(row.cached);
                if let Some(file) = file.as_mut() {
                    file.append(&row)?;
                }
                let finished = row.clone();
                done.insert(row.index, row);
                ran += 1;
                observer.case_done(
                    &finished,
                    &RunProgress {
                        done: done.len(),
                        total: dataset.cases.len(),
                        summary: running_summary(self.config.track, done.values()),
                    },
                );
            }
            Ok(RunOutcome {
                results: done.into_values().collect(),
                resumed,
                ran,
                from_cache,
                cache_skipped,
            })
        }
        .instrument(span)
        .await
    }

    /// Asks the model one case (or takes its answer from the cache, when the model has an
    /// `identity`) and scores the answer. Never fails: a model error is recorded in the row
    /// and the case scores as failed; a cache that cannot be read or written is bypassed.
    async fn run_case(
        &self,
        model: &dyn ChatModel,
        identity: Option<&str>,
        index: usize,
        case: &Case,
    ) -> CaseResult {
        let span = tracing::info_span!(
            "eval.case",
            index,
            case_id = %case.fingerprint(),
            model = model.id(),
            ttft_ms = tracing::field::Empty,
            total_ms = tracing::field::Empty,
            passed = tracing::field::Empty,
            error = tracing::field::Empty,
            cached = tracing::field::Empty,
        );
        async move {
            let request = self.config.request(case);
            let cache = self
                .config
                .cache
                .as_ref()
                .zip(identity)
                .map(|(cache, identity)| {
                    (
                        cache,
                        identity,
                        crate::ResponseCache::key(identity, &request),
                    )
                });
            let started_at = now_rfc3339();
            let stored = cache.as_ref().and_then(|(cache, _, key)| {
                cache
                    .get(key)
                    .inspect_err(|e| tracing::warn!(error = %e, "response cache read failed"))
                    .ok()
                    .flatten()
            });
            let cached = stored.is_some();
            let (answer, ttft, total) = match stored {
                Some(hit) => (
                    Ok(hit.response),
                    Duration::from_secs_f64(hit.ttft_ms / 1000.0),
                    Duration::from_secs_f64(hit.total_ms / 1000.0),
                ),
                None => {
                    let start = Instant::now();
                    let (answer, ttft) = ask(model, request).await;
                    let total = start.elapsed();
                    (answer, ttft.unwrap_or(total), total)
                }
            };
            if let (false, Some((cache, identity, key)), Ok(response)) = (cached, &cache, &answer) {
                let stored = CachedAnswer {
                    response: response.clone(),
                    ttft_ms: ttft.as_secs_f64() * 1000.0,
                    total_ms: total.as_secs_f64() * 1000.0,
                };
                if let Err(e) = cache.put(key, identity, &stored) {
                    tracing::warn!(error = %e, "response cache write failed");
                }
            }
            let mut row = CaseResult {
                index,
                case_id: case.fingerprint(),
                model: model.id().to_string(),
                config_id: self.config.fingerprint(),
                prediction: String::new(),
                error: None,
                finish_reason: None,
                score: Default::default(),
                ttft_ms: ttft.as_secs_f64() * 1000.0,
                total_ms: total.as_secs_f64() * 1000.0,
                usage: Default::default(),
                cost: 0.0,
                model_timings: Default::default(),
                started_at,
                finished_at: now_rfc3339(),
                cached,
            };
            match answer {
                Ok(response) => {
                    row.prediction = prediction_text(&response);
                    row.finish_reason = Some(response.finish_reason);
                    row.usage = response.usage;
                    row.cost = case_cost(&self.config.costs, model.id(), &response);
                    row.model_timings = response.timings;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "model call failed");
                    row.error = Some(e.to_string());
                }
            }
            row.score = score_case(self.config.track, case, &row.prediction);
            let span = tracing::Span::current();
            span.record("ttft_ms", row.ttft_ms);
            span.record("total_ms", row.total_ms);
            span.record("passed", row.score.all_pass());
            span.record("cached", row.cached);
            if let Some(e) = &row.error {
                span.record("error", e.as_str());
            }
            row
        }
        .instrument(span)
        .await
    }
}

/// The cost of one answer. A single model's answer is priced by the model's id (servers often
/// report a dated model name in `response.model`), falling back to the reported name; a
/// composition's answer is the sum over its stages.
fn case_cost(costs: &CostModel, model_id: &str, response: &ChatResponse) -> f64 {
    if !response.stages.is_empty() {
        return costs.response_cost(response);
    }
    costs
        .price_of(model_id)
        .or_else(|| costs.price_of(&response.model))
        .map(|p| p.cost(response.usage, response.timings.total))
        .unwrap_or(0.0)
}

/// The model's identity for the cache, or why there is none.
async fn cache_identity(model: &dyn ChatModel) -> (Option<String>, Option<String>) {
    match model.identity().await {
        Ok(Some(identity)) => (Some(identity), None),
        Ok(None) => (
            None,
            Some(format!(
                "{} cannot say what decides its answers (ChatModel::identity)",
                model.id()
            )),
        ),
        Err(e) => (None, Some(format!("identifying {}: {e}", model.id()))),
    }
}

/// Streams the answer, noting when the first token arrived.
async fn ask(
    model: &dyn ChatModel,
    request: ChatRequest,
) -> (slm_core::Result<ChatResponse>, Option<std::time::Duration>) {
    let start = Instant::now();
    let mut first = None;
    let mut stream = model.chat_stream(request);
    while let Some(event) = stream.next().await {
        match event {
            Ok(ChatEvent::Done(response)) => return (Ok(*response), first),
            Ok(_) => {
                first.get_or_insert_with(|| start.elapsed());
            }
            Err(e) => return (Err(e), first),
        }
    }
    (
        Err(slm_core::Error::Backend(
            "stream ended without a final answer".into(),
            None,
        )),
        first,
    )
}

/// The text scored for a response: native tool calls rendered as `<tool_call>` wrappers (the
/// API keeps them apart from any chatter), otherwise the message text.
///
/// ```
/// use slm_core::{ChatResponse, Message, ToolCall};
/// let mut r = ChatResponse::from_text("m", "Sure.");
/// assert_eq!(slm_eval::runner::prediction_text(&r), "Sure.");
/// r.message = Message::assistant_tool_calls(vec![ToolCall::new("c", "f", serde_json::json!({"a": 1}))]);
/// assert_eq!(slm_eval::runner::prediction_text(&r), r#"<tool_call name="f">{"a":1}</tool_call>"#);
/// ```
pub fn prediction_text(response: &ChatResponse) -> String {
    if response.message.tool_calls.is_empty() {
        response.message.content.clone()
    } else {
        slm_core::wire::render_tool_calls(&response.message.tool_calls)
    }
}

fn running_summary<'a>(track: Track, rows: impl Iterator<Item = &'a CaseResult>) -> String {
    let scores: Vec<_> = rows.map(|r| &r.score).collect();
    let aggregate = metrics::aggregate(scores.iter().copied());
    let keys: &[&str] = match track {
        Track::Structured => &[metrics::names::JSON_VALID, metrics::names::EXACT_MATCH],
        Track::Toolcall => &[
            metrics::names::WRAPPER_VALID,
            metrics::names::ARGS_EXACT_MATCH,
        ],
        Track::Bfcl => &[crate::bfcl::BFCL_AST],
    };
    keys.iter()
        .filter_map(|k| aggregate.get(*k).map(|v| format!("{k}={v:.2}")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The current time in RFC 3339 with milliseconds, UTC.
///
/// ```
/// assert!(slm_eval::runner::now_rfc3339().ends_with('Z'));
/// ```
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

//! The worker thread: it owns the ONNX Runtime session and runs every request, one at a time
//! (requests queue on a channel). Each generation is a prefill over the whole prompt followed
//! by a decode loop that feeds one token and the previous step's `present.N.*` tensors back as
//! `past_key_values.N.*`.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender};
use std::time::{Duration, Instant};

use ort::session::{Session, SessionInputValue, builder::GraphOptimizationLevel};
use ort::value::{DynValue, Tensor};
use slm_chat::constraint::{Constraint, ConstraintCompiler};
use slm_core::{ChatEvent, ChatResponse, FinishReason, GenerationOptions, Message, Timings, Usage};
use tokio::sync::{mpsc, oneshot};

use crate::config::{GenaiConfig, invalid};
use crate::sampling::Sampler;
use crate::{LoadOptions, OnnxError};
use slm_chat::text::{StopMatcher, Utf8Decoder};

/// Events sent back to one caller.
pub(crate) type EventSender = mpsc::UnboundedSender<Result<ChatEvent, slm_core::Error>>;
/// The caller's end of [`EventSender`].
pub(crate) type EventReceiver = mpsc::UnboundedReceiver<Result<ChatEvent, slm_core::Error>>;

/// What the output must match.
#[derive(Debug, Clone)]
pub(crate) enum ConstraintSpec {
    /// Any JSON object.
    Json,
    /// JSON matching a schema.
    Schema(serde_json::Value),
}

/// What the worker is asked to do.
pub(crate) enum Command {
    Generate(Box<Job>),
    Tokenize {
        text: String,
        reply: oneshot::Sender<Result<Vec<u32>, OnnxError>>,
    },
    Logits {
        tokens: Vec<u32>,
        incremental: bool,
        reply: oneshot::Sender<Result<Vec<f32>, OnnxError>>,
    },
    GenerateIds {
        prompt: Vec<u32>,
        options: GenerationOptions,
        reply: oneshot::Sender<Result<(Vec<u32>, Timings), OnnxError>>,
    },
}

/// One chat request, rendered to a prompt.
pub(crate) struct Job {
    pub(crate) prompt: String,
    pub(crate) options: GenerationOptions,
    pub(crate) constraint: Option<ConstraintSpec>,
    pub(crate) started: Instant,
    pub(crate) prep: Duration,
    pub(crate) queued: Instant,
    pub(crate) model_id: String,
    pub(crate) events: EventSender,
}

/// What the worker reports once the model is loaded.
#[derive(Debug, Clone)]
pub(crate) struct Loaded {
    pub(crate) runtime: crate::runtime::RuntimeInfo,
}

struct Engine {
    session: Session,
    config: GenaiConfig,
    graph_path: PathBuf,
    has_position_ids: bool,
    tokenizer: tokenizers::Tokenizer,
    /// Each token's bytes (special tokens empty: they are never printed).
    token_bytes: Vec<Vec<u8>>,
    tok_env: toktrie::TokEnv,
    compiler: Option<ConstraintCompiler>,
    eos: Vec<u32>,
}

/// Starts the worker thread and waits until the model is loaded (or failed to load).
pub(crate) fn spawn(
    dir: PathBuf,
    options: LoadOptions,
) -> Result<(Sender<Command>, std::thread::JoinHandle<()>, Loaded), OnnxError> {
    let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::Builder::new()
        .name("slm-onnx".into())
        .stack_size(16 << 20)
        .spawn(move || run(dir, options, rx, ready_tx))
        .map_err(|e| OnnxError::Runtime(format!("cannot start the worker thread: {e}")))?;
    match ready_rx.recv() {
        Ok(Ok(loaded)) => Ok((tx, handle, loaded)),
        Ok(Err(e)) => {
            let _ = handle.join();
            Err(e)
        }
        Err(_) => {
            let _ = handle.join();
            Err(OnnxError::WorkerStopped)
        }
    }
}

fn run(
    dir: PathBuf,
    options: LoadOptions,
    commands: Receiver<Command>,
    ready: std::sync::mpsc::SyncSender<Result<Loaded, OnnxError>>,
) {
    let loaded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| load(&dir, &options)))
        .unwrap_or_else(|p| Err(OnnxError::Runtime(slm_chat::template::panic_message(&*p))));
    let (mut engine, loaded) = match loaded {
        Ok(v) => v,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    if ready.send(Ok(loaded)).is_err() {
        return;
    }
    while let Ok(command) = commands.recv() {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            handle(&mut engine, command)
        }));
        if let Err(p) = outcome {
            tracing::error!(panic = %slm_chat::template::panic_message(&*p), "a request panicked in the ONNX worker");
        }
    }
}

fn handle(engine: &mut Engine, command: Command) {
    match command {
        Command::Generate(job) => {
            let events = job.events.clone();
            if let Err(e) = engine.chat(*job) {
                let _ = events.send(Err(e.into()));
            }
        }
        Command::Tokenize { text, reply } => {
            let _ = reply.send(engine.tokenize(&text));
        }
        Command::Logits {
            tokens,
            incremental,
            reply,
        } => {
            let _ = reply.send(engine.last_logits(&tokens, incremental));
        }
        Command::GenerateIds {
            prompt,
            options,
            reply,
        } => {
            let _ = reply.send(engine.generate_ids(prompt, &options));
        }
    }
}

fn load(dir: &Path, options: &LoadOptions) -> Result<(Engine, Loaded), OnnxError> {
    let _span = tracing::info_span!("onnx_load", dir = %dir.display()).entered();
    if !dir.is_dir() {
        return Err(OnnxError::MissingConfig {
            dir: dir.to_path_buf(),
        });
    }
    let config = GenaiConfig::load(dir)?;
    let graph_path = dir.join(&config.model.decoder.filename);
    if !graph_path.is_file() {
        return Err(invalid(
            dir,
            format!("the graph {} is missing", config.model.decoder.filename),
        ));
    }
    let tokenizer_path = dir.join("tokenizer.json");
    let tokenizer = tokenizers::Tokenizer::from_file(&tokenizer_path)
        .map_err(|e| invalid(dir, format!("tokenizer.json: {e}")))?;
    let (runtime, env) = crate::runtime::ensure(options.runtime.as_deref())?;
    let threads = options
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let session = Session::builder(&env)
        .and_then(|b| {
            b.with_optimization_level(GraphOptimizationLevel::All)
                .map_err(Into::into)
        })
        .and_then(|b| b.with_intra_threads(threads).map_err(Into::into))
        .and_then(|b| b.with_inter_threads(1).map_err(Into::into))
        .map_err(|e: ort::Error| OnnxError::Runtime(e.to_string()))?
        .commit_from_file(&graph_path)
        .map_err(|e| OnnxError::GraphMismatch {
            path: graph_path.clone(),
            reason: format!("ONNX Runtime cannot load it: {e}"),
        })?;
    let has_position_ids = check_graph(&session, &config, &graph_path)?;

    let eos = config.model.eos_token_id.ids();
    let vocab = config.model.vocab_size as usize;
    let mut byte_tok = toktrie_hf_tokenizers::ByteTokenizer::from_tokenizer(tokenizer.clone())
        .map_err(|e| invalid(dir, format!("tokenizer.json: {e}")))?;
    byte_tok.set_eos_tokens(&eos);
    let mut token_bytes = byte_tok.token_bytes();
    for b in &mut token_bytes {
        if b.first() == Some(&toktrie::TokTrie::SPECIAL_TOKEN_MARKER) {
            b.clear();
        }
    }
    token_bytes.resize(vocab.max(token_bytes.len()), Vec::new());
    let tok_env = byte_tok.into_tok_env(Some(vocab)).map_err(|e| {
        invalid(
            dir,
            format!("tokenizer.json does not fit the vocabulary: {e}"),
        )
    })?;
    tracing::info!(
        layers = config.model.decoder.num_hidden_layers,
        vocab,
        context = config.model.context_length,
        threads,
        "ONNX model loaded"
    );
    Ok((
        Engine {
            session,
            config,
            graph_path,
            has_position_ids,
            tokenizer,
            token_bytes,
            tok_env,
            compiler: None,
            eos,
        },
        Loaded { runtime },
    ))
}

/// Checks that the graph has the inputs and outputs the configuration names; returns whether
/// it takes `position_ids`.
fn check_graph(session: &Session, config: &GenaiConfig, path: &Path) -> Result<bool, OnnxError> {
    let d = &config.model.decoder;
    let inputs: Vec<&str> = session.inputs().iter().map(|i| i.name()).collect();
    let outputs: Vec<&str> = session.outputs().iter().map(|o| o.name()).collect();
    let mut want_in = vec![d.inputs.input_ids.clone(), d.inputs.attention_mask.clone()];
    let mut want_out = vec![d.outputs.logits.clone()];
    for l in 0..d.num_hidden_layers as usize {
        want_in.push(d.inputs.past_key_name(l));
        want_in.push(d.inputs.past_value_name(l));
        want_out.push(d.outputs.present_key_name(l));
        want_out.push(d.outputs.present_value_name(l));
    }
    let mismatch = |reason: String| OnnxError::GraphMismatch {
        path: path.to_path_buf(),
        reason,
    };
    if let Some(missing) = want_in.iter().find(|n| !inputs.contains(&n.as_str())) {
        return Err(mismatch(format!(
            "no input `{missing}` (the graph's inputs: {})",
            inputs.join(", ")
        )));
    }
    if let Some(missing) = want_out.iter().find(|n| !outputs.contains(&n.as_str())) {
        return Err(mismatch(format!(
            "no output `{missing}` (the graph's outputs: {})",
            outputs.join(", ")
        )));
    }
    let has_position_ids = inputs.contains(&d.inputs.position_ids.as_str());
    let known = want_in.len() + usize::from(has_position_ids);
    if inputs.len() != known {
        let extra: Vec<&str> = inputs
            .iter()
            .copied()
            .filter(|n| !want_in.iter().any(|w| w == n) && *n != d.inputs.position_ids)
            .collect();
        return Err(mismatch(format!(
            "inputs this backend cannot feed: {}",
            extra.join(", ")
        )));
    }
    Ok(has_position_ids)
}

/// The keys and values of the tokens so far (one tensor per layer and kind), and how many.
struct KvCache {
    past: Vec<DynValue>,
    len: usize,
}

impl Engine {
    fn tokenize(&self, text: &str) -> Result<Vec<u32>, OnnxError> {
        self.tokenizer
            .encode(text, false)
            .map(|e| e.get_ids().to_vec())
            .map_err(|e| OnnxError::Tokenizer(e.to_string()))
    }

    fn empty_cache(&self) -> Result<KvCache, OnnxError> {
        let d = &self.config.model.decoder;
        let shape = [
            1usize,
            d.num_key_value_heads as usize,
            0,
            d.head_size as usize,
        ];
        let mut past = Vec::with_capacity(2 * d.num_hidden_layers as usize);
        for _ in 0..2 * d.num_hidden_layers {
            past.push(Tensor::<f32>::from_array((shape, Vec::<f32>::new()))?.into_dyn());
        }
        Ok(KvCache { past, len: 0 })
    }

    /// Runs `tokens` after the cache; returns the logits of the last position (or of every
    /// position with `all`) and updates the cache.
    fn step(
        &mut self,
        tokens: &[u32],
        cache: &mut KvCache,
        all: bool,
    ) -> Result<Vec<f32>, OnnxError> {
        let d = &self.config.model.decoder;
        let n = tokens.len();
        let total = cache.len + n;
        let ids: Vec<i64> = tokens.iter().map(|&t| i64::from(t)).collect();
        let mut inputs: Vec<(Cow<'_, str>, SessionInputValue<'_>)> =
            Vec::with_capacity(3 + cache.past.len());
        inputs.push((
            Cow::Owned(d.inputs.input_ids.clone()),
            Tensor::from_array(([1usize, n], ids))?.into_dyn().into(),
        ));
        inputs.push((
            Cow::Owned(d.inputs.attention_mask.clone()),
            Tensor::from_array(([1usize, total], vec![1i64; total]))?
                .into_dyn()
                .into(),
        ));
        if self.has_position_ids {
            let pos: Vec<i64> = (cache.len as i64..total as i64).collect();
            inputs.push((
                Cow::Owned(d.inputs.position_ids.clone()),
                Tensor::from_array(([1usize, n], pos))?.into_dyn().into(),
            ));
        }
        let layers = d.num_hidden_layers as usize;
        let past = std::mem::take(&mut cache.past);
        for (i, value) in past.into_iter().enumerate() {
            let name = if i % 2 == 0 {
                d.inputs.past_key_name(i / 2)
            } else {
                d.inputs.past_value_name(i / 2)
            };
            inputs.push((Cow::Owned(name), value.into()));
        }
        let logits_name = d.outputs.logits.clone();
        let present_names: Vec<String> = (0..layers)
            .flat_map(|l| {
                [
                    d.outputs.present_key_name(l),
                    d.outputs.present_value_name(l),
                ]
            })
            .collect();
        let vocab = self.config.model.vocab_size as usize;
        let graph_path = self.graph_path.clone();
        let mut outputs = self.session.run(inputs)?;
        let logits = {
            let (shape, data) = outputs[logits_name.as_str()].try_extract_tensor::<f32>()?;
            if data.len() != n * vocab {
                return Err(OnnxError::GraphMismatch {
                    path: graph_path,
                    reason: format!("logits of shape {shape:?}, expected [1, {n}, {vocab}]"),
                });
            }
            if all {
                data.to_vec()
            } else {
                data[(n - 1) * vocab..].to_vec()
            }
        };
        let mut present = Vec::with_capacity(2 * layers);
        for name in &present_names {
            present.push(
                outputs
                    .remove(name.as_str())
                    .ok_or_else(|| OnnxError::Runtime(format!("the run returned no `{name}`")))?,
            );
        }
        cache.past = present;
        cache.len = total;
        Ok(logits)
    }

    fn last_logits(&mut self, tokens: &[u32], incremental: bool) -> Result<Vec<f32>, OnnxError> {
        if tokens.is_empty() {
            return Err(OnnxError::Tokenizer("no tokens".into()));
        }
        self.check_context(tokens.len())?;
        let mut cache = self.empty_cache()?;
        if !incremental {
            return self.step(tokens, &mut cache, false);
        }
        let mut logits = self.step(&tokens[..1], &mut cache, false)?;
        for &t in &tokens[1..] {
            logits = self.step(&[t], &mut cache, false)?;
        }
        Ok(logits)
    }

    fn check_context(&self, prompt: usize) -> Result<(), OnnxError> {
        let limit = self.config.model.context_length as usize;
        if prompt + 1 > limit {
            return Err(OnnxError::PromptTooLong {
                needed: prompt + 1,
                limit,
            });
        }
        Ok(())
    }

    fn constraint(&mut self, spec: &ConstraintSpec) -> Result<Constraint, OnnxError> {
        if self.compiler.is_none() {
            self.compiler = Some(ConstraintCompiler::new(self.tok_env.clone())?);
        }
        let compiler = self.compiler.as_ref().ok_or(OnnxError::WorkerStopped)?;
        Ok(match spec {
            ConstraintSpec::Json => compiler.any_json()?,
            ConstraintSpec::Schema(schema) => compiler.json_schema(schema)?,
        })
    }

    /// The generation loop shared by chat and raw token generation. `on_token` receives each
    /// sampled token (not the end token) and returns false to stop (cancelled).
    fn generate(
        &mut self,
        prompt: &[u32],
        options: &GenerationOptions,
        mut constraint: Option<Constraint>,
        mut on_token: impl FnMut(u32) -> Result<Flow, OnnxError>,
    ) -> Result<Generated, OnnxError> {
        self.check_context(prompt.len())?;
        let limit = self.config.model.context_length as usize;
        let max_tokens = options
            .max_tokens
            .map_or(usize::MAX, |m| m as usize)
            .min(limit - prompt.len());
        let mut sampler = Sampler::new(options);
        let mut cache = self.empty_cache()?;
        let t0 = Instant::now();
        let mut logits = {
            let _span = tracing::debug_span!("onnx_prefill", tokens = prompt.len()).entered();
            self.step(prompt, &mut cache, false)?
        };
        let prompt_eval = t0.elapsed();
        let mut history = prompt.to_vec();
        let mut out = Vec::new();
        let mut first_token = None;
        let decode_start = Instant::now();
        let finish = loop {
            if let Some(c) = constraint.as_mut() {
                let mask = c.mask()?;
                for (i, l) in logits.iter_mut().enumerate() {
                    if !mask.is_allowed(i as u32) {
                        *l = f32::NEG_INFINITY;
                    }
                }
            }
            let Some(token) = sampler.sample(&mut logits, &history) else {
                break FinishReason::Stop;
            };
            first_token.get_or_insert_with(|| t0.elapsed());
            if self.eos.contains(&token) {
                break FinishReason::Stop;
            }
            if let Some(c) = constraint.as_mut() {
                c.accept(token)?;
            }
            out.push(token);
            history.push(token);
            match on_token(token)? {
                Flow::Continue => {}
                Flow::Stop => break FinishReason::Stop,
            }
            if constraint.as_ref().is_some_and(Constraint::is_complete) {
                break FinishReason::Stop;
            }
            if out.len() >= max_tokens {
                break FinishReason::Length;
            }
            let _span = tracing::trace_span!("onnx_decode_step").entered();
            logits = self.step(&[token], &mut cache, false)?;
        };
        let decode = decode_start.elapsed();
        Ok(Generated {
            tokens: out,
            finish,
            timings: Timings {
                prompt_eval,
                time_to_first_token: first_token.unwrap_or(prompt_eval),
                prompt_tokens_per_second: Timings::rate(prompt.len() as u32, prompt_eval),
                decode_tokens_per_second: None,
                ..Timings::default()
            },
            decode,
        })
    }

    fn generate_ids(
        &mut self,
        prompt: Vec<u32>,
        options: &GenerationOptions,
    ) -> Result<(Vec<u32>, Timings), OnnxError> {
        let g = self.generate(&prompt, options, None, |_| Ok(Flow::Continue))?;
        let mut timings = g.timings;
        // Tokens decoded after the first (the first comes from the prefill's logits).
        timings.decode_tokens_per_second =
            Timings::rate(g.tokens.len().saturating_sub(1) as u32, g.decode);
        timings.total = g.timings.prompt_eval + g.decode;
        Ok((g.tokens, timings))
    }

    fn chat(&mut self, job: Job) -> Result<(), OnnxError> {
        let _span = tracing::info_span!("onnx_chat", model = %job.model_id).entered();
        let queue = job.queued.elapsed();
        let prompt = self.tokenize(&job.prompt)?;
        if prompt.is_empty() {
            return Err(OnnxError::Tokenizer("the prompt has no tokens".into()));
        }
        let constraint = match &job.constraint {
            Some(spec) => Some(self.constraint(spec)?),
            None => None,
        };
        let mut utf8 = Utf8Decoder::default();
        let mut stops = StopMatcher::new(&job.options.stop);
        let mut text = String::new();
        let mut stopped_by_string = false;
        let events = job.events.clone();
        let token_bytes = std::mem::take(&mut self.token_bytes);
        let result = self.generate(&prompt, &job.options, constraint, |token| {
            if events.is_closed() {
                return Err(OnnxError::Cancelled);
            }
            let piece = utf8.push(
                token_bytes
                    .get(token as usize)
                    .map_or(&[][..], Vec::as_slice),
            );
            let outcome = stops.push(&piece);
            let (delta, hit) = (outcome.emit, outcome.stopped);
            if !delta.is_empty() {
                text.push_str(&delta);
                let _ = events.send(Ok(ChatEvent::TextDelta(delta)));
            }
            if hit {
                stopped_by_string = true;
                return Ok(Flow::Stop);
            }
            Ok(Flow::Continue)
        });
        self.token_bytes = token_bytes;
        let generated = match result {
            Err(OnnxError::Cancelled) => {
                tracing::debug!("the caller went away: generation cancelled");
                return Ok(());
            }
            other => other?,
        };
        if !stopped_by_string {
            let outcome = stops.push(&utf8.finish());
            let mut rest = outcome.emit;
            if !outcome.stopped {
                rest.push_str(&stops.finish());
            }
            if !rest.is_empty() {
                text.push_str(&rest);
                let _ = job.events.send(Ok(ChatEvent::TextDelta(rest)));
            }
        }
        let completion = generated.tokens.len() as u32;
        let timings = Timings {
            prep: job.prep,
            queue,
            time_to_first_token: job.prep + queue + generated.timings.time_to_first_token,
            total: job.started.elapsed(),
            decode_tokens_per_second: Timings::rate(completion.saturating_sub(1), generated.decode),
            ..generated.timings
        };
        let response = ChatResponse {
            message: Message::assistant(text),
            finish_reason: generated.finish,
            usage: Usage::new(prompt.len() as u32, completion),
            timings,
            model: job.model_id,
            ..ChatResponse::default()
        };
        let _ = job.events.send(Ok(ChatEvent::Done(Box::new(response))));
        Ok(())
    }
}

/// Whether generation goes on after a token.
pub(crate) enum Flow {
    Continue,
    Stop,
}

struct Generated {
    tokens: Vec<u32>,
    finish: FinishReason,
    timings: Timings,
    decode: Duration,
}

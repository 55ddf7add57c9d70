//! The worker thread: it owns the llama.cpp model and context (they are not `Send`) and runs
//! every request. Requests arrive over a channel, so concurrent callers queue.
//!
//! The loop is a continuous-batching scheduler: each step builds one `llama_decode` batch from
//! every active sequence (one token each while generating, chunks of the prompt while reading
//! it), decodes, then samples each sequence's next token with its own sampler. With
//! `max_sequences = 1` this is exactly llama.cpp's plain generation loop.

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::time::{Duration, Instant};

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaLoraAdapter, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use slm_core::{ChatEvent, ChatResponse, FinishReason, GenerationOptions, Message, Timings, Usage};
use tokio::sync::{mpsc, oneshot};

use crate::constrain::{Compiler, Constraint, ConstraintCheck, ConstraintSpec, SchemaBackend};
use crate::text::{StopMatcher, Utf8Decoder};
use crate::tools::{CallWatcher, parse_calls};
use crate::{LlamaCppError, LoadOptions, sampling};

/// Events sent back to one caller.
pub(crate) type EventSender = mpsc::UnboundedSender<Result<ChatEvent, slm_core::Error>>;
/// The caller's end of [`EventSender`].
pub(crate) type EventReceiver = mpsc::UnboundedReceiver<Result<ChatEvent, slm_core::Error>>;

/// What the worker is asked to do.
pub(crate) enum Command {
    /// Generate an answer.
    Generate(Box<Job>),
    /// Generate several answers, admitted together so shared prompt prefixes are decoded once.
    GenerateBatch(Vec<Job>),
    /// Report the worker's counters.
    Stats(oneshot::Sender<WorkerStats>),
    /// Count the tokens of a text (as a prompt: special tokens parsed).
    CountTokens {
        text: String,
        reply: oneshot::Sender<usize>,
    },
    /// Tokenize a text as llama.cpp's `llama_tokenize` does.
    Tokenize {
        text: String,
        add_special: bool,
        parse_special: bool,
        reply: oneshot::Sender<Vec<u32>>,
    },
    /// Turn token ids back into text (ids checked against the vocabulary first).
    Detokenize {
        tokens: Vec<u32>,
        special: bool,
        reply: oneshot::Sender<Result<String, LlamaCppError>>,
    },
    /// Whether a constraint allows a text as a whole answer.
    CheckConstraint {
        spec: ConstraintSpec,
        text: String,
        reply: oneshot::Sender<Result<ConstraintCheck, LlamaCppError>>,
    },
}

/// One generation request, already rendered to a prompt.
pub(crate) struct Job {
    pub(crate) prompt: String,
    pub(crate) options: GenerationOptions,
    /// What the output must match, if anything.
    pub(crate) constraint: Option<ConstraintSpec>,
    /// Look for tool calls in the output: `Some(true)` when a call is forced.
    pub(crate) tool_calls: Option<bool>,
    /// What the answer's tool calls are checked against.
    pub(crate) call_rules: crate::tools::CallRules,
    /// The LoRA adapter (index, scale) to run with.
    pub(crate) lora: Option<(usize, f32)>,
    /// When the caller called `chat`.
    pub(crate) started: Instant,
    /// Time spent preparing before the job was queued (template rendering).
    pub(crate) prep: Duration,
    pub(crate) queued: Instant,
    pub(crate) events: EventSender,
}

/// Counters of a model's worker since it was loaded.
///
/// ```
/// let s = slm_llamacpp::WorkerStats::default();
/// assert_eq!(s.prompt_tokens_copied, 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WorkerStats {
    /// Requests started.
    pub requests: u64,
    /// `llama_decode` calls.
    pub decode_calls: u64,
    /// Prompt tokens decoded.
    pub prompt_tokens_decoded: u64,
    /// Prompt tokens whose keys and values were copied from another sequence with the same
    /// prefix instead of being decoded.
    pub prompt_tokens_copied: u64,
    /// Tokens sampled.
    pub tokens_generated: u64,
}

/// What the worker reports once the model is loaded.
#[derive(Debug, Clone)]
pub(crate) struct Loaded {
    pub(crate) context_length: u32,
    pub(crate) n_vocab: i32,
}

/// Stack of the worker thread: 16 MiB, twice a Linux main thread's 8 MiB.
const WORKER_STACK_BYTES: usize = 16 << 20;

/// Starts the worker thread and waits until the model is loaded (or failed to load).
pub(crate) fn spawn(
    path: PathBuf,
    options: LoadOptions,
    model_id: String,
) -> Result<(Sender<Command>, std::thread::JoinHandle<()>, Loaded), LlamaCppError> {
    let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::Builder::new()
        .name("slm-llamacpp".into())
        // llama.cpp's grammar code and the schema compilers recurse on nested input; give
        // them the room a main thread has (Rust's default for threads is 2 MiB).
        .stack_size(WORKER_STACK_BYTES)
        .spawn(move || run(path, options, model_id, rx, ready_tx))
        .map_err(|e| LlamaCppError::ModelLoad(format!("cannot start worker thread: {e}")))?;
    match ready_rx.recv() {
        Ok(Ok(loaded)) => Ok((tx, handle, loaded)),
        Ok(Err(e)) => {
            let _ = handle.join();
            Err(e)
        }
        Err(_) => {
            let _ = handle.join();
            Err(LlamaCppError::WorkerStopped)
        }
    }
}

fn run(
    path: PathBuf,
    options: LoadOptions,
    model_id: String,
    commands: Receiver<Command>,
    ready: std::sync::mpsc::SyncSender<Result<Loaded, LlamaCppError>>,
) {
    let loaded = load(&path, &options);
    let (mut model, mut params) = match loaded {
        Ok(v) => v,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let mut adapters = Vec::new();
    for path in &options.lora_adapters {
        match model.lora_adapter_init(path) {
            Ok(adapter) => adapters.push(adapter),
            Err(e) => {
                let _ = ready.send(Err(LlamaCppError::Lora(format!(
                    "llama.cpp could not load {}: {e}",
                    path.display()
                ))));
                return;
            }
        }
    }
    let model = model;
    let n_seq = options.max_sequences;
    let per_seq = context_length(&model, &options);
    params = params.with_n_ctx(NonZeroU32::new(per_seq * n_seq));
    let backend = match crate::backend() {
        Ok(b) => b,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let ctx = match model.new_context(backend, params) {
        Ok(ctx) => ctx,
        Err(e) => {
            let _ = ready.send(Err(LlamaCppError::ModelLoad(format!(
                "cannot create a context of {} tokens: {e}",
                per_seq * n_seq
            ))));
            return;
        }
    };
    let loaded = Loaded {
        context_length: per_seq,
        n_vocab: model.n_vocab(),
    };
    if ready.send(Ok(loaded)).is_err() {
        return;
    }
    let batch_size = options.batch_size.max(n_seq) as usize;
    let mut worker = Worker {
        model: &model,
        ctx,
        batch: LlamaBatch::new(batch_size, 1),
        batch_size,
        model_id,
        context_length: per_seq,
        free_seq_ids: (0..n_seq as i32).rev().collect(),
        active: Vec::new(),
        compiler: Compiler::default(),
        schema_backend: options.schema_backend,
        adapters,
        stats: WorkerStats::default(),
        current_lora: None,
        deferred: VecDeque::new(),
    };
    worker.serve(&commands);
}

fn context_length(model: &LlamaModel, options: &LoadOptions) -> u32 {
    options
        .context_length
        .unwrap_or_else(|| model.n_ctx_train().clamp(1, 4096))
}

fn load(
    path: &std::path::Path,
    options: &LoadOptions,
) -> Result<(LlamaModel, LlamaContextParams), LlamaCppError> {
    let backend = crate::backend()?;
    let model_params = LlamaModelParams::default()
        .with_n_gpu_layers(options.gpu_layers)
        .with_use_mmap(options.use_mmap);
    let model = LlamaModel::load_from_file(backend, path, &model_params)
        .map_err(|e| LlamaCppError::ModelLoad(format!("{}: {e}", path.display())))?;
    let threads = options.effective_threads() as i32;
    let threads_batch = options.threads_batch.map_or(threads, |t| t as i32);
    let mut params = LlamaContextParams::default()
        .with_n_batch(options.batch_size.max(options.max_sequences))
        .with_n_ubatch(options.ubatch_size.unwrap_or(options.batch_size))
        .with_n_threads(threads)
        .with_n_threads_batch(threads_batch)
        .with_n_seq_max(options.max_sequences)
        .with_kv_unified(false);
    if let Some(fa) = options.flash_attention {
        params = params.with_flash_attention_policy(if fa {
            llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_ENABLED
        } else {
            llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_DISABLED
        });
    }
    Ok((model, params))
}

/// Shorter shared prefixes are not worth a cache copy.
const MIN_SHARED_PREFIX: usize = 16;

/// Why a sequence ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Eog,
    StopString,
    Length,
}

/// One request being answered.
struct Sequence {
    seq_id: i32,
    job: Job,
    prompt: Vec<LlamaToken>,
    /// Prompt tokens already sent to `llama_decode`.
    n_prompt_sent: usize,
    /// Prompt tokens whose decode finished (their keys and values are in the cache).
    n_prompt_decoded: usize,
    /// Waiting for another sequence to decode a shared prefix: (its id, prefix length).
    prefix_from: Option<(i32, usize)>,
    /// Position of the next token in this sequence.
    pos: i32,
    /// The sampled token that must be decoded next.
    next_token: Option<LlamaToken>,
    sampler: LlamaSampler,
    utf8: Utf8Decoder,
    stop: StopMatcher,
    text: String,
    n_sampled: u32,
    max_tokens: u32,
    admitted: Instant,
    prep: Duration,
    prompt_eval: Duration,
    first_token_at: Option<Instant>,
    last_token_at: Option<Instant>,
    /// Index in the current batch whose logits belong to this sequence.
    logits_index: Option<i32>,
    /// The grammar or schema the output must follow.
    constraint: Option<Constraint>,
    /// Holds back tool calls from the text stream.
    calls: Option<CallWatcher>,
}

struct Worker<'m> {
    model: &'m LlamaModel,
    ctx: LlamaContext<'m>,
    batch: LlamaBatch<'static>,
    batch_size: usize,
    model_id: String,
    context_length: u32,
    free_seq_ids: Vec<i32>,
    active: Vec<Sequence>,
    compiler: Compiler,
    schema_backend: SchemaBackend,
    adapters: Vec<LlamaLoraAdapter>,
    stats: WorkerStats,
    /// The adapter set on the context now. LoRA applies to a whole context, so sequences run
    /// together only when they want the same adapter.
    current_lora: Option<(usize, f32)>,
    /// Jobs waiting for the running ones to finish because they want another adapter.
    deferred: VecDeque<Job>,
}

impl Worker<'_> {
    fn serve(&mut self, commands: &Receiver<Command>) {
        loop {
            self.admit_deferred();
            // Admit new work: block when idle, otherwise only take what is already waiting.
            while !self.free_seq_ids.is_empty() {
                let command = if self.active.is_empty() && self.deferred.is_empty() {
                    match commands.recv() {
                        Ok(c) => c,
                        Err(_) => return,
                    }
                } else {
                    match commands.try_recv() {
                        Ok(c) => c,
                        Err(TryRecvError::Empty) => break,
                        Err(TryRecvError::Disconnected) => return,
                    }
                };
                self.handle(command);
            }
            self.drop_abandoned();
            if !self.active.is_empty() {
                self.step();
            }
        }
    }

    fn handle(&mut self, command: Command) {
        match command {
            Command::Generate(job) => self.admit(*job),
            Command::GenerateBatch(jobs) => {
                for job in jobs {
                    self.admit(job);
                }
            }
            Command::Stats(reply) => {
                let _ = reply.send(self.stats);
            }
            Command::CountTokens { text, reply } => {
                let _ = reply.send(self.tokenize(&text).len());
            }
            Command::Tokenize {
                text,
                add_special,
                parse_special,
                reply,
            } => {
                let tokens =
                    self.model
                        .vocab()
                        .tokenize(text.as_bytes(), add_special, parse_special);
                let _ = reply.send(tokens.into_iter().map(|t| t.0 as u32).collect());
            }
            Command::Detokenize {
                tokens,
                special,
                reply,
            } => {
                let _ = reply.send(self.detokenize(&tokens, special));
            }
            Command::CheckConstraint { spec, text, reply } => {
                let _ = reply.send(self.check_constraint(&spec, &text));
            }
        }
    }

    /// The text of `tokens`, each id checked against the vocabulary before llama.cpp sees it;
    /// bytes that are not valid UTF-8 become U+FFFD.
    fn detokenize(&self, tokens: &[u32], special: bool) -> Result<String, LlamaCppError> {
        let n_vocab = self.model.n_vocab().max(0) as u32;
        if let Some(bad) = tokens.iter().find(|&&t| t >= n_vocab) {
            return Err(LlamaCppError::InvalidRequest(format!(
                "token id {bad} is outside the vocabulary (0..{n_vocab})"
            )));
        }
        let vocab = self.model.vocab();
        let bytes: Vec<u8> = tokens
            .iter()
            .flat_map(|&t| vocab.token_to_piece(LlamaToken(t as i32), special, None))
            .collect();
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Compiles `spec` and feeds it `text` as the model would write it: tokenized without a
    /// BOS and with special tokens as plain text.
    fn check_constraint(
        &mut self,
        spec: &ConstraintSpec,
        text: &str,
    ) -> Result<ConstraintCheck, LlamaCppError> {
        let mut constraint = self
            .compiler
            .compile(self.model, spec, self.schema_backend)?;
        let vocab = self.model.vocab();
        let tokens = vocab.tokenize(text.as_bytes(), false, false);
        let pieces: Vec<Vec<u8>> = tokens
            .iter()
            .map(|&t| vocab.token_to_piece(t, false, None))
            .collect();
        if pieces.concat() != text.as_bytes() {
            return Err(LlamaCppError::InvalidRequest(
                "the model's tokenizer does not give this text back token by token (it adds a leading space, say)".into(),
            ));
        }
        Ok(constraint.check(&tokens, &pieces, vocab.eos()))
    }

    fn tokenize(&self, text: &str) -> Vec<LlamaToken> {
        let vocab = self.model.vocab();
        let bos = vocab.token_to_piece(vocab.bos(), true, None);
        let add_bos = vocab.should_add_bos() && !text.as_bytes().starts_with(&bos);
        vocab.tokenize(text.as_bytes(), add_bos, true)
    }

    /// The prompt's tokens, if it fits the context.
    fn prompt_tokens(&self, prompt: &str) -> Result<Vec<LlamaToken>, LlamaCppError> {
        let tokens = self.tokenize(prompt);
        if tokens.is_empty() {
            return Err(LlamaCppError::InvalidRequest("the prompt is empty".into()));
        }
        let limit = self.context_length as usize;
        if tokens.len() >= limit {
            // One more token of room is needed for the answer.
            let needed = tokens.len() + 1;
            return Err(LlamaCppError::ContextOverflow { needed, limit });
        }
        Ok(tokens)
    }

    /// Deferred jobs start, in order, once they can share the context's adapter.
    fn admit_deferred(&mut self) {
        while !self.free_seq_ids.is_empty()
            && let Some(front) = self.deferred.front()
            && (self.active.is_empty() || front.lora == self.current_lora)
        {
            let job = self.deferred.pop_front().expect("front exists");
            self.start(job);
        }
    }

    /// Starts a job, or defers it while sequences with another adapter run.
    fn admit(&mut self, job: Job) {
        let other_adapter = job.lora != self.current_lora && !self.active.is_empty();
        if !self.deferred.is_empty() || self.free_seq_ids.is_empty() || other_adapter {
            self.deferred.push_back(job);
            return;
        }
        self.start(job);
    }

    /// Sets the context's LoRA adapter.
    fn use_lora(&mut self, lora: Option<(usize, f32)>) -> Result<(), LlamaCppError> {
        if lora == self.current_lora {
            return Ok(());
        }
        match lora {
            None => {
                if let Some(any) = self.adapters.first_mut() {
                    self.ctx
                        .lora_adapter_remove(any)
                        .map_err(|e| LlamaCppError::Lora(e.to_string()))?;
                }
            }
            Some((index, scale)) => {
                let adapter = self.adapters.get_mut(index).ok_or_else(|| {
                    LlamaCppError::InvalidRequest(format!("no LoRA adapter {index}"))
                })?;
                self.ctx
                    .lora_adapter_set(adapter, scale)
                    .map_err(|e| LlamaCppError::Lora(e.to_string()))?;
            }
        }
        self.current_lora = lora;
        Ok(())
    }

    /// Starts answering a job, or answers it with an error.
    fn start(&mut self, job: Job) {
        self.stats.requests += 1;
        if let Err(e) = self.use_lora(job.lora) {
            let _ = job.events.send(Err(e.into()));
            return;
        }
        let admitted = Instant::now();
        let prompt = match self.prompt_tokens(&job.prompt) {
            Ok(tokens) => tokens,
            Err(e) => {
                let _ = job.events.send(Err(e.into()));
                return;
            }
        };
        let constraint = match &job.constraint {
            None => None,
            Some(spec) => match self.compiler.compile(self.model, spec, self.schema_backend) {
                Ok(c) => Some(c),
                Err(e) => {
                    let _ = job.events.send(Err(e.into()));
                    return;
                }
            },
        };
        let Some(seq_id) = self.free_seq_ids.pop() else {
            let _ = job.events.send(Err(
                LlamaCppError::Decode("no free sequence slot".into()).into()
            ));
            return;
        };
        let _ = self.ctx.clear_kv_cache_seq(Some(seq_id as u32), None, None);
        let sampler = sampling::sampler_chain(&job.options, self.model, self.context_length);
        let stop = StopMatcher::new(&job.options.stop);
        let max_tokens = job.options.max_tokens.unwrap_or(u32::MAX);
        let prep = job.prep + admitted.elapsed();
        self.active.push(Sequence {
            seq_id,
            n_prompt_sent: 0,
            n_prompt_decoded: 0,
            prefix_from: self.shared_prefix_source(&prompt),
            prompt,
            pos: 0,
            next_token: None,
            sampler,
            utf8: Utf8Decoder::default(),
            stop,
            text: String::new(),
            n_sampled: 0,
            max_tokens,
            admitted,
            prep,
            prompt_eval: Duration::ZERO,
            first_token_at: None,
            last_token_at: None,
            logits_index: None,
            constraint,
            calls: job.tool_calls.map(CallWatcher::new),
            job,
        });
    }

    /// One `llama_decode` over every active sequence, then one sampled token per sequence whose
    /// logits came out.
    fn step(&mut self) {
        self.batch.clear();
        let mut budget = self.batch_size;
        let mut reading_prompt = Vec::new();
        // Generating sequences first: one token each keeps their latency low.
        for seq in self.active.iter_mut() {
            seq.logits_index = None;
            if let Some(token) = seq.next_token.take() {
                let index = self.batch.n_tokens();
                if self.batch.add(token, seq.pos, &[seq.seq_id], true).is_err() {
                    seq.next_token = Some(token);
                    continue;
                }
                seq.logits_index = Some(index);
                seq.pos += 1;
                budget -= 1;
            }
        }
        // A sequence whose prefix others wait for decodes exactly up to that prefix first, so
        // the copies get the same cache layout as decoding the prompt alone would.
        let waits: Vec<(i32, usize)> = self.active.iter().filter_map(|s| s.prefix_from).collect();
        for (i, seq) in self.active.iter_mut().enumerate() {
            let left = seq.prompt.len() - seq.n_prompt_sent;
            if left == 0 || budget == 0 || seq.logits_index.is_some() || seq.prefix_from.is_some() {
                continue;
            }
            let barrier = waits
                .iter()
                .filter(|&&(source, n)| source == seq.seq_id && n > seq.n_prompt_sent)
                .map(|&(_, n)| n - seq.n_prompt_sent)
                .min();
            let take = left.min(budget).min(barrier.unwrap_or(usize::MAX));
            for k in 0..take {
                let at = seq.n_prompt_sent + k;
                let last = at + 1 == seq.prompt.len();
                let index = self.batch.n_tokens();
                if self
                    .batch
                    .add(seq.prompt[at], seq.pos, &[seq.seq_id], last)
                    .is_err()
                {
                    break;
                }
                if last {
                    seq.logits_index = Some(index);
                }
                seq.pos += 1;
            }
            seq.n_prompt_sent += take;
            budget -= take;
            reading_prompt.push(i);
        }
        if self.batch.n_tokens() == 0 {
            return;
        }
        let t0 = Instant::now();
        let decoded = self.ctx.decode(&mut self.batch);
        let elapsed = t0.elapsed();
        if let Err(e) = decoded {
            let error = LlamaCppError::Decode(e.to_string());
            for seq in self.active.drain(..) {
                let _ = seq.job.events.send(Err(error.clone().into()));
                let _ = self
                    .ctx
                    .clear_kv_cache_seq(Some(seq.seq_id as u32), None, None);
                self.free_seq_ids.push(seq.seq_id);
            }
            return;
        }
        self.stats.decode_calls += 1;
        for &i in &reading_prompt {
            self.active[i].prompt_eval += elapsed;
        }
        for seq in &self.active {
            self.stats.prompt_tokens_decoded += (seq.n_prompt_sent - seq.n_prompt_decoded) as u64;
        }
        for seq in &mut self.active {
            seq.n_prompt_decoded = seq.n_prompt_sent;
        }
        self.copy_shared_prefixes();
        let mut finished = Vec::new();
        for i in 0..self.active.len() {
            let Some(index) = self.active[i].logits_index else {
                continue;
            };
            let token = if self.active[i].constraint.is_some() {
                match self.sample_constrained(i, index) {
                    Ok(token) => token,
                    Err(e) => {
                        finished.push((i, Err(e)));
                        continue;
                    }
                }
            } else {
                self.active[i].sampler.sample(&self.ctx, index)
            };
            if let Some(end) = self.accept(i, token) {
                finished.push((i, Ok(end)));
            }
        }
        for (i, end) in finished.into_iter().rev() {
            let seq = self.active.swap_remove(i);
            match end {
                Ok(end) => self.finish(seq, end),
                Err(e) => self.fail(seq, e),
            }
        }
    }

    /// Samples under a constraint the way llama.cpp's common sampler does: the free choice
    /// first, the (costly) mask only when the constraint rejects it.
    fn sample_constrained(&mut self, i: usize, index: i32) -> Result<LlamaToken, LlamaCppError> {
        let seq = &mut self.active[i];
        let constraint = seq.constraint.as_mut().expect("constrained sequence");
        let logits = self.ctx.get_logits_ith(index);
        let mut candidates = self.ctx.token_data_array_ith(index);
        candidates.apply_sampler(&mut seq.sampler);
        let free = candidates
            .selected_token()
            .ok_or_else(|| LlamaCppError::Decode("the sampler selected no token".into()))?;
        let token = if constraint.allows(free, logits[free.0 as usize]) {
            free
        } else {
            let mut candidates = self.ctx.token_data_array_ith(index);
            constraint.mask(&mut candidates)?;
            candidates.apply_sampler(&mut seq.sampler);
            // The chain may have sorted and truncated the candidates: read the selected entry.
            let chosen = candidates
                .selected
                .and_then(|i| candidates.data.get(i))
                .filter(|d| d.logit().is_finite());
            chosen.map(|d| d.id()).ok_or_else(|| {
                LlamaCppError::Grammar("the constraint admits no token here".into())
            })?
        };
        seq.sampler.accept(token);
        constraint.accept(token)?;
        Ok(token)
    }

    /// Handles a sampled token; returns why the sequence ends, if it does.
    fn accept(&mut self, i: usize, token: LlamaToken) -> Option<End> {
        let vocab = self.model.vocab();
        let context_length = self.context_length as i32;
        let seq = &mut self.active[i];
        let now = Instant::now();
        seq.first_token_at.get_or_insert(now);
        seq.last_token_at = Some(now);
        seq.n_sampled += 1;
        self.stats.tokens_generated += 1;
        if vocab.is_eog(token) {
            return Some(End::Eog);
        }
        let piece = vocab.token_to_piece(token, false, None);
        let text = seq.utf8.push(&piece);
        let outcome = seq.stop.push(&text);
        emit(seq, outcome.emit);
        if outcome.stopped {
            return Some(End::StopString);
        }
        if seq.constraint.as_ref().is_some_and(Constraint::is_complete) {
            return Some(End::Eog);
        }
        if seq.n_sampled >= seq.max_tokens || seq.pos >= context_length {
            return Some(End::Length);
        }
        seq.next_token = Some(token);
        None
    }

    fn finish(&mut self, mut seq: Sequence, end: End) {
        if end != End::StopString {
            // Flush a trailing partial character, then anything held back for stop strings.
            let tail = seq.utf8.finish();
            let outcome = seq.stop.push(&tail);
            emit(&mut seq, outcome.emit);
            if !outcome.stopped {
                let held = seq.stop.finish();
                emit(&mut seq, held);
            }
        }
        let mut reason = match end {
            End::Length => FinishReason::Length,
            End::StopString | End::Eog => FinishReason::Stop,
        };
        let calls = finish_calls(&mut seq);
        if !calls.is_empty() {
            reason = FinishReason::ToolCalls;
        }
        let mut response = response_of(&seq, reason, &self.model_id);
        response.message.tool_calls = calls;
        response.tool_call_issues = seq.job.call_rules.check(&response.message.tool_calls);
        let _ = seq.job.events.send(Ok(ChatEvent::Done(Box::new(response))));
        let _ = self
            .ctx
            .clear_kv_cache_seq(Some(seq.seq_id as u32), None, None);
        self.free_seq_ids.push(seq.seq_id);
    }

    /// An active sequence whose prompt starts like `prompt` (at least [`MIN_SHARED_PREFIX`]
    /// tokens, leaving the last token to decode): its cached keys and values are copied instead
    /// of decoding the prefix again. Returns its id and the shared length.
    fn shared_prefix_source(&self, prompt: &[LlamaToken]) -> Option<(i32, usize)> {
        self.active
            .iter()
            .filter(|s| s.prefix_from.is_none())
            .map(|s| {
                let common = s
                    .prompt
                    .iter()
                    .zip(prompt)
                    .take_while(|(a, b)| a == b)
                    .count();
                (s.seq_id, common.min(prompt.len() - 1))
            })
            .filter(|&(_, n)| n >= MIN_SHARED_PREFIX)
            .max_by_key(|&(_, n)| n)
    }

    /// Copies shared prefixes whose source has decoded them (the source may finish right after,
    /// so this runs straight after each decode).
    fn copy_shared_prefixes(&mut self) {
        for i in 0..self.active.len() {
            let Some((source, n)) = self.active[i].prefix_from else {
                continue;
            };
            let ready = self
                .active
                .iter()
                .find(|s| s.seq_id == source)
                .map(|s| s.n_prompt_decoded >= n);
            match ready {
                Some(true) => {
                    let target = self.active[i].seq_id;
                    // Each sequence has its own KV stream (kv_unified = false), and llama.cpp
                    // copies streams only whole: copy it, then cut it back to the prefix.
                    let copied = self
                        .ctx
                        .copy_kv_cache_seq(source, target, None, None)
                        .and_then(|()| {
                            self.ctx
                                .clear_kv_cache_seq(Some(target as u32), Some(n as u32), None)
                                .map(|_| ())
                        });
                    let seq = &mut self.active[i];
                    seq.prefix_from = None;
                    if copied.is_ok() {
                        self.stats.prompt_tokens_copied += n as u64;
                        seq.n_prompt_sent = n;
                        seq.n_prompt_decoded = n;
                        seq.pos = n as i32;
                    }
                }
                Some(false) => {}
                // The source is gone: decode the whole prompt.
                None => self.active[i].prefix_from = None,
            }
        }
    }

    /// Ends a sequence with an error.
    fn fail(&mut self, seq: Sequence, error: LlamaCppError) {
        let _ = seq.job.events.send(Err(error.into()));
        let _ = self
            .ctx
            .clear_kv_cache_seq(Some(seq.seq_id as u32), None, None);
        self.free_seq_ids.push(seq.seq_id);
    }

    /// Sequences whose caller went away (dropped the stream) stop and free their slot.
    fn drop_abandoned(&mut self) {
        let mut i = 0;
        while i < self.active.len() {
            if self.active[i].job.events.is_closed() {
                let seq = self.active.swap_remove(i);
                let _ = self
                    .ctx
                    .clear_kv_cache_seq(Some(seq.seq_id as u32), None, None);
                self.free_seq_ids.push(seq.seq_id);
            } else {
                i += 1;
            }
        }
    }
}

/// Streams text, unless it may be a tool call (then the call watcher keeps it).
fn emit(seq: &mut Sequence, text: String) {
    let text = match seq.calls.as_mut() {
        Some(watcher) => watcher.push(&text),
        None => text,
    };
    send_text(seq, text);
}

fn send_text(seq: &mut Sequence, text: String) {
    if text.is_empty() {
        return;
    }
    seq.text.push_str(&text);
    let _ = seq.job.events.send(Ok(ChatEvent::TextDelta(text)));
}

/// Parses the held-back part of an answer into tool calls and streams them; text that turns
/// out not to be a call is streamed as text, so streamed text always equals the answer's.
fn finish_calls(seq: &mut Sequence) -> Vec<slm_core::ToolCall> {
    let Some(mut watcher) = seq.calls.take() else {
        return Vec::new();
    };
    let held = watcher.finish();
    send_text(seq, held);
    let captured = std::mem::take(&mut watcher.captured);
    match parse_calls(&captured) {
        Some((rest, calls)) => {
            if !rest.is_empty() {
                let separator = if seq.text.is_empty() { "" } else { " " };
                send_text(seq, format!("{separator}{rest}"));
            }
            for (index, call) in calls.iter().enumerate() {
                let _ = seq.job.events.send(Ok(ChatEvent::ToolCallDelta {
                    index,
                    id: Some(call.id.clone()),
                    name: Some(call.name.clone()),
                    arguments: call.arguments.to_string(),
                }));
            }
            calls
        }
        None => {
            if watcher.is_forced() {
                tracing::warn!("a forced tool call did not complete (token limit?)");
            }
            send_text(seq, captured);
            Vec::new()
        }
    }
}

fn response_of(seq: &Sequence, reason: FinishReason, model_id: &str) -> ChatResponse {
    let end = Instant::now();
    let first = seq.first_token_at.unwrap_or(end);
    let last = seq.last_token_at.unwrap_or(end);
    let prompt_tokens = seq.prompt.len() as u32;
    let timings = Timings {
        prep: seq.prep,
        queue: seq.admitted.saturating_duration_since(seq.job.queued),
        send: Duration::ZERO,
        prompt_eval: seq.prompt_eval,
        time_to_first_token: first.saturating_duration_since(seq.job.started),
        total: end.saturating_duration_since(seq.job.started),
        prompt_tokens_per_second: Timings::rate(prompt_tokens, seq.prompt_eval),
        decode_tokens_per_second: Timings::rate(
            seq.n_sampled.saturating_sub(1),
            last.saturating_duration_since(first),
        ),
    };
    ChatResponse {
        message: Message::assistant(seq.text.clone()),
        finish_reason: reason,
        usage: Usage::new(prompt_tokens, seq.n_sampled),
        timings,
        model: model_id.to_string(),
        stages: Vec::new(),
        tool_call_issues: Vec::new(),
    }
}

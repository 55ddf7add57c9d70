//! The worker thread: it owns the llama.cpp model and context (they are not `Send`) and runs
//! every request. Requests arrive over a channel, so concurrent callers queue.
//!
//! The loop is a continuous-batching scheduler: each step builds one `llama_decode` batch from
//! every active sequence (one token each while generating, chunks of the prompt while reading
//! it), decodes, then samples each sequence's next token with its own sampler. With
//! `max_sequences = 1` this is exactly llama.cpp's plain generation loop.
//!
//! With the prompt cache on (the default), a finished sequence's slot keeps its keys and values
//! and the tokens they stand for; a new request takes the free slot sharing the longest token
//! prefix with its prompt, cuts that slot's cache back to the shared prefix and evaluates only
//! the rest (llama-server's `--cache-prompt`). Concurrent requests with a common prefix still
//! decode it once: the later ones copy it from the first.
//!
//! A panic while handling one request (in our code, minijinja, llguidance or llama-cpp-2's
//! Rust side) fails that request only, with [`LlamaCppError::WorkerPanicked`]: admission,
//! each sequence's sampling and each answer's assembly run under `catch_unwind`, the failed
//! sequence's KV cache is cleared and its slot reclaimed, and the worker keeps serving. KV cache
//! operations are checked: a slot whose cache cannot be cleared is not reused.

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
use slm_core::{
    ChatEvent, ChatResponse, FinishReason, GenerationOptions, Message, PromptLookup, Speculation,
    Timings, Usage,
};
use tokio::sync::{mpsc, oneshot};

use crate::constrain::{Compiler, Constraint, ConstraintCheck, ConstraintSpec, SchemaBackend};
use crate::draft_model::{self, Drafter};
use crate::tools::{CallWatcher, parse_calls};
use crate::{LlamaCppError, LoadOptions, sampling, speculative};
use slm_chat::text::{StopMatcher, Utf8Decoder};

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
        reply: oneshot::Sender<Result<usize, LlamaCppError>>,
    },
    /// Tokenize a text as llama.cpp's `llama_tokenize` does.
    Tokenize {
        text: String,
        add_special: bool,
        parse_special: bool,
        reply: oneshot::Sender<Result<Vec<u32>, LlamaCppError>>,
    },
    /// Turn token ids back into text (ids checked against the vocabulary first).
    Detokenize {
        tokens: Vec<u32>,
        special: bool,
        reply: oneshot::Sender<Result<String, LlamaCppError>>,
    },
    /// Save the prompt cache's keys and values of a (rendered) prompt to a session file.
    SaveSession {
        prompt: String,
        lora: Option<(usize, f32)>,
        path: PathBuf,
        reply: oneshot::Sender<Result<crate::SessionInfo, LlamaCppError>>,
    },
    /// Restore a session file into a free slot's prompt cache.
    LoadSession {
        path: PathBuf,
        reply: oneshot::Sender<Result<crate::SessionInfo, LlamaCppError>>,
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
    /// How to read tool calls and reasoning out of the output, if at all.
    pub(crate) tool_calls: Option<CallMode>,
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

/// How a request's answer is read for tool calls and reasoning.
#[derive(Debug, Clone)]
pub(crate) struct CallMode {
    /// The grammar forces calls: the whole answer is calls.
    pub(crate) forced: bool,
    /// The syntax of the model's family.
    pub(crate) format: slm_chat::ToolFormat,
    /// The declared tools (calls of others stay text).
    pub(crate) tools: Vec<slm_core::ToolSpec>,
    /// No tools: only a `<think>` section is taken apart.
    pub(crate) reasoning_only: bool,
    /// The prompt already opened `<think>`.
    pub(crate) starts_in_reasoning: bool,
}

/// Reads an answer as it streams.
enum CallReader {
    /// slm-core's generic format (and bare JSON calls): this crate's watcher.
    Wire(CallWatcher),
    /// A model family's own syntax, reasoning apart.
    Native(Box<slm_chat::StreamParser>),
    /// Only reasoning to take apart.
    Reasoning(slm_chat::formats::ReasoningSplitter),
}

impl CallReader {
    /// Whether the answer so far ends inside an open `<think>` section.
    fn in_reasoning(&self) -> bool {
        match self {
            CallReader::Wire(_) => false,
            CallReader::Native(parser) => parser.in_reasoning(),
            CallReader::Reasoning(splitter) => splitter.in_reasoning(),
        }
    }

    fn new(mode: CallMode) -> Self {
        if mode.reasoning_only {
            return CallReader::Reasoning(slm_chat::formats::ReasoningSplitter::new(
                mode.starts_in_reasoning,
            ));
        }
        match mode.format {
            slm_chat::ToolFormat::Wire if !mode.starts_in_reasoning => {
                CallReader::Wire(CallWatcher::new(mode.forced))
            }
            format => CallReader::Native(Box::new(
                format.stream_parser(&mode.tools, mode.starts_in_reasoning),
            )),
        }
    }
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
    /// Prompt tokens whose keys and values a slot still held from an earlier request (the
    /// prompt cache) instead of being decoded.
    #[serde(default)]
    pub prompt_tokens_cached: u64,
    /// Tokens sampled.
    pub tokens_generated: u64,
    /// Tokens the prompt cache holds now in idle slots (at most one context per slot: the
    /// cache never grows beyond the slots' preallocated KV memory).
    #[serde(default)]
    pub prompt_cache_tokens: u64,
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
    let ctx = match model.new_context(backend, params.clone()) {
        Ok(ctx) => ctx,
        Err(e) => {
            let _ = ready.send(Err(LlamaCppError::ModelLoad(format!(
                "cannot create a context of {} tokens: {e}",
                per_seq * n_seq
            ))));
            return;
        }
    };
    let batch_size = options.batch_size.max(n_seq) as usize;
    let draft_model = match &options.draft_model {
        None => None,
        Some(draft) => match draft_model::load(&draft.path, &model, &options) {
            Ok(m) => Some((m, draft)),
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        },
    };
    let drafter = match &draft_model {
        None => None,
        Some((m, draft)) => {
            let n_ctx = per_seq * n_seq;
            match Drafter::new(
                m,
                params,
                n_ctx,
                n_seq,
                batch_size,
                draft.max_draft,
                &draft.path,
            ) {
                Ok(d) => Some(d),
                Err(e) => {
                    let _ = ready.send(Err(e));
                    return;
                }
            }
        }
    };
    let loaded = Loaded {
        context_length: per_seq,
        n_vocab: model.n_vocab(),
    };
    if ready.send(Ok(loaded)).is_err() {
        return;
    }
    let mut worker = Worker {
        model_path: path,
        model_sha256: None,
        model: &model,
        ctx,
        batch: LlamaBatch::new(batch_size, 1),
        batch_size,
        model_id,
        context_length: per_seq,
        n_seq: n_seq as i32,
        free_seq_ids: (0..n_seq as i32).rev().collect(),
        active: Vec::new(),
        compiler: Compiler::default(),
        schema_backend: options.schema_backend,
        adapters,
        stats: WorkerStats::default(),
        current_lora: None,
        deferred: VecDeque::new(),
        prompt_cache: options.prompt_cache,
        slots: vec![SlotCache::default(); n_seq as usize],
        clock: 0,
        drafter,
        thinking_close: model.vocab().tokenize(
            slm_chat::formats::THINKING_CLOSE.as_bytes(),
            false,
            true,
        ),
    };
    worker.serve(&commands);
}

fn context_length(model: &LlamaModel, options: &LoadOptions) -> u32 {
    options
        .context_length
        .unwrap_or_else(|| model.n_ctx_train().clamp(1, 4096))
}

pub(crate) fn load(
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
        // One KV buffer shared by all sequences, as llama-server has it. With a stream per
        // sequence, llama.cpp splits a batch whose sequences are not consecutive into several
        // graph computes: the SmolLM2 tool-call track at 8 sequences ran 1.6x slower.
        // Each sequence still stays within its own `context_length` (the worker checks it),
        // so the slots never hold more than `n_seq * context_length` cells together.
        .with_kv_unified(true);
    if let Some(fa) = options.flash_attention {
        params = params.with_flash_attention_policy(if fa {
            llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_ENABLED
        } else {
            llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_DISABLED
        });
    }
    Ok((model, params))
}

/// Shorter shared prefixes are not worth a cache copy, nor evicting another slot's cache for.
const MIN_SHARED_PREFIX: usize = 16;

/// What a free slot's KV cache holds (the prompt cache).
#[derive(Debug, Clone, Default)]
struct SlotCache {
    /// The tokens whose keys and values the slot holds, from position 0.
    tokens: Vec<LlamaToken>,
    /// The adapter they were computed with: another adapter gives other keys and values.
    lora: Option<(usize, f32)>,
    /// When the slot was last used (the worker's request counter), for LRU eviction.
    last_used: u64,
}

/// Runs `f`, turning a panic into [`LlamaCppError::WorkerPanicked`].
pub(crate) fn guard<T>(f: impl FnOnce() -> T) -> Result<T, LlamaCppError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|payload| {
        let message = slm_chat::template::panic_message(&*payload);
        tracing::error!(%message, "a panic while answering a request; that request fails alone");
        LlamaCppError::WorkerPanicked { message }
    })
}

/// A fault a test provokes (feature `fault-injection`; see [`crate::testing::faults`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    PanicAtStart,
    PanicWhileSampling,
    PanicAtFinish,
    KvClearFails,
    KvCopyFails,
}

/// The fault a prompt asks for: never one without the `fault-injection` feature.
fn fault_of(prompt: &str) -> Fault {
    #[cfg(feature = "fault-injection")]
    {
        use crate::testing::faults;
        for (marker, fault) in [
            (faults::PANIC_AT_START, Fault::PanicAtStart),
            (faults::PANIC_WHILE_SAMPLING, Fault::PanicWhileSampling),
            (faults::PANIC_AT_FINISH, Fault::PanicAtFinish),
            (faults::KV_CLEAR_FAILS, Fault::KvClearFails),
            (faults::KV_COPY_FAILS, Fault::KvCopyFails),
        ] {
            if prompt.contains(marker) {
                return fault;
            }
        }
    }
    let _ = prompt;
    Fault::None
}

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
    /// Prompt tokens served from a cache (a slot's earlier request, or another sequence's
    /// shared prefix) instead of being decoded.
    n_prompt_cached: usize,
    /// Generated tokens sent to `llama_decode` (their keys and values are in the cache).
    decoded_output: Vec<LlamaToken>,
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
    /// Reads tool calls and reasoning out of the text stream.
    calls: Option<CallReader>,
    /// The reasoning streamed so far.
    reasoning: Option<String>,
    /// The fault a test asked this request to provoke.
    fault: Fault,
    /// Prompt-lookup speculative decoding, when the request asked for it.
    lookup: Option<PromptLookup>,
    /// Most draft tokens per step (prompt lookup's, or the draft model's); 0 when the
    /// sequence does not speculate.
    max_draft: usize,
    /// Draft tokens in the current batch, right after `next_token` (positions `pos..`).
    draft: Vec<LlamaToken>,
    /// Draft tokens checked and accepted so far.
    speculation: Speculation,
    /// Reasoning tokens the answer may still write before its `<think>` section is closed for
    /// it (the request's thinking budget); `None`: no budget, or the section was closed.
    thinking_left: Option<u32>,
    /// Tokens decoded next instead of sampled ones: the close of a reasoning section over its
    /// budget.
    forced: VecDeque<LlamaToken>,
    /// How long the next draft may be, from how the sequence's drafts fared.
    pacing: speculative::Pacing,
}

struct Worker<'m> {
    model_path: PathBuf,
    /// The model file's sha256, computed on first use (sessions name their model by it).
    model_sha256: Option<String>,
    model: &'m LlamaModel,
    ctx: LlamaContext<'m>,
    batch: LlamaBatch<'static>,
    batch_size: usize,
    model_id: String,
    context_length: u32,
    /// Sequence slots (ids `0..n_seq`).
    n_seq: i32,
    /// Slots ready for a new sequence (their KV cache is empty). A slot neither free nor
    /// active is dirty: [`Worker::reclaim_slots`] clears it before reuse.
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
    /// Whether finished sequences leave their cache in their slot for later requests.
    prompt_cache: bool,
    /// What each free slot's cache holds, by sequence id.
    slots: Vec<SlotCache>,
    /// Counts requests started: the prompt cache's LRU clock.
    clock: u64,
    /// The tokens of [`slm_chat::formats::THINKING_CLOSE`], forced when a thinking budget
    /// runs out.
    thinking_close: Vec<LlamaToken>,
    /// The draft model's context, when one was loaded (speculative decoding).
    drafter: Option<Drafter<'m>>,
}

impl Worker<'_> {
    fn serve(&mut self, commands: &Receiver<Command>) {
        loop {
            if self.free_seq_ids.len() + self.active.len() < self.n_seq as usize {
                self.reclaim_slots();
            }
            self.admit_deferred();
            // Admit new work: block when idle, otherwise only take what is already waiting.
            // With no usable slot at all (caches that cannot be cleared), jobs are still
            // received, and answered with an error rather than left waiting.
            while !self.free_seq_ids.is_empty() || self.active.is_empty() {
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
            if !self.active.is_empty()
                && let Err(e) = guard(|| self.step())
            {
                // A panic outside any one sequence's handling: the batch cannot be trusted.
                for seq in std::mem::take(&mut self.active) {
                    let _ = seq.job.events.send(Err(e.clone().into()));
                    self.release(seq.seq_id);
                }
                self.reclaim_slots();
            }
        }
    }

    /// Clears every slot that is neither free nor held by an active sequence (a panic or a
    /// failed KV operation left it dirty) and frees it when its cache is empty again.
    fn reclaim_slots(&mut self) {
        for seq_id in 0..self.n_seq {
            let held = self.free_seq_ids.contains(&seq_id)
                || self.active.iter().any(|s| s.seq_id == seq_id);
            if !held {
                self.release(seq_id);
            }
        }
    }

    /// Empties a sequence's KV cache. llama.cpp removes whole sequences unconditionally, so this
    /// fails only on an id out of range, or when a test injects the failure.
    fn clear_sequence(&mut self, seq_id: i32, inject_failure: bool) -> Result<(), LlamaCppError> {
        let cleared = u32::try_from(seq_id)
            .map_err(|e| e.to_string())
            .and_then(|id| {
                self.ctx
                    .clear_kv_cache_seq(Some(id), None, None)
                    .map_err(|e| e.to_string())
            });
        match cleared {
            Ok(true) if !inject_failure => Ok(()),
            Ok(_) => Err(LlamaCppError::KvCache(format!(
                "llama.cpp could not clear sequence {seq_id}"
            ))),
            Err(e) => Err(LlamaCppError::KvCache(format!(
                "clearing sequence {seq_id}: {e}"
            ))),
        }
    }

    /// Gives a slot back once its cache is empty; a slot that cannot be cleared stays dirty
    /// (out of use until [`Worker::reclaim_slots`] manages to clear it).
    fn release(&mut self, seq_id: i32) {
        if let Some(slot) = self.slots.get_mut(seq_id as usize) {
            slot.tokens.clear();
        }
        match self.clear_sequence(seq_id, false) {
            Ok(()) => {
                if !self.free_seq_ids.contains(&seq_id) {
                    self.free_seq_ids.push(seq_id);
                }
            }
            Err(e) => tracing::error!(seq_id, error = %e, "a KV cache slot stays out of use"),
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
                let idle = self
                    .free_seq_ids
                    .iter()
                    .filter_map(|&id| self.slots.get(id as usize));
                let held = idle.map(|slot| slot.tokens.len() as u64).sum();
                let _ = reply.send(WorkerStats {
                    prompt_cache_tokens: held,
                    ..self.stats
                });
            }
            Command::CountTokens { text, reply } => {
                let _ = reply.send(guard(|| self.tokenize(&text).len()));
            }
            Command::Tokenize {
                text,
                add_special,
                parse_special,
                reply,
            } => {
                let tokens = guard(|| {
                    let tokens =
                        self.model
                            .vocab()
                            .tokenize(text.as_bytes(), add_special, parse_special);
                    tokens.into_iter().map(|t| t.0 as u32).collect()
                });
                let _ = reply.send(tokens);
            }
            Command::Detokenize {
                tokens,
                special,
                reply,
            } => {
                let _ = reply.send(guard(|| self.detokenize(&tokens, special)).and_then(|r| r));
            }
            Command::SaveSession {
                prompt,
                lora,
                path,
                reply,
            } => {
                let _ =
                    reply.send(guard(|| self.save_session(&prompt, lora, &path)).and_then(|r| r));
            }
            Command::LoadSession { path, reply } => {
                let _ = reply.send(guard(|| self.load_session(&path)).and_then(|r| r));
            }
            Command::CheckConstraint { spec, text, reply } => {
                let _ = reply.send(guard(|| self.check_constraint(&spec, &text)).and_then(|r| r));
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
        if !self.deferred.is_empty() && !self.has_usable_slot() {
            for job in std::mem::take(&mut self.deferred) {
                let _ = job.events.send(Err(no_usable_slot().into()));
            }
        }
        while !self.free_seq_ids.is_empty()
            && let Some(front) = self.deferred.front()
            && (self.active.is_empty() || front.lora == self.current_lora)
        {
            let job = self.deferred.pop_front().expect("front exists");
            self.start(job);
        }
    }

    /// Whether a job can start now or later: a slot is free or will be when a sequence ends
    /// (dirty slots are cleared first if that is all there is).
    fn has_usable_slot(&mut self) -> bool {
        if self.free_seq_ids.is_empty() && self.active.is_empty() {
            self.reclaim_slots();
        }
        !self.free_seq_ids.is_empty() || !self.active.is_empty()
    }

    /// Starts a job, or defers it while sequences with another adapter run.
    fn admit(&mut self, job: Job) {
        if !self.has_usable_slot() {
            let _ = job.events.send(Err(no_usable_slot().into()));
            return;
        }
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

    /// Starts answering a job, or answers it with an error (also when starting it panics).
    fn start(&mut self, job: Job) {
        let events = job.events.clone();
        if let Err(e) = guard(|| self.start_job(job)) {
            let _ = events.send(Err(e.into()));
            self.reclaim_slots();
        }
    }

    fn start_job(&mut self, job: Job) {
        self.stats.requests += 1;
        let fault = fault_of(&job.prompt);
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
        let Some((seq_id, cached)) = self.take_slot(&prompt, job.lora) else {
            let _ = job.events.send(Err(
                LlamaCppError::Decode("no free sequence slot".into()).into()
            ));
            return;
        };
        if fault == Fault::PanicAtStart {
            panic!("injected fault: panic at start");
        }
        // A concurrent request sharing a longer prefix beats the slot's own cache.
        let inject = fault == Fault::KvClearFails;
        let prefix_from = self
            .shared_prefix_source(&prompt)
            .filter(|&(_, n)| n > cached);
        let kept = if cached > 0 && prefix_from.is_none() {
            match self.cut_to_prefix(seq_id, cached, inject) {
                Ok(()) => cached,
                Err(e) => {
                    tracing::warn!(error = %e, "the prompt cache could not be reused; evaluating the whole prompt");
                    0
                }
            }
        } else {
            0
        };
        if kept == 0
            && let Err(e) = self.clear_sequence(seq_id, inject)
        {
            // The slot stays dirty: it is reclaimed once its cache can be cleared.
            let _ = job.events.send(Err(e.into()));
            return;
        }
        self.stats.prompt_tokens_cached += kept as u64;
        let sampler = sampling::sampler_chain(&job.options, self.model, self.context_length);
        let stop = StopMatcher::new(&job.options.stop);
        let max_tokens = job.options.max_tokens.unwrap_or(u32::MAX);
        // A constrained answer has its shape from the grammar: no budget to enforce there.
        let thinking_left = match job.options.thinking {
            Some(thinking) if constraint.is_none() && thinking.is_off() => Some(0),
            Some(thinking) if constraint.is_none() => thinking.budget_tokens,
            _ => None,
        };
        let prep = job.prep + admitted.elapsed();
        self.active.push(Sequence {
            seq_id,
            n_prompt_sent: kept,
            n_prompt_decoded: kept,
            n_prompt_cached: kept,
            decoded_output: Vec::new(),
            prefix_from,
            prompt,
            pos: kept as i32,
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
            calls: job.tool_calls.clone().map(CallReader::new),
            reasoning: None,
            fault,
            lookup: job.options.prompt_lookup,
            max_draft: match (job.options.prompt_lookup, &self.drafter) {
                (Some(lookup), _) => lookup.max_draft as usize,
                (None, Some(drafter)) => drafter.max_draft,
                (None, None) => 0,
            },
            draft: Vec::new(),
            speculation: Speculation::default(),
            pacing: speculative::Pacing::default(),
            thinking_left,
            forced: VecDeque::new(),
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
                seq.decoded_output.push(token);
                seq.pos += 1;
                budget -= 1;
                let room = draft_room(seq, budget, self.context_length);
                let proposal = if room == 0 {
                    Vec::new()
                } else {
                    let history = [&seq.prompt[..], &seq.decoded_output[..]].concat();
                    match (seq.lookup, self.drafter.as_mut()) {
                        (Some(lookup), _) => speculative::draft(&history, &lookup, room),
                        (None, Some(drafter)) => drafter
                            .propose(seq.seq_id, &history, room)
                            .unwrap_or_else(|e| {
                                tracing::warn!(error = %e, "the draft model failed; decoding without drafts");
                                Vec::new()
                            }),
                        (None, None) => Vec::new(),
                    }
                };
                add_draft(&mut self.batch, seq, proposal);
                budget -= seq.draft.len();
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
            for seq in std::mem::take(&mut self.active) {
                let _ = seq.job.events.send(Err(error.clone().into()));
                self.release(seq.seq_id);
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
            // A panic while sampling one sequence fails that sequence only.
            match guard(|| self.sample_with_draft(i, index)) {
                Ok(Ok(Some(end))) => finished.push((i, Ok(end))),
                Ok(Ok(None)) => {}
                Ok(Err(e)) | Err(e) => finished.push((i, Err(e))),
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

    /// Samples sequence `i` at its logits `index` and, while the sampled token equals the next
    /// drafted one (whose logits follow in the batch), at the draft's positions too. Drafted
    /// tokens past the first disagreement leave the cache. Returns why the sequence ends, if
    /// it does.
    fn sample_with_draft(&mut self, i: usize, index: i32) -> Result<Option<End>, LlamaCppError> {
        let draft = std::mem::take(&mut self.active[i].draft);
        let mut index = index;
        let mut kept = 0;
        let end = loop {
            if let Some(end) = self.sample_and_accept(i, index)? {
                break Some(end);
            }
            let seq = &mut self.active[i];
            match draft.get(kept) {
                Some(&drafted) if seq.next_token == Some(drafted) => {
                    // Its keys and values are in the cache already: go on from its logits.
                    seq.next_token = None;
                    seq.decoded_output.push(drafted);
                    seq.pos += 1;
                    kept += 1;
                    index += 1;
                }
                _ => break None,
            }
        };
        let seq = &mut self.active[i];
        seq.speculation.drafted += draft.len() as u32;
        seq.speculation.accepted += kept as u32;
        if !draft.is_empty() {
            seq.pacing.checked(draft.len(), kept, seq.max_draft);
        }
        if kept < draft.len() {
            let (seq_id, pos) = (seq.seq_id, seq.pos);
            self.drop_positions_from(seq_id, pos)?;
        }
        Ok(end)
    }

    /// Removes a sequence's cached positions from `pos` on (rejected draft tokens).
    fn drop_positions_from(&mut self, seq_id: i32, pos: i32) -> Result<(), LlamaCppError> {
        let kv = |what: String| LlamaCppError::KvCache(what);
        let id = u32::try_from(seq_id).map_err(|e| kv(format!("sequence id {seq_id}: {e}")))?;
        let from = u32::try_from(pos).map_err(|e| kv(format!("position {pos}: {e}")))?;
        let removed = self
            .ctx
            .clear_kv_cache_seq(Some(id), Some(from), None)
            .map_err(|e| kv(format!("dropping draft tokens of sequence {seq_id}: {e}")))?;
        if !removed {
            return Err(kv(format!(
                "llama.cpp could not drop the draft tokens of sequence {seq_id} from position {pos}"
            )));
        }
        Ok(())
    }

    /// Samples sequence `i`'s next token and handles it; returns why the sequence ends, if it
    /// does.
    fn sample_and_accept(&mut self, i: usize, index: i32) -> Result<Option<End>, LlamaCppError> {
        let token = if let Some(forced) = self.active[i].forced.pop_front() {
            // The sampler still sees it, for its repetition penalties.
            self.active[i].sampler.accept(forced);
            forced
        } else if self.active[i].constraint.is_some() {
            self.sample_constrained(i, index)?
        } else {
            self.active[i].sampler.sample(&self.ctx, index)
        };
        if self.active[i].fault == Fault::PanicWhileSampling && self.active[i].n_sampled >= 1 {
            panic!("injected fault: panic while sampling");
        }
        Ok(self.accept(i, token))
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
        if let Some(left) = seq.thinking_left.as_mut()
            && seq.calls.as_ref().is_some_and(CallReader::in_reasoning)
        {
            *left = left.saturating_sub(1);
            if *left == 0 {
                // Over budget: the section is closed for the model, which goes on to answer.
                seq.forced.extend(self.thinking_close.iter().copied());
                seq.thinking_left = None;
            }
        }
        if seq.n_sampled >= seq.max_tokens || seq.pos >= context_length {
            return Some(End::Length);
        }
        seq.next_token = Some(token);
        None
    }

    /// Answers a finished sequence (or, if assembling the answer panics, fails it) and frees
    /// its slot.
    fn finish(&mut self, mut seq: Sequence, end: End) {
        let seq_id = seq.seq_id;
        let events = seq.job.events.clone();
        let cached = self.prompt_cache.then(|| SlotCache {
            tokens: [
                &seq.prompt[..seq.n_prompt_decoded],
                &std::mem::take(&mut seq.decoded_output),
            ]
            .concat(),
            lora: seq.job.lora,
            last_used: self.clock,
        });
        let model_id = &self.model_id;
        match guard(|| respond(seq, end, model_id)) {
            Ok(()) => match cached {
                Some(cache) => self.park(seq_id, cache),
                None => self.release(seq_id),
            },
            Err(e) => {
                let _ = events.send(Err(e.into()));
                self.release(seq_id);
            }
        }
    }

    fn require_prompt_cache(&self) -> Result<(), LlamaCppError> {
        if self.prompt_cache {
            Ok(())
        } else {
            Err(LlamaCppError::InvalidRequest(
                "sessions need the prompt cache, which this model has off".into(),
            ))
        }
    }

    fn model_sha256(&mut self) -> Result<String, LlamaCppError> {
        if let Some(sha) = &self.model_sha256 {
            return Ok(sha.clone());
        }
        let sha = crate::models::sha256_file(&self.model_path)?;
        self.model_sha256 = Some(sha.clone());
        Ok(sha)
    }

    /// Writes the free slot whose cache starts with all of `prompt` (under `lora`), cut back to
    /// it, to a session file.
    fn save_session(
        &mut self,
        prompt: &str,
        lora: Option<(usize, f32)>,
        path: &std::path::Path,
    ) -> Result<crate::SessionInfo, LlamaCppError> {
        self.require_prompt_cache()?;
        let tokens = self.prompt_tokens(prompt)?;
        let holder = self.free_seq_ids.iter().copied().find(|&id| {
            let slot = &self.slots[id as usize];
            slot.lora == lora && common_prefix(&slot.tokens, &tokens) == tokens.len()
        });
        let Some(seq_id) = holder else {
            return Err(LlamaCppError::InvalidRequest(
                "the conversation is not in the prompt cache (another request took its slot): save again".into(),
            ));
        };
        // Keep the conversation only: the slot may also hold an opened assistant turn.
        if self.slots[seq_id as usize].tokens.len() > tokens.len() {
            if let Err(e) = self.cut_to_prefix(seq_id, tokens.len(), false) {
                // Its cache is in an unknown state: emptied before anyone reuses it.
                self.release(seq_id);
                return Err(e);
            }
            self.slots[seq_id as usize].tokens.truncate(tokens.len());
        }
        let cached = self.slots[seq_id as usize].tokens.clone();
        let state = scratch_path(path, true);
        let saved = self
            .ctx
            .state_seq_save_file(&state, seq_id, &cached)
            .map_err(|e| LlamaCppError::Session {
                path: path.to_path_buf(),
                reason: format!("llama.cpp could not save the state: {e}"),
            });
        let written = saved.and_then(|_| {
            let sha = self.model_sha256()?;
            let meta =
                crate::session::meta_for(&self.model_path, &sha, lora, cached.len(), &state)?;
            crate::session::write(path, &meta, &state)
        });
        let _ = std::fs::remove_file(&state);
        Ok(crate::SessionInfo {
            tokens: cached.len(),
            bytes: written?,
        })
    }

    /// Restores a session file into a free slot (an empty one, else the least recently used),
    /// where the next request starting with its tokens finds them.
    fn load_session(
        &mut self,
        path: &std::path::Path,
    ) -> Result<crate::SessionInfo, LlamaCppError> {
        self.require_prompt_cache()?;
        let sha = self.model_sha256()?;
        let state = scratch_path(path, false);
        let checked = crate::session::read(path, &sha, &state);
        let restored = checked.and_then(|(meta, bytes)| {
            self.restore(path, &state, &meta)?;
            Ok(crate::SessionInfo {
                tokens: meta.tokens,
                bytes,
            })
        });
        let _ = std::fs::remove_file(&state);
        restored
    }

    fn restore(
        &mut self,
        path: &std::path::Path,
        state: &std::path::Path,
        meta: &crate::session::SessionMeta,
    ) -> Result<(), LlamaCppError> {
        let refuse = |reason: String| LlamaCppError::Session {
            path: path.to_path_buf(),
            reason,
        };
        if meta.tokens == 0 || meta.tokens >= self.context_length as usize {
            return Err(refuse(format!(
                "{} tokens do not fit a context of {}",
                meta.tokens, self.context_length
            )));
        }
        if meta
            .lora
            .is_some_and(|(index, _)| index >= self.adapters.len())
        {
            return Err(refuse(
                "saved with a LoRA adapter this model does not have".into(),
            ));
        }
        let Some((seq_id, _)) = self.take_slot(&[], meta.lora) else {
            return Err(LlamaCppError::KvCache("no free sequence slot".into()));
        };
        self.clear_sequence(seq_id, false)?;
        let loaded = self.ctx.state_seq_load_file(state, seq_id, meta.tokens);
        let tokens = match loaded {
            Ok((tokens, _)) if tokens.len() == meta.tokens => tokens,
            Ok((tokens, _)) => {
                self.release(seq_id);
                return Err(refuse(format!(
                    "llama.cpp read {} tokens, the metadata says {}",
                    tokens.len(),
                    meta.tokens
                )));
            }
            Err(e) => {
                self.release(seq_id);
                return Err(refuse(format!("llama.cpp refused the state: {e}")));
            }
        };
        if let Err(e) = self.check_holds(seq_id, tokens.len()) {
            self.release(seq_id);
            return Err(refuse(format!("after restoring, {e}")));
        }
        self.park(
            seq_id,
            SlotCache {
                tokens,
                lora: meta.lora,
                last_used: self.clock,
            },
        );
        Ok(())
    }

    /// Frees a finished sequence's slot with its cache kept for later requests.
    fn park(&mut self, seq_id: i32, cache: SlotCache) {
        if let Some(slot) = self.slots.get_mut(seq_id as usize) {
            *slot = cache;
            if !self.free_seq_ids.contains(&seq_id) {
                self.free_seq_ids.push(seq_id);
            }
        }
    }

    /// Takes the free slot for a new prompt: the one whose cache shares the longest prefix with
    /// it (same adapter, at least [`MIN_SHARED_PREFIX`] tokens), else an empty one, else the
    /// least recently used. Returns the slot and how many of its cached tokens the prompt can
    /// keep (always leaving the prompt's last token to evaluate, for its logits).
    fn take_slot(
        &mut self,
        prompt: &[LlamaToken],
        lora: Option<(usize, f32)>,
    ) -> Option<(i32, usize)> {
        self.clock += 1;
        let usable = |slot: &SlotCache| {
            if !self.prompt_cache || slot.lora != lora {
                return 0;
            }
            common_prefix(&slot.tokens, prompt).min(prompt.len().saturating_sub(1))
        };
        let at = (0..self.free_seq_ids.len()).max_by_key(|&i| {
            let slot = &self.slots[self.free_seq_ids[i] as usize];
            let shared = usable(slot);
            let worth_it = shared >= MIN_SHARED_PREFIX;
            (
                if worth_it { shared } else { 0 },
                slot.tokens.is_empty(),
                std::cmp::Reverse(slot.last_used),
            )
        })?;
        let seq_id = self.free_seq_ids.swap_remove(at);
        let slot = std::mem::take(&mut self.slots[seq_id as usize]);
        Some((seq_id, usable(&slot)))
    }
}

/// Sends a finished sequence's answer: the text held back, its tool calls, the response.
fn respond(mut seq: Sequence, end: End, model_id: &str) {
    if seq.fault == Fault::PanicAtFinish {
        panic!("injected fault: panic at finish");
    }
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
    let mut response = response_of(&seq, reason, model_id);
    response.message.tool_calls = calls;
    response.tool_call_issues = seq.job.call_rules.check(&response.message.tool_calls);
    let _ = seq.job.events.send(Ok(ChatEvent::Done(Box::new(response))));
}

impl Worker<'_> {
    /// An active sequence whose prompt starts like `prompt` (at least [`MIN_SHARED_PREFIX`]
    /// tokens, leaving the last token to decode): its cached keys and values are copied instead
    /// of decoding the prefix again. Returns its id and the shared length.
    fn shared_prefix_source(&self, prompt: &[LlamaToken]) -> Option<(i32, usize)> {
        self.active
            .iter()
            .filter(|s| s.prefix_from.is_none())
            .map(|s| {
                let common = common_prefix(&s.prompt, prompt);
                (s.seq_id, common.min(prompt.len() - 1))
            })
            .filter(|&(_, n)| n >= MIN_SHARED_PREFIX)
            .max_by_key(|&(_, n)| n)
    }

    /// Copies shared prefixes whose source has decoded them (the source may finish right after,
    /// so this runs straight after each decode).
    fn copy_shared_prefixes(&mut self) {
        let mut failed = Vec::new();
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
                    let inject = self.active[i].fault == Fault::KvCopyFails;
                    let copied = self.copy_prefix(source, target, n, inject);
                    self.active[i].prefix_from = None;
                    match copied {
                        Ok(()) => {
                            self.stats.prompt_tokens_copied += n as u64;
                            let seq = &mut self.active[i];
                            seq.n_prompt_sent = n;
                            seq.n_prompt_decoded = n;
                            seq.n_prompt_cached = n;
                            seq.pos = n as i32;
                        }
                        // The copy may have left part of the source's cache behind: empty the
                        // sequence and decode its whole prompt; if it cannot be emptied, fail it.
                        Err(e) => {
                            tracing::warn!(error = %e, "shared-prefix copy failed; decoding the whole prompt");
                            if let Err(e) = self.clear_sequence(target, false) {
                                failed.push((i, e));
                            }
                        }
                    }
                }
                Some(false) => {}
                // The source is gone: decode the whole prompt.
                None => self.active[i].prefix_from = None,
            }
        }
        for (i, error) in failed.into_iter().rev() {
            let seq = self.active.remove(i);
            let _ = seq.job.events.send(Err(error.into()));
            // Its slot stays dirty until it can be cleared.
        }
    }

    /// Copies `source`'s first `n` cached tokens to `target` (whose cache is empty), checking
    /// that `target` then holds exactly positions `0..n`. The KV buffer is unified: the copy
    /// only tags the prefix's cells with `target` too.
    fn copy_prefix(
        &mut self,
        source: i32,
        target: i32,
        n: usize,
        inject_failure: bool,
    ) -> Result<(), LlamaCppError> {
        let kv = |what: String| LlamaCppError::KvCache(what);
        let end = u32::try_from(n).map_err(|e| kv(format!("prefix length {n}: {e}")))?;
        self.ctx
            .copy_kv_cache_seq(source, target, Some(0), Some(end))
            .map_err(|e| kv(format!("copying sequence {source} to {target}: {e}")))?;
        if inject_failure {
            return Err(kv(format!(
                "injected fault: copying sequence {source} to {target}"
            )));
        }
        self.check_holds(target, n)
    }

    /// Cuts a sequence's cache back to its first `n` tokens, checking that it then holds
    /// exactly positions `0..n` (a sliding-window cache may have dropped the start already:
    /// then the prefix cannot be reused).
    fn cut_to_prefix(
        &mut self,
        seq_id: i32,
        n: usize,
        inject_failure: bool,
    ) -> Result<(), LlamaCppError> {
        let kv = |what: String| LlamaCppError::KvCache(what);
        let prefix = u32::try_from(n).map_err(|e| kv(format!("prefix length {n}: {e}")))?;
        let id = u32::try_from(seq_id).map_err(|e| kv(format!("sequence id {seq_id}: {e}")))?;
        let cut = self
            .ctx
            .clear_kv_cache_seq(Some(id), Some(prefix), None)
            .map_err(|e| kv(format!("cutting sequence {seq_id} at {n}: {e}")))?;
        if !cut || inject_failure {
            return Err(kv(format!(
                "llama.cpp could not cut sequence {seq_id} back to its first {n} tokens"
            )));
        }
        self.check_holds(seq_id, n)
    }

    /// Checks that a sequence's cache holds exactly positions `0..n`.
    fn check_holds(&self, seq_id: i32, n: usize) -> Result<(), LlamaCppError> {
        let first = self.ctx.kv_cache_seq_pos_min(seq_id);
        let last = self.ctx.kv_cache_seq_pos_max(seq_id);
        if first != 0 || i64::from(last) != n as i64 - 1 {
            return Err(LlamaCppError::KvCache(format!(
                "sequence {seq_id} holds positions {first}..={last}, not 0..={}",
                n - 1
            )));
        }
        Ok(())
    }

    /// Ends a sequence with an error.
    fn fail(&mut self, seq: Sequence, error: LlamaCppError) {
        let _ = seq.job.events.send(Err(error.into()));
        self.release(seq.seq_id);
    }

    /// Sequences whose caller went away (dropped the stream) stop and free their slot.
    fn drop_abandoned(&mut self) {
        let mut i = 0;
        while i < self.active.len() {
            if self.active[i].job.events.is_closed() {
                let seq = self.active.swap_remove(i);
                self.release(seq.seq_id);
            } else {
                i += 1;
            }
        }
    }
}

/// Where llama.cpp's own state file goes while a session is written (next to the session
/// file) or read (in the temporary directory: the session's may be read-only).
fn scratch_path(session: &std::path::Path, beside: bool) -> PathBuf {
    let mut name = session.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}.state", std::process::id()));
    if beside {
        session.with_file_name(name)
    } else {
        std::env::temp_dir().join(name)
    }
}

/// How many tokens two sequences share from the start.
pub(crate) fn common_prefix(a: &[LlamaToken], b: &[LlamaToken]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

fn no_usable_slot() -> LlamaCppError {
    LlamaCppError::KvCache(
        "no sequence slot is usable: their KV caches could not be cleared".into(),
    )
}

/// Streams text, unless it may be a tool call (then the call watcher keeps it).
fn emit(seq: &mut Sequence, text: String) {
    let events = match seq.calls.as_mut() {
        None => return send_text(seq, text),
        Some(CallReader::Wire(watcher)) => {
            let text = watcher.push(&text);
            return send_text(seq, text);
        }
        Some(CallReader::Native(parser)) => parser.push(&text),
        Some(CallReader::Reasoning(splitter)) => pieces_as_events(splitter.push(&text)),
    };
    forward(seq, events);
}

fn pieces_as_events(pieces: Vec<slm_chat::formats::Piece>) -> Vec<slm_chat::FormatEvent> {
    use slm_chat::formats::Piece;
    pieces
        .into_iter()
        .map(|piece| match piece {
            Piece::Reasoning(t) => slm_chat::FormatEvent::Reasoning(t),
            Piece::Content(t) => slm_chat::FormatEvent::Text(t),
        })
        .collect()
}

/// Streams what a family's parser found: text, reasoning, and call pieces (a call withdrawn
/// as malformed comes back as text, which the parser emits after the withdrawal).
fn forward(seq: &mut Sequence, events: Vec<slm_chat::FormatEvent>) {
    use slm_chat::FormatEvent;
    for event in events {
        match event {
            FormatEvent::Text(text) => send_text(seq, text),
            FormatEvent::Reasoning(text) => {
                if text.is_empty() {
                    continue;
                }
                seq.reasoning.get_or_insert_default().push_str(&text);
                let _ = seq.job.events.send(Ok(ChatEvent::ReasoningDelta(text)));
            }
            FormatEvent::ToolCallStart { index, id, name } => {
                let _ = seq.job.events.send(Ok(ChatEvent::ToolCallDelta {
                    index,
                    id: Some(id),
                    name: Some(name),
                    arguments: String::new(),
                }));
            }
            FormatEvent::ToolCallArguments { index, fragment } => {
                let _ = seq.job.events.send(Ok(ChatEvent::ToolCallDelta {
                    index,
                    id: None,
                    name: None,
                    arguments: fragment,
                }));
            }
            FormatEvent::ToolCallAborted { index, reason } => {
                tracing::debug!(index, %reason, "a tool call was malformed; its text stays text");
            }
        }
    }
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
    let mut watcher = match seq.calls.take() {
        None => return Vec::new(),
        Some(CallReader::Wire(watcher)) => watcher,
        Some(CallReader::Native(parser)) => {
            let (events, parsed) = parser.finish();
            forward(seq, events);
            for problem in &parsed.problems {
                tracing::debug!(%problem, "text that looked like a tool call stays text");
            }
            return parsed.tool_calls;
        }
        Some(CallReader::Reasoning(mut splitter)) => {
            let events = pieces_as_events(splitter.finish());
            forward(seq, events);
            return Vec::new();
        }
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

/// How many draft tokens sequence `seq` can use this step: within the batch's `budget`, the
/// context, the tokens left to generate and what its [`speculative::Pacing`] allows; 0 when
/// it does not speculate, pauses drafting after misses, or its next tokens are forced.
fn draft_room(seq: &mut Sequence, budget: usize, context_length: u32) -> usize {
    // Spent every generating step, so that a pause counts steps.
    let paced = seq.pacing.next_step();
    if seq.max_draft == 0 || !seq.forced.is_empty() {
        return 0;
    }
    let left_in_context =
        usize::try_from(i64::from(context_length) - i64::from(seq.pos)).unwrap_or(0);
    let left_to_generate = seq
        .max_tokens
        .saturating_sub(seq.n_sampled.saturating_add(1)) as usize;
    budget.min(left_in_context).min(left_to_generate).min(paced)
}

/// Puts `proposal` (prompt-lookup or draft-model tokens) in the batch after the sequence's
/// next token (just added at `seq.pos - 1`), as its draft.
fn add_draft(batch: &mut LlamaBatch<'static>, seq: &mut Sequence, proposal: Vec<LlamaToken>) {
    for token in proposal {
        let pos = seq.pos + seq.draft.len() as i32;
        if batch.add(token, pos, &[seq.seq_id], true).is_err() {
            break;
        }
        seq.draft.push(token);
    }
}

fn response_of(seq: &Sequence, reason: FinishReason, model_id: &str) -> ChatResponse {
    let end = Instant::now();
    let first = seq.first_token_at.unwrap_or(end);
    let last = seq.last_token_at.unwrap_or(end);
    let prompt_tokens = seq.prompt.len() as u32;
    let cached = seq.n_prompt_cached as u32;
    let timings = Timings {
        prep: seq.prep,
        queue: seq.admitted.saturating_duration_since(seq.job.queued),
        send: Duration::ZERO,
        prompt_eval: seq.prompt_eval,
        time_to_first_token: first.saturating_duration_since(seq.job.started),
        total: end.saturating_duration_since(seq.job.started),
        prompt_tokens_per_second: Timings::rate(prompt_tokens - cached, seq.prompt_eval),
        decode_tokens_per_second: Timings::rate(
            seq.n_sampled.saturating_sub(1),
            last.saturating_duration_since(first),
        ),
        speculation: (seq.max_draft > 0).then_some(seq.speculation),
    };
    let mut message = Message::assistant(seq.text.clone());
    message.reasoning = seq.reasoning.clone();
    ChatResponse {
        message,
        finish_reason: reason,
        usage: Usage::new(prompt_tokens, seq.n_sampled).with_cached_prompt_tokens(cached),
        timings,
        model: model_id.to_string(),
        stages: Vec::new(),
        tool_call_issues: Vec::new(),
    }
}

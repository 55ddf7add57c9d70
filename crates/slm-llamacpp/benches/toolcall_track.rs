//! The SLM Swap tool-call track at batch 8, through our in-process model and through
//! llama.cpp's own `llama-server` on the same GGUF (SmolLM2-135M-Instruct, the real default
//! model), both driven by the same [`Runner`]: cases per second.
//!
//! Cases: the first 50 tool-call cases the bundled xLAM sample prepares, as `slm eval run`
//! asks them by default (free decoding, tools described in the prompt, calls written as
//! `<tool_call>` wrappers), except that the tool lines of all 50 (7 tools, sorted) move into the
//! system prompt, so every case shares the system prompt and the tools, as an agent's requests
//! do, and the user message is the request alone. Greedy, 128 new tokens at most, 8 requests
//! in flight; llama-server gets 8 parallel slots, the same threads and context per slot, and
//! keeps its prompt cache (on by default). Both sides render the GGUF's own chat template on
//! the same messages. (No `tools` field: llama-server ignores it for SmolLM2's template, which
//! has no tool section, and would then decode other prompts than ours.)
//!
//! Two measurements per side:
//! - `first_pass`, printed before criterion runs: a fresh model (a fresh server) asked the 50
//!   cases once, load time excluded: what `slm eval run` pays. Rounds interleave the sides;
//!   medians are printed.
//! - criterion's `warm` samples (its warm-up is one pass): the 50 cases again and again on the
//!   same model or server, whose caches hold what the previous pass left.
//!
//! ```text
//! SLM_LLAMA_SERVER=/path/to/llama-server cargo bench -p slm-llamacpp --bench toolcall_track
//! ```
//!
//! Without `SLM_LLAMA_SERVER` only our side runs. Environment: `SLM_BENCH_THREADS` (default 2),
//! `SLM_BENCH_ROUNDS` (first-pass rounds, default 3).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use slm_core::ChatModel;
use slm_eval::{Dataset, RunConfig, RunOutcome, Runner, Track};
use slm_llamacpp::{LlamaCppModel, LoadOptions};
use support::{LlamaServer, client_runtime, env_or, median, smollm2, threads, xlam_toolcall_cases};

mod support;

const CASES: usize = 50;
const BATCH: u32 = 8;
const MAX_TOKENS: u32 = 128;
const CONTEXT_PER_SLOT: u32 = 2048;

/// The 50 cases (each the request alone) and the system prompt that carries every tool.
fn dataset(dir: &Path) -> (Dataset, String) {
    let mut data = xlam_toolcall_cases(dir, CASES);
    let mut tool_lines = std::collections::BTreeSet::new();
    for case in &mut data.cases {
        // "<instruction>\nTools:\n- f(a:int): ...\n...\nRequest: <query>"
        let (head, request) = case
            .prompt
            .rsplit_once("\nRequest: ")
            .expect("a prepared tool-call prompt ends with the request");
        let (_, tools) = head.split_once("Tools:\n").expect("the tool lines");
        tool_lines.extend(tools.lines().map(str::to_string));
        case.prompt = format!("Request: {request}");
    }
    let lines: Vec<String> = tool_lines.into_iter().collect();
    let system = format!(
        "{}\nTools:\n{}",
        Track::Toolcall.system_prompt(),
        lines.join("\n")
    );
    (data, system)
}

fn config(system: &str) -> RunConfig {
    let mut config = RunConfig::new(Track::Toolcall);
    config.options.max_tokens = Some(MAX_TOKENS);
    config.concurrency = BATCH as usize;
    config.system_prompt = system.to_string();
    config
}

fn load_ours(path: &Path, threads: u32) -> LlamaCppModel {
    let options = LoadOptions::default()
        .with_threads(threads)
        .with_context_length(CONTEXT_PER_SLOT)
        .with_max_sequences(BATCH);
    LlamaCppModel::load(path, options).expect("load SmolLM2")
}

/// llama-server on `model`: 8 slots of the same context as ours, its own Jinja engine for the
/// GGUF's template.
fn start_server(binary: &Path, model: &Path, threads: u32) -> LlamaServer {
    let context = (BATCH * CONTEXT_PER_SLOT).to_string();
    let args = ["-np", &BATCH.to_string(), "-c", &context, "--jinja"];
    LlamaServer::start(binary, model, threads, &args)
}

/// Runs the 50 cases; panics on any case error, so both sides are timed on complete work.
fn run(
    rt: &tokio::runtime::Runtime,
    model: &dyn ChatModel,
    (data, system): &(Dataset, String),
) -> RunOutcome {
    let outcome = rt
        .block_on(Runner::new(config(system)).run(model, data, None, |_| {}))
        .expect("run");
    assert_eq!(outcome.ran, CASES);
    for row in &outcome.results {
        assert!(row.error.is_none(), "case {}: {:?}", row.index, row.error);
    }
    outcome
}

/// One line on a pass: time, cases/s, tokens, and how often the right tools were called.
fn describe(side: &str, elapsed: Duration, outcome: &RunOutcome) -> String {
    let (mut prompt, mut cached, mut completion, mut names) = (0, 0, 0, 0.0);
    for row in &outcome.results {
        prompt += row.usage.prompt_tokens;
        cached += row.usage.cached_prompt_tokens;
        completion += row.usage.completion_tokens;
        names += row.score.value("tool_name_accuracy").unwrap_or(0.0);
    }
    format!(
        "{side}: {CASES} cases in {elapsed:.2?} = {:.2} cases/s; {prompt} prompt tokens \
         ({cached} cached), {completion} completion tokens; tool_name_accuracy {:.3}",
        CASES as f64 / elapsed.as_secs_f64(),
        names / CASES as f64
    )
}

fn toolcall_track(c: &mut Criterion) {
    let (threads, rounds) = (threads(), env_or("SLM_BENCH_ROUNDS", 3).max(1));
    let (rt, path) = (client_runtime(), smollm2());
    let dir = tempfile::tempdir().unwrap();
    let data = dataset(dir.path());
    let server_binary = std::env::var_os("SLM_LLAMA_SERVER").map(PathBuf::from);

    // First passes on fresh models, the sides interleaved (their order alternating).
    let mut first: Vec<(&str, Vec<f64>)> = vec![("slm", Vec::new()), ("llama_server", Vec::new())];
    for round in 0..rounds {
        let mut order = vec![0, 1];
        if round % 2 == 1 {
            order.reverse();
        }
        for side in order {
            let (elapsed, outcome) = match (side, &server_binary) {
                (0, _) => {
                    let model = load_ours(&path, threads);
                    let start = Instant::now();
                    let outcome = run(&rt, &model, &data);
                    let elapsed = start.elapsed();
                    let stats = rt.block_on(model.stats()).expect("stats");
                    eprintln!(
                        "slm worker: {} decode calls for {} prompt + {} sampled tokens",
                        stats.decode_calls, stats.prompt_tokens_decoded, stats.tokens_generated
                    );
                    (elapsed, outcome)
                }
                (_, Some(binary)) => {
                    let server = start_server(binary, &path, threads);
                    let client = server.client();
                    let start = Instant::now();
                    let outcome = run(&rt, &client, &data);
                    (start.elapsed(), outcome)
                }
                (_, None) => continue,
            };
            eprintln!(
                "first pass, round {}: {}",
                round + 1,
                describe(first[side].0, elapsed, &outcome)
            );
            first[side].1.push(CASES as f64 / elapsed.as_secs_f64());
        }
    }
    for (side, rates) in &first {
        if !rates.is_empty() {
            eprintln!(
                "first pass median: {side} {:.2} cases/s over {} rounds",
                median(rates.clone()),
                rates.len()
            );
        }
    }
    if let [(_, ours), (_, theirs)] = &first[..]
        && !theirs.is_empty()
    {
        eprintln!(
            "first pass: slm / llama-server = {:.2}x",
            median(ours.clone()) / median(theirs.clone())
        );
    }

    // Warm passes: one model and one server, kept.
    let ours = load_ours(&path, threads);
    let server = server_binary
        .as_ref()
        .map(|binary| start_server(binary, &path, threads));
    let remote = server.as_ref().map(LlamaServer::client);
    let mut sides: Vec<(&str, &dyn ChatModel)> = vec![("slm", &ours)];
    if let Some(remote) = &remote {
        sides.push(("llama_server", remote));
    }
    let mut group = c.benchmark_group("toolcall_track_50_cases_batch_8");
    group
        .throughput(Throughput::Elements(CASES as u64))
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(60));
    for (name, model) in &sides {
        group.bench_function(format!("{name}/warm"), |b| {
            b.iter(|| run(&rt, *model, &data))
        });
    }
    group.finish();
}

criterion_group!(benches, toolcall_track);
criterion_main!(benches);

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
//! Two ways of asking (`SLM_TOOLCALL_MODE`):
//! - `free` (the default): free decoding, as above.
//! - `schema`: each case asks for its call as JSON, `{"name": …, "arguments": {…}}`, under a
//!   `json_schema` response format that is one of the 7 tools' call shapes (the same schema for
//!   every case), so both sides decode under a constraint from the first token: ours through
//!   llguidance, llama-server through its GBNF grammar sampler. Scored on the structured track
//!   against the reference call. (Not `tools` with `tool_choice: "required"`: llama-server's
//!   grammar for that lets free text come before the call, and SmolLM2 then writes prose.)
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
//! `SLM_BENCH_ROUNDS` (first-pass rounds, default 3), `SLM_TOOLCALL_MODE` (`free` or `schema`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};
use slm_core::{ChatModel, ToolSpec};
use slm_eval::{Dataset, RunConfig, RunOutcome, Runner, Track};
use slm_llamacpp::{LlamaCppModel, LoadOptions, close_schema};
use support::{LlamaServer, client_runtime, env_or, median, smollm2, threads, xlam_toolcall_cases};

mod support;

const CASES: usize = 50;
const BATCH: u32 = 8;
const MAX_TOKENS: u32 = 128;
const CONTEXT_PER_SLOT: u32 = 2048;

/// The 50 cases (each the request alone) and the system prompt that carries every tool; in
/// `schema` mode each case asks for its call as JSON under [`call_schema`].
fn dataset(dir: &Path, mode: Mode) -> (Dataset, String) {
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
    let instruction = match mode {
        Mode::Free => Track::Toolcall.system_prompt(),
        Mode::Schema => SCHEMA_INSTRUCTION,
    };
    let system = format!("{instruction}\nTools:\n{}", lines.join("\n"));
    if mode == Mode::Schema {
        let schema = call_schema(&data.cases.iter().flat_map(|c| &c.tools).collect::<Vec<_>>());
        for case in &mut data.cases {
            let calls = slm_core::wire::parse_tool_calls(&case.completion)
                .expect("a reference call in wrappers");
            let call = calls.first().expect("one reference call");
            case.completion = json!({"name": call.name, "arguments": call.arguments}).to_string();
            case.schema = Some(schema.clone());
            case.tools.clear();
        }
    }
    (data, system)
}

/// The system prompt's instruction in `schema` mode.
const SCHEMA_INSTRUCTION: &str = "You call tools. Answer with one call as JSON: \
    {\"name\": <tool name>, \"arguments\": {<argument name>: <value>, ...}}.";

/// The schema of one call of any of `tools` (each named once): one of their call shapes, a
/// constant name and the tool's parameter schema, closed as a forced call's is
/// ([`close_schema`]: JSON Schema allows undeclared properties by default, and llguidance
/// follows it; llama.cpp's grammar converter allows only the declared ones. Closed, both sides
/// decode under the same constraint.)
fn call_schema(tools: &[&ToolSpec]) -> Value {
    let mut seen = std::collections::BTreeMap::new();
    for tool in tools {
        seen.entry(tool.name.clone()).or_insert_with(|| {
            json!({
                "type": "object",
                "properties": {"name": {"const": tool.name}, "arguments": close_schema(&tool.parameters)},
                "required": ["name", "arguments"],
                "additionalProperties": false
            })
        });
    }
    json!({"oneOf": seen.into_values().collect::<Vec<_>>()})
}

/// How the cases ask for their calls (see the module's documentation).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Free,
    Schema,
}

impl Mode {
    fn from_env() -> Self {
        match std::env::var("SLM_TOOLCALL_MODE").as_deref() {
            Ok("schema") => Self::Schema,
            Ok("free") | Err(_) => Self::Free,
            Ok(other) => panic!("SLM_TOOLCALL_MODE is free or schema, not {other:?}"),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Free => "free",
            Self::Schema => "schema",
        }
    }
}

fn config(mode: Mode, system: &str) -> RunConfig {
    let mut config = RunConfig::new(match mode {
        Mode::Free => Track::Toolcall,
        Mode::Schema => Track::Structured,
    });
    config.constrained = mode == Mode::Schema;
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
    mode: Mode,
    (data, system): &(Dataset, String),
) -> RunOutcome {
    let outcome = rt
        .block_on(Runner::new(config(mode, system)).run(model, data, None, |_| {}))
        .expect("run");
    assert_eq!(outcome.ran, CASES);
    for row in &outcome.results {
        assert!(row.error.is_none(), "case {}: {:?}", row.index, row.error);
    }
    outcome
}

/// One line on a pass: time, cases/s, tokens, and how often the right tool was called.
fn describe(side: &str, elapsed: Duration, outcome: &RunOutcome, data: &Dataset) -> String {
    let (mut prompt, mut cached, mut completion, mut names) = (0, 0, 0, 0.0);
    for row in &outcome.results {
        prompt += row.usage.prompt_tokens;
        cached += row.usage.cached_prompt_tokens;
        completion += row.usage.completion_tokens;
        names += match row.score.value("tool_name_accuracy") {
            Some(value) => value,
            // Schema mode: the answer's "name" against the reference call's.
            None => {
                let name = |text: &str| {
                    serde_json::from_str::<Value>(text)
                        .ok()
                        .and_then(|v| v.get("name").cloned())
                };
                let expected = name(&data.cases[row.index].completion);
                f64::from(u8::from(
                    expected.is_some() && name(&row.prediction) == expected,
                ))
            }
        };
    }
    format!(
        "{side}: {CASES} cases in {elapsed:.2?} = {:.2} cases/s; {prompt} prompt tokens \
         ({cached} cached), {completion} completion tokens; right tool {:.3}",
        CASES as f64 / elapsed.as_secs_f64(),
        names / CASES as f64
    )
}

fn toolcall_track(c: &mut Criterion) {
    let (threads, rounds) = (threads(), env_or("SLM_BENCH_ROUNDS", 3).max(1));
    let (rt, path) = (client_runtime(), smollm2());
    let dir = tempfile::tempdir().unwrap();
    let mode = Mode::from_env();
    let data = dataset(dir.path(), mode);
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
                    let outcome = run(&rt, &model, mode, &data);
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
                    let outcome = run(&rt, &client, mode, &data);
                    (start.elapsed(), outcome)
                }
                (_, None) => continue,
            };
            eprintln!(
                "first pass, round {}: {}",
                round + 1,
                describe(first[side].0, elapsed, &outcome, &data.0)
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
    let mut group = c.benchmark_group(format!("toolcall_track_50_cases_batch_8_{}", mode.name()));
    group
        .throughput(Throughput::Elements(CASES as u64))
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(60));
    for (name, model) in &sides {
        group.bench_function(format!("{name}/warm"), |b| {
            b.iter(|| run(&rt, *model, mode, &data))
        });
    }
    group.finish();
}

criterion_group!(benches, toolcall_track);
criterion_main!(benches);

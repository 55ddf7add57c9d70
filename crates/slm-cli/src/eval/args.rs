//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use slm::ModelSpec;
use slm_eval::Track;

/// `slm eval` subcommands: evaluate a local SLM against a hosted LLM (structured JSON and tool
/// calling), compare them and decide whether to fine-tune.
#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Build structured/ and toolcall/ {train,val,test}.jsonl from an xLAM dump.
    Prepare(PrepareArgs),
    /// Run one model on a dataset; write per-case results (resumable) and a report.
    Run(RunArgs),
    /// Compare an LLM report with an SLM report; print FINE_TUNE=1 and exit 10 when the SLM
    /// trails by more than --delta on any core metric, else FINE_TUNE=0 and exit 0.
    Compare(CompareArgs),
    /// Run several models on one dataset side by side, redrawn after every case.
    Live(LiveArgs),
    /// Render reports side by side: a Markdown table, JUnit XML for CI, or (--html) one
    /// self-contained HTML page with charts and every case's answers.
    Report(ReportArgs),
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Report JSON files written by `run` or `live`.
    #[arg(required = true, num_args = 1..)]
    pub reports: Vec<PathBuf>,
    /// markdown (a table of every metric, one column per report) or junit (one test case per
    /// dataset case). Default: markdown, unless only --html is asked for.
    #[arg(long, value_parser = ["markdown", "junit"])]
    pub format: Option<String>,
    /// Write here instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also write one self-contained HTML page here (no network needed to view it): metrics
    /// with 95% bootstrap intervals, the FINE_TUNE decision when two reports of one track are
    /// given (the LLM first, then the SLM, as `compare --llm … --slm …`), latency and token
    /// histograms, cost, and each case's expected answer beside each model's. Answers come from
    /// the results files and the dataset the reports name, when they are found.
    #[arg(long, value_name = "PATH")]
    pub html: Option<PathBuf>,
    /// With --html: the allowed gap of the FINE_TUNE decision (as `compare --delta`).
    #[arg(long, default_value_t = 0.01)]
    pub delta: f64,
    /// With --html: bootstrap resamples of the intervals.
    #[arg(long, default_value_t = 2000)]
    pub resamples: usize,
    /// With --html: bootstrap seed of the intervals (the same seed gives the same page).
    #[arg(long = "bootstrap-seed", default_value_t = 42)]
    pub bootstrap_seed: u64,
}

#[derive(Debug, Args)]
pub struct PrepareArgs {
    /// The xLAM file (JSON array, {"data": [...]} or JSONL).
    #[arg(long = "dataset-path", alias = "xlam")]
    pub dataset_path: PathBuf,
    /// Output directory (gets structured/ and toolcall/).
    #[arg(long, default_value = "02_dataset")]
    pub out: PathBuf,
    /// Training rows.
    #[arg(long = "train-size", default_value_t = 32)]
    pub train: usize,
    /// Validation rows.
    #[arg(long = "val-size", default_value_t = 8)]
    pub val: usize,
    /// Test rows.
    #[arg(long = "test-size", default_value_t = 8)]
    pub test: usize,
    /// Shuffle seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

/// Where the cases come from and how they are asked.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Track: structured or toolcall (a suite sets its own).
    #[arg(long, required_unless_present = "suite")]
    pub track: Option<Track>,
    /// A benchmark suite instead of a dataset: `bfcl`, the Berkeley Function Calling
    /// Leaderboard's single-turn categories (Python, Java, JavaScript, live) from --bfcl-dir,
    /// asked as BFCL asks function-calling models and scored by its AST checker.
    #[arg(long, value_parser = ["bfcl"], conflicts_with_all = ["track", "data"])]
    pub suite: Option<String>,
    /// BFCL's data directory (BFCL_v4_<category>.json and possible_answer/).
    #[arg(long = "bfcl-dir", required_if_eq("suite", "bfcl"))]
    pub bfcl_dir: Option<PathBuf>,
    /// How BFCL's functions reach the model: `fc` (as tools; its native tool calls) or
    /// `prompt` (BFCL's system prompt; a Python list of calls as the answer).
    #[arg(long = "bfcl-mode", default_value = "fc")]
    pub bfcl_mode: slm_eval::bfcl::BfclMode,
    /// BFCL categories, comma-separated (simple_python, simple_java, simple_javascript,
    /// multiple, parallel, parallel_multiple, irrelevance, live_simple, live_multiple,
    /// live_parallel, live_parallel_multiple, live_irrelevance, live_relevance), or a group:
    /// `non_live`, `live`, `all`.
    #[arg(
        long,
        default_value = "simple_python,multiple,parallel,parallel_multiple,irrelevance"
    )]
    pub categories: String,
    /// Dataset JSONL; defaults to <dataset-dir>/<track>/<split>.jsonl.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Directory written by `prepare`.
    #[arg(long = "dataset-dir", default_value = "02_dataset")]
    pub dataset_dir: PathBuf,
    /// Split used with --dataset-dir.
    #[arg(long, default_value = "test")]
    pub split: String,
    /// Constrained decoding: JSON schema for structured cases, required tool calls for
    /// tool-call cases.
    #[arg(long)]
    pub constrained: bool,
    /// Maximum new tokens per answer.
    #[arg(long = "max-tokens", default_value_t = 512)]
    pub max_tokens: u32,
    /// Sampling temperature (0 = greedy).
    #[arg(long, default_value_t = 0.0)]
    pub temperature: f32,
    /// Sampling seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Requests in flight per model: 4 by default for remote models; for llamacpp models the
    /// number of sequences decoded together (default 8, the SLM Swap evaluation's batch size).
    #[arg(long, alias = "batch-size")]
    pub concurrency: Option<usize>,
    /// Context length per sequence of llamacpp models (default: the model's, at most 4096).
    #[arg(long = "ctx-size")]
    pub ctx_size: Option<u32>,
    /// Layers of llamacpp models offloaded to the GPU (GPU builds).
    #[arg(long = "gpu-layers", default_value_t = 0)]
    pub gpu_layers: u32,
    /// Price per million prompt and completion tokens, e.g. 2.5,10 for every model, or
    /// azure=2.5,10 for the model with that label or id. Repeatable.
    #[arg(long, value_parser = parse_priced)]
    pub price: Vec<Priced>,
    /// Energy price: watts while generating and price per kWh, e.g. 300,0.30, or
    /// phi-4-mini=300,0.30 for one model. Repeatable.
    #[arg(long, value_parser = parse_priced)]
    pub energy: Vec<Priced>,
    /// Rerun cases whose stored result is an error.
    #[arg(long = "retry-errors")]
    pub retry_errors: bool,
    /// Evaluate every prompt of llamacpp models whole (no prompt cache).
    #[arg(long = "no-prompt-cache")]
    pub no_prompt_cache: bool,
    /// Response cache directory: answers are stored under a key of the model's identity (its
    /// weights' sha256, or its endpoint and name) and the whole request, and a rerun takes them
    /// from there instead of asking the model. Default: `cache/` beside the reports.
    #[arg(long, conflicts_with = "no_cache")]
    pub cache: Option<PathBuf>,
    /// Ask the model every case, reading and writing no response cache.
    #[arg(long = "no-cache")]
    pub no_cache: bool,
}

impl EvalArgs {
    /// How to open the models: `--concurrency` is the local batch or the remote requests in
    /// flight; a download of a Hub model shows a progress bar.
    pub fn open_options(&self) -> slm::OpenOptions {
        slm::OpenOptions {
            parallel: self
                .concurrency
                .map(|c| c.clamp(1, u32::MAX as usize) as u32),
            context_length: self.ctx_size,
            gpu_layers: self.gpu_layers,
            no_prompt_cache: self.no_prompt_cache,
            on_download: Some(crate::model_args::download_progress()),
            ..Default::default()
        }
    }

    /// The response cache: none with `--no-cache`, else `--cache` or `cache/` in
    /// `reports_dir`.
    pub fn response_cache(
        &self,
        reports_dir: &std::path::Path,
    ) -> slm_eval::Result<Option<slm_eval::ResponseCache>> {
        if self.no_cache {
            return Ok(None);
        }
        let dir = self
            .cache
            .clone()
            .unwrap_or_else(|| reports_dir.join("cache"));
        slm_eval::ResponseCache::open(&dir).map(Some)
    }

    /// The track: the suite's, else `--track`.
    pub fn track(&self) -> Track {
        match (&self.suite, self.track) {
            (Some(_), _) => Track::Bfcl,
            (None, Some(track)) => track,
            // clap requires one of them.
            (None, None) => Track::Toolcall,
        }
    }

    pub fn dataset_path(&self) -> PathBuf {
        self.data.clone().unwrap_or_else(|| {
            self.dataset_dir
                .join(self.track().to_string())
                .join(format!("{}.jsonl", self.split))
        })
    }
}

/// A pair of numbers, for every model or for the model with a label or id.
#[derive(Debug, Clone)]
pub struct Priced {
    pub model: Option<String>,
    pub values: (f64, f64),
}

impl Priced {
    pub fn applies_to(&self, label: &str, id: &str) -> bool {
        self.model.as_deref().is_none_or(|m| m == label || m == id)
    }
}

fn parse_priced(text: &str) -> Result<Priced, String> {
    let (model, numbers) = match text.split_once('=') {
        Some((model, numbers)) => (Some(model.trim().to_string()), numbers),
        None => (None, text),
    };
    Ok(Priced {
        model,
        values: parse_pair(numbers)?,
    })
}

fn parse_pair(text: &str) -> Result<(f64, f64), String> {
    let (a, b) = text
        .split_once(',')
        .ok_or_else(|| format!("expected two numbers separated by a comma, got {text:?}"))?;
    let parse = |s: &str| {
        s.trim()
            .parse::<f64>()
            .map_err(|e| format!("{s:?}: {e}"))
            .and_then(|v| {
                if v.is_finite() && v >= 0.0 {
                    Ok(v)
                } else {
                    Err(format!("{s:?} must be a finite number >= 0"))
                }
            })
    };
    Ok((parse(a)?, parse(b)?))
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub eval: EvalArgs,
    /// The model: llamacpp:PATH.gguf, llamacpp:smollm2 (a known model),
    /// llamacpp:hf:OWNER/REPO:QUANT or llamacpp:hf:OWNER/REPO/FILE.gguf (Hugging Face Hub),
    /// azure, openai:URL#MODEL or replay:ANSWERS.jsonl.
    #[arg(long)]
    pub model: ModelSpec,
    /// Report JSON path (default 05_eval/<track>_<label>_<split>.json).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Per-case results JSONL (default: the report path with .results.jsonl).
    #[arg(long)]
    pub results: Option<PathBuf>,
    /// Do not draw a progress bar.
    #[arg(long = "no-progress")]
    pub no_progress: bool,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The LLM's report (the reference).
    #[arg(long, alias = "azure")]
    pub llm: PathBuf,
    /// The SLM's report.
    #[arg(long)]
    pub slm: PathBuf,
    /// Allowed gap on every core metric.
    #[arg(long)]
    pub delta: f64,
    /// Expected track (checked against the reports).
    #[arg(long)]
    pub track: Option<Track>,
    /// Bootstrap resamples.
    #[arg(long, default_value_t = 2000)]
    pub resamples: usize,
    /// Bootstrap seed.
    #[arg(long = "bootstrap-seed", default_value_t = 42)]
    pub bootstrap_seed: u64,
    /// Also write the comparison as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LiveArgs {
    #[command(flatten)]
    pub eval: EvalArgs,
    /// The models, side by side (the gap column is first minus second).
    #[arg(long, num_args = 1.., required = true)]
    pub models: Vec<ModelSpec>,
    /// Save each model's results and report into this directory (05_eval by convention).
    #[arg(long)]
    pub save: Option<PathBuf>,
}

//! The "SLM Swap" evaluation end to end: prepare the Structured-JSON and Tool-calling tracks
//! from xLAM-format rows, evaluate the local SLM and a reference LLM on both, compare them, and
//! print the fine-tune decision (`FINE_TUNE=1` when the SLM trails by more than the delta).
//!
//! Offline by default:
//! - the data is `examples/data/xlam_sample.json` (a small synthetic set in xLAM's format; pass
//!   the path of the real `xlam_function_calling_60k.json` as the first argument instead);
//! - the SLM is the local model (the default real model, SmolLM2-135M-Instruct, or
//!   `SLM_MODEL_PATH`), run twice: free, and with constrained decoding (its JSON parses and
//!   validates, its tool calls name real tools with declared arguments), so the report shows
//!   what constraints buy a small model;
//! - the reference "LLM" is an oracle replaying the gold completions, unless AZURE_* variables
//!   (or `SLM_OPENAI_SPEC=openai:http://host:port/v1#model`) name a real one.
//!
//! ```text
//! cargo run --release --example eval_tracks
//! SLM_MODEL_PATH=phi-4-mini-q4_0.gguf AZURE_ENDPOINT=... AZURE_API_KEY=... \
//!   AZURE_API_VERSION=2024-05-01-preview AZURE_DEPLOYMENT=chat \
//!   cargo run --release --example eval_tracks -- raw_xlam/xlam_function_calling_60k.json
//! ```
//! The `slm eval` command does the same step by step (`prepare`, `run`, `compare`, `live`).

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use slm::core::ChatModel;
use slm::eval::xlam::{self, SplitSpec};
use slm::eval::{
    CompareOptions, Comparison, Dataset, ReplayModel, Report, RunConfig, Runner, Track,
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let data_path = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/data/xlam_sample.json")
        });
    let work = tempfile::tempdir()?;
    let small = std::env::var_os("SLM_EXAMPLE_SMALL").is_some();
    let split = SplitSpec {
        test: if small { 4 } else { 8 },
        ..SplitSpec::default()
    };
    let rows = xlam::read_rows(&data_path)?;
    let summary = xlam::prepare(&rows, work.path(), split)?;
    println!(
        "prepared {} usable of {} rows from {} (split {}/{}/{}, seed {})\n",
        summary.usable,
        summary.rows,
        data_path.display(),
        split.train,
        split.val,
        split.test,
        split.seed
    );

    let local = common::local_model_path()?;
    common::announce(&local);
    let slm: Arc<dyn ChatModel> = Arc::new(common::load_local(&local, 4096)?);
    let remote = common::remote_models()?.into_iter().next();

    for track in Track::ALL {
        let test = Dataset::load(work.path().join(format!("{track}/test.jsonl")))?;
        let llm: Arc<dyn ChatModel> = match &remote {
            Some(m) => m.clone(),
            None => Arc::new(ReplayModel::from_pairs(
                "oracle (gold completions)",
                test.cases
                    .iter()
                    .map(|c| (c.prompt.clone(), c.completion.clone())),
            )),
        };
        let runs = [
            (&llm, false, "reference"),
            (&slm, false, "SLM free"),
            (&slm, true, "SLM constrained"),
        ];
        let mut reports = Vec::new();
        for (i, (model, constrained, _)) in runs.iter().enumerate() {
            let mut config = RunConfig::new(track);
            config.constrained = *constrained;
            config.options.max_tokens = Some(if small { 96 } else { 256 });
            config.concurrency = if model.capabilities().batching { 8 } else { 4 };
            let results = work.path().join(format!("{track}-{i}.results.jsonl"));
            let outcome = Runner::new(config.clone())
                .run(model.as_ref(), &test, Some(&results), |_| {})
                .await?;
            reports.push(Report::build(
                &config,
                model.id(),
                None,
                model.capabilities(),
                &test,
                &outcome.results,
                Some(&results),
            ));
        }
        for (report, (_, _, label)) in reports.iter().zip(&runs).skip(1) {
            let comparison = Comparison::new(&reports[0], report, CompareOptions::new(0.01))?;
            println!("== {track} track: {label} vs {} ==", runs[0].2);
            print!("{}", comparison.render_table());
            println!("{}\n", comparison.decision_line());
        }
    }
    if local.is_demo {
        println!(
            "(Random-weight demo SLM: expect FINE_TUNE=1. Constrained decoding still makes its JSON parse.)"
        );
    }
    Ok(())
}

//! `slm-eval`: prepare, run, compare, live. See `slm-eval --help`.

mod cli;
mod models;
mod telemetry;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use slm_core::{CostModel, Price};
use slm_eval::xlam::{self, SplitSpec};
use slm_eval::{
    CompareOptions, Comparison, Dataset, LiveModel, LiveTerminal, Report, RunConfig, Runner,
    validate_dataset,
};

use cli::{Cli, Command, CompareArgs, EvalArgs, LiveArgs, PrepareArgs, RunArgs};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let _telemetry = telemetry::init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            Command::Prepare(args) => prepare(args),
            Command::Run(args) => run(args).await,
            Command::Compare(args) => compare(args),
            Command::Live(args) => live(args).await,
        }
    });
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn prepare(args: PrepareArgs) -> Result<u8> {
    let rows = xlam::read_rows(&args.dataset_path)?;
    let split = SplitSpec {
        train: args.train,
        val: args.val,
        test: args.test,
        seed: args.seed,
    };
    let summary = xlam::prepare(&rows, &args.out, split)?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(0)
}

/// The run configuration; `models` are the (label, id) pairs the prices may name.
fn run_config(eval: &EvalArgs, models: &[(String, String)]) -> RunConfig {
    let mut config = RunConfig::new(eval.track);
    config.options.max_tokens = Some(eval.max_tokens);
    config.options.temperature = Some(eval.temperature);
    config.options.seed = Some(eval.seed);
    config.constrained = eval.constrained;
    config.retry_errors = eval.retry_errors;
    let mut costs = CostModel::new();
    for (label, id) in models {
        let mut price = Price::default();
        for p in eval.price.iter().filter(|p| p.applies_to(label, id)) {
            (price.input_per_million, price.output_per_million) = p.values;
        }
        for e in eval.energy.iter().filter(|e| e.applies_to(label, id)) {
            (price.watts, price.per_kwh) = e.values;
        }
        costs = costs.price(id.clone(), price);
    }
    config.costs = costs;
    config
}

fn load_dataset(eval: &EvalArgs) -> Result<Dataset> {
    let path = eval.dataset_path();
    let dataset = Dataset::load(&path)?;
    validate_dataset(&dataset, eval.track)?;
    Ok(dataset)
}

async fn run(args: RunArgs) -> Result<u8> {
    let dataset = load_dataset(&args.eval)?;
    let built = models::build(&args.model, args.eval.model_options())
        .await
        .with_context(|| format!("building model {}", args.model))?;
    let model = built.model;
    let mut config = run_config(&args.eval, &[(args.model.label(), model.id().to_string())]);
    config.concurrency = built.concurrency;
    config.progress = !args.no_progress;
    let out = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("05_eval").join(format!(
            "{}_{}_{}.json",
            args.eval.track,
            args.model.label(),
            args.eval.split
        ))
    });
    let results = args
        .results
        .clone()
        .unwrap_or_else(|| out.with_extension("results.jsonl"));
    let outcome = Runner::new(config.clone())
        .run(model.as_ref(), &dataset, Some(&results), |_| {})
        .await?;
    let spec = args.model.to_string();
    let report = Report::build(
        &config,
        model.id(),
        Some(&spec),
        model.capabilities(),
        &dataset,
        &outcome.results,
        Some(&results),
    );
    report.save(&out)?;
    eprintln!(
        "{}: {} cases ({} resumed, {} run, {} errors) -> {}",
        model.id(),
        report.cases.completed,
        outcome.resumed,
        outcome.ran,
        report.cases.errors,
        out.display()
    );
    println!("{}", serde_json::to_string_pretty(&report.metrics)?);
    Ok(0)
}

fn compare(args: CompareArgs) -> Result<u8> {
    let llm = Report::load(&args.llm)?;
    let slm = Report::load(&args.slm)?;
    if let Some(track) = args.track {
        anyhow::ensure!(
            llm.track == track && slm.track == track,
            "--track {track} but the reports are {} and {}",
            llm.track,
            slm.track
        );
    }
    let mut options = CompareOptions::new(args.delta);
    options.resamples = args.resamples;
    options.seed = args.bootstrap_seed;
    let span = tracing::info_span!(
        "eval.compare",
        track = %llm.track,
        llm = %args.llm.display(),
        slm = %args.slm.display(),
        delta = args.delta,
        fine_tune = tracing::field::Empty,
    );
    let _entered = span.enter();
    let comparison = Comparison::new(&llm, &slm, options)?;
    span.record("fine_tune", comparison.fine_tune);
    eprint!("{}", comparison.render_table());
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&comparison)?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
    }
    tracing::info!(fine_tune = comparison.fine_tune, "compare decision");
    println!("{}", comparison.decision_line());
    Ok(comparison.exit_code() as u8)
}

async fn live(args: LiveArgs) -> Result<u8> {
    let dataset = load_dataset(&args.eval)?;
    let mut built = Vec::new();
    for spec in &args.models {
        let model = models::build(spec, args.eval.model_options())
            .await
            .with_context(|| format!("building model {spec}"))?;
        built.push((spec, model));
    }
    let ids: Vec<(String, String)> = built
        .iter()
        .map(|(spec, m)| (spec.label(), m.model.id().to_string()))
        .collect();
    let config = run_config(&args.eval, &ids);
    let lanes: Vec<LiveModel<'_>> = built
        .iter()
        .map(|(spec, built)| LiveModel {
            label: spec.label(),
            spec: Some(spec.to_string()),
            model: built.model.as_ref(),
            concurrency: built.concurrency,
        })
        .collect();
    let mut terminal = LiveTerminal::stdout();
    let reports = slm_eval::run_live(
        &lanes,
        &dataset,
        &config,
        args.save.as_deref(),
        &mut terminal,
    )
    .await?;
    if let Some(dir) = &args.save {
        eprintln!("saved {} reports under {}", reports.len(), dir.display());
    }
    Ok(0)
}

//! `slm eval`: prepare, run, compare, live (the SLM Swap workflow). See `slm eval --help`.

mod args;
mod live_view;
mod progress;

use std::path::PathBuf;

use anyhow::{Context, Result};
use slm_core::{CostModel, Price};
use slm_eval::bfcl::{self, BfclSummary};
use slm_eval::xlam::{self, SplitSpec};
use slm_eval::{
    CompareOptions, Comparison, Dataset, LiveModel, Report, RunConfig, Runner, validate_dataset,
};

pub use args::EvalCommand;
use args::{CompareArgs, EvalArgs, LiveArgs, PrepareArgs, ReportArgs, RunArgs};

/// Runs an `slm eval` subcommand; the exit code is 10 when `compare` decides to fine-tune.
pub async fn run(command: EvalCommand) -> Result<u8> {
    match command {
        EvalCommand::Prepare(args) => prepare(args),
        EvalCommand::Run(args) => run_one(args).await,
        EvalCommand::Compare(args) => compare(args),
        EvalCommand::Live(args) => live(args).await,
        EvalCommand::Report(args) => report(args),
    }
}

fn report(args: ReportArgs) -> Result<u8> {
    let mut reports = args
        .reports
        .iter()
        .map(|path| Report::load(path))
        .collect::<Result<Vec<_>, _>>()?;
    // Reports of one model (two runs, two options) are told apart by their file names.
    let ids: Vec<String> = reports.iter().map(|r| r.model.id.clone()).collect();
    for (report, path) in reports.iter_mut().zip(&args.reports) {
        if ids.iter().filter(|id| **id == report.model.id).count() > 1 {
            let file = path.file_stem().unwrap_or_default().to_string_lossy();
            report.model.id = format!("{} ({file})", report.model.id);
        }
    }
    if let Some(path) = &args.html {
        let details = slm_eval::render::ReportDetails::load(&reports, &args.reports);
        for note in &details.notes {
            eprintln!("note: {note}");
        }
        let mut options = CompareOptions::new(args.delta);
        options.resamples = args.resamples;
        options.seed = args.bootstrap_seed;
        let page = slm_eval::render::html(&reports, &details, &options)?;
        std::fs::write(path, page).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
        // --html alone writes the page only.
        if args.format.is_none() && args.out.is_none() {
            return Ok(0);
        }
    }
    let text = match args.format.as_deref() {
        Some("junit") => slm_eval::render::junit(&reports),
        _ => slm_eval::render::markdown(&reports),
    };
    match &args.out {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?
        }
        None => print!("{text}"),
    }
    Ok(0)
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
    let mut config = RunConfig::new(eval.track());
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
    if let Some(dir) = &eval.bfcl_dir
        && eval.suite.is_some()
    {
        let categories = bfcl::parse_categories(&eval.categories)?;
        return Ok(bfcl::dataset(dir, &categories, eval.bfcl_mode)?);
    }
    let path = eval.dataset_path();
    let dataset = Dataset::load(&path)?;
    validate_dataset(&dataset, eval.track())?;
    Ok(dataset)
}

/// BFCL's per-category accuracies and its summaries, on stderr.
fn print_bfcl_summary(report: &Report) {
    let summary = BfclSummary::of_report(report);
    let mut table = crate::table::new(&["BFCL category", "accuracy"]);
    for (category, accuracy) in &summary.categories {
        table.add_row(vec![
            comfy_table::Cell::new(category.name()),
            crate::table::num(format!("{:.2}%", accuracy * 100.0)),
        ]);
    }
    if let Some(ast) = summary.non_live_ast {
        table.add_row(vec![
            comfy_table::Cell::new("non-live AST (unweighted mean)"),
            crate::table::num(format!("{:.2}%", ast * 100.0)),
        ]);
    }
    if let Some(ast) = summary.live_ast {
        table.add_row(vec![
            comfy_table::Cell::new("live AST (weighted by cases)"),
            crate::table::num(format!("{:.2}%", ast * 100.0)),
        ]);
    }
    eprintln!("{table}");
}

async fn run_one(args: RunArgs) -> Result<u8> {
    let dataset = load_dataset(&args.eval)?;
    let opened = slm::open(&args.model, &args.eval.open_options())
        .await
        .with_context(|| format!("opening model {}", args.model))?;
    let model = opened.model;
    let mut config = run_config(&args.eval, &[(args.model.label(), model.id().to_string())]);
    config.concurrency = opened.concurrency;
    let out = args.out.clone().unwrap_or_else(|| {
        let name = match &args.eval.suite {
            Some(suite) => format!("{suite}_{}.json", args.model.label()),
            None => format!(
                "{}_{}_{}.json",
                args.eval.track(),
                args.model.label(),
                args.eval.split
            ),
        };
        PathBuf::from("05_eval").join(name)
    });
    let results = args
        .results
        .clone()
        .unwrap_or_else(|| out.with_extension("results.jsonl"));
    config.cache = args
        .eval
        .response_cache(out.parent().unwrap_or(std::path::Path::new(".")))?;
    let outcome = Runner::new(config.clone())
        .run_observed(
            model.as_ref(),
            &dataset,
            Some(&results),
            progress::ProgressObserver::new(!args.no_progress),
        )
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
    if report.track == slm_eval::Track::Bfcl {
        print_bfcl_summary(&report);
    }
    if let Some(why) = &outcome.cache_skipped {
        eprintln!("responses not cached: {why}");
    }
    eprintln!(
        "{}: {} cases ({} resumed, {} run: {} from the cache, {} model calls; {} errors) -> {}",
        model.id(),
        report.cases.completed,
        outcome.resumed,
        outcome.ran,
        outcome.from_cache,
        outcome.model_calls(),
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
        let model = slm::open(spec, &args.eval.open_options())
            .await
            .with_context(|| format!("opening model {spec}"))?;
        built.push((spec, model));
    }
    let ids: Vec<(String, String)> = built
        .iter()
        .map(|(spec, m)| (spec.label(), m.model.id().to_string()))
        .collect();
    let mut config = run_config(&args.eval, &ids);
    let reports_dir = args
        .save
        .clone()
        .unwrap_or_else(|| PathBuf::from("05_eval"));
    config.cache = args.eval.response_cache(&reports_dir)?;
    let lanes: Vec<LiveModel<'_>> = built
        .iter()
        .map(|(spec, built)| LiveModel {
            label: spec.label(),
            spec: Some(spec.to_string()),
            model: built.model.as_ref(),
            concurrency: built.concurrency,
        })
        .collect();
    let mut view = live_view::LiveView::stdout();
    let reports = slm_eval::run_live(&lanes, &dataset, &config, args.save.as_deref(), |board| {
        view.draw(board)
    })
    .await?;
    view.finish();
    if let Some(dir) = &args.save {
        eprintln!("saved {} reports under {}", reports.len(), dir.display());
    }
    Ok(0)
}

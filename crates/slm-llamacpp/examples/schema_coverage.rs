//! Schema coverage on JSONSchemaBench's MaskBench schemas (github.com/guidance-ai/jsonschemabench,
//! `maskbench/data/*.json`, 11,306 real-world schemas with valid and invalid test instances),
//! for both schema backends:
//!
//! - **MaskBench's own measure**: does the schema compile, and does the constraint allow every
//!   token of each valid instance and refuse some token of each invalid one? ("passing" =
//!   compiled with no test wrong; "validation error" = a valid instance refused, the backend
//!   over-constrains; "invalidation error" = an invalid instance allowed, it under-constrains.)
//!   Instances are laid out as MaskBench does (Python's `json.dumps`: `", "` and `": "`).
//!   We also count invalid instances allowed as *whole answers* (every token allowed and the
//!   answer may end there), the stricter reading of under-constraint.
//! - **Generated answers**: a constrained greedy answer of the tiny random-weight test model,
//!   checked with the `jsonschema` crate. A random model writes long strings and digits, so
//!   answers may hit the token limit ("truncated") or hold numbers past what serde_json keeps
//!   exactly ("out of range": exponents past f64, which serde_json refuses, and integers past
//!   64 bits, which it turns into floats that `jsonschema` no longer counts as integers); those
//!   are counted apart from complete answers that fail the schema (a constraint bug, or a
//!   difference between the backend's and `jsonschema`'s reading of a format or regex).
//!
//! ```text
//! cargo run --release -p slm-llamacpp --example schema_coverage -- <maskbench/data> \
//!     [--every N] [--max-tokens N] [--backend llguidance|llama-cpp] [--list-failures]
//! ```
//!
//! Both backends run at once (each model has its own worker thread). `SLM_TRACE_FILES=1` prints
//! each schema's file name before it is tried, to find one that takes down the process (that
//! is how a schema that made llama.cpp's converter overflow the stack was found).

use std::io;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::Value;
use serde_json::ser::Formatter;
use slm_core::{ChatModel, ChatRequest, Error, FinishReason, GenerationOptions, ResponseFormat};
use slm_llamacpp::testing::{TestModelSpec, write_test_model};
use slm_llamacpp::{LlamaCppError, LlamaCppModel, LoadOptions, SchemaBackend};

/// What one backend did on the schema set.
#[derive(Default, Debug)]
struct Tally {
    schemas: usize,
    compile_errors: usize,
    passing: usize,
    validation_errors: usize,
    invalidation_errors: usize,
    valid_tests: usize,
    valid_accepted: usize,
    invalid_tests: usize,
    /// Invalid instances whose every token was refused somewhere (MaskBench's rule).
    invalid_refused: usize,
    /// Invalid instances allowed as whole answers (every token, and the end).
    invalid_accepted_whole: usize,
    answers_valid: usize,
    answers_truncated: usize,
    answers_out_of_range: usize,
    answers_invalid: usize,
    /// Complete answers the `jsonschema` crate cannot judge (it cannot compile the schema).
    answers_unjudged: usize,
    failures: Vec<String>,
}

struct Args {
    dir: PathBuf,
    every: usize,
    max_tokens: u32,
    backends: Vec<SchemaBackend>,
    list_failures: bool,
}

fn parse_args() -> anyhow::Result<Args> {
    let usage = "usage: schema_coverage <maskbench/data> [--every N] [--max-tokens N] \
                 [--backend llguidance|llama-cpp] [--list-failures]";
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().ok_or_else(|| anyhow::anyhow!(usage))?);
    let mut parsed = Args {
        dir,
        every: 1,
        max_tokens: 512,
        backends: vec![SchemaBackend::Llguidance, SchemaBackend::LlamaCpp],
        list_failures: false,
    };
    while let Some(a) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| anyhow::anyhow!("{a} needs a value"))
        };
        match a.as_str() {
            "--every" => parsed.every = value()?.parse()?,
            "--max-tokens" => parsed.max_tokens = value()?.parse()?,
            "--backend" => {
                parsed.backends = vec![match value()?.as_str() {
                    "llguidance" => SchemaBackend::Llguidance,
                    "llama-cpp" => SchemaBackend::LlamaCpp,
                    other => anyhow::bail!("unknown backend {other}; {usage}"),
                }]
            }
            "--list-failures" => parsed.list_failures = true,
            other => anyhow::bail!("unknown argument {other}; {usage}"),
        }
    }
    Ok(parsed)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(&args.dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let files: Vec<PathBuf> = files.into_iter().step_by(args.every.max(1)).collect();
    let model_dir = tempfile::tempdir()?;
    let path = model_dir.path().join("tiny.gguf");
    write_test_model(&path, &TestModelSpec::tiny())?;

    let runs = args.backends.iter().map(|&backend| {
        let (files, path) = (files.clone(), path.clone());
        let max_tokens = args.max_tokens;
        tokio::spawn(async move {
            let started = Instant::now();
            let tally = run_backend(backend, &path, &files, max_tokens).await;
            (backend, tally, started.elapsed())
        })
    });
    let results = futures::future::join_all(runs).await;
    println!(
        "| backend | schemas | compiled | passing | validation errors | invalidation errors | valid tests allowed | invalid tests refused | invalid allowed whole | answers valid | truncated | numbers out of range | invalid | wall |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for result in results {
        let (backend, tally, elapsed) = result?;
        let t = tally?;
        let compiled = t.schemas - t.compile_errors;
        println!(
            "| {backend:?} | {} | {} ({}) | {} ({}) | {} | {} | {}/{} ({}) | {}/{} ({}) | {} | {}/{} ({}) | {} | {} | {} | {:.0} s |",
            t.schemas,
            compiled,
            percent(compiled, t.schemas),
            t.passing,
            percent(t.passing, t.schemas),
            t.validation_errors,
            t.invalidation_errors,
            t.valid_accepted,
            t.valid_tests,
            percent(t.valid_accepted, t.valid_tests),
            t.invalid_refused,
            t.invalid_tests,
            percent(t.invalid_refused, t.invalid_tests),
            t.invalid_accepted_whole,
            t.answers_valid,
            t.answers_valid + t.answers_invalid,
            percent(t.answers_valid, t.answers_valid + t.answers_invalid),
            t.answers_truncated,
            t.answers_out_of_range,
            t.answers_invalid,
            elapsed.as_secs_f64(),
        );
        if t.answers_unjudged > 0 {
            println!(
                "  {backend:?}: {} complete answers not judged (the jsonschema crate cannot compile their schema)",
                t.answers_unjudged
            );
        }
        if args.list_failures {
            for failure in &t.failures {
                println!("  {backend:?}: {failure}");
            }
        }
    }
    Ok(())
}

fn percent(part: usize, whole: usize) -> String {
    format!("{:.1}%", 100.0 * part as f64 / whole.max(1) as f64)
}

async fn run_backend(
    backend: SchemaBackend,
    model_path: &Path,
    files: &[PathBuf],
    max_tokens: u32,
) -> anyhow::Result<Tally> {
    let options = LoadOptions::default()
        .with_context_length(4096)
        .with_schema_backend(backend);
    let model = LlamaCppModel::load(model_path, options)?;
    let mut t = Tally::default();
    for (i, file) in files.iter().enumerate() {
        if i % 1000 == 999 {
            eprintln!("{backend:?}: {} of {} schemas", i + 1, files.len());
        }
        if std::env::var_os("SLM_TRACE_FILES").is_some() {
            eprintln!("{backend:?} {}", file.display());
        }
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(file)?)?;
        let Some(schema) = doc.get("schema") else {
            continue;
        };
        let name = file.file_name().unwrap_or_default().to_string_lossy();
        t.schemas += 1;
        let format = ResponseFormat::json_schema("s", schema.clone());
        let tests = doc["tests"].as_array().cloned().unwrap_or_default();
        if !check_tests(&model, &format, &tests, &name, &mut t).await? {
            continue;
        }
        generate(&model, &format, schema, max_tokens, &name, &mut t).await?;
    }
    Ok(t)
}

/// MaskBench's check of one schema's test instances; false when the schema does not compile.
async fn check_tests(
    model: &LlamaCppModel,
    format: &ResponseFormat,
    tests: &[Value],
    name: &str,
    t: &mut Tally,
) -> anyhow::Result<bool> {
    // A schema without tests still has to compile.
    let probe = model.check_constraint(format, "{}").await;
    if let Err(LlamaCppError::Schema(_) | LlamaCppError::Grammar(_)) = probe {
        t.compile_errors += 1;
        return Ok(false);
    }
    probe?;
    // MaskBench keeps one error per schema, the last wrong test's; count the same way.
    let mut last_wrong: Option<bool> = None;
    for test in tests {
        let instance = python_json(&test["data"])?;
        let check = model.check_constraint(format, &instance).await?;
        let allowed = check.is_prefix_of(instance.len());
        if test["valid"].as_bool() == Some(true) {
            t.valid_tests += 1;
            if allowed {
                t.valid_accepted += 1;
            } else {
                last_wrong = Some(true);
                t.failures.push(format!(
                    "{name}: valid instance refused at byte {}: {instance}",
                    check.valid_up_to
                ));
            }
        } else {
            t.invalid_tests += 1;
            if allowed {
                last_wrong = Some(false);
                t.failures
                    .push(format!("{name}: invalid instance allowed: {instance}"));
            } else {
                t.invalid_refused += 1;
            }
            if check.accepted() {
                t.invalid_accepted_whole += 1;
            }
        }
    }
    match last_wrong {
        None => t.passing += 1,
        Some(true) => t.validation_errors += 1,
        Some(false) => t.invalidation_errors += 1,
    }
    Ok(true)
}

/// A constrained greedy answer of the random test model, judged by the `jsonschema` crate.
async fn generate(
    model: &LlamaCppModel,
    format: &ResponseFormat,
    schema: &Value,
    max_tokens: u32,
    name: &str,
    t: &mut Tally,
) -> anyhow::Result<()> {
    let request = ChatRequest::builder()
        .user("JSON")
        .response_format(format.clone())
        .options(GenerationOptions::deterministic().with_max_tokens(max_tokens))
        .build();
    let answer = match model.chat(request).await {
        Ok(answer) => answer,
        // The test instances compiled the same schema already; report, don't abort.
        Err(Error::InvalidRequest(e, ..)) => {
            t.failures.push(format!("{name}: generation refused: {e}"));
            return Ok(());
        }
        Err(e) => anyhow::bail!("{name}: {e}"),
    };
    if answer.finish_reason == FinishReason::Length {
        t.answers_truncated += 1;
        return Ok(());
    }
    let value: Value = match serde_json::from_str(answer.text()) {
        Ok(value) => value,
        Err(e) if e.to_string().contains("number out of range") => {
            t.answers_out_of_range += 1;
            return Ok(());
        }
        Err(e) => {
            t.answers_invalid += 1;
            t.failures.push(format!(
                "{name}: answer is not JSON ({e}): {}",
                answer.text()
            ));
            return Ok(());
        }
    };
    if has_number_past_64_bits(&value) {
        // serde_json keeps such an integer only as an f64, which `jsonschema` does not count
        // as an integer: a limit of the checker's number type, not of the constraint.
        t.answers_out_of_range += 1;
        return Ok(());
    }
    let Ok(validator) = jsonschema::validator_for(schema) else {
        t.answers_unjudged += 1;
        return Ok(());
    };
    match validator.iter_errors(&value).next() {
        None => t.answers_valid += 1,
        Some(error) => {
            t.answers_invalid += 1;
            t.failures.push(format!(
                "{name}: answer fails the schema ({error} at {}): {}",
                error.instance_path,
                answer.text()
            ));
        }
    }
    Ok(())
}

/// Whether an integer literal in the answer was too long for i64/u64 (serde_json then holds
/// it as an f64).
fn has_number_past_64_bits(value: &Value) -> bool {
    match value {
        Value::Number(n) => {
            n.as_f64()
                .is_some_and(|f| f.abs() >= 9.2e18 && f.fract() == 0.0)
                && !n.is_i64()
                && !n.is_u64()
        }
        Value::Array(items) => items.iter().any(has_number_past_64_bits),
        Value::Object(map) => map.values().any(has_number_past_64_bits),
        _ => false,
    }
}

/// JSON laid out as Python's `json.dumps(value, ensure_ascii=False)`, which is how MaskBench
/// feeds its instances (property order kept: serde_json's `preserve_order` is on).
fn python_json(value: &Value) -> io::Result<String> {
    struct PythonStyle;
    impl Formatter for PythonStyle {
        fn begin_array_value<W: ?Sized + io::Write>(
            &mut self,
            w: &mut W,
            first: bool,
        ) -> io::Result<()> {
            if first { Ok(()) } else { w.write_all(b", ") }
        }
        fn begin_object_key<W: ?Sized + io::Write>(
            &mut self,
            w: &mut W,
            first: bool,
        ) -> io::Result<()> {
            self.begin_array_value(w, first)
        }
        fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
            w.write_all(b": ")
        }
    }
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, PythonStyle);
    serde::Serialize::serialize(value, &mut serializer)?;
    String::from_utf8(out).map_err(io::Error::other)
}

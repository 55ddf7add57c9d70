//! Schema coverage on JSONSchemaBench's MaskBench schemas (github.com/guidance-ai/jsonschemabench,
//! `maskbench/data/*.json`): for each schema and backend, whether it compiles, and whether a
//! constrained greedy answer of the tiny random-weight test model parses and validates.
//!
//! ```text
//! cargo run --release -p slm-llamacpp --example schema_coverage -- <maskbench/data> [--every N] [--max-tokens N]
//! ```
//!
//! A random model writes long strings, so answers may hit the token limit before the schema
//! closes: those are counted apart ("truncated") from answers that are complete but invalid
//! (which would be a constraint bug).

use std::path::PathBuf;

use serde_json::Value;
use slm_core::{ChatModel, ChatRequest, Error, FinishReason, GenerationOptions, ResponseFormat};
use slm_llamacpp::testing::{TestModelSpec, write_test_model};
use slm_llamacpp::{LlamaCppModel, LoadOptions, SchemaBackend};

#[derive(Default, Debug)]
struct Tally {
    schemas: usize,
    compiled: usize,
    valid: usize,
    truncated: usize,
    invalid: usize,
    /// Complete answers the `jsonschema` crate cannot judge (it cannot compile the schema).
    unjudged: usize,
    invalid_names: Vec<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(
        args.next()
            .expect("usage: schema_coverage <maskbench/data> [--every N] [--max-tokens N]"),
    );
    let (mut every, mut max_tokens) = (1usize, 512u32);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--every" => every = args.next().unwrap().parse()?,
            "--max-tokens" => max_tokens = args.next().unwrap().parse()?,
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let files: Vec<PathBuf> = files.into_iter().step_by(every).collect();
    let model_dir = tempfile::tempdir()?;
    let path = model_dir.path().join("tiny.gguf");
    write_test_model(&path, &TestModelSpec::tiny())?;
    for backend in [SchemaBackend::Llguidance, SchemaBackend::LlamaCpp] {
        let options = LoadOptions::default()
            .with_context_length(4096)
            .with_schema_backend(backend);
        let model = LlamaCppModel::load(&path, options)?;
        let mut t = Tally::default();
        let started = std::time::Instant::now();
        for file in &files {
            let doc: Value = serde_json::from_str(&std::fs::read_to_string(file)?)?;
            let Some(schema) = doc.get("schema") else {
                continue;
            };
            t.schemas += 1;
            let request = ChatRequest::builder()
                .user("JSON")
                .response_format(ResponseFormat::json_schema("s", schema.clone()))
                .options(GenerationOptions::deterministic().with_max_tokens(max_tokens))
                .build();
            match model.chat(request).await {
                Err(Error::InvalidRequest(_)) => continue,
                Err(e) => anyhow::bail!("{}: {e}", file.display()),
                Ok(answer) => {
                    t.compiled += 1;
                    if answer.finish_reason == FinishReason::Length {
                        t.truncated += 1;
                        continue;
                    }
                    let Ok(validator) = jsonschema::validator_for(schema) else {
                        t.unjudged += 1;
                        continue;
                    };
                    let ok = serde_json::from_str::<Value>(answer.text())
                        .ok()
                        .is_some_and(|v| validator.is_valid(&v));
                    if ok {
                        t.valid += 1;
                    } else {
                        t.invalid += 1;
                        t.invalid_names
                            .push(file.file_name().unwrap().to_string_lossy().into());
                    }
                }
            }
        }
        println!(
            "{backend:?}: {} schemas, compiled {} ({:.1}%), complete answers valid {}/{} ({:.1}%), truncated {}, invalid {}, unjudged {} [{:.0} s]",
            t.schemas,
            t.compiled,
            100.0 * t.compiled as f64 / t.schemas.max(1) as f64,
            t.valid,
            t.valid + t.invalid,
            100.0 * t.valid as f64 / (t.valid + t.invalid).max(1) as f64,
            t.truncated,
            t.invalid,
            t.unjudged,
            started.elapsed().as_secs_f64()
        );
        if !t.invalid_names.is_empty() {
            println!(
                "  invalid: {}",
                t.invalid_names
                    .iter()
                    .take(20)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    Ok(())
}

//! Quantizes an F16 (or F32) GGUF model to Q8_0, Q5_1 and Q4_0 with llama.cpp's quantizer and
//! prints seed 001's table: file size, reduction against F16 and decode speed of each.
//!
//! ```text
//! cargo run --release --example quantize -- [model-f16.gguf] [--out DIR] [--tokens N] [--threads N]
//! ```
//!
//! Without a path it generates a Qwen2.5-0.5B-shaped random-weight F16 model (about 1 GB;
//! `SLM_EXAMPLE_SMALL=1` uses the tiny test model instead). Its text is noise, but sizes and
//! speeds are real. Outputs go to `--out` (default `target/slm-quantize`). Tensors that fall back
//! to another type (rows not a multiple of the block size) are listed under the table.

mod common;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use slm::core::{ChatModel, ChatRequest, GenerationOptions};
use slm::llamacpp::testing::{TestModelSpec, TestWeightType, write_test_model};
use slm::llamacpp::{LlamaCppModel, LoadOptions, QuantizeOptions, QuantizeType, quantize};

struct Args {
    input: Option<PathBuf>,
    out: PathBuf,
    tokens: u32,
    threads: Option<u32>,
}

fn args() -> anyhow::Result<Args> {
    let small = std::env::var_os("SLM_EXAMPLE_SMALL").is_some();
    let mut args = Args {
        input: None,
        out: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/slm-quantize"),
        tokens: if small { 32 } else { 128 },
        threads: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--out" => args.out = it.next().context("--out needs a directory")?.into(),
            "--tokens" => args.tokens = it.next().context("--tokens needs a number")?.parse()?,
            "--threads" => {
                args.threads = Some(it.next().context("--threads needs a number")?.parse()?)
            }
            "-h" | "--help" => {
                println!("usage: quantize [model-f16.gguf] [--out DIR] [--tokens N] [--threads N]");
                std::process::exit(0);
            }
            flag if flag.starts_with("--") => bail!("unknown option {flag}"),
            path => args.input = Some(path.into()),
        }
    }
    Ok(args)
}

/// The input model: the given file, or a generated F16 one.
fn input_model(args: &Args) -> anyhow::Result<PathBuf> {
    if let Some(path) = &args.input {
        return Ok(path.clone());
    }
    let small = std::env::var_os("SLM_EXAMPLE_SMALL").is_some();
    let spec = if small {
        TestModelSpec {
            weight_type: TestWeightType::F16,
            ..TestModelSpec::tiny()
        }
    } else {
        TestModelSpec::qwen2_5_0_5b_shaped()
    };
    let path = args.out.join(format!("{}-f16.gguf", spec.name));
    if !path.exists() {
        println!(
            "Generating {} ({} parameters, random weights) ...",
            path.display(),
            spec.parameter_count()
        );
        let started = Instant::now();
        write_test_model(&path, &spec)?;
        println!("  written in {:.1} s", started.elapsed().as_secs_f64());
    }
    Ok(path)
}

/// Generated tokens per second after the first, through `ChatModel`, greedy.
async fn decode_speed(
    path: &Path,
    tokens: u32,
    threads: Option<u32>,
) -> anyhow::Result<(f64, u32)> {
    let mut options = LoadOptions::default().with_context_length(1024);
    options.threads = threads;
    let model = LlamaCppModel::load(path, options)?;
    let request = ChatRequest::builder()
        .user("Write a long story about the sea.")
        .options(GenerationOptions::deterministic().with_max_tokens(tokens))
        .build();
    // One warm-up answer (page the weights in), then the measured one.
    model.chat(request.clone()).await?;
    let answer = model.chat(request).await?;
    let speed = answer.timings.decode_tokens_per_second.unwrap_or(0.0);
    Ok((speed, answer.usage.completion_tokens))
}

fn mb(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / 1e6)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = args()?;
    std::fs::create_dir_all(&args.out)?;
    let input = input_model(&args)?;
    let info = slm::llamacpp::gguf::inspect(&input)?;
    println!(
        "Input: {} ({}, {} parameters, {} MB)\n",
        input.display(),
        info.dominant_type,
        info.parameter_count,
        mb(info.file_size)
    );
    let stem = input
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .replace("-f16", "");
    let mut rows = Vec::new();
    let mut fallbacks = Vec::new();
    let (speed, n) = decode_speed(&input, args.tokens, args.threads).await?;
    rows.push(vec![
        info.dominant_type.to_string(),
        mb(info.file_size),
        "-".into(),
        "-".into(),
        format!("{speed:.1}"),
        n.to_string(),
    ]);
    for target in [QuantizeType::Q8_0, QuantizeType::Q5_1, QuantizeType::Q4_0] {
        let output = args
            .out
            .join(format!("{stem}-{}.gguf", target.to_string().to_lowercase()));
        let report = quantize(&input, &output, &QuantizeOptions::new(target))?;
        let (speed, n) = decode_speed(&output, args.tokens, args.threads).await?;
        rows.push(vec![
            target.to_string(),
            mb(report.output_bytes),
            format!("{:.1}%", (1.0 - report.size_ratio()) * 100.0),
            format!("{:.1}", report.duration.as_secs_f64()),
            format!("{speed:.1}"),
            n.to_string(),
        ]);
        for f in report.fallbacks {
            fallbacks.push(format!(
                "{target}: {} (row {}) kept as {} instead of {}",
                f.name, f.dims[0], f.got, f.wanted
            ));
        }
    }
    common::print_table(
        &[
            "format",
            "size MB",
            "reduction",
            "quantize s",
            "decode tok/s",
            "tokens",
        ],
        &rows,
    );
    if fallbacks.is_empty() {
        println!("\nNo tensor fell back to another type.");
    } else {
        println!("\nWARNING: tensors whose rows are not a multiple of the block size fell back:");
        for f in fallbacks {
            println!("  {f}");
        }
    }
    println!("\nFiles are in {}", args.out.display());
    Ok(())
}

//! A quantization comparison table: quantizes a GGUF model with llama.cpp's quantizer and prints, for
//! the original and each variant, its type, file size, size reduction, decode speed and
//! perplexity on a bundled public-domain text (the start of Tiny Shakespeare).
//!
//! ```text
//! cargo run --release --example quantize -- [model.gguf] [--generated] [--out DIR] [--tokens N]
//!     [--threads N] [--ppl-ctx N] [--ppl-chunks N] [--no-ppl]
//! ```
//!
//! Without a path it uses the default model (SmolLM2-135M-Instruct Q4_1 from the model cache, or
//! `$SLM_MODEL_PATH`). That file is already quantized, so its Q8_0 / Q4_0 / Q4_K_M variants are
//! *requantized* (marked in the table): they carry Q4_1's error on top of their own, which the
//! perplexity column shows. An F16/F32 input is quantized from full precision instead. When no
//! real model is cached, a generated random-weight F32 demo model is used (its perplexity is
//! noise, sizes and speeds are real).
//!
//! `--generated` uses a generated Qwen2.5-0.5B-shaped F16 model (about 1 GB) and the Q8_0 / Q5_1 /
//! Q4_0 targets, as `scripts/bench-llamacpp.sh` expects. `SLM_EXAMPLE_SMALL=1` keeps everything
//! short (32 decoded tokens, perplexity over 4 chunks of 128 tokens). Outputs go to `--out`
//! (default `target/slm-quantize`). Tensors that fall back to another type (rows not a multiple
//! of the block size: 256 for K-quants) are listed under the table.

mod common;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use slm::core::{ChatModel, ChatRequest, GenerationOptions};
use slm::llamacpp::gguf::GgmlType;
use slm::llamacpp::testing::{TestModelSpec, TestWeightType, write_test_model};
use slm::llamacpp::{
    LlamaCppModel, LoadOptions, PerplexityOptions, QuantizeOptions, QuantizeType,
    SHAKESPEARE_SAMPLE, perplexity, quantize,
};

struct Args {
    input: Option<PathBuf>,
    generated: bool,
    out: PathBuf,
    tokens: u32,
    threads: Option<u32>,
    ppl: Option<PerplexityOptions>,
}

fn small() -> bool {
    std::env::var_os("SLM_EXAMPLE_SMALL").is_some()
}

fn args() -> anyhow::Result<Args> {
    let mut ppl = if small() {
        PerplexityOptions::default()
            .with_n_ctx(128)
            .with_max_chunks(4)
    } else {
        PerplexityOptions::default()
    };
    let mut args = Args {
        input: None,
        generated: false,
        out: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/slm-quantize"),
        tokens: if small() { 32 } else { 128 },
        threads: None,
        ppl: None,
    };
    let mut no_ppl = false;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut number = |what: &str| -> anyhow::Result<u32> {
            Ok(it
                .next()
                .with_context(|| format!("{what} needs a number"))?
                .parse()?)
        };
        match a.as_str() {
            "--out" => args.out = it.next().context("--out needs a directory")?.into(),
            "--generated" => args.generated = true,
            "--tokens" => args.tokens = number("--tokens")?,
            "--threads" => args.threads = Some(number("--threads")?),
            "--ppl-ctx" => ppl.n_ctx = number("--ppl-ctx")?,
            "--ppl-chunks" => ppl.max_chunks = Some(number("--ppl-chunks")? as usize),
            "--no-ppl" => no_ppl = true,
            "-h" | "--help" => {
                println!(
                    "usage: quantize [model.gguf] [--generated] [--out DIR] [--tokens N] \
                     [--threads N] [--ppl-ctx N] [--ppl-chunks N] [--no-ppl]"
                );
                std::process::exit(0);
            }
            flag if flag.starts_with("--") => bail!("unknown option {flag}"),
            path => args.input = Some(path.into()),
        }
    }
    ppl.threads = args.threads;
    args.ppl = (!no_ppl).then_some(ppl);
    Ok(args)
}

/// A generated Qwen2.5-0.5B-shaped F16 model (the tiny one with `SLM_EXAMPLE_SMALL`).
fn generated_model(out: &Path) -> anyhow::Result<PathBuf> {
    let spec = if small() {
        TestModelSpec {
            weight_type: TestWeightType::F16,
            ..TestModelSpec::tiny()
        }
    } else {
        TestModelSpec::qwen2_5_0_5b_shaped()
    };
    let path = out.join(format!("{}-f16.gguf", spec.name));
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

/// Perplexity on the bundled text, on a blocking thread; "-" when disabled.
async fn ppl(path: &Path, options: &Option<PerplexityOptions>) -> anyhow::Result<String> {
    let Some(options) = options.clone() else {
        return Ok("-".into());
    };
    let path = path.to_path_buf();
    let report =
        tokio::task::spawn_blocking(move || perplexity(&path, SHAKESPEARE_SAMPLE, &options))
            .await??;
    Ok(format!(
        "{:.3} ± {:.3}",
        report.perplexity, report.std_error
    ))
}

fn mb(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / 1e6)
}

/// The file name without a trailing quantization tag (`SmolLM2-135M-Instruct.Q4_1` →
/// `SmolLM2-135M-Instruct`, `x-f16` → `x`).
fn stem_of(input: &Path) -> String {
    let stem = input
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    match stem.rfind(['.', '-']) {
        Some(i) if stem[i + 1..].parse::<QuantizeType>().is_ok() => stem[..i].to_string(),
        _ => stem,
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = args()?;
    std::fs::create_dir_all(&args.out)?;
    let (input, targets) = if args.generated {
        let path = generated_model(&args.out)?;
        (
            path,
            vec![QuantizeType::Q8_0, QuantizeType::Q5_1, QuantizeType::Q4_0],
        )
    } else {
        let path = match &args.input {
            Some(path) => path.clone(),
            None => {
                let local = common::local_model_path()?;
                common::announce(&local);
                local.path
            }
        };
        (
            path,
            vec![QuantizeType::Q8_0, QuantizeType::Q4_0, QuantizeType::Q4_K_M],
        )
    };
    let info = slm::llamacpp::gguf::inspect(&input)?;
    let requantizing = info.dominant_type.is_quantized();
    println!(
        "Input: {} ({}, {} parameters, {} MB)",
        input.display(),
        info.dominant_type,
        info.parameter_count,
        mb(info.file_size)
    );
    if let Some(p) = &args.ppl {
        println!(
            "Perplexity: Tiny Shakespeare sample ({} bytes), chunks of {} tokens{}, scored as llama-perplexity does",
            SHAKESPEARE_SAMPLE.len(),
            p.n_ctx,
            p.max_chunks
                .map(|c| format!(", first {c} chunks"))
                .unwrap_or_default()
        );
    }
    if requantizing {
        println!(
            "The input is already {}: the variants below are requantized from it (allow_requantize).",
            info.dominant_type
        );
    }
    println!();
    let stem = stem_of(&input);
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    let mut fallbacks = Vec::new();
    let (speed, n) = decode_speed(&input, args.tokens, args.threads).await?;
    rows.push(vec![
        format!("{} (original)", info.dominant_type),
        mb(info.file_size),
        "-".into(),
        format!("{speed:.1}"),
        n.to_string(),
        ppl(&input, &args.ppl).await?,
    ]);
    for target in targets {
        if target.main_type() == info.dominant_type && requantizing {
            notes.push(format!("{target}: skipped, the input already is {target}"));
            continue;
        }
        let output = args
            .out
            .join(format!("{stem}-{}.gguf", target.to_string().to_lowercase()));
        let options = QuantizeOptions {
            allow_requantize: requantizing,
            threads: args.threads,
            ..QuantizeOptions::new(target)
        };
        let report = quantize(&input, &output, &options)
            .with_context(|| format!("quantizing to {target}"))?;
        let (speed, n) = decode_speed(&output, args.tokens, args.threads).await?;
        let label = if report.requantized {
            format!("{target} (requantized)")
        } else {
            target.to_string()
        };
        rows.push(vec![
            label,
            mb(report.output_bytes),
            format!("{:.1}%", (1.0 - report.size_ratio()) * 100.0),
            format!("{speed:.1}"),
            n.to_string(),
            ppl(&output, &args.ppl).await?,
        ]);
        let first_note = !notes.iter().any(|n| n.contains("requantized from"));
        if let Some(note) = report.quality_note().filter(|_| first_note) {
            notes.push(format!("Requantized rows: {note}."));
        }
        let types: Vec<String> = report
            .tensor_types
            .iter()
            .map(|(t, s)| format!("{} {t}", s.tensors))
            .collect();
        notes.push(format!("{target}: tensor types {}", types.join(", ")));
        // One line per (row length, wanted, got): SmolLM2 has ~180 such tensors at Q4_K_M.
        let mut groups: std::collections::BTreeMap<(u64, GgmlType, GgmlType), Vec<String>> =
            Default::default();
        for f in &report.fallbacks {
            groups
                .entry((f.dims[0], f.wanted, f.got))
                .or_default()
                .push(f.name.clone());
        }
        for ((row, wanted, got), names) in groups {
            let example = names.first().cloned().unwrap_or_default();
            fallbacks.push(format!(
                "{target}: {} tensors with rows of {row} got {got} instead of {wanted} (e.g. {example})",
                names.len(),
            ));
        }
    }
    common::print_table(
        &[
            "type",
            "size MB",
            "reduction",
            "decode tok/s",
            "tokens",
            "perplexity",
        ],
        &rows,
    );
    println!();
    for note in notes {
        println!("{note}");
    }
    if fallbacks.is_empty() {
        println!("\nNo tensor fell back to another type.");
    } else {
        println!(
            "\nTensors that fell back to another type (rows not a multiple of the block size; \
             the type llama.cpp wanted is the target's, or the K-quant it picks for some tensors):"
        );
        for f in &fallbacks {
            println!("  {f}");
        }
    }
    println!("\nFiles are in {}", args.out.display());
    Ok(())
}

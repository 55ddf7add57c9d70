//! `slm quantize IN.gguf OUT.gguf --type q8_0`: llama.cpp's quantizer, with the library's
//! checks (a malformed input never reaches llama.cpp; writing onto the input, through a
//! symbolic or hard link too, is refused; requantizing needs `--allow-requantize`).

use std::path::PathBuf;
use std::sync::LazyLock;

use anyhow::Context;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use slm_llamacpp::{QuantizeOptions, QuantizeType};

use crate::table;

/// Arguments of `slm quantize`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  slm quantize model-f16.gguf model-q4_k_m.gguf --type q4_k_m")]
pub struct QuantizeArgs {
    /// The GGUF file to quantize (F32/F16/BF16; a quantized one with --allow-requantize).
    #[arg(value_name = "IN.gguf")]
    pub input: PathBuf,
    /// Where to write the quantized model (never the input itself).
    #[arg(value_name = "OUT.gguf")]
    pub output: PathBuf,
    /// The target type (case-insensitive).
    #[arg(long = "type", short = 'q', value_name = "TYPE", ignore_case = true, value_parser = type_parser())]
    pub target: QuantizeType,
    /// Quantize an input that is already quantized (the output then carries both errors).
    #[arg(long = "allow-requantize")]
    pub allow_requantize: bool,
    /// Give every tensor the target type (no higher-precision tensors in the mix).
    #[arg(long)]
    pub pure: bool,
    /// Threads (default: every hardware thread).
    #[arg(long, short = 't', value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub threads: Option<u32>,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// The target types by name, case-insensitive; the error lists them.
fn type_parser() -> impl TypedValueParser<Value = QuantizeType> {
    // clap's possible values are `'static` strings: the 19 names are made once.
    static NAMES: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
        QuantizeType::all()
            .iter()
            .map(|t| &*Box::leak(t.to_string().into_boxed_str()))
            .collect()
    });
    PossibleValuesParser::new(NAMES.iter().copied()).try_map(|name| name.parse::<QuantizeType>())
}

/// Runs `slm quantize`.
pub async fn run(args: QuantizeArgs) -> anyhow::Result<u8> {
    let options = QuantizeOptions {
        threads: args.threads,
        allow_requantize: args.allow_requantize,
        pure: args.pure,
        ..QuantizeOptions::new(args.target)
    };
    let spinner = crate::model_args::spinner(format!(
        "quantizing {} to {}",
        args.input.display(),
        args.target
    ));
    let (input, output) = (args.input.clone(), args.output.clone());
    let report =
        tokio::task::spawn_blocking(move || slm_llamacpp::quantize(&input, &output, &options))
            .await
            .context("the quantization task stopped")?;
    spinner.finish_and_clear();
    let report = report.with_context(|| {
        format!(
            "cannot quantize {} into {}",
            args.input.display(),
            args.output.display()
        )
    })?;
    if args.json {
        let json = serde_json::json!({
            "input": report.input,
            "output": report.output,
            "target": report.target.to_string(),
            "input_type": report.input_type.name(),
            "dominant_type": report.dominant_type.name(),
            "input_bytes": report.input_bytes,
            "output_bytes": report.output_bytes,
            "size_ratio": report.size_ratio(),
            "seconds": report.duration.as_secs_f64(),
            "requantized": report.requantized,
            "tensor_types": report.tensor_types.iter().map(|(t, s)| (t.name(), s)).collect::<std::collections::BTreeMap<_, _>>(),
            "fallbacks": report.fallbacks.iter().map(|f| serde_json::json!({
                "name": f.name, "dims": f.dims, "wanted": f.wanted.name(), "got": f.got.name(),
            })).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        println!(
            "{} ({}, {}) -> {} ({}, {}): {:.1}% of the size, in {:.1} s",
            report.input.display(),
            report.input_type.name(),
            table::bytes(report.input_bytes),
            report.output.display(),
            report.dominant_type.name(),
            table::bytes(report.output_bytes),
            report.size_ratio() * 100.0,
            report.duration.as_secs_f64()
        );
        let mut types = table::new(&["type", "tensors", "parameters", "bytes"]);
        let mut rows: Vec<_> = report.tensor_types.iter().collect();
        rows.sort_by_key(|row| std::cmp::Reverse(row.1.bytes));
        for (ty, stats) in rows {
            types.add_row(vec![
                comfy_table::Cell::new(ty.name()),
                table::num(stats.tensors),
                table::num(table::count(stats.parameters)),
                table::num(table::bytes(stats.bytes)),
            ]);
        }
        println!("{types}");
        if !report.fallbacks.is_empty() {
            // Grouped by (wanted, got): one line per kind, with a few tensor names.
            let mut groups: std::collections::BTreeMap<(String, String), Vec<&str>> =
                Default::default();
            for f in &report.fallbacks {
                groups
                    .entry((f.wanted.name().to_string(), f.got.name().to_string()))
                    .or_default()
                    .push(&f.name);
            }
            eprintln!(
                "note: {} tensor(s) got a fallback type (rows not a multiple of the block \
                 size; --json lists them all):",
                report.fallbacks.len()
            );
            for ((wanted, got), names) in groups {
                let shown = names.iter().take(3).copied().collect::<Vec<_>>().join(", ");
                let more = names.len().saturating_sub(3);
                let more = if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                };
                eprintln!(
                    "  {got} instead of {wanted}: {} ({shown}{more})",
                    names.len()
                );
            }
        }
    }
    if let Some(note) = report.quality_note() {
        eprintln!("warning: {note}");
    }
    Ok(0)
}

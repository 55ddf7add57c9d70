//! Shared helpers of the examples: the local model (yours or a generated demo), optional remote
//! models from the environment, and plain-text tables.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use slm::core::{ChatModel, ChatResponse, CostModel};
use slm::llamacpp::models::KnownModel;
use slm::llamacpp::testing::{TestModelSpec, write_test_model};
use slm::llamacpp::{
    LlamaCppModel, LoadOptions, QuantizeOptions, QuantizeReport, QuantizeType, quantize,
};

/// Where the local model comes from.
pub struct LocalModel {
    /// The GGUF file.
    pub path: PathBuf,
    /// Whether it is the generated random-weight demo model (its text is gibberish).
    pub is_demo: bool,
}

/// The local model: `$SLM_MODEL_PATH` when set; else the default real model, SmolLM2-135M-Instruct
/// from the model cache (`scripts/setup.sh` downloads it); else, only when no real model can be
/// had, a random-weight demo model generated under `target/slm-demo` (and [`announce`] says so).
pub fn local_model_path() -> anyhow::Result<LocalModel> {
    if let Some(path) = std::env::var_os("SLM_MODEL_PATH") {
        let path = PathBuf::from(path);
        anyhow::ensure!(
            path.exists(),
            "SLM_MODEL_PATH={} does not exist",
            path.display()
        );
        return Ok(LocalModel {
            path,
            is_demo: false,
        });
    }
    match KnownModel::default_model().locate() {
        Ok(path) => Ok(LocalModel {
            path,
            is_demo: false,
        }),
        Err(why) => {
            eprintln!("WARNING: {why}\nFalling back to a generated random-weight demo model.\n");
            demo_model_path()
        }
    }
}

/// A random-weight demo model generated under `target/slm-demo` (for edge cases and machines
/// where no real model can be had).
pub fn demo_model_path() -> anyhow::Result<LocalModel> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/slm-demo");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("slm-demo-tiny.gguf");
    write_test_model(&path, &TestModelSpec::tiny()).context("writing the demo model")?;
    Ok(LocalModel {
        path,
        is_demo: true,
    })
}

/// `local` quantized to `target` under `target/slm-variants` (never beside the cached model).
/// Real models usually ship quantized: requantizing is allowed, and the report's
/// [`QuantizeReport::quality_note`] says what it costs.
pub fn quantized_variant(
    local: &LocalModel,
    target: QuantizeType,
) -> anyhow::Result<(LocalModel, QuantizeReport)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/slm-variants");
    std::fs::create_dir_all(&dir)?;
    let stem = local.path.file_stem().unwrap_or_default().to_string_lossy();
    let path = dir.join(format!("{stem}.{target}.gguf"));
    let options = QuantizeOptions {
        allow_requantize: true,
        ..QuantizeOptions::new(target)
    };
    let report = quantize(&local.path, &path, &options)
        .with_context(|| format!("quantizing {} to {target}", local.path.display()))?;
    let variant = LocalModel {
        path,
        is_demo: local.is_demo,
    };
    Ok((variant, report))
}

/// Loads the local model with a context of `context` tokens.
pub fn load_local(local: &LocalModel, context: u32) -> anyhow::Result<LlamaCppModel> {
    let model = LlamaCppModel::load(
        &local.path,
        LoadOptions::default().with_context_length(context),
    )
    .with_context(|| format!("loading {}", local.path.display()))?;
    Ok(model)
}

/// Says plainly what the local model is.
pub fn announce(local: &LocalModel) {
    if local.is_demo {
        println!(
            "NOTE: running on a generated random-weight demo model ({}). Its answers are noise;\n\
             timings, token counts and constrained output are real. Run `bash scripts/setup.sh`\n\
             to download the default real model, or set SLM_MODEL_PATH=model.gguf.\n",
            local.path.display()
        );
    } else {
        let known = KnownModel::find_by_file(&local.path);
        match known {
            Some(m) => println!(
                "Local model: {} ({})\n",
                m.description,
                local.path.display()
            ),
            None => println!("Local model: {}\n", local.path.display()),
        }
    }
}

/// Remote models configured in the environment, opened by `slm::open_model` like every model
/// spec: Azure when `AZURE_ENDPOINT` is set (with `AZURE_DEPLOYMENT`, `AZURE_API_KEY`,
/// `AZURE_API_VERSION`), and any spec in `SLM_OPENAI_SPEC`
/// (`openai:http://localhost:5273/v1#phi-4-mini`, `OPENAI_API_KEY` sent when set).
pub fn remote_models() -> anyhow::Result<Vec<Arc<dyn ChatModel>>> {
    let mut models: Vec<Arc<dyn ChatModel>> = Vec::new();
    if std::env::var_os("AZURE_ENDPOINT").is_some() {
        models.push(slm::open_model("azure")?);
    }
    if let Ok(spec) = std::env::var("SLM_OPENAI_SPEC") {
        models.push(slm::open_model(&spec).with_context(|| format!("SLM_OPENAI_SPEC={spec}"))?);
    }
    Ok(models)
}

/// Milliseconds with one decimal.
pub fn ms(d: std::time::Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

/// Prints rows as an aligned table.
pub fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("| {} |", padded.join(" | "));
    };
    line(header.iter().map(|h| h.to_string()).collect());
    println!(
        "|{}|",
        widths
            .iter()
            .map(|w| "-".repeat(w + 2))
            .collect::<Vec<_>>()
            .join("|")
    );
    for row in rows {
        line(row.clone());
    }
}

/// One table row of latency, tokens, speed and cost for a response.
pub fn response_row(label: &str, r: &ChatResponse, costs: &CostModel) -> Vec<String> {
    vec![
        label.to_string(),
        r.model.clone(),
        ms(r.timings.prep),
        ms(r.timings.time_to_first_token),
        ms(r.timings.total),
        r.usage.prompt_tokens.to_string(),
        r.usage.completion_tokens.to_string(),
        r.timings
            .decode_tokens_per_second
            .map(|t| format!("{t:.0}"))
            .unwrap_or_else(|| "-".into()),
        format!("{:.6}", costs.response_cost(r)),
    ]
}

/// Header matching [`response_row`].
pub const RESPONSE_HEADER: [&str; 9] = [
    "prompt", "model", "prep ms", "TTFT ms", "total ms", "in tok", "out tok", "tok/s", "cost $",
];

/// Small settings for CI: `SLM_EXAMPLE_SMALL=1` shortens outputs.
pub fn max_tokens(default: u32) -> u32 {
    if std::env::var_os("SLM_EXAMPLE_SMALL").is_some() {
        default.min(16)
    } else {
        default
    }
}

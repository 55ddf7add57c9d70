//! The same prompt on the same model through two engines: SmolLM2-135M-Instruct as a GGUF file
//! run by llama.cpp (`llamacpp:smollm2`, Q4_1) and as ONNX folders run by ONNX Runtime
//! (`onnx:…`, INT4 MatMulNBits and FP32, exported from that GGUF by `scripts/onnx/export.py`).
//! Both open through the one `slm::open`; the table shows latency, tokens/s and the answers.
//!
//! `scripts/setup.sh` installs ONNX Runtime into `~/.cache/slm/onnxruntime/` and exports the
//! folders into `~/.cache/slm/onnx/` (`$SLM_ONNX_HOME`).
//!
//! ```text
//! cargo run --release --features onnx --example onnx_vs_llamacpp
//! ```

mod common;

use std::path::PathBuf;

use slm::core::{ChatRequest, CostModel, GenerationOptions};
use slm::{ModelSpec, OpenOptions};

fn onnx_home() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("SLM_ONNX_HOME") {
        return Ok(dir.into());
    }
    let home = std::env::var_os("HOME").ok_or_else(|| anyhow::anyhow!("HOME is not set"))?;
    Ok(PathBuf::from(home).join(".cache/slm/onnx"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let onnx = onnx_home()?;
    let specs = [
        "llamacpp:smollm2".to_string(),
        format!("onnx:{}", onnx.join("smollm2-135m-instruct-int4").display()),
        format!("onnx:{}", onnx.join("smollm2-135m-instruct-fp32").display()),
    ];
    let options = OpenOptions {
        threads: Some(2),
        ..OpenOptions::default()
    };
    let prompt = "What is the capital of France? Answer in one sentence.";
    let mut request = ChatRequest::builder().user(prompt).build();
    request.options = GenerationOptions::deterministic().with_max_tokens(common::max_tokens(48));
    println!("prompt: {prompt}\n");
    let costs = CostModel::default();
    let mut rows = Vec::new();
    for text in &specs {
        let spec: ModelSpec = text.parse()?;
        let opened = slm::open(&spec, &options)
            .await
            .map_err(|e| anyhow::anyhow!("{text}: {e} (run scripts/setup.sh)"))?;
        // One warm-up answer, so neither side pays its first-call setup in the table.
        opened.model.chat(request.clone()).await?;
        let answer = opened.model.chat(request.clone()).await?;
        println!("{}: {}", spec.label(), answer.text().trim());
        rows.push(common::response_row(&spec.label(), &answer, &costs));
    }
    println!();
    common::print_table(&common::RESPONSE_HEADER, &rows);
    Ok(())
}

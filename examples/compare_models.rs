//! Model comparison: the same prompts sent to two (or more) models, one table per
//! model with latency (prep, time to first token, total), tokens, tokens/s and cost.
//!
//! Offline by default: it compares the local model (the default real model, SmolLM2, or
//! `SLM_MODEL_PATH`) with its own Q4_0 requantization. Point it at real models with specs as arguments:
//!
//! ```text
//! cargo run --release --example compare_models -- llamacpp:phi-4-mini.Q4_0.gguf azure
//! cargo run --release --example compare_models -- llamacpp:a.gguf openai:http://localhost:5273/v1#phi-4-mini
//! ```
//! (`azure` reads AZURE_ENDPOINT, AZURE_DEPLOYMENT, AZURE_API_KEY, AZURE_API_VERSION.)

mod common;

use std::sync::Arc;

use slm::core::{ChatModel, ChatRequest, CostModel, GenerationOptions, Price};
use slm::llamacpp::QuantizeType;

const PROMPTS: [&str; 3] = [
    "Summarize retrieval augmented generation in 2 sentences.",
    "List 5 creative IoT edge AI ideas.",
    "Explain quantization of language models to a product manager.",
];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let specs: Vec<String> = std::env::args().skip(1).collect();
    let models: Vec<Arc<dyn ChatModel>> = if specs.is_empty() {
        let local = common::local_model_path()?;
        common::announce(&local);
        let (q4, _) = common::quantized_variant(&local, QuantizeType::Q4_0)?;
        vec![
            Arc::new(common::load_local(&local, 2048)?),
            Arc::new(common::load_local(&q4, 2048)?),
        ]
    } else {
        specs
            .iter()
            .map(|s| slm::open_model(s))
            .collect::<Result<_, _>>()?
    };
    // Hosted models cost tokens; local ones cost energy (60 W at 0.30/kWh, an assumption).
    let mut costs = CostModel::new()
        .price("gpt-4o", Price::per_million(2.5, 10.0))
        .price("gpt-4o-mini", Price::per_million(0.15, 0.6));
    for m in &models {
        if costs.price_of(m.id()).is_none() {
            costs = costs.price(m.id(), Price::energy(60.0, 0.30));
        }
    }
    let options = GenerationOptions::deterministic().with_max_tokens(common::max_tokens(64));
    for model in &models {
        println!("## {}", model.id());
        let mut rows = Vec::new();
        for (i, prompt) in PROMPTS.iter().enumerate() {
            let request = ChatRequest::builder()
                .user(*prompt)
                .options(options.clone())
                .build();
            let response = model.chat(request).await?;
            rows.push(common::response_row(
                &format!("#{}", i + 1),
                &response,
                &costs,
            ));
        }
        common::print_table(&common::RESPONSE_HEADER, &rows);
        println!();
    }
    Ok(())
}

//! The README's main command: the whole product in one run, offline.
//!
//! 1. chat with streaming on a local GGUF model;
//! 2. a JSON-schema-constrained answer that validates against the schema;
//! 3. a RAG answer with citations over a small bundled corpus (`examples/data/handbook.txt`);
//! 4. a comparison table: the local model beside its Q4_0 quantization (and Azure or an
//!    OpenAI-compatible server when configured).
//!
//! By default it generates a small random-weight demo model (and says so: its text is noise,
//! but timings, token counts and constrained output are real). Point it at a real model with
//! `SLM_MODEL_PATH=path/to/model.gguf`; add a hosted model with AZURE_ENDPOINT, AZURE_DEPLOYMENT,
//! AZURE_API_KEY, AZURE_API_VERSION (or `SLM_OPENAI_SPEC=openai:http://localhost:5273/v1#model`).
//!
//! ```text
//! bash scripts/quickstart.sh            # = cargo run --release --example quickstart
//! SLM_MODEL_PATH=qwen2.5-0.5b-instruct-q4_0.gguf cargo run --release --example quickstart
//! ```

mod common;

use std::io::Write;
use std::sync::Arc;

use futures::StreamExt;
use serde_json::json;
use slm::core::{
    ChatEvent, ChatModel, ChatRequest, CostModel, GenerationOptions, Price, ResponseFormat,
};
use slm::llamacpp::{QuantizeOptions, QuantizeType, quantize};
use slm::rag::{Chunker, Document, Index, RagModel};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let local = common::local_model_path()?;
    common::announce(&local);
    let model = common::load_local(&local, 4096)?;
    let info = model.info();
    println!(
        "Loaded {} ({} parameters, {} context, {} threads)\n",
        model.id(),
        info.gguf.parameter_count,
        info.context_length,
        info.threads
    );

    // 1. Streaming chat.
    println!("== 1. Streaming chat ==");
    let request = ChatRequest::builder()
        .system("You are a helpful assistant. Answer briefly.")
        .user("What is a small language model good for?")
        .options(GenerationOptions::deterministic().with_max_tokens(common::max_tokens(48)))
        .build();
    let mut stream = model.chat_stream(request);
    print!("assistant: ");
    let mut streamed = None;
    while let Some(event) = stream.next().await {
        match event? {
            ChatEvent::TextDelta(delta) => {
                print!("{}", delta.escape_debug());
                std::io::stdout().flush()?;
            }
            ChatEvent::Done(r) => streamed = Some(*r),
            ChatEvent::ToolCallDelta { .. } => {}
        }
    }
    let r = streamed.ok_or_else(|| anyhow::anyhow!("stream ended without a response"))?;
    println!(
        "\n[{} prompt + {} completion tokens; first token {} ms; {:.0} tokens/s; {:?}]\n",
        r.usage.prompt_tokens,
        r.usage.completion_tokens,
        common::ms(r.timings.time_to_first_token),
        r.timings.decode_tokens_per_second.unwrap_or_default(),
        r.finish_reason
    );

    // 2. Constrained JSON.
    println!("== 2. JSON-schema-constrained answer ==");
    let schema = json!({
        "type": "object",
        "properties": {
            "name": {"type": "string", "maxLength": 24},
            "quantization": {"enum": ["Q4_0", "Q5_1", "Q8_0"]},
            "parameters_in_billions": {"type": "number", "minimum": 0, "maximum": 100},
            "runs_offline": {"type": "boolean"}
        },
        "required": ["name", "quantization", "parameters_in_billions", "runs_offline"],
        "additionalProperties": false
    });
    let request = ChatRequest::builder()
        .user("Describe a small model you would run locally, as JSON.")
        .response_format(ResponseFormat::json_schema("model_card", schema.clone()))
        .options(GenerationOptions::deterministic().with_max_tokens(160))
        .build();
    let r = model.chat(request).await?;
    let value: serde_json::Value = serde_json::from_str(r.text())?;
    let validator = jsonschema::validator_for(&schema)?;
    anyhow::ensure!(
        validator.is_valid(&value),
        "constrained output does not validate: {value}"
    );
    println!(
        "{value}\n[parses and validates against the schema; {} tokens]\n",
        r.usage.completion_tokens
    );

    // 3. RAG with citations.
    println!("== 3. Grounded answer with citations ==");
    let corpus = include_str!("data/handbook.txt");
    let chunker = Chunker::sentences(1, 0)?;
    let mut index = Index::new();
    for (i, line) in corpus.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        let doc = Document::new(format!("handbook-{}", i + 1), line);
        index.add_documents(
            chunker
                .chunk_document(&doc)
                .into_iter()
                .map(|c| c.into_document()),
        )?;
    }
    let rag = RagModel::new(model.clone(), index).top_k(3);
    let question = "How much smaller does Q4_0 quantization make a model?";
    let answer = rag
        .answer(
            ChatRequest::builder()
                .user(question)
                .options(GenerationOptions::deterministic().with_max_tokens(common::max_tokens(48)))
                .build(),
        )
        .await?;
    println!("question: {question}");
    println!("answer: {}", answer.text().escape_debug());
    for c in answer.cited() {
        println!(
            "  [{}] {} (score {:.2}): {}",
            c.number, c.passage.id, c.passage.score, c.passage.text
        );
    }
    println!();

    // 4. Comparison table.
    println!("== 4. Comparison ==");
    let q4_path = local.path.with_extension("q4_0.gguf");
    let report = quantize(
        &local.path,
        &q4_path,
        &QuantizeOptions::new(QuantizeType::Q4_0),
    )?;
    println!(
        "quantized to Q4_0: {:.2} MB -> {:.2} MB",
        report.input_bytes as f64 / 1e6,
        report.output_bytes as f64 / 1e6
    );
    let q4 = common::LocalModel {
        path: q4_path,
        is_demo: local.is_demo,
    };
    let mut models: Vec<Arc<dyn ChatModel>> = vec![
        Arc::new(model.clone()),
        Arc::new(common::load_local(&q4, 4096)?),
    ];
    models.extend(common::remote_models()?);
    let mut costs = CostModel::new().price("gpt-4o", Price::per_million(2.5, 10.0));
    for m in &models {
        if costs.price_of(m.id()).is_none() && !m.id().starts_with("gpt") {
            costs = costs.price(m.id(), Price::energy(60.0, 0.30));
        }
    }
    let mut rows = Vec::new();
    for m in &models {
        let request = ChatRequest::builder()
            .user("Summarize retrieval augmented generation in 2 sentences.")
            .options(GenerationOptions::deterministic().with_max_tokens(common::max_tokens(64)))
            .build();
        let r = m.chat(request).await?;
        rows.push(common::response_row("RAG summary", &r, &costs));
    }
    common::print_table(&common::RESPONSE_HEADER, &rows);
    if local.is_demo {
        println!(
            "\n(Random-weight demo model: set SLM_MODEL_PATH to a real GGUF for meaningful text.)"
        );
    }
    Ok(())
}

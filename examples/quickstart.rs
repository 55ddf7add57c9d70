//! The README's main command: the whole product in one run, offline.
//!
//! 1. chat with streaming on a local GGUF model;
//! 2. a JSON-schema-constrained answer that validates against the schema;
//! 3. a forced tool call that names a declared tool with declared arguments only;
//! 4. a RAG answer with citations over a small bundled corpus (`examples/data/handbook.txt`);
//! 5. a comparison table: the local model beside its requantized Q8_0 and Q4_0 variants (and
//!    Azure or an OpenAI-compatible server when configured).
//!
//! The local model is the default real model, SmolLM2-135M-Instruct Q4_1 (Apache-2.0), which
//! `scripts/setup.sh` downloads into the model cache; `SLM_MODEL_PATH=path/to/model.gguf` picks
//! another. Only when no real model can be had does it fall back to a generated random-weight
//! demo model, and says so. Add a hosted model with AZURE_ENDPOINT, AZURE_DEPLOYMENT,
//! AZURE_API_KEY, AZURE_API_VERSION (or `SLM_OPENAI_SPEC=openai:http://localhost:5273/v1#model`).
//!
//! ```text
//! bash scripts/quickstart.sh            # setup, then cargo run --release --example quickstart
//! SLM_MODEL_PATH=qwen2.5-0.5b-instruct-q4_0.gguf cargo run --release --example quickstart
//! ```

mod common;

use std::io::Write;
use std::sync::Arc;

use futures::StreamExt;
use serde_json::json;
use slm::core::{
    ChatEvent, ChatModel, ChatRequest, CostModel, GenerationOptions, Price, ResponseFormat,
    ToolChoice, ToolSpec,
};
use slm::llamacpp::QuantizeType;
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
        .system("You are a helpful assistant. Answer in two or three sentences.")
        .user("What is a small language model good for?")
        .options(chat_options(common::max_tokens(96)))
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
            ChatEvent::ToolCallDelta { .. } | ChatEvent::ReasoningDelta(_) => {}
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

    // 3. A forced tool call: the grammar allows only the declared tool and argument names.
    println!("== 3. Forced tool call ==");
    let weather = ToolSpec::new(
        "get_weather",
        "Current weather for a city",
        json!({"type": "object",
               "properties": {"city": {"type": "string", "maxLength": 40},
                              "unit": {"enum": ["celsius", "fahrenheit"]}},
               "required": ["city"]}),
    );
    let request = ChatRequest::builder()
        .user("What is the weather like in Oslo today?")
        .tool(weather.clone())
        .tool_choice(ToolChoice::Required)
        .parallel_tool_calls(false)
        .options(GenerationOptions::deterministic().with_max_tokens(64))
        .build();
    let r = model.chat(request).await?;
    anyhow::ensure!(
        r.message.tool_calls.len() == 1,
        "expected one call, got {:?}",
        r.message.tool_calls
    );
    let call = &r.message.tool_calls[0];
    let declared = weather.parameters["properties"]
        .as_object()
        .map(|p| p.keys().cloned().collect::<Vec<_>>())
        .unwrap_or_default();
    let arguments = call.arguments.as_object().cloned().unwrap_or_default();
    anyhow::ensure!(
        arguments.keys().all(|k| declared.contains(k)) && arguments.contains_key("city"),
        "undeclared or missing arguments: {}",
        call.arguments
    );
    println!(
        "call: {}({})\n[declared tool, declared arguments only, `city` present]\n",
        call.name, call.arguments
    );

    // 4. RAG with citations.
    println!("== 4. Grounded answer with citations ==");
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
    for question in [
        "How much does Q4_0 shrink a model file?",
        // Nothing in the handbook answers this: the model is not asked, nothing is made up.
        "What is the boiling point of tungsten?",
    ] {
        let answer = rag
            .answer(
                ChatRequest::builder()
                    .user(question)
                    .options(
                        GenerationOptions::deterministic().with_max_tokens(common::max_tokens(48)),
                    )
                    .build(),
            )
            .await?;
        println!("question: {question}");
        println!("answer: {}", answer.text().escape_debug());
        println!(
            "[{:?}; {} completion tokens]",
            answer.outcome, answer.response.usage.completion_tokens
        );
        for c in answer.cited() {
            println!(
                "  [{}] {} (score {:.2}): {}",
                c.number, c.passage.id, c.passage.score, c.passage.text
            );
        }
        println!();
    }

    // 5. Comparison table: the model beside its requantized variants.
    println!("== 5. Comparison ==");
    let mut models: Vec<Arc<dyn ChatModel>> = vec![Arc::new(model.clone())];
    for target in [QuantizeType::Q8_0, QuantizeType::Q4_0] {
        let (variant, report) = common::quantized_variant(&local, target)?;
        println!(
            "{target}: {:.1} MB -> {:.1} MB in {:.1} s{}",
            report.input_bytes as f64 / 1e6,
            report.output_bytes as f64 / 1e6,
            report.duration.as_secs_f64(),
            report
                .quality_note()
                .map(|n| format!("\n  note: {n}"))
                .unwrap_or_default()
        );
        models.push(Arc::new(common::load_local(&variant, 4096)?));
    }
    println!();
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
            .user("Explain what a CPU does, in two sentences.")
            .options(chat_options(common::max_tokens(64)))
            .build();
        let r = m.chat(request).await?;
        rows.push(common::response_row("CPU in 2 sentences", &r, &costs));
        println!("{}: {}", m.id(), r.text().trim().escape_debug());
    }
    println!();
    common::print_table(&common::RESPONSE_HEADER, &rows);
    if local.is_demo {
        println!(
            "\n(Random-weight demo model: run `bash scripts/setup.sh` for the real default model.)"
        );
    }
    Ok(())
}

/// Greedy, with a mild repeat penalty: a 135M model decoded greedily can loop on lists.
fn chat_options(max_tokens: u32) -> GenerationOptions {
    GenerationOptions::deterministic()
        .with_repeat_penalty(1.15)
        .with_max_tokens(max_tokens)
}

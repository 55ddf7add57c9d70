//! Latency decomposition: prompt preparation, request sending / queueing, first
//! token and full completion, for each model, streamed so the first token is observed as it
//! arrives.
//!
//! Offline by default on the local model (a generated demo model, or `SLM_MODEL_PATH`); add a
//! remote model with AZURE_* variables or `SLM_OPENAI_SPEC=openai:http://host:port/v1#model`.
//!
//! ```text
//! cargo run --release --example latency_breakdown
//! ```

mod common;

use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use slm::core::{ChatEvent, ChatModel, ChatRequest, GenerationOptions};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let local = common::local_model_path()?;
    common::announce(&local);
    let mut models: Vec<Arc<dyn ChatModel>> = vec![Arc::new(common::load_local(&local, 2048)?)];
    models.extend(common::remote_models()?);

    let mut rows = Vec::new();
    for model in &models {
        for run in 1..=3 {
            let prep_started = Instant::now();
            let request = ChatRequest::builder()
                .system("You are a concise assistant.")
                .user("List 5 creative IoT edge AI ideas.")
                .options(GenerationOptions::deterministic().with_max_tokens(common::max_tokens(48)))
                .build();
            let build_ms = prep_started.elapsed();
            let started = Instant::now();
            let mut stream = model.chat_stream(request);
            let mut first_seen = None;
            let mut done = None;
            while let Some(event) = stream.next().await {
                match event? {
                    ChatEvent::TextDelta(_)
                    | ChatEvent::ToolCallDelta { .. }
                    | ChatEvent::ReasoningDelta(_) => {
                        first_seen.get_or_insert_with(|| started.elapsed());
                    }
                    ChatEvent::Done(r) => done = Some(*r),
                }
            }
            let r = done.ok_or_else(|| anyhow::anyhow!("stream ended without a response"))?;
            let observed_total = started.elapsed();
            rows.push(vec![
                model.id().to_string(),
                run.to_string(),
                common::ms(build_ms),
                common::ms(r.timings.prep),
                common::ms(r.timings.queue + r.timings.send),
                common::ms(r.timings.prompt_eval),
                common::ms(first_seen.unwrap_or(observed_total)),
                common::ms(r.timings.time_to_first_token),
                common::ms(observed_total),
                r.usage.completion_tokens.to_string(),
            ]);
        }
    }
    common::print_table(
        &[
            "model",
            "run",
            "build ms",
            "prep ms",
            "queue+send ms",
            "prompt eval ms",
            "first token seen ms",
            "TTFT reported ms",
            "full ms",
            "out tok",
        ],
        &rows,
    );
    println!(
        "\n'seen' columns are measured here, around the stream; 'reported' ones come from the backend."
    );
    Ok(())
}

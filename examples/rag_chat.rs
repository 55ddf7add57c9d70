//! Grounded chat over a small bundled corpus: BM25 retrieval, numbered citations, and the
//! local model's answer streamed token by token (seed 000's Chainlit RAG demo, done properly).
//!
//! 1. chunks `examples/data/handbook.txt` into overlapping two-sentence passages and indexes
//!    them (saving the index and loading it back, as an app would at start-up);
//! 2. for each question: shows the retrieved passages, then streams the answer of the local
//!    model, grounded with "Answer using ONLY the provided context. If insufficient, say so.",
//!    ending with the sources it cited;
//! 3. a question the corpus cannot answer goes to a larger model when one is configured
//!    (`AZURE_*` or `SLM_OPENAI_SPEC`, see `examples/common`), else the local model is told
//!    that no passage matched.
//!
//! By default the local model is a generated random-weight demo model (its words are noise;
//! retrieval, citations, streaming and timings are real). Use a real one with
//! `SLM_MODEL_PATH=model.gguf`. Ask your own questions as arguments:
//!
//! ```text
//! cargo run --release --example rag_chat
//! SLM_MODEL_PATH=qwen2.5-0.5b-instruct-q4_0.gguf cargo run --release --example rag_chat -- "What does Q4_0 do?"
//! ```

mod common;

use std::io::Write;

use futures::StreamExt;
use slm::core::{
    ChatEvent, ChatModel, ChatRequest, ChatResponse, EscalationPolicy, GenerationOptions,
};
use slm::rag::{Chunker, ContextBuilder, Document, Escalation, Index, RagModel};

const DEFAULT_QUESTIONS: [&str; 3] = [
    "How much smaller does Q4_0 quantization make a model?",
    "How does BM25 rank passages?",
    "What is the boiling point of tungsten?",
];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let local = common::local_model_path()?;
    common::announce(&local);
    let model = common::load_local(&local, 4096)?;

    // 1. Index the corpus: one document per line, chunked into overlapping passages.
    let chunker = Chunker::sentences(2, 1)?;
    let mut index = Index::new();
    for (i, line) in include_str!("data/handbook.txt")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
    {
        let document =
            Document::new(format!("handbook-{}", i + 1), line).with_meta("source", "handbook.txt");
        index.add_documents(
            chunker
                .chunk_document(&document)
                .into_iter()
                .map(|c| c.into_document()),
        )?;
    }
    let path = local.path.with_file_name("handbook.bm25");
    index.save(&path)?;
    let index = Index::load(&path)?;
    println!(
        "Indexed {} passages ({} terms) from examples/data/handbook.txt; saved to and reloaded from {}\n",
        index.len(),
        index.term_count(),
        path.display()
    );

    // 2. The grounded model; questions whose best passage scores below 1.0 escalate when a
    //    larger model is configured.
    let larger = common::remote_models()?.into_iter().next();
    let mut rag = RagModel::new(model, index)
        .top_k(3)
        .context(ContextBuilder::chars(1200));
    match &larger {
        Some(big) => {
            println!(
                "Escalation: questions the corpus cannot answer go to {}\n",
                big.id()
            );
            rag = rag.escalation(
                Escalation::to(big.clone())
                    .when(EscalationPolicy::Never)
                    .min_score(1.0),
            );
        }
        None => println!(
            "Escalation: no larger model configured (set AZURE_* or SLM_OPENAI_SPEC); unanswerable \
             questions stay local\n"
        ),
    }

    let asked: Vec<String> = std::env::args().skip(1).collect();
    let questions: Vec<String> = if asked.is_empty() {
        DEFAULT_QUESTIONS.iter().map(|q| q.to_string()).collect()
    } else {
        asked
    };
    for question in &questions {
        ask(&rag, question, larger.is_some()).await?;
    }
    Ok(())
}

/// Shows what retrieval found, then streams the grounded answer.
async fn ask<M: ChatModel>(
    rag: &RagModel<M>,
    question: &str,
    can_escalate: bool,
) -> anyhow::Result<()> {
    println!("Q: {question}");
    let request = ChatRequest::builder()
        .user(question)
        .options(GenerationOptions::deterministic().with_max_tokens(common::max_tokens(96)))
        .build();

    let grounded = rag.ground(&request)?;
    if grounded.context.is_empty() {
        println!("   (no passage matched)");
    }
    for citation in &grounded.context.citations {
        println!(
            "   [{}] {} (BM25 {:.2}): {}",
            citation.number, citation.passage.id, citation.passage.score, citation.passage.text
        );
    }
    if can_escalate && grounded.best_score.is_none_or(|s| s < 1.0) {
        println!("   retrieval too weak: escalating");
    }

    print!("A: ");
    std::io::stdout().flush()?;
    let mut stream = rag.chat_stream(request);
    let mut response: Option<ChatResponse> = None;
    while let Some(event) = stream.next().await {
        match event? {
            ChatEvent::TextDelta(delta) => {
                print!("{}", printable(&delta));
                std::io::stdout().flush()?;
            }
            ChatEvent::Done(r) => response = Some(*r),
            ChatEvent::ToolCallDelta { .. } => {}
        }
    }
    let r = response.ok_or_else(|| anyhow::anyhow!("the stream ended without a response"))?;
    let stages: Vec<String> = r
        .stages
        .iter()
        .map(|s| format!("{} {}", s.name, duration(s.timings.total)))
        .collect();
    println!(
        "\n   [{}; {} prompt + {} completion tokens; first token after {} ms; answered by {}]\n",
        stages.join(", "),
        r.usage.prompt_tokens,
        r.usage.completion_tokens,
        common::ms(r.timings.time_to_first_token),
        r.model
    );
    Ok(())
}

/// Microseconds below a millisecond (retrieval is that fast), else milliseconds.
fn duration(d: std::time::Duration) -> String {
    if d.as_micros() < 1000 {
        format!("{} µs", d.as_micros())
    } else {
        format!("{} ms", common::ms(d))
    }
}

/// The text with control characters other than newlines escaped (a demo model emits any byte).
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c == '\n' || !c.is_control() {
                c.to_string()
            } else {
                c.escape_default().to_string()
            }
        })
        .collect()
}

//! Grounded chat over a small bundled corpus: BM25 retrieval, numbered citations, the local
//! model's answer streamed token by token, and an honest "not in the documents" when retrieval
//! finds nothing (a RAG chat demo).
//!
//! 1. chunks `examples/data/handbook.txt` into overlapping two-sentence passages and indexes
//!    them (saving the index and loading it back, as an app would at start-up);
//! 2. for each question: shows the retrieved passages (those below the grounding threshold are
//!    marked and not shown to the model), then streams the local model's answer, which ends
//!    with the sources it actually cited (`Sources: none cited` when it cites none);
//! 3. a question no passage grounds ("What is the boiling point of tungsten?") is never given
//!    to the local model: the answer is "I don't have that in the documents.", with zero
//!    tokens, or the larger model's answer when one is configured (`AZURE_*` or
//!    `SLM_OPENAI_SPEC`, see `examples/common`).
//!
//! The local model is the default real model, SmolLM2-135M-Instruct, from the model cache
//! (`bash scripts/setup.sh` downloads it), or `SLM_MODEL_PATH=model.gguf`; only when neither
//! exists does it fall back to a generated random-weight demo model (and says so). Ask your own
//! questions as arguments:
//!
//! ```text
//! cargo run --release --example rag_chat
//! cargo run --release --example rag_chat -- "What does Q4_0 do?"
//! ```

mod common;

use std::io::Write;

use futures::StreamExt;
use slm::core::{
    ChatEvent, ChatModel, ChatRequest, ChatResponse, EscalationPolicy, GenerationOptions,
};
use slm::rag::{
    Chunker, ContextBuilder, DEFAULT_MIN_SCORE, Document, Escalation, Index,
    NOT_IN_DOCUMENTS_STAGE, RagModel,
};

const DEFAULT_QUESTIONS: [&str; 3] = [
    "Which port does Foundry Local use?",
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
    let path = std::env::temp_dir().join("slm-rag-chat-handbook.bm25");
    index.save(&path)?;
    let index = Index::load(&path)?;
    println!(
        "Indexed {} passages ({} terms) from examples/data/handbook.txt; saved to and reloaded from {}\n",
        index.len(),
        index.term_count(),
        path.display()
    );

    // 2. The grounded model. Passages scoring below DEFAULT_MIN_SCORE (BM25) do not ground an
    //    answer; with none left, the local model is not asked. A configured larger model
    //    answers those questions instead of the "not in the documents" reply.
    let larger = common::remote_models()?.into_iter().next();
    let mut rag = RagModel::new(model, index)
        .top_k(3)
        .context(ContextBuilder::chars(1200));
    match &larger {
        Some(big) => {
            println!(
                "Escalation: questions the handbook does not answer go to {}\n",
                big.id()
            );
            rag = rag.escalation(Escalation::to(big.clone()).when(EscalationPolicy::Never));
        }
        None => println!(
            "Escalation: no larger model configured (set AZURE_* or SLM_OPENAI_SPEC); questions \
             the handbook does not answer get \"not in the documents\"\n"
        ),
    }

    let asked: Vec<String> = std::env::args().skip(1).collect();
    let questions: Vec<String> = if asked.is_empty() {
        DEFAULT_QUESTIONS.iter().map(|q| q.to_string()).collect()
    } else {
        asked
    };
    for question in &questions {
        ask(&rag, question).await?;
    }
    Ok(())
}

/// Shows what retrieval found, then streams the grounded answer.
async fn ask<M: ChatModel>(rag: &RagModel<M>, question: &str) -> anyhow::Result<()> {
    println!("Q: {question}");
    let request = ChatRequest::builder()
        .user(question)
        // One-sentence answers: a blank line means the model is done (small models repeat).
        .options(
            GenerationOptions::deterministic()
                .with_max_tokens(common::max_tokens(64))
                .with_stop("\n\n"),
        )
        .build();

    let grounded = rag.ground(&request)?;
    for citation in &grounded.context.citations {
        println!(
            "   [{}] {} (BM25 {:.2}): {}",
            citation.number, citation.passage.id, citation.passage.score, citation.passage.text
        );
    }
    for weak in &grounded.below_min_score {
        println!(
            "   (weak match, not shown to the model) {} (BM25 {:.2})",
            weak.id, weak.score
        );
    }
    if !grounded.is_grounded() {
        println!("   no passage scores {DEFAULT_MIN_SCORE} or more: the local model is not asked");
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
            ChatEvent::ToolCallDelta { .. } | ChatEvent::ReasoningDelta(_) => {}
        }
    }
    let r = response.ok_or_else(|| anyhow::anyhow!("the stream ended without a response"))?;
    let stages: Vec<String> = r
        .stages
        .iter()
        .map(|s| format!("{} {}", s.name, duration(s.timings.total)))
        .collect();
    let answered_by = if r.stages.iter().any(|s| s.name == NOT_IN_DOCUMENTS_STAGE) {
        "no model (not in the documents)".to_string()
    } else {
        r.model.clone()
    };
    println!(
        "\n   [{}; {} prompt + {} completion tokens; first token after {} ms; answered by {}]\n",
        stages.join(", "),
        r.usage.prompt_tokens,
        r.usage.completion_tokens,
        common::ms(r.timings.time_to_first_token),
        answered_by
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

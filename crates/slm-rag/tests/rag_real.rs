//! `RagModel` on the real default model, SmolLM2-135M-Instruct (from the model cache that
//! `scripts/setup.sh` fills), over the bundled handbook: a question the handbook answers gets an
//! answer citing the passage that holds the fact; one it does not answer gets the
//! not-in-documents reply without the model being asked. Under CI a missing model fails each
//! test; elsewhere the test prints a loud SKIPPED line.

use std::sync::OnceLock;

use slm_core::{ChatModel, ChatRequest, GenerationOptions, collect_stream};
use slm_llamacpp::models::SMOLLM2;
use slm_llamacpp::testing::real_model;
use slm_llamacpp::{LlamaCppModel, LoadOptions};
use slm_rag::{
    Chunker, Document, Index, NOT_IN_DOCUMENTS, NOT_IN_DOCUMENTS_STAGE, RagModel, RagOutcome,
};

/// The handbook as `examples/rag_chat.rs` indexes it: one document per line, two-sentence
/// passages.
fn handbook() -> Index {
    let chunker = Chunker::sentences(2, 1).unwrap();
    let mut index = Index::new();
    let text = include_str!("../../../examples/data/handbook.txt");
    for (i, line) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        let document = Document::new(format!("handbook-{}", i + 1), line);
        let chunks = chunker.chunk_document(&document);
        index
            .add_documents(chunks.into_iter().map(|c| c.into_document()))
            .unwrap();
    }
    index
}

/// One loaded SmolLM2 per test binary, one sequence at a time and no prompt cache: requests
/// decoded together in one batch, or after another request left part of their prompt in the
/// cache, are evaluated in other batch shapes, which llama.cpp's kernels round differently in
/// the last bits, and greedy answers can change with them. The tests run concurrently in any
/// order, so each answer must not depend on which ran before it.
fn rag(test: &str) -> Option<RagModel<LlamaCppModel>> {
    static MODEL: OnceLock<LlamaCppModel> = OnceLock::new();
    let path = real_model(&SMOLLM2, test)?;
    let model = MODEL
        .get_or_init(|| {
            let options = LoadOptions::default()
                .with_context_length(2048)
                .with_max_sequences(1)
                .with_prompt_cache(false);
            LlamaCppModel::load(&path, options).expect("the cached model loads")
        })
        .clone();
    Some(RagModel::new(model, handbook()).top_k(3))
}

fn ask(question: &str) -> ChatRequest {
    ChatRequest::builder()
        .user(question)
        .options(GenerationOptions::deterministic().with_max_tokens(64))
        .build()
}

#[tokio::test]
async fn smollm2_rag_says_the_handbook_has_no_tungsten() {
    let Some(rag) = rag("smollm2_rag_says_the_handbook_has_no_tungsten") else {
        return;
    };
    let question = "What is the boiling point of tungsten?";
    let answer = rag.answer(ask(question)).await.unwrap();
    assert_eq!(answer.outcome, RagOutcome::NotInDocuments);
    assert_eq!(answer.text(), NOT_IN_DOCUMENTS);
    assert!(answer.passages.is_empty() && answer.citations.is_empty());
    assert_eq!(
        answer.response.usage.total_tokens(),
        0,
        "the model was not asked"
    );
    let stages: Vec<&str> = answer
        .response
        .stages
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(stages, ["retrieve", NOT_IN_DOCUMENTS_STAGE]);
    let (streamed, response) = collect_stream(rag.chat_stream(ask(question)))
        .await
        .unwrap();
    assert_eq!(streamed, NOT_IN_DOCUMENTS);
    assert_eq!(response.usage.total_tokens(), 0);
}

#[tokio::test]
async fn smollm2_rag_cites_the_passage_that_holds_the_fact() {
    let Some(rag) = rag("smollm2_rag_cites_the_passage_that_holds_the_fact") else {
        return;
    };
    // Each question, and a fact that only the passage answering it holds.
    let cases = [
        ("Which port does Foundry Local use?", "5273"),
        ("What does constrained decoding do?", "JSON schema"),
        (
            "How does BM25 rank passages?",
            "discounted by passage length",
        ),
    ];
    for (question, fact) in cases {
        let answer = rag.answer(ask(question)).await.unwrap();
        assert_eq!(answer.outcome, RagOutcome::Grounded, "{question}");
        assert!(answer.response.usage.completion_tokens > 0);
        assert!(
            !answer.citations.is_empty(),
            "{question}: the answer cites nothing: {:?}",
            answer.text()
        );
        assert!(answer.unknown_citations.is_empty(), "{:?}", answer.text());
        for citation in &answer.citations {
            assert!(
                citation.passage.text.contains(fact),
                "{question}: cites {:?}, which lacks {fact:?}",
                citation.passage
            );
        }
        let body = answer.text().split("\n\nSources:").next().unwrap();
        assert!(
            body.contains(fact.split(' ').next().unwrap()),
            "{question}: {body:?}"
        );
        let first = &answer.citations[0];
        let sources = format!("\n\nSources:\n[{}] {}", first.number, first.passage.id);
        assert!(answer.text().contains(&sources), "{:?}", answer.text());
    }
}

#[tokio::test]
async fn smollm2_rag_streams_the_same_answer() {
    let Some(rag) = rag("smollm2_rag_streams_the_same_answer") else {
        return;
    };
    let question = "Which port does Foundry Local use?";
    let answer = rag.answer(ask(question)).await.unwrap();
    let (streamed, response) = collect_stream(rag.chat_stream(ask(question)))
        .await
        .unwrap();
    assert_eq!(streamed, answer.text(), "greedy: same bytes");
    assert_eq!(response.usage, answer.response.usage);
}

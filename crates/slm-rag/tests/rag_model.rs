//! `RagModel` with `ScriptedModel`s: the grounded prompt, citations, streaming and escalation.

use std::sync::{Arc, RwLock};

use futures::StreamExt;
use slm_core::{
    ChatEvent, ChatModel, ChatRequest, EscalationPolicy, Role, ScriptedModel, collect_stream,
};
use slm_rag::{
    ContextBuilder, Document, Escalation, EscalationReason, GROUNDED_INSTRUCTION, Index, RagModel,
};

fn faq() -> Index {
    Index::from_documents([
        Document::new(
            "refunds",
            "Refunds are paid within five working days of the return.",
        ),
        Document::new(
            "shipping",
            "Orders ship from the Oslo warehouse every weekday.",
        ),
        Document::new(
            "returns",
            "Returns are accepted for thirty days with a receipt.",
        ),
    ])
    .unwrap()
}

fn ask(question: &str) -> ChatRequest {
    ChatRequest::builder().user(question).build()
}

#[tokio::test]
async fn the_prompt_is_grounded_in_numbered_passages() {
    let local = ScriptedModel::new("small").reply("Five working days [1].");
    let rag = RagModel::new(local.clone(), faq()).top_k(2);
    let answer = rag.answer(ask("How fast are refunds paid?")).await.unwrap();

    let sent = &local.requests()[0].messages;
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].role, Role::System);
    assert!(sent[0].content.starts_with(GROUNDED_INSTRUCTION));
    assert_eq!(sent[1].role, Role::User);
    assert!(
        sent[1]
            .content
            .starts_with("Context:\n[1] Refunds are paid")
    );
    assert!(
        sent[1]
            .content
            .ends_with("\n\nQuestion: How fast are refunds paid?")
    );

    assert_eq!(answer.citations[0].passage.id, "refunds");
    assert_eq!(answer.cited().len(), 1);
    assert_eq!(
        answer.text(),
        "Five working days [1].\n\nSources:\n[1] refunds"
    );
    assert_eq!(answer.escalated, None);
    let stages: Vec<&str> = answer
        .response
        .stages
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(stages, ["retrieve", "answer"]);
    assert_eq!(answer.response.model, "small");
    assert_eq!(answer.response.usage, answer.response.stages[1].usage);
}

#[tokio::test]
async fn conversation_history_and_system_messages_are_kept() {
    let local = ScriptedModel::new("small").reply("Oslo [1].");
    let rag = RagModel::new(local.clone(), faq()).sources_in_text(false);
    let request = ChatRequest::builder()
        .system("Reply in English.")
        .user("Hi")
        .assistant("Hello! How can I help?")
        .user("Where do orders ship from?")
        .build();
    let response = rag.chat(request).await.unwrap();
    assert_eq!(response.text(), "Oslo [1].");
    let sent = &local.requests()[0].messages;
    let roles: Vec<Role> = sent.iter().map(|m| m.role).collect();
    assert_eq!(
        roles,
        [Role::System, Role::User, Role::Assistant, Role::User]
    );
    assert!(sent[0].content.ends_with("\n\nReply in English."));
    assert_eq!(sent[1].content, "Hi");
    assert!(
        sent[3]
            .content
            .contains("[1] Orders ship from the Oslo warehouse")
    );
}

#[tokio::test]
async fn nothing_retrieved_still_asks_and_says_so() {
    let local = ScriptedModel::new("small").reply("The context is insufficient to answer.");
    let rag = RagModel::new(local.clone(), faq());
    let answer = rag
        .answer(ask("What is the capital of Peru?"))
        .await
        .unwrap();
    assert!(answer.citations.is_empty());
    assert!(
        local.requests()[0].messages[1]
            .content
            .contains("(no relevant passages found)")
    );
    assert_eq!(
        answer.text(),
        "The context is insufficient to answer.",
        "no sources list"
    );
}

#[tokio::test]
async fn an_insufficient_answer_escalates_to_the_larger_model() {
    let local = ScriptedModel::new("small").reply("Sorry, the context does not contain that.");
    let large = ScriptedModel::new("large").reply("Lima.");
    let rag =
        RagModel::new(local.clone(), faq()).escalation(Escalation::to(Arc::new(large.clone())));
    let answer = rag
        .answer(ask("What is the capital of Peru?"))
        .await
        .unwrap();
    assert_eq!(answer.text(), "Lima.");
    assert_eq!(answer.response.model, "large");
    assert_eq!(answer.escalated, Some(EscalationReason::AnswerRejected));
    assert!(answer.citations.is_empty(), "escalated without context");
    let stages: Vec<&str> = answer
        .response
        .stages
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(stages, ["retrieve", "answer", "escalate"]);
    // The larger model gets the original question, not the grounded prompt.
    assert_eq!(
        large.requests()[0].messages,
        ask("What is the capital of Peru?").messages
    );
    let total = answer.response.stages[1].usage + answer.response.stages[2].usage;
    assert_eq!(answer.response.usage, total);
}

#[tokio::test]
async fn a_sufficient_answer_does_not_escalate() {
    let local = ScriptedModel::new("small").reply("Thirty days [1].");
    let large = ScriptedModel::new("large");
    let rag = RagModel::new(local, faq()).escalation(Escalation::to(Arc::new(large.clone())));
    let answer = rag
        .answer(ask("How long can I return items?"))
        .await
        .unwrap();
    assert_eq!(answer.escalated, None);
    assert!(large.requests().is_empty());
    assert_eq!(answer.cited()[0].passage.id, "returns");
}

#[tokio::test]
async fn low_retrieval_scores_escalate_before_asking_the_local_model() {
    let local = ScriptedModel::new("small");
    let large = ScriptedModel::new("large").reply("Grounded big answer [1].");
    let escalation = Escalation::to(Arc::new(large.clone()))
        .min_score(100.0)
        .with_context(true);
    let rag = RagModel::new(local.clone(), faq()).escalation(escalation);
    let answer = rag.answer(ask("When are refunds paid?")).await.unwrap();
    assert!(local.requests().is_empty(), "the local model was skipped");
    assert!(matches!(
        answer.escalated,
        Some(EscalationReason::LowRetrievalScore { best: Some(b), threshold }) if b < threshold
    ));
    assert!(
        large.requests()[0].messages[1]
            .content
            .contains("[1] Refunds"),
        "with context"
    );
    assert_eq!(answer.citations.len(), 1);
    assert!(answer.text().ends_with("Sources:\n[1] refunds"));
}

#[tokio::test]
async fn streaming_passes_deltas_then_sources() {
    let local = ScriptedModel::new("small").reply("Within five working days [1].");
    let rag = RagModel::new(local, faq());
    let mut stream = rag.chat_stream(ask("When are refunds paid?"));
    let mut deltas = Vec::new();
    let mut done = None;
    while let Some(event) = stream.next().await {
        match event.unwrap() {
            ChatEvent::TextDelta(t) => deltas.push(t),
            ChatEvent::Done(r) => done = Some(*r),
            ChatEvent::ToolCallDelta { .. } => unreachable!("no tools"),
        }
    }
    assert!(
        deltas.len() > 2,
        "the model's words stream one by one: {deltas:?}"
    );
    assert_eq!(deltas.last().unwrap(), "\n\nSources:\n[1] refunds");
    let done = done.unwrap();
    assert_eq!(deltas.concat(), done.text());
    assert_eq!(done.stages.len(), 2);
}

#[tokio::test]
async fn streaming_with_an_answer_policy_collects_first() {
    let local = ScriptedModel::new("small").reply("I do not know.");
    let large = ScriptedModel::new("large").reply("Lima is the capital.");
    let rag = RagModel::new(local, faq()).escalation(Escalation::to(Arc::new(large)));
    let (text, response) = collect_stream(rag.chat_stream(ask("Capital of Peru?")))
        .await
        .unwrap();
    assert_eq!(text, "Lima is the capital.");
    assert_eq!(response.model, "large");
}

#[tokio::test]
async fn streaming_escalates_on_low_scores_and_keeps_streaming() {
    let local = ScriptedModel::new("small");
    let large = ScriptedModel::new("large").reply("An answer from general knowledge.");
    let escalation = Escalation::to(Arc::new(large))
        .when(EscalationPolicy::Never)
        .min_score(0.5);
    let rag = RagModel::new(local.clone(), faq()).escalation(escalation);
    let events: Vec<_> = rag
        .chat_stream(ask("quantum chromodynamics"))
        .collect()
        .await;
    let deltas = events
        .iter()
        .filter(|e| matches!(e, Ok(ChatEvent::TextDelta(_))))
        .count();
    assert!(deltas > 1);
    let Some(Ok(ChatEvent::Done(done))) = events.last() else {
        panic!("no Done")
    };
    assert_eq!(done.model, "large");
    assert_eq!(done.stages.last().unwrap().name, "escalate");
    assert!(local.requests().is_empty());
}

#[tokio::test]
async fn errors_are_typed() {
    let rag = RagModel::new(ScriptedModel::new("small"), faq());
    let no_user = ChatRequest::builder()
        .system("only a system message")
        .build();
    assert!(matches!(
        rag.chat(no_user.clone()).await,
        Err(slm_core::Error::InvalidRequest(_))
    ));
    let first = rag.chat_stream(no_user).next().await.unwrap();
    assert!(matches!(first, Err(slm_core::Error::InvalidRequest(_))));
    // The inner model's failure comes through unchanged.
    let failing = ScriptedModel::new("small").fail(slm_core::Error::Timeout(Default::default()));
    let rag = RagModel::new(failing, faq());
    assert!(matches!(
        rag.chat(ask("refunds?")).await,
        Err(slm_core::Error::Timeout(_))
    ));
}

#[tokio::test]
async fn the_context_budget_limits_the_prompt() {
    let long: String = "refund details ".repeat(200);
    let index = Index::from_documents([
        Document::new("long", long),
        Document::new("short", "refund in five days"),
    ])
    .unwrap();
    let local = ScriptedModel::new("small").reply("ok [1]");
    let rag = RagModel::new(local.clone(), index).context(ContextBuilder::chars(300));
    let answer = rag.answer(ask("refund")).await.unwrap();
    let user = &local.requests()[0].messages[1].content;
    let context = user
        .strip_prefix("Context:\n")
        .unwrap()
        .split("\n\nQuestion:")
        .next()
        .unwrap();
    assert!(context.chars().count() <= 300);
    assert!(!answer.citations.is_empty());
}

#[tokio::test]
async fn a_shared_index_can_grow_while_serving() {
    let index = Arc::new(RwLock::new(faq()));
    let local = ScriptedModel::new("small").reply("x [1]").reply("y [1]");
    let rag = RagModel::new(local.clone(), index.clone());
    let before = rag.answer(ask("gift cards")).await.unwrap();
    assert!(before.citations.is_empty());
    index
        .write()
        .unwrap()
        .add(Document::new("gift", "Gift cards never expire."))
        .unwrap();
    let after = rag.answer(ask("gift cards")).await.unwrap();
    assert_eq!(after.citations[0].passage.id, "gift");
}

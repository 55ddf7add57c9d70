//! `RagModel` with `ScriptedModel`s: the grounded prompt, citations, streaming and escalation.

use std::sync::{Arc, RwLock};

use futures::StreamExt;
use slm_core::{
    ChatEvent, ChatModel, ChatRequest, EscalationPolicy, Role, ScriptedModel, collect_stream,
};
use slm_rag::{
    ContextBuilder, DEFAULT_INSTRUCTION, DEFAULT_MIN_SCORE, Document, Escalation, EscalationReason,
    Index, NOT_IN_DOCUMENTS, NOT_IN_DOCUMENTS_STAGE, RagAnswer, RagModel, RagOutcome,
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
        Document::new("hours", "The shop opens at nine and closes at six."),
        Document::new("warranty", "Electronics carry a two-year warranty."),
        Document::new("contact", "Email support with your order number."),
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
    assert_eq!(sent.len(), 1, "no system prompt is added");
    assert_eq!(sent[0].role, Role::User);
    assert!(
        sent[0]
            .content
            .starts_with("Passages:\n[1] Refunds are paid")
    );
    let tail = format!("\n\nQuestion: How fast are refunds paid?\n{DEFAULT_INSTRUCTION}");
    assert!(sent[0].content.ends_with(&tail), "{}", sent[0].content);

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
    assert_eq!(sent[0].content, "Reply in English.");
    assert_eq!(sent[1].content, "Hi");
    assert!(
        sent[3]
            .content
            .contains("[1] Orders ship from the Oslo warehouse")
    );
}

fn stage_names(answer: &RagAnswer) -> Vec<&str> {
    answer
        .response
        .stages
        .iter()
        .map(|s| s.name.as_str())
        .collect()
}

#[tokio::test]
async fn no_grounding_passage_gets_the_reply_without_a_model_call() {
    let local = ScriptedModel::new("small").reply("Tungsten boils at 5,555 °C.");
    let rag = RagModel::new(local.clone(), faq());
    let answer = rag
        .answer(ask("What is the boiling point of tungsten?"))
        .await
        .unwrap();
    assert!(local.requests().is_empty(), "the local model was not asked");
    assert_eq!(answer.outcome, RagOutcome::NotInDocuments);
    assert_eq!(answer.text(), NOT_IN_DOCUMENTS, "no sources list either");
    assert!(answer.passages.is_empty() && answer.citations.is_empty());
    assert_eq!(answer.escalated, None);
    assert_eq!(stage_names(&answer), ["retrieve", NOT_IN_DOCUMENTS_STAGE]);
    assert_eq!(answer.response.model, "rag(small)");
    assert_eq!(
        answer.response.usage.total_tokens(),
        0,
        "no model, no tokens"
    );
    assert!(answer.response.timings.total >= answer.response.stages[0].timings.total);

    let custom = RagModel::new(local.clone(), faq()).not_in_documents("Not covered.");
    let response = custom.chat(ask("Capital of Peru?")).await.unwrap();
    assert_eq!(response.text(), "Not covered.");
    assert!(local.requests().is_empty());
}

#[tokio::test]
async fn weak_incidental_matches_do_not_ground() {
    // "point" occurs in most passages, so a passage sharing only that word scores low; "what"
    // is a question word and is not searched for at all.
    let index = Index::from_documents([
        Document::new("a", "What to do at the pick-up point: show your receipt."),
        Document::new("b", "Every point of sale accepts cards."),
        Document::new("c", "The meeting point is the main entrance."),
        Document::new("d", "Loyalty points expire after a year."),
        Document::new("e", "Refunds are paid within five working days."),
    ])
    .unwrap();
    let question = "What is the boiling point of tungsten?";
    let local = ScriptedModel::new("small").reply("5,555 °C [1].");
    let rag = RagModel::new(local.clone(), index.clone());
    let grounded = rag.ground(&ask(question)).unwrap();
    assert!(!grounded.query.to_lowercase().contains("what"));
    let best = grounded.best_score.expect("\"point\" matches something");
    assert!(best < DEFAULT_MIN_SCORE, "best {best}");
    assert!(!grounded.is_grounded());
    assert_eq!(grounded.below_min_score.len(), 4);
    let answer = rag.answer(ask(question)).await.unwrap();
    assert_eq!(answer.outcome, RagOutcome::NotInDocuments);
    assert!(local.requests().is_empty());

    // Without the threshold and the question words, the same match would have grounded it.
    let lax = RagModel::new(local.clone(), index)
        .min_score(0.0)
        .question_words(Vec::<String>::new());
    let answer = lax.answer(ask(question)).await.unwrap();
    assert_eq!(answer.outcome, RagOutcome::Grounded);
    assert_eq!(answer.citations[0].passage.id, "a", "matched on \"what\"");
    assert_eq!(local.requests().len(), 1);
}

#[tokio::test]
async fn no_grounding_passage_escalates_when_an_escalation_is_set() {
    let local = ScriptedModel::new("small");
    let large = ScriptedModel::new("large").reply("Tungsten boils at about 5,900 K.");
    // with_context(true) has no context to give: the larger model gets the question as asked.
    let escalation = Escalation::to(Arc::new(large.clone()))
        .when(EscalationPolicy::Never)
        .with_context(true);
    let rag = RagModel::new(local.clone(), faq()).escalation(escalation);
    let question = "What is the boiling point of tungsten?";
    let answer = rag.answer(ask(question)).await.unwrap();
    assert!(local.requests().is_empty());
    assert_eq!(answer.outcome, RagOutcome::Escalated);
    assert!(matches!(
        answer.escalated,
        Some(EscalationReason::NoPassage { min_score, .. }) if min_score == DEFAULT_MIN_SCORE
    ));
    assert_eq!(answer.text(), "Tungsten boils at about 5,900 K.");
    assert_eq!(answer.response.model, "large");
    assert_eq!(large.requests()[0].messages, ask(question).messages);
    assert_eq!(stage_names(&answer), ["retrieve", "escalate"]);
    assert_eq!(answer.response.usage, answer.response.stages[1].usage);
    assert!(answer.response.usage.total_tokens() > 0);
    assert!(answer.passages.is_empty());
}

#[tokio::test]
async fn citations_are_the_passages_the_answer_names() {
    let local = ScriptedModel::new("small")
        .reply("Oslo [2], weekdays [2]; refunds take five days [1, 2] and [9].");
    let rag = RagModel::new(local, faq()).top_k(3);
    let answer = rag
        .answer(ask("Where do orders ship from, and when are refunds paid?"))
        .await
        .unwrap();
    // "contact" matched "order" only, far below the best score: retrieved but not shown.
    let ids: Vec<&str> = answer
        .passages
        .iter()
        .map(|c| c.passage.id.as_str())
        .collect();
    assert_eq!(ids, ["shipping", "refunds"]);
    let cited: Vec<usize> = answer.citations.iter().map(|c| c.number).collect();
    assert_eq!(cited, [2, 1], "first mention order, each once");
    assert_eq!(answer.unknown_citations, [9]);
    for c in &answer.citations {
        assert_eq!(c, &answer.passages[c.number - 1]);
    }
    let footer = answer.text().split("\n\nSources:").nth(1).unwrap();
    let expected = format!(
        "\n[2] {}\n[1] {}\n(no such passage: [9])",
        answer.passages[1].passage.id, answer.passages[0].passage.id
    );
    assert_eq!(footer, expected);
}

#[tokio::test]
async fn an_answer_citing_nothing_says_so() {
    let local = ScriptedModel::new("small").reply("Five working days.");
    let rag = RagModel::new(local, faq());
    let answer = rag.answer(ask("When are refunds paid?")).await.unwrap();
    assert_eq!(answer.outcome, RagOutcome::Grounded);
    assert!(!answer.passages.is_empty());
    assert!(answer.citations.is_empty() && answer.cited().is_empty());
    assert_eq!(answer.text(), "Five working days.\n\nSources: none cited");
}

#[tokio::test]
async fn streaming_matches_the_answer_on_every_path() {
    let escalate = || {
        Escalation::to(Arc::new(
            ScriptedModel::new("large").reply("About 5,900 K."),
        ))
        .when(EscalationPolicy::Never)
    };
    type MakeRag = Box<dyn Fn() -> RagModel<ScriptedModel>>;
    let cases: Vec<(&str, MakeRag)> = vec![
        (
            "When are refunds paid?",
            Box::new(|| RagModel::new(ScriptedModel::new("s").reply("Five days [1] [4]."), faq())),
        ),
        (
            "What is the boiling point of tungsten?",
            Box::new(|| RagModel::new(ScriptedModel::new("s"), faq())),
        ),
        (
            "What is the boiling point of tungsten?",
            Box::new(move || RagModel::new(ScriptedModel::new("s"), faq()).escalation(escalate())),
        ),
    ];
    for (question, make) in cases {
        let answer = make().answer(ask(question)).await.unwrap();
        let (text, streamed) = collect_stream(make().chat_stream(ask(question)))
            .await
            .unwrap();
        assert_eq!(text, answer.text(), "{question}");
        assert_eq!(streamed.text(), answer.text());
        assert_eq!(streamed.model, answer.response.model);
        assert_eq!(streamed.usage, answer.response.usage);
        let names = |r: &slm_core::ChatResponse| -> Vec<String> {
            r.stages.iter().map(|s| s.name.clone()).collect()
        };
        assert_eq!(names(&streamed), names(&answer.response));
    }
}

#[tokio::test]
async fn an_insufficient_answer_escalates_to_the_larger_model() {
    let local = ScriptedModel::new("small").reply("Sorry, the context does not contain that.");
    let large = ScriptedModel::new("large").reply("Yes, they do.");
    let rag =
        RagModel::new(local.clone(), faq()).escalation(Escalation::to(Arc::new(large.clone())));
    let answer = rag
        .answer(ask("Do refunds include the shipping costs?"))
        .await
        .unwrap();
    assert_eq!(answer.text(), "Yes, they do.");
    assert_eq!(answer.response.model, "large");
    assert_eq!(answer.escalated, Some(EscalationReason::AnswerRejected));
    assert!(answer.passages.is_empty(), "escalated without context");
    assert_eq!(answer.outcome, RagOutcome::Escalated);
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
        ask("Do refunds include the shipping costs?").messages
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
        .answer(ask("How long can I return items with a receipt?"))
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
        large.requests()[0].messages[0]
            .content
            .contains("[1] Refunds"),
        "with context"
    );
    assert_eq!(answer.passages.len(), 1);
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
            ChatEvent::ToolCallDelta { .. } | ChatEvent::ReasoningDelta(_) => {
                unreachable!("no tools")
            }
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
    let large = ScriptedModel::new("large").reply("Yes, shipping is refunded.");
    let rag = RagModel::new(local.clone(), faq()).escalation(Escalation::to(Arc::new(large)));
    let (text, response) = collect_stream(rag.chat_stream(ask("Do refunds include shipping?")))
        .await
        .unwrap();
    assert_eq!(text, "Yes, shipping is refunded.");
    assert_eq!(response.model, "large");
    assert_eq!(
        local.requests().len(),
        1,
        "the grounded local model was asked first"
    );
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
        Err(slm_core::Error::InvalidRequest(..))
    ));
    let first = rag.chat_stream(no_user).next().await.unwrap();
    assert!(matches!(first, Err(slm_core::Error::InvalidRequest(..))));
    // The inner model's failure comes through unchanged.
    let failing =
        ScriptedModel::new("small").fail(slm_core::Error::Timeout(Default::default(), None));
    let rag = RagModel::new(failing, faq());
    assert!(matches!(
        rag.chat(ask("refunds?")).await,
        Err(slm_core::Error::Timeout(..))
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
    // Both passages contain "refund", so its IDF (and every score) is tiny: ground on any match.
    let rag = RagModel::new(local.clone(), index)
        .min_score(0.0)
        .context(ContextBuilder::chars(300));
    let answer = rag.answer(ask("refund")).await.unwrap();
    let user = &local.requests()[0].messages[0].content;
    let context = user
        .strip_prefix("Passages:\n")
        .unwrap()
        .split("\n\nQuestion:")
        .next()
        .unwrap();
    assert!(context.chars().count() <= 300);
    assert!(!answer.passages.is_empty());
}

#[tokio::test]
async fn a_shared_index_can_grow_while_serving() {
    let index = Arc::new(RwLock::new(faq()));
    let local = ScriptedModel::new("small").reply("y [1]");
    let rag = RagModel::new(local.clone(), index.clone());
    let before = rag.answer(ask("gift cards")).await.unwrap();
    assert!(before.passages.is_empty());
    assert_eq!(before.outcome, RagOutcome::NotInDocuments);
    index
        .write()
        .unwrap()
        .add(Document::new("gift", "Gift cards never expire."))
        .unwrap();
    let after = rag.answer(ask("gift cards")).await.unwrap();
    assert_eq!(after.citations[0].passage.id, "gift");
}

#[tokio::test]
async fn a_composed_model_inside_reports_its_own_stages() {
    // RagModel over DraftRefine: the stages are the leaf models', not one opaque "answer".
    let small = ScriptedModel::new("small")
        .reply("Draft [1].")
        .reply("Draft [1].");
    let large = ScriptedModel::new("large")
        .reply("Five days [1].")
        .reply("Five days [1].");
    let composed = slm_core::DraftRefine::new(Arc::new(small), Arc::new(large))
        .policy(EscalationPolicy::custom(|_, _| true));
    let rag = RagModel::new(composed, faq()).top_k(2);
    let whole = rag.answer(ask("How fast are refunds paid?")).await.unwrap();
    let (_, streamed) = collect_stream(rag.chat_stream(ask("How fast are refunds paid?")))
        .await
        .unwrap();
    for answer in [whole.response, streamed] {
        let stages: Vec<(&str, &str)> = answer
            .stages
            .iter()
            .map(|s| (s.name.as_str(), s.model.as_str()))
            .collect();
        assert_eq!(
            stages,
            [
                ("retrieve", "bm25"),
                ("answer/draft", "small"),
                ("answer/refine", "large")
            ]
        );
        assert!(answer.stages[1].usage.total_tokens() > 0);
        assert_eq!(
            answer.usage,
            answer.stages[1].usage + answer.stages[2].usage
        );
        assert!(answer.timings.total >= answer.stages[0].timings.total);
        assert!(answer.text().starts_with("Five days [1]."));
    }
}

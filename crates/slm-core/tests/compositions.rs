//! Compositions nest as `Arc<dyn ChatModel>`: DraftRefine around a Fallback, with honest timings,
//! usage, blended cost and streaming.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use slm_core::{
    ChatEvent, ChatModel, ChatRequest, CostModel, DraftRefine, Error, EscalationPolicy, Fallback,
    FallbackWhen, Price, ScriptedModel, collect_stream,
};

const MS: Duration = Duration::from_millis(1);

fn request() -> ChatRequest {
    ChatRequest::builder()
        .system("You write executive briefs.")
        .user("Brief me on the quarterly numbers")
        .build()
}

/// small drafts; the "large" side is a Fallback whose first model times out.
fn pipeline(
    policy: EscalationPolicy,
) -> (
    Arc<dyn ChatModel>,
    ScriptedModel,
    ScriptedModel,
    ScriptedModel,
) {
    let small = ScriptedModel::new("phi-4-mini")
        .reply("Revenue grew and costs fell this quarter overall")
        .latency(20 * MS, MS);
    let flaky = ScriptedModel::new("gpt-4o")
        .fail(Error::Timeout(Duration::from_secs(30), None))
        .latency(15 * MS, MS);
    let backup = ScriptedModel::new("gpt-4o-mini")
        .reply("Revenue rose 12% while costs fell 3%.")
        .latency(25 * MS, 2 * MS);
    let large: Arc<dyn ChatModel> = Arc::new(
        Fallback::new(vec![Arc::new(flaky.clone()), Arc::new(backup.clone())])
            .when(FallbackWhen::RetryableError),
    );
    let hybrid: Arc<dyn ChatModel> =
        Arc::new(DraftRefine::new(Arc::new(small.clone()), large).policy(policy));
    (hybrid, small, flaky, backup)
}

fn costs() -> CostModel {
    CostModel::new()
        .price("gpt-4o", Price::per_million(2.5, 10.0))
        .price("gpt-4o-mini", Price::per_million(0.15, 0.6))
        .price("phi-4-mini", Price::energy(60.0, 0.30))
}

#[tokio::test]
async fn draft_refine_around_fallback_reports_stages_usage_timings_and_cost() {
    let (hybrid, small, flaky, backup) = pipeline(EscalationPolicy::DraftLongerThan(20));
    let r = hybrid.chat(request()).await.unwrap();

    assert_eq!(r.text(), "Revenue rose 12% while costs fell 3%.");
    assert_eq!(r.model, "gpt-4o-mini");
    let names: Vec<_> = r
        .stages
        .iter()
        .map(|s| (s.name.as_str(), s.model.as_str()))
        .collect();
    assert_eq!(
        names,
        vec![
            ("draft", "phi-4-mini"),
            ("refine/attempt-1", "gpt-4o"),
            ("refine/attempt-2", "gpt-4o-mini")
        ]
    );

    // The refine request carried the draft and the question; the system prompt was kept.
    let sent = backup.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(flaky.requests().len(), 1);
    let refine_prompt = sent[0].last_user_text().unwrap();
    assert!(refine_prompt.contains("Revenue grew and costs fell"));
    assert!(refine_prompt.contains("Brief me on the quarterly numbers"));
    assert_eq!(sent[0].messages[0].content, "You write executive briefs.");
    assert_eq!(small.requests().len(), 1);

    // Usage is the sum of the stages (draft: 8 words out; failed attempt: 0; backup: 7).
    assert_eq!(r.stages[0].usage.completion_tokens, 8);
    assert_eq!(r.stages[1].usage.total_tokens(), 0);
    assert_eq!(r.stages[2].usage.completion_tokens, 7);
    assert_eq!(r.usage.completion_tokens, 15);
    assert_eq!(
        r.usage.prompt_tokens,
        r.stages[0].usage.prompt_tokens + r.stages[2].usage.prompt_tokens
    );

    // Timings: the draft took >= 20 ms (+7 chunks), the failed attempt >= 15 ms, the backup >= 25 ms.
    assert!(
        r.stages[0].timings.total >= 27 * MS,
        "{:?}",
        r.stages[0].timings
    );
    assert!(
        r.stages[1].timings.total >= 15 * MS,
        "{:?}",
        r.stages[1].timings
    );
    assert!(
        r.stages[2].timings.total >= 25 * MS,
        "{:?}",
        r.stages[2].timings
    );
    let stage_sum: Duration = r.stages.iter().map(|s| s.timings.total).sum();
    assert!(r.timings.total >= stage_sum);
    // First token of the final answer comes after the draft, the failed attempt and the backup's
    // first-token latency.
    assert!(r.timings.time_to_first_token >= 60 * MS, "{:?}", r.timings);
    assert!(r.timings.time_to_first_token <= r.timings.total);

    // Blended cost: energy for the draft + tokens for the backup; the failed attempt is free.
    let c = costs();
    let expected = Price::energy(60.0, 0.30).cost(r.stages[0].usage, r.stages[0].timings.total)
        + Price::per_million(0.15, 0.6).cost(r.stages[2].usage, Duration::ZERO);
    let blended = c.response_cost(&r);
    assert!(
        (blended - expected).abs() < 1e-12,
        "{blended} vs {expected}"
    );
    assert!(blended > 0.0);
}

#[tokio::test]
async fn short_drafts_are_kept_and_the_large_model_is_not_called() {
    let (hybrid, _small, flaky, backup) = pipeline(EscalationPolicy::DraftLongerThan(600));
    let r = hybrid.chat(request()).await.unwrap();
    assert_eq!(r.model, "phi-4-mini");
    assert_eq!(r.stages.len(), 1);
    assert!(flaky.requests().is_empty() && backup.requests().is_empty());
    assert_eq!(costs().response_cost(&r), costs().stage_cost(&r.stages[0]));
}

#[tokio::test]
async fn streaming_through_the_composition_matches_chat() {
    let (hybrid, ..) = pipeline(EscalationPolicy::Always);
    let mut stream = hybrid.chat_stream(request());
    let mut deltas = Vec::new();
    let mut done = None;
    while let Some(event) = stream.next().await {
        match event.unwrap() {
            ChatEvent::TextDelta(t) => {
                assert!(done.is_none(), "text after Done");
                deltas.push(t)
            }
            ChatEvent::Done(r) => done = Some(*r),
            ChatEvent::ToolCallDelta { .. } | ChatEvent::ReasoningDelta(_) => {
                panic!("no tools here")
            }
        }
    }
    let done = done.expect("stream ends with Done");
    assert!(
        deltas.len() > 1,
        "the refined answer streams word by word: {deltas:?}"
    );
    assert_eq!(deltas.concat(), done.text());
    assert_eq!(done.text(), "Revenue rose 12% while costs fell 3%.");
    assert_eq!(done.stages.len(), 3);
    // Streamed TTFT is measured when the first delta passed through the composition.
    assert!(done.timings.time_to_first_token >= 60 * MS);
    assert!(done.timings.time_to_first_token < done.timings.total);
}

#[tokio::test]
async fn fallback_stream_skips_a_model_that_fails_before_its_first_token() {
    let a = ScriptedModel::new("a").fail(Error::Connection("refused".into(), None));
    let b = ScriptedModel::new("b").reply("hello from b");
    let f: Arc<dyn ChatModel> = Arc::new(Fallback::new(vec![Arc::new(a), Arc::new(b)]));
    let (text, r) = collect_stream(f.chat_stream(request())).await.unwrap();
    assert_eq!(text, "hello from b");
    assert_eq!(
        r.stages.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["attempt-1", "attempt-2"]
    );
}

#[tokio::test]
async fn fallback_stops_on_errors_its_policy_does_not_cover() {
    let a = ScriptedModel::new("a").fail(Error::InvalidRequest("bad".into(), None));
    let b = ScriptedModel::new("b").reply("never");
    let f =
        Fallback::new(vec![Arc::new(a), Arc::new(b.clone())]).when(FallbackWhen::RetryableError);
    assert_eq!(
        f.chat(request()).await.unwrap_err(),
        Error::InvalidRequest("bad".into(), None)
    );
    assert!(b.requests().is_empty());
}

#[tokio::test]
async fn fallback_on_rejected_response_counts_both_answers() {
    let a = ScriptedModel::new("a").reply("I do not know");
    let b = ScriptedModel::new("b").reply("Paris");
    let f = Fallback::new(vec![Arc::new(a), Arc::new(b)]).when(FallbackWhen::error_or(|r| {
        EscalationPolicy::says_insufficient_text(r.text())
    }));
    let r = f.chat(request()).await.unwrap();
    assert_eq!(r.text(), "Paris");
    assert_eq!(r.usage.completion_tokens, 4 + 1);
    assert_eq!(r.stages.len(), 2);
}

#[tokio::test]
async fn fallback_with_a_response_predicate_streams_only_the_kept_answer() {
    let a = ScriptedModel::new("a").reply("I do not know");
    let b = ScriptedModel::new("b").reply("Paris");
    let f = Fallback::new(vec![Arc::new(a), Arc::new(b)]).when(FallbackWhen::error_or(|r| {
        EscalationPolicy::says_insufficient_text(r.text())
    }));
    let (text, r) = collect_stream(f.chat_stream(request())).await.unwrap();
    assert_eq!(text, "Paris");
    assert_eq!(r.model, "b");
}

#[tokio::test]
async fn draft_errors_surface_unchanged() {
    let small = ScriptedModel::new("s").fail(Error::ContextOverflow {
        needed: 10,
        limit: 5,
        source: None,
    });
    let large = ScriptedModel::new("l").reply("x");
    let m = DraftRefine::new(Arc::new(small), Arc::new(large.clone()));
    assert_eq!(
        m.chat(request()).await.unwrap_err(),
        Error::ContextOverflow {
            needed: 10,
            limit: 5,
            source: None
        }
    );
    assert!(large.requests().is_empty());
    let small = ScriptedModel::new("s").fail(Error::ContextOverflow {
        needed: 10,
        limit: 5,
        source: None,
    });
    let m = DraftRefine::new(Arc::new(small), Arc::new(large.clone()));
    let err = collect_stream(m.chat_stream(request())).await.unwrap_err();
    assert_eq!(
        err,
        Error::ContextOverflow {
            needed: 10,
            limit: 5,
            source: None
        }
    );
}

#[tokio::test]
async fn fallback_around_draft_refine_flattens_and_sums_the_inner_stages() {
    let small = ScriptedModel::new("small").reply("A long enough draft to refine");
    let large = ScriptedModel::new("large").reply("Refined.");
    let hybrid: Arc<dyn ChatModel> = Arc::new(
        DraftRefine::new(Arc::new(small), Arc::new(large))
            .policy(EscalationPolicy::DraftLongerThan(5)),
    );
    let down = ScriptedModel::new("down").fail(Error::Connection("refused".into(), None));
    let model = Fallback::new(vec![Arc::new(down), hybrid]).when(FallbackWhen::RetryableError);
    let r = model.chat(request()).await.unwrap();
    let names: Vec<_> = r
        .stages
        .iter()
        .map(|s| (s.name.as_str(), s.model.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("attempt-1", "down"),
            ("attempt-2/draft", "small"),
            ("attempt-2/refine", "large")
        ]
    );
    assert_eq!(r.usage, r.stages[1].usage + r.stages[2].usage);
    assert_eq!(
        r.timings.prompt_eval,
        r.stages
            .iter()
            .map(|s| s.timings.prompt_eval)
            .sum::<Duration>()
    );
    assert!(r.timings.total >= r.stages.iter().map(|s| s.timings.total).max().unwrap());
}

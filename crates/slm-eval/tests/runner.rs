//! The runner against test-double models: resume after a kill, refusal to mix runs, errors,
//! constrained requests, concurrency, native tool calls, latency and cost.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;
use slm_core::{
    Capabilities, ChatModel, ChatRequest, ChatResponse, CostModel, Error, Price, ResponseFormat,
    ScriptedModel, ToolChoice, ToolSpec, async_trait,
};
use slm_eval::{Case, Dataset, EvalError, ReplayModel, RunConfig, Runner, Track};

fn structured_dataset(n: usize) -> Dataset {
    let cases = (0..n)
        .map(|i| {
            let mut c = Case::new(format!("Give case {i} as JSON"), format!("{{\"i\": {i}}}"));
            c.schema = Some(json!({"type": "object", "required": ["i"]}));
            c
        })
        .collect();
    Dataset::from_cases("structured.jsonl", cases)
}

/// Answers case i with `{"i": i}` when i is even and `{"i": -1}` otherwise.
fn replay(data: &Dataset) -> ReplayModel {
    let pairs: Vec<(String, String)> = data
        .cases
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let answer = if i % 2 == 0 {
                c.completion.clone()
            } else {
                "{\"i\": -1}".into()
            };
            (c.prompt.clone(), answer)
        })
        .collect();
    ReplayModel::from_pairs("replayed", pairs)
}

#[tokio::test]
async fn a_killed_run_resumes_and_ends_like_a_clean_one() {
    let data = structured_dataset(10);
    let model = replay(&data);
    let dir = tempfile::tempdir().unwrap();
    let clean_path = dir.path().join("clean.jsonl");
    let runner = Runner::new(RunConfig::new(Track::Structured));
    let clean = runner
        .run(&model, &data, Some(&clean_path), |_| {})
        .await
        .unwrap();
    assert_eq!((clean.resumed, clean.ran), (0, 10));

    // A run killed after 4 cases, in the middle of writing the 5th line.
    let text = std::fs::read_to_string(&clean_path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let killed_path = dir.path().join("killed.jsonl");
    let torn = format!(
        "{}\n{}",
        lines[..4].join("\n"),
        &lines[4][..lines[4].len() / 2]
    );
    std::fs::write(&killed_path, torn).unwrap();

    let resumed = runner
        .run(&model, &data, Some(&killed_path), |_| {})
        .await
        .unwrap();
    assert_eq!((resumed.resumed, resumed.ran), (4, 6));
    let strip = |rows: &[slm_eval::CaseResult]| -> Vec<(usize, String, slm_eval::CaseScore)> {
        rows.iter()
            .map(|r| (r.index, r.prediction.clone(), r.score.clone()))
            .collect()
    };
    assert_eq!(strip(&resumed.results), strip(&clean.results));
    // The file now holds exactly 10 well-formed lines.
    let rerun_text = std::fs::read_to_string(&killed_path).unwrap();
    assert_eq!(rerun_text.lines().count(), 10);
    assert!(rerun_text.ends_with('\n'));

    // A third run has nothing left to do.
    let again = runner
        .run(&model, &data, Some(&killed_path), |_| {})
        .await
        .unwrap();
    assert_eq!((again.resumed, again.ran), (10, 0));
}

#[tokio::test]
async fn results_of_another_dataset_or_model_are_refused() {
    let data = structured_dataset(3);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.jsonl");
    let runner = Runner::new(RunConfig::new(Track::Structured));
    runner
        .run(&replay(&data), &data, Some(&path), |_| {})
        .await
        .unwrap();

    let other = Dataset::from_cases("other", vec![Case::new("different", "{}")]);
    let err = runner
        .run(&replay(&other), &other, Some(&path), |_| {})
        .await
        .unwrap_err();
    assert!(matches!(err, EvalError::ResultsMismatch { .. }), "{err}");

    let renamed = ReplayModel::from_pairs("someone-else", [("x", "y")]);
    let err = runner
        .run(&renamed, &data, Some(&path), |_| {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("someone-else"), "{err}");
}

#[tokio::test]
async fn model_errors_are_recorded_as_failed_cases_and_can_be_retried() {
    let data = structured_dataset(2);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.jsonl");
    let flaky = ScriptedModel::new("m")
        .reply("{\"i\": 0}")
        .fail(Error::RateLimited {
            retry_after: None,
            source: None,
        });
    let mut config = RunConfig::new(Track::Structured);
    let outcome = Runner::new(config.clone())
        .run(&flaky, &data, Some(&path), |_| {})
        .await
        .unwrap();
    let failed = &outcome.results[1];
    assert!(failed.error.as_deref().unwrap().contains("rate limited"));
    assert!(!failed.score.passes["json_valid"]);

    config.retry_errors = true;
    let fixed = ScriptedModel::new("m").reply("{\"i\": 1}");
    let outcome = Runner::new(config)
        .run(&fixed, &data, Some(&path), |_| {})
        .await
        .unwrap();
    assert_eq!((outcome.resumed, outcome.ran), (1, 1));
    assert!(
        outcome
            .results
            .iter()
            .all(|r| r.error.is_none() && r.score.all_pass())
    );
    // On a later resume, the retried row (appended last) wins over the error row.
    let later = Runner::new(RunConfig::new(Track::Structured))
        .run(&fixed, &data, Some(&path), |_| {})
        .await
        .unwrap();
    assert_eq!(later.ran, 0);
    assert!(later.results[1].error.is_none());
}

#[tokio::test]
async fn constrained_runs_send_schemas_and_required_tools() {
    let data = structured_dataset(1);
    let model = ScriptedModel::new("m").reply("{\"i\": 0}");
    let mut config = RunConfig::new(Track::Structured);
    config.constrained = true;
    Runner::new(config)
        .run(&model, &data, None, |_| {})
        .await
        .unwrap();
    let request = &model.requests()[0];
    assert!(
        matches!(&request.response_format, ResponseFormat::JsonSchema { schema, .. } if schema["required"] == json!(["i"]))
    );
    assert_eq!(request.options.temperature, Some(0.0));
    assert_eq!(request.options.seed, Some(42));

    let mut case = Case::new(
        "Add 1 and 2",
        r#"<tool_call name="add">{"a": 1, "b": 2}</tool_call>"#,
    );
    case.tools = vec![ToolSpec::new("add", "Adds", json!({"type": "object"}))];
    let tools_data = Dataset::from_cases("t", vec![case]);
    let model = ScriptedModel::new("m").tool_call("add", json!({"b": 2, "a": 1.0}));
    let mut config = RunConfig::new(Track::Toolcall);
    config.constrained = true;
    let outcome = Runner::new(config)
        .run(&model, &tools_data, None, |_| {})
        .await
        .unwrap();
    let request = &model.requests()[0];
    assert_eq!(request.tool_choice, ToolChoice::Required);
    assert_eq!(request.tools[0].name, "add");
    // A native tool call is rendered as a wrapper and scores as a perfect answer.
    assert!(
        outcome.results[0]
            .prediction
            .starts_with("<tool_call name=\"add\">")
    );
    assert!(
        outcome.results[0].score.all_pass(),
        "{:?}",
        outcome.results[0].score
    );
}

/// Counts how many requests are in flight at once.
struct Gauge {
    in_flight: AtomicUsize,
    peak: AtomicUsize,
}

#[async_trait]
impl ChatModel for Gauge {
    fn id(&self) -> &str {
        "gauge"
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }
    async fn chat(&self, _request: ChatRequest) -> slm_core::Result<ChatResponse> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(20)).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        Ok(ChatResponse::from_text("gauge", "{}"))
    }
}

#[tokio::test]
async fn concurrency_bounds_requests_in_flight() {
    let data = structured_dataset(12);
    for concurrency in [1, 4] {
        let gauge = Arc::new(Gauge {
            in_flight: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        });
        let mut config = RunConfig::new(Track::Structured);
        config.concurrency = concurrency;
        let mut order = Vec::new();
        let outcome = Runner::new(config)
            .run(gauge.as_ref(), &data, None, |row| order.push(row.index))
            .await
            .unwrap();
        assert_eq!(gauge.peak.load(Ordering::SeqCst), concurrency);
        assert_eq!(outcome.results.len(), 12);
        assert!(outcome.results.windows(2).all(|w| w[0].index < w[1].index));
        assert_eq!(order.len(), 12, "the observer sees every case");
    }
}

#[tokio::test]
async fn latency_tokens_and_cost_are_measured() {
    let data = structured_dataset(1);
    let model = ScriptedModel::new("priced")
        .reply("{\"i\": 0, \"note\": \"three more words\"}")
        .latency(Duration::from_millis(30), Duration::from_millis(5));
    let mut config = RunConfig::new(Track::Structured);
    config.costs = CostModel::new().price("priced", Price::per_million(1_000_000.0, 2_000_000.0));
    let outcome = Runner::new(config)
        .run(&model, &data, None, |_| {})
        .await
        .unwrap();
    let row = &outcome.results[0];
    assert!(row.ttft_ms >= 30.0, "{}", row.ttft_ms);
    assert!(
        row.total_ms >= row.ttft_ms + 5.0,
        "{} vs {}",
        row.total_ms,
        row.ttft_ms
    );
    assert!(
        row.usage.prompt_tokens > 0 && row.usage.completion_tokens == 6,
        "{:?}",
        row.usage
    ); // six words
    let expected = row.usage.prompt_tokens as f64 + 2.0 * row.usage.completion_tokens as f64;
    assert!(
        (row.cost - expected).abs() < 1e-9,
        "{} vs {expected}",
        row.cost
    );
}

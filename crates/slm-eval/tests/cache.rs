//! The response cache under the runner: hits, misses when anything that decides the answer
//! changes, errors left out, models without an identity left out, and concurrent writers.

use std::time::Duration;

use serde_json::json;
use slm_core::{ChatResponse, Error, ScriptedModel};
use slm_eval::cache::{CachedAnswer, ResponseCache};
use slm_eval::{Case, Dataset, RunConfig, RunOutcome, Runner, Track};

fn dataset(n: usize) -> Dataset {
    let cases = (0..n)
        .map(|i| Case::new(format!("Give case {i} as JSON"), format!("{{\"i\": {i}}}")))
        .collect();
    Dataset::from_cases("structured.jsonl", cases)
}

/// A model answering case i with `{"i": i}`, one request after the other, after a short wait.
fn answering(identity: &str, n: usize) -> ScriptedModel {
    (0..n)
        .fold(ScriptedModel::new("m").with_identity(identity), |m, i| {
            m.reply(json!({"i": i}).to_string())
        })
        .latency(Duration::from_millis(3), Duration::ZERO)
}

fn config(cache: &ResponseCache) -> RunConfig {
    let mut config = RunConfig::new(Track::Structured);
    config.cache = Some(cache.clone());
    config
}

async fn run(config: &RunConfig, model: &ScriptedModel, data: &Dataset) -> RunOutcome {
    Runner::new(config.clone())
        .run(model, data, None, |_| {})
        .await
        .unwrap()
}

#[tokio::test]
async fn a_rerun_of_an_unchanged_evaluation_asks_the_model_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cache = ResponseCache::open(dir.path()).unwrap();
    let data = dataset(6);
    let first_model = answering("scripted:1", 6);
    let first = run(&config(&cache), &first_model, &data).await;
    assert_eq!(
        (first.ran, first.from_cache, first.model_calls()),
        (6, 0, 6)
    );
    assert_eq!(first_model.requests().len(), 6);
    assert_eq!(cache.len().unwrap(), 6);

    // The same evaluation again, in a new process (a new connection), with a model that has
    // nothing to say: every answer comes from the cache.
    let silent = ScriptedModel::new("m").with_identity("scripted:1");
    let again = run(
        &config(&ResponseCache::open(dir.path()).unwrap()),
        &silent,
        &data,
    )
    .await;
    assert_eq!(
        (again.ran, again.from_cache, again.model_calls()),
        (6, 6, 0)
    );
    assert!(silent.requests().is_empty());
    assert_eq!(first.results.len(), again.results.len());
    for (a, b) in first.results.iter().zip(&again.results) {
        assert!(!a.cached && b.cached);
        assert_eq!(a.prediction, b.prediction);
        assert_eq!(a.score, b.score);
        assert_eq!(a.usage, b.usage);
        // The latencies are the ones measured when the model answered.
        assert_eq!((a.ttft_ms, a.total_ms), (b.ttft_ms, b.total_ms));
        assert!(b.total_ms >= 3.0, "{}", b.total_ms);
    }
    assert_eq!(
        slm_eval::metrics::aggregate(first.results.iter().map(|r| &r.score)),
        slm_eval::metrics::aggregate(again.results.iter().map(|r| &r.score))
    );
}

#[tokio::test]
async fn anything_that_decides_the_answer_changes_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cache = ResponseCache::open(dir.path()).unwrap();
    let data = dataset(3);
    run(&config(&cache), &answering("weights:a", 3), &data).await;

    let mut longer = config(&cache);
    longer.options.max_tokens = Some(64);
    let mut prompted = config(&cache);
    prompted.system_prompt.push_str(" Be brief.");
    let mut constrained = config(&cache);
    constrained.constrained = true;
    let mut hotter = config(&cache);
    hotter.options.temperature = Some(0.7);
    for changed in [&longer, &prompted, &constrained, &hotter] {
        let model = answering("weights:a", 3);
        let outcome = run(changed, &model, &data).await;
        assert_eq!(outcome.from_cache, 0, "{:?}", changed.fingerprint());
        assert_eq!(model.requests().len(), 3);
    }
    // Other weights: another model.
    let other = answering("weights:b", 3);
    assert_eq!(run(&config(&cache), &other, &data).await.from_cache, 0);
    // Concurrency does not decide answers: still cached.
    let mut wider = config(&cache);
    wider.concurrency = 4;
    let silent = ScriptedModel::new("m").with_identity("weights:a");
    assert_eq!(run(&wider, &silent, &data).await.from_cache, 3);
    // One more case: only it is asked.
    let grown = dataset(4);
    let model = ScriptedModel::new("m")
        .with_identity("weights:a")
        .reply(r#"{"i": 3}"#);
    let outcome = run(&config(&cache), &model, &grown).await;
    assert_eq!((outcome.from_cache, outcome.model_calls()), (3, 1));
}

#[tokio::test]
async fn errors_are_not_cached_and_are_asked_again() {
    let dir = tempfile::tempdir().unwrap();
    let cache = ResponseCache::open(dir.path()).unwrap();
    let data = dataset(2);
    let flaky = ScriptedModel::new("m")
        .with_identity("scripted:1")
        .fail(Error::Backend("HTTP 500".into(), None))
        .reply(r#"{"i": 1}"#);
    let first = run(&config(&cache), &flaky, &data).await;
    assert!(first.results[0].error.is_some());
    assert_eq!(cache.len().unwrap(), 1);

    let healthy = ScriptedModel::new("m")
        .with_identity("scripted:1")
        .reply(r#"{"i": 0}"#);
    let again = run(&config(&cache), &healthy, &data).await;
    assert_eq!((again.from_cache, again.model_calls()), (1, 1));
    assert!(again.results.iter().all(|r| r.error.is_none()));
    assert!(again.results.iter().all(|r| r.score.all_pass()));
}

#[tokio::test]
async fn a_model_that_cannot_say_what_decides_its_answers_is_not_cached() {
    let dir = tempfile::tempdir().unwrap();
    let cache = ResponseCache::open(dir.path()).unwrap();
    let data = dataset(2);
    let anonymous = ScriptedModel::new("anon")
        .reply(r#"{"i": 0}"#)
        .reply(r#"{"i": 1}"#);
    let outcome = run(&config(&cache), &anonymous, &data).await;
    let why = outcome.cache_skipped.clone().unwrap();
    assert!(why.contains("anon"), "{why}");
    assert_eq!(outcome.model_calls(), 2);
    assert!(cache.is_empty().unwrap());
}

#[test]
fn concurrent_writers_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (writers, each) = (4, 150);
    std::thread::scope(|scope| {
        for w in 0..writers {
            let path = dir.path();
            scope.spawn(move || {
                // One connection per writer, as separate processes would have.
                let cache = ResponseCache::open(path).unwrap();
                for i in 0..each {
                    let answer = CachedAnswer {
                        response: ChatResponse::from_text("m", format!("{w}/{i}")),
                        ttft_ms: 1.0,
                        total_ms: 2.0,
                    };
                    cache.put(&format!("{w}/{i}"), "m", &answer).unwrap();
                }
            });
        }
    });
    let cache = ResponseCache::open(dir.path()).unwrap();
    cache.check_integrity().unwrap();
    assert_eq!(cache.len().unwrap(), writers * each);
    for w in 0..writers {
        for i in (0..each).step_by(37) {
            let got = cache.get(&format!("{w}/{i}")).unwrap().unwrap();
            assert_eq!(got.response.text(), format!("{w}/{i}"));
        }
    }
}

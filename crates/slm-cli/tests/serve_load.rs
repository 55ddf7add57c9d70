//! Load: 64 concurrent streaming clients for 30 s against `slm serve` on SmolLM2. Every stream
//! must complete (role first, a finish reason, usage, `[DONE]`) with no error; the TTFT
//! percentiles and throughput are printed (`--nocapture`).

mod serve_support;

use std::time::Duration;

use serve_support::{Server, chat_body, load, smollm2};

#[tokio::test(flavor = "multi_thread")]
async fn sixty_four_streaming_clients_for_thirty_seconds() {
    let Some(_) = smollm2("sixty_four_streaming_clients_for_thirty_seconds") else {
        return;
    };
    let mut server = Server::start(&["--model", "smollm2"]);
    server.ready().await;
    let body = chat_body("smollm2", "Name a fruit and its colour.", 16, true);
    let report = load(&server.url, body, 64, Duration::from_secs(30)).await;
    println!(
        "slm serve, 64 streaming clients, 30 s: {}",
        report.to_json()
    );
    assert!(report.requests >= 64, "{report:?}");
    assert!(
        report.errors.is_empty(),
        "{} failed, first: {}",
        report.errors.len(),
        report.errors[0]
    );
    assert_eq!(report.complete, report.requests);
    assert!(report.ttft_p50_ms <= report.ttft_p99_ms);
    let metrics = reqwest::get(format!("{}/metrics", server.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let ok = serve_support::metric_value(
        &metrics,
        r#"slm_chat_requests_total{model="smollm2",status="200"}"#,
    );
    assert_eq!(ok, report.requests as f64);
    assert_eq!(
        serve_support::metric_value(&metrics, r#"slm_requests_in_flight{model="smollm2"}"#),
        0.0
    );
}

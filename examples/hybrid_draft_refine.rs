//! A hybrid pipeline: a small model drafts, a large model refines only when the
//! escalation policy says so (here: drafts longer than a threshold, or drafts that admit they
//! cannot answer). Reports each stage's latency, the blended latency and the blended cost.
//!
//! Offline by default: the draft model is the local model (a generated demo model, or
//! `SLM_MODEL_PATH`) and the "large" model is the same model at a larger token budget. With
//! AZURE_* variables set (or `SLM_OPENAI_SPEC=openai:http://host:port/v1#model`), the remote
//! model refines instead.
//!
//! ```text
//! cargo run --release --example hybrid_draft_refine
//! AZURE_ENDPOINT=... AZURE_API_KEY=... AZURE_API_VERSION=2024-05-01-preview \
//!   AZURE_DEPLOYMENT=chat cargo run --release --example hybrid_draft_refine
//! ```

mod common;

use std::sync::Arc;

use slm::core::{
    ChatModel, ChatRequest, CostModel, DraftRefine, EscalationPolicy, GenerationOptions, Price,
};

const BRIEFS: [&str; 3] = [
    "Write an executive brief on our Q3 cloud spend.",
    "Draft a status update for the data platform migration.",
    "Summarize the incident report from last night.",
];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let local = common::local_model_path()?;
    common::announce(&local);
    let small: Arc<dyn ChatModel> = Arc::new(common::load_local(&local, 2048)?);
    let large: Arc<dyn ChatModel> = common::remote_models()?
        .into_iter()
        .next()
        .unwrap_or_else(|| small.clone());
    // The usual policy escalates drafts over 600 characters; the demo model's drafts are short byte
    // noise, so it uses a small threshold to show both branches.
    let threshold = if local.is_demo { 10 } else { 600 };
    let hybrid = DraftRefine::new(small.clone(), large.clone())
        .policy(EscalationPolicy::Any(vec![
            EscalationPolicy::DraftLongerThan(threshold),
            EscalationPolicy::DraftSaysInsufficient,
        ]))
        .refine_template("Refine and polish:\n{draft}");
    let costs = CostModel::new()
        .price(small.id(), Price::energy(60.0, 0.30))
        .price("gpt-4o", Price::per_million(2.5, 10.0));

    println!(
        "draft: {}  refine: {}  escalate when the draft > {threshold} chars\n",
        small.id(),
        large.id()
    );
    let mut rows = Vec::new();
    let mut blended_ms = 0.0;
    let mut blended_cost = 0.0;
    for (i, brief) in BRIEFS.iter().enumerate() {
        // Vary the draft budget so some drafts stay short and some escalate.
        let budget = common::max_tokens([3, 48, 96][i]);
        let request = ChatRequest::builder()
            .user(*brief)
            .options(GenerationOptions::deterministic().with_max_tokens(budget))
            .build();
        let r = hybrid.chat(request).await?;
        for stage in &r.stages {
            rows.push(vec![
                format!("#{}", i + 1),
                stage.name.clone(),
                stage.model.clone(),
                common::ms(stage.timings.total),
                stage.usage.total_tokens().to_string(),
                format!("{:.6}", costs.stage_cost(stage)),
            ]);
        }
        rows.push(vec![
            format!("#{}", i + 1),
            "= total".into(),
            if r.stages.len() > 1 {
                "escalated".into()
            } else {
                "draft kept".into()
            },
            common::ms(r.timings.total),
            r.usage.total_tokens().to_string(),
            format!("{:.6}", costs.response_cost(&r)),
        ]);
        blended_ms += r.timings.total.as_secs_f64() * 1000.0;
        blended_cost += costs.response_cost(&r);
    }
    common::print_table(
        &["brief", "stage", "model", "ms", "tokens", "cost $"],
        &rows,
    );
    println!(
        "\nblended average: {:.1} ms and ${:.6} per brief",
        blended_ms / BRIEFS.len() as f64,
        blended_cost / BRIEFS.len() as f64
    );
    Ok(())
}

//! SciFact quality and speed of slm-rag beside tantivy (bm25s runs in scripts/bm25s_scifact.py).
//!
//! ```sh
//! cargo run --release -p slm-rag --example scifact -- [--repeats 20] [--json]
//! ```
//! Reads `$SLM_SCIFACT_DIR` (default `../shared/data/scifact`). Prints nDCG@10, Recall@100,
//! MRR@10, the median index build time (raw text to a searchable index) and the median
//! queries per second (300 test queries, top-100), single-threaded and on rayon pools of 1..N
//! threads.

#[path = "../benches/support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use slm_rag::{Document, Index, RetrievalScores, TextAnalyzer};
use support::TantivyBaseline;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// The median time of `f`, its input made by `setup` and its output dropped outside the timing.
fn timed_with<I, T>(
    repeats: usize,
    mut setup: impl FnMut() -> I,
    mut f: impl FnMut(I) -> T,
) -> Duration {
    median(
        (0..repeats)
            .map(|_| {
                let input = setup();
                let started = Instant::now();
                let output = black_box(f(input));
                let elapsed = started.elapsed();
                drop(output);
                elapsed
            })
            .collect(),
    )
}

fn timed<T>(repeats: usize, mut f: impl FnMut() -> T) -> Duration {
    timed_with(repeats, || (), |()| f())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let repeats = args
        .iter()
        .position(|a| a == "--repeats")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(20usize);
    let json = args.iter().any(|a| a == "--json");
    let Some(data) = support::load_scifact() else {
        std::process::exit(2)
    };
    let documents: Vec<Document> = data.documents().collect();
    let queries: Vec<&str> = data.queries.iter().map(|q| q.text.as_str()).collect();
    let ids: Vec<&str> = data.queries.iter().map(|q| q.id.as_str()).collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());

    let mut report = serde_json::Map::new();
    report.insert("documents".into(), documents.len().into());
    report.insert("queries".into(), queries.len().into());
    report.insert("repeats".into(), repeats.into());

    // slm-rag with bm25s' settings, and with its own default analyzer (Unicode words).
    for (name, analyzer) in [
        ("slm-rag", TextAnalyzer::bm25s()),
        ("slm-rag-unicode", TextAnalyzer::english()),
    ] {
        let build_time = timed_with(
            repeats,
            || documents.clone(),
            |docs| support::build_with(analyzer.clone(), docs),
        );
        let one = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
        let build_1t = timed_with(
            repeats,
            || documents.clone(),
            |docs| one.install(|| support::build_with(analyzer.clone(), docs)),
        );
        let index = support::build_with(analyzer, documents.clone());
        let run: HashMap<String, Vec<String>> = ids
            .iter()
            .zip(&queries)
            .map(|(id, q)| {
                (
                    id.to_string(),
                    index
                        .search(q, 100)
                        .iter()
                        .map(|h| h.id().to_string())
                        .collect(),
                )
            })
            .collect();
        let scores = RetrievalScores::evaluate(&run, &data.qrels);
        let single = timed(repeats, || {
            queries
                .iter()
                .map(|q| index.search(q, 100).len())
                .sum::<usize>()
        });
        let mut entry = quality(&scores);
        entry.insert("index_build_ms".into(), ms(build_time).into());
        entry.insert("index_build_1_thread_ms".into(), ms(build_1t).into());
        entry.insert("terms".into(), index.term_count().into());
        entry.insert(
            "single_thread_qps".into(),
            qps(queries.len(), single).into(),
        );
        if name == "slm-rag" {
            entry.insert(
                "batch_qps_by_threads".into(),
                batch_scaling(&index, &queries, threads, repeats).into(),
            );
            entry.insert("file".into(), file_stats(&index, repeats)?.into());
        }
        report.insert(name.into(), entry.into());
    }

    // tantivy with the same analysis, one indexing thread, one segment.
    let build_time = timed(repeats.min(5), || TantivyBaseline::build(&documents, 1));
    let tantivy = TantivyBaseline::build(&documents, 1);
    let run: HashMap<String, Vec<String>> = ids
        .iter()
        .zip(&queries)
        .map(|(id, q)| (id.to_string(), tantivy.search_ids(q, 100)))
        .collect();
    let scores = RetrievalScores::evaluate(&run, &data.qrels);
    let single = timed(repeats, || {
        queries
            .iter()
            .map(|q| tantivy.search(q, 100).len())
            .sum::<usize>()
    });
    let mut entry = quality(&scores);
    entry.insert("index_build_ms".into(), ms(build_time).into());
    entry.insert("segments".into(), tantivy.segments().into());
    entry.insert(
        "single_thread_qps".into(),
        qps(queries.len(), single).into(),
    );
    report.insert("tantivy".into(), entry.into());

    let report = serde_json::Value::Object(report);
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&report);
    }
    Ok(())
}

fn quality(scores: &RetrievalScores) -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    m.insert("ndcg@10".into(), round(scores.ndcg_at_10, 5).into());
    m.insert("recall@100".into(), round(scores.recall_at_100, 5).into());
    m.insert("mrr@10".into(), round(scores.mrr_at_10, 5).into());
    m
}

/// Queries per second of `search_batch` on rayon pools of 1..=threads, over the queries
/// repeated 10 times (3,000 queries) so that each measurement lasts long enough.
fn batch_scaling(
    index: &Index,
    queries: &[&str],
    threads: usize,
    repeats: usize,
) -> serde_json::Map<String, serde_json::Value> {
    let many: Vec<&str> = queries
        .iter()
        .copied()
        .cycle()
        .take(queries.len() * 10)
        .collect();
    let mut by_threads = serde_json::Map::new();
    for n in 1..=threads {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .expect("pool");
        let time = timed(repeats, || {
            pool.install(|| index.search_batch(&many, 100).len())
        });
        by_threads.insert(n.to_string(), qps(many.len(), time).into());
    }
    by_threads
}

/// Size of the saved index and median save and load times.
fn file_stats(
    index: &Index,
    repeats: usize,
) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("scifact.bm25");
    let save = timed(repeats.min(5), || index.save(&path).expect("save"));
    let load = timed(repeats.min(5), || Index::load(&path).expect("load"));
    let mut m = serde_json::Map::new();
    m.insert("bytes".into(), std::fs::metadata(&path)?.len().into());
    m.insert("save_ms".into(), ms(save).into());
    m.insert("load_ms".into(), ms(load).into());
    Ok(m)
}

fn ms(d: Duration) -> f64 {
    round(d.as_secs_f64() * 1e3, 3)
}

fn qps(queries: usize, d: Duration) -> f64 {
    round(queries as f64 / d.as_secs_f64(), 0)
}

fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

fn print_table(report: &serde_json::Value) {
    println!(
        "SciFact: {} documents, {} queries, medians of {} runs",
        report["documents"], report["queries"], report["repeats"]
    );
    println!(
        "{:<16} {:>8} {:>10} {:>8} {:>10} {:>12} {:>14}",
        "system", "nDCG@10", "Recall@100", "MRR@10", "index ms", "1-thread ms", "1-thread q/s"
    );
    for name in ["slm-rag", "slm-rag-unicode", "tantivy"] {
        let e = &report[name];
        let one_thread = if name == "tantivy" {
            &e["index_build_ms"]
        } else {
            &e["index_build_1_thread_ms"]
        };
        println!(
            "{:<16} {:>8} {:>10} {:>8} {:>10} {:>12} {:>14}",
            name,
            e["ndcg@10"],
            e["recall@100"],
            e["mrr@10"],
            e["index_build_ms"],
            one_thread,
            e["single_thread_qps"]
        );
    }
    println!(
        "slm-rag search_batch q/s by rayon threads: {}",
        report["slm-rag"]["batch_qps_by_threads"]
    );
    println!("slm-rag index file: {}", report["slm-rag"]["file"]);
}

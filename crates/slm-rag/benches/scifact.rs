//! Criterion benchmarks on SciFact (5,183 abstracts, 300 test queries): index build and top-100
//! queries for slm-rag (bm25s settings) and tantivy (in RAM, same analysis), plus slm-rag's
//! batch search on 1..N threads and save/load. bm25s, the reference, is timed on the same data
//! by `scripts/bm25s_scifact.py`; `scripts/bench-rag.sh` runs both in one go.
//!
//! Reads `$SLM_SCIFACT_DIR` (default `../shared/data/scifact`); skipped when absent.

mod support;

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use slm_rag::{Document, Index};
use support::TantivyBaseline;

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool")
}

fn scifact(c: &mut Criterion) {
    let Some(data) = support::load_scifact() else {
        return;
    };
    let documents: Vec<Document> = data.documents().collect();
    let queries: Vec<&str> = data.queries.iter().map(|q| q.text.as_str()).collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());

    let mut build = c.benchmark_group("index_build");
    build
        .sample_size(20)
        .measurement_time(Duration::from_secs(10));
    build.throughput(Throughput::Elements(documents.len() as u64));
    build.bench_function("slm-rag", |b| {
        b.iter_batched(
            || documents.clone(),
            support::build_bm25s_compatible,
            BatchSize::LargeInput,
        )
    });
    let one = pool(1);
    build.bench_function("slm-rag-1-thread", |b| {
        b.iter_batched(
            || documents.clone(),
            |docs| one.install(|| support::build_bm25s_compatible(docs)),
            BatchSize::LargeInput,
        )
    });
    build.sample_size(10);
    build.bench_function("tantivy-1-thread", |b| {
        b.iter(|| TantivyBaseline::build(&documents, 1))
    });
    build.finish();

    let index = support::build_bm25s_compatible(documents.clone());
    let tantivy = TantivyBaseline::build(&documents, 1);
    let mut search = c.benchmark_group("queries_top100_single_thread");
    search.throughput(Throughput::Elements(queries.len() as u64));
    search.bench_function("slm-rag", |b| {
        b.iter(|| {
            for q in &queries {
                black_box(index.search(q, 100));
            }
        })
    });
    search.bench_function("tantivy", |b| {
        b.iter(|| {
            for q in &queries {
                black_box(tantivy.search(q, 100));
            }
        })
    });
    search.finish();

    let mut batch = c.benchmark_group("search_batch_top100");
    batch.throughput(Throughput::Elements(queries.len() as u64));
    for n in 1..=threads {
        let pool = pool(n);
        batch.bench_function(format!("threads-{n}"), |b| {
            b.iter(|| pool.install(|| index.search_batch(&queries, 100).len()))
        });
    }
    batch.finish();

    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("scifact.bm25");
    let mut file = c.benchmark_group("file");
    file.sample_size(10);
    file.bench_function("save", |b| b.iter(|| index.save(&path).expect("save")));
    file.bench_function("load", |b| b.iter(|| Index::load(&path).expect("load")));
    file.finish();
}

criterion_group!(benches, scifact);
criterion_main!(benches);

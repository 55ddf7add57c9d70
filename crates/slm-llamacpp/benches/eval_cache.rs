//! Evaluation throughput (cases per second) of the SmolLM2 tool-call track, cold (every case
//! asked of SmolLM2-135M-Instruct, 8 sequences decoded together as `slm eval run` does) and
//! from the response cache (the same evaluation rerun: every answer read from SQLite, no model
//! call). Cases: the first 16 tool-call cases the bundled xLAM sample prepares, 64 new tokens at
//! most, greedy.
//!
//! ```text
//! cargo bench -p slm-llamacpp --bench eval_cache
//! ```
//!
//! Environment: `SLM_BENCH_THREADS` (default 2).

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use slm_eval::{ResponseCache, RunConfig, Runner, Track};
use slm_llamacpp::models::SMOLLM2;
use slm_llamacpp::{LlamaCppModel, LoadOptions};
use support::{threads, xlam_toolcall_cases};

mod support;

const CASES: usize = 16;
const BATCH: u32 = 8;

fn eval_cache(c: &mut Criterion) {
    let path = SMOLLM2
        .locate()
        .expect("SmolLM2 in the model cache (scripts/setup.sh fetches it)");
    let options = LoadOptions::default()
        .with_threads(threads())
        .with_context_length(1024)
        .with_max_sequences(BATCH);
    let model = LlamaCppModel::load(&path, options).expect("load SmolLM2");
    let dir = tempfile::tempdir().unwrap();
    let data = xlam_toolcall_cases(&dir.path().join("data"), CASES);
    let cache = ResponseCache::open(&dir.path().join("cache")).unwrap();
    let mut config = RunConfig::new(Track::Toolcall);
    config.options.max_tokens = Some(64);
    config.concurrency = BATCH as usize;
    let cold = Runner::new(config.clone());
    config.cache = Some(cache.clone());
    let cached = Runner::new(config);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // Fill the cache once.
    let filled = runtime
        .block_on(cached.run(&model, &data, None, |_| {}))
        .unwrap();
    assert_eq!(filled.model_calls(), CASES);

    let mut group = c.benchmark_group("eval_smollm2_toolcall");
    group.throughput(Throughput::Elements(CASES as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(60));
    group.bench_function("cold", |b| {
        b.iter(|| {
            let outcome = runtime
                .block_on(cold.run(&model, &data, None, |_| {}))
                .unwrap();
            assert_eq!(outcome.model_calls(), CASES);
        })
    });
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("cached", |b| {
        b.iter(|| {
            let outcome = runtime
                .block_on(cached.run(&model, &data, None, |_| {}))
                .unwrap();
            assert_eq!(outcome.from_cache, CASES);
        })
    });
    group.finish();
}

criterion_group!(benches, eval_cache);
criterion_main!(benches);

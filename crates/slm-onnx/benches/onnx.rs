//! Prompt processing (pp) and decode (tg) throughput of SmolLM2-135M-Instruct exported to ONNX
//! (int4 MatMulNBits and fp32), 2 threads, the prompt of `benches/prompt.txt` in the model's
//! chat template. Compare with `scripts/onnx/bench_llama_cpp.py` (llama-cpp-python, Q4_1 GGUF,
//! same prompt, 2 threads).
//!
//! `cargo bench -p slm-onnx --bench onnx` (the folders come from scripts/setup.sh).
//!
//! Measured 2026-12-03 on the shared 2-core development machine (other builds running, so
//! each figure is the least-contended of several runs; medians, 150-token prompt):
//!
//! | engine | pp150 t/s | tg t/s |
//! |---|---|---|
//! | ONNX int4 (MatMulNBits, block 32) | 208-568 | 65-67 |
//! | ONNX fp32 | 492-606 | 34-36 |
//! | llama-cpp-python 0.3.36, Q4_1 GGUF | 221 | 75 |

use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use slm_core::{GenerationOptions, Message};
use slm_onnx::{LoadOptions, OnnxModel};

const PROMPT: &str = include_str!("prompt.txt");
const THREADS: usize = 2;

fn folder(name: &str) -> PathBuf {
    let home = PathBuf::from(std::env::var_os("HOME").expect("HOME"));
    let dir = home.join(".cache/slm/onnx").join(name);
    assert!(
        dir.join("genai_config.json").is_file(),
        "{} missing: run scripts/setup.sh",
        dir.display()
    );
    dir
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for (label, name) in [
        ("int4", "smollm2-135m-instruct-int4"),
        ("fp32", "smollm2-135m-instruct-fp32"),
    ] {
        let model =
            OnnxModel::load(folder(name), LoadOptions::default().with_threads(THREADS)).unwrap();
        let prompt = model.render(&[Message::user(PROMPT.trim())]).unwrap();
        let ids = rt.block_on(model.tokenize(&prompt)).unwrap();
        let mut group = c.benchmark_group(format!("smollm2_{label}"));
        group
            .sample_size(10)
            .measurement_time(Duration::from_secs(10))
            .warm_up_time(Duration::from_secs(2));
        group.throughput(Throughput::Elements(ids.len() as u64));
        group.bench_function(format!("pp{}", ids.len()), |b| {
            b.iter(|| rt.block_on(model.last_logits(ids.clone(), false)).unwrap())
        });
        // tg: one iteration is one decoded token; only the decode loop's time counts (the
        // prefill of each generation is left out), as llama-bench's tg.
        group.throughput(Throughput::Elements(1));
        group.bench_function("tg", |b| {
            b.iter_custom(|iters| {
                let mut left = iters;
                let mut spent = Duration::ZERO;
                while left > 0 {
                    let want = left.min(64) as u32 + 1;
                    let opts = GenerationOptions::deterministic().with_max_tokens(want);
                    let (tokens, timings) =
                        rt.block_on(model.generate_ids(ids.clone(), opts)).unwrap();
                    let decoded = tokens.len().saturating_sub(1) as u64;
                    let rate = timings.decode_tokens_per_second.unwrap_or(0.0);
                    if decoded == 0 || rate <= 0.0 {
                        continue;
                    }
                    spent += Duration::from_secs_f64(decoded as f64 / rate);
                    left = left.saturating_sub(decoded);
                }
                spent
            })
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! What the client adds to an HTTP round trip, and how throughput scales with concurrency.
//!
//! A keep-alive HTTP/1.1 server on 127.0.0.1 (its own thread and runtime) answers every request
//! at once with the same chat completion (or event stream). The reference is a raw reqwest POST
//! of the same JSON body to the same server, reading the whole answer: the difference is the
//! cost of mapping the request, async-openai, retries and the concurrency cap, parsing the
//! answer and mapping it back.
//!
//! Reference and client run alternately, iteration by iteration, in every benchmark (the
//! machine is shared, and load changes between benchmarks); each benchmark reports one side of
//! the pair. Compare a client benchmark with its reference (`raw_*`) of the same run.
//!
//! `cargo bench -p slm-remote --bench client_overhead`

mod support;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use slm_core::{ChatModel, collect_stream};
use support::{raw_body, raw_round_trip, raw_stream, request, setup};

async fn timed(work: impl Future) -> Duration {
    let started = Instant::now();
    black_box(work.await);
    started.elapsed()
}

/// Which part of an interleaved pair a benchmark reports.
#[derive(Clone, Copy)]
enum Report {
    /// The reference (raw reqwest).
    Reference,
    /// The client.
    Client,
}

/// Runs the reference and the client alternately, iteration by iteration, so both see the
/// same machine load (the bench machine is shared), and reports one side.
fn interleaved<R, C, FR, FC>(
    rt: &tokio::runtime::Runtime,
    report: Report,
    reference: R,
    client: C,
) -> impl FnMut(u64) -> Duration
where
    R: Fn() -> FR,
    C: Fn() -> FC,
    FR: Future,
    FC: Future,
{
    move |iters| {
        rt.block_on(async {
            let (mut reference_total, mut client_total) = (Duration::ZERO, Duration::ZERO);
            for i in 0..iters {
                // Alternate which side goes first: the second of a pair runs on warmer threads.
                if i % 2 == 0 {
                    reference_total += timed(reference()).await;
                    client_total += timed(client()).await;
                } else {
                    client_total += timed(client()).await;
                    reference_total += timed(reference()).await;
                }
            }
            match report {
                Report::Reference => reference_total,
                Report::Client => client_total,
            }
        })
    }
}

fn overhead(c: &mut Criterion) {
    let s = setup();
    let json_body = raw_body(false);
    let sse_body = raw_body(true);
    let raw = || raw_round_trip(&s.raw, &s.url, &json_body);
    let raw_sse = || raw_stream(&s.raw, &s.url, &sse_body);
    let compatible = || async { s.compatible.chat(request()).await.unwrap() };
    let azure = || async { s.azure.chat(request()).await.unwrap() };
    let streamed = || async {
        collect_stream(s.compatible.chat_stream(request()))
            .await
            .unwrap()
    };

    let mut group = c.benchmark_group("remote/overhead");
    group.measurement_time(Duration::from_secs(6));
    let pairs = [
        (Report::Reference, "raw_reqwest_round_trip"),
        (Report::Client, "openai_compatible_chat"),
    ];
    for (report, name) in pairs {
        group.bench_function(name, |b| {
            b.iter_custom(interleaved(&s.rt, report, raw, compatible))
        });
    }
    group.bench_function("azure_chat", |b| {
        b.iter_custom(interleaved(&s.rt, Report::Client, raw, azure))
    });
    let stream_pairs = [
        (Report::Reference, "raw_reqwest_stream_body"),
        (Report::Client, "openai_compatible_chat_stream"),
    ];
    for (report, name) in stream_pairs {
        group.bench_function(name, |b| {
            b.iter_custom(interleaved(&s.rt, report, raw_sse, streamed))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("remote/concurrent");
    group.measurement_time(Duration::from_secs(6));
    for n in [1usize, 4, 16, 64] {
        group.throughput(Throughput::Elements(n as u64));
        let raw_batch = || futures::future::join_all((0..n).map(|_| raw()));
        let client_batch = || async {
            let answers =
                futures::future::join_all((0..n).map(|_| s.compatible.chat(request()))).await;
            assert!(answers.iter().all(Result::is_ok));
            answers
        };
        for (report, name) in [
            (Report::Reference, "raw_reqwest"),
            (Report::Client, "openai_compatible_chat"),
        ] {
            group.bench_with_input(BenchmarkId::new(name, n), &n, |b, _| {
                b.iter_custom(interleaved(&s.rt, report, raw_batch, client_batch))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, overhead);
criterion_main!(benches);

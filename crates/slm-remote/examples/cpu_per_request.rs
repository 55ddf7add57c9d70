//! Process CPU time per request: a raw reqwest round trip against the client, 64 requests in
//! flight, on the same local server that answers at once.
//!
//! Wall-clock benchmarks on a shared machine swing with the load of other processes; CPU time
//! spent by this process does not. Rounds of raw batches and client batches alternate; the
//! server runs in this process too, and costs the same for both, so the difference of the two
//! figures is what the client adds per request.
//!
//! ```text
//! cargo run --release -p slm-remote --example cpu_per_request
//! ```
//!
//! Linux only (reads `/proc/self/stat`, clock ticks of 10 ms; a run takes about 1.5 s of CPU).

#[path = "../benches/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use slm_core::ChatModel;
use support::{raw_body, raw_round_trip, request, setup};

const IN_FLIGHT: usize = 64;
const BATCHES_PER_ROUND: usize = 20;
const ROUNDS: usize = 10;

/// User plus system CPU time of this process.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|v| v.parse::<u64>().ok()))
        .sum();
    Duration::from_millis(ticks * 10)
}

fn main() {
    let s = setup();
    let body = raw_body(false);
    let (mut raw_cpu, mut raw_wall) = (Duration::ZERO, Duration::ZERO);
    let (mut client_cpu, mut client_wall) = (Duration::ZERO, Duration::ZERO);
    s.rt.block_on(async {
        for _ in 0..ROUNDS {
            let (cpu, wall) = (cpu_time(), Instant::now());
            for _ in 0..BATCHES_PER_ROUND {
                let calls = (0..IN_FLIGHT).map(|_| raw_round_trip(&s.raw, &s.url, &body));
                futures::future::join_all(calls).await;
            }
            raw_cpu += cpu_time() - cpu;
            raw_wall += wall.elapsed();

            let (cpu, wall) = (cpu_time(), Instant::now());
            for _ in 0..BATCHES_PER_ROUND {
                let calls = (0..IN_FLIGHT).map(|_| s.compatible.chat(request()));
                let answers = futures::future::join_all(calls).await;
                assert!(answers.iter().all(Result::is_ok));
            }
            client_cpu += cpu_time() - cpu;
            client_wall += wall.elapsed();
        }
    });
    let n = (ROUNDS * BATCHES_PER_ROUND * IN_FLIGHT) as u32;
    println!("requests per side: {n} ({IN_FLIGHT} in flight)");
    println!(
        "raw reqwest:             {:>6.1} µs CPU/request, {:>6.1} µs wall/request",
        (raw_cpu / n).as_secs_f64() * 1e6,
        (raw_wall / n).as_secs_f64() * 1e6
    );
    println!(
        "OpenAiCompatibleModel:   {:>6.1} µs CPU/request, {:>6.1} µs wall/request",
        (client_cpu / n).as_secs_f64() * 1e6,
        (client_wall / n).as_secs_f64() * 1e6
    );
    println!(
        "client adds:             {:>6.1} µs CPU/request",
        (client_cpu.saturating_sub(raw_cpu) / n).as_secs_f64() * 1e6
    );
}

#!/usr/bin/env bash
# `slm serve` vs llama.cpp's `llama-server` on the same GGUF, threads and parallel slots, measured
# by the same load generator (examples/loadgen.rs), runs interleaved; prints each run as a JSON
# line and then the medians per server and client count.
#
# usage: crates/slm-cli/examples/serve_vs_llama_server.sh LLAMA_SERVER [RUNS] [SECONDS]
# env:   SLM_BIN, LOADGEN_BIN (default: target/release/...), GGUF (default: SmolLM2-135M-Instruct Q4_1 in the model cache), THREADS (2),
#        CLIENTS ("1 8 32"), CTX (context per slot, 1024), MAX_TOKENS (32), OUT (results file)
# build first: cargo build --release -p slm-cli --bin slm --example loadgen
set -euo pipefail
llama_server=${1:?usage: serve_vs_llama_server.sh LLAMA_SERVER [RUNS] [SECONDS]}
runs=${2:-3}
seconds=${3:-20}
gguf=${GGUF:-${SLM_HOME:-$HOME/.cache/slm/models}/SmolLM2-135M-Instruct.Q4_1.gguf}
threads=${THREADS:-2}
ctx=${CTX:-1024}
max_tokens=${MAX_TOKENS:-32}
out=${OUT:-$(mktemp -t serve-bench.XXXXXX.jsonl)}
root=$(cd "$(dirname "$0")/../../.." && pwd)
slm=${SLM_BIN:-$root/target/release/slm}
loadgen=${LOADGEN_BIN:-$root/target/release/examples/loadgen}
port=18431
log=$(mktemp -t serve-bench-log.XXXXXX)
pid=

stop() { if [[ -n $pid ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=; fi; }
trap stop EXIT

start() { # server parallel
  case $1 in
    slm) "$slm" serve --model "$gguf" --port $port --threads "$threads" --parallel "$2" --ctx-size "$ctx" --queue 1024 >"$log" 2>&1 & ;;
    llama-server) "$llama_server" -m "$gguf" --port $port -t "$threads" -np "$2" -c $(($2 * ctx)) >"$log" 2>&1 & ;;
  esac
  pid=$!
  for _ in $(seq 600); do
    curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; return 1; }
    sleep 0.1
  done
  echo "$1 did not get ready" >&2; return 1
}

for run in $(seq "$runs"); do
  for clients in ${CLIENTS:-1 8 32}; do
    order=(slm llama-server)
    (( run % 2 == 0 )) && order=(llama-server slm)
    for server in "${order[@]}"; do
      start "$server" "$clients"
      "$loadgen" --url "http://127.0.0.1:$port" --model "$(basename "$gguf" .gguf)" --clients "$clients" \
        --duration "$seconds" --max-tokens "$max_tokens" --label "$server" | tee -a "$out" || true
      stop
    done
  done
done

python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print(f"\n{'clients':>7} {'server':>13} {'runs':>4} {'tok/s':>8} {'TTFT p50 ms':>12} {'TTFT p99 ms':>12} {'errors':>6}")
for c in sorted({r["clients"] for r in rows}):
    med = {}
    for s in ("slm", "llama-server"):
        rs = [r for r in rows if r["clients"] == c and r["label"] == s]
        if not rs:
            continue
        m = {k: statistics.median(r[k] for r in rs) for k in ("tokens_per_second", "ttft_p50_ms", "ttft_p99_ms")}
        med[s] = m
        print(f"{c:>7} {s:>13} {len(rs):>4} {m['tokens_per_second']:>8.1f} {m['ttft_p50_ms']:>12.0f} {m['ttft_p99_ms']:>12.0f} {sum(r['errors'] for r in rs):>6}")
    if len(med) == 2:
        a, b = med["slm"], med["llama-server"]
        print(f"{c:>7} {'slm/llama':>13} {'':>4} {a['tokens_per_second']/b['tokens_per_second']:>7.2f}x "
              f"{a['ttft_p50_ms']/b['ttft_p50_ms']:>11.2f}x {a['ttft_p99_ms']/b['ttft_p99_ms']:>11.2f}x")
print(f"\nresults: {sys.argv[1]}")
PY

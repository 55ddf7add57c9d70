#!/usr/bin/env bash
# Side-by-side speed of slm-llamacpp's ChatModel and llama.cpp's own tools, on the same
# generated Qwen2.5-0.5B-shaped GGUF files, same threads, same run:
#  - single sequence (pp512, tg128) at Q4_0, Q5_1, Q8_0 beside llama-bench;
#  - aggregate decode with 1, 2, 4, 8, 16 concurrent sequences (Q4_0) beside
#    llama-batched-bench, and constrained vs free decoding (benches/llamacpp_batch.rs).
#
#   bash scripts/bench-llamacpp.sh            # portable build (AVX2/FMA/F16C)
#   NATIVE=1 bash scripts/bench-llamacpp.sh   # -C target-cpu=native (GGML_NATIVE; separate target dir)
#   PARTS=batched bash scripts/bench-llamacpp.sh   # only the batched/constrained part
#   PARTS=reuse bash scripts/bench-llamacpp.sh     # issue 14 on SmolLM2 (below)
#
# Steps: build; build llama-bench against the very static libraries cargo built
# (../shared/tools/build-llama-tools.sh, or $LLAMA_TOOLS_SCRIPT); generate + quantize the models
# (examples/quantize, which also prints the quantization size table; QUANTIZE=0 reuses the files);
# per quantization llama-bench pp512/tg128, the criterion bench (benches/llamacpp.rs), llama-bench
# again; then llama-batched-bench and benches/llamacpp_batch.rs; tables of medians and ratios in
# $OUT/report.md and $OUT/report-batched.md.
# The `reuse` part (not in the default PARTS): KV-cache reuse and speculation on the real default
# model, SmolLM2-135M-Instruct from the model cache, each beside its reference in the same run:
# multi-turn TTFT with and without the prompt cache and on llama-server (criterion's medians),
# the SLM Swap tool-call track at batch 8, free and schema-constrained, against llama-server
# (-np 8), prompt-lookup drafts against plain decoding, and tg128 at depth against llama-bench -d
# (interleaved rounds, medians printed; criterion's own timing skipped with `no_bench_matches`).
# It builds llama-server with ../shared/tools/build-llama-server.sh (~10 min) unless
# LLAMA_SERVER names one. Report: $OUT/report-reuse.txt. On a quiet machine leave
# OMP_WAIT_POLICY unset (passive waits cost 1.9x at batch 8).
# env: THREADS (2), REPS (llama-bench repetitions per round, 5), OUT (target/slm-bench),
#      PARTS ("single batched"), ROUNDS (reuse part's interleaved rounds, 3), LLAMA_SERVER.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
threads=${THREADS:-2}
reps=${REPS:-5}
if [ -n "${NATIVE:-}" ]; then
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target/native}
  export RUSTFLAGS="${RUSTFLAGS:-} -C target-cpu=native"
fi
target=${CARGO_TARGET_DIR:-$root/target}
out=${OUT:-$target/slm-bench}
mkdir -p "$out"
tools_script=${LLAMA_TOOLS_SCRIPT:-$root/../shared/tools/build-llama-tools.sh}
parts=${PARTS:-single batched}

echo "== build"
cargo build --release -p slm-llamacpp --benches --quiet
cargo build --release --example quantize --quiet
bench_bin=$target/release/llama-tools/llama-bench
if [ ! -x "$bench_bin" ]; then
  echo "== build llama-bench against $target/release"
  bash "$tools_script" "$target/release"
fi

name=slm-test-qwen2.5-0.5b-shaped
if [[ " $parts " != *" single "* && " $parts " != *" batched "* ]]; then
  : # the generated models are for the single and batched parts only
elif [ "${QUANTIZE:-1}" != 0 ] || [ ! -f "$out/$name-q8_0.gguf" ]; then
  echo "== models (generated, quantized) and the quantization size table"
  cargo run --release --quiet --example quantize -- --generated --no-ppl --out "$out" --threads "$threads" | tee "$out/quantize-table.txt"
fi
models=()
for q in q4_0 q5_1 q8_0; do models+=(-m "$out/$name-$q.gguf"); done

if [[ " $parts " == *" single "* ]]; then
# Per quantization: llama-bench, the ChatModel bench, llama-bench again, so both sides see the
# same machine load (these VMs are shared).
rm -f "$out"/llama-bench-*.json
: > "$out/criterion.txt"
for q in q4_0 q5_1 q8_0; do
  m=$out/$name-$q.gguf
  echo "== $q: llama-bench (before)"
  "$bench_bin" -m "$m" -t "$threads" -p 512 -n 128 -r "$reps" -o json > "$out/llama-bench-$q-1.json"
  echo "== $q: slm-llamacpp criterion bench"
  SLM_BENCH_DIR=$out SLM_BENCH_THREADS=$threads SLM_BENCH_QUANTS=$q \
    cargo bench -p slm-llamacpp --bench llamacpp -- --noplot 2>&1 \
    | grep -E "^llamacpp_|time:|thrpt:" | tee -a "$out/criterion.txt"
  echo "== $q: llama-bench (after)"
  "$bench_bin" -m "$m" -t "$threads" -p 512 -n 128 -r "$reps" -o json > "$out/llama-bench-$q-2.json"
done

python3 - "$out" "$target/criterion" "${NATIVE:+native}" <<'PY'
import json, statistics, sys
from pathlib import Path
out, crit, native = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else ""
ref = {}
for f in sorted(out.glob("llama-bench-*.json")):
    for r in json.loads(f.read_text()):
        quant = Path(r["model_filename"]).stem.rsplit("-", 1)[1]
        test = "pp512" if r["n_prompt"] == 512 and r["n_gen"] == 0 else "tg128"
        ref.setdefault((quant, test), []).extend(r["samples_ts"])
rows = ["| quant | test | llama-bench t/s (median) | slm-llamacpp ChatModel t/s (median) | ratio | target |",
        "|---|---|---|---|---|---|"]
for quant in ["q4_0", "q5_1", "q8_0"]:
    for test, group, n, target in [("pp512", "llamacpp_pp512", 512, 0.98), ("tg128", "llamacpp_tg128", 127, 0.95)]:
        est = json.loads((crit / group / quant / "new" / "estimates.json").read_text())
        ours = n / (est["median"]["point_estimate"] / 1e9)
        theirs = statistics.median(ref[(quant, test)])
        ratio = ours / theirs
        rows.append(f"| {quant.upper()} | {test} | {theirs:.1f} | {ours:.1f} | {ratio:.3f} | {'ok' if ratio >= target else 'below'} {target} |")
report = "\n".join(rows)
print(("native build\n" if native else "") + report)
(out / "report.md").write_text(report + "\n")
PY
fi

if [[ " $parts " == *" batched "* ]]; then
q4=$out/$name-q4_0.gguf
echo "== llama-batched-bench (Q4_0, pp 64, tg 32, 1-16 sequences, one KV stream per sequence)"
"$target/release/llama-tools/llama-batched-bench" -m "$q4" -t "$threads" -c 4096 -b 2048 -ub 512 -no-kvu \
  -npp 64 -ntg 32 -npl 1,2,4,8,16 --output-format jsonl 2>/dev/null | tee "$out/llama-batched-bench.jsonl"
echo "== slm-llamacpp batched and constrained criterion bench"
SLM_BENCH_DIR=$out SLM_BENCH_THREADS=$threads cargo bench -p slm-llamacpp --bench llamacpp_batch -- --noplot 2>&1 \
  | grep -E "^llamacpp_|time:|thrpt:" | tee "$out/criterion-batch.txt"
python3 - "$out" "$target/criterion" <<'PY'
import json, sys
from pathlib import Path
out, crit = Path(sys.argv[1]), Path(sys.argv[2])
ref = {}
for line in (out / "llama-batched-bench.jsonl").read_text().splitlines():
    if line.strip().startswith("{"):
        r = json.loads(line)
        if "pl" in r:
            ref[r["pl"]] = r["speed_tg"]
rows = ["| sequences | llama-batched-bench decode t/s | slm-llamacpp ChatModel decode t/s (median) | ratio | target |",
        "|---|---|---|---|---|"]
for n in [1, 2, 4, 8, 16]:
    est = json.loads((crit / "llamacpp_batched" / str(n) / "new" / "estimates.json").read_text())
    ours = n * 31 / (est["median"]["point_estimate"] / 1e9)
    theirs = ref.get(n, float("nan"))
    ratio = ours / theirs
    rows.append(f"| {n} | {theirs:.1f} | {ours:.1f} | {ratio:.3f} | {'ok' if ratio >= 0.95 else 'below'} 0.95 |")
free = None
for name in ["free", "llguidance", "llamacpp"]:
    est = json.loads((crit / "llamacpp_constrained" / name / "new" / "estimates.json").read_text())
    tps = 63 / (est["median"]["point_estimate"] / 1e9)
    free = free or tps
    rows.append(f"| constrained: {name} | | {tps:.1f} | {tps / free:.3f} of free | |")
report = "\n".join(rows)
print(report)
(out / "report-batched.md").write_text(report + "\n")
PY
fi

if [[ " $parts " == *" reuse "* ]]; then
server=${LLAMA_SERVER:-$out/tools/llama-server}
if [ ! -x "$server" ]; then
  echo "== build llama-server"
  bash "${LLAMA_SERVER_SCRIPT:-$root/../shared/tools/build-llama-server.sh}" "$out/tools"
fi
rounds=${ROUNDS:-3}
bench() { SLM_BENCH_THREADS=$threads cargo bench -p slm-llamacpp --bench "$@" 2>&1; }
{
  echo "== multi-turn TTFT, turns 1 and 8 (benches/llamacpp_cache.rs)"
  SLM_LLAMA_SERVER=$server bench llamacpp_cache -- --noplot | grep -E "turn [18]:|^multi_turn|time:"
  for mode in free schema; do
    echo "== tool-call track, 50 cases, batch 8, $mode (benches/toolcall_track.rs)"
    SLM_TOOLCALL_MODE=$mode SLM_LLAMA_SERVER=$server SLM_BENCH_ROUNDS=$rounds \
      bench toolcall_track -- no_bench_matches | grep "first pass"
  done
  echo "== prompt lookup vs plain decoding (benches/llamacpp_speculative.rs)"
  bench llamacpp_speculative -- no_bench_matches | grep "tok/s"
  echo "== tg128 at depth vs llama-bench -d (benches/llamacpp_depth.rs)"
  SLM_LLAMA_BENCH=$bench_bin SLM_BENCH_ROUNDS=$((rounds * 3)) \
    bench llamacpp_depth -- no_bench_matches | grep -E "prompt:|tok/s|llama-bench ="
} | tee "$out/report-reuse.txt"
fi

#!/usr/bin/env bash
# Side-by-side speed of slm-llamacpp's ChatModel and llama.cpp's own llama-bench, on the same
# generated Qwen2.5-0.5B-shaped GGUF files (Q4_0, Q5_1, Q8_0), same threads, same run.
#
#   bash scripts/bench-llamacpp.sh            # portable build (AVX2/FMA/F16C)
#   NATIVE=1 bash scripts/bench-llamacpp.sh   # -C target-cpu=native (GGML_NATIVE; separate target dir)
#
# Steps: build; build llama-bench against the very static libraries cargo built
# (../shared/tools/build-llama-tools.sh, or $LLAMA_TOOLS_SCRIPT); generate + quantize the models
# (examples/quantize, which also prints the seed-001 size table); llama-bench pp512/tg128;
# the criterion bench (crates/slm-llamacpp/benches/llamacpp.rs); llama-bench again; a table of
# medians and ratios, written to $OUT/report.md.
# env: THREADS (2), REPS (llama-bench repetitions per round, 5), OUT (target/slm-bench).
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

echo "== build"
cargo build --release -p slm-llamacpp --benches --quiet
cargo build --release --example quantize --quiet
bench_bin=$target/release/llama-tools/llama-bench
if [ ! -x "$bench_bin" ]; then
  echo "== build llama-bench against $target/release"
  bash "$tools_script" "$target/release"
fi

echo "== models (generated, quantized) and the seed-001 table"
cargo run --release --quiet --example quantize -- --out "$out" --threads "$threads" | tee "$out/quantize-table.txt"
name=slm-test-qwen2.5-0.5b-shaped
models=()
for q in q4_0 q5_1 q8_0; do models+=(-m "$out/$name-$q.gguf"); done

echo "== llama-bench (round 1)"
"$bench_bin" "${models[@]}" -t "$threads" -p 512 -n 128 -r "$reps" -o json > "$out/llama-bench-1.json"
echo "== slm-llamacpp criterion bench"
SLM_BENCH_DIR=$out SLM_BENCH_THREADS=$threads cargo bench -p slm-llamacpp --bench llamacpp -- --noplot 2>&1 \
  | grep -E "^llamacpp_|time:|thrpt:" | tee "$out/criterion.txt"
echo "== llama-bench (round 2)"
"$bench_bin" "${models[@]}" -t "$threads" -p 512 -n 128 -r "$reps" -o json > "$out/llama-bench-2.json"

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

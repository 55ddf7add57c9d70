#!/usr/bin/env bash
# slm-rag beside bm25s and tantivy on SciFact, in one run on this machine.
#
#   bash scripts/bench-rag.sh [--repeats N] [--criterion]
#
# Needs: pip install "bm25s==0.3.16" PyStemmer numpy; the data in $SLM_SCIFACT_DIR (default
# ../shared/data/scifact). Runs bm25s (scripts/bm25s_scifact.py), then slm-rag and tantivy
# (crates/slm-rag/examples/scifact.rs), three times each, interleaved, and prints the medians
# over the rounds and the ratios. With --criterion it then runs the criterion benchmarks
# (cargo bench -p slm-rag --bench scifact). Raw JSON of each round stays in target/bench-rag.
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=20
criterion=0
while [ $# -gt 0 ]; do
  case "$1" in
    --repeats) repeats="$2"; shift 2 ;;
    --criterion) criterion=1; shift ;;
    *) echo "usage: $0 [--repeats N] [--criterion]" >&2; exit 2 ;;
  esac
done
export SLM_SCIFACT_DIR="${SLM_SCIFACT_DIR:-$(pwd)/../shared/data/scifact}"
out="${SLM_BENCH_OUT:-target/bench-rag}"
mkdir -p "$out"
cargo build --release -p slm-rag --example scifact
for round in 1 2 3; do
  python3 scripts/bm25s_scifact.py --repeats "$repeats" --json > "$out/bm25s.$round.json"
  cargo run --release --quiet -p slm-rag --example scifact -- --repeats "$repeats" --json > "$out/slm.$round.json"
done
python3 - "$out" <<'PY'
import json, os, statistics, sys
out = sys.argv[1]
bm = [json.load(open(os.path.join(out, f"bm25s.{r}.json"))) for r in (1, 2, 3)]
sl = [json.load(open(os.path.join(out, f"slm.{r}.json"))) for r in (1, 2, 3)]
med = lambda xs: statistics.median(xs)
def m(runs, *path):
    vals = []
    for r in runs:
        v = r
        for p in path:
            v = v[p]
        vals.append(v)
    return med(vals)
rows = []
b_idx, b_only, b_qps, b_e2e = m(bm, "index_build_ms"), m(bm, "index_only_ms"), m(bm, "single_thread_qps"), m(bm, "end_to_end_qps")
print(f"SciFact, {bm[0]['documents']} docs, {bm[0]['queries']} queries; medians of 3 rounds x {bm[0]['repeats']} repeats")
print(f"{'system':<26}{'nDCG@10':>9}{'R@100':>8}{'MRR@10':>8}{'index ms':>10}{'q/s (1 thr)':>13}")
print(f"{'bm25s 0.3.16 (numpy)':<26}{bm[0]['ndcg@10']:>9.4f}{bm[0]['recall@100']:>8.4f}{bm[0]['mrr@10']:>8.4f}{b_idx:>10.1f}{b_qps:>13.0f}")
print(f"{'  (index() only / e2e q/s)':<26}{'':>9}{'':>8}{'':>8}{b_only:>10.1f}{b_e2e:>13.0f}")
for name in ("slm-rag", "slm-rag-unicode", "tantivy"):
    s0 = sl[0][name]
    print(f"{name:<26}{s0['ndcg@10']:>9.4f}{s0['recall@100']:>8.4f}{s0['mrr@10']:>8.4f}{m(sl, name, 'index_build_ms'):>10.1f}{m(sl, name, 'single_thread_qps'):>13.0f}")
s = "slm-rag"
print()
print(f"nDCG@10 difference slm-rag - bm25s: {sl[0][s]['ndcg@10'] - bm[0]['ndcg@10']:+.5f} (target |d| <= 0.002)")
print(f"queries/s slm-rag / bm25s: {m(sl, s, 'single_thread_qps') / b_qps:.2f}x (target >= 3x); vs bm25s with query tokenization: {m(sl, s, 'single_thread_qps') / b_e2e:.2f}x")
print(f"slm-rag index build: {m(sl, s, 'index_build_ms'):.1f} ms, 1 thread: {m(sl, s, 'index_build_1_thread_ms'):.1f} ms")
print(f"index time slm-rag / bm25s (tokenize+index): {m(sl, s, 'index_build_ms') / b_idx:.2f}x (target <= 0.5x); 1 thread: {m(sl, s, 'index_build_1_thread_ms') / b_idx:.2f}x; vs bm25s index() alone: {m(sl, s, 'index_build_ms') / b_only:.2f}x")
print(f"queries/s slm-rag / tantivy: {m(sl, s, 'single_thread_qps') / m(sl, 'tantivy', 'single_thread_qps'):.2f}x; index time slm-rag / tantivy: {m(sl, s, 'index_build_ms') / m(sl, 'tantivy', 'index_build_ms'):.2f}x")
threads = sorted(sl[0][s]["batch_qps_by_threads"], key=int)
print("slm-rag search_batch q/s by threads: " + ", ".join(f"{t}: {m(sl, s, 'batch_qps_by_threads', t):.0f}" for t in threads))
bt = sorted(bm[0]["qps_by_threads"], key=int)
print("bm25s retrieve q/s by n_threads:     " + ", ".join(f"{t}: {m(bm, 'qps_by_threads', t):.0f}" for t in bt))
print(f"slm-rag index file: {sl[0][s]['file']['bytes']} bytes, save {m(sl, s, 'file', 'save_ms'):.1f} ms, load {m(sl, s, 'file', 'load_ms'):.1f} ms")
PY
if [ "$criterion" = 1 ]; then
  cargo bench -p slm-rag --bench scifact
fi

#!/usr/bin/env bash
# Runs every example in its offline mode with small settings (SLM_EXAMPLE_SMALL=1), on the default
# real model from the model cache (scripts/setup.sh downloads it). Fails on the first that fails.
set -euo pipefail
cd "$(dirname "$0")/.."
export SLM_EXAMPLE_SMALL=1
unset SLM_MODEL_PATH AZURE_ENDPOINT SLM_OPENAI_SPEC
examples=(quickstart compare_models hybrid_draft_refine latency_breakdown eval_tracks quantize rag_chat onnx_vs_llamacpp)
cargo build --release --examples --features onnx
for ex in "${examples[@]}"; do
  if [ ! -f "examples/$ex.rs" ]; then
    echo "run-examples: examples/$ex.rs is missing" >&2
    exit 1
  fi
  echo "=== example $ex ==="
  cargo run --release --quiet --features onnx --example "$ex"
done
echo "run-examples: ${#examples[@]} examples ran"

#!/usr/bin/env bash
# The README's test command: set up a fresh machine (build tools, the project's Python venv, the
# real models in the model cache), then run the whole test suite (unit, integration and doc
# tests of every crate, in release mode so llama.cpp is built once), then every example with
# small settings on the default real model.
#
# CI=true (unless the caller set CI): a test whose prerequisite is missing (a real model, the
# llama-cpp-python server) fails instead of printing SKIPPED.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
export CI=${CI:-true}
# Test binaries run their tests side by side, and many start a llama.cpp of their own (in
# process, `slm serve`, llama-server): on a 2-core machine, OpenMP threads that spin between
# tokens starve each other (1-2 tok/s instead of ~100; BENCHMARKS.md, "Oversubscribed CPUs").
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
export SLM_PYTHON=${SLM_PYTHON:-${SLM_VENV:-$HOME/.cache/slm/venv}/bin/python}
cargo test --release --workspace
# Each library alone, as a project that depends on it builds it: its own default features, and
# the facade with none and with each. A workspace build unifies every package's features (slm-cli
# turns on the facade's `onnx`) and hid a facade that did not compile without `onnx`.
for package in slm slm-llamacpp slm-remote slm-eval slm-rag slm-onnx slm-chat slm-core; do
  cargo check --release --quiet -p "$package"
done
for feature in core llamacpp remote eval rag onnx; do
  cargo check --release --quiet -p slm --no-default-features --features "$feature"
done
# OTLP span export is an opt-in feature of the slm binary: test it too.
cargo test --release -p slm-cli --features otlp --test eval_otlp
bash scripts/run-examples.sh

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
export SLM_PYTHON=${SLM_PYTHON:-${SLM_VENV:-$HOME/.cache/slm/venv}/bin/python}
cargo test --release --workspace
# OTLP span export is an opt-in feature of the slm-eval binary: test it too.
cargo test --release -p slm-eval --no-default-features --features cli,otlp --test otlp
bash scripts/run-examples.sh

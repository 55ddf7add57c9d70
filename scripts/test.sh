#!/usr/bin/env bash
# The README's test command: set up a fresh machine, then run the whole test suite (unit,
# integration and doc tests of every crate, in release mode so llama.cpp is built once), then
# every example in its offline mode with small settings.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
cargo test --release --workspace
# OTLP span export is an opt-in feature of the slm-eval binary: test it too.
cargo test --release -p slm-eval --no-default-features --features cli,otlp --test otlp
bash scripts/run-examples.sh

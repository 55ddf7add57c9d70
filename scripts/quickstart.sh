#!/usr/bin/env bash
# The README's main command: set up a fresh machine, then run the quickstart demo.
# Uses $SLM_MODEL_PATH when set, otherwise generates a small random-weight demo model.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec cargo run --release --example quickstart -- "$@"

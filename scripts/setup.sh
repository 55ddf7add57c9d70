#!/usr/bin/env bash
# Installs what slm needs on a fresh Debian/Ubuntu machine, only where it is missing:
# a C/C++ toolchain, cmake and libclang (llama.cpp is built from source by llama-cpp-sys-2),
# and the Rust toolchain when cargo is absent. Safe to run again: it does nothing the second time.
#
# usage: setup.sh [--test]
#   --test  also installs what the test suite needs beyond the build: llama-cpp-python's
#           OpenAI-compatible server, the real server slm-remote's end-to-end test talks to
#           (built from source by pip: about 10 minutes on 2 cores, once).
set -euo pipefail

need_apt=()
command -v cmake >/dev/null 2>&1 || need_apt+=(cmake)
command -v c++ >/dev/null 2>&1 || need_apt+=(g++)
command -v clang >/dev/null 2>&1 || need_apt+=(clang)
ls /usr/lib/llvm-*/lib/libclang*.so* >/dev/null 2>&1 || ls /usr/lib/*/libclang*.so* >/dev/null 2>&1 || need_apt+=(libclang-dev)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3 python3-pip)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}" >&2
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found; install Rust from your distribution or rustup" >&2
  exit 1
fi

if [ "${1:-}" = "--test" ]; then
  python=${SLM_PYTHON:-python3}
  if ! "$python" -c "import llama_cpp.server.app" >/dev/null 2>&1; then
    echo "setup: installing llama-cpp-python[server] (builds llama.cpp from source, ~10 min)" >&2
    CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) "$python" -m pip install -q 'llama-cpp-python[server]==0.3.36'
  fi
fi

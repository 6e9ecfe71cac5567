#!/usr/bin/env bash
# The README's second command and what CI runs: sets everything up (scripts/setup.sh: build
# tools, the build, the tiny.en model the tests use) and runs the whole test suite, in
# release mode so the tests reuse the build and the real model runs at full speed. Also
# installs Chromium and chromedriver for the browser test. Formatting (`cargo fmt --check`),
# lints (`cargo clippy -D warnings`), import circles between files and broken doc links are checked
# first.
set -euo pipefail
SCRIPT_NAME=test
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
. scripts/lib.sh
scripts/setup.sh
# The browser test (tests/browser.rs) drives Debian's headless Chromium through chromedriver.
missing=()
for p in chromium chromium-driver; do deb_installed "$p" || missing+=("$p"); done
[ "${#missing[@]}" -eq 0 ] || install_debian_packages "${missing[@]}"
# The store tests need PostgreSQL; start one when none is running.
ensure_postgres
say "checking formatting, lints and import circles"
cargo fmt --check
cargo clippy --release --all-targets --locked -- -D warnings
python3 scripts/check-imports.py
RUSTDOCFLAGS="-D warnings" cargo doc --release --locked --no-deps --lib --quiet
say "running the test suite"
cargo test --release --locked

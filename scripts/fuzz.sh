#!/usr/bin/env bash
# Issue 19's fuzzing (docs/FUZZING.md): runs each libFuzzer target of fuzz/fuzz_targets/ (the
# properties are in src/fuzzing.rs) for SECONDS, one after another, at the lowest CPU priority.
# Installs cargo-fuzz when missing; builds with Rust nightly (or, without one, stable with
# RUSTC_BOOTSTRAP). Safe to run twice: each target's corpus grows in fuzz/corpus/<target>
# (not committed), seeded from fuzz/regressions/<target>; a crash stops that target with the
# input in fuzz/artifacts/<target>/ and the script fails at the end. Put a crash (minimised:
# `cargo +nightly fuzz tmin TARGET FILE`) in fuzz/regressions/<target>/ so that
# tests/fuzz_regressions.rs replays it in CI.
#
#   scripts/fuzz.sh                  # every target, 180 s each
#   scripts/fuzz.sh 600              # 10 minutes each
#   scripts/fuzz.sh 600 redact ingest
#   NO_BUILD=1 scripts/fuzz.sh 600 codec    # the targets as last built (no rebuild)
#
# A summary (target, seconds, executions, result) goes to fuzz/logs/summary.tsv; each
# target's libFuzzer output to fuzz/logs/<target>.log.
set -euo pipefail
SCRIPT_NAME=fuzz
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
. scripts/lib.sh

seconds="${1:-180}"
[[ "$seconds" =~ ^[0-9]+$ ]] || die "SECONDS must be a whole number, got '$seconds'"
shift || true
all=(ingest reorder codec decode_file redact config)
targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=("${all[@]}")
for t in "${targets[@]}"; do
    [ -f "fuzz/fuzz_targets/$t.rs" ] || die "no fuzz target '$t' (targets: ${all[*]})"
done

command -v cargo-fuzz > /dev/null 2>&1 || {
    say "installing cargo-fuzz"
    nice -n 19 cargo install cargo-fuzz --locked
}
toolchain=()
if rustup toolchain list 2> /dev/null | grep -q '^nightly'; then
    toolchain=(+nightly)
else
    say "no nightly toolchain: building with stable and RUSTC_BOOTSTRAP=1"
    export RUSTC_BOOTSTRAP=1
fi

# No sanitizer: the code under test is safe Rust, and the heap bounds are measured by the
# targets' counting allocator. fuzz/Cargo.toml turns on overflow checks and debug assertions
# in callscribe's own code only (dependencies are built as in production).
fuzz=(nice -n 19 cargo "${toolchain[@]}" fuzz)
build_flags=(--release --sanitizer none)
if [ "${NO_BUILD:-0}" = 1 ]; then
    say "NO_BUILD=1: fuzzing the targets as last built"
else
    say "building the fuzz targets"
    (cd fuzz && "${fuzz[@]}" build "${build_flags[@]}")
fi
triple="$(rustc -vV | sed -n 's/^host: //p')"

mkdir -p fuzz/logs
summary=fuzz/logs/summary.tsv
failed=()
for t in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
    args=(-max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1
        -artifact_prefix="$repo_root/fuzz/artifacts/$t/")
    [ -f "fuzz/dicts/$t.dict" ] && args+=(-dict="$repo_root/fuzz/dicts/$t.dict")
    [ "$t" = decode_file ] && args+=(-max_len=16384)
    say "fuzzing $t for $seconds s (log: fuzz/logs/$t.log)"
    started=$(date +%s)
    result=ok
    # the binary built above, run directly: every target fuzzes the same build
    nice -n 19 "fuzz/target/$triple/release/$t" "${args[@]}" "fuzz/corpus/$t" "fuzz/regressions/$t" \
        > "fuzz/logs/$t.log" 2>&1 || result=crash
    ran=$(($(date +%s) - started))
    execs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "fuzz/logs/$t.log" | grep -o '[0-9]*$' | tail -1 || true)"
    printf '%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$t" "$ran" "${execs:-?}" "$result" >> "$summary"
    say "$t: $ran s, ${execs:-?} executions, $result"
    if [ "$result" != ok ]; then
        failed+=("$t")
        grep -m1 -A3 'panicked at\|ERROR: libFuzzer' "fuzz/logs/$t.log" >&2 || true
    fi
done
[ "${#failed[@]}" -eq 0 ] || die "crashes in: ${failed[*]} (inputs in fuzz/artifacts/, logs in fuzz/logs/)"
say "no crash; summary in $summary"

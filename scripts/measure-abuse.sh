#!/usr/bin/env bash
# Every abuse scenario of docs/SECURITY.md at once beside 8 legitimate real-time calls
# (issue 18's measurement): the legitimate calls' final latency (p50/p95, finals missing) and
# the server's RSS before, during and after the attacks, side by side in one run on this
# machine. Loopback only; bounded in time (about 4 minutes); safe to run twice.
#
#   scripts/measure-abuse.sh                 # report in target/measure-abuse/report.json
#   SECONDS_PER_PHASE=60 CALLS=8 scripts/measure-abuse.sh
#
# Phases: before (8 calls, no attack) · during (8 calls while examples/abuse_load.rs runs
# every attack: fast replay ×3, 20 sockets that never start, 60 simultaneous starts of one
# workspace, wrong keys, timestamp jumps, a reorder flood, subscriptions past the cap and a
# 64 KiB subscriber message, 50 slow-header connections) · after (8 calls again, attacks over).
set -euo pipefail
SCRIPT_NAME=measure-abuse
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
. scripts/lib.sh

phase_s="${SECONDS_PER_PHASE:-60}"
calls="${CALLS:-8}"
out_dir="$repo_root/target/measure-abuse"
mkdir -p "$out_dir"
bin="$repo_root/target/release/callscribe"
say "building (release) the server and the attack driver"
cargo build --release --locked --quiet
cargo build --release --locked --quiet --example abuse_load
attack="$repo_root/target/release/examples/abuse_load"
[ -f models/ggml-tiny.en.bin ] || "$bin" model fetch tiny.en > /dev/null

work="$(mktemp -d)"
server_pid=""
sampler_pid=""
cleanup() {
    [ -n "$sampler_pid" ] && kill "$sampler_pid" 2> /dev/null || true
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2> /dev/null || true
        wait "$server_pid" 2> /dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
data="$work/data"
mkdir -p "$data" "$work/audio"
ln -s "$repo_root/samples/sample-call.wav" "$work/audio/sample-call.wav"
"$bin" tenant create legit --data-dir "$data" > /dev/null 2>&1
"$bin" tenant create attacker --data-dir "$data" > /dev/null 2>&1
key() { "$bin" key create --tenant "$1" --role "$2" --data-dir "$data" 2> /dev/null; }
legit_ingest="$(key legit ingest)"
legit_agent="$(key legit agent)"
bad_ingest="$(key attacker ingest)"
bad_agent="$(key attacker agent)"
cat > "$work/serve.toml" << EOF
[live]
max_calls_per_tenant = 10
EOF
"$bin" serve --data-dir "$data" --listen "127.0.0.1:$port" --config "$work/serve.toml" \
    2> "$out_dir/serve.log" &
server_pid=$!
for _ in $(seq 1 600); do
    python3 -c "import socket,sys; s=socket.socket(); s.settimeout(0.5); sys.exit(s.connect_ex(('127.0.0.1',$port)))" && break
    kill -0 "$server_pid" 2> /dev/null || die "serve did not start (log: $out_dir/serve.log)"
    sleep 0.2
done

# RSS (KiB) once a second, tagged with the phase written to $work/phase
echo start > "$work/phase"
: > "$out_dir/rss.tsv"
(
    while kill -0 "$server_pid" 2> /dev/null; do
        printf '%s\t%s\t%s\n' "$(date +%s)" "$(cat "$work/phase")" \
            "$(ps -o rss= -p "$server_pid" | tr -d ' ')" >> "$out_dir/rss.tsv"
        sleep 1
    done
) &
sampler_pid=$!

legit_load() {   # PHASE
    echo "$1" > "$work/phase"
    say "phase $1: $calls legitimate calls for $phase_s s"
    CALLSCRIBE_INGEST_KEY="$legit_ingest" CALLSCRIBE_AGENT_KEY="$legit_agent" \
        "$bin" loadtest --url "ws://127.0.0.1:$port" --audio "$work/audio" --calls "$calls" \
        --ramp 5 --duration "$phase_s" --json "$out_dir/$1.json" > "$out_dir/$1.txt" 2>&1 || true
}

legit_load before
echo during > "$work/phase"
"$attack" --url "ws://127.0.0.1:$port" --ingest-key "$bad_ingest" --agent-key "$bad_agent" \
    --audio samples/sample-call.wav --seconds "$((phase_s + 15))" > "$out_dir/attacks.json" \
    2> "$out_dir/attacks.log" &
attack_pid=$!
sleep 5
legit_load during
wait "$attack_pid" || true
echo settle > "$work/phase"
sleep 15
legit_load after
echo end > "$work/phase"
sleep 2

python3 - "$out_dir" << 'EOF'
import json, os, platform, sys
d = sys.argv[1]
def cpu():
    flags, model = [], platform.processor()
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name") and not model.strip():
            model = line.split(":", 1)[1].strip()
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
        if line.startswith("flags"):
            flags = line.split(":", 1)[1].split()
            break
    return {"model": model, "cores": os.cpu_count(),
            "simd": [f for f in flags if f.startswith(("avx", "fma", "f16c", "amx"))]}
rss = {}
for line in open(os.path.join(d, "rss.tsv")):
    parts = line.rstrip("\n").split("\t")
    if len(parts) == 3 and parts[2]:
        rss.setdefault(parts[1], []).append(int(parts[2]))
report = {"machine": cpu(), "phases": {}}
for phase in ["before", "during", "after"]:
    p = os.path.join(d, phase + ".json")
    r = json.load(open(p)) if os.path.exists(p) else {}
    kib = rss.get(phase, [])
    report["phases"][phase] = {
        "calls_held": r.get("calls_held"), "calls_refused": r.get("calls_refused"),
        "calls_failed": r.get("calls_failed"),
        "finals_expected": r.get("finals_expected"), "finals_missing": r.get("finals_missing"),
        "final_latency_ms": r.get("final_latency_ms"),
        "rss_mib": {"min": round(min(kib) / 1024, 1), "max": round(max(kib) / 1024, 1),
                    "last": round(kib[-1] / 1024, 1)} if kib else None,
    }
try:
    report["attacks"] = json.load(open(os.path.join(d, "attacks.json")))
except Exception as e:
    report["attacks"] = {"error": str(e)}
json.dump(report, open(os.path.join(d, "report.json"), "w"), indent=2)
print(json.dumps(report, indent=2))
EOF
say "report: $out_dir/report.json"

#!/usr/bin/env bash
# The soak run of issue 19: `callscribe loadtest` holding CALLS concurrent real-time calls for
# MINUTES minutes against `serve` on SQLite, sampling the server once a minute (and at the
# start): RSS (VmRSS), open file descriptors, the size of its SQLite files (with -wal/-shm), and
# the p95 final latency of that minute (the utterances whose speech ended in it, from the load
# test's per-minute report). Prints the verdict against the goals: RSS and descriptors grow
# under 5% over the last 20 minutes, no final missing, p95 steady. Loopback only; not part of
# CI; safe to run twice (each run replaces target/soak/).
#
#   scripts/soak.sh              # 30 minutes, 16 calls
#   scripts/soak.sh 3            # a short try
#   CALLS=8 RAMP=20 EVAL_DIR=/work/shared/eval scripts/soak.sh 30
#
# Calls: the dev corpus's 8 kHz µ-law calls with their turns (EVAL_DIR, default ../shared/eval,
# as scripts/eval-live.sh), else samples/sample-call.wav. Writes target/soak/samples.csv (one
# row a minute, plus `end` after the load test exits), loadtest.json, report.json and soak.png
# (scripts/plot_soak.py, matplotlib in a venv under target/). The minute-k row's p95 is that of
# minute k-1..k of the load; the utterances ending after the last whole minute (the calls still
# finishing) are counted in `end` and left out of the p95 figures.
set -euo pipefail
SCRIPT_NAME=soak
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
. scripts/lib.sh

minutes="${1:-30}"
calls="${CALLS:-16}"
ramp="${RAMP:-30}"
[[ "$minutes" =~ ^[1-9][0-9]*$ ]] || die "MINUTES must be a whole number ≥ 1, got '$minutes'"
[[ "$calls" =~ ^[1-9][0-9]*$ ]] || die "CALLS must be a whole number ≥ 1, got '$calls'"
eval_dir="${EVAL_DIR:-$repo_root/../shared/eval}"
out_dir="$repo_root/target/soak"
venv="$repo_root/target/soak-venv"
matplotlib_pin="matplotlib==3.11.2"
bin="$repo_root/target/release/callscribe"
command_line="scripts/soak.sh $minutes (CALLS=$calls RAMP=$ramp)"

rm -rf "$out_dir"
mkdir -p "$out_dir"
say "building (release)"
nice -n 10 cargo build --release --locked --quiet
[ -f models/ggml-tiny.en.bin ] || "$bin" model fetch tiny.en > /dev/null
if ! venv_has "$venv" "$matplotlib_pin"; then
    say "installing $matplotlib_pin into $venv"
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "$matplotlib_pin"
fi

work="$(mktemp -d)"
server_pid=""
load_pid=""
cleanup() {
    [ -n "$load_pid" ] && kill "$load_pid" 2> /dev/null || true
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2> /dev/null || true
        wait "$server_pid" 2> /dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/audio"
if compgen -G "$eval_dir/calls/*.8k.mulaw.wav" > /dev/null; then
    for wav in "$eval_dir"/calls/*.8k.mulaw.wav; do
        name="$(basename "$wav" .8k.mulaw.wav)"
        ln -s "$wav" "$work/audio/"
        ln -s "$eval_dir/calls/$name.json" "$work/audio/$name.json"
    done
    audio_desc="the $(ls "$work/audio" | grep -c '\.wav$') dev calls of $eval_dir/calls (8 kHz µ-law, turns)"
else
    ln -s "$repo_root/samples/sample-call.wav" "$work/audio/sample-call.wav"
    audio_desc="samples/sample-call.wav (no dev corpus at $eval_dir)"
fi
say "calls: $audio_desc"

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
data="$work/data"
"$bin" tenant create soak --data-dir "$data" > /dev/null 2>&1
ingest_key="$("$bin" key create --tenant soak --role ingest --data-dir "$data" 2> /dev/null)"
agent_key="$("$bin" key create --tenant soak --role agent --data-dir "$data" 2> /dev/null)"
# admission and rate limits out of the way: this measures the server over time, not its limits
# (each call opens one media socket and one event subscription)
cat > "$work/serve.toml" << EOF
[live]
max_calls = $((calls + 4))

[web.limits]
per_minute = 6000
burst = 200
EOF
"$bin" serve --data-dir "$data" --listen "127.0.0.1:$port" --config "$work/serve.toml" \
    2> "$out_dir/serve.log" &
server_pid=$!
for _ in $(seq 1 600); do
    port_open 127.0.0.1 "$port" && break
    kill -0 "$server_pid" 2> /dev/null || die "serve did not start (log: $out_dir/serve.log)"
    sleep 0.2
done
port_open 127.0.0.1 "$port" || die "serve did not listen on 127.0.0.1:$port within 2 minutes"

# sample MINUTE: one CSV row of the server's state (db_bytes includes wal_bytes)
echo "minute,unix_s,rss_kib,fds,threads,db_bytes,wal_bytes,data_bytes,server_cpu_s,load1" > "$out_dir/samples.csv"
clk_tck="$(getconf CLK_TCK)"
sample() {
    local rss fds threads db_bytes wal_bytes data_bytes cpu load1
    rss="$(awk '/^VmRSS:/ {print $2}' "/proc/$server_pid/status")"
    threads="$(awk '/^Threads:/ {print $2}' "/proc/$server_pid/status")"
    fds="$(ls "/proc/$server_pid/fd" | wc -l)"
    db_bytes="$(find "$data" -maxdepth 1 -type f \( -name '*.db' -o -name '*.db-wal' -o -name '*.db-shm' \) \
        -printf '%s\n' | awk '{s += $1} END {print s + 0}')"
    wal_bytes="$(find "$data" -maxdepth 1 -type f -name '*.db-wal' -printf '%s\n' | awk '{s += $1} END {print s + 0}')"
    data_bytes="$(du -sb "$data" | cut -f1)"
    # utime + stime: fields 14 and 15 of /proc/PID/stat, counted after the command's ")"
    cpu="$(sed 's/.*) //' "/proc/$server_pid/stat" | awk -v t="$clk_tck" '{printf "%.1f", ($12 + $13) / t}')"
    load1="$(cut -d' ' -f1 /proc/loadavg)"
    echo "$1,$(date +%s),$rss,$fds,$threads,$db_bytes,$wal_bytes,$data_bytes,$cpu,$load1" >> "$out_dir/samples.csv"
}

say "$calls calls for $minutes min against 127.0.0.1:$port (log: $out_dir/loadtest.log)"
CALLSCRIBE_INGEST_KEY="$ingest_key" CALLSCRIBE_AGENT_KEY="$agent_key" \
    "$bin" loadtest --url "ws://127.0.0.1:$port" --audio "$work/audio" --calls "$calls" \
    --ramp "$ramp" --duration "$((minutes * 60))" --json "$out_dir/loadtest.json" \
    > "$out_dir/loadtest.log" 2>&1 &
load_pid=$!
# minute 0 is when the load test has decoded its calls and starts the first one
for _ in $(seq 1 600); do
    grep -q '^loaded ' "$out_dir/loadtest.log" 2> /dev/null && break
    kill -0 "$load_pid" 2> /dev/null || die "loadtest stopped before it began (log: $out_dir/loadtest.log)"
    sleep 0.1
done
t0="$(date +%s.%N)"
sample 0
for k in $(seq 1 "$minutes"); do
    # sleep to the k-th minute after t0 (no drift from the time sampling takes)
    sleep "$(python3 -c "import time; print(max(0.0, $t0 + 60 * $k - time.time()))")"
    kill -0 "$server_pid" 2> /dev/null || die "the server exited during the soak (log: $out_dir/serve.log)"
    sample "$k"
    say "minute $k/$minutes: $(tail -1 "$out_dir/samples.csv")"
done
load_rc=0
wait "$load_pid" || load_rc=$?
load_pid=""
sample end
[ -f "$out_dir/loadtest.json" ] || die "loadtest wrote no report (exit $load_rc; log: $out_dir/loadtest.log)"

python3 - "$out_dir" "$minutes" "$calls" "$command_line" "$audio_desc" "$load_rc" << 'EOF'
import csv, json, os, statistics, sys, time
out_dir, minutes, calls, command_line, audio_desc, load_rc = sys.argv[1:]
minutes, calls = int(minutes), int(calls)
load = json.load(open(os.path.join(out_dir, "loadtest.json")))
windows = {w["minute"]: w for w in load.get("minutes", [])}
rows = list(csv.DictReader(open(os.path.join(out_dir, "samples.csv"))))

def cpu_model():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "?"

samples, expected, missing = [], 0, 0
for r in rows:
    k = r["minute"]
    # row k (k ≥ 1) closes minute k-1 of the load; `end` takes every utterance left
    if k == "end":
        tail = [w for m, w in windows.items() if m >= minutes]
        p95, window = None, None
    elif int(k) == 0:
        tail, p95, window = [], None, None
    else:
        w = windows.get(int(k) - 1)
        tail = [w] if w else []
        p95, window = (w["final_latency_ms"]["p95"] if w else None), int(k) - 1
    expected += sum(w["finals_expected"] for w in tail)
    missing += sum(w["finals_missing"] for w in tail)
    samples.append({
        "minute": k, "unix_s": int(r["unix_s"]),
        "rss_mib": round(int(r["rss_kib"]) / 1024, 1), "fds": int(r["fds"]),
        "threads": int(r["threads"]), "db_mib": round(int(r["db_bytes"]) / 2**20, 2),
        "wal_mib": round(int(r["wal_bytes"]) / 2**20, 2),
        "data_mib": round(int(r["data_bytes"]) / 2**20, 2),
        "server_cpu_s": float(r["server_cpu_s"]), "load1": float(r["load1"]),
        "window_minute": window, "p95_ms": p95,
        "finals_expected_so_far": expected, "finals_missing_so_far": missing,
    })

by_minute = {s["minute"]: s for s in samples}
first = max(1, minutes - 20) if minutes > 1 else 0
window = [by_minute[str(k)] for k in range(first, minutes + 1)]
def growth(key):
    start, end = window[0][key], window[-1][key]
    peak = max(s[key] for s in window)
    return {"from_minute": first, "to_minute": minutes, "start": start, "end": end,
            "peak": peak, "growth_pct": round(100 * (end - start) / start, 1),
            "peak_growth_pct": round(100 * (peak - start) / start, 1)}
p95s = [s["p95_ms"] for s in samples[1:minutes + 1] if s["p95_ms"] is not None]
verdict = {
    "rss": growth("rss_mib"), "fds": growth("fds"),
    "db_mib": {"start": samples[0]["db_mib"], "end": samples[-1]["db_mib"]},
    "finals_expected": load["finals_expected"], "finals_missing": load["finals_missing"],
    "calls_started": load["calls_started"], "calls_held": load["calls_held"],
    "calls_refused": load["calls_refused"], "calls_failed": load["calls_failed"],
    "p95_ms_per_minute": {"n": len(p95s), "min": min(p95s, default=None),
                          "median": statistics.median(p95s) if p95s else None,
                          "max": max(p95s, default=None)},
    "final_latency_ms_whole_run": load["final_latency_ms"],
}
verdict["rss_flat"] = verdict["rss"]["growth_pct"] < 5
verdict["fds_flat"] = verdict["fds"]["growth_pct"] < 5
verdict["no_final_missing"] = load["finals_missing"] == 0 and load["calls_failed"] == 0 \
    and load["calls_refused"] == 0
report = {
    "command": command_line, "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                          time.gmtime(samples[0]["unix_s"])),
    "minutes": minutes, "calls": calls, "audio": audio_desc, "loadtest_exit": int(load_rc),
    "machine": {"cpu": cpu_model(), "cores": os.cpu_count()},
    "verdict": verdict, "samples": samples, "loadtest": load,
}
json.dump(report, open(os.path.join(out_dir, "report.json"), "w"), indent=2)

def cell(v, fmt="{}"):
    return "–" if v is None else fmt.format(v)
print("| minute | RSS MiB | fds | DB MiB | p95 ms | finals so far (missing) | load |")
print("|---|---|---|---|---|---|---|")
for s in samples:
    print(f"| {s['minute']} | {s['rss_mib']} | {s['fds']} | {s['db_mib']} | "
          f"{cell(s['p95_ms'], '{:.0f}')} | {s['finals_expected_so_far']} "
          f"({s['finals_missing_so_far']}) | {s['load1']} |")
r, f, p = verdict["rss"], verdict["fds"], verdict["p95_ms_per_minute"]
ok = lambda b: "ok" if b else "NOT MET"
print()
print(f"RSS minute {r['from_minute']}→{r['to_minute']}: {r['start']} → {r['end']} MiB "
      f"({r['growth_pct']:+}%, peak {r['peak']} MiB {r['peak_growth_pct']:+}%): {ok(verdict['rss_flat'])}")
print(f"fds minute {f['from_minute']}→{f['to_minute']}: {f['start']} → {f['end']} "
      f"({f['growth_pct']:+}%, peak {f['peak']} {f['peak_growth_pct']:+}%): {ok(verdict['fds_flat'])}")
print(f"finals: {load['finals_expected'] - load['finals_missing']}/{load['finals_expected']} "
      f"({load['finals_missing']} missing); calls started {load['calls_started']}, held "
      f"{load['calls_held']}, refused {load['calls_refused']}, failed {load['calls_failed']}: "
      f"{ok(verdict['no_final_missing'])}")
print(f"p95 per minute ({p['n']} minutes): min {cell(p['min'], '{:.0f}')} / median "
      f"{cell(p['median'], '{:.0f}')} / max {cell(p['max'], '{:.0f}')} ms; whole run p50/p95/p99 "
      f"{load['final_latency_ms']['p50']}/{load['final_latency_ms']['p95']}/"
      f"{load['final_latency_ms']['p99']} ms")
print(f"database: {verdict['db_mib']['start']} → {verdict['db_mib']['end']} MiB")
EOF
"$venv/bin/python" scripts/plot_soak.py "$out_dir/report.json" "$out_dir/soak.png"
say "report: $out_dir/report.json, plot: $out_dir/soak.png"

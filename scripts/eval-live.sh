#!/usr/bin/env bash
# Live-call evaluation against the development corpus (needs ../shared/eval or EVAL_DIR):
# starts `callscribe serve` on a throw-away SQLite store, replays every dev call with the
# corpus's independent Twilio client (both tracks split by the script's turns, real time),
# reads the stored transcripts back, transcribes the same files in batch, and reports
# WER / PII for both, speaker-label accuracy, and latency from the replay logs.
#
#   scripts/eval-live.sh                 # the 12 calls, one at a time
#   CONCURRENT=8 scripts/eval-live.sh    # 8 calls at once (capacity check)
#   CALLS="call01 call02" SPEED=2 scripts/eval-live.sh
set -euo pipefail
SCRIPT_NAME=eval-live
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
. scripts/lib.sh
EVAL_DIR="${EVAL_DIR:-$repo_root/../shared/eval}"
[ -d "$EVAL_DIR/calls" ] || die "no evaluation corpus at $EVAL_DIR (set EVAL_DIR)"
CONCURRENT="${CONCURRENT:-1}"
SPEED="${SPEED:-1}"
PORT="${PORT:-18091}"
OUT="${OUT:-target/eval-live}"
BIN=./target/release/callscribe
[ -x "$BIN" ] || die "build first: cargo build --release"
VENV=target/eval-venv
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import websockets" 2>/dev/null; then
  say "installing the replay client's dependency (websockets) into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q websockets
fi
rm -rf "$OUT" && mkdir -p "$OUT/replay" "$OUT/live" "$OUT/batch"
DATA="$(mktemp -d)"
trap 'kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; rm -rf "$DATA"' EXIT
TENANT=$("$BIN" tenant create eval --data-dir "$DATA" 2>/dev/null | tail -1)
INGEST=$("$BIN" key create --tenant "$TENANT" --role ingest --data-dir "$DATA")
# CONFIG=FILE: a serve config file (e.g. to compare [decode] or [live] settings)
"$BIN" serve --data-dir "$DATA" --listen "127.0.0.1:$PORT" ${CONFIG:+--config "$CONFIG"} 2> "$OUT/server.log" &
SERVER=$!
for _ in $(seq 100); do
  if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$PORT/healthz')" 2>/dev/null; then break; fi
  sleep 0.2
done
CALLS="${CALLS:-$(cd "$EVAL_DIR/calls" && ls call*.json | sed 's/\.json$//' | tr '\n' ' ')}"
say "replaying: $CALLS (concurrency $CONCURRENT, speed $SPEED)"
replay_one() {
  "$VENV/bin/python" "$EVAL_DIR/twilio_replay.py" "ws://127.0.0.1:$PORT/v1/ingest/twilio" \
    "$EVAL_DIR/calls/$1.8k.mulaw.wav" --tracks both --script "$EVAL_DIR/calls/$1.json" \
    --speed "$SPEED" --param "token=$INGEST" --param transcripts=on --linger 10 --out "$OUT/replay/$1.json" --no-echo-marks > /dev/null
}
export -f replay_one
export VENV EVAL_DIR PORT SPEED INGEST OUT
START=$(date +%s.%N)
printf '%s\n' $CALLS | xargs -P "$CONCURRENT" -I{} bash -c 'replay_one {}'
WALL=$(python3 -c "import time; print(round(time.time() - $START, 1))")
say "replays done in ${WALL}s; reading the stored transcripts"
for c in $CALLS; do
  sid=$(python3 -c "import json; print(json.load(open('$OUT/replay/$c.json'))['callSid'])")
  "$BIN" transcript show "$sid" --tenant "$TENANT" --data-dir "$DATA" --format json 2>/dev/null \
    | python3 -c "import json,sys; d=json.load(sys.stdin); d['call_id']='$c'; json.dump(d, open('$OUT/live/$c.json','w'))"
done
say "batch transcription of the same files"
"$BIN" transcribe --format json --out "$OUT/batch" $(for c in $CALLS; do echo "$EVAL_DIR/calls/$c.8k.mulaw.wav"; done) 2>/dev/null
python3 "$EVAL_DIR/score.py" --ref-dir "$EVAL_DIR/calls" --hyp-dir "$OUT/live" --json "$OUT/live-score.json" > "$OUT/live-score.txt"
python3 "$EVAL_DIR/score.py" --ref-dir "$EVAL_DIR/calls" --hyp-dir "$OUT/batch" --json "$OUT/batch-score.json" > "$OUT/batch-score.txt"
python3 scripts/eval_live.py "$EVAL_DIR/calls" "$OUT" $CALLS

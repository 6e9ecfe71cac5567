#!/usr/bin/env bash
# The README's first command: sets everything up (scripts/setup.sh), then runs callscribe's main
# job on the embedded default (SQLite, tiny.en): it starts `callscribe serve`, streams the shipped
# sample call (samples/sample-call.wav: a synthetic two-party call, channel 0 the caller,
# channel 1 the agent) to it over a real WebSocket in real time with `callscribe replay`, and
# prints the live, redacted transcript as it arrives, speaker by speaker. Then it shows the call
# as stored (sealed) and stops the server gracefully. Compare with samples/sample-call.txt.
#
# Safe to run again: the demo's store lives in target/demo-data and is recreated each time.
set -euo pipefail
SCRIPT_NAME=demo
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
. scripts/lib.sh
scripts/setup.sh
BIN=./target/release/callscribe
DATA=target/demo-data
rm -rf "$DATA"
PORT="${PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
TENANT=$("$BIN" tenant create demo --data-dir "$DATA" 2>/dev/null | tail -1)
INGEST=$("$BIN" key create --tenant "$TENANT" --role ingest --data-dir "$DATA" 2>/dev/null)
say "starting callscribe serve on 127.0.0.1:$PORT (store: $DATA, SQLite)"
"$BIN" serve --data-dir "$DATA" --listen "127.0.0.1:$PORT" 2> "$DATA/serve.log" &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true' EXIT
for _ in $(seq 150); do
  python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$PORT/readyz')" 2>/dev/null && break
  kill -0 "$SERVER" 2>/dev/null || { cat "$DATA/serve.log" >&2; die "the server did not start"; }
  sleep 0.2
done
say "streaming samples/sample-call.wav in real time (33 s; what was said: samples/sample-call.txt)"
"$BIN" replay samples/sample-call.wav --url "ws://127.0.0.1:$PORT" --ingest-key "$INGEST"
say "stored, sealed (callscribe calls list / transcript show):"
"$BIN" calls list --tenant demo --data-dir "$DATA" 2>/dev/null
kill -TERM "$SERVER" && wait "$SERVER" || true
trap - EXIT
say "server stopped; its log is $DATA/serve.log"

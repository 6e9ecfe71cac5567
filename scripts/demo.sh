#!/usr/bin/env bash
# The README's first command: sets everything up (scripts/setup.sh), then transcribes the
# shipped sample call (samples/sample-call.wav: a synthetic two-party call, channel 0 the
# caller, channel 1 the agent) on the embedded default and prints the redacted transcript,
# speaker by speaker. Compare it with samples/sample-call.txt.
set -euo pipefail
SCRIPT_NAME=demo
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
. scripts/lib.sh
scripts/setup.sh
say "transcribing samples/sample-call.wav (what was said: samples/sample-call.txt)"
./target/release/callscribe transcribe --channels split samples/sample-call.wav

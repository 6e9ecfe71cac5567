#!/usr/bin/env bash
# Generates the synthetic call corpus (scripts/gencorpus.py; docs/CORPUS.md): hundreds of
# two-party contact-centre calls with planted PII, in the evaluation corpus's JSON schema, with
# their telephone audio (8 kHz mu-law mono, and stereo with the caller on channel 0 and the
# agent on channel 1). Installs flite, espeak-ng and sox (Debian packages) if missing; safe to
# run again (the same seed writes the same calls over the old ones).
#
#   scripts/gen-corpus.sh [--split dev|test|both] [--calls N] [--out DIR] [--seed S]
#                         [--text-only] [--jobs 1|2] [--clean16k]
#
# Defaults: both splits, 240 calls each, target/corpus/{dev,test}/. --text-only writes the
# JSON references only (seconds; timings estimated), for reference-text evaluation. Every other
# argument is passed to gencorpus.py (see `python3 scripts/gencorpus.py --help`), e.g.
# `--check target/corpus/dev target/corpus/test` for the self-check of the match keys.
set -euo pipefail
SCRIPT_NAME=gen-corpus
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
. scripts/lib.sh

command -v python3 >/dev/null || install_debian_packages python3
text_only=0
for arg in "$@"; do
    case "$arg" in
        --text-only | --check | --split-report | -h | --help) text_only=1 ;;
    esac
done
if [ "$text_only" -eq 0 ]; then
    missing=()
    command -v flite >/dev/null || missing+=(flite)
    command -v espeak-ng >/dev/null || missing+=(espeak-ng)
    command -v sox >/dev/null || missing+=(sox)
    [ "${#missing[@]}" -eq 0 ] || install_debian_packages "${missing[@]}"
fi

exec python3 scripts/gencorpus.py "$@"

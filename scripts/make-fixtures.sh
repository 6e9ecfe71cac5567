#!/usr/bin/env bash
# Makes the small audio fixtures under tests/fixtures/ (they are committed; this script is
# how they were made, so they can be checked and remade). Needs flite, sox and ffmpeg
# (Debian packages); the test suite itself needs none of them.
#
# - tone.*: 1.0 s of a 440 Hz sine at -6 dBFS in every container and codec the decoder
#   supports (WAV PCM 8/16/24/32-bit and float, µ-law, A-law; FLAC; MP3; Ogg Vorbis; M4A AAC)
#   at assorted sample rates, mono and stereo;
# - speech.*: a short sentence spoken by flite, as 16 kHz FLAC, 8 kHz µ-law WAV and 44.1 kHz
#   stereo MP3;
# - broken inputs: empty, truncated, not audio.
set -euo pipefail
SCRIPT_NAME=make-fixtures
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
. scripts/lib.sh
missing=()
command -v flite >/dev/null || missing+=(flite)
command -v sox >/dev/null || missing+=(sox)
command -v ffmpeg >/dev/null || missing+=(ffmpeg)
[ "${#missing[@]}" -eq 0 ] || install_debian_packages "${missing[@]}"

out=tests/fixtures
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }

tone() { sox -R -D -n -r "$1" -c "$2" "$tmp/tone.wav" synth 1.0 sine 440 gain -6; }
tone 16000 1; sox -R -D "$tmp/tone.wav" -b 8 -e unsigned-integer "$out/tone.u8.wav"
tone 16000 1; cp "$tmp/tone.wav" "$out/tone.s16.wav"
tone 48000 2; sox -R -D "$tmp/tone.wav" -b 24 "$out/tone.s24.stereo48k.wav"
tone 22050 1; sox -R -D "$tmp/tone.wav" -b 32 -e signed-integer "$out/tone.s32.wav"
tone 44100 1; sox -R -D "$tmp/tone.wav" -b 32 -e floating-point "$out/tone.f32.wav"
tone 8000 1;  sox -R -D "$tmp/tone.wav" -e u-law "$out/tone.mulaw8k.wav"
tone 8000 1;  sox -R -D "$tmp/tone.wav" -e a-law "$out/tone.alaw8k.wav"
tone 44100 2; sox -R -D "$tmp/tone.wav" "$out/tone.stereo44k.flac"
tone 44100 2; ff -i "$tmp/tone.wav" -c:a libmp3lame -b:a 64k "$out/tone.stereo44k.mp3"
tone 32000 1; ff -i "$tmp/tone.wav" -c:a libvorbis -q:a 2 "$out/tone.32k.ogg"
tone 24000 1; ff -i "$tmp/tone.wav" -c:a aac -b:a 48k "$out/tone.24k.m4a"

text="Hello, this is a short test of the call transcription service. Thank you very much."
flite -voice slt -t "$text" -o "$tmp/speech.wav"
sox -R -D "$tmp/speech.wav" -r 16000 -c 1 -b 16 "$tmp/speech16.wav" pad 0.3 0.3
sox -R -D "$tmp/speech16.wav" "$out/speech.16k.flac"
sox -R -D "$tmp/speech16.wav" -r 8000 -e u-law "$out/speech.8k.mulaw.wav"
sox -R -D "$tmp/speech16.wav" -r 44100 -c 2 "$tmp/speech44.wav"
ff -i "$tmp/speech44.wav" -c:a libmp3lame -b:a 64k "$out/speech.stereo44k.mp3"
printf '%s\n' "$text" > "$out/speech.txt"

: > "$out/empty.wav"
head -c 20000 "$out/tone.s16.wav" > "$out/truncated.wav"
head -c 3000 "$out/tone.stereo44k.flac" > "$out/truncated.flac"
printf 'this is not audio at all\n%.0s' {1..50} > "$out/not-audio.wav"
sox -R -D -n -r 16000 -c 1 -b 16 "$out/zero-samples.wav" trim 0 0
say "fixtures written to $out"
ls -la "$out" >&2

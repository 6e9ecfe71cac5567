#!/usr/bin/env bash
# Make the shipped sample call: samples/sample-call.wav and samples/sample-call.txt.
#
# A short synthetic two-party contact-centre call, spoken by two offline flite voices
# (Debian package `flite`): the caller is `slt` (US English, female), the agent is `rms`
# (US English, male). The WAV is 16-bit PCM, 8 kHz (telephony), STEREO:
#   channel 0 (left)  = caller
#   channel 1 (right) = agent
# The parties take turns and never overlap; while one speaks the other channel is digital
# silence. samples/sample-call.txt holds the script with each turn's start and end in
# seconds, so a transcript can be checked by eye.
#
# Deterministic and idempotent: the same flite and sox give byte-identical files on every
# run (sox runs in its repeatable mode, -R, without dither, -D), and each
# output is written to a temporary file first and then moved into place.
#
# Usage: scripts/make-sample.sh            (from anywhere; writes into <repo>/samples/)
set -euo pipefail

SCRIPT_NAME=make-sample
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib.sh
. "$repo_root/scripts/lib.sh"
out_dir="$repo_root/samples"
out_wav="$out_dir/sample-call.wav"
out_txt="$out_dir/sample-call.txt"

caller_voice=slt   # channel 0
agent_voice=rms    # channel 1
rate=8000
lead_in=0.5        # seconds of silence before the first turn
gap=0.5            # seconds of silence between turns
tail_out=0.5       # seconds of silence after the last turn

# --- tools -------------------------------------------------------------------------------
missing=()
command -v flite >/dev/null 2>&1 || missing+=(flite)
{ command -v sox && command -v soxi; } >/dev/null 2>&1 || missing+=(sox)
[ "${#missing[@]}" -eq 0 ] || install_debian_packages "${missing[@]}"
voices="$(flite -lv)"
for v in "$caller_voice" "$agent_voice"; do
    grep -qw "$v" <<<"$voices" || die "flite has no voice '$v' ($voices)"
done

# --- the script --------------------------------------------------------------------------
# speaker|text. Only invented values: the name, number and address belong to nobody.
# The phone number is spoken digit by digit in groups (commas make flite pause).
turns=(
    "agent|Thank you for calling Northwind Mobile, this is David. How can I help you?"
    "caller|Hi, this is Emily Carter. I want to upgrade my phone plan."
    "agent|Sure. What is your mobile number?"
    "caller|It is nine one seven, four two six, eight three five zero."
    "agent|Thank you. And your email address?"
    "caller|It is emily dot carter at yahoo dot com."
    "agent|The new plan is thirty five dollars a month."
    "caller|That is fine. Please call me back at four thirty P M."
    "agent|Sure. Thanks for calling, goodbye."
    "caller|Thanks, bye."
)

work="$(mktemp -d "${TMPDIR:-/tmp}/make-sample.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# sox: -R repeatable (fixed seeds), -D no dither (the silent channel stays exact zeros),
# -q quiet; all intermediate audio is 8 kHz 16-bit.
sx() { sox -R -D -q "$@"; }

segments=()
script_lines=()
# Sample counts keep the times exact (no rounding drift over the call).
pos=$(awk -v s="$lead_in" -v r="$rate" 'BEGIN { printf "%d", s * r + 0.5 }')
gap_samples=$(awk -v s="$gap" -v r="$rate" 'BEGIN { printf "%d", s * r + 0.5 }')
tail_samples=$(awk -v s="$tail_out" -v r="$rate" 'BEGIN { printf "%d", s * r + 0.5 }')

sx -r "$rate" -c 2 -n -b 16 "$work/lead.wav" trim 0s "${pos}s"
segments+=("$work/lead.wav")

n=0
for turn in "${turns[@]}"; do
    n=$((n + 1))
    speaker="${turn%%|*}"
    text="${turn#*|}"
    case "$speaker" in
        caller) voice="$caller_voice"; remix=(remix 1 0) ;;   # speech left, silence right
        agent)  voice="$agent_voice";  remix=(remix 0 1) ;;   # silence left, speech right
        *) die "unknown speaker '$speaker'" ;;
    esac
    raw="$work/turn$n.raw.wav"
    seg="$work/turn$n.wav"
    flite -voice "$voice" -t "$text" -o "$raw"
    # Trim the voice's own leading/trailing silence (below -50 dB) so the times in the
    # script are where speech starts and ends, peak-normalise each turn to -3 dBFS so both
    # voices are equally loud, then resample to 8 kHz and place it on its channel.
    sx "$raw" -r "$rate" -b 16 -c 2 "$seg" \
        silence 1 0.01 -50d reverse silence 1 0.01 -50d reverse \
        gain -n -3 rate -v "$rate" "${remix[@]}"
    len=$(soxi -s "$seg")
    start=$pos
    end=$((pos + len))
    segments+=("$seg")
    script_lines+=("$(awk -v a="$start" -v b="$end" -v r="$rate" -v who="$speaker" -v t="$text" \
        'BEGIN { printf "%6.2f %6.2f  %s: %s", a / r, b / r, who, t }')")
    pos=$end
    if [ "$n" -lt "${#turns[@]}" ]; then
        sx -r "$rate" -c 2 -n -b 16 "$work/gap$n.wav" trim 0s "${gap_samples}s"
        segments+=("$work/gap$n.wav")
        pos=$((pos + gap_samples))
    fi
done
sx -r "$rate" -c 2 -n -b 16 "$work/tail.wav" trim 0s "${tail_samples}s"
segments+=("$work/tail.wav")
pos=$((pos + tail_samples))

mkdir -p "$out_dir"
sx "${segments[@]}" -r "$rate" -b 16 -e signed-integer -c 2 "$work/sample-call.wav"
total=$(soxi -s "$work/sample-call.wav")
[ "$total" -eq "$pos" ] || die "length mismatch: $total samples written, $pos expected"
duration=$(awk -v n="$total" -v r="$rate" 'BEGIN { printf "%.2f", n / r }')

{
    printf '# samples/sample-call.wav: synthetic contact-centre call, %s s, 8 kHz 16-bit PCM stereo.\n' "$duration"
    printf '# Channel 0 (left) = caller (flite voice %s), channel 1 (right) = agent (flite voice %s).\n' \
        "$caller_voice" "$agent_voice"
    printf '# Turns never overlap. Made by scripts/make-sample.sh; every name, number and address is invented.\n'
    printf '# start    end  speaker: text\n'
    printf '%s\n' "${script_lines[@]}"
} > "$work/sample-call.txt"

mv -f "$work/sample-call.wav" "$out_wav"
mv -f "$work/sample-call.txt" "$out_txt"
say "wrote ${out_wav#"$repo_root"/} (${duration} s, $(wc -c < "$out_wav") bytes) and ${out_txt#"$repo_root"/}"

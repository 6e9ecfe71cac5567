"""Summarises a live evaluation run (scripts/eval-live.sh): WER / PII live vs batch from the
scorer's reports, speaker-label accuracy of the stored live segments against the script's turns,
and latency from the replay logs (standard library only).

Latency definitions (audio time is the media timestamp; "sent" is when the client sent it):
- final: from the moment the client sent the audio of the end of the utterance (the script's
  turn end) to the receipt of the final event covering that turn;
- first interim: from the moment the client sent the audio of the start of speech (the turn's
  start) to the receipt of the first interim of the segment.
"""
import json
import os
import sys


def pct(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1)))))
    return v[k]


def main(ref_dir, out, calls):
    live = json.load(open(os.path.join(out, "live-score.json")))["summary"]
    batch = json.load(open(os.path.join(out, "batch-score.json")))["summary"]
    keys = ["wer", "wer_excl_pii", "pii_leak_rate_full", "pii_leak_rate_any", "over_redaction_rate"]
    print("%-22s %10s %10s" % ("metric", "live", "batch"))
    for k in keys:
        lv, bv = live.get(k), batch.get(k)
        fmt = lambda x: "-" if x is None else "%.2f%%" % (100 * x)
        print("%-22s %10s %10s" % (k, fmt(lv), fmt(bv)))
    right = wrong = 0
    finals_lat, interim_lat, missing = [], [], 0
    interims = finals = 0
    for c in calls:
        ref = json.load(open(os.path.join(ref_dir, c + ".json")))
        turns = ref["turns"]
        hyp = json.load(open(os.path.join(out, "live", c + ".json")))
        for s in hyp["segments"]:
            best = max(turns, key=lambda t: min(t["end"], s["end"]) - max(t["start"], s["start"]))
            if min(best["end"], s["end"]) - max(best["start"], s["start"]) <= 0:
                continue
            if best["speaker"] == s["speaker"]:
                right += 1
            else:
                wrong += 1
        log = json.load(open(os.path.join(out, "replay", c + ".json")))
        sent_at = {}
        for seq, track, chunk, ts, t in log["sent"]:
            sent_at.setdefault(ts, t)
        def sent_time(ms):
            ms = int(ms // 20 * 20)
            while ms not in sent_at and ms > 0:
                ms -= 20
            return sent_at.get(ms)
        events = [(r["t_recv_s"], r["json"]) for r in log["received"] if isinstance(r.get("json"), dict)]
        # events arrive on the ingest socket only for the native protocol; with Twilio they are
        # read from the server's log of the subscription (see eval-live.sh): use received if any
        first_interim = {}
        final_events = []
        for t, e in events:
            if e.get("type") != "transcript":
                continue
            if e.get("is_final"):
                finals += 1
                if e.get("text"):
                    final_events.append((t, e))
            else:
                interims += 1
                first_interim.setdefault(e["segment_id"], (t, e))
        for t in turns:
            tr_track = t["speaker"]
            cover = [(rt, e) for rt, e in final_events if e["speaker"] == tr_track
                     and e["start_ms"] / 1000.0 < t["end"] and e["end_ms"] / 1000.0 > t["start"]]
            if not cover:
                missing += 1
                continue
            rt = max(r for r, _ in cover)
            s = sent_time(t["end"] * 1000)
            if s is not None:
                finals_lat.append(rt - s)
            segs = {e["segment_id"] for _, e in cover}
            fi = [first_interim[sid] for sid in segs if sid in first_interim]
            if fi:
                ft = min(r for r, _ in fi)
                s0 = sent_time(t["start"] * 1000)
                if s0 is not None:
                    interim_lat.append(ft - s0)
    print()
    print("speaker labels: %d of %d segments match the script's speaker (%.1f%%)"
          % (right, right + wrong, 100.0 * right / max(1, right + wrong)))
    if finals_lat:
        print("utterance end -> final: p50 %.0f ms, p95 %.0f ms, p99 %.0f ms (n=%d; %d turns without a final)"
              % (1000 * pct(finals_lat, 50), 1000 * pct(finals_lat, 95), 1000 * pct(finals_lat, 99), len(finals_lat), missing))
    if interim_lat:
        print("speech start -> first interim: p50 %.0f ms, p95 %.0f ms, p99 %.0f ms (n=%d)"
              % (1000 * pct(interim_lat, 50), 1000 * pct(interim_lat, 95), 1000 * pct(interim_lat, 99), len(interim_lat)))
    print("events received: %d finals, %d interims" % (finals, interims))
    json.dump({"live": live, "batch": batch, "speaker_accuracy": right / max(1, right + wrong),
               "final_latency_s": finals_lat, "first_interim_latency_s": interim_lat, "turns_without_final": missing},
              open(os.path.join(out, "summary.json"), "w"), indent=1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])

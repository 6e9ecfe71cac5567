#!/usr/bin/env python3
"""Load client for WhisperLive's WebSocket server: the peer side of
scripts/compare-whisperlive.sh, the counterpart of `callscribe loadtest`.

Replays N concurrent two-party calls in real time over loopback, speaking WhisperLive's own
protocol (whisper_live 0.10.0, client.py / server.py / backend/base.py):

  1. one WebSocket per track; the first text frame is the JSON options message
     {uid, language, task, model, use_vad, send_last_n_segments, no_speech_thresh, clip_audio,
      same_output_threshold, ...} with the values whisper_live's Client sends by default;
  2. the server answers {"uid", "message": "SERVER_READY", "backend"}; when it is full it answers
     {"uid", "status": "WAIT", "message": <minutes>} and closes (counted as a refusal);
     {"status": "ERROR"} is a failure;
  3. binary frames of 16 kHz mono float32 audio (audio_format "float32", the default);
  4. the server sends {"uid", "segments": [{"start", "end", "text", "completed"}, ...]}: the
     last `send_last_n_segments` completed segments plus the open one (completed false), again
     on every update; times are seconds of the stream's audio;
  5. b"END_OF_AUDIO" ends the stream; the server then drops the open segment and closes.

Calls: a directory of mono files (`callNN.8k.mulaw.wav`, or 16-bit PCM WAV) each with
`callNN.json` beside it holding `turns: [{speaker, start, end}]`. As in callscribe's loadtest
(src/client/loadtest.rs), a mono call with turns is split into a caller and an agent track: each
track carries the audio of its own turns and silence elsewhere (split at 16 kHz, after
resampling). Each track is one WhisperLive stream; both streams of a call start together.

Pacing: frame k (`--chunk-ms`, 20 ms by default, i.e. telephony frames as callscribe's
loadtest sends them) is due at t0 + k x chunk / speed, exactly as callscribe's replay paces.
After the last frame the streams stay open, silent, until every turn of the track has a
completed segment or `--final-timeout` seconds after the track's last turn end (WhisperLive
commits the open segment only after it has come back unchanged `same_output_threshold` times,
and re-transcribes the buffered audio while it waits; END_OF_AUDIO would throw it away), then
send END_OF_AUDIO.

Measured, per turn (the same rules as callscribe's loadtest):
  * final latency: from the turn's end (wall time of the replay, t0 + end / speed) to the
    arrival of the last completed segment on that track that overlaps the turn
    (segment.start < turn.end and segment.end > turn.start), each segment timed at its first
    arrival; a turn with none is a missing final;
  * first-interim latency: from the turn's start to the first segment (open or completed)
    overlapping it.
A call fails when a stream cannot connect, gets no SERVER_READY within --ready-timeout, is
closed by the server before END_OF_AUDIO, or the call outlives its time bound.
Per run: calls started / held / refused (WAIT) / failed, finals expected / missing / received,
interims delivered (messages whose last segment is open), the server's CPU seconds
(/proc/PID/stat utime+stime+cutime+cstime of --server-pid) and wall seconds.

`--find-capacity` raises N through 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, ... (capped by
--max-calls) until a run does not hold, then bisects between the last N that held and the
first that did not; a run holds when no call was refused or failed and the p95 final latency
is within --bound-ms (callscribe's rule; --strict-missing also counts each missing final as a
latency above the bound). The JSON (`--json`) has the keys of `callscribe loadtest --json`:
one report, or with --find-capacity {"capacity", "bound_ms", "runs": [...]}.

Before the first run one short warm-up stream makes the server load its (single) model, which
WhisperLive does when the first client connects; callscribe loads its model at start-up.
`--trace FILE` writes every message each call received, timed from its first frame.

Loopback only; every run is bounded in time.
"""
import argparse
import asyncio
import json
import math
import os
import struct
import sys
import time
import uuid

import numpy as np

RATE = 16000
TRACE = {"on": False, "calls": []}  # --trace: every call's messages, collected by run()
END_OF_AUDIO = b"END_OF_AUDIO"
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- audio ------------------------------------------------------------------------------------

def _mulaw_table():
    """G.711 mu-law byte -> float in [-1, 1) (the ITU-T expansion, scaled by 1/32768)."""
    out = np.zeros(256, dtype=np.float32)
    for b in range(256):
        u = ~b & 0xFF
        sign, exponent, mantissa = u & 0x80, (u >> 4) & 0x07, u & 0x0F
        magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
        out[b] = (-magnitude if sign else magnitude) / 32768.0
    return out


MULAW = _mulaw_table()


def read_wav(path):
    """Mono samples as float32 and the sample rate. Handles mu-law (format 7), A-law is not
    needed here, 16-bit PCM (format 1) and WAVE_FORMAT_EXTENSIBLE wrappers of those."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError(f"{path}: not a RIFF/WAVE file")
    pos, fmt, payload = 12, None, None
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        body = data[pos + 8:pos + 8 + size]
        if cid == b"fmt ":
            tag, channels, rate = struct.unpack("<HHI", body[:8])
            bits = struct.unpack("<H", body[14:16])[0]
            if tag == 0xFFFE and len(body) >= 26:
                tag = struct.unpack("<H", body[24:26])[0]
            fmt = (tag, channels, rate, bits)
        elif cid == b"data":
            payload = body
        pos += 8 + size + (size & 1)
    if fmt is None or payload is None:
        raise ValueError(f"{path}: no fmt or data chunk")
    tag, channels, rate, bits = fmt
    if channels != 1:
        raise ValueError(f"{path}: {channels} channels; this client streams mono calls split by turns")
    if tag == 7 and bits == 8:
        samples = MULAW[np.frombuffer(payload, dtype=np.uint8)]
    elif tag == 1 and bits == 16:
        samples = np.frombuffer(payload[: len(payload) // 2 * 2], dtype="<i2").astype(np.float32) / 32768.0
    else:
        raise ValueError(f"{path}: WAV format {tag} with {bits} bits is not supported (mu-law or 16-bit PCM)")
    return samples.astype(np.float32), rate


def _lowpass(taps, cutoff):
    """Kaiser-windowed sinc, `cutoff` as a fraction of the sample rate."""
    n = np.arange(taps) - (taps - 1) / 2.0
    h = 2 * cutoff * np.sinc(2 * cutoff * n) * np.kaiser(taps, 8.6)
    return h / h.sum()


def to_16k(samples, rate):
    """Integer-ratio polyphase resampling to 16 kHz (8 kHz -> 16 kHz for the dev calls)."""
    if rate == RATE:
        return samples.astype(np.float32)
    if RATE % rate == 0:
        up = RATE // rate
        h = _lowpass(64 * up + 1, 0.5 / up) * up
        stuffed = np.zeros(len(samples) * up, dtype=np.float64)
        stuffed[::up] = samples
        out = np.convolve(stuffed, h)[(len(h) - 1) // 2:][: len(stuffed)]
        return out.astype(np.float32)
    raise ValueError(f"sample rate {rate} Hz: only divisors of 16 kHz are supported")


def load_calls(audio_dir, chunk_samples):
    names = sorted(n for n in os.listdir(audio_dir) if n.lower().endswith(".wav"))
    if not names:
        raise SystemExit(f"no .wav files in {audio_dir}")
    calls = []
    for name in names:
        path = os.path.join(audio_dir, name)
        stem = name.split(".", 1)[0]
        script = next((p for p in (os.path.splitext(path)[0] + ".json", os.path.join(audio_dir, stem + ".json"))
                       if os.path.isfile(p)), None)
        if script is None:
            raise SystemExit(f"{path}: no {stem}.json with turns beside it")
        with open(script, encoding="utf-8") as f:
            turns_in = json.load(f).get("turns")
        if not isinstance(turns_in, list):
            raise SystemExit(f"{script}: no \"turns\" array")
        samples, rate = read_wav(path)
        mono = to_16k(samples, rate)
        tracks = [np.zeros_like(mono), np.zeros_like(mono)]  # caller, agent (callscribe's order)
        turns = []
        for i, t in enumerate(turns_in):
            start, end = float(t["start"]), float(t["end"])
            if end <= start:
                raise SystemExit(f"{script}: turn {i} ends before it starts")
            track = 1 if t.get("speaker", "caller") == "agent" else 0
            a, b = int(start * RATE), min(int(end * RATE), len(mono))
            if a < b:
                tracks[track][a:b] = mono[a:b]
            turns.append((track, start, end))
        frames = [[tr[i:i + chunk_samples].astype("<f4").tobytes() for i in range(0, len(tr), chunk_samples)]
                  for tr in tracks]
        calls.append({"name": stem, "frames": frames, "turns": turns, "audio_s": len(samples) / rate})
    return calls


# --- measurement helpers ---------------------------------------------------------------------

def percentiles(values):
    """Nearest rank, rounded to 0.1 ms: callscribe's `Percentiles::of`."""
    v = sorted(values)

    def at(p):
        if not v:
            return None
        rank = max(1, math.ceil(p / 100.0 * len(v)))
        x = v[rank - 1]
        return x if math.isinf(x) else round(x * 10.0) / 10.0

    return {"p50": at(50), "p95": at(95), "p99": at(99), "n": len(v)}


def proc_cpu_seconds(pid):
    """utime + stime + cutime + cstime of a process, in seconds (None if unreadable)."""
    if not pid:
        return None
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    # fields[0] is field 3 (state): utime..cstime are fields 14..17
    return sum(int(x) for x in fields[11:15]) / CLK_TCK


def require_loopback(url):
    from urllib.parse import urlparse
    import ipaddress
    u = urlparse(url)
    if u.scheme != "ws":
        raise SystemExit(f"{url}: only ws:// URLs (loopback) are supported")
    host = u.hostname or ""
    try:
        ok = ipaddress.ip_address(host).is_loopback
    except ValueError:
        ok = host == "localhost"
    if not ok:
        raise SystemExit(f"{url}: refusing a non-loopback host ({host}); this load client talks to 127.0.0.1 / ::1 only")


# --- one stream, one call ----------------------------------------------------------------------

class Stream:
    """One track of one call on its own WebSocket."""

    def __init__(self, uid):
        self.uid = uid
        self.ws = None
        self.ready = False
        self.refused = False
        self.failed = None
        self.closed_by_server = False  # the socket is closed (by either side)
        self.sent_end = False          # END_OF_AUDIO sent: a close after it is the normal end
        self.completed = {}      # (start, end, text) -> first arrival (perf_counter)
        self.segments_seen = {}  # (start, end, text, completed) -> first arrival
        self.interims = 0
        self.messages = 0
        self.ready_event = asyncio.Event()
        self.change = asyncio.Event()
        self.trace = []          # (arrival, message) with --trace


async def receive(stream):
    import websockets
    try:
        async for msg in stream.ws:
            now = time.perf_counter()
            if isinstance(msg, bytes):
                continue
            try:
                m = json.loads(msg)
            except ValueError:
                continue
            stream.messages += 1
            if TRACE["on"]:
                stream.trace.append((now, m))
            if m.get("message") == "SERVER_READY":
                stream.ready = True
                stream.ready_event.set()
            elif m.get("status") == "WAIT":
                stream.refused = True
                stream.ready_event.set()
            elif m.get("status") == "ERROR":
                stream.failed = "server error: %s" % m.get("message")
                stream.ready_event.set()
            elif m.get("message") == "DISCONNECT":
                stream.failed = "server disconnected the stream (max_connection_time)"
            elif "segments" in m:
                segs = m["segments"] or []
                for s in segs:
                    try:
                        key = (float(s["start"]), float(s["end"]), s.get("text", ""))
                    except (KeyError, TypeError, ValueError):
                        continue
                    done = bool(s.get("completed", False))
                    stream.segments_seen.setdefault(key + (done,), now)
                    if done:
                        stream.completed.setdefault(key, now)
                if segs and not segs[-1].get("completed", False):
                    stream.interims += 1
                stream.change.set()
    except websockets.ConnectionClosed:
        pass
    except OSError as e:
        stream.failed = stream.failed or f"connection error: {e}"
    finally:
        stream.closed_by_server = True
        stream.ready_event.set()
        stream.change.set()


def options_message(uid, a):
    """The options whisper_live's Client (client.py on_open) sends, with its defaults."""
    return {
        "uid": uid,
        "language": "en",
        "task": "transcribe",
        "model": a.model_name,
        "use_vad": not a.no_vad,
        "send_last_n_segments": 10,
        "no_speech_thresh": a.no_speech_thresh,
        "clip_audio": False,
        "same_output_threshold": a.same_output_threshold,
        "enable_translation": False,
        "target_language": "en",
        "hotwords": None,
        "enable_diarization": False,
        "max_speakers": 10,
        "known_speakers": [],
        "word_timestamps": False,
        "initial_prompt": None,
        "vad_parameters": None,
    }


def track_done(stream, turns, track):
    """Every turn of the track has an overlapping completed segment."""
    for tr, start, end in turns:
        if tr != track:
            continue
        if not any(s < end and e > start for (s, e, _t) in stream.completed):
            return False
    return True


async def one_call(call, a, run_id, slot, k):
    import websockets
    out = {"started": False, "held": False, "refused": False, "failed": None, "expected": len(call["turns"]),
           "missing": 0, "finals": 0, "interims": 0, "final_latency": [], "interim_latency": [],
           "audio_s": call["audio_s"], "name": call["name"]}
    streams = [Stream(f"LT{run_id}-{slot}-{k}-{call['name']}-{side}") for side in ("caller", "agent")]
    receivers = []
    try:
        for st in streams:
            try:
                st.ws = await websockets.connect(a.url, compression=None, ping_interval=None, max_size=None,
                                                 open_timeout=30, close_timeout=5)
            except (OSError, websockets.InvalidHandshake, asyncio.TimeoutError) as e:
                st.failed = f"cannot connect: {e}"
                continue
            receivers.append(asyncio.ensure_future(receive(st)))
            await st.ws.send(json.dumps(options_message(st.uid, a)))
        for st in streams:
            if st.ws is None:
                continue
            try:
                await asyncio.wait_for(st.ready_event.wait(), timeout=a.ready_timeout)
            except asyncio.TimeoutError:
                st.failed = st.failed or f"no SERVER_READY within {a.ready_timeout:.0f} s"
        if any(st.refused for st in streams):
            out["refused"] = True
            return out
        bad = [st.failed for st in streams if st.failed or not st.ready]
        if bad:
            out["failed"] = bad[0] or "no SERVER_READY"
            return out
        out["started"] = True

        # real-time pacing: chunk k due at t0 + k * chunk / speed (callscribe's replay pace)
        t0 = time.perf_counter()
        chunk_s = a.chunk_ms / 1000.0
        n_frames = max(len(f) for f in call["frames"])
        for i in range(n_frames):
            due = t0 + i * chunk_s / a.speed
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            for st, frames in zip(streams, call["frames"]):
                if i < len(frames) and not st.closed_by_server:
                    try:
                        await st.ws.send(frames[i])
                    except websockets.ConnectionClosed:
                        st.failed = st.failed or "the server closed the stream mid-call"
        # linger: until every turn has a final, or final_timeout after the track's last turn end
        for track, st in enumerate(streams):
            last_end = max((e for tr, _s, e in call["turns"] if tr == track), default=0.0)
            deadline = t0 + last_end / a.speed + a.final_timeout
            while True:
                st.change.clear()  # before the check, so no update slips between the two
                left = deadline - time.perf_counter()
                if st.closed_by_server or track_done(st, call["turns"], track) or left <= 0:
                    break
                try:
                    await asyncio.wait_for(st.change.wait(), timeout=left)
                except asyncio.TimeoutError:
                    break
        for st in streams:
            if st.closed_by_server:
                st.failed = st.failed or "the server closed the stream before END_OF_AUDIO"
                continue
            try:
                await st.ws.send(END_OF_AUDIO)
                st.sent_end = True
            except websockets.ConnectionClosed:
                st.failed = st.failed or "the server closed the stream before END_OF_AUDIO"
        out["held"] = all(st.failed is None for st in streams)
        if not out["held"]:
            out["failed"] = next(st.failed for st in streams if st.failed)

        wall = lambda audio_s: t0 + audio_s / a.speed  # noqa: E731
        for track, start, end in call["turns"]:
            st = streams[track]
            covering = [at for (s, e, _t), at in st.completed.items() if s < end and e > start]
            if not covering:
                out["missing"] += 1
            else:
                out["final_latency"].append(max(0.0, max(covering) - wall(end)) * 1000.0)
            first = [at for (s, e, _t, _d), at in st.segments_seen.items() if s < end and e > start]
            if first:
                out["interim_latency"].append(max(0.0, min(first) - wall(start)) * 1000.0)
        out["finals"] = sum(len(st.completed) for st in streams)
        out["interims"] = sum(st.interims for st in streams)
        if TRACE["on"]:
            out["trace"] = {"call": call["name"], "turns": call["turns"],
                            "messages": sorted(({"t": round(at - t0, 3), "track": track, "msg": m}
                                                for track, st in enumerate(streams) for at, m in st.trace),
                                               key=lambda x: x["t"])}
        return out
    finally:
        for st in streams:
            if st.ws is not None:
                try:
                    await asyncio.wait_for(st.ws.close(), timeout=5)
                except Exception:  # noqa: BLE001 - closing is best effort
                    pass
        for r in receivers:
            try:
                await asyncio.wait_for(r, timeout=5)
            except Exception:  # noqa: BLE001
                r.cancel()


async def run(calls, a, n):
    """One load run of n concurrent calls; callscribe's LoadReport keys."""
    cpu_before = proc_cpu_seconds(a.server_pid)
    client_cpu_before = time.process_time()
    began = time.perf_counter()
    deadline = began + a.duration if a.duration else None
    run_id = uuid.uuid4().hex[:8]

    async def slot_task(slot):
        delay = a.ramp * slot / (n - 1) if n > 1 else 0.0
        await asyncio.sleep(delay)
        outcomes, k = [], slot
        while True:
            call = calls[k % len(calls)]
            # one call is bounded: set-up, the audio, the linger for finals, closing, with margin
            limit = 2 * a.ready_timeout + call["audio_s"] / a.speed + a.final_timeout + 30
            try:
                outcomes.append(await asyncio.wait_for(one_call(call, a, run_id, slot, k), timeout=limit))
            except asyncio.TimeoutError:
                outcomes.append({"started": True, "held": False, "refused": False, "name": call["name"],
                                 "failed": f"did not finish within {limit:.0f} s", "expected": len(call["turns"]),
                                 "missing": len(call["turns"]), "finals": 0, "interims": 0, "final_latency": [],
                                 "interim_latency": [], "audio_s": call["audio_s"]})
            k += n
            if deadline is not None and time.perf_counter() < deadline:
                continue
            return outcomes

    results = await asyncio.gather(*(slot_task(s) for s in range(n)))
    wall_seconds = time.perf_counter() - began
    cpu_after = proc_cpu_seconds(a.server_pid)
    r = {"calls": n, "calls_started": 0, "calls_held": 0, "calls_refused": 0, "calls_failed": 0,
         "finals_expected": 0, "finals_missing": 0, "finals_received": 0, "interims_delivered": 0,
         "interims_skipped": 0, "final_latency_ms": None, "first_interim_latency_ms": None,
         "server_cpu_seconds": None, "wall_seconds": round(wall_seconds, 2), "audio_seconds": 0.0}
    fl, il, failures = [], [], []
    for o in (o for outs in results for o in outs):
        r["calls_started"] += int(o["started"])
        r["calls_held"] += int(o["held"])
        r["calls_refused"] += int(o["refused"])
        if o["failed"] and not o["refused"]:
            r["calls_failed"] += 1
            failures.append(f"{o['name']}: {o['failed']}")
        if o["started"]:
            r["finals_expected"] += o["expected"]
            r["finals_missing"] += o["missing"]
            r["audio_seconds"] += o["audio_s"]
        r["finals_received"] += o["finals"]
        r["interims_delivered"] += o["interims"]
        fl.extend(o["final_latency"])
        il.extend(o["interim_latency"])
        if "trace" in o:
            TRACE["calls"].append(o["trace"])
    r["audio_seconds"] = round(r["audio_seconds"], 3)
    r["final_latency_ms"] = percentiles(fl)
    r["first_interim_latency_ms"] = percentiles(il)
    # every missing final counted as a latency above any bound (--strict-missing)
    r["final_latency_ms_missing_as_unbounded"] = percentiles(fl + [math.inf] * r["finals_missing"])
    if cpu_before is not None and cpu_after is not None:
        r["server_cpu_seconds"] = round(cpu_after - cpu_before, 2)
    r["client_cpu_seconds"] = round(time.process_time() - client_cpu_before, 2)  # this load client's own
    for f in failures[:5]:
        print(f"whisperlive_load: a call failed: {f}", file=sys.stderr)
    return r


def held(r, bound_ms, strict_missing):
    lat = r["final_latency_ms_missing_as_unbounded"] if strict_missing else r["final_latency_ms"]
    return (r["calls_refused"] == 0 and r["calls_failed"] == 0 and r["calls_held"] == r["calls_started"]
            and lat["p95"] is not None and lat["p95"] <= bound_ms)


def fmt_ms(v):
    return "-" if v is None else ("inf" if v == math.inf else "%.0f" % v)


def print_report(r):
    fl, il = r["final_latency_ms"], r["first_interim_latency_ms"]
    cpu = r["server_cpu_seconds"]
    print("%d calls: held %d, refused %d, failed %d · finals %d/%d (%d missing) · final latency p50 %s p95 %s p99 %s ms"
          " · first interim p50 %s p95 %s p99 %s ms · interims %d delivered · server CPU %s s over %.1f s wall"
          % (r["calls"], r["calls_held"], r["calls_refused"], r["calls_failed"],
             r["finals_expected"] - r["finals_missing"], r["finals_expected"], r["finals_missing"],
             fmt_ms(fl["p50"]), fmt_ms(fl["p95"]), fmt_ms(fl["p99"]), fmt_ms(il["p50"]), fmt_ms(il["p95"]),
             fmt_ms(il["p99"]), r["interims_delivered"], "?" if cpu is None else "%.1f" % cpu, r["wall_seconds"]),
          file=sys.stderr, flush=True)


async def wait_idle(pid, limit_s=60.0):
    """Until the server uses under 5% of a core over half a second (at most limit_s)."""
    if not pid:
        await asyncio.sleep(2.0)
        return
    end = time.perf_counter() + limit_s
    while time.perf_counter() < end:
        c0 = proc_cpu_seconds(pid)
        await asyncio.sleep(0.5)
        c1 = proc_cpu_seconds(pid)
        if c0 is None or c1 is None or (c1 - c0) < 0.025:
            return


async def warm_up(calls, a):
    """One short stream first, so the single model is loaded (WhisperLive loads it when the first
    client connects) and has decoded once before anything is measured."""
    import websockets
    st = Stream(f"warmup-{uuid.uuid4().hex[:8]}")
    st.ws = await websockets.connect(a.url, compression=None, ping_interval=None, max_size=None, open_timeout=30)
    rx = asyncio.ensure_future(receive(st))
    await st.ws.send(json.dumps(options_message(st.uid, a)))
    await asyncio.wait_for(st.ready_event.wait(), timeout=max(a.ready_timeout, 120))
    if not st.ready:
        raise SystemExit(f"warm-up: the server did not answer SERVER_READY ({st.failed or 'refused'})")
    call = calls[0]
    first_turn = min(call["turns"], key=lambda t: t[1])
    frames = call["frames"][first_turn[0]]
    per_s = int(round(1000 / a.chunk_ms))
    lo = int(first_turn[1] * per_s)
    for f in frames[lo: lo + 3 * per_s]:  # about 3 s of speech, sent at once
        await st.ws.send(f)
    try:
        await asyncio.wait_for(st.change.wait(), timeout=60)
    except asyncio.TimeoutError:
        pass
    await st.ws.send(END_OF_AUDIO)
    await st.ws.close()
    rx.cancel()


def ladder(n):
    """1, 2, 3, 4, 6, 8, 12, 16, 24, 32, ...: the next N to try after n."""
    if n < 4:
        return n + 1
    p = 1 << (n.bit_length() - 1)  # n is p or 1.5 p
    return p * 3 // 2 if n == p else p * 2


async def main_async(a):
    calls = load_calls(a.audio, int(RATE * a.chunk_ms / 1000))
    print("whisperlive_load: loaded %d calls (%.0f s of audio) from %s"
          % (len(calls), sum(c["audio_s"] for c in calls), a.audio), file=sys.stderr, flush=True)
    if not a.no_warmup:
        await warm_up(calls, a)
        await wait_idle(a.server_pid)
    if not a.find_capacity:
        r = await run(calls, a, a.calls)
        print_report(r)
        return r, held(r, math.inf, False)
    runs, good, bad = [], 0, None
    n = max(1, a.calls)
    while True:
        await wait_idle(a.server_pid)
        r = await run(calls, a, n)
        ok = held(r, a.bound_ms, a.strict_missing)
        r["held"] = ok
        print_report(r)
        print("  → %s" % ("held" if ok else "did not hold"), file=sys.stderr, flush=True)
        runs.append(r)
        if ok:
            good = n
        else:
            bad = n if bad is None else min(bad, n)
        if bad is None:
            if n >= a.max_calls:
                break
            n = min(ladder(n), a.max_calls)
        else:
            if bad - good <= 1:
                break
            n = good + (bad - good) // 2
    print("capacity: %d concurrent calls held with p95 final latency ≤ %g ms" % (good, a.bound_ms),
          file=sys.stderr, flush=True)
    return {"capacity": good, "bound_ms": a.bound_ms, "runs": runs}, good > 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="ws://127.0.0.1:9090", help="WhisperLive server (loopback only)")
    ap.add_argument("--audio", required=True, help="directory of mono calls with NAME.json turns beside them")
    ap.add_argument("--calls", type=int, default=1, help="concurrent calls (the starting N with --find-capacity)")
    ap.add_argument("--ramp", type=float, default=0.0, help="start the calls evenly over this many seconds")
    ap.add_argument("--speed", type=float, default=1.0, help="1 = real time")
    ap.add_argument("--duration", type=float, default=None,
                    help="keep N calls going this many seconds (each slot starts its next call when one ends)")
    ap.add_argument("--find-capacity", action="store_true")
    ap.add_argument("--bound-ms", type=float, default=1500.0)
    ap.add_argument("--max-calls", type=int, default=64)
    ap.add_argument("--strict-missing", action="store_true",
                    help="count every missing final as a latency above the bound when judging a run")
    ap.add_argument("--json", help="write the report (every run's with --find-capacity) here")
    ap.add_argument("--server-pid", type=int, default=None, help="the server's PID, for its CPU time")
    ap.add_argument("--chunk-ms", type=float, default=20.0,
                    help="audio per binary frame (20 = telephony frames, as callscribe's loadtest; "
                         "whisper_live's own file client sends 4096 samples = 256 ms)")
    ap.add_argument("--final-timeout", type=float, default=10.0,
                    help="after the audio, wait at most this long past a track's last turn end for its finals")
    ap.add_argument("--ready-timeout", type=float, default=30.0, help="seconds to wait for SERVER_READY")
    ap.add_argument("--model-name", default="tiny.en",
                    help="the options' model field (the server's custom model path overrides it)")
    ap.add_argument("--same-output-threshold", type=int, default=10, help="whisper_live's client default: 10")
    ap.add_argument("--no-speech-thresh", type=float, default=0.45, help="whisper_live's client default: 0.45")
    ap.add_argument("--no-vad", action="store_true", help="use_vad false (the client default is true)")
    ap.add_argument("--no-warmup", action="store_true")
    ap.add_argument("--trace", help="write every message each call received (seconds after its first frame) here")
    a = ap.parse_args(argv)
    TRACE["on"] = bool(a.trace)
    require_loopback(a.url)
    if a.calls < 1 or a.max_calls < 1:
        ap.error("--calls and --max-calls must be at least 1")
    if not (0 < a.speed <= 100):
        ap.error("--speed must be above 0 and at most 100")
    if a.chunk_ms <= 0:
        ap.error("--chunk-ms must be positive")
    result, ok = asyncio.run(main_async(a))
    result["peer"] = peer_info(a)
    if a.trace:
        with open(a.trace, "w", encoding="utf-8") as f:
            json.dump(TRACE["calls"], f, indent=1)
            f.write("\n")
    if a.json:
        tmp = a.json + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(finite(result), f, indent=1)
            f.write("\n")
        os.replace(tmp, a.json)
    return 0 if ok else 1


def finite(x):
    """JSON has no infinity: an unbounded latency (a missing final) is written as null."""
    if isinstance(x, float) and math.isinf(x):
        return None
    if isinstance(x, dict):
        return {k: finite(v) for k, v in x.items()}
    if isinstance(x, list):
        return [finite(v) for v in x]
    return x


def peer_info(a):
    from importlib.metadata import PackageNotFoundError, version

    def v(name):
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    return {"whisper_live": v("whisper-live"), "faster_whisper": v("faster-whisper"), "ctranslate2": v("ctranslate2"),
            "chunk_ms": a.chunk_ms, "same_output_threshold": a.same_output_threshold,
            "no_speech_thresh": a.no_speech_thresh, "use_vad": not a.no_vad, "final_timeout_s": a.final_timeout,
            "strict_missing": a.strict_missing}


if __name__ == "__main__":
    sys.exit(main())

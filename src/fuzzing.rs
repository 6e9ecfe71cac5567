//! The shared body of the fuzz targets (`fuzz/fuzz_targets/*.rs`, run by `scripts/fuzz.sh`)
//! and of `tests/fuzz_regressions.rs`, which replays the committed inputs of
//! `fuzz/regressions/<target>/` so the ordinary test suite keeps every crash fixed. One
//! function per target: it takes arbitrary bytes, drives the code the way its real caller
//! does, and panics (`assert!`) when a property fails — beyond "no panic", the properties
//! below. See `docs/FUZZING.md`.
//!
//! Allocation bounds are measured with [`CountingAllocator`] when the binary installs it as
//! its global allocator (the fuzz targets and the regression test do); elsewhere they are
//! skipped.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::HashSet;
use std::sync::Arc;

use crate::audio::{self, Codec, MAX_SAMPLES_PER_BYTE};
use crate::cli::ServeConfig;
use crate::ingest::protocols::{MAX_PAYLOAD, SPEAKER_LABELS};
use crate::ingest::{
    CallStart, IngestEvent, JitterBuffer, MediaFrame, Protocol, Released, adapter_for, close,
};
use crate::redact::{self, Mode, Policy, RawSegment, RedactedSegment, Redactor, Word};
use crate::transcript::EntityKind;

/// A fuzz target's body: arbitrary bytes in, a panic when a property fails.
pub type Target = fn(&[u8]);

/// The fuzz targets, by the name of their folder under `fuzz/regressions/`.
pub const TARGETS: &[(&str, Target)] = &[
    ("ingest", ingest),
    ("reorder", reorder),
    ("codec", codec),
    ("decode_file", decode_file),
    ("redact", redact),
    ("config", config),
];

/// Arbitrary bytes read as small numbers; reads past the end give zeros.
struct Tape<'a>(&'a [u8]);

impl Tape<'_> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | (u64::from(self.u32()) << 32)
    }
}

// ---------------------------------------------------------------------------------------------
// Allocation counting

/// Zero-filled allocations at least this large are reservations, not memory: the allocator
/// maps fresh zero pages for them and the kernel backs a page only when it is written.
/// symphonia 0.5 (and 0.6.1, "TODO: Apply a limit") allocates metadata buffers this way from
/// a length read from the file before reading them (pdeljanov/Symphonia#508): a 355-byte FLAC
/// reserves 4 GiB, of which only what the file holds is ever written. They are left out of
/// the heap bound (and tracked in `RESERVED_SLOTS` slots so their release is left out too);
/// the memory they really take is bounded by the fuzzer's RSS limit.
const RESERVATION_BYTES: usize = 1 << 20;

/// Reservations tracked at once per thread (more are counted as ordinary heap).
const RESERVED_SLOTS: usize = 16;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
    static RESERVED: Cell<[usize; RESERVED_SLOTS]> = const { Cell::new([0; RESERVED_SLOTS]) };
}

/// A global allocator over the system's that counts the bytes each thread holds and the peak
/// since the last `AllocWatch::start` (per thread, so parallel tests do not disturb each
/// other), leaving large zero-filled reservations out (see `RESERVATION_BYTES`).
pub struct CountingAllocator;

fn count(add: usize, sub: usize) {
    // `try_with`: the thread-locals may be gone while a thread is being torn down
    let _ = LIVE.try_with(|live| {
        let now = live.get().saturating_add(add).saturating_sub(sub);
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

/// Records `ptr` as a reservation; false when every slot is taken.
fn reserve(ptr: *mut u8) -> bool {
    RESERVED
        .try_with(|r| {
            let mut slots = r.get();
            let free = slots.iter().position(|&p| p == 0);
            if let Some(i) = free {
                slots[i] = ptr as usize;
                r.set(slots);
            }
            free.is_some()
        })
        .unwrap_or(false)
}

/// Forgets `ptr` if it was a reservation; true when it was.
fn unreserve(ptr: *mut u8) -> bool {
    RESERVED
        .try_with(|r| {
            let mut slots = r.get();
            let found = slots.iter().position(|&p| p == ptr as usize);
            if let Some(i) = found {
                slots[i] = 0;
                r.set(slots);
            }
            found.is_some()
        })
        .unwrap_or(false)
}

// SAFETY: every call is forwarded unchanged to `System`; only counters are updated beside it.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is `System::alloc`'s
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            count(layout.size(), 0);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`
        let p = unsafe { System.alloc_zeroed(layout) };
        let reserved = !p.is_null() && layout.size() >= RESERVATION_BYTES && reserve(p);
        if !p.is_null() && !reserved {
            count(layout.size(), 0);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let reserved = unreserve(ptr);
        // SAFETY: as for `alloc`
        unsafe { System.dealloc(ptr, layout) };
        if !reserved {
            count(0, layout.size());
        }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let reserved = unreserve(ptr);
        // SAFETY: as for `alloc`
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if p.is_null() {
            if reserved {
                reserve(ptr);
            }
        } else {
            // a grown or moved reservation is ordinary heap from now on
            count(new_size, if reserved { 0 } else { layout.size() });
        }
        p
    }
}

/// Measures the peak heap of this thread above where it stood at `start`.
struct AllocWatch {
    base: usize,
}

impl AllocWatch {
    fn start() -> AllocWatch {
        let base = LIVE.with(Cell::get);
        PEAK.with(|p| p.set(base));
        AllocWatch { base }
    }

    /// The peak in bytes, or `None` when [`CountingAllocator`] is not the global allocator.
    fn peak(&self) -> Option<usize> {
        let peak = PEAK.with(Cell::get).saturating_sub(self.base);
        let before = LIVE.with(Cell::get);
        let probe = std::hint::black_box(Box::new(0u64));
        let counted = LIVE.with(Cell::get) != before;
        drop(probe);
        counted.then_some(peak)
    }
}

// ---------------------------------------------------------------------------------------------
// ingest

/// Separates the messages of one input; a message starting with `B` is a binary frame (the
/// rest of it), any other a text frame.
pub const MESSAGE_SEPARATOR: u8 = 0;

/// Ingest adapters. The first byte picks the protocol (Twilio, Telnyx, Exotel, Vonage,
/// native); the rest is a sequence of WebSocket messages ([`MESSAGE_SEPARATOR`]), fed as the
/// connection feeds them (each message, then `next_pending` until empty; the first error
/// closes). Properties: an error carries a close code of the protocol's set and a reason that
/// fits a close frame once cut by [`close::fit_reason`]; a start is announced once, with a
/// supported format, one or two uniquely named tracks with speaker labels from
/// [`SPEAKER_LABELS`] and a call id of at most 128 characters without control characters;
/// media comes only between start and stop, for an announced track, as a non-empty whole
/// number of samples of at most [`MAX_PAYLOAD`] bytes; the payloads of one message never
/// exceed it (a binary frame's are exactly its bytes, split by channel; base64 decodes to at
/// most 3/4 of the text).
pub fn ingest(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let protocols = [
        Protocol::Twilio,
        Protocol::Telnyx,
        Protocol::Exotel,
        Protocol::Vonage,
        Protocol::Native,
    ];
    let protocol = protocols[pick as usize % protocols.len()];
    let mut adapter = adapter_for(protocol);
    let mut start: Option<CallStart> = None;
    let mut stopped = false;
    for msg in rest.split(|&b| b == MESSAGE_SEPARATOR) {
        let (first, binary, msg_len) = match msg.strip_prefix(b"B") {
            Some(bin) => (adapter.on_binary(bin), true, bin.len()),
            None => {
                let text = String::from_utf8_lossy(msg);
                (adapter.on_text(&text), false, text.len())
            }
        };
        let mut next = Some(first);
        let mut media_bytes = 0usize;
        let mut media_frames = 0usize;
        while let Some(result) = next.take() {
            let event = match result {
                Ok(event) => event,
                Err(e) => {
                    assert!(
                        [
                            close::UNSUPPORTED,
                            close::INVALID,
                            close::POLICY,
                            close::TOO_BIG
                        ]
                        .contains(&e.code),
                        "close code {} for {:?}",
                        e.code,
                        e.reason
                    );
                    assert!(!e.reason.is_empty(), "an error without a reason");
                    let sent = close::fit_reason(&e.reason);
                    assert!(sent.len() <= close::MAX_REASON_BYTES, "{sent:?}");
                    return;
                }
            };
            match event {
                IngestEvent::Start(s) => {
                    assert!(start.is_none() && !stopped, "a second start: {s:?}");
                    check_start(&s);
                    start = Some(s);
                }
                IngestEvent::Media(frame) => {
                    let s = start.as_ref().expect("media before a start");
                    assert!(!stopped, "media after stop");
                    check_media(s, &frame);
                    media_bytes += frame.payload.len();
                    media_frames += 1;
                }
                IngestEvent::Stop => {
                    assert!(!stopped, "a second stop");
                    stopped = true;
                }
                IngestEvent::Dtmf | IngestEvent::Mark | IngestEvent::Ignored => {}
            }
            next = adapter.next_pending().map(Ok);
        }
        if media_frames > 0 {
            let channels = start.as_ref().map_or(1, |s| s.format.channels as usize);
            assert!(
                media_frames <= channels,
                "{media_frames} frames from one message"
            );
            if binary {
                assert_eq!(media_bytes, msg_len, "a binary frame's bytes, split");
            } else {
                assert!(
                    media_bytes <= msg_len / 4 * 3,
                    "{media_bytes} bytes from base64"
                );
            }
        }
    }
}

fn check_start(s: &CallStart) {
    let f = s.format;
    assert!((8000..=48000).contains(&f.sample_rate), "{f:?}");
    assert!((1..=2).contains(&f.channels), "{f:?}");
    assert!(
        !s.tracks.is_empty() && s.tracks.len() <= 2,
        "{:?}",
        s.tracks
    );
    let names: HashSet<&str> = s.tracks.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names.len(),
        s.tracks.len(),
        "track names twice: {:?}",
        s.tracks
    );
    for t in &s.tracks {
        assert!(
            SPEAKER_LABELS.contains(&t.speaker.as_str()),
            "speaker {:?}",
            t.speaker
        );
    }
    assert!(
        s.external_id.chars().count() <= 128 && !s.external_id.chars().any(char::is_control),
        "call id {:?}",
        s.external_id
    );
}

fn check_media(s: &CallStart, frame: &MediaFrame) {
    assert!(frame.track < s.tracks.len(), "track {}", frame.track);
    let len = frame.payload.len();
    assert!(len > 0 && len <= MAX_PAYLOAD, "payload of {len} bytes");
    assert_eq!(
        len % s.format.codec.bytes_per_sample(),
        0,
        "a payload of {len} bytes is not whole samples of {:?}",
        s.format.codec
    );
}

// ---------------------------------------------------------------------------------------------
// reorder

/// The reorder buffer ([`JitterBuffer`]). The first bytes pick the rate, sample size, window
/// and gap bound; then each frame is placed by timestamp, chunk counter or arrival, with a
/// length and the caller's limit from the input, and the stream is flushed at the end.
/// Properties: every released sample is released once, at the stream position its frame
/// claimed (so nothing comes out twice or out of order); what is released (audio, silence,
/// skips) adds up to [`JitterBuffer::position`]; after each push the buffer holds at most its
/// window's worth of bytes; after the flush it holds nothing.
pub fn reorder(data: &[u8]) {
    let mut t = Tape(data);
    let rate = [8000u32, 16000, 44100, 48000][t.u8() as usize % 4];
    // two-byte samples carry a tag each (the running sample count), so they can be traced
    let bps = 1 + usize::from(t.u8() % 2);
    let window_ms = u32::from(t.u16() % 3000);
    let max_gap_ms = u32::from(t.u16());
    let mut jb = JitterBuffer::new(rate, bps, window_ms, max_gap_ms);
    let window = u64::from(rate) * u64::from(window_ms) / 1000;
    // tag → stream position its frame claimed (None: placed by arrival)
    let mut claimed: Vec<Option<u64>> = Vec::new();
    let mut released: HashSet<u16> = HashSet::new();
    let mut cursor = 0u64;
    let mut out = Vec::new();
    let mut account = |out: &mut Vec<Released>, cursor: &mut u64, claimed: &[Option<u64>]| {
        for r in out.drain(..) {
            match r {
                Released::Audio(p) => {
                    assert!(
                        !p.is_empty() && p.len() % bps == 0,
                        "audio of {} bytes",
                        p.len()
                    );
                    if bps == 2 {
                        for (k, s) in p.chunks_exact(2).enumerate() {
                            let tag = u16::from_le_bytes([s[0], s[1]]);
                            assert!(released.insert(tag), "sample {tag} released twice");
                            if let Some(Some(pos)) = claimed.get(tag as usize) {
                                assert_eq!(
                                    *pos,
                                    *cursor + k as u64,
                                    "sample {tag} released out of place"
                                );
                            }
                        }
                    }
                    *cursor += (p.len() / bps) as u64;
                }
                Released::Silence(n) | Released::Skip(n) => {
                    assert!(n > 0, "an empty gap");
                    *cursor += n as u64;
                }
            }
        }
    };
    while !t.is_empty() {
        let how = t.u8();
        let samples = usize::from(t.u16() % 2048);
        let (timestamp_ms, chunk) = match how % 4 {
            0 => (Some(u64::from(t.u16())), None),
            1 => (Some(t.u64()), None),
            2 => (None, Some(u64::from(t.u16()))),
            _ => (None, None),
        };
        let limit = match t.u8() % 3 {
            0 => u64::MAX,
            1 => u64::from(t.u32()),
            _ => u64::from(rate) * 3600,
        };
        let first_tag = claimed.len();
        let mut payload = Vec::with_capacity(samples * bps);
        for k in 0..samples {
            if bps == 2 {
                payload.extend_from_slice(&((first_tag + k) as u16).to_le_bytes());
            } else {
                payload.push(k as u8);
            }
        }
        if bps == 2 && first_tag + samples > usize::from(u16::MAX) {
            break; // tags would repeat
        }
        let pos = match (timestamp_ms, chunk) {
            (Some(ts), _) => Some(ts.saturating_mul(u64::from(rate)) / 1000),
            (None, Some(c)) => Some(c.saturating_sub(1).saturating_mul(samples as u64)),
            (None, None) => None,
        };
        claimed.extend((0..samples).map(|k| pos.map(|p| p + k as u64)));
        let frame = MediaFrame {
            track: 0,
            timestamp_ms,
            chunk,
            payload,
        };
        let _ = jb.push(frame, limit, &mut out);
        account(&mut out, &mut cursor, &claimed);
        assert_eq!(cursor, jb.position(), "released samples vs position");
        assert!(
            jb.held_bytes() as u64 <= window * bps as u64,
            "holds {} bytes, window {window} samples",
            jb.held_bytes()
        );
    }
    jb.flush(&mut out);
    account(&mut out, &mut cursor, &claimed);
    assert_eq!(
        cursor,
        jb.position(),
        "released samples vs position after flush"
    );
    assert_eq!((jb.held(), jb.held_bytes()), (0, 0), "held after flush");
}

// ---------------------------------------------------------------------------------------------
// codec

/// G.711 µ-law and A-law and L16 (both byte orders) on the same bytes. Properties: µ-law and
/// A-law give exactly one sample per byte, L16 one per two bytes (a trailing odd byte is
/// dropped), every sample in [-1, 1), L16 exact; decoding allocates only the output: at most
/// 4 bytes per input byte for G.711 and 2 for L16 (16 bytes for outputs under 4 samples, the
/// smallest vector `Vec` allocates).
pub fn codec(data: &[u8]) {
    for codec in [Codec::Mulaw, Codec::Alaw, Codec::L16Le, Codec::L16Be] {
        let watch = AllocWatch::start();
        let mut out = Vec::new();
        codec.decode(data, &mut out);
        let peak = watch.peak();
        let expected = data.len() / codec.bytes_per_sample();
        assert_eq!(
            out.len(),
            expected,
            "{codec:?}: samples of {} bytes",
            data.len()
        );
        assert!(
            out.iter().all(|s| (-1.0..1.0).contains(s)),
            "{codec:?}: a sample outside [-1, 1)"
        );
        if let Some(peak) = peak {
            let bound = (expected * 4).max(16);
            assert!(
                peak <= bound,
                "{codec:?}: {peak} bytes for {} bytes in",
                data.len()
            );
        }
        if matches!(codec, Codec::L16Le | Codec::L16Be) {
            for (s, p) in out.iter().zip(data.chunks_exact(2)) {
                let v = match codec {
                    Codec::L16Le => i16::from_le_bytes([p[0], p[1]]),
                    _ => i16::from_be_bytes([p[0], p[1]]),
                };
                assert_eq!(*s * 32768.0, f32::from(v), "{codec:?}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// decode_file

/// Heap that decoding any file may take whatever its size: symphonia's per-stream buffers
/// (a FLAC block of 65,535 frames × 8 channels as `i32` and as `f32` is 4 MiB) and tables.
pub const DECODE_FIXED_HEAP: usize = 32 << 20;

/// Heap per byte of file on top of [`DECODE_FIXED_HEAP`]: the samples (at most
/// [`MAX_SAMPLES_PER_BYTE`] `f32`s, 4 KiB, held in vectors that grow by doubling: 8 KiB) and
/// the file itself.
pub const DECODE_HEAP_PER_BYTE: usize = 2 * 4 * MAX_SAMPLES_PER_BYTE as usize + 2;

/// Files through symphonia ([`audio::decode_bytes`]). The first byte picks the file-name
/// extension given as a hint (none, wav, flac, mp3, ogg, m4a, mkv, caf, aac); the rest is the
/// file. Properties: decoding never panics (a panic inside symphonia is the file's error); a
/// decoded file has a supported rate, at least one channel and at most
/// [`MAX_SAMPLES_PER_BYTE`] samples (all channels) per byte of file; decoding takes at most
/// [`DECODE_FIXED_HEAP`] + [`DECODE_HEAP_PER_BYTE`] × file bytes of heap at its peak, large
/// zero-filled reservations aside (`RESERVATION_BYTES`: an open finding in symphonia).
pub fn decode_file(data: &[u8]) {
    let Some((&pick, file)) = data.split_first() else {
        return;
    };
    let hints = [
        None,
        Some("wav"),
        Some("flac"),
        Some("mp3"),
        Some("ogg"),
        Some("m4a"),
        Some("mkv"),
        Some("caf"),
        Some("aac"),
    ];
    let hint = hints[pick as usize % hints.len()];
    // `decode_bytes` turns a panic inside symphonia into an error; libFuzzer's panic hook
    // would abort first, so a silent one stands in while it runs
    let fuzzer_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let watch = AllocWatch::start();
    let decoded = audio::decode_bytes(file.to_vec(), hint);
    let peak = watch.peak();
    std::panic::set_hook(fuzzer_hook);
    if let Some(peak) = peak {
        let bound = DECODE_FIXED_HEAP + DECODE_HEAP_PER_BYTE * file.len();
        assert!(
            peak <= bound,
            "decoding {} bytes took {peak} bytes of heap (bound {bound})",
            file.len()
        );
    }
    if let Ok(d) = decoded {
        assert!(
            (1000..=384_000).contains(&d.sample_rate),
            "{} Hz",
            d.sample_rate
        );
        assert!(!d.channels.is_empty(), "no channels");
        let samples: usize = d.channels.iter().map(Vec::len).sum();
        assert!(
            samples as u64 <= MAX_SAMPLES_PER_BYTE * file.len() as u64,
            "{samples} samples from {} bytes",
            file.len()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// redact

/// Word timings the redact target draws from: ordinary, and every kind of bad float.
const TIMES: [f32; 12] = [
    0.0,
    0.5,
    1.0,
    2.5,
    -1.0,
    f32::NAN,
    f32::INFINITY,
    f32::NEG_INFINITY,
    1e30,
    -0.0,
    f32::MIN_POSITIVE,
    7200.0,
];

/// One redactor for every run (building one compiles the patterns: too slow per input).
fn redactors() -> &'static [Arc<Redactor>; 3] {
    static REDACTORS: std::sync::OnceLock<[Arc<Redactor>; 3]> = std::sync::OnceLock::new();
    REDACTORS.get_or_init(|| {
        [Mode::Placeholder, Mode::Mask, Mode::Pseudonym].map(|mode| {
            let policy = Policy {
                mode,
                ..Policy::default()
            };
            Arc::new(Redactor::new(policy).expect("the default policy with any mode is valid"))
        })
    })
}

/// What one line of the redact target asks for.
enum Op {
    Final(usize, RawSegment),
    Interim(usize, RawSegment),
    Flush(usize),
}

/// The redactor on a two-track call. The first byte picks the mode (placeholder, mask,
/// pseudonym); the rest is lines (`\n`), each an operation byte (track, and final, interim or
/// flush), a timing byte, and the segment's text (any UTF-8); the words are the text's
/// whitespace-separated pieces (or, by the timing byte, pieces that do not spell it) with
/// timings from a table of ordinary and non-finite values. Every track is flushed at the end.
/// Properties: every final comes out once, in order per track; spans are sorted, within the
/// text, and cover exactly a placeholder, mask or pseudonym; no placeholder other than
/// `[NAME]` has a digit beside it (after Unicode folding, past invisible characters), so no
/// identifier was cut out of a longer digit run leaving part of it in clear; every word's text
/// is in the segment's redacted text (words never carry what the text lost); and a second
/// pass (the same operations on the first pass's output, as a reprocess does) holds all of
/// this too and only adds redactions: what it keeps of the first output is kept verbatim and
/// in order, so no label is lost and no digit run of a redacted identifier comes back.
pub fn redact(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let redactor = &redactors()[pick as usize % 3];
    let ops: Vec<Op> = rest.split(|&b| b == b'\n').map(parse_op).collect();
    let first = run_redaction(redactor, &ops, true);
    for (track, segs) in first.iter().enumerate() {
        for seg in segs {
            check_redacted(seg, redactor.policy().mode);
        }
        let finals = ops
            .iter()
            .filter(|op| matches!(op, Op::Final(t, _) if *t == track))
            .count();
        assert_eq!(segs.len(), finals, "track {track}: finals in vs out");
    }
    // The second pass: the same operations, each final replaced by its first-pass output.
    let mut outputs = first.iter().map(|segs| segs.iter()).collect::<Vec<_>>();
    let again: Vec<Op> = ops
        .iter()
        .filter_map(|op| match op {
            Op::Final(t, _) => {
                let out = outputs[*t].next().expect("counted above");
                Some(Op::Final(
                    *t,
                    RawSegment {
                        start: out.start,
                        end: out.end,
                        text: out.text.clone(),
                        words: out.words.clone(),
                    },
                ))
            }
            Op::Interim(..) => None,
            Op::Flush(t) => Some(Op::Flush(*t)),
        })
        .collect();
    let second = run_redaction(redactor, &again, false);
    for (a, b) in first.iter().flatten().zip(second.iter().flatten()) {
        check_redacted(b, redactor.policy().mode);
        check_only_adds(a, b);
    }
}

/// `second` (the redaction of `first`'s text) is `first`'s text with some ranges replaced by
/// its own spans: everything it keeps is kept verbatim and in order, so no earlier label is
/// lost and nothing comes back. (Strict idempotence is not asserted: see docs/FUZZING.md.)
fn check_only_adds(first: &RedactedSegment, second: &RedactedSegment) {
    let chars: Vec<char> = second.text.chars().collect();
    let mut kept = Vec::new();
    let mut from = 0;
    for span in &second.spans {
        kept.push(chars[from..span.start].iter().collect::<String>());
        from = span.end;
    }
    kept.push(chars[from..].iter().collect::<String>());
    let mut rest = first.text.as_str();
    for piece in kept.iter().filter(|p| !p.is_empty()) {
        let at = rest
            .find(piece.as_str())
            .unwrap_or_else(|| panic!("a second pass of {:?} gave {:?}", first.text, second.text));
        rest = &rest[at + piece.len()..];
    }
}

fn parse_op(line: &[u8]) -> Op {
    let mut t = Tape(line);
    let (op, timing) = (t.u8(), t.u8());
    let track = usize::from(op & 1);
    if op % 8 == 7 {
        return Op::Flush(track);
    }
    let text = String::from_utf8_lossy(t.0).into_owned();
    let time = |k: usize| TIMES[(usize::from(timing) + k * 7) % TIMES.len()];
    let pieces: Vec<&str> = match timing % 4 {
        0 => Vec::new(),
        // pieces that need not spell the text: every other one, or split at digits
        1 => text.split_whitespace().step_by(2).collect(),
        2 => text.split(|c: char| c.is_ascii_digit()).collect(),
        _ => text.split_whitespace().collect(),
    };
    let words = pieces
        .iter()
        .enumerate()
        .map(|(k, w)| Word {
            word: format!(" {w}"),
            start: time(2 * k),
            end: time(2 * k + 1),
            p: time(k + 3),
        })
        .collect();
    let seg = RawSegment {
        start: time(0),
        end: time(1),
        text,
        words,
    };
    if op % 8 == 6 {
        Op::Interim(track, seg)
    } else {
        Op::Final(track, seg)
    }
}

/// Runs `ops` on a fresh call (track 0 the caller, 1 the agent); returns each track's finals.
fn run_redaction(
    redactor: &Arc<Redactor>,
    ops: &[Op],
    check_interims: bool,
) -> [Vec<RedactedSegment>; 2] {
    let call = redactor.call([7; 32]);
    let mut tracks = [call.track(false), call.track(true)];
    let mut out: [Vec<RedactedSegment>; 2] = [Vec::new(), Vec::new()];
    for op in ops {
        match op {
            Op::Final(t, seg) => out[*t].extend(tracks[*t].push_final(seg.clone())),
            Op::Interim(t, seg) => {
                let interim = tracks[*t].interim(seg);
                if check_interims {
                    check_redacted(&interim, redactor.policy().mode);
                }
            }
            Op::Flush(t) => out[*t].extend(tracks[*t].flush()),
        }
    }
    for (t, track) in tracks.iter_mut().enumerate() {
        out[t].extend(track.flush());
    }
    out
}

fn check_redacted(seg: &RedactedSegment, mode: Mode) {
    let chars: Vec<char> = seg.text.chars().collect();
    let mut prev_end = 0;
    for span in &seg.spans {
        assert!(
            prev_end <= span.start && span.start < span.end && span.end <= chars.len(),
            "span {span:?} in {} characters after {prev_end}",
            chars.len()
        );
        prev_end = span.end;
        let label: String = chars[span.start..span.end].iter().collect();
        let expected = match mode {
            Mode::Placeholder => span.kind.placeholder(),
            Mode::Mask => "####".to_string(),
            Mode::Pseudonym => format!("[{}_", span.kind.label()),
        };
        assert!(label.starts_with(&expected), "span covers {label:?}");
        if span.kind == EntityKind::Name {
            continue;
        }
        assert!(
            !digit_beside(chars[..span.start].iter().rev())
                && !digit_beside(chars[span.end..].iter()),
            "a digit beside {label:?} in {:?}",
            seg.text
        );
    }
    for w in &seg.words {
        assert!(
            seg.text.contains(w.word.trim()),
            "word {:?} is not in the redacted text {:?}",
            w.word,
            seg.text
        );
    }
}

/// Whether the first visible character of `side` (walking away from a span) is a digit.
fn digit_beside<'a>(mut side: impl Iterator<Item = &'a char>) -> bool {
    side.find_map(|&c| redact::fold_char(c))
        .is_some_and(|c| c.is_ascii_digit())
}

// ---------------------------------------------------------------------------------------------
// config

/// The serve config (TOML, [`ServeConfig::load_str`]) when the first byte is even, the
/// redaction policy (JSON, [`Policy::from_json`]) when odd; the rest is the text. Properties:
/// an accepted policy validates and survives a JSON round trip unchanged; an accepted config
/// survives a JSON round trip unchanged (so it holds no value, such as a NaN, that is not
/// equal to itself) and is accepted again from the same text.
pub fn config(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    if pick % 2 == 0 {
        if let Ok(cfg) = ServeConfig::load_str(&text) {
            let json = serde_json::to_string(&cfg).expect("a config serialises");
            let back: ServeConfig = serde_json::from_str(&json).expect("its JSON parses");
            assert_eq!(back, cfg, "config round trip");
            assert_eq!(
                ServeConfig::load_str(&text).ok(),
                Some(cfg),
                "not deterministic"
            );
        }
    } else if let Ok(policy) = Policy::from_json(&text) {
        policy.validate().expect("an accepted policy validates");
        let json = serde_json::to_string(&policy).expect("a policy serialises");
        let back = Policy::from_json(&json).expect("its JSON parses");
        assert_eq!(back, policy, "policy round trip");
    }
}

/// Replays every file of `dir` (a target's folder of `fuzz/regressions/`) through `target`,
/// naming the file that fails; returns how many files ran. For `tests/fuzz_regressions.rs`.
pub fn replay_dir(dir: &std::path::Path, target: Target) -> std::io::Result<usize> {
    let mut files: Vec<_> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    files.sort();
    for path in &files {
        let bytes = std::fs::read(path)?;
        if let Err(e) = std::panic::catch_unwind(|| target(&bytes)) {
            let msg = e
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| e.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)");
            panic!("{} fails: {msg}", path.display());
        }
    }
    Ok(files.len())
}

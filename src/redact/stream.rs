//! Per-call and per-track state: the window of recent text of one speaker (so identifiers split
//! across segments are still found), finals held back while their tail could begin an
//! identifier, names learned in the call, the other party's last question, and pseudonyms.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::cues::Cue;
use super::detectors::Found;
use super::engine::{self, Analysis, PieceIn};
use super::names::{NameClass, NameMemory};
use super::numbers;
use super::policy::Mode;
use super::render;
use super::text::{Folded, TokKind};
use super::{RawSegment, RedactedSegment, Redactor};
use crate::transcript::EntityKind;

/// Segments of one track kept as left context after they were emitted.
const HISTORY: usize = 2;
/// At most this many finals are held back waiting for the rest of an identifier.
const MAX_HELD: usize = 4;

/// State shared by the tracks of one call.
pub(crate) struct CallShared {
    key: [u8; 32],
    state: Mutex<CallState>,
}

#[derive(Default)]
struct CallState {
    memory: NameMemory,
    /// HMAC(call key, kind, value) → pseudonym number; the values themselves are not kept.
    pseudonyms: HashMap<(EntityKind, [u8; 32]), u32>,
    counters: HashMap<EntityKind, u32>,
    seq: u64,
    next_track: usize,
    /// Per track: sequence number and cues of its latest final.
    last_cues: Vec<(u64, Vec<Cue>)>,
}

impl CallShared {
    pub fn new(key: [u8; 32]) -> CallShared {
        CallShared {
            key,
            state: Mutex::new(CallState {
                memory: NameMemory::with_key(key),
                ..CallState::default()
            }),
        }
    }
    fn lock(&self) -> MutexGuard<'_, CallState> {
        // a panic elsewhere must not stop redaction: the state stays usable
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl std::fmt::Debug for CallShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CallShared { .. }")
    }
}

/// One call: both tracks share names learned, the other party's last question and pseudonym
/// numbering. Cheap to clone.
#[derive(Clone, Debug)]
pub struct CallRedactor {
    redactor: Arc<Redactor>,
    shared: Arc<CallShared>,
}

impl CallRedactor {
    pub(crate) fn new(redactor: Arc<Redactor>, call_key: [u8; 32]) -> CallRedactor {
        CallRedactor {
            redactor,
            shared: Arc::new(CallShared::new(call_key)),
        }
    }

    /// A stream for one speaker track of this call.
    pub fn track(&self, speaker_is_agent: bool) -> TrackRedactor {
        let id = {
            let mut st = self.shared.lock();
            let id = st.next_track;
            st.next_track += 1;
            st.last_cues.push((0, Vec::new()));
            id
        };
        TrackRedactor {
            redactor: self.redactor.clone(),
            call: self.shared.clone(),
            track: id,
            agent: speaker_is_agent,
            history: VecDeque::with_capacity(HISTORY),
            held: Vec::new(),
            last_seq: 0,
            carry: Vec::new(),
        }
    }
}

struct Piece {
    folded: Folded,
    inherited: Vec<Cue>,
}

struct Held {
    seg: RawSegment,
    piece: Piece,
}

/// The redactor of one speaker track. Finals go in, redacted finals come out in order; a final
/// whose tail could be the start of an identifier is held until the next final (or `flush`).
pub struct TrackRedactor {
    redactor: Arc<Redactor>,
    call: Arc<CallShared>,
    track: usize,
    agent: bool,
    history: VecDeque<Piece>,
    held: Vec<Held>,
    last_seq: u64,
    /// The other party's cues, carried to the next segment of an answer split in two.
    carry: Vec<Cue>,
}

impl std::fmt::Debug for TrackRedactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrackRedactor")
            .field("track", &self.track)
            .field("agent", &self.agent)
            .field("held", &self.held.len())
            .finish()
    }
}

impl TrackRedactor {
    /// Hands over a final segment; returns the finals now safe to emit, in order.
    pub fn push_final(&mut self, seg: RawSegment) -> Vec<RedactedSegment> {
        let mut inherited = self.inherited_cues();
        if inherited.is_empty() {
            // the other party is silent: this segment continues the answer to their question
            inherited = self.carry.clone();
            self.carry.clear();
            if inherited.is_empty() {
                // a call with one track (a mono recording, a mixed stream): both parties speak
                // on it, so the question before this segment may be the other party's, and
                // what it asked for frames this segment as it would on a second track
                inherited = self.own_last_cues_if_alone();
            }
        } else {
            self.carry = inherited
                .iter()
                .copied()
                .filter(|c| *c != Cue::Turn)
                .collect();
        }
        let folded = Folded::new(&seg.text);
        self.held.push(Held {
            seg,
            piece: Piece { folded, inherited },
        });
        let analysis = self.analyse_window(false);
        let h0 = self.history.len();
        let new_piece = h0 + self.held.len() - 1;
        {
            let mut st = self.call.lock();
            st.seq += 1;
            let seq = st.seq;
            self.last_seq = seq;
            st.last_cues[self.track] = (seq, engine::piece_cues(&analysis, new_piece));
            self.learn(&mut st, &analysis, h0);
        }
        let hold_from = self.open_tail(&analysis, h0);
        let emit = match hold_from {
            Some(p) => {
                // hold from the piece where the open identifier starts; never more than MAX_HELD
                let keep = self.held.len() - (p.max(h0) - h0);
                self.held.len() - keep.min(MAX_HELD)
            }
            None => self.held.len(),
        };
        self.emit(&analysis, emit)
    }

    /// End of the track: emits everything held.
    pub fn flush(&mut self) -> Vec<RedactedSegment> {
        if self.held.is_empty() {
            return Vec::new();
        }
        let analysis = self.analyse_window(false);
        let n = self.held.len();
        self.emit(&analysis, n)
    }

    /// Conservative redaction of an interim (unstable) hypothesis: anything that could be part
    /// of an identifier is masked, and the held tail is taken into account.
    pub fn interim(&self, seg: &RawSegment) -> RedactedSegment {
        let folded = Folded::new(&seg.text);
        let inherited = self.inherited_cues();
        let mut pieces: Vec<PieceIn<'_>> = self.pieces();
        pieces.push(PieceIn {
            folded: &folded,
            inherited: &inherited,
        });
        let st_guard = self.call.lock();
        let analysis = engine::analyse(&self.redactor, &pieces, &st_guard.memory, self.agent, true);
        drop(st_guard);
        let idx = pieces.len() - 1;
        let mut label = |f: &Found| self.label(f);
        render::render(
            &analysis,
            idx,
            &folded,
            seg,
            self.redactor.policy.version,
            &mut label,
        )
    }

    /// The cues of the other party's last final, if they spoke since this track's last final
    /// (led by `Cue::Turn`, so "they spoke" is known even when they used no cue word).
    fn inherited_cues(&self) -> Vec<Cue> {
        let st = self.call.lock();
        st.last_cues
            .iter()
            .enumerate()
            .filter(|(t, (seq, _))| *t != self.track && *seq > self.last_seq)
            .max_by_key(|(_, (seq, _))| *seq)
            .map(|(_, (_, c))| {
                std::iter::once(Cue::Turn)
                    .chain(c.iter().copied())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The cues of this track's latest final when the call has no other track (speaker
    /// unknown), without `Cue::Turn`: nobody knows whether the other party spoke.
    fn own_last_cues_if_alone(&self) -> Vec<Cue> {
        let st = self.call.lock();
        if st.last_cues.len() != 1 {
            return Vec::new();
        }
        st.last_cues[self.track].1.clone()
    }

    fn pieces(&self) -> Vec<PieceIn<'_>> {
        self.history
            .iter()
            .chain(self.held.iter().map(|h| &h.piece))
            .map(|p| PieceIn {
                folded: &p.folded,
                inherited: &p.inherited,
            })
            .collect()
    }

    fn analyse_window(&self, interim: bool) -> Analysis {
        let pieces = self.pieces();
        let st = self.call.lock();
        engine::analyse(&self.redactor, &pieces, &st.memory, self.agent, interim)
    }

    /// Remembers names found in the new (not yet emitted) part of the window.
    fn learn(&self, st: &mut CallState, a: &Analysis, h0: usize) {
        let from = a.piece_starts[h0];
        for f in a.found.iter().filter(|f| f.start >= from) {
            if !matches!(
                f.kind,
                EntityKind::Name | EntityKind::Address | EntityKind::Email
            ) {
                st.memory.remember_number(&f.canon, f.kind);
            }
        }
        for &(lo, hi, self_intro) in &a.names {
            if a.toks[lo].start < from {
                continue;
            }
            for t in &a.toks[lo..hi] {
                if !t.is_word()
                    || t.lower.chars().count() < 2
                    || self.redactor.compiled.gaz.is_stop(&t.lower)
                {
                    continue;
                }
                let needs_cap = self.redactor.compiled.gaz.class(&t.lower)
                    == Some(NameClass::Ambiguous)
                    || !t.cap;
                let e = st
                    .memory
                    .learned
                    .entry(t.lower.clone())
                    .or_insert(needs_cap);
                *e &= needs_cap;
                if self_intro && self.agent {
                    st.memory.agent.insert(t.lower.clone());
                }
            }
        }
    }

    /// If the window ends in something that the next segment could complete into an
    /// identifier (a number run, spelled letters, an e-mail being dictated), the index of the
    /// piece where it starts.
    fn open_tail(&self, a: &Analysis, h0: usize) -> Option<usize> {
        let toks = &a.toks;
        // an identifier of unknown kind at the very end may be the start of a longer one (a
        // number said digit by digit, its second half in the next segment): still open
        let text_end = toks
            .iter()
            .rev()
            .find(|t| t.kind != TokKind::Punct && t.kind != TokKind::Break)
            .map_or(0, |t| t.end);
        let in_span = |pos: usize| {
            let k = a.found.partition_point(|f| f.end <= pos);
            a.found.get(k).is_some_and(|f| {
                f.start <= pos && !(f.kind == EntityKind::IdNumber && f.end >= text_end)
            })
        };
        let open_tok = |i: usize| {
            let t = &toks[i];
            match t.kind {
                TokKind::Digits => true,
                TokKind::Word => {
                    numbers::is_number_word(&t.lower)
                        || matches!(
                            t.lower.as_str(),
                            "oh" | "double"
                                | "triple"
                                | "plus"
                                | "at"
                                | "dot"
                                | "underscore"
                                | "dash"
                        )
                        || (t.lower.chars().count() == 1
                            && t.cap
                            && t.lower != "i"
                            && t.lower != "a")
                        || (t.all_caps
                            && t.lower.chars().count() <= 5
                            && !self.redactor.compiled.gaz.is_stop(&t.lower))
                }
                TokKind::Punct => matches!(t.punct(), Some(',' | '-' | '.' | '+' | '@' | '/')),
                TokKind::Break => true,
            }
        };
        // last token of the window
        let mut i = toks.len();
        while i > 0
            && toks[i - 1].kind == TokKind::Punct
            && !matches!(toks[i - 1].punct(), Some('@' | '+'))
        {
            i -= 1;
        }
        if i == 0 {
            return None;
        }
        let last = i - 1;
        let mut start = None;
        if open_tok(last) && toks[last].kind != TokKind::Break && !in_span(toks[last].start) {
            let mut k = last;
            while k > 0 && open_tok(k - 1) && !in_span(toks[k - 1].start) {
                k -= 1;
            }
            start = Some(toks[k].start);
        }
        if start.is_none() && !in_span(toks[last].start) {
            // "… 27 Cedar" — a house number and the start of a street name: the street word
            // may come next
            let mut k = last + 1;
            let mut words = 0;
            while k > 0
                && words < 4
                && toks[k - 1].is_word()
                && toks[k - 1].cap
                && !self.redactor.compiled.gaz.is_stop(&toks[k - 1].lower)
            {
                k -= 1;
                words += 1;
            }
            if words > 0
                && k > 0
                && open_tok(k - 1)
                && !in_span(toks[k - 1].start)
                && toks[k - 1].kind != TokKind::Punct
            {
                let mut j = k - 1;
                while j > 0 && open_tok(j - 1) && !in_span(toks[j - 1].start) {
                    j -= 1;
                }
                start = Some(toks[j].start);
            }
        }
        if start.is_none() {
            // "my email is priya" … the domain may come next
            let from = last.saturating_sub(5);
            let dictating = toks[from..=last].iter().any(|t| {
                matches!(
                    t.lower.as_str(),
                    "email" | "mail" | "upi" | "vpa" | "gmail" | "address"
                )
            }) && !in_span(toks[last].start);
            if dictating {
                start = Some(toks[from].start);
            }
        }
        let pos = start?;
        let piece = a
            .piece_starts
            .partition_point(|&s| s <= pos)
            .saturating_sub(1);
        Some(piece.max(h0))
    }

    /// Emits the first `n` held segments, moving them into history.
    fn emit(&mut self, a: &Analysis, n: usize) -> Vec<RedactedSegment> {
        let h0 = self.history.len();
        let mut out = Vec::with_capacity(n);
        for k in 0..n {
            let held = &self.held[k];
            let mut label = |f: &Found| self.label(f);
            out.push(render::render(
                a,
                h0 + k,
                &held.piece.folded,
                &held.seg,
                self.redactor.policy.version,
                &mut label,
            ));
        }
        for held in self.held.drain(..n) {
            if self.history.len() == HISTORY {
                self.history.pop_front();
            }
            self.history.push_back(held.piece);
        }
        out
    }

    fn label(&self, f: &Found) -> String {
        match self.redactor.policy.mode {
            Mode::Placeholder => f.kind.placeholder(),
            Mode::Mask => "####".to_string(),
            Mode::Pseudonym => {
                let n = pseudonym(&self.call, f);
                format!("[{}_{n}]", f.kind.label())
            }
        }
    }
}

/// The pseudonym number of a value within a call: HMAC-SHA256 keyed with the call key, so the
/// table holds no values and numbers cannot be joined across calls. A multi-word name also
/// registers each word, so "Meera" later gets the number of "Meera Pillai".
fn pseudonym(call: &CallShared, f: &Found) -> u32 {
    let digest = |v: &str| -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&call.key)
            .expect("HMAC takes any key length");
        mac.update(f.kind.label().as_bytes());
        mac.update(&[0]);
        mac.update(v.as_bytes());
        mac.finalize().into_bytes().into()
    };
    let canon = if f.canon.is_empty() {
        "?"
    } else {
        f.canon.as_str()
    };
    let whole = digest(canon);
    let mut st = call.lock();
    if let Some(&n) = st.pseudonyms.get(&(f.kind, whole)) {
        return n;
    }
    let parts: Vec<[u8; 32]> = if f.kind == EntityKind::Name {
        canon.split(' ').map(&digest).collect()
    } else {
        Vec::new()
    };
    let n = parts
        .iter()
        .find_map(|p| st.pseudonyms.get(&(f.kind, *p)).copied())
        .unwrap_or_else(|| {
            let c = st.counters.entry(f.kind).or_insert(0);
            *c += 1;
            *c
        });
    st.pseudonyms.insert((f.kind, whole), n);
    for p in parts {
        st.pseudonyms.entry((f.kind, p)).or_insert(n);
    }
    n
}

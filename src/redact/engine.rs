//! One analysis pass over a per-track window: fold and join the pieces, tokenise, run the
//! detectors, apply the policy, and merge overlapping finds into final spans.

use super::Redactor;
use super::cues::{self, Cue};
use super::detectors::{self, DetectCtx, Found};
use super::names::NameMemory;
use super::text::{self, BREAK, Folded, Token};
use crate::transcript::EntityKind;

/// A piece of the window: one segment's folded text.
pub(crate) struct PieceIn<'a> {
    pub folded: &'a Folded,
    /// Cues from the other party's last words before this segment.
    pub inherited: &'a [Cue],
}

/// The result of analysing a window.
pub(crate) struct Analysis {
    pub text: String,
    pub toks: Vec<Token>,
    /// Byte offset of each piece in `text`.
    pub piece_starts: Vec<usize>,
    /// Merged spans, sorted, non-overlapping, only kinds the policy redacts.
    pub found: Vec<Found>,
    /// Token ranges of names, and whether they were self-introductions.
    pub names: Vec<(usize, usize, bool)>,
}

/// Above this many tokens the window is analysed in overlapping chunks, so that one huge
/// segment costs linear time and bounded memory per detector.
const CHUNK_TOKENS: usize = 1500;
const CHUNK_OVERLAP: usize = 150;

pub(crate) fn analyse(
    r: &Redactor,
    pieces: &[PieceIn<'_>],
    memory: &NameMemory,
    speaker_is_agent: bool,
    interim: bool,
) -> Analysis {
    let total: usize = pieces.iter().map(|p| p.folded.text.len() + 1).sum();
    let mut text = String::with_capacity(total);
    let mut piece_starts = Vec::with_capacity(pieces.len());
    for (k, p) in pieces.iter().enumerate() {
        if k > 0 {
            text.push(BREAK);
        }
        piece_starts.push(text.len());
        text.push_str(&p.folded.text);
    }
    let toks = text::tokenize(&text);
    // per token: the piece it is in, for inherited cues
    let mut inherited: Vec<&[Cue]> = Vec::with_capacity(toks.len());
    let mut asked_name = None;
    let mut pi = 0;
    for (ti, t) in toks.iter().enumerate() {
        while pi + 1 < pieces.len() && t.start >= piece_starts[pi + 1] {
            pi += 1;
        }
        inherited.push(pieces[pi].inherited);
        // the newest piece answering a question about a name
        let first_of_piece = ti == 0 || toks[ti - 1].kind == text::TokKind::Break;
        if first_of_piece
            && pieces[pi]
                .inherited
                .contains(&Cue::Entity(EntityKind::Name))
            && t.kind != text::TokKind::Break
        {
            // the answer is in this piece: a later segment is not (on a mono track it may be
            // the asker's next question)
            let piece_end = toks[ti..]
                .iter()
                .position(|t| t.kind == text::TokKind::Break)
                .map_or(toks.len(), |k| ti + k);
            asked_name = Some((ti, (ti + 12).min(piece_end)));
        }
    }
    let mut found = Vec::new();
    let mut names = Vec::new();
    let mut lo = 0;
    while lo < toks.len() || (lo == 0 && toks.is_empty()) {
        let hi = (lo + CHUNK_TOKENS).min(toks.len());
        let ctx = DetectCtx {
            gaz: &r.compiled.gaz,
            pat: &r.compiled.pat,
            memory,
            interim,
            inherited: &inherited[lo..hi],
            asked_name: asked_name.and_then(|(a, b): (usize, usize)| {
                (b > lo && a < hi).then(|| (a.saturating_sub(lo), (b - lo).min(hi - lo)))
            }),
        };
        let (f, n) = detectors::detect(&text, &toks[lo..hi], &r.compiled.words, &ctx);
        found.extend(f);
        names.extend(n.into_iter().map(|h| (h.lo + lo, h.hi + lo, h.self_intro)));
        if hi >= toks.len() {
            break;
        }
        lo = hi - CHUNK_OVERLAP;
    }
    let policy = &r.policy;
    found.retain(|f| policy.redacts(f.kind) && f.end > f.start);
    if policy.keep_agent_names {
        // names agents gave for themselves earlier in the call, or in this window
        let own: Vec<&str> = if speaker_is_agent {
            names
                .iter()
                .filter(|n| n.2)
                .flat_map(|&(lo, hi, _)| toks[lo..hi].iter().map(|t| t.lower.as_str()))
                .collect()
        } else {
            Vec::new()
        };
        found.retain(|f| {
            f.kind != EntityKind::Name
                || !f
                    .canon
                    .split(' ')
                    .all(|w| memory.agent.contains(w) || own.contains(&w))
        });
    }
    let mut found = merge(&text, found);
    // an identifier never starts or ends inside a run of letters and digits: what is glued to
    // it is part of it ("… gmail dot cC0ifsc34" must not leave "0ifsc34" beside the mask)
    for f in found.iter_mut().filter(|f| f.kind != EntityKind::Name) {
        while let Some(c) = text[..f.start]
            .chars()
            .next_back()
            .filter(|c| c.is_alphanumeric())
        {
            f.start -= c.len_utf8();
        }
        while let Some(c) = text[f.end..].chars().next().filter(|c| c.is_alphanumeric()) {
            f.end += c.len_utf8();
        }
    }
    let found = merge(&text, found);
    Analysis {
        text,
        toks,
        piece_starts,
        found,
        names,
    }
}

/// Merges overlapping finds (and same-kind finds separated only by spaces) into one span each.
/// The kind of a merged span is that of its longest part (ties: the more specific kind).
fn merge(text: &str, mut found: Vec<Found>) -> Vec<Found> {
    found.sort_by_key(|f| (f.start, std::cmp::Reverse(f.end)));
    let mut out: Vec<(Found, usize)> = Vec::with_capacity(found.len());
    for f in found {
        let len = f.end - f.start;
        if let Some((last, best_len)) = out.last_mut() {
            let touching = f.start <= last.end
                || (f.kind == last.kind
                    && text[last.end..f.start]
                        .chars()
                        .all(|c| c == ' ' || c == BREAK)
                    && !text[last.end..f.start].contains(BREAK));
            if touching {
                let better = len > *best_len
                    || (len == *best_len && f.kind.priority() > last.kind.priority());
                if better {
                    last.kind = f.kind;
                    *best_len = len;
                }
                if f.end > last.end {
                    last.end = f.end;
                }
                if !f.canon.is_empty()
                    && last.canon != f.canon
                    && f.kind == last.kind
                    && len > 0
                    && better
                {
                    last.canon = f.canon;
                }
                continue;
            }
        }
        out.push((f, len));
    }
    out.into_iter().map(|(f, _)| f).collect()
}

/// The cues said in a piece (given to the other track as the context of its next answer).
pub(crate) fn piece_cues(a: &Analysis, piece: usize) -> Vec<Cue> {
    let start = a.piece_starts[piece];
    let end = a
        .piece_starts
        .get(piece + 1)
        .copied()
        .unwrap_or(a.text.len());
    let lo = a.toks.partition_point(|t| t.start < start);
    let hi = a.toks.partition_point(|t| t.start < end);
    // a cue this piece already answered ("the three digits are 453") asks the other party
    // nothing: only cues with no identifier after them in the piece are handed over
    let answered = |h: &cues::CueHit| {
        let after = a.toks[lo + h.hi - 1].end;
        a.found
            .iter()
            .any(|f| f.kind != EntityKind::Name && f.start >= after && f.start < end)
    };
    cues::find_cues(&a.toks[lo..hi])
        .into_iter()
        .filter(|h| !matches!(h.cue, Cue::Entity(_)) || !answered(h))
        .map(|h| h.cue)
        .collect()
}

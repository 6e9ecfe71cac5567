//! Writing a redacted segment: placeholders into the original text, spans in character
//! offsets of the redacted text, and word timestamps carried over to the spans.

use super::detectors::Found;
use super::engine::Analysis;
use super::text::Folded;
use super::{RawSegment, RedactedSegment, Span, Word};
use crate::transcript::EntityKind;

/// A span in original character offsets of one segment, with its output label.
struct Cut {
    kind: EntityKind,
    start: u32,
    end: u32,
    label: String,
}

/// Renders piece `piece` of the analysis as a redacted segment. `label` gives the text that
/// replaces a find (placeholder, mask or pseudonym).
pub(crate) fn render(
    a: &Analysis,
    piece: usize,
    folded: &Folded,
    seg: &RawSegment,
    policy_version: u32,
    label: &mut dyn FnMut(&Found) -> String,
) -> RedactedSegment {
    let ps = a.piece_starts[piece];
    let pe = ps + folded.text.len();
    let mut cuts: Vec<Cut> = Vec::new();
    let first = a.found.partition_point(|f| f.end <= ps);
    for f in &a.found[first..] {
        if f.start >= pe {
            break;
        }
        let mut s = f.start.max(ps) - ps;
        let mut e = f.end.min(pe) - ps;
        // a span clipped at a segment boundary must not begin or end on spaces
        let b = folded.text.as_bytes();
        while s < e && b[s] == b' ' {
            s += 1;
        }
        while e > s && b[e - 1] == b' ' {
            e -= 1;
        }
        if s >= e {
            continue;
        }
        let (os, oe) = folded.orig_range(s, e);
        cuts.push(Cut {
            kind: f.kind,
            start: os,
            end: oe,
            label: label(f),
        });
    }
    build(seg, folded.orig_len, cuts, policy_version)
}

fn build(seg: &RawSegment, orig_len: u32, cuts: Vec<Cut>, policy_version: u32) -> RedactedSegment {
    let n = orig_len as usize;
    let mut text = String::with_capacity(seg.text.len());
    // output char offset of every original char boundary; inside a cut, the cut's start/end
    let mut lo_map: Vec<u32> = Vec::with_capacity(n + 1);
    let mut hi_map: Vec<u32> = Vec::with_capacity(n + 1);
    let mut spans: Vec<Span> = Vec::with_capacity(cuts.len());
    let mut out_chars = 0u32;
    let mut ci = 0;
    let mut chars = seg.text.chars().enumerate().peekable();
    let mut idx = 0u32;
    while (idx as usize) <= n {
        if ci < cuts.len() && cuts[ci].start == idx {
            let c = &cuts[ci];
            let span_start = out_chars;
            text.push_str(&c.label);
            out_chars += c.label.chars().count() as u32;
            for _ in c.start..c.end {
                lo_map.push(span_start);
                hi_map.push(out_chars);
                chars.next();
            }
            spans.push(Span {
                kind: c.kind,
                start: span_start as usize,
                end: out_chars as usize,
                t_start: None,
                t_end: None,
            });
            idx = c.end;
            ci += 1;
            continue;
        }
        lo_map.push(out_chars);
        hi_map.push(out_chars);
        match chars.next() {
            Some((_, ch)) => {
                text.push(ch);
                out_chars += 1;
                idx += 1;
            }
            None => break,
        }
    }
    while lo_map.len() < n + 1 {
        lo_map.push(out_chars);
        hi_map.push(out_chars);
    }
    let words = redact_words(seg, &text, &cuts, &mut spans, &lo_map, &hi_map);
    RedactedSegment {
        start: seg.start,
        end: seg.end,
        text,
        words,
        spans,
        policy_version,
    }
}

/// Locates each word in the original text (character range), in order.
fn align(seg: &RawSegment) -> Option<Vec<(u32, u32)>> {
    let mut out = Vec::with_capacity(seg.words.len());
    let mut byte = 0usize;
    let mut char_of_byte = vec![0u32; seg.text.len() + 1];
    let mut c = 0u32;
    for (b, ch) in seg.text.char_indices() {
        for slot in &mut char_of_byte[b..b + ch.len_utf8()] {
            *slot = c;
        }
        c += 1;
    }
    char_of_byte[seg.text.len()] = c;
    for w in &seg.words {
        let t = w.word.trim();
        if t.is_empty() {
            let at = char_of_byte[byte];
            out.push((at, at));
            continue;
        }
        let rel = seg.text[byte..].find(t)?;
        let s = byte + rel;
        let e = s + t.len();
        out.push((char_of_byte[s], char_of_byte[e]));
        byte = e;
    }
    Some(out)
}

fn redact_words(
    seg: &RawSegment,
    text: &str,
    cuts: &[Cut],
    spans: &mut [Span],
    lo_map: &[u32],
    hi_map: &[u32],
) -> Vec<Word> {
    if seg.words.is_empty() {
        return Vec::new();
    }
    let Some(pos) = align(seg) else {
        // the words do not spell the text: never pass them through; one word, redacted text
        let p = seg.words.iter().map(|w| w.p).fold(f32::INFINITY, f32::min);
        let start = seg.words.first().map_or(seg.start, |w| w.start);
        let end = seg.words.last().map_or(seg.end, |w| w.end);
        return vec![Word {
            word: text.to_string(),
            start,
            end,
            p: if p.is_finite() { p } else { 0.0 },
        }];
    };
    let out_chars: Vec<char> = text.chars().collect();
    let mut words = Vec::with_capacity(seg.words.len());
    let mut i = 0;
    while i < seg.words.len() {
        let (ws, we) = pos[i];
        let hit = |s: u32, e: u32| cuts.iter().position(|c| s < c.end && e > c.start);
        let Some(_) = hit(ws, we) else {
            words.push(seg.words[i].clone());
            i += 1;
            continue;
        };
        // a cluster: consecutive words that touch the same cuts
        let mut lo = ws;
        let mut hi = we;
        let mut reach = cuts
            .iter()
            .filter(|c| ws < c.end && we > c.start)
            .map(|c| c.end)
            .max()
            .unwrap_or(we);
        let mut j = i + 1;
        while j < seg.words.len() {
            let (s, e) = pos[j];
            if s < reach && hit(s, e).is_some() {
                hi = hi.max(e);
                reach = reach.max(
                    cuts.iter()
                        .filter(|c| s < c.end && e > c.start)
                        .map(|c| c.end)
                        .max()
                        .unwrap_or(e),
                );
                j += 1;
            } else {
                break;
            }
        }
        let (wlo, whi) = (lo, hi);
        for c in cuts.iter().filter(|c| wlo < c.end && whi > c.start) {
            lo = lo.min(c.start);
            hi = hi.max(c.end);
        }
        let (os, oe) = (
            lo_map[lo as usize] as usize,
            hi_map[hi as usize].max(lo_map[hi as usize]) as usize,
        );
        let lead: String = seg.words[i]
            .word
            .chars()
            .take_while(|c| c.is_whitespace())
            .collect();
        let body: String = out_chars[os.min(out_chars.len())..oe.min(out_chars.len())]
            .iter()
            .collect();
        let t_start = seg.words[i].start;
        let t_end = seg.words[j - 1].end;
        let p = seg.words[i..j]
            .iter()
            .map(|w| w.p)
            .fold(f32::INFINITY, f32::min);
        for (si, c) in cuts.iter().enumerate() {
            if lo < c.end && hi > c.start {
                let sp = &mut spans[si];
                sp.t_start = Some(sp.t_start.map_or(t_start, |t| t.min(t_start)));
                sp.t_end = Some(sp.t_end.map_or(t_end, |t| t.max(t_end)));
            }
        }
        words.push(Word {
            word: format!("{lead}{}", body.trim_start()),
            start: t_start,
            end: t_end,
            p,
        });
        i = j;
    }
    words
}

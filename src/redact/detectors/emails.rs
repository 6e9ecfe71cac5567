//! E-mail addresses and UPI IDs (a UPI ID is shaped like an e-mail: name@handle), written,
//! spoken with "at" and "dot", spelled letter by letter, or garbled by the recogniser. It only
//! hands its finds to `detect`: it never logs or keeps the text it reads.

use crate::redact::cues::Cue;
use crate::redact::text::{TokKind, Token};
use crate::transcript::EntityKind as K;

use super::lexicon::{GARBLED_JOINTS, LOCAL_CONNECTORS, is_local_stop};
use super::{Found, Scan};

/// E-mail addresses and UPI IDs, written ("priya.s87@gmail.com") or spoken ("priya dot s
/// eighty seven at gmail dot com", "rohan dot g at i b l").
pub(super) fn emails(scan: &Scan<'_>, out: &mut Vec<Found>) {
    let (toks, cue_hits, ws, ctx) = (scan.toks, &scan.cue_hits, scan.words, scan.ctx);
    let (upi, hosts, tlds) = (&ws.upi, &ws.hosts, &ws.tlds);
    let (base, slice) = scan.chunk_text();
    for m in ctx.pat.email.find_iter(slice) {
        let s = m.as_str();
        let domain = s.rsplit('@').next().unwrap_or("");
        let kind = if domain.contains('.') {
            K::Email
        } else {
            K::Upi
        };
        out.push(Found {
            kind,
            start: base + m.start(),
            end: base + m.end(),
            canon: s.to_lowercase(),
        });
    }
    let upi_cue = |tok: usize| {
        cue_hits
            .iter()
            .any(|h| h.cue == Cue::Entity(K::Upi) && h.hi <= tok && h.hi + 12 >= tok)
            || ctx
                .inherited
                .get(tok)
                .is_some_and(|c| c.contains(&Cue::Entity(K::Upi)))
    };
    let email_cue = |tok: usize| {
        cue_hits
            .iter()
            .any(|h| h.cue == Cue::Entity(K::Email) && h.hi <= tok && h.hi + 12 >= tok)
            || ctx
                .inherited
                .get(tok)
                .is_some_and(|c| c.contains(&Cue::Entity(K::Email)))
    };
    let is_piece = |t: &Token| {
        matches!(t.kind, TokKind::Word | TokKind::Digits) && !t.is("at") && !t.is("dot")
    };
    let is_conn = |t: &Token| LOCAL_CONNECTORS.contains(&t.lower.as_str());
    for (i, t) in toks.iter().enumerate() {
        // "at", "@" with spaces, or "at the rate (of)"
        let (at_lo, mut dom) = if t.is("at") {
            if toks.get(i + 1).is_some_and(|x| x.is("the"))
                && toks.get(i + 2).is_some_and(|x| x.is("rate"))
            {
                let k = if toks.get(i + 3).is_some_and(|x| x.is("of")) {
                    i + 4
                } else {
                    i + 3
                };
                (i, k)
            } else {
                (i, i + 1)
            }
        } else if t.punct() == Some('@')
            && (t.gap_before || toks.get(i + 1).is_some_and(|x| x.gap_before))
        {
            (i, i + 1)
        } else {
            continue;
        };
        // domain: pieces joined by "dot"; spelled letters are gathered into one label
        let dom_lo = dom;
        let mut labels: Vec<String> = Vec::new();
        let mut cur = String::new();
        let mut has_dot_tld = false;
        while dom < toks.len() && dom - dom_lo < 12 {
            let d = &toks[dom];
            if d.kind == TokKind::Word && (d.is("dot") || d.punct() == Some('.'))
                || d.punct() == Some('.')
            {
                if cur.is_empty() || !toks.get(dom + 1).is_some_and(is_piece) {
                    break;
                }
                // a written full stop followed by a space ends the sentence ("… dot com. It
                // costs …"): dots inside a written domain have no space after them
                if d.punct() == Some('.') && toks.get(dom + 1).is_some_and(|x| x.gap_before) {
                    break;
                }
                labels.push(std::mem::take(&mut cur));
                dom += 1;
                continue;
            }
            if is_piece(d)
                && (cur.is_empty()
                    || d.lower.len() == 1
                        && cur.len() <= 8
                        && cur.bytes().all(|b| b.is_ascii_alphabetic())
                        && toks[dom - 1].lower.len() == 1)
            {
                if !cur.is_empty() && !d.lower.bytes().all(|b| b.is_ascii_alphabetic()) {
                    break;
                }
                cur.push_str(&d.lower);
                dom += 1;
                continue;
            }
            break;
        }
        if !cur.is_empty() {
            labels.push(cur);
        }
        if labels.is_empty() {
            continue;
        }
        if labels.len() >= 2 && labels.last().is_some_and(|l| tlds.contains(l.as_str())) {
            has_dot_tld = true;
        }
        let first = labels[0].as_str();
        let kind = if has_dot_tld || hosts.contains(first) {
            K::Email
        } else if labels.len() == 1
            && (upi.contains(first)
                || first.len() <= 12
                    && first.bytes().all(|b| b.is_ascii_alphabetic())
                    && upi_cue(i))
        {
            // a known handle, or a short word when the talk is about UPI
            K::Upi
        } else if labels.len() == 1 && email_cue(i) && first.len() >= 3 {
            K::Email
        } else {
            continue;
        };
        // local part: pieces (and connectors between them) going left from "at"
        let mut lo = at_lo;
        let mut pieces = 0;
        let mut k = at_lo;
        while k > 0 && at_lo - k < 10 {
            let p = &toks[k - 1];
            if is_piece(p) && !is_local_stop(&p.lower) {
                lo = k - 1;
                pieces += 1;
                k -= 1;
                continue;
            }
            if is_conn(p) && k >= 2 && is_piece(&toks[k - 2]) && !is_local_stop(&toks[k - 2].lower)
            {
                k -= 1;
                continue;
            }
            break;
        }
        if pieces == 0 {
            continue;
        }
        let hi = dom;
        let canon = toks[lo..hi]
            .iter()
            .map(|t| t.lower.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        out.push(Found {
            kind,
            start: toks[lo].start,
            end: toks[hi - 1].end,
            canon,
        });
    }
    garbled_emails(scan, &email_cue, out);
}

/// E-mail addresses whose "at" the recogniser lost or misheard ("emily dot carter has yahoo dot
/// com", "m.really.carterat.com"): anchored on the domain ("yahoo.com", "gmail dot com"), taken
/// as an address when the host is a mail provider or the talk is about e-mail, with the words
/// joined to it on the left as the local part.
fn garbled_emails(scan: &Scan<'_>, email_cue: &dyn Fn(usize) -> bool, out: &mut Vec<Found>) {
    let (toks, ws) = (scan.toks, scan.words);
    let is_dot = |t: &Token| t.is("dot") || t.punct() == Some('.');
    let is_piece = |t: &Token| {
        matches!(t.kind, TokKind::Word | TokKind::Digits)
            && !t.is("dot")
            && !is_local_stop(&t.lower)
    };
    // what "at" becomes in recognised speech, and written connectors
    let is_joint = |t: &Token| is_dot(t) || GARBLED_JOINTS.contains(&t.lower.as_str());
    for tld in 2..toks.len() {
        let t = &toks[tld];
        if t.kind != TokKind::Word || !ws.tlds.contains(t.lower.as_str()) || !is_dot(&toks[tld - 1])
        {
            continue;
        }
        let host = tld - 2;
        let h = &toks[host];
        if h.kind != TokKind::Word || h.lower.len() < 2 || is_local_stop(&h.lower) {
            continue;
        }
        // a full stop with a space after it ends a sentence: "… at home. Com…" is not a domain
        if toks[tld - 1].punct() == Some('.') && t.gap_before {
            continue;
        }
        let cue = email_cue(host);
        if !cue && !ws.hosts.contains(h.lower.as_str()) {
            continue;
        }
        let (mut lo, mut k, mut pieces) = (host, host, 0);
        while k >= 2 && host - k < 12 && is_joint(&toks[k - 1]) && is_piece(&toks[k - 2]) {
            k -= 2;
            lo = k;
            pieces += 1;
            // further pieces may follow one another with no joint ("m l dot carter")
            while k >= 1 && host - k < 12 && is_piece(&toks[k - 1]) && toks[k - 1].lower.len() <= 2
            {
                k -= 1;
                lo = k;
            }
        }
        // a mail provider named alone ("I use gmail.com") is no address
        if pieces == 0 && !cue {
            continue;
        }
        let canon = toks[lo..=tld]
            .iter()
            .map(|t| t.lower.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        out.push(Found {
            kind: K::Email,
            start: toks[lo].start,
            end: t.end,
            canon,
        });
    }
}

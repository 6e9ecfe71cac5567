#!/usr/bin/env python3
"""Synthetic contact-centre calls with planted PII, in the evaluation corpus's schema.

Writes hundreds of two-party calls (agent and caller; banking, telecom, insurance, delivery,
healthcare, retail, utilities, travel; locales IN, US, UK, AU, CA) as JSON references in exactly
the schema of the team's evaluation corpus (call_id, domain, locale, company, title, duration_s,
audio, speakers, turns, pii, non_pii), so that the corpus scorer (score.py) scores them unchanged,
and (unless --text-only) their audio: every turn synthesised on its own with flite or espeak-ng,
placed one after the other with 0.3-0.9 s gaps, passed through a telephone channel with sox
(300-3400 Hz, light line noise, gain variation, 8 kHz G.711 mu-law).

Standard library only; reads nothing outside this repository (the match keys are built by the
normaliser below, which mirrors score.py's). Deterministic for a given --seed.

    python3 scripts/gencorpus.py [--split dev|test|both] [--calls N] [--out DIR] [--seed S]
                                 [--text-only] [--jobs 1|2] [--clean16k]
    python3 scripts/gencorpus.py --check DIR [--hyp-out DIR]

SPLIT RULE (what keeps the test split unseen while developing)
--------------------------------------------------------------
Every piece of content has a stable id: each scenario ("sc.banking.lost_card"); each phrasing
of a question, answer frame, acknowledgement, continuer, read-back, correction, spelling lead,
closing ("<list>.<first 6 hex of sha1(text)>", e.g. "q.phone.3f9a1c"); and each value-pool item
(first names "first.<culture>.<name>", surnames "sur.<culture>.<name>", streets, cities,
societies and roads "<kind>.<locale>.<item>", e-mail user-part patterns and words, UPI id
patterns, companies "company.<name>"). An id belongs to the TEST split when the first byte of
sha1(id) is odd, otherwise to DEV:

    split_of(id) = "test" if hashlib.sha1(id.encode()).digest()[0] & 1 else "dev"

A scenario's own opening and business-talk lines follow their scenario's split.
A call of one split is built only from items of that split, so test phrasings, templates,
scenarios, names and streets are never seen while developing on dev. On top of that, a name
token (first or last) goes to the test split only if it is NOT in the redactor's gazetteer
(src/redact/names.txt, read at run time); dev names may be in it or not. Shared by both splits
(the basic vocabulary, not phrasings): the ways of speaking a number (digit by digit, "oh",
double/triple, pairs, groups, years, ordinals), fillers ("um", "uh"), the answer modes (direct,
hesitant, corrected, spelled, split across turns, interrupted, volunteered, read back), the
number-format rules of identifiers, and the TTS voices. Values are random per call, drawn
from a per-split seed stream (sha-seeded random.Random("S:split:index:attempt")).

Split-across-turn values: each part is its own identifier (its own type/value, the part's
digits as the full key, "part": "1/2" and "whole_value" beside), since the scorer dedupes by
(type, value) and one match cannot say "both halves". A fragment that is cut off and then
said again whole, and an agent's read-back, share the identifier (same type, value and match)
with the complete answer. All spans of one (type, value) carry the union of their matches.

--check DIR writes two hypothesis sets per reference directory (DIR/../hyp-raw-SPLIT: the
turn texts as they are; DIR/../hyp-redacted-SPLIT: every PII span replaced by [REDACTED]) and
scores them with the mirror of the scorer: every identifier must leak whole in the first and
nothing may leak, with every non-PII number present, in the second.
"""
import argparse
import concurrent.futures
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def split_of(item_id):
    """The split an item id belongs to (see SPLIT RULE above)."""
    return "test" if hashlib.sha1(item_id.encode("utf-8")).digest()[0] & 1 else "dev"


# ---------------------------------------------------------------------------------------------
# Normaliser: mirrors the corpus scorer's (score.py) text normalisation, used to build the PII
# and non-PII match keys and to check every call before it is written. Keep in step with it.
# ---------------------------------------------------------------------------------------------
MARKER = "zzredactedzz"
ONES = {w: i for i, w in enumerate("zero one two three four five six seven eight nine".split())}
TEENS = {w: 10 + i for i, w in enumerate(
    "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split())}
TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60,
        "seventy": 70, "eighty": 80, "ninety": 90}
ORD_ONES = {w: 1 + i for i, w in enumerate(
    "first second third fourth fifth sixth seventh eighth ninth".split())}
ORD_TEENS = {w: 10 + i for i, w in enumerate(
    "tenth eleventh twelfth thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth "
    "nineteenth".split())}
ORD_TENS = {"twentieth": 20, "thirtieth": 30, "fortieth": 40, "fiftieth": 50, "sixtieth": 60,
            "seventieth": 70, "eightieth": 80, "ninetieth": 90}
SCALES = {"thousand": 1000, "lakh": 100000, "lakhs": 100000, "lac": 100000,
          "million": 1000000, "crore": 10000000, "crores": 10000000}
MONTHS = set("january february march april may june july august september october november "
             "december jan feb mar apr jun jul aug sep sept oct nov dec".split())
FILLERS = set("uh um uhm umm hmm mm mhm er erm ah".split())
CAPS_WORDS = {"PIN", "PAN", "SIM", "OK", "NASA", "AADHAAR", "COVID"}
WORD_MAP = {"ok": "okay", "alright": "all right", "mr": "mister", "mrs": "missus",
            "dr": "doctor", "st": "street", "rd": "road", "ave": "avenue", "apt": "apartment",
            "e-mail": "email", "aadhar": "aadhaar", "adhaar": "aadhaar", "ph": "phone",
            "no": "no", "pls": "please", "thanks": "thanks"}
COMPACT_STOP = {"the", "of", "slash", "dash", "hyphen", "and", "space"}


def _pre_text(s):
    s = unicodedata.normalize("NFKC", s)
    s = s.replace("\u2019", "'").replace("\u2018", "'")
    s = s.replace("\u2013", "-").replace("\u2014", " ")
    s = re.sub(r"\[[^\]\n]{0,60}\]", " %s " % MARKER, s)
    s = re.sub(r"\{\{?[^}\n]{0,60}\}?\}", " %s " % MARKER, s)
    s = re.sub(r"<[^>\n]{0,60}>", " %s " % MARKER, s)
    s = re.sub(r"(?<![\w])[*#\u2022xX]{2,}(?![\w])", " %s " % MARKER, s)
    s = re.sub(r"\bREDACTED\b", " %s " % MARKER, s, flags=re.I)
    s = re.sub(r"(?:\u20b9|\bINR\b|\bRs\.?)\s?(\d[\d,]*(?:\.\d+)?)", r" \1 rupees ", s, flags=re.I)
    s = re.sub(r"\$\s?(\d[\d,]*(?:\.\d+)?)", r" \1 dollars ", s)
    s = re.sub(r"\u00a3\s?(\d[\d,]*(?:\.\d+)?)", r" \1 pounds ", s)
    s = s.replace("%", " percent ").replace("&", " and ").replace("+", " plus ")
    s = re.sub(r"\b([ap])\.\s?m\.?(?=\W|$)", r" \1 m ", s, flags=re.I)
    s = re.sub(r"(\d)\s?([ap])m\b", r"\1 \2 m", s, flags=re.I)
    s = re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", s)
    s = re.sub(r"\b(\d+)(?:st|nd|rd|th)\b", r"\1", s, flags=re.I)
    s = s.replace("@", " at ")
    s = re.sub(r"(?<=\d)[.:](?=\d)", " ", s)
    s = re.sub(r"(?<=[A-Za-z0-9])\.(?=[A-Za-z0-9])", " dot ", s)
    s = s.replace("_", " underscore ").replace("/", " slash ")
    s = re.sub(r"'s\b", " s", s)
    return s.replace("'", "").replace("-", " ")


def _split_token(tok):
    tok = tok.strip()
    if not tok:
        return []
    if tok == MARKER:
        return [MARKER]
    if tok.upper() in CAPS_WORDS and tok.isupper():
        return [WORD_MAP.get(tok.lower(), tok.lower())]
    has_d = any(c.isdigit() for c in tok)
    has_a = any(c.isalpha() for c in tok)
    if has_d and has_a:
        out = []
        for p in re.findall(r"[A-Za-z]+|\d+", tok):
            if p.isdigit():
                out.append(p)
            elif p.isupper() or len(p) <= 2:
                out.extend(p.lower())
            else:
                out.append(p.lower())
        return out
    if has_a and tok.isupper() and 2 <= len(tok) <= 12 and tok.isalpha():
        return list(tok.lower())
    t = tok.lower()
    return WORD_MAP.get(t, t).split()


def _raw_tokens(s):
    s = re.sub(r"[^\w\s]", " ", _pre_text(s))
    toks = []
    for raw in s.split():
        toks.extend(_split_token(raw))
    return [t for t in toks if t and t not in FILLERS]


def _is_numberish(w):
    return w.isdigit() or w in ONES or w in TEENS or w in TENS


def _numberize(toks):
    out, i, n = [], 0, len(toks)
    while i < n:
        w = toks[i]
        nxt = toks[i + 1] if i + 1 < n else None
        if w == "a" and nxt in ("hundred", "thousand", "lakh", "million"):
            out.append("one")
            i += 1
            continue
        if w in ("double", "triple") and nxt is not None and \
                (nxt in ONES or nxt in ("oh", "o") or nxt.isdigit()):
            k = 2 if w == "double" else 3
            d = "0" if nxt in ("oh", "o") else (str(ONES[nxt]) if nxt in ONES else None)
            out.extend([d] * k if d is not None else [nxt[0]] * (k - 1) + [nxt])
            i += 2
            continue
        out.append(w)
        i += 1
    toks, out = out, []
    for i, w in enumerate(toks):
        if w in ("oh", "o"):
            prev = toks[i - 1] if i > 0 else ""
            nxt = toks[i + 1] if i + 1 < len(toks) else ""
            if _is_numberish(prev) or _is_numberish(nxt):
                out.append("0")
                continue
        out.append(w)
    toks = out
    res = []
    st = {"total": 0, "cur": None, "last": None, "active": False}

    def flush():
        if st["active"] and not (st["total"] == 0 and st["cur"] is None):
            res.append(str(st["total"] + (st["cur"] or 0)))
        st.update(total=0, cur=None, last=None, active=False)

    def ordinal_ok(i, w):
        if w not in ("first", "second"):
            return True
        prev = toks[i - 1] if i > 0 else ""
        nxt = toks[i + 1] if i + 1 < len(toks) else ""
        nxt2 = toks[i + 2] if i + 2 < len(toks) else ""
        return prev in TENS or prev in MONTHS or (nxt == "of" and nxt2 in MONTHS) or nxt in MONTHS

    for i, w in enumerate(toks):
        if w.isdigit():
            flush()
            res.append(w)
            continue
        if w in ORD_ONES and not ordinal_ok(i, w):
            flush()
            res.append(w)
            continue
        ords = w in ORD_ONES or w in ORD_TEENS or w in ORD_TENS
        v = None
        for table in (ONES, TEENS, TENS, ORD_ONES, ORD_TEENS, ORD_TENS):
            if w in table:
                v = table[w]
                break
        if v is not None:
            typ = ("ones" if (w in ONES or w in ORD_ONES) else
                   "teens" if (w in TEENS or w in ORD_TEENS) else "tens")
            if st["cur"] is None:
                if not (st["last"] == "scale" or not st["active"]):
                    flush()
                st["cur"] = v
            elif typ == "ones" and st["last"] == "tens" and st["cur"] % 10 == 0 \
                    and st["cur"] % 100 != 0 and v != 0:
                st["cur"] += v
            elif st["last"] == "hundred" and v != 0:
                st["cur"] += v
            elif st["last"] == "hundred_and":
                st["cur"] += v
            else:
                flush()
                st["cur"] = v
            st["active"] = True
            st["last"] = typ
            if ords:
                flush()
            continue
        if w == "hundred":
            if st["cur"] is None:
                st["cur"] = 100
            elif st["cur"] < 100:
                st["cur"] *= 100
            else:
                flush()
                st["cur"] = 100
            st["active"] = True
            st["last"] = "hundred"
            continue
        if w in SCALES:
            if not st["active"]:
                res.append(w)
                continue
            st["total"] += (st["cur"] if st["cur"] is not None else 1) * SCALES[w]
            st["cur"] = None
            st["last"] = "scale"
            continue
        if w == "and" and st["active"] and st["last"] in ("hundred", "scale"):
            nxt = toks[i + 1] if i + 1 < len(toks) else ""
            if nxt in ONES or nxt in TEENS or nxt in TENS:
                st["last"] = "hundred_and" if st["last"] == "hundred" else "scale"
                continue
        if w == "point" and st["active"]:
            nxt = toks[i + 1] if i + 1 < len(toks) else ""
            if nxt in ONES or nxt in TEENS or nxt in TENS or nxt.isdigit():
                flush()
                continue
        flush()
        res.append(w)
    flush()
    return res


def norm_tokens(s):
    return _numberize(_raw_tokens(s))


def merge_digit_runs(toks):
    out = []
    for t in toks:
        if t.isdigit() and out and out[-1].isdigit():
            out[-1] += t
        else:
            out.append(t)
    return out


def compact_key(s):
    return "".join(t for t in norm_tokens(s) if t not in COMPACT_STOP and t != MARKER)


def words_key(s):
    return merge_digit_runs([t for t in norm_tokens(s) if t != MARKER])


def digits_of(s):
    return "".join(c for c in s if c.isdigit())


class HypIndex:
    """Views of a hypothesis text, as the scorer builds them."""

    def __init__(self, text):
        self.tokens = merge_digit_runs(norm_tokens(text))
        self.runs = [t for t in self.tokens if t.isdigit()]
        parts, bounds, pos = [], {0}, 0
        for t in self.tokens:
            if t in COMPACT_STOP:
                continue
            piece = "\u00a7" if t == MARKER else t
            parts.append(piece)
            pos += len(piece)
            bounds.add(pos)
        self.compact = "".join(parts)
        self.bounds = bounds
        self.markers = [i for i, t in enumerate(self.tokens) if t == MARKER]

    def has_digits(self, key, partial_len=None):
        if partial_len:
            return any(_lcs_len(key, r) >= partial_len for r in self.runs)
        if len(key) < 6:
            return key in self.runs
        return any(key in r for r in self.runs)

    def has_words(self, key_tokens):
        k = merge_digit_runs(list(key_tokens))
        n = len(k)
        return n > 0 and any(self.tokens[i:i + n] == k for i in range(len(self.tokens) - n + 1))

    def has_compact(self, key, need_end=False):
        start = 0
        while True:
            j = self.compact.find(key, start)
            if j < 0:
                return False
            if j in self.bounds and (not need_end or (j + len(key)) in self.bounds):
                return True
            start = j + 1


def _lcs_len(a, b):
    best, prev = 0, [0] * (len(b) + 1)
    for i in range(1, len(a) + 1):
        cur = [0] * (len(b) + 1)
        for j in range(1, len(b) + 1):
            if a[i - 1] == b[j - 1]:
                cur[j] = prev[j - 1] + 1
                best = max(best, cur[j])
        prev = cur
    return best


def match_one(idx, m):
    if m["kind"] == "digits":
        return idx.has_digits(m["key"], m.get("partial_len"))
    if m["kind"] == "words":
        return idx.has_words(m["key"])
    if m["kind"] == "compact":
        return idx.has_compact(m["key"], m.get("need_end", False))
    raise ValueError("unknown match kind %r" % m["kind"])


def match_any(idx, ms):
    return any(match_one(idx, m) for m in ms)


def ref_turn_texts(ref, replace_pii=None):
    """The turn texts, optionally with every PII span replaced (as the scorer's ref_text)."""
    out = []
    for ti, t in enumerate(ref["turns"]):
        s = t["text"]
        if replace_pii is not None:
            for p in sorted((p for p in ref["pii"] if p["turn"] == ti),
                            key=lambda p: p["char_start"], reverse=True):
                s = s[:p["char_start"]] + replace_pii + s[p["char_end"]:]
        out.append(s)
    return out


def evaluate(ref, text):
    """Scores one hypothesis text against a reference as the scorer does (identifiers
    deduplicated by (type, value)): counts, and which identifiers / numbers failed."""
    idx = HypIndex(text)
    ids = {}
    for p in ref["pii"]:
        ids.setdefault((p["type"], p["value"]), p)
    not_full, leaked = [], []
    for p in ids.values():
        f = match_any(idx, p["match"]["full"])
        if not f:
            not_full.append(p)
        if f or match_any(idx, p["match"].get("partial", [])):
            leaked.append(p)
    nums = ref.get("non_pii", [])
    missing = [q for q in nums if not match_one(idx, q["match"])]
    return {"ids": len(ids), "full": len(ids) - len(not_full), "any": len(leaked),
            "nums": len(nums), "present": len(nums) - len(missing), "not_full": not_full,
            "leaked": leaked, "missing": missing}


# ---------------------------------------------------------------------------------------------
# Speaking numbers (shared by both splits: the basic vocabulary)
# ---------------------------------------------------------------------------------------------
DIGIT_WORD = "zero one two three four five six seven eight nine".split()
TEEN_WORD = ("ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen "
             "nineteen").split()
TENS_WORD = {2: "twenty", 3: "thirty", 4: "forty", 5: "fifty", 6: "sixty", 7: "seventy",
             8: "eighty", 9: "ninety"}
ORD_WORD = ("zeroth first second third fourth fifth sixth seventh eighth ninth tenth eleventh "
            "twelfth thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth "
            "nineteenth twentieth").split()
MONTH_NAMES = ["January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December"]
MONTH_ABBR = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]


def say_int(n, british_and=True):
    """A cardinal number in words (0 <= n < 10**9): 'two hundred and five'."""
    if n < 10:
        return DIGIT_WORD[n]
    if n < 20:
        return TEEN_WORD[n - 10]
    if n < 100:
        t, o = divmod(n, 10)
        return TENS_WORD[t] + ("" if o == 0 else " " + DIGIT_WORD[o])
    if n < 1000:
        h, r = divmod(n, 100)
        if r == 0:
            return DIGIT_WORD[h] + " hundred"
        return DIGIT_WORD[h] + " hundred " + ("and " if british_and else "") + say_int(r)
    for scale, word in ((10 ** 6, "million"), (1000, "thousand")):
        if n >= scale:
            q, r = divmod(n, scale)
            head = say_int(q, british_and) + " " + word
            if r == 0:
                return head
            if r < 100:
                return head + (" and " if british_and else " ") + say_int(r)
            return head + " " + say_int(r, british_and)
    raise ValueError(n)


def say_indian(n):
    """Indian grouping: 'one lakh twenty thousand'."""
    if n >= 100000:
        q, r = divmod(n, 100000)
        head = say_int(q) + " lakh"
        return head if r == 0 else head + " " + say_int(r)
    return say_int(n)


def say_ordinal(n):
    if n <= 20:
        return ORD_WORD[n]
    t, o = divmod(n, 10)
    if o == 0:
        return {30: "thirtieth"}.get(n, TENS_WORD[t][:-1] + "ieth")
    return TENS_WORD[t] + " " + ORD_WORD[o]


def say_pair(p, zero="oh"):
    """Two digits as one would say them in a pair: '07' -> 'oh seven', '42' -> 'forty two'."""
    a, b = int(p[0]), int(p[1])
    if a == 0:
        return (zero + " " + DIGIT_WORD[b]) if b else ("double " + zero)
    return say_int(int(p))


def say_year(y):
    if 2000 <= y < 2010:
        return "two thousand" + ("" if y == 2000 else " and " + DIGIT_WORD[y - 2000])
    if 2010 <= y < 2100:
        return "twenty " + say_int(y - 2000)
    hi, lo = divmod(y, 100)
    return say_int(hi) + " " + (say_pair("%02d" % lo) if lo else "hundred")


def zero_word(style, rng):
    return {"oh": "oh", "zero": "zero"}.get(style, rng.choice(["oh", "zero"]))


def say_digits(s, rng, repeats=True, zero=None):
    """Digit by digit, with 'double'/'triple' for repeats when `repeats`."""
    z = zero or rng.choice(["oh", "zero", "oh"])
    words, i = [], 0
    while i < len(s):
        d = s[i]
        run = 1
        while i + run < len(s) and s[i + run] == d:
            run += 1
        w = z if d == "0" else DIGIT_WORD[int(d)]
        if repeats and run >= 2:
            take = 3 if run == 3 or run >= 5 else 2
            words.append(("triple " if take == 3 else "double ") + w)
            i += take
            continue
        words.append(w)
        i += 1
    return " ".join(words)


def say_pairs(s, rng, zero=None):
    z = zero or rng.choice(["oh", "zero"])
    out = []
    i = 0
    if len(s) % 2:
        out.append(say_digits(s[0], rng, False, z))
        i = 1
    while i < len(s):
        out.append(say_pair(s[i:i + 2], z))
        i += 2
    return " ".join(out)


def say_group(g, style, rng, zero=None):
    """One group of digits in a style: digits, double, pairs, hundreds."""
    if style == "pairs" and len(g) >= 2:
        return say_pairs(g, rng, zero)
    if style == "hundreds" and len(g) == 3 and g[0] != "0" and g[1:] != "00":
        # 'five fifty five' / 'three oh two'
        return DIGIT_WORD[int(g[0])] + " " + say_pair(g[1:], zero or "oh")
    if style == "hundreds" and len(g) == 4 and g[0] != "0" and g[2] != "0":
        return say_pair(g[:2]) + " " + say_pair(g[2:])
    return say_digits(g, rng, repeats=(style == "double"), zero=zero)


def check_digits(spoken, digits):
    """True when the scorer reads `spoken` as exactly `digits` (one merged run)."""
    toks = merge_digit_runs(norm_tokens(spoken))
    return toks == [digits]


def speak_number_string(digits, groups, rng, style=None):
    """A digit string spoken in groups (sizes `groups`), commas between groups; the style is
    one of digits, oh, double, pairs, mixed. Checked against the scorer's reading; falls back to
    plain digit-by-digit when a rendering would read differently."""
    style = style or rng.choice(["digits", "double", "double", "pairs", "mixed", "oh"])
    zero = "oh" if style == "oh" else rng.choice(["oh", "zero", "oh"])
    parts, i = [], 0
    for g in groups:
        parts.append(digits[i:i + g])
        i += g
    if i < len(digits):
        parts.append(digits[i:])
    said = []
    for g in parts:
        st = style
        if style == "mixed":
            st = rng.choice(["digits", "double", "pairs", "hundreds"])
        elif style == "oh":
            st = "double" if rng.random() < 0.5 else "digits"
        said.append(say_group(g, st, rng, zero))
    text = ", ".join(said)
    if not check_digits(text, digits):
        style = "digits"
        text = ", ".join(say_digits(g, rng, False, "zero") for g in parts)
    assert check_digits(text, digits), (text, digits)
    return text, style


def spell(s):
    """Letters and digits said one by one, written as the scorer wants them ('P I L L A I')."""
    return " ".join(ch.upper() if ch.isalpha() else DIGIT_WORD[int(ch)] for ch in s
                    if ch.isalnum())


NATO = dict(zip("abcdefghijklmnopqrstuvwxyz",
                "Alpha Bravo Charlie Delta Echo Foxtrot Golf Hotel India Juliet Kilo Lima Mike "
                "November Oscar Papa Quebec Romeo Sierra Tango Uniform Victor Whiskey X-ray "
                "Yankee Zulu".split()))
PLAIN_WORDS = dict(zip("abcdefghijklmnopqrstuvwxyz",
                       "apple boy cat dog egg Freddie George Harry India Jack king London Mary "
                       "Nellie orange Peter queen Robert sugar Tommy uncle Victor William X-ray "
                       "yellow zebra".split()))


def spell_nato(word, rng):
    table = NATO if rng.random() < 0.6 else PLAIN_WORDS
    return ", ".join("%s for %s" % (c.upper(), table[c]) for c in word.lower() if c.isalpha())


def alnum_spoken(code, rng, digit_style=None):
    """Letters spelled, digit runs spoken as groups: 'A B C P K, one two three four, F'."""
    chunks = re.findall(r"[A-Za-z]+|\d+", code)
    out = []
    for c in chunks:
        if c.isdigit():
            st = digit_style or rng.choice(["digits", "digits", "double", "pairs"])
            if st == "pairs" and len(c) % 2:
                st = "digits"
            out.append(say_group(c, st, rng))
        else:
            out.append(" ".join(c.upper()))
    return ", ".join(out) if rng.random() < 0.6 else " ".join(out)


# ---------------------------------------------------------------------------------------------
# Checksums for realistic identifiers
# ---------------------------------------------------------------------------------------------
def luhn_complete(prefix, length, rng):
    body = prefix + "".join(str(rng.randrange(10)) for _ in range(length - len(prefix) - 1))
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return body + str((10 - total % 10) % 10)


_VD = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
       [2, 3, 4, 0, 1, 7, 8, 9, 5, 6], [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
       [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
       [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
       [8, 7, 6, 5, 9, 3, 2, 1, 0, 4], [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]]
_VP = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
       [5, 8, 0, 3, 7, 9, 6, 1, 4, 2], [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
       [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
       [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8]]
_VINV = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9]


def verhoeff_digit(num):
    c = 0
    for i, ch in enumerate(reversed(num)):
        c = _VD[c][_VP[(i + 1) % 8][int(ch)]]
    return str(_VINV[c])


def iban_check(country, bban):
    s = bban + country + "00"
    n = int("".join(str(int(ch, 36)) for ch in s))
    return "%02d" % (98 - n % 97)


def gstin_check(first14):
    cs = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    total = 0
    for i, ch in enumerate(first14):
        p = cs.index(ch) * (1 if i % 2 == 0 else 2)
        total += p // 36 + p % 36
    return cs[(36 - total % 36) % 36]


def nhs_number(rng):
    while True:
        body = "".join(str(rng.randrange(10)) for _ in range(9))
        if body[0] == "0":
            continue
        r = sum(int(d) * (10 - i) for i, d in enumerate(body)) % 11
        chk = 11 - r
        if chk == 11:
            chk = 0
        if chk == 10:
            continue
        return body + str(chk)


def rdigits(rng, n, first="0123456789"):
    return rng.choice(first) + "".join(str(rng.randrange(10)) for _ in range(n - 1))


LETTERS = "ABCDEFGHJKLMNPRSTUVWYZ"          # no I, O, Q, X: never read as digits or masks


# ---------------------------------------------------------------------------------------------
# Value pools. Item ids: "first.<culture>.<name>", "sur.<culture>.<name>", "street.<loc>.<x>",
# "city.<loc>.<x>", ... each split by split_of(id).
# ---------------------------------------------------------------------------------------------
NAMES = {
    "indian": {
        "f": """Aarohi Bhoomika Charvi Damini Esha Gauri Hansika Ishani Jahnavi Kashvi Lavanya
            Mrinalini Ojasvi Prisha Rajshree Saanvi Tanvi Urvashi Vaidehi Yamini Zoya Pranjal
            Shreya Vrinda Kritika Aishwarya Sukanya Trisha Manasi Meera Priya Ananya Pooja
            Shruti Neha Kavya Divya Anjali Sneha Swati Ritu Bhargavi Chandana Harini
            Keerthana Mythili Nandana Padmini Ranjani Sowmya Vaishnavi Anagha Chinmayi Hamsini
            Janani Kavitha Anwesha Debolina Mousumi Paromita Rituparna Sohini Tanushree
            Ishwari Mehreen Nivedita Oindrila Parineeta Sharvari Tejaswini Upasana""",
        "m": """Aadesh Bhuvan Chinmay Devansh Eklavya Gagan Hrithik Indrajit Jaideep Kushal
            Lakshya Mridul Nakul Ojas Pratyush Ranveer Siddhant Tanmay Utkarsh Vedant Yashwant
            Zubin Shaurya Vivaan Ritvik Abhijeet Kaustubh Parikshit Rudra Samarth Prakash
            Rohan Rahul Suresh Vivek Gaurav Sandeep Arjun Karthik Bharath Dhanush Ezhil Gokul
            Harikrishnan Ilango Jayakumar Karthikeyan Manikandan Nandakumar Prabhakaran Senthil
            Vignesh Yuvaraj Sathish Kannan Sriram Arindam Debashish Indranil Partha Sourav
            Subhojit Tathagata Anirban Hemendra Jagannath Keshavan Omprakash Purushottam""",
        "s": """Ahluwalia Bhandari Chhabra Deol Gokhale Hingorani Jhaveri Kirloskar Lokhande
            Mahajan Nadkarni Oberoi Phadke Raheja Sabharwal Tendulkar Vaidya Wadhwa Zaveri
            Bharadwaj Chitnis Dhawan Gadgil Karandikar Majithia Rastogi Sahni Thapar Walia
            Kakkar Annamalai Chettiar Duraisamy Elangovan Ganesan Jayaraman Kandasamy Lingam
            Muthusamy Palaniswamy Ramasamy Sambandam Thangavel Velusamy Nagarajan Kumaraswamy
            Arumugam Sivakumar Kuppusamy Rangarajan Bhowmik Chakladar Ghoshal Lahiri Maitra
            Nandy Pramanik Sanyal Talukdar Pillai Iyer Patil Sharma Mehta Reddy Nair Kulkarni
            Banerjee Deshpande Joshi Rao Gupta Hegde Menon Chatterjee Ambedkar Bhagat Dandekar
            Gawande Inamdar Jagtap Khandelwal Lalwani Mirchandani Nimbalkar Pendse Rajadhyaksha
            Sahasrabuddhe Tambe Umrigar Vartak Wagle Yelamanchili Zutshi"""},
    "british": {
        "f": """Abigail Bryony Clemency Esme Felicity Henrietta Imelda Keeley Lettice Marigold
            Nerys Octavia Petra Rosalind Sorcha Tamsin Verity Philippa Ottilie Araminta
            Hermione Posy Fiona Harriet Imogen Beatrice Eleanor Lucy Sophie Gemma Kirsty
            Grainne Roisin Orla Caoimhe Sinead Deirdre Morwenna Elspeth Tabitha Cressida""",
        "m": """Alfred Barnaby Cuthbert Digby Edmund Fergus Gideon Horace Ignatius Jolyon
            Lionel Montague Nathaniel Orlando Percival Quentin Rufus Tarquin Wilfred Crispin
            Ambrose Benedict Cosmo Oliver Harry Nigel Graham Alistair Callum Rhys Cathal
            Padraig Ciaran Eoin Diarmuid Tadhg Oisin Lachlan Torquil Evander""",
        "s": """Abernathy Blenkinsop Dunstable Entwistle Featherstone Gresham Hollingworth
            Illingworth Jessop Kettlewell Llewellyn Nettleton Oakley Pickering Quarmby
            Rushworth Stainforth Thistlethwaite Umpleby Wetherby Ackroyd Braithwaite
            Cattermole Dimmock Fothergill Hebblethwaite Lockwood Ormerod Postlethwaite
            Tattersall Whitfield Hughes Fletcher Ashworth Wainwright Donnelly Gallacher
            Kavanagh McLaughlin Brennan Flanagan Geraghty Hennessy Mulligan Quigley
            Attenborough Bellingham Challoner Drinkwater Eddington Farnsworth Gilchrist
            Heathcote Ingleby Kilbride Lowther Mottram Pennington Ravenscroft Shacklock"""},
    "american": {
        "f": """Addison Brianna Cassidy Delaney Everly Jolene Kinsley Loretta Marlena Paisley
            Raelynn Savannah Tatum Wren Shelby Peyton Hadley Kendall Olivia Hannah Amanda
            Jennifer Linda Brooklyn Kaylee Makenna Oaklynn Rylee Scarlett Tenley""",
        "m": """Brantley Colton Easton Garrett Hollis Jaxon Kyler Landon Maverick Paxton Rhett
            Stetson Tanner Wyatt Bryce Cody Dustin Grady Daniel Brian James Jason Kyle
            Beckett Cannon Davis Emmett Fletcher Holden Kolton Lawson Ryker Weston""",
        "s": """Buckley Calloway Dempsey Eastwood Fairbanks Holloway Kincaid Lockhart McAllister
            Northcutt Prescott Ridgeway Sheffield Thibodeaux Vandermeer Whitcomb Yardley
            Carmichael Donahue Easterling Fitzgerald Hargrove Langston Mayfield Pendleton
            Rutherford Stanfield Underwood Wakefield Bennett Kowalski Whitaker Abernethy
            Blankenship Cornwell Dewberry Ellsworth Faulkner Gustafson Honeycutt Kingsbury
            Lindqvist Merriweather Quackenbush Satterfield Trowbridge Vanderbilt Winthrop"""},
    "hispanic": {
        "f": """Ximena Yesenia Guadalupe Marisol Itzel Esperanza Dolores Catalina Valentina
            Rocio Araceli Nayeli Paloma Milagros Consuelo Beatriz Maricela Soledad Fernanda
            Yadira""",
        "m": """Alejandro Joaquin Santiago Mateo Rodrigo Esteban Ignacio Cristobal Guillermo
            Emiliano Fernando Rafael Arturo Humberto Leonel Osvaldo Ulises Xavier Eduardo
            Gerardo""",
        "s": """Villanueva Echeverria Quintero Zamora Bustamante Cienfuegos Montoya Ochoa
            Arellano Barrientos Cervantes Dominguez Figueroa Galindo Ibarra Jaramillo Landa
            Maldonado Navarro Olivares Pacheco Quiroga Saavedra Trujillo Valdez Zepeda Escobar
            Carrasco Alcantara Betancourt Cisneros Espinoza Fuentes Guerrero Hidalgo"""},
    "african": {
        "f": """Adaeze Abimbola Chiamaka Ebere Folasade Ifeoma Ngozi Nkechi Oluwaseun Yetunde
            Akosua Abena Efua Wanjiru Njeri Achieng Amara Zanele Thandiwe Nomvula Makena
            Halima Chidinma Funmilayo Nneka Ayodele Lindiwe Wairimu""",
        "m": """Babatunde Chidi Emeka Ikenna Obinna Olumide Tunde Kwame Kofi Kwabena Yaw Kojo
            Jabari Otieno Kipchoge Mwangi Sipho Thabo Themba Bongani Tendai Abebe Chukwuemeka
            Oluwadamilare Kayode Uchenna Mandla Nnamdi""",
        "s": """Adebayo Okafor Okonkwo Nwosu Eze Adeyemi Ogunleye Balogun Chukwu Olawale Mensah
            Asante Boateng Owusu Appiah Ofori Kamau Odhiambo Wambui Mutua Kariuki Ndlovu
            Dlamini Mokoena Nkosi Moyo Banda Tesfaye Haile Girma Diallo Toure Keita Oyelaran
            Nwachukwu Akinyemi Onyekachi Mwakasege Oduya Adewale Ekwueme"""},
    "chinese": {
        "f": """Xiaoling Meiying Yuting Huiling Jingyi Shufen Wenjing Qiuyue Yanping Lihua""",
        "m": """Zhiwei Junjie Haoran Yichen Zhenyu Guoqiang Weiming Xiaobo Jianguo Zihao""",
        "s": """Zhang Wang Liu Chen Huang Zhao Zhou Sun Zhu Guo Luo Zheng Liang Xie Tang Feng
            Deng Peng Zeng Xiao Tian Yuan Cai Jiang Cheng"""},
    "japanese": {
        "f": """Haruka Yui Aoi Sakura Nanami Misaki Ayaka Kaori Mizuki Chihiro""",
        "m": """Haruto Sota Yuto Kenta Daiki Takumi Hiroshi Kazuki Shota Ryota""",
        "s": """Tanaka Watanabe Yamamoto Nakamura Kobayashi Kato Yoshida Yamada Sasaki Yamaguchi
            Matsumoto Inoue Kimura Shimizu Hayashi Saito Yamazaki Ikeda Hashimoto Ishikawa
            Ogawa Fujita Okada Goto"""},
    "korean": {
        "f": """Jiyeon Seoyeon Minji Hyejin Eunji Sooyoung Dahye Yerin Soojin""",
        "m": """Minjun Seojun Dohyun Jihoon Hyunwoo Junho Sungmin Taeyang Jaewon""",
        "s": """Park Choi Jung Kang Cho Yoon Jang Shin Kwon Hwang Ahn Jeon Baek Nam"""},
    "vietnamese": {
        "f": """Ngoc Thuy Huong Trang Phuong Hoa Nhung Thao""",
        "m": """Tuan Quang Thanh Hieu Khanh Dung Trung Vinh""",
        "s": """Pham Hoang Phan Dang Bui Duong Truong Vo Huynh Dinh"""},
    "filipino": {
        "f": """Maricel Jocelyn Rowena Lorna Marites Rosalinda""",
        "m": """Rodel Jericho Arnel Efren Danilo Rommel""",
        "s": """Bautista Ocampo Mercado Aquino Manalo Macaraeg Pangilinan Villareal
            Dimaculangan Soriano"""},
    "arabic": {
        "f": """Noor Layla Mariam Yasmin Salma Rania Huda Dalia Lina Samira Amal Hanan Rasha
            Dina Nadia Zainab Fatma Lubna Ghada Nawal""",
        "m": """Omar Khalid Tariq Yousef Karim Hamza Bilal Faisal Nabil Samir Walid Rami Ziad
            Majid Mahmoud Adel Sami Marwan Bassam Anwar""",
        "s": """Haddad Khoury Nassar Saleh Mansour Hamdan Qasim Darwish Aziz Farah Barakat
            Shalabi Najjar Khalil Abdullah Suleiman Nasser Hijazi Taha Jaber Ibrahim Yassin
            Mustafa Al-Amin Al-Rashid Bakri Dabbagh Ghanem Jarrar Zoubi"""},
    "polish": {
        "f": """Agnieszka Katarzyna Magdalena Malgorzata Zofia Justyna Dorota Ewelina Halina
            Bozena""",
        "m": """Krzysztof Tomasz Grzegorz Wojciech Lukasz Pawel Jakub Bartosz Zbigniew
            Mariusz""",
        "s": """Wisniewski Wozniak Kaczmarek Mazur Krawczyk Piotrowski Grabowski Pawlowski
            Michalski Zajac Krol Wieczorek Jablonski Majewski Olszewski Dudek Kowalczyk
            Zalewski Sikora Baran"""},
}

EAST_ASIAN = {"chinese": 0.35, "japanese": 0.2, "korean": 0.2, "vietnamese": 0.15,
              "filipino": 0.1}


def _cultures(**w):
    out = {}
    for k, v in w.items():
        if k == "east_asian":
            for c, f in EAST_ASIAN.items():
                out[c] = v * f
        else:
            out[k] = v
    return out


LOCALE_CULTURES = {
    "IN": _cultures(indian=0.86, arabic=0.06, british=0.04, east_asian=0.04),
    "US": _cultures(american=0.34, hispanic=0.2, african=0.1, east_asian=0.14, arabic=0.06,
                    indian=0.1, polish=0.06),
    "UK": _cultures(british=0.38, indian=0.16, african=0.13, polish=0.1, arabic=0.09,
                    east_asian=0.1, hispanic=0.04),
    "AU": _cultures(british=0.35, american=0.1, east_asian=0.22, indian=0.13, arabic=0.08,
                    polish=0.06, hispanic=0.06),
    "CA": _cultures(american=0.3, british=0.14, east_asian=0.16, indian=0.16, arabic=0.08,
                    hispanic=0.06, african=0.1),
}
LOCALE_WEIGHTS = {"IN": 0.36, "US": 0.26, "UK": 0.24, "AU": 0.07, "CA": 0.07}

# Words a name must not be: they occur in the templates, so a name equal to one would be
# found in text that is not a name.
NOT_NAMES = set("""will may mark grace hope joy bill pat sunny frank ray dawn summer april june
    august art rob sue chase hunter drew guy ivy lily daisy holly ruby amber jade pearl
    violet iris heather crystal sky star autumn river rain storm dale glen wood king young
    long white black brown green gray grey bell hill cook baker mason miller ward rich lance
    stone marsh moss lake fields banks price hall wells rice bush page case cross hunt dean
    prince chance hardy noble cash fox lamb bird swan crane man deep don sharp lane day
    read more sage spring winter best law long gold silver park song ma he hu xu lu wei su
    mai ye pan fan ding ren yao""".split())


def load_gazetteer(repo):
    """Every name token of the redactor's gazetteer (src/redact/names.txt), lower case."""
    path = os.path.join(repo, "src", "redact", "names.txt")
    words = set()
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.split("#", 1)[0].strip()
                if not line or line.startswith("["):
                    continue
                for w in line.split():
                    words.add(w.lower())
                    words.add(w.lower().replace("'", ""))
    except OSError:
        sys.stderr.write("gencorpus: warning: %s not found; test names not filtered\n" % path)
    return words


def _name_norm(n):
    return n.lower().replace("'", "").replace("-", "")


class NamePools:
    """First names (by gender) and surnames per culture for one split."""

    def __init__(self, split, gazetteer):
        self.first = {}
        self.sur = {}
        for culture, d in NAMES.items():
            for g in ("f", "m"):
                items = []
                for n in sorted(set(d[g].split())):
                    if n.lower() in NOT_NAMES or split_of("first.%s.%s" % (culture, n)) != split:
                        continue
                    if split == "test" and (_name_norm(n) in gazetteer or n.lower() in gazetteer):
                        continue
                    items.append(n)
                self.first[(culture, g)] = items
            items = []
            for n in sorted(set(d["s"].split())):
                if n.lower() in NOT_NAMES or split_of("sur.%s.%s" % (culture, n)) != split:
                    continue
                toks = [_name_norm(t) for t in re.split(r"[\s-]", n)] + [_name_norm(n)]
                if split == "test" and any(t in gazetteer for t in toks):
                    continue
                items.append(n)
            self.sur[culture] = items

    def counts(self):
        return (sum(len(v) for v in self.first.values()), sum(len(v) for v in self.sur.values()))

    def pick(self, rng, locale, gender=None):
        cultures = LOCALE_CULTURES[locale]
        while True:
            c = rng.choices(list(cultures), weights=list(cultures.values()))[0]
            g = gender or rng.choice("fm")
            firsts, surs = self.first.get((c, g), []), self.sur.get(c, [])
            if firsts and surs:
                return {"first": rng.choice(firsts), "last": rng.choice(surs), "gender": g,
                        "culture": c}


# Places. Each item is split by its id ("street.US.Cedar Lane").
PLACES = {
    "IN": {
        "society": """Shanti Apartments|Sunrise Heights|Green Valley Residency|Lakshmi Towers|
            Gulmohar Enclave|Sai Krupa Society|Ashirwad Apartments|Silver Oak Residency|
            Kamdhenu Towers|Nandanvan Society|Vrindavan Apartments|Panchsheel Heights|
            Sapphire Residency|Mangal Murti Society|Shivam Apartments|Tulsi Vihar|
            Prestige Lakeside|Brindavan Enclave|Kaveri Towers|Neelkanth Residency""",
        "road": """M G Road|Linking Road|Station Road|F C Road|Hill Road|Nehru Road|
            Ring Road|Karve Road|Brigade Road|Anna Salai|Park Street|S V Road|Link Road|
            Residency Road|Mall Road|Gandhi Marg|Tilak Road|Paud Road|Bund Garden Road|
            Old Airport Road""",
        "city": """Kothrud, Pune, 411|Andheri East, Mumbai, 400|Indiranagar, Bengaluru, 560|
            Adyar, Chennai, 600|Salt Lake, Kolkata, 700|Banjara Hills, Hyderabad, 500|
            Lajpat Nagar, New Delhi, 110|Navrangpura, Ahmedabad, 380|Malviya Nagar, Jaipur, 302|
            Gomti Nagar, Lucknow, 226|Kakkanad, Kochi, 682|Sector 17, Chandigarh, 160|
            Arera Colony, Bhopal, 462|Vijay Nagar, Indore, 452|Dharampeth, Nagpur, 440|
            R S Puram, Coimbatore, 641|Gokulam, Mysuru, 570|Adajan, Surat, 395|
            Boring Road, Patna, 800|Dispur, Guwahati, 781|Aundh, Pune, 411|Vashi, Navi Mumbai, 400|
            Jayanagar, Bengaluru, 560|Velachery, Chennai, 600"""},
    "US": {
        "street": """Cedar Lane|Maple Avenue|Oak Street|Birchwood Drive|Willow Court|
            Lincoln Avenue|Sycamore Road|Magnolia Boulevard|Hickory Lane|Juniper Street|
            Chestnut Avenue|Aspen Way|Dogwood Drive|Redwood Court|Pinecrest Road|
            Laurel Street|Sagebrush Trail|Cottonwood Lane|Bluebonnet Drive|Evergreen Terrace|
            Riverside Drive|Meadowbrook Lane|Hawthorne Street|Larkspur Avenue""",
        "city": """Denver, Colorado, 802|Austin, Texas, 787|Seattle, Washington, 981|
            Columbus, Ohio, 432|Raleigh, North Carolina, 276|Phoenix, Arizona, 850|
            Portland, Oregon, 972|Nashville, Tennessee, 372|Madison, Wisconsin, 537|
            Boise, Idaho, 837|Tampa, Florida, 336|Atlanta, Georgia, 303|Omaha, Nebraska, 681|
            Albany, New York, 122|Sacramento, California, 958|Richmond, Virginia, 232|
            Tucson, Arizona, 857|Spokane, Washington, 992|Dayton, Ohio, 454|
            Knoxville, Tennessee, 379|Savannah, Georgia, 314|Fresno, California, 937"""},
    "UK": {
        "street": """Wellington Road|Kingsley Road|Victoria Street|Church Lane|Station Road|
            Mill Lane|Queens Road|Manor Way|Albert Street|Grange Avenue|Beech Grove|
            Chapel Street|Orchard Close|Park Crescent|Highfield Road|St Johns Road|
            Alexandra Terrace|Holly Bank|Carlton Gardens|Dukes Avenue|Ashgrove Road|
            Westbourne Place|Fernhill Drive|Rosemount Avenue""",
        "city": """Leeds, LS|York, YO|Manchester, M|Bristol, BS|Birmingham, B|Sheffield, S|
            Nottingham, NG|Cardiff, CF|Glasgow, G|Edinburgh, EH|Norwich, NR|Leicester, LE|
            Brighton, BN|Oxford, OX|Cambridge, CB|Exeter, EX|Liverpool, L|
            Newcastle, NE|Belfast, BT|Coventry, CV|Derby, DE|Bath, BA|Reading, RG|
            Southampton, SO|Plymouth, PL|Swansea, SA|Aberdeen, AB"""},
    "AU": {
        "street": """Smith Street|George Street|Brunswick Street|King William Road|
            Chapel Street|Oxford Street|Lygon Street|Bourke Street|Flinders Lane|
            Beaufort Street|Hay Street|Boundary Road|Gympie Road|Military Road|Darling Street|
            Wattle Avenue""",
        "city": """Fitzroy, Victoria, 3065|Newtown, New South Wales, 2042|
            Paddington, Queensland, 4064|Subiaco, Western Australia, 6008|
            Norwood, South Australia, 5067|Sandy Bay, Tasmania, 7005|Carlton, Victoria, 3053|
            Manly, New South Wales, 2095|Fremantle, Western Australia, 6160|
            Glenelg, South Australia, 5045|Toowong, Queensland, 4066|Braddon, Canberra, 2612"""},
    "CA": {
        "street": """Queen Street West|Yonge Street|Maple Grove Road|Spadina Avenue|
            Bloor Street|Granville Street|Jasper Avenue|Sainte Catherine Street|Portage Avenue|
            Barrington Street|Elgin Street|Bank Street|Whyte Avenue|Commercial Drive""",
        "city": """Toronto, Ontario, M|Ottawa, Ontario, K|Vancouver, British Columbia, V|
            Calgary, Alberta, T|Edmonton, Alberta, T|Winnipeg, Manitoba, R|
            Halifax, Nova Scotia, B|Montreal, Quebec, H|Victoria, British Columbia, V|
            Hamilton, Ontario, L|Regina, Saskatchewan, S|Saskatoon, Saskatchewan, S"""},
}

EMAIL_HOSTS = {
    "IN": ["gmail dot com", "yahoo dot co dot in", "rediffmail dot com", "outlook dot com",
           "hotmail dot com", "zoho mail dot in"],
    "US": ["gmail dot com", "yahoo dot com", "outlook dot com", "icloud dot com",
           "hotmail dot com", "aol dot com", "proton dot me"],
    "UK": ["gmail dot com", "btinternet dot com", "outlook dot com", "yahoo dot co dot uk",
           "hotmail dot co dot uk", "sky dot com", "icloud dot com"],
    "AU": ["gmail dot com", "bigpond dot com", "outlook dot com", "yahoo dot com dot au",
           "optusnet dot com dot au"],
    "CA": ["gmail dot com", "rogers dot com", "outlook dot com", "shaw dot ca",
           "yahoo dot ca"],
}
UPI_HANDLES = ["ybl", "ibl", "axl", "paytm", "okaxis", "oksbi", "okicici", "okhdfcbank",
               "upi", "apl", "ptyes", "axisbank", "icici", "sbi", "kotak", "hdfcbank"]

COMPANIES = {
    "banking": {"IN": ["Kaveri Bank", "Sahyadri Co-operative Bank", "Indus Valley Bank",
                       "Narmada Finance Bank", "Deccan Grameen Bank", "Ganga Savings Bank"],
                "US": ["Northstar Bank", "Prairie Federal Credit Union", "Bluewater Bank",
                       "Summit Trust Bank", "Harborline Savings"],
                "UK": ["Albion Bank", "Thameside Building Society", "Pennine Bank",
                       "Kestrel Bank", "Severn Savings"],
                "AU": ["Southern Cross Bank", "Banksia Credit Union", "Coral Coast Bank"],
                "CA": ["Maple Leaf Trust", "Laurentian Savings", "Rideau Bank"]},
    "telecom": {"IN": ["Skyline Telecom", "JetNet Mobile", "Bharat Broadband", "Zing Telecom"],
                "US": ["Horizon Wireless", "Beacon Mobile", "Clearpath Fiber", "Mesa Cable"],
                "UK": ["Britline Mobile", "Kite Broadband", "Lumen Telecom", "Orbit Mobile"],
                "AU": ["Outback Mobile", "Wattle Telecom", "Reefnet"],
                "CA": ["Northern Lights Wireless", "Boreal Telecom", "Cascade Mobile"]},
    "insurance": {"IN": ["Suraksha Insurance", "Kavach General Insurance", "Jeevan Life"],
                  "US": ["Evergreen Auto Insurance", "Pioneer Mutual", "Keystone Health Plans"],
                  "UK": ["Castle Insurance", "Heritage Mutual", "Lighthouse Cover"],
                  "AU": ["Kookaburra Insurance", "Harbourside Cover"],
                  "CA": ["Timberline Insurance", "Polar Mutual"]},
    "delivery": {"IN": ["QuickKart", "Dakiya Express", "ParcelWala", "Tez Logistics"],
                 "US": ["Swift Parcel", "RoadRunner Freight", "Parcel Pronto"],
                 "UK": ["Royal Courier Services", "Parcelhop", "DashDrop"],
                 "AU": ["Kanga Couriers", "Southern Post Express"],
                 "CA": ["True North Couriers", "Moose Express"]},
    "healthcare": {"IN": ["Lotus Hospital", "Arogya Clinics", "Sanjeevani Diagnostics"],
                   "US": ["CarePlus Pharmacy", "Riverbend Medical Group", "Sunrise Clinic"],
                   "UK": ["Meadowbank Surgery", "Northgate Dental Practice", "Elm Tree Clinic"],
                   "AU": ["Bayside Medical Centre", "Eucalypt Health"],
                   "CA": ["Lakeshore Health Centre", "Prairie Pharmacy"]},
    "retail": {"IN": ["ShopEasy", "Bazaar Mart", "Chennai Silks Online", "TechDukaan"],
               "US": ["HomeHaven", "GadgetGrove", "Trailhead Outfitters"],
               "UK": ["Brambles Homeware", "Gadget Street", "Hartley and Moss"],
               "AU": ["Billabong Home", "Southern Sports"],
               "CA": ["Maple Mart", "Cedar Home Goods"]},
    "utilities": {"IN": ["Maharashtra Power", "Indraprastha Gas", "Jal Board Services"],
                  "US": ["Rocky Mountain Power and Light", "Tri County Water", "Gulf Gas"],
                  "UK": ["Northern Energy", "Seaview Water", "Greenlight Gas and Electric"],
                  "AU": ["Sunstate Energy", "Murray Water"],
                  "CA": ["Hydro Northern", "Prairie Gas"]},
    "travel": {"IN": ["SkyBharat Airlines", "YatraGo", "Konkan Holidays"],
               "US": ["Pacifica Airlines", "Tripwise Travel", "Bluebird Hotels"],
               "UK": ["Britannic Airways", "Cotswold Holidays", "Railway Travel Centre"],
               "AU": ["Southern Skies Airlines", "Wanderlust Tours"],
               "CA": ["Aurora Air", "Rockies Rail Tours"]},
}


def split_items(prefix, items, split):
    """The items of a list that belong to a split (id = prefix + item)."""
    return [x for x in items if split_of(prefix + x) == split]


# ---------------------------------------------------------------------------------------------
# Phrasings. Each string's id is "<category>.<first 6 hex of sha1(text)>"; split_of(id) decides
# its split. {agent} {company} {V} {cust} ... are filled in by the builder.
# ---------------------------------------------------------------------------------------------
GREETINGS = """Good morning, thank you for calling {company}, this is {agent}. How may I help you?
Thank you for calling {company}, my name is {agent}. How can I help you today?
Hello, {company} customer care, {agent} speaking. How may I assist you?
Hi, you're through to {company}, I'm {agent}. What can I do for you?
Good afternoon, {company}, this is {agent} speaking. How can I help?
Welcome to {company} support. You are speaking with {agent}. How may I help you today?
Good evening and thanks for calling {company}. My name's {agent}, how can I help?
{company}, good morning, {agent} here. What can I do for you today?
Hello and welcome to {company}. I'm {agent} from the customer service team. How can I help you?
Thanks for holding, this is {agent} at {company}. How may I help?
Good morning, you've reached {company}. My name is {agent}. Who am I speaking with today?
Hi there, thanks for calling {company}. {agent} speaking, how can I help you this afternoon?
Namaste, thank you for calling {company}, I am {agent}. How may I help you?
Hello, this is {agent} with {company}. What can I help you with?""".split("\n")

# --short calls (small committed fixtures) greet and close briefly.
SHORT_GREETINGS = """{company}, {agent} speaking. How can I help?
{company}, this is {agent}. How can I help you?
Hello, {agent} at {company}. What can I do for you?
Hi, {company}, {agent} here.
{company}, good morning, {agent} speaking.
You're through to {agent} at {company}.""".split("\n")
SHORT_CLOSE_AGENT = """Anything else?
Anything else today?
Is that all?
Can I help with anything else?""".split("\n")
SHORT_CLOSE_CALLER = """No, thanks. Bye.
That's all, thanks.
No, that's it. Thank you.
No, thank you. Bye.
Nope, all good. Thanks.
That's everything. Bye.
All sorted, thank you.
No. Thanks a lot.""".split("\n")

CALLER_OPENERS = """Hi {agent}, 
Hello, 
Yes, hi. 
Hi, good morning. 
Hello {agent}, thanks. 
Hi there. 
Oh, hello. 
Hi, yes. 
Good morning {agent}. 
Hey, hi. 
Hello, yes, 
Right, hi. """.split("\n")

VOLUNTEER_NAME = """Hi, this is {V}. 
Hello, my name is {V}, 
Yes, hi, {V} here. 
Hi, it's {V} calling. 
Good morning, I'm {V}, and """.split("\n")

ACKS = """Thank you. 
Thanks. 
Got it. 
Perfect. 
Great, thank you. 
Okay. 
Lovely, thanks. 
Alright, noted. 
Thank you for that. 
Right, thanks. 
Okay, that's fine. 
Brilliant. 
Noted, thank you. 
Sure, one second. """.split("\n")

ACKS_NAMED = """Thank you, {cust}. 
Thanks, {cust}. 
Okay {cust}, thank you. 
Perfect, thank you {cust}. 
Alright {cust}. 
Thank you so much, {cust}. """.split("\n")

# Generic answer frames; {V} is the value span.
ANSWER_DIRECT = """It's {V}.
Sure, it's {V}.
Yes, it is {V}.
That would be {V}.
{V}.
Okay, {V}.
Right, so it's {V}.
Yeah, it's {V}.
I have it here, it's {V}.
It is {V}.
Sure. {V}.
Yes. {V}.
Of course, it's {V}.
That's {V}.
Yep, {V}.
Okay, so that's {V}.""".split("\n")

ANSWER_HESITANT = """Um, it's, uh, {V}.
Uh, hang on, let me find it. Okay, it's {V}.
Hmm, I think it's {V}.
Er, just a second... {V}.
Um, yeah, {V}.
Oh, just a moment... right, {V}.
Let me check. Um, {V}.
Uh, yes, so, {V}.
Give me a second, it's in my other bag... okay, here. {V}.
Hmm, hold on. Yeah, it's {V}.""".split("\n")

CORRECTIONS = """{A}... sorry, {V}
{A}, no wait, {V}
{A}... I mean {V}
{A}, sorry, let me start again. {V}
{A}... no, scratch that, {V}
{A}, oops, sorry, {V}
{A}... hang on, that's wrong. {V}
{A}, no, sorry, my mistake, {V}""".split("\n")

CONTINUERS = """Go on.
Mm-hm, yes?
Okay, and the rest?
Yes, I'm listening.
Got that, carry on.
Right, go ahead.
Uh huh.
Okay, and then?
Yes, please continue.
Sure, go on.""".split("\n")

SECOND_HALF = """{V}.
And then {V}.
Then {V}.
The rest is {V}.
Yeah, then {V}.
And {V}.""".split("\n")

INTERRUPT_AGENT = """Sorry, you broke up there. Could you say that again?
Sorry, I missed that, could you repeat it please?
Apologies, the line is a bit bad. Once more, please?
Sorry, could you go a bit slower?
I'm sorry, you cut out. Can you repeat that from the start?
Sorry, say again please?""".split("\n")

INTERRUPT_REPEAT = """Sure. {V}.
Okay, slowly this time. {V}.
Yes, sorry. {V}.
No problem. It's {V}.
Right. {V}.""".split("\n")

READBACK = """Let me read that back: {V}. Is that correct?
So that's {V}, right?
Just to confirm, {V}?
I have {V}. Is that right?
Okay, so {V}. Did I get that right?
Let me repeat it to be sure: {V}.
Thank you. So that was {V}, correct?
I'll just repeat that. {V}. Yes?""".split("\n")

CONFIRM = """Yes, that's right.
Correct.
Yes.
That's it.
Yep, that's correct.
Exactly, yes.
Yes, spot on.
That's right, yes.""".split("\n")

SPELL_LEADS = """That's {V}.
Spelled {V}.
I'll spell it: {V}.
That's spelled {V}.
Let me spell that for you, {V}.""".split("\n")

ASK_SPELL = """Could you spell your surname for me?
How do you spell that, please?
Can you spell the last name?
Sorry, could you spell that?
Would you mind spelling your surname?""".split("\n")

AGENT_SPELL_BACK = """Is that {V}?
So, {V}, is that right?
Let me check the spelling: {V}.""".split("\n")

CLOSINGS_AGENT = """Is there anything else I can help you with today?
Is there anything else I can do for you?
Anything else I can help with today?
Is there anything else you need?
Can I help you with anything else?
Was there anything else?""".split("\n")

CLOSINGS_CALLER = """No, that's all. Thank you.
No, that's everything, thanks a lot.
No thanks, you've been very helpful.
That's it for now. Thank you so much.
Nope, that's all. Have a good day.
No, I think that covers it. Thanks.
No, that's fine. Thank you for your help.""".split("\n")

GOODBYES_AGENT = """Thank you for calling {company}. Have a great day.
You're welcome. Take care, goodbye.
My pleasure. Have a lovely day.
Thanks for calling, bye now.
Thank you, and have a good evening.""".split("\n")

CALLER_REACTIONS = """Okay, that's fine.
Great, thanks.
Alright.
Oh, okay. That works.
Fine, let's do that.
Okay, good to know.
Sounds good.
Right, okay.
Perfect, thank you.
Hmm, okay, if that's the only option.""".split("\n")

PIN_WARNINGS = """Please don't share your PIN with anyone, not even with us. I haven't noted it.
Oh, please never tell anyone your PIN, including our staff. You may want to change it.
We never need your PIN, so please keep it to yourself. I'd suggest changing it today.""".split("\n")

# Per slot: agent questions (a list), the caller's own noun phrases ("my mobile number"),
# and whether a read-back by the agent is natural.
SLOT_TEXT = {
    "name": {"q": """May I have your full name, please?
Could I take your name?
Can I get your full name?
Who am I speaking with, please?
Could you tell me your name, please?
And your name is?
Can I start with your first and last name?
What name is the account under?""", "noun": """My name is|It's|This is|The account is under the name|I'm"""},
    "other_name": {"q": """And what is the patient's full name?
Who is the nominee on the policy?
And the name of the person receiving the parcel?
What's the name of the other passenger?
Whose name should it be in?""", "noun": """The name is|It's for|That's|It should be"""},
    "phone": {"q": """Can I have your registered mobile number?
What's the best number to reach you on?
Could you confirm the phone number on the account?
And your contact number, please?
Can you give me the mobile number linked to the account?
Which number are you calling from?
Could I take a phone number for you?""",
              "noun": """My number is|My mobile number is|The number is|You can reach me on|The registered number is|It's"""},
    "dob": {"q": """For verification, please tell me your date of birth.
Can you confirm your date of birth?
And your date of birth, please?
What is your date of birth?
Could I have the date of birth on the account?
To verify, can I take your birth date?""",
            "noun": """My date of birth is|I was born on|It's|My birthday is"""},
    "address": {"q": """What is the address on the account?
Can you confirm your delivery address?
Could I take your full address, please?
And your current address?
Where should we send it? The full address, please.
What's the billing address?""",
                "noun": """I live at|The address is|It's|Please send it to|My address is"""},
    "postcode": {"q": """And the postcode, please?
Can I take your postcode?
What's the postcode there?
Could you confirm the postal code?""", "noun": """The postcode is|It's|That's|The postal code is|Postcode"""},
    "email": {"q": """Can I have your email address?
What email should we send the confirmation to?
Could you confirm the email on file?
And an email address for the receipt?
What's your email, please?""", "noun": """My email is|It's|The email is|You can send it to"""},
    "card": {"q": """Could you read out the card number?
What is the card number, please?
Can I take the long number on the front of the card?
Please tell me the sixteen digit card number.
Which card would you like to use? The full number, please.
Could you give me the card number?""",
             "noun": """The card number is|My card number is|It's|The number on the card is"""},
    "expiry": {"q": """And the expiry date?
What's the expiry on the card?
When does the card expire?
Could you give me the valid thru date?""", "noun": """It expires|The expiry is|It's|Expiry"""},
    "cvv": {"q": """And the three digits on the back?
Can I have the security code on the back of the card?
And the CVV, please?
What's the card verification code?""", "noun": """The code is|It's|The CVV is|The security code is|On the back it says|The three digits are"""},
    "otp": {"q": """I have sent an OTP to your phone. Could you read it out?
You should have received a one time password by text. What is it?
Please tell me the verification code we just sent you.
Could you read me the code from the SMS?
I've just sent a six digit code to your mobile. Can you read it to me?""",
            "noun": """The OTP is|The code is|It says|I got|It's"""},
    "account": {"q": """What is the account number?
Can I have your account number, please?
Which account should the refund go to? The account number, please.
Could you read out the account number?
And the bank account number?
What's the number of the account?
And which account number is it?""",
                "noun": """The account number is|My account number is|It's|The account is"""},
    "ifsc": {"q": """And the IFSC code of the branch?
Can you tell me the IFSC?
What's the IFSC code, please?""", "noun": """The IFSC is|IFSC|It's|The IFSC code is|The branch code is|The IFSC code's|Branch IFSC|The code is"""},
    "sortcode": {"q": """And the sort code?
Can I take the sort code, please?
What's the sort code on the account?""", "noun": """The sort code is|Sort code|It's|The sort code's|That's"""},
    "iban": {"q": """Could you give me the IBAN?
What's the IBAN for the account?
Can you read out the full IBAN, please?""", "noun": """The IBAN is|It's|IBAN"""},
    "swift": {"q": """And the SWIFT code of the receiving bank?
Do you have the BIC or SWIFT code?
What's the SWIFT code, please?""", "noun": """The SWIFT code is|It's|The BIC is"""},
    "upi": {"q": """What is your UPI ID?
Which UPI ID should we refund to?
Can you tell me the UPI ID?
Which UPI ID would you like the money sent to?
Please tell me your UPI ID.
Do you have a UPI ID I can use?""", "noun": """My UPI ID is|It's|The UPI is|You can send it to"""},
    "aadhaar": {"q": """Could you tell me your Aadhaar number?
For KYC, I need your Aadhaar number, please.
Can I have the twelve digit Aadhaar number?""",
                "noun": """My Aadhaar number is|It's|The Aadhaar is|Aadhaar number"""},
    "pan": {"q": """And your PAN, please?
Could you give me your PAN card number?
What's the PAN number?""", "noun": """My PAN is|It's|The PAN number is|PAN"""},
    "voter_id": {"q": """Could you read the number on your voter ID card?
What's your EPIC number on the voter ID?
Can you give me the voter ID number?
What's the number on your voter card?
And the voter ID number, please?""",
                 "noun": """The voter ID number is|It's|The EPIC number is"""},
    "passport": {"q": """What's your passport number?
Could you read out the passport number, please?
Can I have the passport number exactly as printed?""",
                 "noun": """My passport number is|It's|The passport number is|The number is|It says|Passport number|My passport is"""},
    "ssn": {"q": """To verify your identity, can I have your Social Security number?
Could you confirm your Social Security number?
And the social, please?
I'll need your SSN to continue.""",
            "noun": """My social is|It's|The Social Security number is|My SSN is"""},
    "itin": {"q": """What's your ITIN, please?
Could I have your individual taxpayer identification number?
And the ITIN on the account?""", "noun": """My ITIN is|It's|The ITIN is"""},
    "nino": {"q": """Can I take your National Insurance number?
What's your National Insurance number, please?
Could you confirm your NI number?""",
             "noun": """My National Insurance number is|It's|The NI number is"""},
    "nhs": {"q": """Do you have your NHS number?
Can I take your NHS number, please?
What's the NHS number on your letter?""", "noun": """My NHS number is|It's|The NHS number is"""},
    "sin": {"q": """Could you confirm your Social Insurance Number?
Can I have your SIN, please?""", "noun": """My SIN is|It's|The SIN is|My social insurance number is|The number is"""},
    "medicare": {"q": """Can I get your Medicare number?
What's the number on your Medicare card?""",
                 "noun": """My Medicare number is|It's|The Medicare number is|The card number is|On my card it's"""},
    "gstin": {"q": """Is this a business purchase? What's the GSTIN for the invoice?
Could you give me your GST number?
What GSTIN should go on the invoice?""", "noun": """The GSTIN is|It's|Our GST number is"""},
    "ip": {"q": """Can you read me the IP address shown on the router page?
What IP address does the settings page show?
Could you tell me the IP address you see?
What's the IP address on the status screen?
And the IP address, please?""",
           "noun": """The IP address is|It says|It's|It shows"""},
    "ref": {"q": """Could I have your {refname}?
What's the {refname}, please?
Can you read out the {refname}?
Do you have the {refname} handy?
And the {refname}?""", "noun": """The {refname} is|It's|My {refname} is|I have it here,"""},
    "pin": {"q": "", "noun": """My PIN is|The PIN is|It's|My PIN's|Oh, the PIN is|The card PIN is|My ATM PIN is"""},
}


# ---------------------------------------------------------------------------------------------
# Scenarios. id "sc.<domain>.<name>" (split by split_of). "open": the caller's reasons (each a
# phrasing id of its own); "slots": what the agent may ask for (2-4 are asked); "talk": business
# talk with ordinary numbers that must survive redaction, "A:"/"C:" lines joined by " || ".
# {n:kind:spec} is a non-PII number (see render_num).
# ---------------------------------------------------------------------------------------------
SCENARIOS = [
    # ------------------------------------------------------------------ banking
    dict(id="banking.lost_card", domain="banking", title="Lost debit card block",
         open="""I think I have lost my debit card and I want to block it immediately.
My wallet was stolen this morning and my card was in it. I need to cancel it.
I can't find my credit card anywhere, could you block it please?
I left my card at a restaurant last night and I'm worried someone might use it.
My card got swallowed by an ATM and I'd like a replacement.""",
         slots="name phone dob card otp address gov email", must="name",
         talk="""A: Your card is blocked now. A new card will reach you in {n:days:3-7:working} and there is a fee of {n:money:100-300:50}.
A: I've blocked the card. The replacement is free of charge and should arrive within {n:dayrange:working}. || C: Will I need to set a new PIN?
A: Done, the card is cancelled. I can see {n:count:transaction|transactions:2-4} today, but none after {n:time}. || C: Okay, those were mine.
A: The card is blocked. You can still use net banking, and your daily limit stays at {n:money:20000-50000:5000}.
C: Is there a charge for the new card? || A: Normally it's {n:money:150-250:50}, but I've waived it this time."""),
    dict(id="banking.dispute", domain="banking", title="Disputed card charges",
         open="""I see a couple of charges on my statement that I did not make.
There's a payment on my card I don't recognise at all.
Someone has used my card online, there are charges from a shop I've never heard of.
I was charged twice for the same purchase and I want to dispute it.""",
         slots="name card phone dob otp email address gov", must="name",
         talk="""A: I see charges of {n:money:20-120:1} and {n:money:121-400:1}. I've raised a dispute, and you should hear back in {n:dayrange:business}.
A: I can see the payment of {n:money:300-2000:1}. A temporary credit will be applied within {n:hours:24-48:24}.
A: I've flagged {n:count:charge|charges:2-3} as fraudulent. The investigation usually takes {n:days:10-15:working}. || C: And I won't have to pay them meanwhile?
A: The duplicate payment of {n:money:50-900:1} will be reversed. It can take up to {n:days:5-7:working} to show."""),
    dict(id="banking.update_contact", domain="banking", title="Update contact details",
         open="""I've moved house and need to update my address on the account.
I changed my phone number and I'd like to update it with the bank.
I'd like to change the email address you have for me, I don't use the old one any more.
I'm not getting your text messages, I think you have an old number for me.""",
         slots="name dob phone address email otp postcode gov", must="name",
         talk="""A: That's updated. It can take up to {n:hours:24-48:24} to show on all our systems.
A: All done. You'll get a confirmation letter in about {n:days:5-10:working}. || C: Great, thanks.
A: I've updated it. For security, card payments over {n:money:500-2000:500} will need a code for the next {n:days:2-3:}."""),
    dict(id="banking.intl_transfer", domain="banking", title="International transfer",
         open="""I need to send money to my daughter who is studying abroad.
I want to make an international transfer to a supplier in Germany.
I'd like to send some money to my brother's account overseas.
My international payment hasn't arrived and I want to check on it.""",
         slots="name dob intl account phone otp", must="name intl",
         talk="""A: The transfer fee is {n:money:10-30:5} and the money should arrive in {n:dayrange:working}.
A: The exchange rate is fixed for {n:mins:15-30:15}. The total with charges comes to {n:money:1000-5000:100}.
A: International transfers over {n:money:5000-10000:1000} need an extra check, so allow {n:days:2-3:working}. || C: That's fine."""),
    dict(id="banking.loan_emi", domain="banking", title="Loan repayment query",
         open="""I have a question about my personal loan repayments.
I'd like to know how much is left on my car loan.
Can I pay off my loan early? I want to know the charges.
My loan instalment was debited twice this month.""",
         slots="name dob phone bank gov email", must="name",
         talk="""A: You have {n:count:instalment|instalments:8-30} left of {n:money:3000-15000:500} each.
A: Early closure has a charge of {n:percent:2-4}, so the total would be {n:money:40000-90000:1000}.
A: The duplicate debit of {n:money:2000-9000:100} will be refunded within {n:days:3-5:working}. || C: Okay, thank you.
C: What's the interest rate now? || A: It's {n:percent:9-14} per year, fixed for {n:years:2-3}."""),
    dict(id="banking.netbanking_lock", domain="banking", title="Online banking locked",
         open="""My online banking is locked after I typed the password wrong.
I can't log into the app, it says my account is blocked.
I keep getting an error when I try to log in to internet banking.
I forgot my login details and now the app has locked me out.""",
         slots="name phone otp dob pin email gov", must="name otp",
         talk="""A: Your access is unlocked. The new password must be at least {n:count:character|characters:8-12} long.
A: It was locked after {n:count:attempt|attempts:3-5}. It's reset now, and the link is valid for {n:mins:10-30:5}.
A: Done. Please log in within {n:hours:1-2:1}, otherwise the temporary password expires."""),
    # ------------------------------------------------------------------ telecom
    dict(id="telecom.plan_upgrade", domain="telecom", title="Prepaid plan upgrade",
         open="""I want to upgrade my plan, I keep running out of data.
Can you tell me about the unlimited plans? My current one is too small.
I'd like to switch to a bigger data pack.
My plan expires soon and I'd like something with more data.""",
         slots="name phone email card upi otp", must="phone",
         talk="""A: The {n:plan} plan costs {n:money99:300-800} for {n:days:28-84:} with {n:gb:1-3} per day.
A: There's a plan at {n:money:20-60:5} a month with {n:gb:30-100} of data. || C: Does it include calls?
A: I've activated it. You'll get {n:gb:2-3} per day for the next {n:days:28-56:}.
C: How much is the family plan? || A: It's {n:money:40-90:5} a month for up to {n:count:line|lines:3-5}."""),
    dict(id="telecom.high_bill", domain="telecom", title="High bill and autopay",
         open="""My bill this month is much higher than usual.
I was charged a lot more than my plan price and I don't understand why.
There are extra charges on my phone bill that I didn't expect.
Why is my bill so high? I haven't used anything extra.""",
         slots="name phone card expiry cvv dob email pin otp", must="name",
         talk="""A: Your plan is {n:money:40-70:5}, but there were roaming charges of {n:money:20-90:1}. I can credit {n:money:10-30:5} as a goodwill gesture.
A: The bill is {n:money:80-150:1} because of {n:count:international call|international calls:3-9}. || C: Oh, I see.
A: I've set up autopay. It will run on the {n:ordday} and you'll save {n:money:5-10:5} a month."""),
    dict(id="telecom.sim_replace", domain="telecom", title="SIM replacement",
         open="""My SIM card stopped working, I need a new one.
I lost my phone and need a replacement SIM with the same number.
My phone says no SIM card, can you help?
I want to switch to an eSIM on my new phone.""",
         slots="name phone gov dob address otp", must="name phone",
         talk="""A: The new SIM will be active within {n:hours:2-4:1}. There's a charge of {n:money:20-50:5}.
A: I've sent the eSIM activation. It takes about {n:mins:15-30:15} to work. || C: Okay.
A: A replacement SIM will be delivered in {n:days:2-3:working}. Your old SIM is blocked now."""),
    dict(id="telecom.broadband_fault", domain="telecom", title="Broadband outage",
         open="""My internet has been down since yesterday evening.
The broadband keeps dropping every few minutes.
My wifi is really slow, I'm paying for much faster speeds.
The router lights are red and nothing is connecting.""",
         slots="name phone ref ip address email gstin postcode", must="name",
         talk="""A: There's work in your area. It should be fixed in {n:hours:4-8:1}. || C: And until then?
A: Your line is synced at {n:mbps:20-80}, but your plan is {n:mbps:100-300}. I'll book an engineer between {n:timerange}.
A: I've reset the line. Please restart the router and wait {n:mins:5-10:5}. || C: Okay, I'll try that.
A: I'll add a credit of {n:money:5-20:5} for the {n:days:2-3:} without service."""),
    dict(id="telecom.router_setup", domain="telecom", title="New router setup",
         open="""I got a new router from you and I can't get it to connect.
I'm setting up the broadband in my new office and I'm stuck.
My router was replaced yesterday and the internet still doesn't work.
I need help configuring my home router.""",
         slots="name phone ip ref email address gstin", must="ip",
         talk="""A: Please hold the reset button for {n:count:second|seconds:10-30} and wait {n:mins:2-5:1}. || C: Okay, the lights are green now.
A: Your plan gives you {n:mbps:100-500}. You should see that speed in about {n:mins:10-15:5}.
A: The router supports up to {n:count:device|devices:20-40} at once, so you're fine."""),
    dict(id="telecom.roaming", domain="telecom", title="International roaming pack",
         open="""I'm travelling abroad next week and need a roaming pack.
Can you activate international roaming on my number?
I'm going to Dubai for a conference, what roaming plans do you have?
I want to make sure my phone works when I travel to Europe.""",
         slots="name phone card otp email passport gov", must="phone",
         talk="""A: The roaming pack is {n:money:500-3000:100} for {n:days:7-30:} with {n:gb:2-10} of data.
A: I've activated it. Incoming calls are free and outgoing calls are {n:money:1-5:1} a minute. || C: That's good.
A: It starts on the day you land and includes {n:mins:100-300:50} of calls."""),
    dict(id="banking.overseas_transfer", domain="banking", title="Overseas payment",
         open="""I want to pay a university abroad from my account.
I need to wire money to a hotel in Spain for a deposit.
How do I send money to a friend's bank account in Ireland?
My overseas transfer was returned and I want to send it again.""",
         slots="name intl phone otp dob account gov", must="name intl",
         talk="""A: The fee for this transfer is {n:money:15-25:5}. It should reach the beneficiary in {n:dayrange:working}.
A: The transfer was returned because of a wrong code. I'll refund the {n:money:10-20:5} charge. || C: Thank you.
C: Is there a limit? || A: You can send up to {n:money:100000-500000:50000} a day online."""),
    # ------------------------------------------------------------------ insurance
    dict(id="insurance.motor_claim", domain="insurance", title="Motor claim",
         open="""I had a small accident yesterday and want to make a claim.
Someone hit my car in the parking lot and I need to file a claim.
I'd like to check on my car insurance claim, it's been a while.
My car was damaged in the storm last week.""",
         slots="name ref phone dob bank address email gov", must="name ref",
         talk="""A: The surveyor will call you within {n:hours:24-48:24}. The excess on your policy is {n:money:100-500:50}.
A: Your claim for {n:money:20000-60000:1000} is approved. The payment will be made in {n:dayrange:working}.
A: I can see {n:count:car|cars:2-2} were involved. The garage estimate was {n:money:800-3000:50}. || C: Yes, that's right.
C: When will I get the money? || A: Within {n:days:5-7:working} of the final bill."""),
    dict(id="insurance.health_claim", domain="insurance", title="Health insurance claim",
         open="""I want to check the status of a hospital claim.
My mother was in hospital and I need to claim the expenses.
The hospital says the cashless approval hasn't come through.
I submitted a claim for my surgery last month and haven't heard back.""",
         slots="name ref other_name dob phone bank email", must="name ref",
         talk="""A: The claim of {n:money:30000-150000:1000} is under review. It usually takes {n:days:7-15:working}.
A: {n:money:20000-80000:1000} is approved. The remaining {n:money:2000-9000:500} is not covered under the room rent limit.
A: The cashless approval will be sent to the hospital within {n:hours:2-6:1}. || C: Thank you, that's a relief."""),
    dict(id="insurance.premium_payment", domain="insurance", title="Premium payment",
         open="""I'd like to pay my insurance premium over the phone.
My policy renewal is due and I want to pay now.
I missed my premium payment, is my policy still active?
Can I switch from yearly to monthly payments?""",
         slots="name ref card expiry cvv dob email upi bank", must="name",
         talk="""A: The premium is {n:money:8000-25000:100} for the year, or {n:money:700-2200:10} a month.
A: There's a grace period of {n:days:15-30:15}, so your cover is still active. || C: Phew, okay.
A: The payment is done. You'll get the receipt in {n:mins:10-20:5}."""),
    dict(id="insurance.nominee_update", domain="insurance", title="Change of nominee and address",
         open="""I want to change the nominee on my life insurance policy.
I got married recently and need to update my policy details.
I'd like to add my wife as a beneficiary.
I need to update my address and the nominee on my policy.""",
         slots="name ref other_name dob address gov phone", must="name other_name",
         talk="""A: The change will be updated within {n:days:3-7:working}. There is no charge for this.
A: I'll send a form to sign. Please return it within {n:days:15-30:15}. || C: Sure.
A: Your cover stays at {n:money:500000-2000000:100000} and the premium doesn't change."""),
    # ------------------------------------------------------------------ delivery
    dict(id="delivery.missed_delivery", domain="delivery", title="Missed delivery",
         open="""The courier came when I wasn't home and now my parcel is stuck.
I got a message that delivery failed, but I was at home all day.
My package was supposed to come yesterday and it didn't.
I missed the delivery and want to reschedule it.""",
         slots="name phone address otp ref postcode email", must="ref",
         talk="""A: The courier will come tomorrow between {n:timerange}. || C: Okay, I'll be home.
A: Your order of {n:count:item|items:2-5} is at the local hub. It will be delivered in {n:days:1-2:working}.
A: I've rescheduled it for {n:time}. Please keep the code ready for the courier.
C: Can it come in the evening? || A: The last slot is {n:time}, I've booked that."""),
    dict(id="delivery.redirect", domain="delivery", title="Redirect a shipment",
         open="""I'd like to redirect a parcel to my office instead of my home.
Can the package be delivered to my neighbour instead?
I'm going to be away, can you hold my parcel or send it somewhere else?
I need to change the delivery address for my shipment.""",
         slots="name address phone ref email other_name postcode", must="ref address",
         talk="""A: I've changed it. The shipment has {n:count:box|boxes:2-4}, so it may come in two vans. There's a fee of {n:money:5-15:1}.
A: We can hold it for {n:days:5-7:} at the depot. || C: That's perfect.
A: It will be delivered between {n:timerange} on Friday."""),
    dict(id="delivery.damaged_refund", domain="delivery", title="Damaged item refund",
         open="""My order arrived damaged and I want a refund.
The box was crushed and the glass inside was broken.
I received the wrong item and the one I got is damaged.
Half my order is missing and the rest is damaged.""",
         slots="name ref phone email upi bank", must="ref",
         talk="""A: I'm sorry about that. A refund of {n:money:300-3000:10} will be processed in {n:dayrange:working}.
A: We'll pick up the {n:count:damaged item|damaged items:1-3} tomorrow. The refund follows within {n:hours:48-72:24}.
A: You'll get {n:money:100-300:50} as a voucher for the trouble. || C: Oh, that's kind, thank you."""),
    dict(id="delivery.cod_change", domain="delivery", title="Cash on delivery to prepaid",
         open="""I chose cash on delivery but I'd rather pay online now.
Can I pay for my order in advance instead of paying the courier?
I won't have cash when the parcel arrives, can I pay by UPI?
I want to change my payment method for an order that is on the way.""",
         slots="name ref upi card otp phone bank gstin", must="ref",
         talk="""A: The amount due is {n:money:400-2500:1}. Once paid, delivery is in {n:days:1-3:working}.
A: I've sent a payment link. It is valid for {n:mins:15-30:15}. || C: Got it.
A: Done, the order of {n:count:packet|packets:2-6} is now prepaid."""),
    # ------------------------------------------------------------------ healthcare
    dict(id="healthcare.appointment", domain="healthcare", title="Book an appointment",
         open="""I'd like to book an appointment with a cardiologist.
I need to see a doctor this week, I've had a fever for days.
Can I book a follow-up with my specialist?
I want to make an appointment for my son with the paediatrician.""",
         slots="name dob phone other_name ref gov email", must="name dob",
         talk="""A: The earliest slot is tomorrow at {n:time}. The consultation fee is {n:money:300-1000:100}. Please come {n:mins:10-20:5} early.
A: Doctor is available on Thursday at {n:time}. The appointment lasts about {n:mins:20-30:10}. || C: Thursday works.
A: You're booked in. Bring your reports from the last {n:months:3-6}."""),
    dict(id="healthcare.prescription", domain="healthcare", title="Prescription refill and delivery",
         open="""I need a refill of my blood pressure medication.
I'd like my prescription delivered to my home this time.
My tablets are running out and the refill hasn't come.
Can you send my monthly medicines to a new address?""",
         slots="name dob address phone card expiry ref", must="name dob",
         talk="""A: Your refill of {n:count:tablet|tablets:30-90} is ready. Delivery is {n:money:5-15:5} and takes {n:days:1-2:business}.
A: The prescription allows {n:count:refill|refills:2-5} more. The copay is {n:money:10-40:5}. || C: Okay.
A: It will be delivered before {n:time} tomorrow. Take {n:count:tablet|tablets:1-2} a day as before."""),
    dict(id="healthcare.lab_results", domain="healthcare", title="Lab test results",
         open="""I had blood tests last week and I'm calling about the results.
I want to know if my scan results are back.
The doctor asked me to call for my test results.
I'm calling about my father's lab report.""",
         slots="name dob ref phone email other_name gov", must="name dob",
         talk="""A: The results are back. The doctor wants to see you in {n:weeks:2-4}.
A: Everything is normal. The report will be emailed within {n:hours:2-24:2}. || C: That's good news.
A: Your fasting sugar is {n:count:milligrams per decilitre|milligrams per decilitre:95-140}, so the doctor suggests a repeat in {n:months:3-6}."""),
    dict(id="healthcare.billing", domain="healthcare", title="Hospital bill query",
         open="""I got a bill from the hospital that I think my insurance should cover.
I want to pay the balance on my last hospital visit.
I was charged for a test I never had.
Can I pay my medical bill in instalments?""",
         slots="name dob ref card expiry cvv address postcode gov", must="name",
         talk="""A: The balance is {n:money:100-900:1}. You can pay it over {n:months:3-6} at no interest.
A: I've removed the charge of {n:money:50-300:1}. A corrected bill will follow in {n:days:7-10:}. || C: Thank you.
A: Your insurance paid {n:money:1000-5000:10} and the remaining amount is {n:money:50-400:1}."""),
    # ------------------------------------------------------------------ retail
    dict(id="retail.emi_purchase", domain="retail", title="Buy on instalments",
         open="""I want to buy a laptop on EMI.
Can I pay for the new phone in instalments?
I'd like to order the washing machine on your monthly payment plan.
Is there a no cost EMI option for the television?""",
         slots="name card expiry otp phone email address gstin", must="card",
         talk="""A: The price is {n:money:30000-90000:100}. You can choose {n:months:6-6} or {n:months:12-12} of no cost EMI.
A: It's {n:money:2000-7000:100} a month for {n:months:9-24}. || C: Can I do it over {n:months:12-12} instead? || A: Yes, done.
A: Your order of {n:count:laptop|laptops:1-1} will be delivered in {n:days:3-5:working}."""),
    dict(id="retail.return_refund", domain="retail", title="Return and refund",
         open="""I'd like to return the shoes I bought, they don't fit.
The jacket I ordered is the wrong colour. How do I return it?
I want a refund for the blender, it stopped working.
I returned an item two weeks ago and still haven't got my money.""",
         slots="name ref email upi bank phone card", must="ref",
         talk="""A: The refund of {n:money:500-4000:1} was sent on Monday. It can take {n:days:5-7:working} to reach you.
A: The return window is {n:days:30-30:}, so you're fine. The pickup will be between {n:timerange}. || C: Okay, great.
A: I can see {n:count:pair|pairs:2-3} in the order. I'll refund both."""),
    dict(id="retail.warranty", domain="retail", title="Warranty repair",
         open="""My headphones stopped working and they're still under warranty.
The fridge I bought last year is making a loud noise.
I want to claim the warranty on my phone, the screen is flickering.
My vacuum cleaner broke after {n:months:2-4}.""",
         slots="name ref phone email address", must="name ref",
         talk="""A: The warranty is valid for {n:years:1-2}. A technician will visit in {n:days:2-4:working}.
A: The repair is free. If a part is needed it takes {n:weeks:1-2}. || C: Fine.
A: The extended warranty would cost {n:money:1000-3000:100} for {n:years:2-3}."""),
    dict(id="retail.business_order", domain="retail", title="Bulk order for a business",
         open="""I'd like to place a bulk order for my office.
We need chairs for our new branch, can I order a large quantity?
I run a small shop and want to buy stock at wholesale prices.
I want to order uniforms for my staff.""",
         slots="name gstin phone email address card", must="name",
         talk="""A: For {n:count:chair|chairs:20-60} the price is {n:money:2000-4000:100} each, with a discount of {n:percent:5-15}.
A: The order of {n:count:unit|units:50-200} will ship in {n:days:7-10:working}. || C: That's okay.
A: Delivery is free above {n:money:10000-50000:5000}."""),
    # ------------------------------------------------------------------ utilities
    dict(id="utilities.high_bill", domain="utilities", title="Electricity bill too high",
         open="""My electricity bill is almost double what I normally pay.
I think my meter reading is wrong, the bill is huge.
Why did my gas bill go up so much this quarter?
I got an estimated bill and it's far too high.""",
         slots="name ref address phone email card postcode gov", must="ref",
         talk="""A: The bill shows {n:count:unit|units:400-900}, which is {n:money:3000-9000:10}. Last month was {n:count:unit|units:150-350}.
A: It was an estimate. I've booked a reading and the corrected bill will come in {n:days:7-10:working}. || C: Thank you.
A: Your tariff went up by {n:percent:5-12} in April, so the average is now {n:money:60-140:1} a month."""),
    dict(id="utilities.meter_reading", domain="utilities", title="Submit a meter reading",
         open="""I'd like to give you my meter reading.
I've been trying to submit a reading online but the page won't load.
Can I report the water meter reading over the phone?
I'm moving out and need to give a final reading.""",
         slots="name ref address postcode phone", must="ref",
         talk="""A: Thanks, I've recorded it. The next bill will be in {n:weeks:2-3}.
A: Your final bill will be sent in {n:days:5-10:working}, and any credit refunded within {n:days:10-14:}. || C: Great.
A: The reading is taken. Please send the next one in {n:months:3-3}."""),
    dict(id="utilities.new_connection", domain="utilities", title="New connection",
         open="""I'm moving into a new flat and need a new electricity connection.
I'd like a gas connection for my new house.
How do I get water connected at a new property?
I want to transfer the electricity account to my name.""",
         slots="name gov address phone email dob bank gstin", must="name address",
         talk="""A: The connection fee is {n:money:1000-3000:100} and it takes {n:days:5-7:working}.
A: An engineer will visit between {n:timerange}. The deposit is {n:money:100-300:50}. || C: Alright.
A: The account will be in your name from the {n:ordday}."""),
    dict(id="utilities.payment_plan", domain="utilities", title="Payment plan for arrears",
         open="""I'm struggling to pay my bill and want to set up a payment plan.
I've fallen behind on my water bills.
Can I pay the outstanding amount in parts?
I lost my job and can't pay the full bill this month.""",
         slots="name ref bank card phone address gov postcode", must="ref",
         talk="""A: The balance is {n:money:300-1500:1}. We can split it into {n:count:payment|payments:3-6} of {n:money:50-250:1}.
A: I've set it up. The first payment is due on the {n:ordday}. || C: Okay, that helps.
A: There's no late fee if you keep to the plan for {n:months:6-6}."""),
    # ------------------------------------------------------------------ travel
    dict(id="travel.flight_change", domain="travel", title="Change a flight booking",
         open="""I need to change the date of my flight.
My meeting moved, can I fly a day earlier?
I'd like to move my return flight to next week.
Can I change my flight to a later one today?""",
         slots="name ref dob passport email phone card", must="ref",
         talk="""A: There's a seat on the {n:time} flight. The change fee is {n:money:50-150:5} plus the fare difference of {n:money:20-200:1}.
A: You're on {n:flight} now, departing at {n:time} from {n:gate}. || C: Perfect.
A: The new ticket allows {n:count:bag|bags:1-2} of {n:count:kilo|kilos:15-23} each."""),
    dict(id="travel.hotel_booking", domain="travel", title="Hotel booking",
         open="""I'd like to book a hotel room for next weekend.
Can I reserve a double room for {n:count:night|nights:2-4}?
I want to book rooms for a family trip.
Do you have rooms available near the airport?""",
         slots="name card expiry cvv email phone", must="name",
         talk="""A: A double room is {n:money:90-250:5} a night. For {n:count:night|nights:2-5} that comes to {n:money:300-1200:5}.
A: Check-in is from {n:time} and breakfast is included for {n:count:guest|guests:2-4}. || C: Great.
A: Free cancellation is possible up to {n:hours:24-48:24} before arrival."""),
    dict(id="travel.refund", domain="travel", title="Cancelled trip refund",
         open="""My flight was cancelled and I want a refund.
I cancelled my holiday package and haven't got my money back.
The train was cancelled, how do I get my refund?
I had to cancel my trip for medical reasons.""",
         slots="name ref email bank upi card phone", must="ref",
         talk="""A: The refund of {n:money:2000-9000:10} will reach you in {n:days:7-10:working}.
A: Since it was cancelled by us, you get the full {n:money:150-600:1} back, and a voucher of {n:money:25-50:5}. || C: Thank you.
A: The cancellation charge is {n:percent:10-25}, so you'll get {n:money:3000-8000:10} back."""),
    dict(id="travel.passport_visa", domain="travel", title="Visa appointment booking",
         open="""I need to book a visa appointment for my trip.
I want to check the status of my visa application.
Can I change my visa appointment date?
I'm applying for a tourist visa and need help with the form.""",
         slots="name passport dob email phone other_name", must="passport",
         talk="""A: The next appointment is on Tuesday at {n:time}. The service fee is {n:money:30-90:5}.
A: Processing takes {n:days:10-15:working}. Please bring {n:count:photograph|photographs:2-2}. || C: Okay.
A: The application is with the embassy. It has been {n:days:6-9:working} so far."""),
]


# ---------------------------------------------------------------------------------------------
# Identifiers: values, spoken forms and match keys
# ---------------------------------------------------------------------------------------------
def m_digits(key, partial_len=None):
    m = {"kind": "digits", "key": key}
    if partial_len:
        m["partial_len"] = partial_len
    return m


def m_words(toks):
    return {"kind": "words", "key": list(toks)}


def m_compact(key, need_end=False):
    m = {"kind": "compact", "key": key}
    if need_end:
        m["need_end"] = True
    return m


class Ent:
    """One identifier: type, canonical value, how to say it, how to find it."""

    def __init__(self, typ, value, subject="customer", subtype=None, **kw):
        self.type, self.value, self.subject, self.subtype = typ, value, subject, subtype
        self.kind = kw.pop("kind", "digits")          # digits | code | name | address | date
        self.digits = kw.pop("digits", None)          # digits key (digit identifiers)
        self.groups = kw.pop("groups", None)          # how it is grouped when said
        self.partial_len = kw.pop("partial_len", None)
        self.full = kw.pop("full", None)              # explicit full keys
        self.partial = kw.pop("partial", None)
        self.sayer = kw.pop("sayer", None)            # f(rng) -> (text, style)
        self.prefixes = kw.pop("prefixes", [""])      # spoken prefixes ("plus nine one, ")
        self.spoken_key = kw.pop("spoken_key", False)  # add the spoken text's compact key
        self.extra = kw

    def say(self, rng, style=None):
        if self.sayer:
            return self.sayer(rng)
        text, st = speak_number_string(self.digits, self.groups, rng, style)
        pre = rng.choice(self.prefixes)
        return pre + text, (st if not pre else "prefix " + st)

    def match(self, spoken=None):
        if self.full is not None:
            full = [dict(m) for m in self.full]
        else:
            full = [m_digits(self.digits)]
        if self.partial is not None:
            partial = [dict(m) for m in self.partial]
        elif self.partial_len:
            partial = [m_digits(self.digits, self.partial_len)]
        else:
            partial = []
        if spoken and self.spoken_key:
            k = compact_key(spoken)
            if k and not any(m["kind"] == "compact" and m["key"] == k for m in full):
                full.append(m_compact(k, True))
        return {"full": full, "partial": partial}


def digit_ent(typ, digits, groups, value, partial_len=None, **kw):
    return Ent(typ, value, digits=digits, groups=groups, partial_len=partial_len, **kw)


def code_ent(typ, code, value=None, partial=None, subject="customer", subtype=None,
             need_end=True, digit_style=None, **kw):
    """A letters-and-digits identifier, matched on its compact form."""
    key = compact_key(code)
    return Ent(typ, value or code, subject=subject, subtype=subtype, kind="code",
               full=[m_compact(key, need_end)], partial=partial or [],
               sayer=lambda rng: (alnum_spoken(code, rng, digit_style), "spelled groups"),
               spoken_key=True, **kw)


def gen_phone(locale, rng):
    if locale == "IN":
        d = rdigits(rng, 10, "6789")
        return digit_ent("phone_number", d, rng.choice([[5, 5], [5, 5], [3, 3, 4], [4, 3, 3]]),
                         "+91 %s %s" % (d[:5], d[5:]), 5, subtype="IN_mobile",
                         prefixes=["", "", "", "plus nine one, ", "zero "])
    if locale in ("US", "CA"):
        d = (rng.choice("23456789") + rng.choice("012345678") + str(rng.randrange(10)) +
             rng.choice("23456789") + rdigits(rng, 6))
        return digit_ent("phone_number", d, [3, 3, 4], "+1 (%s) %s-%s" % (d[:3], d[3:6], d[6:]),
                         6, subtype=locale, prefixes=["", "", "", "one, "])
    if locale == "UK":
        d = "07" + rng.choice("123456789") + rdigits(rng, 8)
        ent = digit_ent("phone_number", d[1:], None, "%s %s" % (d[:5], d[5:]), 6,
                        subtype="UK_mobile")
        ent.sayer = lambda r: _say_trunk(d, r, [[5, 6], [5, 3, 3], [4, 3, 4]], "plus four four, ")
        return ent
    d = "04" + rdigits(rng, 8)
    ent = digit_ent("phone_number", d[1:], None, "%s %s %s" % (d[:4], d[4:7], d[7:]), 5,
                    subtype="AU_mobile")
    ent.sayer = lambda r: _say_trunk(d, r, [[4, 3, 3]], "plus six one, ")
    return ent


def _say_trunk(d, rng, groupings, intl):
    if rng.random() < 0.2:
        text, st = speak_number_string(d[1:], [4, 3, 3], rng)
        return intl + text, "international " + st
    return speak_number_string(d, rng.choice(groupings), rng)


def _date_keys(y, m, d):
    mon = MONTH_NAMES[m - 1].lower()
    yy = "%02d" % (y % 100)
    full = ["%d%s%d" % (d, mon, y), "%s%d%d" % (mon, d, y), "%02d%02d%d" % (d, m, y),
            "%d%d%d" % (d, m, y), "%02d%02d%d" % (m, d, y), "%d%d%d" % (m, d, y),
            "%d%02d%02d" % (y, m, d), "%d%s%s" % (d, mon, yy), "%s%d%s" % (mon, d, yy),
            "%02d%02d%s" % (d, m, yy), "%02d%02d%s" % (m, d, yy)]
    seen, keys = set(), []
    for k in full:
        if k not in seen:
            seen.add(k)
            keys.append(m_compact(k, True))
    partial = [m_compact("%d%s" % (d, mon), True), m_compact("%s%d" % (mon, d), True),
               m_digits(str(y))]
    return keys, partial


def gen_dob(locale, rng):
    y = rng.randrange(1944, 2005)
    m = rng.randrange(1, 13)
    d = rng.randrange(1, 29 if m == 2 else (31 if m in (4, 6, 9, 11) else 32))
    full, partial = _date_keys(y, m, d)
    us = locale in ("US", "CA")
    mon = MONTH_NAMES[m - 1]

    def sayer(r):
        yr = say_year(y)
        styles = ["DMY", "DMY", "the D of M", "D M card", "numeric DMY"] if not us else \
            ["MDY", "MDY", "M D card", "numeric MDY", "the D of M"]
        if r.random() < 0.12:
            styles = ["Y M D"]
        st = r.choice(styles)
        if st == "DMY":
            return "%s %s, %s" % (say_ordinal(d), mon, yr), "D M Y"
        if st == "the D of M":
            return "the %s of %s, %s" % (say_ordinal(d), mon, yr), "the D of M Y"
        if st == "D M card":
            return "%s %s %s" % (say_int(d), mon, yr), "D M Y cardinal"
        if st == "MDY":
            return "%s %s, %s" % (mon, say_ordinal(d), yr), "M D, Y"
        if st == "M D card":
            return "%s %s, %s" % (mon, say_int(d), yr), "M D, Y cardinal"
        if st == "Y M D":
            return "%s, %s %s" % (yr, mon, say_ordinal(d)), "Y M D"
        a, b = (d, m) if st == "numeric DMY" else (m, d)
        if r.random() < 0.5:
            txt = "%s, %s, %s" % (say_pair("%02d" % a, "oh"), say_pair("%02d" % b, "oh"), yr)
            return txt, st.replace("numeric ", "numeric pairs ")
        txt = say_digits("%02d%02d%d" % (a, b, y), r, False, r.choice(["zero", "oh"]))
        return txt, st.replace("numeric ", "numeric digits ")
    return Ent("date_of_birth", "%d-%02d-%02d" % (y, m, d), kind="date", full=full,
               partial=partial, sayer=sayer, spoken_key=True)


def gen_expiry(rng):
    m = rng.randrange(1, 13)
    y = rng.randrange(2026, 2035)
    yy = "%02d" % (y % 100)
    mon = MONTH_NAMES[m - 1].lower()
    keys = ["%02d%s" % (m, yy), "%02d%d" % (m, y), "%s%d" % (mon, y), "%s%d" % (MONTH_ABBR[m - 1], y),
            "%s%s" % (mon, yy), "%d%s" % (m, yy)]
    full = []
    for k in keys:
        if all(f["key"] != k for f in full):
            full.append(m_compact(k, True))

    def sayer(r):
        st = r.choice(["mm yy", "mm slash yy", "digits", "month year", "month of yy",
                       "m yy" if m < 10 else "mm yy"])
        if st == "mm yy":
            return "%s, %s" % (say_pair("%02d" % m, r.choice(["oh", "zero"])), say_int(y % 100)), st
        if st == "mm slash yy":
            return "%s slash %s" % (say_pair("%02d" % m), say_int(y % 100)), st
        if st == "digits":
            return say_digits("%02d%s" % (m, yy), r, False, r.choice(["zero", "oh"])), st
        if st == "month year":
            return "%s %s" % (MONTH_NAMES[m - 1], say_year(y)), st
        if st == "month of yy":
            return "%s of %s" % (MONTH_NAMES[m - 1], say_int(y % 100)), st
        return "%s %s" % (DIGIT_WORD[m], say_int(y % 100)), st
    return Ent("card_expiry", "%02d/%s" % (m, yy), kind="date", full=full, partial=[],
               sayer=sayer, spoken_key=True)


CARD_BRANDS = {"IN": ["Visa", "Mastercard", "RuPay", "Visa"],
               "US": ["Visa", "Mastercard", "American Express", "Discover", "Visa"],
               "UK": ["Visa", "Mastercard", "American Express", "Visa"],
               "AU": ["Visa", "Mastercard", "American Express"],
               "CA": ["Visa", "Mastercard", "American Express"]}


def gen_card(locale, rng):
    brand = rng.choice(CARD_BRANDS[locale])
    if brand == "American Express":
        d = luhn_complete(rng.choice(["34", "37"]), 15, rng)
        return digit_ent("credit_card", d, [4, 6, 5], "%s %s %s" % (d[:4], d[4:10], d[10:]), 7,
                         subtype=brand)
    prefix = {"Visa": "4", "Mastercard": rng.choice(["51", "52", "53", "54", "55", "2221", "2720"]),
              "RuPay": rng.choice(["60", "65", "81", "82", "508"]), "Discover": "6011"}[brand]
    d = luhn_complete(prefix, 16, rng)
    return digit_ent("credit_card", d, [4, 4, 4, 4], " ".join(d[i:i + 4] for i in range(0, 16, 4)),
                     8, subtype=brand)


def gen_account(locale, rng):
    n = {"IN": rng.randrange(11, 15), "US": rng.randrange(10, 13), "UK": 8,
         "AU": rng.randrange(8, 10), "CA": 7}[locale]
    d = rdigits(rng, n, "123456789")
    g = rng.choice([3, 4])
    groups = [4, 4] if n == 8 else [g] * (n // g)
    return digit_ent("bank_account", d, groups, d, 5, subtype=locale)


def gen_ifsc(rng):
    bank = rng.choice(["SBIN", "HDFC", "ICIC", "UTIB", "KKBK", "PUNB", "BARB", "CNRB", "IDIB",
                       "YESB", "IOBA", "UBIN", "MAHB", "FDRL"])
    code = bank + "0" + rdigits(rng, 6, "0123456789")

    def sayer(r):
        z = r.choice(["zero", "oh"])
        rest = code[5:]
        st = r.choice(["digits", "double", "pairs"])
        return "%s, %s %s" % (" ".join(bank), z, say_group(rest, st, r, z)), "letters " + st
    ent = code_ent("ifsc", code)
    ent.sayer = sayer
    return ent


def gen_sortcode(rng):
    d = rng.choice(["20", "40", "60", "30", "11", "83", "09", "23", "16", "77", "15", "50"]) + \
        rdigits(rng, 4)

    def sayer(r):
        if r.random() < 0.55:
            return ", ".join(say_pair(d[i:i + 2], r.choice(["oh", "zero"])) for i in (0, 2, 4)), "pairs"
        return speak_number_string(d, [2, 2, 2], r, "digits")
    return digit_ent("uk_sort_code", d, [2, 2, 2], "%s-%s-%s" % (d[:2], d[2:4], d[4:]),
                     sayer=sayer)


def gen_iban(country, rng, subject="customer"):
    if country == "GB":
        bban = rng.choice(["NWBK", "BARC", "LOYD", "HBUK", "MIDL", "NAIA"]) + rdigits(rng, 14)
    elif country == "DE":
        bban = rdigits(rng, 18, "123456789")
    elif country == "IE":
        bban = rng.choice(["AIBK", "BOFI"]) + rdigits(rng, 14)
    else:  # ES
        bban = rdigits(rng, 20, "123456789")
    iban = country + iban_check(country, bban) + bban
    grouped = " ".join(iban[i:i + 4] for i in range(0, len(iban), 4))
    runs = re.findall(r"\d+", compact_key(iban))
    longest = max(runs, key=len)

    def sayer(r):
        parts = []
        for i in range(0, len(iban), 4):
            chunk = iban[i:i + 4]
            parts.append(alnum_spoken(chunk, r, "digits").replace(",", ""))
        return ", ".join(parts), "groups of four"
    return Ent("iban", grouped, subject=subject, subtype=country, kind="code",
               full=[m_compact(compact_key(iban), True)],
               partial=[m_digits(longest, 6)], sayer=sayer, spoken_key=True)


def gen_swift(country, rng, subject="customer"):
    code = "".join(rng.choice(LETTERS) for _ in range(4)) + country + \
        rng.choice(LETTERS) + rng.choice("23456789" + LETTERS)
    return code_ent("swift", code, subject=subject)


def gen_upi(person, phone_digits, rng, split):
    first = person["first"].lower().replace("-", "").replace("'", "")
    last = person["last"].lower().replace("-", "").replace("'", "").replace(" ", "")
    pats = {"upi.first_dot_initial": lambda: (first + "." + last[0], "%s dot %s" % (first, last[0].upper())),
            "upi.first_num": lambda: _with_num(first, rng),
            "upi.phone": lambda: (phone_digits, say_digits(phone_digits, rng, True)),
            "upi.firstlast": lambda: (first + last, "%s %s" % (first, last)),
            "upi.last_dot_first": lambda: (last + "." + first, "%s dot %s" % (last, first))}
    names = split_items("", list(pats), split) or list(pats)
    user, user_spoken = pats[rng.choice(names)]()
    handle = rng.choice(UPI_HANDLES)
    value = "%s@%s" % (user, handle)
    full = [m_compact(compact_key(value))]
    partial = [m_compact(compact_key(user))]

    def sayer(r):
        return "%s at %s" % (user_spoken, _say_handle(handle)), "spoken id"
    return Ent("upi_id", value, kind="code", full=full, partial=partial, sayer=sayer,
               spoken_key=True)


def _say_handle(h):
    words = {"paytm": "pay T M", "okaxis": "O K axis", "axisbank": "axis bank",
             "hdfcbank": "H D F C bank", "okhdfcbank": "O K H D F C bank", "kotak": "kotak",
             "upi": "U P I", "ptyes": "P T yes"}
    if h in words:
        return words[h]
    if h.startswith("ok"):
        return "O K " + " ".join(h[2:].upper())
    return " ".join(h.upper())


def _with_num(word, rng):
    n = rng.choice([str(rng.randrange(10, 99)), str(rng.randrange(1970, 2005))[2:],
                    str(rng.randrange(100, 999))])
    spoken = say_pairs(n, rng) if len(n) == 2 else say_digits(n, rng, False)
    return word + n, "%s %s" % (word, spoken)


EMAIL_PATTERNS = ["first.last", "firstlast", "first_last", "first.last.num", "first.num",
                  "initial.last", "last.first", "firstinitial", "word.num", "first.word"]
EMAIL_WORDS = """sunshine cricketfan bookworm travelbug moonlight greenleaf foodie techie
    musiclover bluebird stargazer wanderer seabreeze dreamer runner chai coffeelover
    gardener skyline happyfeet""".split()


def gen_email(person, locale, rng, split):
    first = re.sub(r"[^a-z]", "", person["first"].lower())
    last = re.sub(r"[^a-z]", "", person["last"].lower())
    pats = split_items("email.", EMAIL_PATTERNS, split) or EMAIL_PATTERNS
    words = split_items("emailword.", EMAIL_WORDS, split) or EMAIL_WORDS
    pat = rng.choice(pats)
    word = rng.choice(words)
    if pat == "first.last":
        user, sp = first + "." + last, "%s dot %s" % (first, last)
    elif pat == "firstlast":
        user, sp = first + last, "%s %s" % (first, last)
    elif pat == "first_last":
        user, sp = first + "_" + last, "%s underscore %s" % (first, last)
    elif pat == "first.last.num":
        u, s = _with_num(last, rng)
        user, sp = first + "." + u, "%s dot %s" % (first, s)
    elif pat == "first.num":
        user, sp = _with_num(first, rng)
    elif pat == "initial.last":
        user, sp = first[0] + "." + last, "%s dot %s" % (first[0].upper(), last)
    elif pat == "last.first":
        user, sp = last + "." + first, "%s dot %s" % (last, first)
    elif pat == "firstinitial":
        user, sp = first + last[0], "%s %s" % (first, last[0].upper())
    elif pat == "word.num":
        user, sp = _with_num(word, rng)
    else:
        user, sp = first + "." + word, "%s dot %s" % (first, word)
    host_spoken = rng.choice(EMAIL_HOSTS[locale])
    host = host_spoken.replace(" dot ", ".").replace(" ", "")
    value = "%s@%s" % (user, host)
    spelled_user = " dot ".join(" ".join(part.upper()) if not part.isdigit() else
                                say_digits(part, rng, False) for part in user.split("."))

    def sayer(r):
        if r.random() < 0.2 and "_" not in user:
            return "%s at %s" % (spelled_user, host_spoken), "spelled"
        return "%s at %s" % (sp, host_spoken), "spoken"
    return Ent("email", value, kind="code", full=[m_compact(compact_key(value))],
               partial=[m_compact(compact_key(user))], sayer=sayer, spoken_key=True,
               pattern=pat)


def gen_aadhaar(rng):
    body = rdigits(rng, 11, "23456789")
    d = body + verhoeff_digit(body)
    return digit_ent("aadhaar", d, [4, 4, 4], "%s %s %s" % (d[:4], d[4:8], d[8:]), 6)


def gen_pan(person, rng):
    code = "".join(rng.choice(LETTERS) for _ in range(3)) + "P" + \
        (person["last"][0].upper() if person["last"][0].upper() in LETTERS else "K") + \
        rdigits(rng, 4, "123456789") + rng.choice(LETTERS)
    return code_ent("pan", code)


def gen_voter_id(rng):
    digits = rdigits(rng, 7, "123456789")
    code = "".join(rng.choice(LETTERS) for _ in range(3)) + digits
    return code_ent("voter_id", code, partial=[m_digits(digits, 5)])


def gen_passport(locale, rng):
    if locale in ("US", "UK"):
        d = rdigits(rng, 9, "123456789")
        return digit_ent("passport", d, rng.choice([[3, 3, 3], [9], [4, 5]]), d, 6, subtype=locale)
    if locale == "IN":
        digits = rdigits(rng, 7, "123456789")
        code = rng.choice(LETTERS) + digits
    elif locale == "AU":
        digits = rdigits(rng, 7, "123456789")
        code = rng.choice(["P", "PA", "N", "E"]) + digits
    else:
        digits = rdigits(rng, 6, "123456789")
        code = rng.choice(LETTERS) + rng.choice(LETTERS) + digits
    return code_ent("passport", code, partial=[m_digits(digits, 5)], subtype=locale)


def gen_ssn(rng):
    while True:
        a = rng.randrange(1, 900)
        if a != 666:
            break
    d = "%03d%02d%04d" % (a, rng.randrange(1, 100), rng.randrange(1, 10000))
    return digit_ent("us_ssn", d, [3, 2, 4], "%s-%s-%s" % (d[:3], d[3:5], d[5:]), 5)


def gen_itin(rng):
    g = rng.choice(list(range(70, 89)) + [90, 91, 92] + list(range(94, 100)))
    d = "9%02d%02d%04d" % (rng.randrange(0, 100), g, rng.randrange(0, 10000))
    return digit_ent("us_itin", d, [3, 2, 4], "%s-%s-%s" % (d[:3], d[3:5], d[5:]), 5)


def gen_nino(rng):
    while True:
        p = rng.choice("ABCEGHJKLMNPRSTWYZ") + rng.choice("ABCEGHJKLMNPRSTWYZ")
        if p not in ("BG", "GB", "NK", "KN", "TN", "NT", "ZZ"):
            break
    digits = rdigits(rng, 6)
    code = p + digits + rng.choice("ABCD")
    ent = code_ent("id_number", code, value="%s %s %s %s %s" % (p, digits[:2], digits[2:4],
                                                                 digits[4:], code[-1]),
                   partial=[m_digits(digits)], subtype="uk_nino")

    def sayer(r):
        if r.random() < 0.5:
            mid = ", ".join(say_pair(digits[i:i + 2], "oh") for i in (0, 2, 4))
            return "%s, %s, %s" % (" ".join(p), mid, code[-1]), "letters pairs"
        return alnum_spoken(code, r, "digits"), "spelled groups"
    ent.sayer = sayer
    return ent


def gen_nhs(rng):
    d = nhs_number(rng)
    return digit_ent("id_number", d, [3, 3, 4], "%s %s %s" % (d[:3], d[3:6], d[6:]), 6,
                     subtype="nhs_number")


def gen_sin(rng):
    d = luhn_complete(rng.choice("1234567"), 9, rng)
    return digit_ent("id_number", d, [3, 3, 3], "%s %s %s" % (d[:3], d[3:6], d[6:]), 5,
                     subtype="ca_sin")


def gen_medicare(rng):
    d = rdigits(rng, 10, "23456")
    return digit_ent("id_number", d, [4, 5, 1], "%s %s %s" % (d[:4], d[4:9], d[9:]), 6,
                     subtype="au_medicare")


GST_STATES = ["27", "29", "33", "07", "24", "09", "19", "36", "32", "08"]


def gen_gstin(pan_code, rng):
    first14 = rng.choice(GST_STATES) + pan_code + rng.choice("123") + "Z"
    code = first14 + gstin_check(first14)
    return code_ent("gstin", code, partial=[m_compact(compact_key(pan_code))])


def gen_ip(rng):
    octs = [rng.choice([49, 59, 86, 103, 117, 122, 151, 176, 182, 203, 212, 81, 92])] + \
        [rng.randrange(1, 255) for _ in range(3)]
    value = ".".join(map(str, octs))

    def sayer(r):
        if r.random() < 0.5:
            return " dot ".join(say_digits(str(o), r, False) for o in octs), "digits dot"
        return " dot ".join(say_group(str(o), "hundreds", r) if o >= 100 else say_int(o)
                            for o in octs), "numbers dot"
    full = [m_compact("dot".join(map(str, octs)), True), m_compact("".join(map(str, octs)), True)]
    return Ent("ip_address", value, kind="code", full=full, partial=[], sayer=sayer,
               spoken_key=True)


REF_KINDS = {
    "banking": [("loan account number", "loan_account", "D", 12), ("customer ID", "customer_id", "D", 9)],
    "telecom": [("customer account number", "customer_account", "D", 10),
                ("account number", "customer_account", "LD", 9)],
    "insurance": [("policy number", "policy_number", "LD", 10), ("claim number", "claim_number", "LD", 9)],
    "delivery": [("order number", "order_number", "D", 10), ("tracking number", "tracking_number", "LD", 10)],
    "healthcare": [("member ID", "member_id", "LD", 11), ("patient ID", "patient_id", "D", 8)],
    "retail": [("order number", "order_number", "D", 11), ("invoice number", "invoice_number", "LD", 9)],
    "utilities": [("consumer number", "consumer_number", "D", 11), ("account number", "customer_account", "D", 10)],
    "travel": [("booking reference", "booking_reference", "PNR", 6), ("ticket number", "ticket_number", "D", 13)],
}


def gen_ref(domain, rng):
    name, subtype, shape, n = rng.choice(REF_KINDS[domain])
    if shape == "D":
        d = rdigits(rng, n, "123456789")
        g = rng.choice([3, 4])
        groups = [g] * (n // g)
        ent = digit_ent("id_number", d, groups, d, max(5, n // 2 + 1), subtype=subtype)
    elif shape == "PNR":
        while True:
            code = "".join(rng.choice(LETTERS + "23456789") for _ in range(n))
            if sum(c.isdigit() for c in code) <= 2 and not code[0].isdigit():
                break
        ent = code_ent("id_number", code, subtype=subtype)
    else:
        letters = "".join(rng.choice(LETTERS) for _ in range(rng.choice([2, 3])))
        digits = rdigits(rng, n - len(letters) + 1, "123456789")
        ent = code_ent("id_number", letters + digits, subtype=subtype,
                       partial=[m_digits(digits, 5)])
    ent.extra["refname"] = name
    return ent


def gen_pin(rng):
    d = rdigits(rng, 4, "123456789")
    return digit_ent("pin", d, [4], d)


def name_ent(person, subject, which="full"):
    if which == "full":
        value = "%s %s" % (person["first"], person["last"])
    else:
        value = person[which]
    toks = words_key(value)
    full = [m_words(toks), m_compact("".join(toks), True)]
    partial = []
    if len(toks) > 1:
        for t in toks:
            partial.append(m_words([t]))
            partial.append(m_compact(t, True))
    return Ent("person_name", value, subject=subject, kind="name", full=full, partial=partial,
               sayer=lambda rng: (value, "name"))


def spelled_name_ent(person, subject, which, rng):
    """The surname (or first name) spelled letter by letter or with a spelling alphabet."""
    ent = name_ent(person, subject, which)
    word = person[which]
    letters = re.sub(r"[^A-Za-z]", "", word)

    def sayer(r):
        if r.random() < 0.3:
            return spell_nato(letters, r), "spelled alphabet"
        return " ".join(letters.upper()), "spelled"
    ent.sayer = sayer
    ent.spoken_key = True
    return ent


def _place_items(locale, kind, split):
    items = [x.strip() for x in PLACES[locale][kind].replace("\n", "|").split("|") if x.strip()]
    mine = [x for x in items if split_of("%s.%s.%s" % (kind, locale, x)) == split]
    return mine or items


def say_house_number(n, rng):
    s = str(n)
    if n < 100:
        return say_int(n), "number"
    st = rng.choice(["hundreds", "digits", "hundreds"] + (["full"] if n < 1000 else []))
    if st == "full":
        return say_int(n), "number"
    text = say_group(s, st, rng, "oh")
    if not check_digits(text, s):
        text = say_digits(s, rng, False, "oh")
    return text, st


UK_INWARD = "ABDEFGHJLNPQRSTUWYZ"
CA_LETTERS = "ABCEGHJKLMNPRSTVXY".replace("X", "")


def gen_address(locale, rng, split):
    if locale == "US":
        num = rng.choice([rng.randrange(100, 999), rng.randrange(1000, 9900), rng.randrange(10, 99)])
        street = rng.choice(_place_items("US", "street", split))
        city, state, z3 = [x.strip() for x in rng.choice(_place_items("US", "city", split)).split(",")]
        zipc = z3 + rdigits(rng, 2)
        unit = None
        if rng.random() < 0.4:
            unit = (rng.choice(["Apt", "Unit", "Suite"]), str(rng.randrange(1, 30)) + rng.choice("ABCD"))
        value = "%d %s, %s%s, %s %s" % (num, street, "%s %s, " % unit if unit else "", city, state, zipc)
        value = value.replace(", , ", ", ")
        if unit:
            value = "%d %s, %s %s, %s, %s %s" % (num, street, unit[0], unit[1], city, state, zipc)
        else:
            value = "%d %s, %s, %s %s" % (num, street, city, state, zipc)

        def sayer(r):
            hn, st = say_house_number(num, r)
            u = ""
            if unit:
                word = {"Apt": "apartment", "Unit": "unit", "Suite": "suite"}[unit[0]]
                u = "%s %s %s, " % (word, say_int(int(unit[1][:-1])), unit[1][-1])
            z = say_digits(zipc, r, r.random() < 0.3, "zero")
            return "%s %s, %s%s, %s, %s" % (hn, street, u, city, state, z), "US " + st
        return _address_ent(value, num, street, [m_digits(zipc)], sayer, rng, "US")
    if locale == "UK":
        num = rng.randrange(1, 240)
        street = rng.choice(_place_items("UK", "street", split))
        town, area = [x.strip() for x in rng.choice(_place_items("UK", "city", split)).split(",")]
        district = str(rng.randrange(1, 28 if len(area) == 2 else 40))
        inward = str(rng.randrange(1, 10)) + rng.choice(UK_INWARD) + rng.choice(UK_INWARD)
        pc = "%s%s %s" % (area, district, inward)
        flat = rng.randrange(1, 12) if rng.random() < 0.25 else None
        value = ("Flat %d, " % flat if flat else "") + "%d %s, %s, %s" % (num, street, town, pc)

        def sayer(r):
            hn, st = say_house_number(num, r)
            pcs = "%s %s, %s %s" % (" ".join(area), say_int(int(district)),
                                    DIGIT_WORD[int(inward[0])], " ".join(inward[1:]))
            f = "flat %s, " % say_int(flat) if flat else ""
            return "%s%s %s, %s, %s" % (f, hn, street, town, pcs), "UK " + st
        return _address_ent(value, num, street, [m_compact(compact_key(pc))], sayer, rng, "UK")
    if locale == "IN":
        flat = rng.randrange(1, 15) * 100 + rng.randrange(1, 9)
        soc = rng.choice(_place_items("IN", "society", split))
        road = rng.choice(_place_items("IN", "road", split))
        loc, city, p3 = [x.strip() for x in rng.choice(_place_items("IN", "city", split)).split(",")]
        pin = p3 + rdigits(rng, 3)
        value = "Flat %d, %s, %s, %s, %s %s" % (flat, soc, road.replace("M G", "MG").replace(
            "F C", "FC").replace("S V", "SV"), loc, city, pin)

        def sayer(r):
            hn, st = say_house_number(flat, r)
            pn = speak_number_string(pin, [3, 3], r, r.choice(["digits", "double"]))[0]
            word = r.choice(["flat", "flat number", "flat no", "apartment"])
            return "%s %s, %s, %s, %s, %s, %s" % (word, hn, soc, road, loc, city, pn), "IN " + st
        ent = _address_ent(value, flat, soc, [m_words(words_key(road)), m_digits(pin)], sayer, rng, "IN")
        return ent
    if locale == "AU":
        num = rng.randrange(1, 200)
        street = rng.choice(_place_items("AU", "street", split))
        suburb, state, pc = [x.strip() for x in rng.choice(_place_items("AU", "city", split)).split(",")]
        unit = rng.randrange(1, 20) if rng.random() < 0.4 else None
        value = ("Unit %d, " % unit if unit else "") + "%d %s, %s %s %s" % (num, street, suburb, state, pc)

        def sayer(r):
            hn, st = say_house_number(num, r)
            u = "unit %s, " % say_int(unit) if unit else ""
            return "%s%s %s, %s, %s, %s" % (u, hn, street, suburb, state,
                                            say_digits(pc, r, False, "oh")), "AU " + st
        return _address_ent(value, num, street, [m_digits(pc)], sayer, rng, "AU")
    num = rng.randrange(10, 3000)
    street = rng.choice(_place_items("CA", "street", split))
    city, prov, fsa = [x.strip() for x in rng.choice(_place_items("CA", "city", split)).split(",")]
    pc = "%s%d%s %d%s%d" % (fsa, rng.randrange(1, 10), rng.choice(CA_LETTERS), rng.randrange(1, 10),
                            rng.choice(CA_LETTERS), rng.randrange(1, 10))
    value = "%d %s, %s, %s %s" % (num, street, city, prov, pc)

    def sayer(r):
        hn, st = say_house_number(num, r)
        a, b = pc.split()
        pcs = "%s %s %s, %s %s %s" % (a[0], DIGIT_WORD[int(a[1])], a[2], DIGIT_WORD[int(b[0])], b[1],
                                      DIGIT_WORD[int(b[2])])
        return "%s %s, %s, %s, %s" % (hn, street, city, prov, pcs), "CA " + st
    return _address_ent(value, num, street, [m_compact(compact_key(pc))], sayer, rng, "CA")


def _address_ent(value, num, street, extra_partial, sayer, rng, locale):
    full = [m_words([str(num)] + words_key(street))]
    partial = [m_words(words_key(street))] + extra_partial
    return Ent("street_address", value, subtype=locale, kind="address", full=full,
               partial=partial, sayer=sayer)


def gen_postcode(locale, rng, split):
    if locale == "UK":
        town, area = [x.strip() for x in rng.choice(_place_items("UK", "city", split)).split(",")]
        district = str(rng.randrange(1, 28 if len(area) == 2 else 40))
        inward = str(rng.randrange(1, 10)) + rng.choice(UK_INWARD) + rng.choice(UK_INWARD)
        pc = "%s%s %s" % (area, district, inward)

        def sayer(r):
            if r.random() < 0.2:
                out = []
                for ch in pc.replace(" ", ""):
                    out.append(DIGIT_WORD[int(ch)] if ch.isdigit() else
                               "%s for %s" % (ch, NATO[ch.lower()]))
                return ", ".join(out), "spelling alphabet"
            return "%s %s, %s %s" % (" ".join(area), say_int(int(district)),
                                     DIGIT_WORD[int(inward[0])], " ".join(inward[1:])), "UK"
        return Ent("postcode", pc, subtype="UK", kind="code", full=[m_compact(compact_key(pc))],
                   partial=[], sayer=sayer, spoken_key=True)
    if locale == "CA":
        city, prov, fsa = [x.strip() for x in rng.choice(_place_items("CA", "city", split)).split(",")]
        pc = "%s%d%s %d%s%d" % (fsa, rng.randrange(1, 10), rng.choice(CA_LETTERS), rng.randrange(1, 10),
                                rng.choice(CA_LETTERS), rng.randrange(1, 10))
        return code_ent("postcode", pc, subtype="CA", need_end=False)
    if locale == "US":
        city, state, z3 = [x.strip() for x in rng.choice(_place_items("US", "city", split)).split(",")]
        d = z3 + rdigits(rng, 2)
        return digit_ent("postcode", d, [5], d, subtype="US_zip")
    if locale == "AU":
        d = [x.strip() for x in rng.choice(_place_items("AU", "city", split)).split(",")][2]
        return digit_ent("postcode", d, [4], d, subtype="AU")
    loc, city, p3 = [x.strip() for x in rng.choice(_place_items("IN", "city", split)).split(",")]
    d = p3 + rdigits(rng, 3)
    return digit_ent("postcode", d, [3, 3], d, subtype="IN_pin_code")


# ---------------------------------------------------------------------------------------------
# Ordinary numbers that must survive redaction (non_pii)
# ---------------------------------------------------------------------------------------------
CURRENCY = {"IN": ("rupee", "rupees"), "US": ("dollar", "dollars"), "UK": ("pound", "pounds"),
            "AU": ("dollar", "dollars"), "CA": ("dollar", "dollars")}
CURRENCY_SCALE = {"IN": 1.0, "US": 0.05, "UK": 0.04, "AU": 0.07, "CA": 0.07}


def _rng_range(spec, rng, step=1):
    lo, hi = (int(x) for x in spec.split("-"))
    if step > 1:
        lo_s, hi_s = -(-lo // step), hi // step
        return rng.randrange(lo_s, hi_s + 1) * step if hi_s >= lo_s else lo
    return rng.randrange(lo, hi + 1)


def _money_text(amount, locale, rng, cents=0):
    one, many = CURRENCY[locale]
    if locale == "IN" and amount >= 100000 and amount % 1000 == 0:
        words = say_indian(amount)
    else:
        words = say_int(amount, locale != "US" or rng.random() < 0.3)
    text = "%s %s" % (words, one if amount == 1 else many)
    if cents:
        text += " and %s %s" % (say_int(cents), "cents" if locale != "UK" else "pence")
    return text


def render_num(spec, locale, rng, domain):
    """A non-PII number phrase: (text, type)."""
    parts = spec.split(":")
    kind = parts[0]
    if kind == "money":
        lo, hi = (int(x) for x in parts[1].split("-"))
        step = int(parts[2]) if len(parts) > 2 else 1
        if locale == "IN":
            if hi < 100:
                lo, hi, step = lo * 20, hi * 20, 10
        else:
            f = CURRENCY_SCALE[locale] if hi >= 1000 else (0.2 if hi > 150 else 1.0)
            if f != 1.0:
                lo, hi = max(1, int(lo * f)), max(2, int(hi * f))
                if step > 1:
                    step = max([s for s in (1, 5, 10, 50, 100, 500, 1000) if s <= max(1, step * f)])
        amount = _rng_range("%d-%d" % (lo, hi), rng, step)
        return _money_text(amount, locale, rng), "price"
    if kind == "money99":
        lo, hi = (int(x) for x in parts[1].split("-"))
        if locale == "IN":
            amount = rng.randrange(lo // 100, hi // 100 + 1) * 100 - 1
            return _money_text(amount, locale, rng), "price"
        amount = rng.randrange(max(2, int(lo * 0.05)), int(hi * 0.1) + 2)
        return _money_text(amount - 1, locale, rng, 99), "price"
    if kind in ("days", "dayrange"):
        adj = parts[2] if len(parts) > 2 else (parts[1] if kind == "dayrange" else "")
        if adj in ("working", "business"):
            adj = "business" if locale in ("US", "CA") else "working"
        tail = (adj + " days") if adj else "days"
        if kind == "dayrange":
            a = rng.randrange(2, 5)
            b = a + rng.randrange(1, 4)
            return "%s to %s %s" % (say_int(a), say_int(b), tail), "duration"
        n = _rng_range(parts[1], rng)
        return "%s %s" % (say_int(n), tail if n != 1 else tail[:-1]), "duration"
    if kind in ("mins", "hours", "weeks", "months", "years"):
        step = int(parts[2]) if len(parts) > 2 else 1
        n = _rng_range(parts[1] if len(parts) > 1 else "2-6", rng, step)
        unit = {"mins": "minutes", "hours": "hours", "weeks": "weeks", "months": "months",
                "years": "years"}[kind]
        return "%s %s" % (say_int(n), unit if n != 1 else unit[:-1]), "duration"
    if kind == "count":
        noun = parts[1].split("|")
        n = _rng_range(parts[2], rng)
        return "%s %s" % (say_int(n), noun[0] if n == 1 else noun[1]), "count"
    if kind == "gb":
        n = _rng_range(parts[1], rng)
        return "%s GB" % say_int(n), "data"
    if kind == "mbps":
        n = _rng_range(parts[1], rng, 10)
        return "%s megabits" % say_int(n), "speed"
    if kind == "percent":
        return "%s percent" % say_int(_rng_range(parts[1], rng)), "percent"
    if kind == "plan":
        return rng.choice(["five G plus", "unlimited two ninety nine", "max five hundred",
                           "family four hundred", "super saver three ninety nine"]), "plan"
    if kind == "time":
        h = rng.randrange(1, 13)
        st = rng.choice(["hm", "oclock", "half", "quarter", "hm", "ampm"])
        if st == "hm":
            return "%s %s" % (say_int(h), rng.choice(["fifteen", "thirty", "forty five", "twenty"])), "time"
        if st == "oclock":
            return "%s o'clock" % say_int(h), "time"
        if st == "half":
            return "half past %s" % say_int(h), "time"
        if st == "quarter":
            return "quarter %s %s" % (rng.choice(["past", "to"]), say_int(h)), "time"
        return "%s %s" % (say_int(h), rng.choice(["in the morning", "in the evening",
                                                   "in the afternoon"])), "time"
    if kind == "timerange":
        a = rng.randrange(8, 12)
        b = rng.randrange(1, 6)
        return "%s and %s" % (say_int(a), say_int(b)), "time"
    if kind == "ordday":
        return "%s of the month" % say_ordinal(rng.randrange(3, 29)), "date"
    if kind == "flight":
        return "flight %s %s" % (" ".join(rng.choice(["SB", "PA", "BA", "AA", "UK", "QF", "AC"])),
                                 say_group(str(rng.randrange(101, 999)), "hundreds", rng)), "flight"
    if kind == "gate":
        return "gate %s" % say_int(rng.randrange(2, 40)), "gate"
    raise ValueError("unknown number kind %r" % spec)


# ---------------------------------------------------------------------------------------------
# More phrasings used by the builder
# ---------------------------------------------------------------------------------------------
FIRST_RESPONSES = """I can help you with that. 
I'm sorry to hear that. 
Sure, let me look into it. 
No problem, I'll check that for you. 
Of course. 
Certainly, I can do that. 
Oh, I'm sorry about that. Let's sort it out. 
Okay, let me pull up your details. 
Right, I'll need to verify a few things first. 
Absolutely, happy to help. """.split("\n")

OTHER_NAME_Q = {
    "healthcare": """And what is the patient's full name?
Who is the appointment for?
What's the patient's name, please?
And the name of the patient?""",
    "insurance": """Who is the nominee on the policy?
What's the nominee's full name?
And who should be the new nominee?
Could I have the name of the beneficiary?""",
    "delivery": """And the name of the person receiving the parcel?
Who will collect it?
Whose name should the parcel be under?
Who should the courier ask for?""",
    "travel": """What's the name of the other passenger?
Who else is travelling with you?
And the applicant's full name?
Whose name is on the booking?""",
}

OTHER_NAME_A = """It's for my {rel}, {V}.
My {rel}, {V}.
The name is {V}, my {rel}.
That's {V}.
It should be {V}.
{V}, that's my {rel}.""".split("\n")
RELATIONS = ["mother", "father", "son", "daughter", "wife", "husband", "brother", "sister",
             "colleague", "neighbour"]

SHORT_NOUNS = {"phone": "mobile number", "ref": "reference number", "email": "email address",
               "account": "account number", "dob": "date of birth", "address": "address",
               "postcode": "postcode", "passport": "passport number"}

PIN_VOLUNTEER = """Do you need my PIN as well? It's {V}.
And my PIN is {V}, if that helps.
Should I give you my PIN? It's {V}.
The PIN for the card is {V}, by the way.
I can also give you the ATM PIN, {V}.""".split("\n")

VOLUNTEER_OTHER = """ My {noun} is {V}, in case you need it.
 I have the {noun} here, it's {V}.
 The {noun} is {V}.
 Just so you have it, my {noun} is {V}.""".split("\n")

BENEFICIARY_LEADS = {"iban": "The beneficiary's IBAN is {V}.|It's {V}.|Their IBAN is {V}.",
                     "swift": "The Swift code is {V}.|And the bank code is {V}.|It's {V}."}

COMBINED_EXPIRY_CVV_Q = """And the expiry date and the three digit code on the back?
Can I have the expiry and the CVV, please?
Then the expiry date, followed by the security code.
Next I need the expiry and the security code.
What are the expiry date and the CVV?
And could you give me the expiry, then the code on the back?""".split("\n")
COMBINED_EXPIRY_CVV_A = """{E}, and the code is {C}.
Expiry {E}, CVV {C}.
It expires {E}, and the code on the back is {C}.
{E}. The security code is {C}.
Okay, expiry is {E} and the CVV is {C}.
{E}, and then {C}.
Um, {E}, and the three digits are {C}.""".split("\n")


def pid(category, text):
    return "%s.%s" % (category, hashlib.sha1(text.encode("utf-8")).hexdigest()[:6])


def lines(s):
    return [x.strip(" ") if not x.endswith(" ") else x.lstrip() for x in s.split("\n") if x.strip()]


class Content:
    """The phrasings and scenarios of one split."""

    def __init__(self, split):
        self.split = split
        self.cats = {}
        self.missing = []

    def options(self, category, texts):
        key = (category, tuple(texts))
        if key not in self.cats:
            if category.startswith(("open.", "talk.")):
                mine = list(texts)      # a scenario's own lines follow the scenario's split
            else:
                mine = [t for t in texts if split_of(pid(category, t)) == self.split]
            if not mine:
                self.missing.append(category)
                mine = list(texts)
            self.cats[key] = mine
        return self.cats[key]


def all_categories(split=None):
    """(category, texts) of every phrasing list, for the start-up split check."""
    cats = [("greet", GREETINGS), ("greet.short", SHORT_GREETINGS),
            ("close.a.short", SHORT_CLOSE_AGENT), ("close.c.short", SHORT_CLOSE_CALLER), ("copen", CALLER_OPENERS), ("volname", VOLUNTEER_NAME),
            ("ack", ACKS), ("ackn", ACKS_NAMED), ("a.direct", ANSWER_DIRECT),
            ("a.hes", ANSWER_HESITANT), ("corr", CORRECTIONS), ("cont", CONTINUERS),
            ("half2", SECOND_HALF), ("intr", INTERRUPT_AGENT), ("intr2", INTERRUPT_REPEAT),
            ("rb", READBACK), ("conf", CONFIRM), ("spell", SPELL_LEADS), ("askspell", ASK_SPELL),
            ("spellback", AGENT_SPELL_BACK), ("close.a", CLOSINGS_AGENT),
            ("close.c", CLOSINGS_CALLER), ("bye", GOODBYES_AGENT), ("react", CALLER_REACTIONS),
            ("pinwarn", PIN_WARNINGS), ("first", FIRST_RESPONSES), ("othername.a", OTHER_NAME_A),
            ("pinvol", PIN_VOLUNTEER), ("volother", VOLUNTEER_OTHER),
            ("cvvq", COMBINED_EXPIRY_CVV_Q), ("cvva", COMBINED_EXPIRY_CVV_A)]
    for slot, d in SLOT_TEXT.items():
        if d["q"]:
            cats.append(("q." + slot, lines(d["q"])))
        cats.append(("noun." + slot, d["noun"].split("|")))
    for dom, q in OTHER_NAME_Q.items():
        cats.append(("q.other_name." + dom, lines(q)))
    for k, v in BENEFICIARY_LEADS.items():
        cats.append(("benef." + k, v.split("|")))
    for sc in SCENARIOS:
        if split is not None and split_of("sc." + sc["id"]) != split:
            continue
        cats.append(("open." + sc["id"], lines(sc["open"])))
        cats.append(("talk." + sc["id"], lines(sc["talk"])))
    return cats


SLOT_TYPE = {"name": "person_name", "other_name": "person_name", "phone": "phone_number",
             "dob": "date_of_birth", "address": "street_address", "postcode": "postcode",
             "email": "email", "card": "credit_card", "expiry": "card_expiry", "cvv": "card_cvv",
             "otp": "otp", "account": "bank_account", "ifsc": "ifsc", "sortcode": "uk_sort_code",
             "iban": "iban", "swift": "swift", "upi": "upi_id", "aadhaar": "aadhaar", "pan": "pan",
             "voter_id": "voter_id", "passport": "passport", "ssn": "us_ssn", "itin": "us_itin",
             "nino": "id_number", "nhs": "id_number", "sin": "id_number", "medicare": "id_number",
             "gstin": "gstin", "ip": "ip_address", "ref": "id_number", "pin": "pin",
             "intl": "iban", "bank": "bank_account", "gov": "aadhaar"}

# Rare identifier types and how a call can be made to carry one: (type, the scenario slots that
# can produce it, the slot to ask, the locales where it exists). A call is steered to the
# rarest of these (so far in its split) about half the time, so every type is covered.
NEEDS = [
    ("swift", ["intl"], "intl", None),
    ("iban", ["intl", "bank"], "intl", None),
    ("ip_address", ["ip"], "ip", None),
    ("pin", ["otp"], "pin", None),
    ("gstin", ["gstin"], "gstin", ["IN"]),
    ("uk_sort_code", ["bank"], "bank_uk", ["UK"]),
    ("ifsc", ["bank"], "bank_in", ["IN"]),
    ("upi_id", ["upi", "bank"], "upi", ["IN"]),
    ("voter_id", ["gov"], "voter_id", ["IN"]),
    ("pan", ["gov"], "pan", ["IN"]),
    ("aadhaar", ["gov"], "aadhaar", ["IN"]),
    ("us_itin", ["gov"], "itin", ["US"]),
    ("us_ssn", ["gov"], "ssn", ["US"]),
    ("passport", ["gov", "passport"], "passport", None),
    ("postcode", ["postcode"], "postcode", None),
    ("bank_account", ["bank", "account"], "account", None),
    ("card_cvv", ["cvv"], "cvv", None),
]

GOV = {"IN": ["aadhaar", "pan", "voter_id", "passport", "aadhaar", "pan"],
       "US": ["ssn", "ssn", "itin", "passport"], "UK": ["nino", "passport", "nino"],
       "CA": ["sin", "passport"], "AU": ["medicare", "passport"]}


class CallBuilder:
    def __init__(self, ctx, split, index, seed, attempt, type_counts, short=False):
        self.ctx, self.split, self.short = ctx, split, short
        self.rng = random.Random("%s:%s:%d:%d" % (seed, split, index, attempt))
        self.content = ctx.content[split]
        self.utts = []           # [speaker, [parts]]
        self.ids = []
        self.type_counts = type_counts
        self.pending_ack = None
        self.cust_known = False
        self.more_talk = False

    # -- phrasing helpers ----------------------------------------------------------------------
    def pick(self, category, texts):
        opts = self.content.options(category, texts)
        t = self.rng.choice(opts)
        self.ids.append(pid(category, t))
        return t

    def fill(self, template, **fills):
        parts = []
        for tok in re.split(r"(\{[^{}]+\})", template):
            if not tok:
                continue
            if tok.startswith("{") and tok.endswith("}"):
                name = tok[1:-1]
                if name.startswith("n:"):
                    text, typ = render_num(name[2:], self.locale, self.rng, self.domain)
                    key = words_key(text)
                    parts.append({"kind": "num", "type": typ, "text": text, "value": " ".join(key),
                                  "match": {"kind": "words", "key": key}})
                    continue
                if name not in fills:
                    raise KeyError("template %r needs {%s}" % (template, name))
                v = fills[name]
                parts.extend(v if isinstance(v, list) else [v])
            else:
                parts.append(tok)
        return parts

    def say(self, speaker, parts):
        if isinstance(parts, str):
            parts = [parts]
        if self.utts and self.utts[-1][0] == speaker:
            self.utts[-1][1].append(" ")
            self.utts[-1][1].extend(parts)
        else:
            self.utts.append([speaker, list(parts)])

    def agent(self, parts, ack=True):
        if isinstance(parts, str):
            parts = [parts]
        if ack and self.pending_ack:
            parts = self.pending_ack + parts
        self.pending_ack = None
        self.say("agent", parts)

    def caller(self, parts):
        self.say("caller", parts)

    def span(self, ent, text, style, mode="direct", match=None, **extra):
        sp = {"kind": "pii", "type": ent.type, "subtype": ent.subtype, "subject": ent.subject,
              "text": text, "value": ent.value, "spoken_style": style, "mode": mode,
              "match": match or ent.match(text if mode in ("direct", "hesitant", "readback",
                                                             "volunteered", "spelled") else None)}
        sp.update(extra)
        self.type_counts[ent.type] = self.type_counts.get(ent.type, 0) + 1
        return sp

    def said(self, ent, mode="direct"):
        text, style = ent.say(self.rng)
        return self.span(ent, text, style, mode)

    # -- the call ----------------------------------------------------------------------------
    def build(self):
        r = self.rng
        ctx = self.ctx
        self.locale = r.choices(list(LOCALE_WEIGHTS), weights=list(LOCALE_WEIGHTS.values()))[0]
        self.scenario = r.choice(ctx.scenarios[self.split])
        self.forced, self.forced_from = None, []
        need = self.neediest()
        if need and r.random() < 0.5:
            typ, gens, slot, locs, scs = need
            if locs:
                self.locale = r.choice(locs)
            self.scenario = r.choice(scs)
            self.forced, self.forced_from = slot, gens
        self.domain = self.scenario["domain"]
        self.ids.append("sc." + self.scenario["id"])
        comps = COMPANIES[self.domain][self.locale]
        self.company = r.choice(split_items("company.", comps, self.split) or comps)
        pools = ctx.names[self.split]
        self.agent_p = pools.pick(r, self.locale)
        self.cust_p = pools.pick(r, self.locale)
        while self.cust_p["last"] == self.agent_p["last"] or self.cust_p["first"] == self.agent_p["first"]:
            self.cust_p = pools.pick(r, self.locale)
        self.person_ents = {}
        self.plan_slots()
        self.greeting()
        self.opening()
        self.first_question = True
        talk_items = self.content.options("talk." + self.scenario["id"], lines(self.scenario["talk"]))
        n_talk = 1 if (len(self.slots) >= 4 or r.random() < 0.45 or self.short) else 2
        talk = r.sample(talk_items, min(n_talk, len(talk_items)))
        for t in talk:
            self.ids.append(pid("talk." + self.scenario["id"], t))
        mid = r.random() < 0.35 and len(self.slots) >= 2
        for i, slot in enumerate(self.slots):
            if mid and i == len(self.slots) - 1 and talk:
                self.more_talk = True
                self.business(talk.pop(0))
                self.more_talk = False
            self.exchange(slot)
        while talk:
            t = talk.pop(0)
            self.more_talk = bool(talk)
            self.business(t)
        self.closing()
        return self

    def neediest(self):
        cands = []
        for i, (typ, gens, slot, locs) in enumerate(NEEDS):
            scs = [sc for sc in self.ctx.scenarios[self.split]
                   if set(sc["slots"].split()) & set(gens)]
            if scs:
                cands.append((self.type_counts.get(typ, 0), i, (typ, gens, slot, locs, scs)))
        cands.sort(key=lambda c: c[:2])
        return cands[0][2] if cands and cands[0][0] < 12 else None

    def plan_slots(self):
        r, sc, loc = self.rng, self.scenario, self.locale
        allowed = []
        for s in sc["slots"].split():
            if s in self.forced_from:
                continue
            s = self.resolve(s)
            if s and s not in allowed:
                allowed.append(s)
        must = [self.resolve(s) for s in sc["must"].split() if s not in self.forced_from]
        must = [s for s in must if s]
        if self.forced == "pin":
            must += ["otp"]
        elif self.forced:
            must.append(self.forced)
        must = [s for i, s in enumerate(must) if s not in must[:i]]
        k = r.choices([2, 3, 4], weights=[0.3, 0.45, 0.25])[0]
        chosen = list(must)
        pool = [s for s in allowed if s not in chosen]
        while len(chosen) < k and pool:
            w = [1.0 / (1 + self.type_counts.get(self.slot_type(s), 0)) ** 1.5 for s in pool]
            s = r.choices(pool, weights=w)[0]
            pool.remove(s)
            chosen.append(s)
        if "address" in chosen and "postcode" in chosen:
            chosen.remove("address" if self.forced == "postcode" else "postcode")
        if self.forced == "cvv" and "card" not in chosen:
            chosen.insert(chosen.index("cvv"), "card")
        if "name" in chosen:
            chosen.remove("name")
            chosen.insert(0, "name")
        if self.short:     # the name and one identifier, both volunteered: small fixtures
            simple = [s for s in chosen + allowed if s in SHORT_NOUNS]
            chosen = ["name"] + ([r.choice(simple)] if simple else [])
        self.slots = chosen
        self.volunteer_name = "name" in chosen and (r.random() < 0.25 or self.short)
        if self.volunteer_name:
            self.slots.remove("name")
        self.volunteer_other = None
        cand = [s for s in self.slots if s in ("phone", "ref", "email", "account")]
        if self.short:
            cand = [s for s in self.slots if s in SHORT_NOUNS]
        if cand and (r.random() < 0.15 or self.short):
            self.volunteer_other = cand[0]
            self.slots.remove(cand[0])
        if "card" in self.slots and not self.short:
            i = self.slots.index("card")
            extra = []
            if r.random() < 0.6:
                extra.append("expiry")
                if r.random() < 0.5:
                    extra.append("cvv")
            self.slots[i + 1:i + 1] = [e for e in extra if e not in self.slots]
        if "otp" in self.slots and (self.forced == "pin" or (
                r.random() < 0.12 and self.domain in ("banking", "retail", "telecom"))):
            self.slots.insert(self.slots.index("otp") + 1, "pin")

    def slot_type(self, s):
        return {"gov": "aadhaar", "bank": "bank_account", "intl": "iban"}.get(s, SLOT_TYPE.get(s, s))

    def resolve(self, s):
        r, loc = self.rng, self.locale
        if s == "gov":
            opts = list(GOV[loc])
            if loc == "UK" and self.domain == "healthcare":
                opts = ["nhs", "nhs", "nino"]
            w = [1.0 / (1 + self.type_counts.get(SLOT_TYPE[o], 0)) for o in opts]
            return r.choices(opts, weights=w)[0]
        if s == "bank":
            if loc == "IN":
                return r.choice(["bank_in", "bank_in", "upi"])
            if loc == "UK":
                return r.choice(["bank_uk", "bank_uk", "iban"])
            return "account"
        if s == "upi":
            return "upi" if loc == "IN" else None
        if s == "gstin":
            return "gstin" if loc == "IN" else None
        if s == "postcode":
            return "postcode"
        return s

    # -- pieces ------------------------------------------------------------------------------
    def name_span(self, person, subject, which="full", mode="direct"):
        ent = name_ent(person, subject, which)
        return self.span(ent, ent.value, "name", mode)

    def cust_address(self):
        """'Mr Okafor' / 'Kwame' as parts (the name part is a span)."""
        r, p = self.rng, self.cust_p
        if r.random() < 0.5:
            return [self.name_span(p, "customer", "first")]
        title = "Mr" if p["gender"] == "m" else r.choice(["Ms", "Mrs"])
        return [title + " ", self.name_span(p, "customer", "last")]

    def greeting(self):
        t = self.pick("greet.short", SHORT_GREETINGS) if self.short else self.pick("greet", GREETINGS)
        full = self.rng.random() < 0.15
        ag = self.name_span(self.agent_p, "agent", "full" if full else "first")
        self.agent(self.fill(t, company=self.company, agent=ag))

    def opening(self):
        r = self.rng
        parts = []
        if self.volunteer_name:
            t = self.pick("volname", VOLUNTEER_NAME)
            parts += self.fill(t, V=self.name_span(self.cust_p, "customer", "full", "volunteered"))
            self.cust_known = True
        else:
            t = self.pick("copen", CALLER_OPENERS)
            parts += self.fill(t, agent=self.name_span(self.agent_p, "agent", "first"))
        reason = self.pick("open." + self.scenario["id"], lines(self.scenario["open"]))
        if parts and isinstance(parts[-1], str) and parts[-1].endswith((", ", ", and ")) and \
                reason.split(" ", 1)[0] not in FIRST_PERSON:
            reason = reason[0].lower() + reason[1:]
        parts += self.fill(reason)
        if self.volunteer_other:
            ent = self.make_ent(self.volunteer_other)
            noun = dict(SHORT_NOUNS, ref=ent.extra.get("refname", "reference number"))[
                self.volunteer_other]
            t = self.pick("volother", VOLUNTEER_OTHER)
            parts += self.fill(t, noun=noun, V=self.said(ent, "volunteered"))
            if r.random() < 0.4 and not self.short:
                self.caller(parts)
                return self.readback(ent)
        self.caller(parts)

    def make_ent(self, slot):
        r, loc, p = self.rng, self.locale, self.cust_p
        if slot in self.person_ents:
            return self.person_ents[slot]
        if slot == "phone":
            e = gen_phone(loc, r)
        elif slot == "dob":
            e = gen_dob(loc, r)
        elif slot == "address":
            e = gen_address(loc, r, self.split)
        elif slot == "postcode":
            e = gen_postcode(loc, r, self.split)
        elif slot == "email":
            e = gen_email(p, loc, r, self.split)
        elif slot == "card":
            e = gen_card(loc, r)
        elif slot == "expiry":
            e = gen_expiry(r)
        elif slot == "cvv":
            amex = self.person_ents.get("card") and self.person_ents["card"].subtype == "American Express"
            d = rdigits(r, 4 if amex else 3)
            e = digit_ent("card_cvv", d, [len(d)], d)
        elif slot == "otp":
            d = rdigits(r, r.choice([6, 6, 6, 4]))
            e = digit_ent("otp", d, [len(d)], d)
        elif slot == "pin":
            e = gen_pin(r)
        elif slot == "account":
            e = gen_account(loc, r)
        elif slot == "ifsc":
            e = gen_ifsc(r)
        elif slot == "sortcode":
            e = gen_sortcode(r)
        elif slot == "iban":
            e = gen_iban("GB", r)
        elif slot == "upi":
            ph = self.person_ents.get("phone")
            e = gen_upi(p, ph.digits if ph and loc == "IN" else rdigits(r, 10, "6789"), r, self.split)
        elif slot == "aadhaar":
            e = gen_aadhaar(r)
        elif slot == "pan":
            e = gen_pan(p, r)
        elif slot == "voter_id":
            e = gen_voter_id(r)
        elif slot == "passport":
            e = gen_passport(loc, r)
        elif slot == "ssn":
            e = gen_ssn(r)
        elif slot == "itin":
            e = gen_itin(r)
        elif slot == "nino":
            e = gen_nino(r)
        elif slot == "nhs":
            e = gen_nhs(r)
        elif slot == "sin":
            e = gen_sin(r)
        elif slot == "medicare":
            e = gen_medicare(r)
        elif slot == "gstin":
            e = gen_gstin(gen_pan(p, r).value, r)
        elif slot == "ip":
            e = gen_ip(r)
        elif slot == "ref":
            e = gen_ref(self.domain, r)
        else:
            raise ValueError(slot)
        self.person_ents[slot] = e
        return e

    def question(self, slot, ent=None):
        d = SLOT_TEXT[slot]
        q = self.pick("q." + slot, lines(d["q"]))
        if ent is not None and "{refname}" in q:
            q = q.replace("{refname}", ent.extra.get("refname", "reference number"))
        lead = []
        if self.first_question:
            lead = [self.pick("first", FIRST_RESPONSES)]
            self.first_question = False
            self.pending_ack = None
        elif self.pending_ack is None and self.utts and self.utts[-1][0] == "caller":
            if self.cust_known and self.rng.random() < 0.3:
                t = self.pick("ackn", ACKS_NAMED)
                lead = self.fill(t, cust=self.cust_address())
            else:
                lead = [self.pick("ack", ACKS)]
        self.agent(lead + [q])

    def answer_frame(self, slot, ent, hesitant=False):
        """A caller answer template with {V}."""
        if hesitant:
            return self.pick("a.hes", ANSWER_HESITANT)
        if self.rng.random() < 0.5:
            noun = self.pick("noun." + slot, SLOT_TEXT[slot]["noun"].split("|"))
            noun = noun.replace("{refname}", ent.extra.get("refname", "reference number"))
            return noun + " {V}."
        return self.pick("a.direct", ANSWER_DIRECT)

    def exchange(self, slot):
        r = self.rng
        if slot == "name":
            return self.ask_name()
        if slot == "other_name":
            return self.ask_other_name()
        if slot == "pin":
            return self.volunteer_pin()
        if slot == "bank_in":
            self.exchange("account")
            return self.exchange("ifsc")
        if slot == "bank_uk":
            self.exchange("account")
            return self.exchange("sortcode")
        if slot == "intl":
            return self.ask_beneficiary()
        if slot == "expiry" and "cvv" in self.slots and r.random() < 0.35:
            return self.ask_expiry_cvv()
        if slot == "cvv" and "cvv" in self.person_ents:
            return
        ent = self.make_ent(slot)
        self.question(slot, ent)
        self.answer(slot, ent)

    def answer(self, slot, ent):
        r = self.rng
        digitish = ent.kind == "digits" and ent.sayer is None and ent.groups and len(ent.digits) >= 6
        modes = ["direct"] * 40 + ["hesitant"] * 17
        if digitish:
            modes += ["corrected"] * 11 + ["interrupted"] * 7
            if len(ent.groups) >= 2 and len(ent.digits) >= 8:
                modes += ["split"] * 10
        mode = r.choice(modes) if not self.short else r.choice(["direct", "hesitant"])
        if mode == "split":
            return self.answer_split(slot, ent)
        if mode == "interrupted":
            g0 = ent.digits[:ent.groups[0]]
            frag = say_group(g0, "digits", r)
            frag_span = self.span(ent, frag, "fragment", "fragment", match=ent.match())
            t = self.pick("a.direct", ANSWER_DIRECT)
            parts = self.fill(t.rstrip(".") + "...", V=frag_span)
            self.caller(parts)
            self.agent([self.pick("intr", INTERRUPT_AGENT)], ack=False)
            t = self.pick("intr2", INTERRUPT_REPEAT)
            self.caller(self.fill(t, V=self.said(ent, "repeated")))
        elif mode == "corrected":
            text, style = ent.say(r)
            wrong = list(ent.digits[:ent.groups[0]])
            j = r.randrange(len(wrong))
            wrong[j] = str((int(wrong[j]) + r.randrange(1, 9)) % 10)
            a = say_digits("".join(wrong), r, False)
            t = self.pick("corr", CORRECTIONS)
            combined = t.replace("{A}", a).replace("{V}", text)
            combined = re.sub(r"([.?!] )([a-z])", lambda m: m.group(1) + m.group(2).upper(), combined)
            sp = self.span(ent, combined, "corrected " + style, "corrected", match=ent.match())
            frame = self.answer_frame(slot, ent)
            self.caller(self.fill(frame, V=sp))
        else:
            hes = mode == "hesitant"
            text, style = ent.say(r)
            if hes and ", " in text and ent.kind == "digits" and r.random() < 0.5:
                i = text.index(", ")
                text = text[:i] + r.choice([", uh, ", ", um, ", "... er, "]) + text[i + 2:]
            sp = self.span(ent, text, style, mode)
            self.caller(self.fill(self.answer_frame(slot, ent, hes), V=sp))
        if ent.kind != "name" and not self.short and \
                r.random() < (0.3 if ent.kind in ("digits", "code") else 0.15):
            self.readback(ent)

    def answer_split(self, slot, ent):
        r = self.rng
        k = max(1, len(ent.groups) // 2)
        cut = sum(ent.groups[:k])
        halves = [(ent.digits[:cut], ent.groups[:k]), (ent.digits[cut:], ent.groups[k:])]
        spans = []
        for i, (d, g) in enumerate(halves):
            text, style = speak_number_string(d, g, r)
            m = {"full": [m_digits(d)], "partial": []}
            part = Ent(ent.type, d, subject=ent.subject, subtype=ent.subtype)
            spans.append(self.span(part, text, style, "split", match=m, part="%d/2" % (i + 1),
                                   whole_value=ent.value))
        frame = self.answer_frame(slot, ent).rstrip(".")
        self.caller(self.fill(frame + "...", V=spans[0]))
        self.agent([self.pick("cont", CONTINUERS)], ack=False)
        self.caller(self.fill(self.pick("half2", SECOND_HALF), V=spans[1]))
        if r.random() < 0.5:
            self.readback(ent)

    def readback(self, ent):
        r = self.rng
        text, style = ent.say(r)
        sp = self.span(ent, text, style, "readback")
        sp["subject"] = ent.subject
        t = self.pick("rb", READBACK)
        self.agent(self.fill(t, V=sp), ack=False)
        self.caller([self.pick("conf", CONFIRM)])

    def ask_name(self):
        r = self.rng
        self.question("name")
        ent = name_ent(self.cust_p, "customer")
        hes = r.random() < 0.15
        frame = self.answer_frame("name", ent, hes)
        parts = self.fill(frame, V=self.span(ent, ent.value, "name", "hesitant" if hes else "direct"))
        self.cust_known = True
        x = r.random()
        if x < 0.2:
            sp_ent = spelled_name_ent(self.cust_p, "customer", "last", r)
            text, style = sp_ent.say(r)
            t = self.pick("spell", SPELL_LEADS)
            parts += [" "] + self.fill(t, V=self.span(sp_ent, text, style, "spelled"))
            self.caller(parts)
        elif x < 0.4:
            self.caller(parts)
            self.agent([self.pick("askspell", ASK_SPELL)])
            sp_ent = spelled_name_ent(self.cust_p, "customer", "last", r)
            text, style = sp_ent.say(r)
            self.caller(self.fill(self.pick("spell", SPELL_LEADS), V=self.span(sp_ent, text, style, "spelled")))
            if r.random() < 0.4:
                letters = re.sub(r"[^A-Za-z]", "", self.cust_p["last"]).upper()
                sp = self.span(sp_ent, " ".join(letters), "spelled", "readback")
                self.agent(self.fill(self.pick("spellback", AGENT_SPELL_BACK), V=sp), ack=False)
                self.caller([self.pick("conf", CONFIRM)])
        else:
            self.caller(parts)

    def ask_other_name(self):
        r = self.rng
        if self.domain not in OTHER_NAME_Q:
            return
        q = self.pick("q.other_name." + self.domain, lines(OTHER_NAME_Q[self.domain]))
        self.agent([self.pick("ack", ACKS), q] if not self.first_question else
                   [self.pick("first", FIRST_RESPONSES), q])
        self.first_question = False
        other = self.ctx.names[self.split].pick(r, self.locale)
        if r.random() < 0.5:
            other = dict(other, last=self.cust_p["last"])
        ent = name_ent(other, "third_party")
        t = self.pick("othername.a", OTHER_NAME_A)
        self.caller(self.fill(t, V=self.span(ent, ent.value, "name"), rel=r.choice(RELATIONS)))

    def volunteer_pin(self):
        ent = self.make_ent("pin")
        text, style = ent.say(self.rng)
        t = self.pick("pinvol", PIN_VOLUNTEER)
        self.caller(self.fill(t, V=self.span(ent, text, style, "volunteered")))
        self.agent([self.pick("pinwarn", PIN_WARNINGS)], ack=False)
        self.caller([self.pick("react", CALLER_REACTIONS)])

    def ask_beneficiary(self):
        r = self.rng
        country = r.choice(["DE", "IE", "ES"]) if self.locale != "UK" else r.choice(["DE", "IE", "ES"])
        iban = gen_iban(country, r, "third_party")
        swift = gen_swift(country, r, "third_party")
        self.question("iban", iban)
        text, style = iban.say(r)
        t = self.pick("benef.iban", BENEFICIARY_LEADS["iban"].split("|"))
        self.caller(self.fill(t, V=self.span(iban, text, style)))
        if r.random() < 0.3:
            self.readback(iban)
        self.question("swift", swift)
        text, style = swift.say(r)
        t = self.pick("benef.swift", BENEFICIARY_LEADS["swift"].split("|"))
        self.caller(self.fill(t, V=self.span(swift, text, style)))

    def ask_expiry_cvv(self):
        e = self.make_ent("expiry")
        c = self.make_ent("cvv")
        q = self.pick("cvvq", COMBINED_EXPIRY_CVV_Q)
        self.agent([self.pick("ack", ACKS), q])
        et, es = e.say(self.rng)
        ct, cs = c.say(self.rng)
        t = self.pick("cvva", COMBINED_EXPIRY_CVV_A)
        self.caller(self.fill(t, E=self.span(e, et, es), C=self.span(c, ct, cs)))

    def business(self, item):
        r = self.rng
        for seg in item.split(" || "):
            who, text = seg[:2], seg[3:]
            parts = self.fill(text)
            if who == "A:":
                lead = []
                if self.utts and self.utts[-1][0] == "caller" and r.random() < 0.5:
                    lead = [self.pick("ack", ACKS)]
                self.pending_ack = None
                self.agent(lead + parts, ack=False)
            else:
                self.caller(parts)
        if self.utts[-1][0] == "agent" and (r.random() < 0.75 or self.more_talk or self.short):
            self.caller([self.pick("react", CALLER_REACTIONS)])

    def closing(self):
        r = self.rng
        q = self.pick("close.a", CLOSINGS_AGENT) if not self.short else \
            self.pick("close.a.short", SHORT_CLOSE_AGENT)
        parts = [q]
        if self.short:
            self.agent(parts, ack=False)
            return self.caller([self.pick("close.c.short", SHORT_CLOSE_CALLER)])
        if self.cust_known and r.random() < 0.4:
            parts = [q[:-1] + ", "] + self.cust_address() + ["?"]
        self.agent(parts, ack=False)
        self.caller([self.pick("close.c", CLOSINGS_CALLER)])
        if r.random() < 0.5 and not self.short:
            self.agent(self.fill(self.pick("bye", GOODBYES_AGENT), company=self.company), ack=False)


# ---------------------------------------------------------------------------------------------
# From utterances to the corpus JSON; checks
# ---------------------------------------------------------------------------------------------
FIRST_PERSON = {"I", "I'm", "I've", "I'd", "I'll"}


def tts_text_of(text):
    """What is fed to TTS: acronyms the scorer reads as letters are spaced ('O T P')."""
    def sp(m):
        w = m.group(0)
        return w if w in CAPS_WORDS else " ".join(w)
    return re.sub(r"\b[A-Z]{2,}\b", sp, text)


def assemble(builder, call_id):
    turns, pii, nums = [], [], []
    for ti, (speaker, parts) in enumerate(builder.utts):
        text = ""
        for p in parts:
            if isinstance(p, str):
                if text.endswith(" ") or not text:
                    p = p.lstrip(" ")
                text += p
            else:
                if text and not text.endswith((" ", "(")):
                    text += " "
                start = len(text)
                if (not text or text.endswith((". ", "? ", "! ", "... "))) and p["text"][:1].islower():
                    p = dict(p, text=p["text"][0].upper() + p["text"][1:])
                text += p["text"]
                sp = dict(p, turn=ti, char_start=start, char_end=len(text))
                (pii if p["kind"] == "pii" else nums).append(sp)
        text = re.sub(r"\s+([.,?!])", r"\1", text.rstrip())
        turns.append({"speaker": speaker, "text": text})
    # the regex above may move characters: recompute offsets by searching each span's text
    for coll in (pii, nums):
        for sp in coll:
            t = turns[sp["turn"]]["text"]
            j = t.find(sp["text"], max(0, sp["char_start"] - 8))
            if j < 0:
                raise AssertionError("span lost: %r in %r" % (sp["text"], t))
            sp["char_start"], sp["char_end"] = j, j + len(sp["text"])
    for t in turns:
        t["tts_text"] = tts_text_of(t["text"])
    # every span of one identifier carries the union of their matches
    groups = {}
    for sp in pii:
        groups.setdefault((sp["type"], sp["value"]), []).append(sp)
    for sps in groups.values():
        full, partial = [], []
        for sp in sps:
            for m in sp["match"]["full"]:
                if m not in full:
                    full.append(m)
            for m in sp["match"]["partial"]:
                if m not in partial:
                    partial.append(m)
        for sp in sps:
            sp["match"] = {"full": [dict(m) for m in full], "partial": [dict(m) for m in partial]}
    pii.sort(key=lambda s: (s["turn"], s["char_start"]))
    nums.sort(key=lambda s: (s["turn"], s["char_start"]))
    out_pii = []
    for i, sp in enumerate(pii, 1):
        row = {"type": sp["type"]}
        if sp.get("subtype"):
            row["subtype"] = sp["subtype"]
        row.update(subject=sp["subject"], turn=sp["turn"], char_start=sp["char_start"],
                   char_end=sp["char_end"], text=sp["text"], value=sp["value"],
                   spoken_style=sp["spoken_style"], match=sp["match"], id="%s-p%02d" % (call_id, i),
                   mode=sp["mode"])
        for k in ("part", "whole_value"):
            if k in sp:
                row[k] = sp[k]
        out_pii.append(row)
    out_nums = []
    for i, sp in enumerate(nums, 1):
        out_nums.append({"type": sp["type"], "turn": sp["turn"], "char_start": sp["char_start"],
                         "char_end": sp["char_end"], "text": sp["text"], "value": sp["value"],
                         "match": sp["match"], "id": "%s-n%02d" % (call_id, i)})
    return turns, out_pii, out_nums


def problems(ref):
    """Why a reference would not score exactly (empty when it is good)."""
    out = []
    turns = ref["turns"]
    spans = {}
    for p in ref["pii"] + ref["non_pii"]:
        t = turns[p["turn"]]["text"]
        if t[p["char_start"]:p["char_end"]] != p["text"]:
            out.append("offsets of %s" % p["id"])
        spans.setdefault(p["turn"], []).append((p["char_start"], p["char_end"], p["id"]))
    for ti, lst in spans.items():
        lst.sort()
        for a, b in zip(lst, lst[1:]):
            if b[0] < a[1]:
                out.append("overlap %s %s" % (a[2], b[2]))
    raw = " ".join(ref_turn_texts(ref))
    if HypIndex(raw).markers:
        out.append("raw text contains something the scorer takes for a redaction marker")
    ev = evaluate(ref, raw)
    for p in ev["not_full"]:
        out.append("raw: %s %r not found whole" % (p["type"], p["value"]))
    for q in ev["missing"]:
        out.append("raw: non-PII %r not found" % q["text"])
    red = " ".join(ref_turn_texts(ref, "[REDACTED]"))
    ev = evaluate(ref, red)
    for p in ev["leaked"]:
        out.append("redacted: %s %r still leaks" % (p["type"], p["value"]))
    for q in ev["missing"]:
        out.append("redacted: non-PII %r not found" % q["text"])
    return out


def estimate_seconds(text):
    return 0.4 + 0.36 * len(text.split())


# ---------------------------------------------------------------------------------------------
# Voices and the telephone channel
# ---------------------------------------------------------------------------------------------
VOICES = [
    # id, gender, engine, voice, description
    ("slt", "f", "flite", "slt", "flite 2.2 cmu_us_slt (Debian flite), US English female, clustergen"),
    ("rms", "m", "flite", "rms", "flite 2.2 cmu_us_rms (Debian flite), US English male, clustergen"),
    ("awb", "m", "flite", "awb", "flite 2.2 cmu_us_awb (Debian flite), Scottish English male, clustergen"),
    ("kal", "m", "flite", "kal16", "flite 2.2 cmu_us_kal16 (Debian flite), US English male, diphone"),
    ("en-us+f2", "f", "espeak", "en-us+f2", "eSpeak NG 1.51 en-us, variant f2, formant synthesis"),
    ("en-us+f3", "f", "espeak", "en-us+f3", "eSpeak NG 1.51 en-us, variant f3, formant synthesis"),
    ("en-gb+f3", "f", "espeak", "en-gb+f3", "eSpeak NG 1.51 en-gb, variant f3, formant synthesis"),
    ("en-gb-x-rp+f2", "f", "espeak", "en-gb-x-rp+f2", "eSpeak NG 1.51 en-gb-x-rp, variant f2"),
    ("en-029+f4", "f", "espeak", "en-029+f4", "eSpeak NG 1.51 en-029 (Caribbean), variant f4"),
    ("en-gb-scotland+f5", "f", "espeak", "en-gb-scotland+f5", "eSpeak NG 1.51 en-gb-scotland, variant f5"),
    ("en-us+m3", "m", "espeak", "en-us+m3", "eSpeak NG 1.51 en-us, variant m3, formant synthesis"),
    ("en-gb+m3", "m", "espeak", "en-gb+m3", "eSpeak NG 1.51 en-gb, variant m3, formant synthesis"),
    ("en-gb-x-rp", "m", "espeak", "en-gb-x-rp", "eSpeak NG 1.51 en-gb-x-rp (RP), formant synthesis"),
    ("en-gb-scotland+m2", "m", "espeak", "en-gb-scotland+m2", "eSpeak NG 1.51 en-gb-scotland, variant m2"),
    ("en-029+m3", "m", "espeak", "en-029+m3", "eSpeak NG 1.51 en-029 (Caribbean), variant m3"),
    ("en-us", "m", "espeak", "en-us", "eSpeak NG 1.51 en-us, formant synthesis"),
]


def pick_voice(rng, gender, avoid=None):
    opts = [v for v in VOICES if v[1] == gender and v[0] != avoid]
    flite = [v for v in opts if v[2] == "flite"]
    if flite and rng.random() < 0.45:
        v = rng.choice(flite)
    else:
        v = rng.choice(opts)
    params = {"engine": v[2], "voice": v[3]}
    if v[2] == "flite":
        params["duration_stretch"] = round(rng.uniform(0.95, 1.12), 2)
    else:
        params["wpm"] = rng.randrange(150, 176)
        params["pitch"] = rng.randrange(35, 66)
    return v, params


def audio_plan(seed, split, index, n_turns, speakers):
    r = random.Random("%s:%s:%d:audio" % (seed, split, index))
    return {"lead_in": round(r.uniform(0.3, 0.6), 3),
            "gaps": [round(r.uniform(0.3, 0.9), 3) for _ in range(n_turns)],
            "level_db": {"agent": round(r.uniform(-9, -4), 1), "caller": round(r.uniform(-11, -4), 1)},
            "turn_jitter_db": [round(r.uniform(-1.5, 1.5), 2) for _ in range(n_turns)],
            "noise_db": round(r.uniform(-46, -32), 1),
            "noise_color": r.choice(["pinknoise", "whitenoise", "brownnoise"])}


def run(cmd, **kw):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
    if p.returncode != 0:
        raise RuntimeError("%s failed: %s" % (cmd[0], p.stderr.decode("utf-8", "replace")[-400:]))
    return p


def synth_call(job):
    """Synthesises one call (runs in a worker). Returns the turn timings and duration."""
    ref, plan, out_dir, clean16k = job["ref"], job["plan"], job["out_dir"], job["clean16k"]
    cid = ref["call_id"]
    tmp = tempfile.mkdtemp(prefix="gencorpus-%s-" % cid)
    try:
        pcm = []
        for i, t in enumerate(ref["turns"]):
            tts = ref["speakers"][t["speaker"]]["tts"]
            wav = os.path.join(tmp, "t%02d.wav" % i)
            if tts["engine"] == "flite":
                run(["flite", "-voice", tts["voice"], "--setf",
                     "duration_stretch=%s" % tts["duration_stretch"], "-t", t["tts_text"], "-o", wav])
            else:
                run(["espeak-ng", "-v", tts["voice"], "-s", str(tts["wpm"]), "-p", str(tts["pitch"]),
                     "-w", wav, "--stdin"], input=t["tts_text"].encode("utf-8"))
            raw = os.path.join(tmp, "t%02d.raw" % i)
            gain = plan["level_db"][t["speaker"]] + plan["turn_jitter_db"][i]
            run(["sox", "-R", "-D", "-V1", wav, "-t", "raw", "-r", "16000", "-c", "1", "-b", "16",
                 "-e", "signed-integer", raw, "silence", "1", "0.02", "0.1%", "reverse", "silence",
                 "1", "0.02", "0.1%", "reverse", "norm", "-1", "gain", "%.2f" % gain])
            with open(raw, "rb") as f:
                pcm.append(f.read())
        rate = 16000
        tracks = {"agent": bytearray(), "caller": bytearray()}
        pos = int(plan["lead_in"] * rate)
        for k in tracks:
            tracks[k] += bytes(2 * pos)
        timings = []
        for i, (t, data) in enumerate(zip(ref["turns"], pcm)):
            n = len(data) // 2
            start = pos / rate
            other = "caller" if t["speaker"] == "agent" else "agent"
            tracks[t["speaker"]] += data
            tracks[other] += bytes(2 * n)
            pos += n
            timings.append((round(start, 3), round(pos / rate, 3)))
            gap = int(plan["gaps"][i] * rate) if i + 1 < len(pcm) else int(0.5 * rate)
            for k in tracks:
                tracks[k] += bytes(2 * gap)
            pos += gap
        duration = pos / rate
        rawf = {}
        for k, data in tracks.items():
            rawf[k] = os.path.join(tmp, "%s.raw" % k)
            with open(rawf[k], "wb") as f:
                f.write(data)
        mono16 = os.path.join(tmp, "mono16.raw")
        with open(mono16, "wb") as f:
            a, c = tracks["agent"], tracks["caller"]
            f.write(bytes(x | y for x, y in zip(a, c)))   # never overlap: one of each pair is 0
        rawin = ["-t", "raw", "-r", "16000", "-c", "1", "-b", "16", "-e", "signed-integer"]
        band = ["sinc", "300-3400", "rate", "8000"]
        tel = {}
        for k in ("agent", "caller"):
            tel[k] = os.path.join(tmp, "%s8k.wav" % k)
            run(["sox", "-R", "-D", "-V1"] + rawin + [rawf[k], "-b", "16", tel[k]] + band)
        noise = []
        for j in range(3):
            nf = os.path.join(tmp, "noise%d.wav" % j)
            run(["sox", "-R", "-D", "-V1", "-n", "-r", "8000", "-c", "1", "-b", "16", nf, "synth",
                 "%.3f" % duration, plan["noise_color"], "sinc", "300-3400", "gain",
                 "%.1f" % plan["noise_db"]])
            noise.append(nf)
        mono = os.path.join(out_dir, "%s.8k.mulaw.wav" % cid)
        run(["sox", "-R", "-D", "-V1", "-m", "-v", "1", tel["caller"], "-v", "1", tel["agent"],
             "-v", "1", noise[0], "-e", "u-law", "-b", "8", mono])
        noisy = {}
        for j, k in enumerate(("caller", "agent")):
            noisy[k] = os.path.join(tmp, "%s-noisy.wav" % k)
            run(["sox", "-R", "-D", "-V1", "-m", "-v", "1", tel[k], "-v", "1", noise[j + 1], noisy[k]])
        stereo = os.path.join(out_dir, "%s.8k.stereo.wav" % cid)
        run(["sox", "-R", "-D", "-V1", "-M", noisy["caller"], noisy["agent"], "-e", "u-law", "-b", "8",
             stereo])
        if clean16k:
            run(["sox", "-R", "-D", "-V1"] + rawin + [mono16, os.path.join(out_dir, "%s.16k.flac" % cid)])
        return {"timings": timings, "duration": round(duration, 3)}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------------------------
class Context:
    def __init__(self, repo, splits):
        self.gazetteer = load_gazetteer(repo)
        self.names = {s: NamePools(s, self.gazetteer) for s in splits}
        self.content = {s: Content(s) for s in splits}
        self.scenarios = {s: [sc for sc in SCENARIOS if split_of("sc." + sc["id"]) == s]
                          for s in splits}
        for s in splits:
            for cat, texts in all_categories(s):
                self.content[s].options(cat, texts)
            doms = {sc["domain"] for sc in self.scenarios[s]}
            missing = sorted({sc["domain"] for sc in SCENARIOS} - doms)
            if missing:
                raise SystemExit("split %s has no scenario for %s" % (s, ", ".join(missing)))


def split_report(ctx):
    lines_ = []
    for s, c in ctx.content.items():
        f, l = ctx.names[s].counts()
        lines_.append("%s: %d scenarios, %d first names, %d surnames, %d phrasing lists shared "
                      "for lack of a %s item%s" % (
                          s, len(ctx.scenarios[s]), f, l, len(set(c.missing)), s,
                          (" (" + ", ".join(sorted(set(c.missing))) + ")") if c.missing else ""))
    return lines_


def make_reference(ctx, split, index, seed, type_counts, max_seconds=None, prefix=None,
                   short=False):
    call_id = "%s%04d" % (prefix or split, index)
    last = None
    for attempt in range(200):
        counts = dict(type_counts)
        b = CallBuilder(ctx, split, index, seed, attempt, counts, short)
        try:
            b.build()
            turns, pii, nums = assemble(b, call_id)
        except (AssertionError, ValueError, KeyError) as e:
            last = "build: %s" % e
            continue
        if not 6 <= len(turns) <= 14:
            last = "%d turns" % len(turns)
            continue
        est = sum(estimate_seconds(t["text"]) for t in turns) + 0.6 * len(turns)
        if max_seconds and est > max_seconds:
            last = "too long"
            continue
        if not max_seconds and not 24 <= est <= 80:
            last = "estimated %.0f s" % est
            continue
        ref = {"call_id": call_id, "domain": b.domain, "locale": b.locale, "company": b.company,
               "title": b.scenario["title"], "duration_s": 0.0, "audio": {}, "speakers": {},
               "turns": turns, "pii": pii, "non_pii": nums}
        bad = problems(ref)
        if bad:
            last = "; ".join(bad[:3])
            continue
        type_counts.clear()
        type_counts.update(counts)
        vr = random.Random("%s:%s:%d:voices" % (seed, split, index))
        av, ap = pick_voice(vr, b.agent_p["gender"])
        cv, cp = pick_voice(vr, b.cust_p["gender"], avoid=av[0])
        ref["speakers"] = {
            "agent": {"role": "contact-centre agent", "gender": b.agent_p["gender"], "voice": av[0],
                      "voice_desc": av[4], "twilio_track": "outbound", "tts": ap},
            "caller": {"role": "customer", "gender": b.cust_p["gender"], "voice": cv[0],
                       "voice_desc": cv[4], "twilio_track": "inbound", "tts": cp}}
        ref["generator"] = {"tool": "scripts/gencorpus.py", "split": split, "seed": str(seed),
                            "attempt": attempt, "scenario": "sc." + b.scenario["id"],
                            "ids": sorted(set(b.ids))}
        return ref
    raise SystemExit("%s: could not build a valid call (last problem: %s)" % (call_id, last))


def estimate_timings(ref, plan):
    t = plan["lead_in"]
    for i, turn in enumerate(ref["turns"]):
        d = estimate_seconds(turn["text"])
        turn["start"], turn["end"] = round(t, 3), round(t + d, 3)
        t += d + plan["gaps"][i]
    ref["duration_s"] = round(t - plan["gaps"][-1] + 0.5, 3)


def ordered_ref(ref):
    keys = ["call_id", "domain", "locale", "company", "title", "duration_s", "audio", "speakers",
            "turns", "pii", "non_pii", "generator"]
    out = {k: ref[k] for k in keys if k in ref}
    out["turns"] = [{"speaker": t["speaker"], "text": t["text"], "tts_text": t["tts_text"],
                     "start": t.get("start", 0.0), "end": t.get("end", 0.0)} for t in ref["turns"]]
    return out


def generate(args):
    splits = ["dev", "test"] if args.split == "both" else [args.split]
    ctx = Context(REPO, splits)
    for line in split_report(ctx):
        sys.stderr.write("gencorpus: %s\n" % line)
    t0 = time.time()
    for split in splits:
        out_dir = os.path.join(args.out, split)
        os.makedirs(out_dir, exist_ok=True)
        counts = {}
        refs = []
        for i in range(1, args.calls + 1):
            refs.append(make_reference(ctx, split, i, args.seed, counts, args.max_seconds,
                                       args.prefix, args.short))
        jobs = []
        for ref in refs:
            idx = int(ref["call_id"][-4:])
            plan = audio_plan(args.seed, split, idx, len(ref["turns"]), ref["speakers"])
            ref["_plan"] = plan
            if args.text_only:
                estimate_timings(ref, plan)
                ref["audio"] = {}
                ref["generator"]["timing"] = "estimated (text only, no audio)"
            else:
                jobs.append({"ref": ref, "plan": plan, "out_dir": out_dir, "clean16k": args.clean16k})
        if jobs:
            done = 0
            with concurrent.futures.ProcessPoolExecutor(max_workers=args.jobs) as ex:
                for job, res in zip(jobs, ex.map(synth_call, jobs)):
                    ref = job["ref"]
                    for turn, (a, b) in zip(ref["turns"], res["timings"]):
                        turn["start"], turn["end"] = a, b
                    ref["duration_s"] = res["duration"]
                    cid = ref["call_id"]
                    ref["audio"] = {"tel_8k_mulaw_mono": "%s.8k.mulaw.wav" % cid,
                                    "tel_8k_mulaw_stereo": "%s.8k.stereo.wav" % cid}
                    if args.clean16k:
                        ref["audio"]["clean_16k_flac_mono"] = "%s.16k.flac" % cid
                    ref["generator"]["audio"] = {k: v for k, v in job["plan"].items()}
                    done += 1
                    if done % 20 == 0 or done == len(jobs):
                        sys.stderr.write("gencorpus: %s: %d/%d calls synthesised (%.0f s)\n" % (
                            split, done, len(jobs), time.time() - t0))
        for ref in refs:
            ref.pop("_plan", None)
            with open(os.path.join(out_dir, ref["call_id"] + ".json"), "w", encoding="utf-8") as f:
                json.dump(ordered_ref(ref), f, indent=1, ensure_ascii=False)
                f.write("\n")
        summarise(split, refs, sys.stderr)
    sys.stderr.write("gencorpus: done in %.0f s\n" % (time.time() - t0))


def summarise(split, refs, stream):
    types = {}
    for r in refs:
        seen = set()
        for p in r["pii"]:
            k = (p["type"], p["value"])
            if k in seen:
                continue
            seen.add(k)
            types[p["type"]] = types.get(p["type"], 0) + 1
    n_turns = sum(len(r["turns"]) for r in refs)
    durs = [r["duration_s"] for r in refs]
    stream.write("gencorpus: %s: %d calls, %d turns, %d identifiers, %d PII spans, %d non-PII "
                 "numbers, %.0f-%.0f s (mean %.1f)\n" % (
                     split, len(refs), n_turns, sum(types.values()),
                     sum(len(r["pii"]) for r in refs), sum(len(r["non_pii"]) for r in refs),
                     min(durs), max(durs), sum(durs) / len(durs)))
    stream.write("gencorpus: %s identifiers by type: %s\n" % (
        split, ", ".join("%s %d" % kv for kv in sorted(types.items()))))


def check(ref_dir, hyp_root=None):
    """Writes raw and redacted hypotheses for every reference and scores them with the mirror."""
    ref_dir = os.path.abspath(ref_dir)
    name = os.path.basename(ref_dir.rstrip("/"))
    root = hyp_root or os.path.dirname(ref_dir)
    raw_dir = os.path.join(root, "hyp-raw-" + name)
    red_dir = os.path.join(root, "hyp-redacted-" + name)
    for d in (raw_dir, red_dir):
        os.makedirs(d, exist_ok=True)
    tot = {"raw": [0, 0, 0, 0, 0], "red": [0, 0, 0, 0, 0]}
    bad = 0
    files = sorted(f for f in os.listdir(ref_dir) if f.endswith(".json"))
    for fn in files:
        with open(os.path.join(ref_dir, fn), encoding="utf-8") as f:
            ref = json.load(f)
        for label, d, rep in (("raw", raw_dir, None), ("red", red_dir, "[REDACTED]")):
            texts = ref_turn_texts(ref, rep)
            segs = [{"text": tx, "start": t["start"], "end": t["end"], "speaker": t["speaker"]}
                    for tx, t in zip(texts, ref["turns"])]
            with open(os.path.join(d, ref["call_id"] + ".json"), "w", encoding="utf-8") as f:
                json.dump({"call_id": ref["call_id"], "segments": segs}, f, indent=1)
            ev = evaluate(ref, " ".join(texts))
            for i, k in enumerate(("ids", "full", "any", "nums", "present")):
                tot[label][i] += ev[k]
        pr = problems(ref)
        if pr:
            bad += 1
            print("%s: %s" % (ref["call_id"], "; ".join(pr)))
    r, x = tot["raw"], tot["red"]
    print("%s: %d calls; raw: %d/%d identifiers leak whole, %d/%d non-PII present; "
          "redacted: %d leak whole, %d leak any, %d/%d non-PII present" % (
              ref_dir, len(files), r[1], r[0], r[4], r[3], x[1], x[2], x[4], x[3]))
    print("hypotheses: %s %s" % (raw_dir, red_dir))
    ok = bad == 0 and r[1] == r[0] and r[4] == r[3] and x[1] == 0 and x[2] == 0 and x[4] == x[3]
    print("CHECK %s" % ("PASSED" if ok else "FAILED"))
    return ok


def score(ref_dir, hyp_dir):
    """Scores redacted hypotheses (the scorer's format: {"call_id", "segments": [{"text"}]})
    against the references with the mirror of the scorer's matching; prints one line per leak
    (type and call only, never the value) and the totals as JSON on the last line."""
    tot = {"calls": 0, "identifiers": 0, "leak_full": 0, "leak_any": 0, "non_pii": 0,
           "non_pii_present": 0}
    for fn in sorted(f for f in os.listdir(ref_dir) if f.endswith(".json")):
        with open(os.path.join(ref_dir, fn), encoding="utf-8") as f:
            ref = json.load(f)
        path = os.path.join(hyp_dir, ref["call_id"] + ".json")
        if not os.path.exists(path):
            print("%s: no hypothesis at %s" % (ref["call_id"], path))
            tot["missing_hypotheses"] = tot.get("missing_hypotheses", 0) + 1
            continue
        with open(path, encoding="utf-8") as f:
            hyp = json.load(f)
        text = " ".join(s.get("text", "") for s in hyp.get("segments", []))
        ev = evaluate(ref, text)
        tot["calls"] += 1
        tot["identifiers"] += ev["ids"]
        tot["leak_full"] += ev["full"]
        tot["leak_any"] += ev["any"]
        tot["non_pii"] += ev["nums"]
        tot["non_pii_present"] += ev["present"]
        for p in ev["leaked"]:
            print("%s: %s leaks (%s)" % (ref["call_id"], p["type"],
                                         "whole" if p not in ev["not_full"] else "in part"))
    print(json.dumps(tot, sort_keys=True))
    return tot


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--split", choices=["dev", "test", "both"], default="both")
    ap.add_argument("--calls", type=int, default=240, help="calls per split (default 240)")
    ap.add_argument("--out", default=os.path.join(REPO, "target", "corpus"))
    ap.add_argument("--seed", default="1")
    ap.add_argument("--text-only", action="store_true", help="JSON only, no audio")
    ap.add_argument("--jobs", type=int, default=2, help="TTS worker processes (default 2)")
    ap.add_argument("--clean16k", action="store_true", help="also write the clean 16 kHz FLAC")
    ap.add_argument("--max-seconds", type=float, help="only calls estimated at most this long")
    ap.add_argument("--prefix", help="call id prefix (default: the split name)")
    ap.add_argument("--short", action="store_true",
                    help="short calls (about 6 turns: the name and one more identifier, one "
                         "business line; for small committed fixtures)")
    ap.add_argument("--check", metavar="DIR", nargs="+", help="check reference directories")
    ap.add_argument("--score", metavar=("REF_DIR", "HYP_DIR"), nargs=2,
                    help="score redacted hypotheses against references (leaks, as JSON)")
    ap.add_argument("--hyp-out", help="where --check writes its hypotheses (default: beside DIR)")
    ap.add_argument("--split-report", action="store_true", help="print the split sizes and exit")
    a = ap.parse_args(argv)
    if a.check:
        ok = all([check(d, a.hyp_out) for d in a.check])
        return 0 if ok else 1
    if a.score:
        score(*a.score)
        return 0
    if a.split_report:
        for line in split_report(Context(REPO, ["dev", "test"])):
            print(line)
        return 0
    a.jobs = max(1, min(a.jobs, 2))
    if not a.text_only:
        missing = [t for t in ("flite", "espeak-ng", "sox") if not shutil.which(t)]
        if missing:
            raise SystemExit("gencorpus: missing %s (scripts/gen-corpus.sh installs them), or use "
                             "--text-only" % ", ".join(missing))
    generate(a)
    return 0


if __name__ == "__main__":
    sys.exit(main())

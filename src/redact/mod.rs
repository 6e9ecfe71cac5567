//! PII redaction: every transcript text callscribe emits passes through here first, and
//! nothing unredacted leaves this module.
//!
//! It finds names, phone numbers, payment cards (with expiry and CVV), bank details (account
//! numbers, IFSC, sort codes, IBAN, SWIFT), Indian and US national identifiers (Aadhaar, PAN,
//! GSTIN, UPI, voter ID, passport, SSN, ITIN), e-mail addresses, dates of birth, street
//! addresses and postcodes, OTPs and PINs, and IP addresses — written in digits, spoken in
//! words ("double five", "ninety eight forty one", "one lakh"), mixed, or split across the
//! segments of one speaker — and replaces them with `[KIND]` placeholders, `####` masks or
//! per-call pseudonyms, as the [`Policy`] says.
//!
//! Pure and synchronous: no I/O (except [`redact_lines`], which only reads and writes the
//! streams it is given), no logging, patterns compiled once in [`Redactor::new`].
//!
//! # Deviations from the API contract
//! - [`Redactor::call`] returns a [`CallRedactor`] whose tracks share state (names learned on
//!   one track are removed on the other, the agent's question gives the context of the
//!   caller's answer, pseudonym numbers are consistent across both tracks). Use it for real
//!   calls; [`Redactor::track`] still works and gives a track with a call of its own.
//! - [`Redactor::redact_text`] returns a [`RedactedSegment`] (start/end 0, no words).
//! - [`EntityKind::IdNumber`] (`[ID_NUMBER]`) is added for long identifiers of unknown type.
//!
//! # Holding finals
//! A final whose tail could begin an identifier (it ends in a number, spelled letters, "at",
//! a house number and street name, an e-mail being dictated) is held until the next final of
//! the same track or [`TrackRedactor::flush`] — at most four finals. A live caller should call
//! `flush()` after a few seconds of silence on the track, and show [`TrackRedactor::interim`]
//! output meanwhile.
//!
//! # Context that generalises
//! - What was asked frames the answer: the other party's last words (on a one-track call, the
//!   segment before) give the answer's kind; a bare answer ("Two eight three seven...") is the
//!   thing asked for whatever its length; a cue already answered in its own segment asks
//!   nothing; a cue followed by a mask was answered (text redacted before).
//! - Where a name is expected (after "my name is", a title, the question for it, before
//!   "speaking"), a word in lower case that is not ordinary English (`english.txt`, from SCOWL)
//!   is a name; so are letters spelled one by one (also "K for Kilo") where a name is asked
//!   for, follows, or "spell" was said, and any run of five.
//! - A number identifier said once is removed wherever its digits come again in the call (a
//!   read-back), known only by HMAC digests under the call key; a number said digit by digit
//!   ("seven double zero five") is an identifier; sound-alike words between numbers are digits
//!   ("0 to 32"); hesitations do not split a number.
//!
//! # What it cannot catch
//! - Names said with no cue that are not in the gazetteer (rare or foreign names, nicknames),
//!   names that are also ordinary words at the start of a sentence ("Will called") or in lower
//!   case, and names the speech recogniser misspells beyond recognition.
//! - Short numbers with no context: a 4-digit PIN or 3-digit CVV said as a number ("forty
//!   eight twenty one") with no word like "PIN", "CVV", "code" in the same or the other party's
//!   preceding words is kept (it looks like a year, a time or a price).
//! - Dates of birth without a word about birth nearby, unless said in full (day, month name
//!   and year) with a year at least 16 years ago — such a date is taken for a birth date even
//!   with no cue, since recognisers often drop the question (so "since 5th March 1998" is
//!   redacted too); partial dates and recent dates are kept. Addresses with no house number,
//!   no street word and no "address" cue, and place names on their own.
//! - Number words in languages other than English (Hindi "ek do teen").

mod checksums;
mod cues;
mod detectors;
mod engine;
mod names;
mod numbers;
mod policy;
mod recording;
mod render;
mod stream;
mod text;

#[cfg(test)]
mod tests;

use std::io::{BufRead, Write};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use crate::transcript::{EntityKind, Span};
pub use policy::{Mode, Policy, PolicyError};
pub use recording::{TrackSegment, redact_recording};
pub use stream::{CallRedactor, TrackRedactor};
pub(crate) use text::fold_char;

/// Words are the ASR stage's words: the redactor replaces the ones inside a span.
pub use crate::transcript::Word;

/// Unredacted ASR output for one segment. `words` may be empty (span times are then `None`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RawSegment {
    pub start: f32,
    pub end: f32,
    pub text: String,
    pub words: Vec<Word>,
}

/// A segment after redaction. `words` are the redacted words: the words inside a span are
/// replaced by one word holding the placeholder and covering their time range.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RedactedSegment {
    pub start: f32,
    pub end: f32,
    pub text: String,
    pub words: Vec<Word>,
    pub spans: Vec<Span>,
    pub policy_version: u32,
}

/// The redaction engine for one policy: patterns and word lists compiled once. `Send + Sync`;
/// share it in an `Arc`.
pub struct Redactor {
    policy: Policy,
    compiled: Arc<Compiled>,
}

/// Everything built once and shared by every redactor cloned from it.
#[derive(Clone)]
struct Compiled {
    gaz: names::Gazetteer,
    pat: detectors::Patterns,
    words: detectors::WordSets,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Redactor {
    /// Validates the policy and compiles everything.
    pub fn new(policy: Policy) -> Result<Redactor, PolicyError> {
        policy.validate()?;
        let compiled = Compiled {
            gaz: names::Gazetteer::load(),
            pat: detectors::Patterns::new(),
            words: detectors::WordSets::new(),
        };
        Ok(Redactor {
            policy,
            compiled: Arc::new(compiled),
        })
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Held-out evaluation only: forget these gazetteer names, so that measuring on a corpus
    /// whose names happen to be in the gazetteer shows what the cues alone achieve.
    #[doc(hidden)]
    pub fn without_gazetteer_names<'a>(
        mut self,
        names: impl IntoIterator<Item = &'a str>,
    ) -> Redactor {
        let compiled = Arc::make_mut(&mut self.compiled);
        for n in names {
            compiled.gaz.remove(&n.to_lowercase());
        }
        self
    }

    /// One-shot: redacts a standalone text (no cross-segment window). Pseudonyms are keyed with
    /// a random per-call key.
    pub fn redact_text(&self, text: &str) -> RedactedSegment {
        let call = CallRedactor::new(Arc::new(self.clone_compiled()), crate::sys::random_key());
        let mut track = call.track(false);
        let seg = RawSegment {
            start: 0.0,
            end: 0.0,
            text: text.to_string(),
            words: Vec::new(),
        };
        let mut out = track.push_final(seg);
        out.extend(track.flush());
        out.pop().unwrap_or(RedactedSegment {
            start: 0.0,
            end: 0.0,
            text: String::new(),
            words: Vec::new(),
            spans: Vec::new(),
            policy_version: self.policy.version,
        })
    }

    /// A per-track stream with a call of its own; `call_key` keys the pseudonym HMAC.
    pub fn track(self: &Arc<Self>, call_key: [u8; 32], speaker_is_agent: bool) -> TrackRedactor {
        self.call(call_key).track(speaker_is_agent)
    }

    /// A call whose tracks share names, questions and pseudonyms (see the module docs).
    pub fn call(self: &Arc<Self>, call_key: [u8; 32]) -> CallRedactor {
        CallRedactor::new(self.clone(), call_key)
    }

    fn clone_compiled(&self) -> Redactor {
        Redactor {
            policy: self.policy.clone(),
            compiled: self.compiled.clone(),
        }
    }
}

/// Output format of [`redact_lines`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LineFormat {
    /// One redacted line per input line.
    #[default]
    Text,
    /// One JSON object per line: `{"text", "spans", "policy_version"}`.
    Json,
}

impl std::str::FromStr for LineFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "text" => Ok(LineFormat::Text),
            "json" => Ok(LineFormat::Json),
            other => Err(format!(
                "unknown format {other:?}: expected \"text\" or \"json\""
            )),
        }
    }
}

#[derive(Serialize)]
struct JsonLine<'a> {
    text: &'a str,
    spans: &'a [Span],
    policy_version: u32,
}

/// For `callscribe redact`: reads lines from `input` as consecutive segments of one speaker
/// and writes one redacted line per input line, in order. Lines may be held until the next one
/// arrives (an identifier can continue on it); everything is written by the end of input.
pub fn redact_lines(
    redactor: &Arc<Redactor>,
    input: impl BufRead,
    mut output: impl Write,
    format: LineFormat,
) -> std::io::Result<()> {
    let mut track = redactor.track(crate::sys::random_key(), false);
    let write = |segs: Vec<RedactedSegment>, out: &mut dyn Write| -> std::io::Result<()> {
        for s in segs {
            match format {
                LineFormat::Text => writeln!(out, "{}", s.text)?,
                LineFormat::Json => {
                    let line = JsonLine {
                        text: &s.text,
                        spans: &s.spans,
                        policy_version: s.policy_version,
                    };
                    serde_json::to_writer(&mut *out, &line)?;
                    writeln!(out)?;
                }
            }
        }
        Ok(())
    };
    for line in input.lines() {
        let line = line?;
        let text = line.strip_suffix('\r').unwrap_or(&line).to_string();
        let segs = track.push_final(RawSegment {
            start: 0.0,
            end: 0.0,
            text,
            words: Vec::new(),
        });
        write(segs, &mut output)?;
    }
    write(track.flush(), &mut output)?;
    output.flush()
}

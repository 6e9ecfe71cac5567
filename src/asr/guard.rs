//! Hallucination guards: what Whisper says that nobody said. Applied to every hypothesis.
//! - Non-speech tags the model writes for silence, noise and music (`[BLANK_AUDIO]`,
//!   `(water flowing)`, `♪`) are removed.
//! - Repetition loops ("1, 1, 1, 1, …", a phrase over and over) are cut after a few repeats.
//! - Utterances the model itself judges to be no speech are emptied.

use serde::{Deserialize, Serialize};

use super::Word;

/// Why a hypothesis lost its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    NoSpeech,
    OnlyTags,
}

/// Removes words inside `[...]`, `(...)`, `{...}`, `*...*` and music symbols. Brackets may span
/// several words (`[ Silence ]`); an unclosed bracket drops the rest of the utterance, which
/// is what the model does when it starts a tag at the end of its output. `breaks` (indices of
/// segment starts) are carried over to the kept words.
pub fn strip_tags(words: Vec<Word>, breaks: Vec<usize>) -> (Vec<Word>, Vec<usize>) {
    let mut out = Vec::with_capacity(words.len());
    let mut new_breaks: Vec<usize> = Vec::with_capacity(breaks.len());
    let mut depth = 0i32;
    let mut in_star = false;
    for (i, mut w) in words.into_iter().enumerate() {
        if breaks.contains(&i) && new_breaks.last() != Some(&out.len()) {
            new_breaks.push(out.len());
        }
        let mut kept = String::with_capacity(w.word.len());
        for ch in w.word.chars() {
            match ch {
                '[' | '(' | '{' => depth += 1,
                ']' | ')' | '}' => depth = (depth - 1).max(0),
                '*' => in_star = !in_star,
                '♪' | '♫' | '♬' | '🎵' | '🎶' => {}
                _ if depth == 0 && !in_star => kept.push(ch),
                _ => {}
            }
        }
        if kept.trim().chars().any(|c| c.is_alphanumeric()) {
            w.word = kept;
            out.push(w);
        } else if !kept.trim().is_empty() {
            // Lone punctuation left after a tag ("[BLANK_AUDIO]." → "."): attach to the
            // previous word if any, else drop it.
            if let Some(prev) = out.last_mut() {
                let prev: &mut Word = prev;
                prev.word.push_str(kept.trim());
            }
        }
    }
    new_breaks.retain(|&b| b < out.len());
    (out, new_breaks)
}

/// Normalises a word for repetition checks: lower case, letters and digits only.
fn norm(w: &str) -> String {
    w.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// A unit repeating back to back this often is a loop wherever it stands.
const LOOP_REPEATS_ANYWHERE: usize = 10;
/// A phrase repeating this often up to the very end of the output is a loop: the decoder ran on
/// until it hit the token budget. People repeat ("double one, double one, double one"), but
/// then go on to say something else.
const LOOP_REPEATS_AT_END: usize = 4;
/// The same for a single word ("no no no no" is still something people say).
const LOOP_WORD_REPEATS_AT_END: usize = 5;
/// How many repeats of a looping unit are kept (the first ones are usually real speech).
const KEEP_REPEATS: usize = 2;

/// Cuts repetition loops: when a unit of 1–8 words repeats back to back to the end of the
/// output (or absurdly often anywhere), the repeats past the first few are removed together with
/// everything after them, because the decoder does not recover from a loop in one window.
/// `pauses`: the pauses (seconds, the words' time base) between the utterances of a window that
/// joins several, to tell a sentence said twice from one decoded twice (see
/// `cut_doubled_sentence`).
pub fn cut_repetition_loops(words: Vec<Word>, pauses: &[(f32, f32)]) -> (Vec<Word>, bool) {
    let normed: Vec<String> = words.iter().map(|w| norm(&w.word)).collect();
    let n = normed.len();
    for start in 0..n {
        for unit in 1..=8usize {
            if start + unit * 2 > n {
                break;
            }
            if normed[start..start + unit].iter().all(String::is_empty) {
                continue;
            }
            let mut reps = 1;
            while start + (reps + 1) * unit <= n
                && normed[start + reps * unit..start + (reps + 1) * unit]
                    == normed[start..start + unit]
            {
                reps += 1;
            }
            let end = start + reps * unit;
            // A partial unit after the last full repeat still counts as "to the end".
            let tail = n - end;
            let tail_is_partial_repeat =
                tail < unit && normed[end..] == normed[start..start + tail];
            let at_end = tail == 0 || tail_is_partial_repeat;
            let at_end_limit = if unit == 1 {
                LOOP_WORD_REPEATS_AT_END
            } else {
                LOOP_REPEATS_AT_END
            };
            if reps >= LOOP_REPEATS_ANYWHERE || (at_end && reps >= at_end_limit) {
                let kept = start + KEEP_REPEATS * unit;
                let mut words = words;
                words.truncate(kept);
                // the two repeats kept may themselves be a doubled sentence
                let (words, _) = cut_doubled_sentence(words, &normed[..kept], pauses);
                return (words, true);
            }
        }
    }
    cut_doubled_sentence(words, &normed, pauses)
}

/// `normed`: the normalised form of each of `words`.
fn cut_doubled_sentence(
    words: Vec<Word>,
    normed: &[String],
    pauses: &[(f32, f32)],
) -> (Vec<Word>, bool) {
    let n = normed.len();
    // A sentence of four or more words said twice back to back at the very end ("Sure, what is
    // your mobile number? Sure, what is your mobile number?") is the decoder repeating itself on
    // a short window: a speaker does not repeat a whole sentence verbatim in one breath. Digit
    // groups are left alone: "one two three four one two three four" may be a real code.
    // Punctuation the decoder emitted as tokens of their own ("?" "." after the second copy, "??"
    // after the first) is not compared: only the words are.
    let wordy = |w: &String| {
        !w.is_empty()
            && !w.bytes().any(|b| b.is_ascii_digit())
            && !NUMBER_WORDS.contains(&w.as_str())
    };
    let spoken: Vec<usize> = (0..n).filter(|&i| !normed[i].is_empty()).collect();
    let m = spoken.len();
    for unit in (4..=m / 2).rev() {
        let start = m - 2 * unit;
        let first = spoken[start..start + unit].iter().map(|&i| &normed[i]);
        let second = spoken[start + unit..].iter().map(|&i| &normed[i]);
        if first.clone().eq(second) && first.filter(|w| wordy(w)).count() >= 3 {
            // …unless a pause the VAD heard lies between the copies' start and end: in a batch
            // window that joins several utterances, the same sentence in two of them was said
            // twice ("can you hear me now?" … "can you hear me now?"). Word times drift over a
            // long window (up to ~2 s), so the test is loose: any pause between the first
            // copy's first word and the second copy's last.
            let (a, b) = (words[spoken[start]].start, words[spoken[m - 1]].end);
            if pauses.iter().any(|&(ps, pe)| {
                let mid = (ps + pe) / 2.0;
                a < mid && mid < b
            }) {
                continue;
            }
            let mut words = words;
            words.truncate(spoken[start + unit]);
            collapse_doubled_mark(&mut words);
            return (words, true);
        }
    }
    (words, false)
}

/// The decoder often doubles the question or exclamation mark where it was about to repeat
/// the sentence ("number?? Sure what is…"): once the copy is cut, one mark is what was said.
/// Only the last kept word is touched (the cut's boundary).
fn collapse_doubled_mark(words: &mut [Word]) {
    let Some(last) = words.last_mut() else {
        return;
    };
    let text = last.word.trim_end();
    let Some(mark) = text.chars().last().filter(|c| matches!(c, '?' | '!')) else {
        return;
    };
    let body = text.trim_end_matches(mark);
    if text.len() - body.len() > 1 {
        last.word = format!("{body}{mark}");
    }
}

const NUMBER_WORDS: &[&str] = &[
    "zero", "oh", "o", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    "ten", "double", "triple", "eleven", "twelve", "twenty", "thirty", "forty", "fifty", "sixty",
    "seventy", "eighty", "ninety", "hundred",
];

/// Words after which "N-M" is a spoken range ("five to seven business days").
const RANGE_UNITS: &[&str] = &[
    "second", "seconds", "minute", "minutes", "hour", "hours", "day", "days", "week", "weeks",
    "month", "months", "year", "years", "business", "working", "weekdays", "times", "percent",
    "people", "items", "pieces",
];

/// Writes the ranges the model abbreviates as "5-7" the way they were said, "5 to 7", when a
/// unit follows ("5-7 business days", "3-5 days") and the range ascends: the speaker said
/// "to", and digit groups joined by hyphens are otherwise read as parts of one number (a
/// phone number or an account written "98415-22076"). Scores and dates ("5-3", "12-4") and
/// anything without a unit are left alone. `breaks` (indices of segment starts) follow the
/// inserted words.
pub fn spell_ranges(words: Vec<Word>, breaks: Vec<usize>) -> (Vec<Word>, Vec<usize>) {
    let range = |w: &str| -> Option<(String, String)> {
        let (a, b) = w.trim().split_once(['-', '\u{2013}'])?;
        let small =
            |x: &str| !x.is_empty() && x.len() <= 3 && x.bytes().all(|c| c.is_ascii_digit());
        (small(a) && small(b) && a.parse::<u32>().ok()? < b.parse::<u32>().ok()?)
            .then(|| (a.to_string(), b.to_string()))
    };
    let mut out = Vec::with_capacity(words.len());
    let mut new_breaks = breaks.clone();
    for (i, w) in words.iter().enumerate() {
        let unit_follows = words
            .get(i + 1)
            .is_some_and(|n| RANGE_UNITS.contains(&norm(&n.word).as_str()));
        match range(&w.word).filter(|_| unit_follows) {
            Some((a, b)) => {
                let lead = if w.word.starts_with(' ') { " " } else { "" };
                let span = (w.end - w.start).max(0.0);
                let (t1, t2) = (w.start + span * 0.4, w.start + span * 0.6);
                out.push(Word {
                    word: format!("{lead}{a}"),
                    start: w.start,
                    end: t1,
                    p: w.p,
                });
                out.push(Word {
                    word: " to".into(),
                    start: t1,
                    end: t2,
                    p: w.p,
                });
                out.push(Word {
                    word: format!(" {b}"),
                    start: t2,
                    end: w.end,
                    p: w.p,
                });
                for (nb, b) in new_breaks.iter_mut().zip(&breaks) {
                    if *b > i {
                        *nb += 2;
                    }
                }
            }
            None => out.push(w.clone()),
        }
    }
    (out, new_breaks)
}

/// Joins words into the segment's text.
pub fn join_words(words: &[Word]) -> String {
    let mut s = String::new();
    for w in words {
        s.push_str(&w.word);
    }
    s.trim().to_string()
}

/// The no-speech gate: whisper's own rule (no-speech probability high *and* the text not
/// confidently decoded), the same with the words' mean probability as the confidence (a tone
/// gave "A A" at no-speech 0.75 with words at p 0.07 but a mean token log-probability of
/// only -0.48, propped up by punctuation), and a bound for a model that is nearly certain.
pub fn is_no_speech(no_speech_prob: f32, avg_logprob: f32, mean_word_p: f32) -> bool {
    (no_speech_prob > 0.6 && (avg_logprob < -1.0 || mean_word_p < 0.3)) || no_speech_prob > 0.95
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Words spoken one every `step` seconds from 0.
    fn timed(text: &str, step: f32) -> Vec<Word> {
        words(text)
            .into_iter()
            .enumerate()
            .map(|(i, w)| Word {
                start: i as f32 * step,
                end: (i + 1) as f32 * step,
                ..w
            })
            .collect()
    }

    #[test]
    fn a_sentence_said_in_two_utterances_is_kept() {
        let text = "can you hear me now? can you hear me now?";
        // 10 words at 0.4 s: the first copy ends at 2.0 s, the second starts there
        let (w, cut) = cut_repetition_loops(timed(text, 0.4), &[(1.6, 2.4)]);
        assert!(!cut);
        assert_eq!(join_words(&w), text);
        // one utterance (no pause between the copies): the second was decoded, not said
        for pauses in [&[][..], &[(5.0, 6.0)][..]] {
            let (w, cut) = cut_repetition_loops(timed(text, 0.4), pauses);
            assert!(cut);
            assert_eq!(join_words(&w), "can you hear me now?");
        }
        // loops of short units are cut whatever the pauses
        let (w, cut) = cut_repetition_loops(
            timed("the number is 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1", 0.4),
            &[(2.0, 3.0)],
        );
        assert!(cut);
        assert_eq!(join_words(&w), "the number is 1, 1,");
    }

    fn words(text: &str) -> Vec<Word> {
        text.split_inclusive(' ')
            .map(|w| Word {
                word: format!(" {}", w.trim()),
                start: 0.0,
                end: 0.0,
                p: 0.9,
            })
            .collect()
    }

    #[test]
    fn tags_are_removed() {
        let cases = [
            ("[BLANK_AUDIO]", ""),
            ("[ Silence ]", ""),
            ("(water flowing)", ""),
            ("♪ ♪", ""),
            ("Hello. [BLANK_AUDIO]", "Hello."),
            ("*laughs* okay then", "okay then"),
            ("Yes (inaudible) it is", "Yes it is"),
            ("call me at 415", "call me at 415"),
        ];
        for (input, want) in cases {
            assert_eq!(
                join_words(&strip_tags(words(input), vec![0]).0),
                want,
                "input {input:?}"
            );
        }
    }

    #[test]
    fn segment_breaks_follow_the_kept_words() {
        // "[BLANK_AUDIO] Hello there. | How are you?" with segments starting at words 0 and 3.
        let w = words("[BLANK_AUDIO] Hello there. How are you?");
        let (kept, breaks) = strip_tags(w, vec![0, 3]);
        assert_eq!(join_words(&kept), "Hello there. How are you?");
        assert_eq!(breaks, vec![0, 2]);
    }

    #[test]
    fn loops_are_cut_and_ordinary_repeats_kept() {
        let (w, cut) = cut_repetition_loops(
            words("the number is 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1"),
            &[],
        );
        assert!(cut);
        assert_eq!(join_words(&w), "the number is 1, 1,");
        let (w, cut) = cut_repetition_loops(
            words(
                "your plan is active now, your plan is active now, your plan is active now, your plan is active now, your plan",
            ),
            &[],
        );
        assert!(cut);
        // two repeats are kept, and two repeats of a whole sentence are one sentence said twice
        assert_eq!(join_words(&w), "your plan is active now,");
        let (w, cut) = cut_repetition_loops(words("done, done, done, done, done."), &[]);
        assert!(cut);
        assert_eq!(join_words(&w), "done, done,");
        let (w, cut) = cut_repetition_loops(
            words("Sure what is your mobile number?? Sure what is your mobile number?."),
            &[],
        );
        assert!(cut);
        // the doubled mark the decoder wrote before repeating itself goes with the copy
        assert_eq!(join_words(&w), "Sure what is your mobile number?");
        // the same with the punctuation as tokens of their own, unequal in number
        let (w, cut) = cut_repetition_loops(
            words("Sure what is your mobile number ?? Sure what is your mobile number ? ."),
            &[],
        );
        assert!(cut);
        assert_eq!(
            w.iter().map(|w| w.word.trim()).collect::<Vec<_>>(),
            ["Sure", "what", "is", "your", "mobile", "number", "?"]
        );
        // a loop of the sentence to the end: cut to two repeats, then to one
        let (w, cut) = cut_repetition_loops(
            words(
                "Sure what is your mobile number? Sure what is your mobile number? Sure what is your mobile number? Sure what is your mobile number? Sure what is",
            ),
            &[],
        );
        assert!(cut);
        assert_eq!(join_words(&w), "Sure what is your mobile number?");
        for ok in [
            "no no no no",
            "my code is one two three four one two three four",
            "thank you thank you",
            "double five five",
            "it is what it is",
            "bye bye",
            "four triple one, double one double one, double one double one, double one double one. I see charges",
        ] {
            let (w, cut) = cut_repetition_loops(words(ok), &[]);
            assert!(!cut, "{ok}");
            assert_eq!(join_words(&w), ok);
        }
    }

    #[test]
    fn ascending_ranges_before_a_unit_are_spelled_as_said() {
        let spelled = |t: &str| join_words(&spell_ranges(words(t), vec![]).0);
        assert_eq!(
            spelled("it takes 5-7 business days."),
            "it takes 5 to 7 business days."
        );
        assert_eq!(spelled("within 3-5 days"), "within 3 to 5 days");
        assert_eq!(
            spelled("about 10\u{2013}15 minutes"),
            "about 10 to 15 minutes"
        );
        for kept in [
            "the score was 5-3 today",
            "call 98415-22076 days",
            "it was 5-7",
            "5-7",
            "dial 1-800 now",
            "7-5 days",
            "5-7-9 days",
        ] {
            assert_eq!(spelled(kept), kept);
        }
        // the words keep their place in time and the segment breaks move with them
        let mut w = words("wait 2-4 weeks please. Then call");
        for (i, x) in w.iter_mut().enumerate() {
            (x.start, x.end) = (i as f32, i as f32 + 1.0);
        }
        let (w, breaks) = spell_ranges(w, vec![0, 4]);
        assert_eq!(
            w.iter().map(|x| x.word.trim()).collect::<Vec<_>>(),
            ["wait", "2", "to", "4", "weeks", "please.", "Then", "call"]
        );
        assert_eq!(breaks, vec![0, 6]);
        assert!(
            w.windows(2)
                .all(|p| p[0].end <= p[1].start + 1e-6 && p[0].start <= p[0].end)
        );
        assert_eq!((w[1].start, w[3].end), (1.0, 2.0));
    }

    #[test]
    fn no_speech_gate() {
        assert!(is_no_speech(0.9, -1.5, 0.8));
        assert!(is_no_speech(0.97, -0.2, 0.9));
        assert!(is_no_speech(0.75, -0.48, 0.07));
        assert!(!is_no_speech(0.7, -0.3, 0.8));
        assert!(!is_no_speech(0.1, -2.0, 0.1));
    }
}

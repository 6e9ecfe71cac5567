//! Tables of cases per entity type, streaming behaviour, policies, bad input, and a property
//! test that no identifier survives in digits, in words, or split across two segments.

use std::sync::Arc;

use proptest::prelude::*;

use super::checksums;
use super::numbers::digits_of;
use super::*;

fn redactor() -> Arc<Redactor> {
    Arc::new(Redactor::new(Policy::default()).expect("default policy is valid"))
}

fn seg(text: &str) -> RawSegment {
    RawSegment {
        start: 0.0,
        end: 1.0,
        text: text.to_string(),
        words: Vec::new(),
    }
}

fn red(text: &str) -> String {
    redactor().redact_text(text).text
}

/// Every digit run of the output (number words read as digits), for leak checks.
fn digit_runs(text: &str) -> Vec<String> {
    digits_of(text)
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Whether any 5-digit piece of `id` (or all of it, when shorter) survives in `out`.
fn leaks(id: &str, out: &str) -> bool {
    let runs = digit_runs(out);
    let w = id.len().min(5);
    (0..=id.len() - w).any(|i| runs.iter().any(|r| r.contains(&id[i..i + w])))
}

/// (input, placeholder that must appear, text that must not survive)
const POSITIVE: &[(&str, &str, &str)] = &[
    // phones
    ("call me on 98415 22076 please", "[PHONE]", "22076"),
    ("my mobile is +91 98415 22076", "[PHONE]", "98415"),
    (
        "my number is nine eight four one five double two oh seven six",
        "[PHONE]",
        "double two",
    ),
    (
        "it is ninety eight forty one five, two two zero seven six",
        "[PHONE]",
        "forty one",
    ),
    ("reach me at (415) 555-0142 after six", "[PHONE]", "0142"),
    ("text me on 07700 900286", "[PHONE]", "900286"),
    ("my number is +44 7700 900286", "[PHONE]", "7700"),
    ("the office landline is 022 2345 6789", "[PHONE]", "6789"),
    (
        "plus nine one, six five five zero one, five seven three eight two",
        "[PHONE]",
        "seven three",
    ),
    ("my number is 98415-22076.", "[PHONE]", "98415"),
    ("the number is 4 1 5 5 5 5 0 1 3 2", "[PHONE]", "0 1 3 2"),
    // cards
    ("card number 4111 1111 1111 1111", "[CARD]", "1111"),
    ("the card number is 4111-1111-1111-1112", "[CARD]", "1112"),
    (
        "four triple one, double one double one, double one double one, double one double one",
        "[",
        "double one",
    ),
    ("it expires 07/29", "[CARD_EXPIRY]", "07/29"),
    (
        "expiring oh seven, twenty nine",
        "[CARD_EXPIRY]",
        "twenty nine",
    ),
    ("the CVV is 123", "[CVV]", "123"),
    ("the security code is seven eight one", "[CVV]", "eight one"),
    // bank
    (
        "my account number is 123456789012",
        "[BANK_ACCOUNT]",
        "6789",
    ),
    ("IFSC code HDFC0001234", "[IFSC]", "HDFC0001234"),
    (
        "IFSC I C I C, triple oh two five four three",
        "[IFSC]",
        "five four three",
    ),
    ("the sort code is 12-34-56", "[SORT_CODE]", "34"),
    ("IBAN GB82 WEST 1234 5698 7654 32", "[IBAN]", "WEST"),
    ("the swift code is HDFCINBB", "[SWIFT]", "HDFCINBB"),
    // national identifiers
    ("my PAN is ABCPE1234F", "[PAN]", "ABCPE1234F"),
    (
        "PAN A B C P E one two three four F",
        "[PAN]",
        "one two three",
    ),
    ("voter ID ABC1234567", "[VOTER_ID]", "1234567"),
    ("passport number J8369854", "[PASSPORT]", "8369854"),
    ("my social security number is 123-45-6789", "[SSN]", "6789"),
    ("ITIN 912-70-1234", "[ITIN]", "1234"),
    // e-mail and UPI
    ("write to priya.s87@gmail.com today", "[EMAIL]", "priya"),
    (
        "it is priya dot s eighty seven at gmail dot com",
        "[EMAIL]",
        "priya",
    ),
    ("my UPI ID is rohan.g@okaxis", "[UPI]", "rohan"),
    ("pay to rohan dot g at ybl", "[UPI]", "rohan"),
    ("my UPI is ravi kumar at I B L", "[UPI]", "kumar"),
    // dates of birth, addresses, codes
    ("my date of birth is 12/05/1985", "[", "1985"),
    (
        "I was born on the third of March, nineteen eighty five",
        "[DATE_OF_BIRTH]",
        "March",
    ),
    (
        "date of birth? June eighteenth, 1969",
        "[DATE_OF_BIRTH]",
        "1969",
    ),
    (
        "I live at 221 Baker Street, London, NW1 6XE.",
        "[ADDRESS]",
        "Baker",
    ),
    (
        "send it to flat 12, Sunshine Apartments, M G Road, Pune, 411001.",
        "[ADDRESS]",
        "Sunshine",
    ),
    ("the zip code is 80221", "[POSTCODE]", "80221"),
    ("Denver, Colorado 80221", "[POSTCODE]", "80221"),
    ("the OTP is 4 8 2 1", "[OTP]", "4 8 2 1"),
    (
        "the OTP is seven five three five two nine",
        "[OTP]",
        "two nine",
    ),
    ("my PIN is 4321", "[PIN]", "4321"),
    ("my IP address is 192.168.1.20", "[IP_ADDRESS]", "192.168"),
    (
        "the server is at fe80::1ff:fe23:4567:890a",
        "[IP_ADDRESS]",
        "fe23",
    ),
    ("customer ID 48213377", "[", "48213377"),
    ("the last four digits are 4821", "[", "4821"),
    // names
    ("My name is Meera Pillai.", "[NAME]", "Meera"),
    ("Hello, this is Prakash from the bank.", "[NAME]", "Prakash"),
    ("Mr. Xandor will call you.", "[NAME]", "Xandor"),
    ("you are speaking with Fiona.", "[NAME]", "Fiona"),
    ("Gaurav here, how can I help?", "[NAME]", "Gaurav"),
    ("Thank you, Shruthika.", "[NAME]", "Shruthika"),
    ("the nominee is Anjali Deshmukh", "[NAME]", "Deshmukh"),
    ("ask James Whitfield about it", "[NAME]", "Whitfield"),
    // as the speech recogniser writes them (mixed mono track: question and answer in one
    // segment, digits grouped oddly, words misheard next to the cue)
    ("Done and the security code. It is 5307.", "[CVV]", "5307"),
    ("And the CVV. It's 8 4 6.", "[CVV]", "8 4 6"),
    ("Your ATM PIN, please. Yes, it is 6620.", "[PIN]", "6620"),
    (
        "It is 23rd April 1974. I have blocked the card.",
        "[DATE_OF_BIRTH]",
        "1974",
    ),
    ("That's March 3, 1988.", "[DATE_OF_BIRTH]", "1988"),
    ("and the account number is 7741", "[BANK_ACCOUNT]", "7741"),
    ("The card number is 5421, 77. Thanks.", "[CARD]", "5421"),
    (
        "is the delivery address flat 512, lotus residency, FC road, Shivajinagar, Pune, 411, 005.",
        "[ADDRESS]",
        "lotus",
    ),
    (
        "please send it to plot 44, shanti nagar, Nagpur.",
        "[ADDRESS]",
        "shanti",
    ),
    (
        "mail it to 3410 to Birch Street, Tulsa, Oklahoma.",
        "[ADDRESS]",
        "3410",
    ),
    ("Austin, Texas 7870", "[POSTCODE]", "7870"),
    ("you can text updates to 415-555-129.", "[PHONE]", "555"),
    (
        "text me on oh double seven double oh nine double oh to 4 1 when it is sent",
        "[PHONE]",
        "4 1",
    ),
    ("IFSC KKBK, Tripoli 4471.", "[IFSC]", "4471"),
    // hyphen-joined spoken groups ("6-triple-3", "double-7-double-2")
    (
        "the card number is 6-triple-3, double-7-double-2.",
        "[CARD]",
        "triple",
    ),
    (
        "my number is nine-eight-seven, double-6-oh, triple-2-five",
        "[PHONE]",
        "double-6",
    ),
    ("the OTP is 3-double-8-1", "[OTP]", "double-8"),
    ("It is 404. Triple 50101", "[PHONE]", "50101"),
    // a postcode at the end of an address, after place names the recogniser lower-cased or
    // garbled and split however it heard the pauses
    (
        "deliver to flat 27, orchid towers, link road, wakad, puni, 411, 057.",
        "[ADDRESS]",
        "057",
    ),
    (
        "ship it to 48 Maple Avenue, apt 3C, boulder, colarado, 803.04.",
        "[ADDRESS]",
        "803",
    ),
    (
        "ship it to 48 Maple Avenue, boulder, 80 304.",
        "[ADDRESS]",
        "304",
    ),
    (
        "my address is house 9, lake view, aundh, four one one zero six seven.",
        "[ADDRESS]",
        "six seven",
    ),
];

#[test]
fn positives_are_redacted() {
    let r = redactor();
    let mut failures = Vec::new();
    for (input, placeholder, gone) in POSITIVE {
        let out = r.redact_text(input).text;
        if !out.contains(placeholder) || out.contains(gone) {
            failures.push(format!(
                "{input:?} -> {out:?} (want {placeholder}, without {gone:?})"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Ordinary numbers and words that must survive untouched.
const NEGATIVE: &[&str] = &[
    "The plan costs 599 rupees for 84 days with 2 GB per day.",
    "I want to upgrade to five G plus.",
    "That plan costs five hundred and ninety nine rupees for eighty four days.",
    "I'll call you back at 7:30 pm.",
    "It takes three to five working days.",
    "The loan is one lakh fifty thousand rupees.",
    "The price is ₹1,50,000 all inclusive.",
    "The price is $1,250,000.",
    "We opened in 2019.",
    "You get a 25% discount.",
    "I ordered 12 boxes and two kurtas.",
    "It is twenty nine dollars a month.",
    "Please go to room 404.",
    "The appointment is at eleven thirty.",
    "The courier comes between ten and one.",
    "Version 2.5 is out.",
    "It was around eight fifteen in the morning.",
    "Will you help me with this?",
    "May I have your full name, please?",
    "The branch is on Park Street.",
    "Thank you for calling Kaveri Bank.",
    "Your card will reach you in seven working days and there is a fee of two hundred rupees.",
    "The price is fifty four thousand nine hundred rupees for twelve months.",
    "We sold 1,200 units in 3 weeks.",
    "Call between 9:00-17:30 on weekdays.",
    "The temperature is 36.6 degrees.",
    // full dates that are not birth dates: no year, no day, or a recent year
    "The event was on 5th June.",
    "In June 2015 we moved.",
    "The order was placed on 3rd May 2024.",
    "We opened in Texas in 2019.",
    "The refund takes 3 to 5 days. It is 2 days now.",
    "Done and the delivery. It is 3 boxes.",
    "You should receive it in 5-7 business days.",
    "The amount will be credited in 3-5 days.",
    "We sold 120, 450 and 300 units.",
];

#[test]
fn ordinary_text_survives() {
    let r = redactor();
    let mut failures = Vec::new();
    for input in NEGATIVE {
        let out = r.redact_text(input);
        if out.text != *input || !out.spans.is_empty() {
            failures.push(format!("{input:?} -> {:?}", out.text));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Redactions end where the identifier ends: a sentence end after a spoken e-mail address,
/// a question after a number, an ordinary number after a phone number.
#[test]
fn redactions_stop_at_the_identifier() {
    assert_eq!(
        red(
            "My mobile is 98765 43012 and email kiran dot m at yahoo dot com. It costs 450 rupees."
        ),
        "My mobile is [PHONE] and email [EMAIL]. It costs 450 rupees."
    );
    // the cue in the next question does not label the number before it
    let out = red("It is 212 555 0143. And the account holder's name?");
    assert!(out.contains("[PHONE]"), "{out}");
    // "… on the account" qualifies the phone number asked for
    let out = red("What is the phone number on the account? It is 212 555 0143.");
    assert!(out.contains("[PHONE]"), "{out}");
    let out = red("My number is 98765 43012, for 3 days only.");
    assert!(
        out.contains("[PHONE]") && out.ends_with("for 3 days only."),
        "{out}"
    );
}

/// Look-alikes of identifiers that are not identifiers.
#[test]
fn near_misses_keep_their_kind_or_survive() {
    // a 5-digit number with no context is kept; the same after "zip code" is not
    assert_eq!(red("I walked 12000 steps"), "I walked 12000 steps");
    assert!(red("zip code 12000").contains("[POSTCODE]"));
    // Luhn labels the kind but is not the gate: a failing long run is still removed
    let out = red("4111 1111 1111 1112");
    assert!(!out.contains("1112"), "{out}");
    // a PAN with a wrong holder-type letter is not a PAN but still an identifier
    assert!(!red("ABCXE1234F").contains("[PAN]"));
    // an invalid IBAN is not labelled IBAN
    assert!(!red("IBAN GB00 WEST 1234 5698 7654 32").contains("[IBAN]"));
}

#[test]
fn checksums_label_kinds() {
    assert!(checksums::luhn("4111111111111111"));
    assert!(!checksums::luhn("4111111111111112"));
    let base = "23456789012";
    let aadhaar = format!("{base}{}", checksums::verhoeff_digit(base));
    assert!(checksums::verhoeff(&aadhaar));
    assert!(red(&format!("my number is {aadhaar}")).contains("[AADHAAR]"));
    assert!(checksums::iban_mod97("GB82WEST12345698765432"));
    assert!(!checksums::iban_mod97("GB83WEST12345698765432"));
    // GSTIN: find the valid check character for a body and test both ways
    let body = "27ABCPE1234F1Z";
    let good = (b'0'..=b'9')
        .chain(b'A'..=b'Z')
        .map(|c| format!("{body}{}", c as char))
        .find(|g| checksums::gstin_check(g))
        .unwrap();
    assert!(red(&format!("our GSTIN is {good}")).contains("[GSTIN]"));
    assert!(checksums::nanp("4155550142") && !checksums::nanp("1155550142"));
    assert!(checksums::indian_mobile("919841522076") && !checksums::indian_mobile("5841522076"));
    assert!(checksums::ssn_valid("123456789") && !checksums::ssn_valid("666456789"));
    assert!(checksums::itin_valid("912701234") && !checksums::itin_valid("912401234"));
}

#[test]
fn spoken_numbers_read_as_digits() {
    let cases = [
        (
            "nine eight four one five double two oh seven six",
            "9841522076",
        ),
        ("ninety eight forty one", "9841"),
        ("triple one", "111"),
        ("four triple one", "4111"),
        // the recogniser glues the digits after a multiplied one: "Triple 50101"
        ("triple 50101", "5550101"),
        ("double 07", "007"),
        ("twenty seven fifty two", "2752"),
        ("five hundred and ninety nine", "599"),
        ("one lakh fifty thousand", "150000"),
        ("two crore", "20000000"),
        ("oh seven, twenty nine", "0729"),
        ("nineteen sixty three", "1963"),
        ("98415-22076", "9841522076"),
        ("41,1,1,1", "41111"),
        ("4 1 1 1", "4111"),
        ("a hundred", "100"),
        ("4-triple-1", "4111"),
        ("double-1-double-1", "1111"),
        ("nine-eight-four", "984"),
        ("double-oh-7", "007"),
    ];
    for (spoken, digits) in cases {
        assert_eq!(digits_of(spoken), digits, "{spoken}");
    }
}

#[test]
fn odd_unicode_never_lets_an_identifier_through() {
    let cases = [
        "my number is ９８４１５２２０７６",
        "my number is ९८४१५२२०७६",
        "my number is 98415\u{200b}22076",
        "my number is 9\u{200d}8\u{200c}4\u{2060}1\u{feff}5 22076",
        "my number is 98415\u{2013}22076",
        "card ４１１１ １１１１ １１１１ １１１１",
    ];
    for c in cases {
        let out = redactor().redact_text(c);
        assert!(out.text.contains('['), "{c:?} -> {:?}", out.text);
        assert!(
            !out.text.chars().any(|ch| ch.is_numeric()),
            "{c:?} -> {:?}",
            out.text
        );
    }
}

#[test]
fn bad_input_never_panics() {
    let r = redactor();
    assert_eq!(r.redact_text("").text, "");
    assert_eq!(r.redact_text("   ").text, "   ");
    for s in [
        "\u{0}",
        "@",
        "@@@ at at dot",
        "double",
        "triple triple",
        "+",
        "(((",
        "oh oh oh",
        "Mr.",
        "ñ😀\u{301}",
        "9",
        "a\u{300}\u{300}",
    ] {
        let _ = r.redact_text(s);
    }
    // a huge segment: processed in chunks, identifier in the middle still removed
    let filler = "and then we talked about the weather for a while ".repeat(3000);
    let text = format!("{filler} my number is 98415 22076 {filler}");
    let out = r.redact_text(&text);
    assert!(out.text.contains("[PHONE]"));
    assert!(!out.text.contains("22076"));
    let digits = "9".repeat(200_000);
    let out = r.redact_text(&digits);
    assert!(!out.text.contains("99"));
}

#[test]
fn identifier_split_across_segments_is_held_and_redacted_in_both() {
    let r = redactor();
    let mut t = r.track([7; 32], false);
    assert!(
        t.push_final(seg("my number is nine eight four one five"))
            .is_empty(),
        "a numeric tail is held"
    );
    let out = t.push_final(seg("two two zero seven six, thanks."));
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].text, "my number is [PHONE]");
    assert_eq!(out[1].text, "[PHONE], thanks.");
    assert!(t.flush().is_empty());
    // three pieces
    let mut t = r.track([7; 32], false);
    assert!(t.push_final(seg("it is nine eight")).is_empty());
    assert!(t.push_final(seg("four one five")).is_empty());
    let out = t.push_final(seg("two two zero seven six"));
    assert_eq!(out.len(), 3);
    assert!(
        out.iter()
            .all(|s| !s.text.chars().any(|c| c.is_ascii_digit()) && s.text.contains("[PHONE]")),
        "{out:?}"
    );
    // flush emits what is held, never dropping a segment
    let mut t = r.track([7; 32], false);
    assert!(t.push_final(seg("the fee is 200")).is_empty());
    let out = t.flush();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].text, "the fee is 200");
}

/// A card said group by group, one sentence per segment, hyphen-joined as the recogniser
/// writes it: every segment is redacted and the whole reads as one card.
#[test]
fn card_spread_over_several_segments_after_a_cue() {
    let r = redactor();
    let card = luhn_complete("522233446688990");
    let last = &card[15..];
    let segs = [
        "What is the card number?".to_string(),
        "The card number is 5-triple-2.".into(),
        "Double-3-double-4.".into(),
        "Double-6-double-8.".into(),
        format!("Double-9-0-{last}."),
        "Thank you.".into(),
    ];
    let mut t = r.track([3; 32], false);
    let mut out = Vec::new();
    for s in &segs {
        out.extend(t.push_final(seg(s)));
    }
    out.extend(t.flush());
    assert_eq!(out.len(), segs.len());
    for s in &out[1..5] {
        assert!(
            s.text.contains('[')
                && !s.text.chars().any(|c| c.is_ascii_digit())
                && !s.text.to_lowercase().contains("double"),
            "{out:?}"
        );
    }
    assert_eq!(out[1].text, "The card number is [CARD].");
    assert_eq!(out[5].text, "Thank you.");
    // the same in sentences of words, with full stops between the groups
    let mut t = r.track([3; 32], false);
    let mut out = t.push_final(seg("The card number is 5. Triple 2. Double 3. Double 4."));
    out.extend(t.push_final(seg("Double six, double eight, double nine, oh seven.")));
    out.extend(t.flush());
    assert_eq!(
        out[0].text, "The card number is [CARD].",
        "not an IP address: the dots end sentences"
    );
    assert!(!out[1].text.contains("double"), "{out:?}");
}

/// The postcode ends the address: place names after it are not taken, nor is a year or a
/// quantity after an address.
#[test]
fn address_postcode_tail_needs_the_postcode() {
    assert_eq!(
        red("I live at 14 Oak Street, springfield, since 2019."),
        "I live at [ADDRESS], springfield, since 2019."
    );
    assert_eq!(
        red("Deliver to 5 Hill Road, pune, and call 20 minutes before."),
        "Deliver to [ADDRESS], pune, and call 20 minutes before."
    );
    assert_eq!(
        red("The address is 5 Hill Road, bandra, 400, 050, and the landmark is the school."),
        "The address is [ADDRESS], and the landmark is the school."
    );
    assert_eq!(
        red("Send it to 14 Oak Street, pune, 12,000 rupees is the fee."),
        "Send it to [ADDRESS], pune, 12,000 rupees is the fee."
    );
}

#[test]
fn the_other_partys_question_gives_the_context() {
    let r = redactor();
    let call = r.call([1; 32]);
    let mut agent = call.track(true);
    let mut caller = call.track(false);
    let _ = agent.push_final(seg("And the security code on the back?"));
    let out = caller.push_final(seg("It is seven eight one."));
    assert_eq!(out[0].text, "It is [CVV].");
    let _ = agent.push_final(seg("I have sent you an OTP. Please read it out."));
    let out = caller.push_final(seg("It's 4 8 2 1 9 3."));
    assert_eq!(out[0].text, "It's [OTP].");
    let _ = agent.push_final(seg("Can I get your full name?"));
    let out = caller.push_final(seg("Sure, it is Zorawar Kowalczyk."));
    assert_eq!(out[0].text, "Sure, it is [NAME].");
    // a name learned on one track is removed on the other
    let out = agent.push_final(seg("Thank you, Zorawar. You are verified."));
    assert_eq!(out[0].text, "Thank you, [NAME]. You are verified.");
    // a time with no identifier context survives (held first: a number ends the segment)
    assert!(
        agent
            .push_final(seg("The technician comes at eleven thirty."))
            .is_empty()
    );
    assert_eq!(
        agent.flush()[0].text,
        "The technician comes at eleven thirty."
    );
}

#[test]
fn pseudonyms_are_consistent_within_a_call_and_differ_across_keys() {
    let policy = Policy {
        mode: Mode::Pseudonym,
        ..Policy::default()
    };
    let r = Arc::new(Redactor::new(policy).unwrap());
    let call = r.call([3; 32]);
    let mut caller = call.track(false);
    let mut agent = call.track(true);
    let a = caller.push_final(seg("My name is Meera Pillai and my number is 98415 22076."));
    assert_eq!(a[0].text, "My name is [NAME_1] and my number is [PHONE_1].");
    let b = agent.push_final(seg(
        "Thank you, Meera. I will call 98415-22076. This is Prakash.",
    ));
    assert_eq!(
        b[0].text,
        "Thank you, [NAME_1]. I will call [PHONE_1]. This is [NAME_2]."
    );
    let c = caller.push_final(seg("My other number is 91234 56789."));
    assert!(c[0].text.contains("[PHONE_2]"));
}

#[test]
fn mask_mode_and_entity_subsets() {
    let r = Arc::new(
        Redactor::new(Policy {
            mode: Mode::Mask,
            ..Policy::default()
        })
        .unwrap(),
    );
    assert_eq!(r.redact_text("call 98415 22076").text, "call ####");
    let only_phone = Policy {
        entities: [EntityKind::Phone].into_iter().collect(),
        ..Policy::default()
    };
    let r = Arc::new(Redactor::new(only_phone).unwrap());
    assert_eq!(
        r.redact_text("My name is Meera, call 98415 22076").text,
        "My name is Meera, call [PHONE]"
    );
}

#[test]
fn agent_names_kept_when_the_policy_says_so() {
    let r = Arc::new(
        Redactor::new(Policy {
            keep_agent_names: true,
            ..Policy::default()
        })
        .unwrap(),
    );
    let call = r.call([5; 32]);
    let mut agent = call.track(true);
    let mut caller = call.track(false);
    assert_eq!(
        agent.push_final(seg("Good morning, this is Prakash."))[0].text,
        "Good morning, this is Prakash."
    );
    assert_eq!(
        caller.push_final(seg("Hi Prakash, my name is Meera."))[0].text,
        "Hi Prakash, my name is [NAME]."
    );
}

#[test]
fn policy_is_validated_data() {
    let p = Policy::from_json(r#"{"version": 3, "mode": "pseudonym", "entities": ["NAME", "PHONE"], "keep_agent_names": true}"#).unwrap();
    assert_eq!(p.version, 3);
    assert_eq!(p.mode, Mode::Pseudonym);
    assert!(p.redacts(EntityKind::Phone) && !p.redacts(EntityKind::Card));
    assert!(matches!(
        Policy::from_json(r#"{"version": 1, "colour": "red"}"#),
        Err(PolicyError::Parse(_))
    ));
    assert!(matches!(
        Policy::from_json(r#"{"version": 0}"#),
        Err(PolicyError::ZeroVersion)
    ));
    assert!(matches!(
        Policy::from_json(r#"{"entities": []}"#),
        Err(PolicyError::NoEntities)
    ));
    let d = Policy::from_json("{}").unwrap();
    assert_eq!(d, Policy::default());
    assert_eq!(
        serde_json::to_string(&EntityKind::DateOfBirth).unwrap(),
        "\"DATE_OF_BIRTH\""
    );
    let out = Redactor::new(Policy {
        version: 7,
        ..Policy::default()
    })
    .unwrap()
    .redact_text("hi");
    assert_eq!(out.policy_version, 7);
}

#[test]
fn spans_and_word_times_follow_the_placeholders() {
    let r = redactor();
    let mut t = r.track([9; 32], false);
    let words = [
        (" My", 0.0),
        (" number", 0.3),
        (" is", 0.6),
        (" 98415", 0.9),
        ("-22076.", 1.4),
        (" Bye.", 2.0),
    ];
    let s = RawSegment {
        start: 0.0,
        end: 2.5,
        text: " My number is 98415-22076. Bye.".into(),
        words: words
            .iter()
            .map(|(w, t)| Word {
                word: w.to_string(),
                start: *t,
                end: t + 0.3,
                p: 0.9,
            })
            .collect(),
    };
    let out = t.push_final(s);
    let o = &out[0];
    assert_eq!(o.text, " My number is [PHONE]. Bye.");
    assert_eq!(o.spans.len(), 1);
    let sp = &o.spans[0];
    assert_eq!(sp.kind, EntityKind::Phone);
    assert_eq!(
        o.text
            .chars()
            .skip(sp.start)
            .take(sp.end - sp.start)
            .collect::<String>(),
        "[PHONE]"
    );
    assert_eq!((sp.t_start, sp.t_end), (Some(0.9), Some(1.7)));
    let ws: Vec<&str> = o.words.iter().map(|w| w.word.as_str()).collect();
    assert_eq!(ws, vec![" My", " number", " is", " [PHONE].", " Bye."]);
    assert!((o.words[3].start - 0.9).abs() < 1e-6 && (o.words[3].end - 1.7).abs() < 1e-6);
    // words that do not spell the text are never passed through
    let s = RawSegment {
        start: 0.0,
        end: 1.0,
        text: "call 98415 22076".into(),
        words: vec![
            Word {
                word: "98415".into(),
                start: 0.0,
                end: 1.0,
                p: 1.0,
            },
            Word {
                word: "zzz".into(),
                start: 0.0,
                end: 1.0,
                p: 1.0,
            },
        ],
    };
    let out = r.track([9; 32], false).push_final(s);
    assert_eq!(out[0].words.len(), 1);
    assert_eq!(out[0].words[0].word, "call [PHONE]");
}

#[test]
fn interim_text_is_masked_conservatively() {
    let r = redactor();
    let mut t = r.track([2; 32], false);
    let i = t.interim(&seg("my number is nine eight four"));
    assert!(!i.text.contains("eight four"), "{}", i.text);
    assert_eq!(
        t.interim(&seg("it costs 499 rupees")).text,
        "it costs 499 rupees"
    );
    // the held tail counts: "one five" continues a held run
    assert!(t.push_final(seg("my number is nine eight four")).is_empty());
    let i = t.interim(&seg("one five"));
    assert!(!i.text.contains("five"), "{}", i.text);
}

#[test]
fn redact_lines_text_and_json() {
    let r = redactor();
    let input =
        "my number is nine eight four one five\ndouble two oh seven six\nthe fee is 200 rupees\n";
    let mut out = Vec::new();
    redact_lines(&r, input.as_bytes(), &mut out, LineFormat::Text).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(
        text,
        "my number is [PHONE]\n[PHONE]\nthe fee is 200 rupees\n"
    );
    let mut out = Vec::new();
    redact_lines(
        &r,
        "call 98415 22076\n".as_bytes(),
        &mut out,
        LineFormat::Json,
    )
    .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["text"], "call [PHONE]");
    assert_eq!(v["spans"][0]["kind"], "PHONE");
    assert_eq!(v["policy_version"], 1);
    assert_eq!("json".parse::<LineFormat>().unwrap(), LineFormat::Json);
}

#[test]
fn redactor_is_send_sync_and_tracks_are_send() {
    fn send_sync<T: Send + Sync>() {}
    fn send_static<T: Send + 'static>() {}
    send_sync::<Redactor>();
    send_static::<TrackRedactor>();
    send_static::<CallRedactor>();
}

#[test]
fn gazetteer_is_large_enough() {
    assert!(super::names::Gazetteer::load().len() > 900);
}

// ---------------------------------------------------------------------------------------------
// Property test: any identifier in random filler, in digits, in words or split in two, is gone.

const FILLER: &[&str] = &[
    "okay", "so", "please", "the", "is", "fine", "thanks", "we", "will", "check", "that", "today",
    "and", "then", "right", "yes", "it", "sure", "hmm",
];
const DIGIT_WORDS: [&str; 10] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
];

fn luhn_complete(body: &str) -> String {
    (0..10)
        .map(|d| format!("{body}{d}"))
        .find(|c| checksums::luhn(c))
        .unwrap()
}

/// (cue said before it, digits)
fn identifier() -> impl Strategy<Value = (&'static str, String)> {
    let d = |n: usize| {
        proptest::collection::vec(0u8..10, n).prop_map(|v| {
            v.into_iter()
                .map(|x| char::from(b'0' + x))
                .collect::<String>()
        })
    };
    prop_oneof![
        (6u8..10, d(9)).prop_map(|(a, b)| ("my mobile is", format!("{a}{b}"))),
        (2u8..10, d(2), 2u8..10, d(6))
            .prop_map(|(a, b, c, e)| ("call me on", format!("{a}{b}{c}{e}"))),
        d(9).prop_map(|b| ("text me on", format!("07{b}"))),
        d(14).prop_map(|b| ("my card number is", luhn_complete(&format!("4{b}")))),
        d(10).prop_map(|b| ("my aadhaar is", {
            let s = format!("2{b}");
            format!("{s}{}", checksums::verhoeff_digit(&s))
        })),
        (1u8..9, d(8)).prop_map(|(a, b)| ("my social security number is", format!("{a}{b}"))),
        d(11).prop_map(|b| ("the account number is", format!("3{b}"))),
        d(6).prop_map(|b| ("the OTP is", b)),
        d(4).prop_map(|b| ("my PIN is", b)),
        d(3).prop_map(|b| ("the CVV is", b)),
        d(8).prop_map(|b| ("", format!("9{b}"))),
    ]
}

fn render_digits(id: &str, style: u8) -> String {
    match style {
        0 => id.to_string(),
        1 => id
            .chars()
            .map(|c| DIGIT_WORDS[c as usize - '0' as usize])
            .collect::<Vec<_>>()
            .join(" "),
        2 => id
            .as_bytes()
            .chunks(3)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join("-"),
        _ => {
            // words with "double" for repeated digits
            let b: Vec<char> = id.chars().collect();
            let mut out = Vec::new();
            let mut i = 0;
            while i < b.len() {
                let w = DIGIT_WORDS[b[i] as usize - '0' as usize];
                if i + 1 < b.len() && b[i + 1] == b[i] {
                    out.push(format!("double {w}"));
                    i += 2;
                } else {
                    out.push(w.to_string());
                    i += 1;
                }
            }
            out.join(" ")
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]
    #[test]
    fn no_identifier_survives(
        (cue, id) in identifier(),
        style in 0u8..4,
        split in any::<prop::sample::Index>(),
        do_split in any::<bool>(),
        pre in proptest::collection::vec(0usize..FILLER.len(), 0..6),
        post in proptest::collection::vec(0usize..FILLER.len(), 0..6),
    ) {
        let pre: Vec<&str> = pre.into_iter().map(|i| FILLER[i]).collect();
        let post: Vec<&str> = post.into_iter().map(|i| FILLER[i]).collect();
        let spoken = render_digits(&id, style);
        let text = format!("{} {} {} {}", pre.join(" "), cue, spoken, post.join(" "));
        let r = redactor();
        let mut t = r.track([4; 32], false);
        let mut out = Vec::new();
        let words: Vec<&str> = text.split(' ').collect();
        if do_split && words.len() > 2 {
            // split inside the identifier when possible
            let k = 1 + split.index(words.len() - 1);
            out.extend(t.push_final(seg(&words[..k].join(" "))));
            out.extend(t.push_final(seg(&words[k..].join(" "))));
        } else {
            out.extend(t.push_final(seg(&text)));
        }
        out.extend(t.flush());
        let all: Vec<String> = out.iter().map(|s| s.text.clone()).collect();
        let joined = all.join(" | ");
        prop_assert!(!leaks(&id, &joined.replace(" | ", " ")), "{text:?} -> {joined:?}");
        prop_assert_eq!(out.len(), if do_split && words.len() > 2 { 2 } else { 1 });
    }
}

#[test]
fn e_mails_with_a_misheard_at_are_still_found() {
    // a mail provider's domain is enough context
    assert_eq!(
        red("It is emily dot carter has yahoo dot com."),
        "It is [EMAIL]."
    );
    assert_eq!(
        red("it is m l dot carter has yahoo dot com"),
        "it is [EMAIL]"
    );
    assert_eq!(
        red("Write to priya.s hat gmail.com today."),
        "Write to [EMAIL] today."
    );
    // but a provider named alone, a web site, or a sentence ending in "com…" are not addresses
    assert_eq!(
        red("I use gmail.com for everything."),
        "I use gmail.com for everything."
    );
    assert_eq!(
        red("Our plans are on northwind.com and the app."),
        "Our plans are on northwind.com and the app."
    );
    // after the agent asks for the e-mail, any domain-shaped answer is one
    let r = redactor();
    let call = r.call([3; 32]);
    let mut agent = call.track(true);
    let mut caller = call.track(false);
    let _ = agent.push_final(seg("Thank you. And your email address?"));
    let mut out = caller.push_final(seg("It is m.really.carterat.com."));
    out.extend(caller.flush());
    assert_eq!(out[0].text, "It is [EMAIL].");
}

/// An address whose town and PIN code fall into the next segment ("…, M G Road," | "Cotha,
/// Pina, 411, 083."): the recogniser garbles the place names, the PIN is still the address's.
#[test]
fn address_tail_in_the_next_segment_is_redacted() {
    let r = redactor();
    let mut t = r.track([7; 32], false);
    let mut out = t.push_final(seg(
        "Is the delivery address flat 378, Sunrise Heights, MG Road,",
    ));
    out.extend(t.push_final(seg("Cotha, Pina, 411, 083.")));
    out.extend(t.push_final(seg("The courier will come tomorrow between 10 and 1.")));
    out.extend(t.flush());
    assert_eq!(out.len(), 3, "{out:?}");
    for s in &out[..2] {
        assert!(
            !["378", "Sunrise", "411", "083"]
                .iter()
                .any(|v| s.text.contains(v)),
            "{out:?}"
        );
    }
    assert_eq!(
        out[2].text,
        "The courier will come tomorrow between 10 and 1."
    );
}

/// The recogniser sometimes writes a ZIP code as money ("Colorado, $80.265"): a price never
/// has three decimals, so the run is judged as the number it is; real prices stay.
#[test]
fn a_zip_code_written_as_money_is_still_a_zip_code() {
    let out = red("Can you deliver it to Cedar Lane? Denver Colorado, $80.265.");
    assert!(!out.contains("80") && !out.contains("265"), "{out}");
    assert_eq!(
        red("The new plan is $35.50 a month."),
        "The new plan is $35.50 a month."
    );
    assert_eq!(
        red("That comes to $1,250.00 in total."),
        "That comes to $1,250.00 in total."
    );
}

#[test]
fn a_bank_code_takes_the_letters_and_digits_glued_to_it() {
    // found by the redact fuzz target: the code alone was masked, "0a0" stayed beside it
    let out = red("my IFSC is HDFC0a0 thanks");
    assert!(out.contains("[IFSC]") && !out.contains("0a0"), "{out}");
    // and the letters and digits glued before it
    let out = red("IFSC cvv2HDFC0001234 thanks");
    assert!(!out.contains("cvv2") && !out.contains("1234"), "{out}");
    // any identifier: a spoken e-mail address with digits glued to its end
    let out = red("email priya dot sharma at gmail dot cC0ifsc34 thanks");
    assert!(!out.contains("ifsc34") && out.ends_with(" thanks"), "{out}");
}

#[test]
fn redacting_redacted_text_finds_nothing_new() {
    // found by the redact fuzz target: the "1" of a pseudonym joined the spoken digits before
    // it into an identifier, so a second pass (a reprocess) redacted what the first had kept
    let r = Arc::new(
        Redactor::new(Policy {
            mode: Mode::Pseudonym,
            ..Policy::default()
        })
        .expect("valid"),
    );
    let texts = [
        "what is your date of birth and account numfour one five",
        "double two oh seven six, PAN ABCDE1234F aadhaar 2345 6789 0123",
    ];
    let run = |texts: [&str; 2]| {
        let call = r.call([7; 32]);
        let (mut agent, mut caller) = (call.track(true), call.track(false));
        let mut out = agent.push_final(seg(texts[0]));
        out.extend(caller.push_final(seg(texts[1])));
        out.extend(caller.flush());
        out.extend(agent.flush());
        out.into_iter().map(|s| s.text).collect::<Vec<_>>()
    };
    let first = run(texts);
    let caller_out = first.iter().find(|t| t.contains("PAN")).expect("caller");
    let agent_out = first.iter().find(|t| t.contains("birth")).expect("agent");
    let second = run([agent_out, caller_out]);
    let mut sorted_first = first.clone();
    sorted_first.sort();
    let mut sorted_second = second;
    sorted_second.sort();
    assert_eq!(sorted_first, sorted_second);
    for label in ["[PHONE]", "[NAME_2]", "####", "[ID_NUMBER_12]"] {
        assert_eq!(red(&format!("call {label} 42")), format!("call {label} 42"));
    }
}

#[test]
fn a_cue_answered_by_a_mask_does_not_take_a_later_number() {
    // fuzz finding 7: on a second pass the masked answer left its cue looking unanswered, and
    // the cue took the next number ("PIN ####, IFSC #### a8.1.20" → "a####")
    for mode in [Mode::Placeholder, Mode::Mask, Mode::Pseudonym] {
        let r = Arc::new(
            Redactor::new(Policy {
                mode,
                ..Policy::default()
            })
            .expect("valid"),
        );
        let once = |text: &str| {
            let call = r.call([3; 32]);
            let mut t = call.track(false);
            let mut out = t.push_final(seg(text));
            out.extend(t.flush());
            out.into_iter()
                .map(|s| s.text)
                .collect::<Vec<_>>()
                .join(" ")
        };
        for text in [
            "my PIN is 4821, IFSC HDFC0001234 and the room is a8.1.20",
            "the OTP is 784345 and we close at 8.30",
            "PIN 4821 then 2024 was a good year",
        ] {
            let first = once(text);
            assert_eq!(once(&first), first, "{mode:?}: {text}");
        }
        // a cue with nothing masked after it still labels its number
        assert!(!once("the PIN, I think, 4821").contains("4821"));
        assert!(!once("#the PIN is 4821").contains("4821"));
    }
}

#[test]
fn on_a_mono_recording_the_question_before_frames_the_answer() {
    // one track, speaker unknown: the agent's question and the caller's answer are two
    // segments of the same track, as on a recording with both parties on one channel
    let r = Arc::new(Redactor::new(Policy::default()).expect("valid"));
    let mono = |texts: &[&str]| {
        let call = r.call([5; 32]);
        let mut t = call.track(false);
        let mut out = Vec::new();
        for text in texts {
            out.extend(t.push_final(seg(text)));
        }
        out.extend(t.flush());
        out.into_iter().map(|s| s.text).collect::<Vec<_>>()
    };
    let out = mono(&[
        "May I have your full name, please?",
        "It is kgabo mahlangu.",
    ]);
    assert_eq!(out[1], "It is [NAME].", "{out:?}");
    // the question frames the next segment only, not the asker's next question after it
    let out = mono(&[
        "Could you spell your surname?",
        "O K.",
        "What's your email?",
    ]);
    assert_eq!(out[2], "What's your email?", "{out:?}");
    // what a question did not ask for is left alone
    let out = mono(&["How can I help you today?", "It is kgabo mahlangu."]);
    assert_eq!(out[1], "It is kgabo mahlangu.", "{out:?}");
    // with two tracks the own previous segment is not the other party's question
    let call = r.call([5; 32]);
    let (mut agent, mut caller) = (call.track(true), call.track(false));
    let mut out = agent.push_final(seg("Could you spell your name?"));
    out.extend(agent.push_final(seg("It is kgabo mahlangu.")));
    out.extend(agent.flush());
    out.extend(caller.flush());
    assert_eq!(out[1].text, "It is kgabo mahlangu.");
}

#[test]
fn a_card_expiry_or_birth_date_said_with_slash_is_one_identifier() {
    // the recogniser writes "oh seven slash twenty nine" in many ways
    for answer in [
        "0 7 slash 2 9.",
        "Oh seven slash twenty nine.",
        "Seven slash twenty nine.",
        "07-29.",
        "It's 07/29.",
    ] {
        let out = red(&format!("What is the expiry date on the card? {answer}"));
        assert!(out.ends_with("[CARD_EXPIRY]."), "{answer} → {out}");
    }
    for answer in ["12/5/1985.", "1 slash 5 slash 85."] {
        let out = red(&format!("Can I take your date of birth? {answer}"));
        assert!(out.ends_with("[DATE_OF_BIRTH]."), "{answer} → {out}");
    }
    // the same words about other numbers are kept
    assert_eq!(red("We are open 24/7."), "We are open 24/7.");
    assert_eq!(
        red("Use the slash key, then press 2 for billing."),
        "Use the slash key, then press 2 for billing."
    );
}

#[test]
fn a_name_in_lower_case_where_a_name_is_expected_is_a_name() {
    // the recogniser often writes names in lower case; a word that is not ordinary English is
    // a name where one is expected (after "my name is", a title, or the question for it)
    let out = red("Yes, my name is tendai mukwevho.");
    assert_eq!(out, "Yes, my name is [NAME].");
    let out = red("I spoke to mr okafor yesterday.");
    assert_eq!(out, "I spoke to mr [NAME] yesterday.");
    let out = red("May I have your full name? it's priyanka raghunathan");
    assert!(!out.contains("raghunathan"), "{out}");
    // ordinary words in those places stay
    assert_eq!(
        red("My name is down on the list."),
        "My name is down on the list."
    );
    assert_eq!(
        red("I'm calling about my bill."),
        "I'm calling about my bill."
    );
    assert_eq!(red("Thanks, mr manager sir."), "Thanks, mr manager sir.");
}

#[test]
fn a_name_spelled_letter_by_letter_is_a_name() {
    for text in [
        "Could you spell your surname? O K O N K W O.",
        "Could you spell your surname? O-K-O-N-K-W-O.",
        "My surname is Okonkwo, O K O N K W O.",
        "It's spelled A, D, E, Y, E, M, I.",
    ] {
        let out = red(text);
        assert!(
            !out.contains(" K ") && !out.contains("-K-") && !out.contains("D, E"),
            "{out}"
        );
    }
    // a short run of letters with no name in sight stays; letters with digits are an id
    assert_eq!(red("Press O K to continue."), "Press O K to continue.");
    assert_eq!(
        red("The A B C plan costs more."),
        "The A B C plan costs more."
    );
}

#[test]
fn a_street_address_in_lower_case_is_an_address() {
    let out = red("What's your address? 27 cedar lane, denver, colorado, 80221.");
    assert!(
        !out.contains("cedar") && !out.contains("27") && !out.contains("80221"),
        "{out}"
    );
    let out = red("it's fourteen wellington road, leeds");
    assert!(!out.contains("wellington"), "{out}");
    // numbers before ordinary words that end in a street word are not addresses
    for text in [
        "I live 5 minutes down the road.",
        "Take the 2 main roads.",
        "We have 3 service lanes open.",
    ] {
        assert_eq!(red(text), text);
    }
}

#[test]
fn names_said_before_speaking_or_spelled_with_key_words_are_names() {
    let out = red("Thanks for calling Kestrel Bank. Tanushree Chitnis speaking, how can I help?");
    assert!(
        !out.contains("Tanushree") && !out.contains("Chitnis"),
        "{out}"
    );
    assert!(out.contains("Kestrel Bank"), "{out}");
    let out = red("That's spelled K for Kilo, A for Alpha, R for Romeo, I for India.");
    assert!(!out.contains("K for") && !out.contains("R for"), "{out}");
    let out = red("My surname is Okonkwo, O as in Oscar, K as in Kilo, O as in Oscar.");
    assert!(!out.contains("as in Kilo"), "{out}");
    // an ordinary word at the start of the answer to "your name?" is not a name
    let r = Arc::new(Redactor::new(Policy::default()).expect("valid"));
    let call = r.call([1; 32]);
    let (mut agent, mut caller) = (call.track(true), call.track(false));
    let mut out = agent.push_final(seg("Could I have your full name please?"));
    out.extend(caller.push_final(seg("Let me check. Um, Abimbola Kariuki.")));
    out.extend(caller.flush());
    assert_eq!(out[1].text, "Let me check. Um, [NAME].");
}

/// A two-track call: (speaker is agent, text) in order; the redacted texts in that order.
fn call_of(turns: &[(bool, &str)]) -> Vec<String> {
    let r = Arc::new(Redactor::new(Policy::default()).expect("valid"));
    let call = r.call([9; 32]);
    let (mut agent, mut caller) = (call.track(true), call.track(false));
    let mut out = Vec::new();
    for (is_agent, text) in turns {
        let t = if *is_agent { &mut agent } else { &mut caller };
        out.extend(t.push_final(seg(text)));
    }
    out.extend(caller.flush());
    out.extend(agent.flush());
    out.sort_by(|a, b| a.start.total_cmp(&b.start));
    out.into_iter().map(|s| s.text).collect()
}

#[test]
fn a_hesitation_inside_a_number_does_not_split_it() {
    let out = red("The sort code is one five, uh, eight two, eight two.");
    assert!(!out.contains("eight two"), "{out}");
    let out = red("My PIN code is one six oh, um, four four two.");
    assert!(!out.contains("four four"), "{out}");
    assert_eq!(
        red("It takes two, uh, maybe three days."),
        "It takes two, uh, maybe three days."
    );
}

#[test]
fn an_identifier_read_back_later_in_the_call_is_removed_too() {
    let out = call_of(&[
        (true, "Please read me the code we sent."),
        (false, "Um, nine four oh six."),
        (true, "Thank you. So that was nine four zero six, correct?"),
        (false, "Yes. And my CVV is five double three."),
        (
            true,
            "Okay, so five thirty three. We charge 533 dollars, right?",
        ),
    ]);
    assert!(
        out[2].contains("[OTP]") && !out[2].contains("nine four"),
        "{out:?}"
    );
    assert!(
        !out[4].contains("thirty three") && !out[4].contains("533"),
        "{out:?}"
    );
    // numbers that were never an identifier stay
    let out = call_of(&[
        (true, "How many days did the delivery take?"),
        (false, "Nine days, and it cost 406 rupees."),
    ]);
    assert_eq!(out[1], "Nine days, and it cost 406 rupees.");
}

#[test]
fn a_bare_answer_to_a_question_for_an_identifier_is_that_identifier() {
    // the first half of an answer split across turns, a 4-digit postcode
    let out = call_of(&[
        (true, "Can I take your social security number?"),
        (false, "My social is eight thirty three..."),
        (true, "Go on."),
        (false, "...forty one, two two nine nine."),
    ]);
    assert!(!out[1].contains("thirty three"), "{out:?}");
    let out = call_of(&[
        (true, "And what is the postcode there?"),
        (false, "It's twenty forty two."),
    ]);
    assert_eq!(out[1], "It's [POSTCODE].");
    // an answer that says more than the number is judged as before
    let out = call_of(&[
        (true, "What is your account number?"),
        (false, "I have had it for 12 years."),
    ]);
    assert_eq!(out[1], "I have had it for 12 years.");
}

#[test]
fn a_street_name_may_hold_a_street_word() {
    for text in [
        "Please send it to two twenty three St Johns Road, Bristol.",
        "It's 135 Park Crescent, Brighton.",
    ] {
        let out = red(text);
        assert!(
            !out.contains("Johns") && !out.contains("Park Crescent"),
            "{out}"
        );
    }
}

#[test]
fn digits_the_recogniser_wrote_as_words_that_sound_alike_are_digits() {
    let out = red("Okay, expiry is 0 to 32 and the CVV is 983.");
    assert_eq!(out, "Okay, expiry is [CARD_EXPIRY] and the CVV is [CVV].");
    let out = red("My account number is 769 to 36 to 38, 558.");
    assert!(!out.contains("36") && !out.contains("558"), "{out}");
    // ranges and choices stay
    for text in [
        "It takes 3 to 5 business days.",
        "We are open from 9 to 5 on weekdays.",
        "Press 1 for billing, 2 for sales.",
        "I bought 2 for 10 dollars.",
    ] {
        assert_eq!(red(text), text);
    }
}

#[test]
fn a_number_said_digit_by_digit_is_an_identifier() {
    // nobody says an amount that way: "seven double zero five" with its cue heard wrong
    let out = red("my post post seven double zero five the reading");
    assert_eq!(out, "my post post [ID_NUMBER] the reading");
    let out = red("It's 2, 3, double, 2, 9.");
    assert_eq!(out, "It's [ID_NUMBER].");
    // amounts, times and short choices stay
    for text in [
        "It costs nine nine nine rupees.",
        "Check-in is from eight forty five.",
        "Press one, two, three or four.",
    ] {
        assert_eq!(red(text), text);
    }
}

#[test]
fn a_person_addressed_by_name_is_a_name_and_ordinary_words_are_not() {
    let out = call_of(&[
        (true, "Thank you so much."),
        (
            true,
            "Henrietta, for verification, please tell me your date of birth.",
        ),
        (true, "Was there anything else? Delaney?"),
        (
            true,
            "Thanks for calling Castle Insurance Benedict speaking. How can I help?",
        ),
        (true, "Brilliant, thanks. Perfect. Lovely, bye."),
    ]);
    assert!(out[1].starts_with("[NAME], for"), "{out:?}");
    assert!(out[2].ends_with("else? [NAME]?"), "{out:?}");
    assert!(out[3].contains("Insurance [NAME] speaking"), "{out:?}");
    assert_eq!(out[4], "Brilliant, thanks. Perfect. Lovely, bye.");
}

#[test]
fn a_cue_answered_in_its_own_segment_asks_the_other_party_nothing() {
    // "the three digits are 453" answers its own cue: the agent's next times are kept
    let out = call_of(&[
        (
            false,
            "Um, June of twenty seven, and the three digits are four five three.",
        ),
        (true, "Brilliant. Check-in is from eight forty five."),
    ]);
    assert!(out[0].ends_with("are [CVV]."), "{out:?}");
    assert_eq!(out[1], "Brilliant. Check-in is from eight forty five.");
    // a question's cue is still handed over
    let out = call_of(&[
        (true, "And the three digits on the back?"),
        (false, "Sure, it's 983. Great, thank you."),
    ]);
    assert_eq!(out[1], "Sure, it's [CVV]. Great, thank you.");
}

#[test]
fn a_capitalised_word_no_dictionary_has_is_a_name_beside_another_or_mid_sentence() {
    let out = red("I was transferred to Okonkwo yesterday.");
    assert_eq!(out, "I was transferred to [NAME] yesterday.");
    let out = red("Tanushree Chitnis will call you back.");
    assert_eq!(out, "[NAME] will call you back.");
    // ordinary words, organisations and places before their street or company word stay
    for text in [
        "Thanks for calling Kestrel Bank, how can I help?",
        "The Suraksha Insurance team will call.",
        "Brilliant. Lovely. That works.",
    ] {
        assert_eq!(red(text), text);
    }
}

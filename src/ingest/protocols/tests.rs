use base64::Engine as _;

use super::*;
use crate::ingest::close;
use crate::secret::SecretString;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn twilio_start(tracks: &str) -> String {
    format!(
        r#"{{"event":"start","sequenceNumber":"1","streamSid":"MZ1","start":{{"accountSid":"AC1","streamSid":"MZ1","callSid":"CA42","tracks":{tracks},"customParameters":{{"token":"csk_x"}},"mediaFormat":{{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}}}}}"#
    )
}

fn twilio_media(track: &str, chunk: u64, payload: &[u8]) -> String {
    format!(
        r#"{{"event":"media","sequenceNumber":"{}","streamSid":"MZ1","media":{{"track":"{track}","chunk":"{chunk}","timestamp":"{}","payload":"{}"}}}}"#,
        chunk + 1,
        (chunk - 1) * 20,
        b64(payload)
    )
}

#[test]
fn twilio_both_tracks() {
    let mut a = adapter_for(Protocol::Twilio);
    assert_eq!(
        a.on_text(r#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#)
            .unwrap(),
        IngestEvent::Ignored
    );
    let IngestEvent::Start(s) = a
        .on_text(&twilio_start(r#"["inbound","outbound"]"#))
        .unwrap()
    else {
        panic!("start")
    };
    assert_eq!(s.external_id, "CA42");
    assert_eq!(s.token.as_ref().map(SecretString::expose), Some("csk_x"));
    assert_eq!(
        s.format,
        MediaFormat {
            codec: Codec::Mulaw,
            sample_rate: 8000,
            channels: 1
        }
    );
    let speakers: Vec<_> = s.tracks.iter().map(|t| t.speaker.as_str()).collect();
    assert_eq!(speakers, ["caller", "agent"]);
    let IngestEvent::Media(m) = a
        .on_text(&twilio_media("outbound", 3, &[0xff; 160]))
        .unwrap()
    else {
        panic!("media")
    };
    assert_eq!(
        (m.track, m.chunk, m.timestamp_ms, m.payload.len()),
        (1, Some(3), Some(40), 160)
    );
    assert_eq!(a.on_text(r#"{"event":"dtmf","streamSid":"MZ1","sequenceNumber":"5","dtmf":{"track":"inbound_track","digit":"1"}}"#).unwrap(), IngestEvent::Dtmf);
    assert_eq!(
        a.on_text(r#"{"event":"mark","sequenceNumber":"6","streamSid":"MZ1","mark":{"name":"x"}}"#)
            .unwrap(),
        IngestEvent::Mark
    );
    assert_eq!(a.on_text(r#"{"event":"stop","sequenceNumber":"7","streamSid":"MZ1","stop":{"accountSid":"AC1","callSid":"CA42"}}"#).unwrap(), IngestEvent::Stop);
}

#[test]
fn twilio_bad_inputs_name_what_is_wrong() {
    let mut a = adapter_for(Protocol::Twilio);
    let e = a
        .on_text(&twilio_media("inbound", 1, &[0; 160]))
        .unwrap_err();
    assert_eq!(
        (e.code, e.reason.as_str()),
        (close::POLICY, "media before start")
    );
    let e = a.on_text("{not json").unwrap_err();
    assert_eq!(e.code, close::INVALID);
    assert!(e.reason.contains("malformed JSON"), "{e}");
    let e = a.on_text(r#"{"event":"teleport"}"#).unwrap_err();
    assert!(e.reason.contains("unknown Twilio event"), "{e}");
    let e = a.on_text(r#"[1,2]"#).unwrap_err();
    assert!(e.reason.contains("not an object"), "{e}");
    let e = a.on_binary(&[0; 160]).unwrap_err();
    assert_eq!(e.code, close::UNSUPPORTED);

    a.on_text(&twilio_start(r#"["inbound"]"#)).unwrap();
    let e = a.on_text(&twilio_start(r#"["inbound"]"#)).unwrap_err();
    assert!(e.reason.contains("second start"), "{e}");
    let bad_b64 = r#"{"event":"media","media":{"track":"inbound","chunk":"1","timestamp":"0","payload":"%%%not base64"}}"#;
    let e = a.on_text(bad_b64).unwrap_err();
    assert!(e.reason.contains("base64"), "{e}");
    let e = a
        .on_text(&twilio_media("outbound", 1, &[0; 160]))
        .unwrap_err();
    assert!(e.reason.contains("did not announce"), "{e}");
    let empty =
        r#"{"event":"media","media":{"track":"inbound","chunk":"1","timestamp":"0","payload":""}}"#;
    assert!(a.on_text(empty).unwrap_err().reason.contains("empty"));
    let big = twilio_media("inbound", 1, &vec![0; MAX_PAYLOAD + 1]);
    assert_eq!(a.on_text(&big).unwrap_err().code, close::TOO_BIG);
    let bad_ts = r#"{"event":"media","media":{"track":"inbound","chunk":"1","timestamp":"soon","payload":"AAAA"}}"#;
    assert!(a.on_text(bad_ts).unwrap_err().reason.contains("timestamp"));
}

#[test]
fn twilio_rejects_formats_it_cannot_decode() {
    let mut a = adapter_for(Protocol::Twilio);
    let start = twilio_start(r#"["inbound"]"#).replace("audio/x-mulaw", "audio/opus");
    let e = a.on_text(&start).unwrap_err();
    assert_eq!(e.code, close::UNSUPPORTED);
    assert!(e.reason.contains("audio/opus"), "{e}");
}

#[test]
fn telnyx_codecs_and_snake_case() {
    for (enc, codec) in [
        ("PCMU", Codec::Mulaw),
        ("PCMA", Codec::Alaw),
        ("L16", Codec::L16Be),
    ] {
        let mut a = adapter_for(Protocol::Telnyx);
        assert_eq!(
            a.on_text(r#"{"event":"connected","version":"1.0.0"}"#)
                .unwrap(),
            IngestEvent::Ignored
        );
        let start = format!(
            r#"{{"event":"start","sequence_number":"1","stream_id":"S1","start":{{"call_control_id":"v3:abc","media_format":{{"encoding":"{enc}","sample_rate":16000,"channels":1}},"custom_parameters":{{"token":"k"}}}}}}"#
        );
        let IngestEvent::Start(s) = a.on_text(&start).unwrap() else {
            panic!()
        };
        assert_eq!(
            (s.external_id.as_str(), s.format.codec, s.format.sample_rate),
            ("v3:abc", codec, 16000)
        );
        assert_eq!(s.tracks.len(), 2);
        let media = format!(
            r#"{{"event":"media","sequence_number":"3","stream_id":"S1","media":{{"track":"outbound","chunk":"2","timestamp":"20","payload":"{}"}}}}"#,
            b64(&[1; 320])
        );
        let IngestEvent::Media(m) = a.on_text(&media).unwrap() else {
            panic!()
        };
        assert_eq!((m.track, m.chunk, m.timestamp_ms), (1, Some(2), Some(20)));
    }
    let mut a = adapter_for(Protocol::Telnyx);
    let e = a.on_text(r#"{"event":"start","start":{"call_control_id":"x","media_format":{"encoding":"OPUS","sample_rate":16000}}}"#).unwrap_err();
    assert!(e.reason.contains("OPUS"), "{e}");
}

#[test]
fn exotel_pcm16_one_track() {
    let mut a = adapter_for(Protocol::Exotel);
    let start = r#"{"event":"start","sequence_number":"1","stream_sid":"MZ9","start":{"stream_sid":"MZ9","call_sid":"CA9","account_sid":"AC9","from":"+919800000000","to":"+918000000000","custom_parameters":{},"media_format":{"encoding":"audio/x-raw","sample_rate":"16000","bit_rate":"16"}}}"#;
    let IngestEvent::Start(s) = a.on_text(start).unwrap() else {
        panic!()
    };
    assert_eq!(
        (s.external_id.as_str(), s.format.codec, s.format.sample_rate),
        ("CA9", Codec::L16Le, 16000)
    );
    assert_eq!(s.tracks[0].speaker, "unknown");
    assert_eq!(s.token, None);
    let media = format!(
        r#"{{"event":"media","sequence_number":"3","stream_sid":"MZ9","media":{{"chunk":"2","timestamp":"200","payload":"{}"}}}}"#,
        b64(&[0; 3200])
    );
    let IngestEvent::Media(m) = a.on_text(&media).unwrap() else {
        panic!()
    };
    assert_eq!(
        (m.track, m.timestamp_ms, m.payload.len()),
        (0, Some(200), 3200)
    );
    let odd = format!(
        r#"{{"event":"media","media":{{"chunk":"3","timestamp":"300","payload":"{}"}}}}"#,
        b64(&[0; 3201])
    );
    assert!(a.on_text(&odd).unwrap_err().reason.contains("whole number"));
}

/// A start's ingest key never reaches a log through `Debug` (of the start or of its event).
#[test]
fn a_call_starts_debug_output_never_shows_its_token() {
    let token = "csk_abcd2345_Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eHF1dXhxdXV4";
    let start = twilio_start(r#"["inbound"]"#).replace("csk_x", token);
    let event = adapter_for(Protocol::Twilio).on_text(&start).unwrap();
    let IngestEvent::Start(s) = &event else {
        panic!("start")
    };
    assert_eq!(s.token.as_ref().map(SecretString::expose), Some(token));
    for shown in [format!("{s:?}"), format!("{s:#?}"), format!("{event:?}")] {
        assert!(
            !shown.contains(token) && !shown.contains("abcd2345"),
            "{shown}"
        );
        assert!(shown.contains("\"<redacted>\""), "{shown}");
        assert!(shown.contains("CA42"), "the rest is still shown: {shown}");
    }
}

#[test]
fn vonage_connected_then_binary() {
    let mut a = adapter_for(Protocol::Vonage);
    assert_eq!(
        a.on_binary(&[0; 640]).unwrap_err().reason,
        "audio before websocket:connected"
    );
    let IngestEvent::Start(s) = a.on_text(r#"{"event":"websocket:connected","content-type":"audio/l16;rate=16000","uuid":"abc-123","token":"k","speaker":"caller"}"#).unwrap() else { panic!() };
    assert_eq!(
        (s.external_id.as_str(), s.format.sample_rate, s.format.codec),
        ("abc-123", 16000, Codec::L16Le)
    );
    assert_eq!(s.tracks[0].speaker, "caller");
    assert_eq!(s.token.as_ref().map(SecretString::expose), Some("k"));
    let IngestEvent::Media(m) = a.on_binary(&[0; 640]).unwrap() else {
        panic!()
    };
    assert_eq!(m.payload.len(), 640);
    assert!(a.on_binary(&[0; 641]).is_err());
    assert_eq!(
        a.on_text(r#"{"event":"websocket:notify"}"#).unwrap(),
        IngestEvent::Ignored
    );
    let mut b = adapter_for(Protocol::Vonage);
    assert!(
        b.on_text(r#"{"event":"websocket:connected","content-type":"audio/l16;rate=44100"}"#)
            .is_err()
    );
    assert!(
        b.on_text(r#"{"event":"websocket:connected","content-type":"audio/opus"}"#)
            .is_err()
    );
}

#[test]
fn native_stereo_is_split_into_tracks() {
    let mut a = adapter_for(Protocol::Native);
    assert!(a.echoes_transcript());
    let start = r#"{"event":"start","call_id":"bot-7","encoding":"pcm_s16le","sample_rate":8000,"channels":2,"speakers":["caller","agent"],"metadata":{"queue":"billing"}}"#;
    let IngestEvent::Start(s) = a.on_text(start).unwrap() else {
        panic!()
    };
    assert_eq!(s.tracks.len(), 2);
    // two stereo frames: L=1,R=2 then L=3,R=4
    let data: Vec<u8> = [1i16, 2, 3, 4]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let IngestEvent::Media(left) = a.on_binary(&data).unwrap() else {
        panic!()
    };
    let Some(IngestEvent::Media(right)) = a.next_pending() else {
        panic!()
    };
    assert!(a.next_pending().is_none());
    assert_eq!((left.track, right.track), (0, 1));
    assert_eq!(left.payload, [1u8, 0, 3, 0]);
    assert_eq!(right.payload, [2u8, 0, 4, 0]);
    assert!(
        a.on_binary(&[0; 6])
            .unwrap_err()
            .reason
            .contains("whole number")
    );
    assert_eq!(a.on_text(r#"{"event":"stop"}"#).unwrap(), IngestEvent::Stop);
    assert!(a.on_binary(&data).is_err(), "audio after stop");
}

#[test]
fn native_start_is_validated() {
    for (bad, needle) in [
        (
            r#"{"event":"start","encoding":"pcm_s16le","sample_rate":8000}"#,
            "call_id",
        ),
        (
            r#"{"event":"start","call_id":"x","encoding":"flac","sample_rate":8000}"#,
            "flac",
        ),
        (
            r#"{"event":"start","call_id":"x","encoding":"mulaw","sample_rate":4000}"#,
            "4000",
        ),
        (
            r#"{"event":"start","call_id":"x","encoding":"mulaw","sample_rate":8000,"channels":3}"#,
            "3 channels",
        ),
        (
            r#"{"event":"start","call_id":"x","encoding":"mulaw","sample_rate":8000,"channels":2,"speakers":["a"]}"#,
            "1 speaker labels",
        ),
        (
            r#"{"event":"start","call_id":"x","encoding":"mulaw","sample_rate":8000,"speakers":["bad label"]}"#,
            "speaker label",
        ),
        (
            // a name where a role belongs: labels are stored in clear
            r#"{"event":"start","call_id":"x","encoding":"mulaw","sample_rate":8000,"speakers":["john_smith"]}"#,
            "must be one of caller, agent",
        ),
    ] {
        let e = adapter_for(Protocol::Native).on_text(bad).unwrap_err();
        assert!(e.reason.contains(needle), "{bad}: {e}");
    }
    assert_eq!(
        adapter_for(Protocol::Native)
            .on_binary(&[0; 2])
            .unwrap_err()
            .reason,
        "audio before start"
    );
}

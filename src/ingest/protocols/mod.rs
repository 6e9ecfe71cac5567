//! The protocol adapters: Twilio Media Streams, Telnyx, Exotel, Vonage and callscribe's native
//! stream. Formats: `docs/ARCHITECTURE.md` ("Live ingest") and the providers' documentation.

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::secret::SecretString;

use super::{
    Adapter, CallStart, Codec, IngestEvent, MediaFormat, MediaFrame, ProtocolError, TrackSpec,
};

/// Largest decoded media payload accepted in one message (Telnyx allows long RTP chunks;
/// 256 KiB is 16 s of 8 kHz µ-law).
pub const MAX_PAYLOAD: usize = 256 * 1024;

/// The speaker labels a native stream may give its channels (roles, never names: labels are
/// stored in clear).
pub const SPEAKER_LABELS: &[&str] = &[
    "caller",
    "agent",
    "customer",
    "supervisor",
    "bot",
    "ivr",
    "unknown",
    "speaker_1",
    "speaker_2",
];

/// The ingest protocols, one endpoint each.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Twilio,
    Telnyx,
    Exotel,
    Vonage,
    /// callscribe's own: JSON start, binary PCM frames, stop; transcript events come back.
    Native,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Twilio => "twilio",
            Protocol::Telnyx => "telnyx",
            Protocol::Exotel => "exotel",
            Protocol::Vonage => "vonage",
            Protocol::Native => "native",
        }
    }

    /// The ingest path of the protocol.
    pub fn path(self) -> &'static str {
        match self {
            Protocol::Twilio => "/v1/ingest/twilio",
            Protocol::Telnyx => "/v1/ingest/telnyx",
            Protocol::Exotel => "/v1/ingest/exotel",
            Protocol::Vonage => "/v1/ingest/vonage",
            Protocol::Native => "/v1/ingest/stream",
        }
    }

    /// Whether closing the socket is the protocol's normal end of a call (Vonage sends no stop).
    pub fn ends_on_close(self) -> bool {
        self == Protocol::Vonage
    }
}

/// A fresh adapter for one connection.
pub fn adapter_for(protocol: Protocol) -> Box<dyn Adapter> {
    match protocol {
        Protocol::Twilio => Box::new(JsonStream::new(Dialect::Twilio)),
        Protocol::Telnyx => Box::new(JsonStream::new(Dialect::Telnyx)),
        Protocol::Exotel => Box::new(JsonStream::new(Dialect::Exotel)),
        Protocol::Vonage => Box::new(Vonage::default()),
        Protocol::Native => Box::new(Native::default()),
    }
}

fn parse_json(text: &str) -> Result<Map<String, Value>, ProtocolError> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ProtocolError::invalid("message is JSON but not an object")),
        Err(e) => Err(ProtocolError::invalid(format!(
            "malformed JSON at line {} column {}",
            e.line(),
            e.column()
        ))),
    }
}

/// A string or number field as u64 (Twilio sends numbers as strings).
fn num(v: Option<&Value>, what: &str) -> Result<Option<u64>, ProtocolError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_u64().map(Some).ok_or_else(|| {
            ProtocolError::invalid(format!("{what} must be a non-negative integer"))
        }),
        Some(Value::String(s)) => s.trim().parse::<u64>().map(Some).map_err(|_| {
            ProtocolError::invalid(format!("{what} must be a non-negative integer, got {s:?}"))
        }),
        Some(_) => Err(ProtocolError::invalid(format!("{what} must be a number"))),
    }
}

fn text_field<'a>(m: &'a Map<String, Value>, keys: &[&str]) -> Option<&'a str> {
    keys.iter()
        .find_map(|k| m.get(*k).and_then(Value::as_str))
        .filter(|s| !s.is_empty())
}

fn obj<'a>(m: &'a Map<String, Value>, key: &str) -> Option<&'a Map<String, Value>> {
    m.get(key).and_then(Value::as_object)
}

fn decode_payload(b64: Option<&Value>, format: &MediaFormat) -> Result<Vec<u8>, ProtocolError> {
    let Some(s) = b64.and_then(Value::as_str) else {
        return Err(ProtocolError::invalid(
            "media message without a payload string",
        ));
    };
    if s.len() > MAX_PAYLOAD / 3 * 4 + 4 {
        return Err(ProtocolError {
            code: super::close::TOO_BIG,
            reason: format!("media payload over {MAX_PAYLOAD} bytes"),
        });
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| ProtocolError::invalid(format!("media payload is not valid base64: {e}")))?;
    check_payload_size(bytes.len(), format)?;
    Ok(bytes)
}

fn check_payload_size(len: usize, format: &MediaFormat) -> Result<(), ProtocolError> {
    let unit = format.codec.bytes_per_sample() * format.channels as usize;
    if len == 0 {
        return Err(ProtocolError::invalid("empty media payload"));
    }
    if len > MAX_PAYLOAD {
        return Err(ProtocolError {
            code: super::close::TOO_BIG,
            reason: format!("media payload of {len} bytes is over {MAX_PAYLOAD}"),
        });
    }
    if !len.is_multiple_of(unit) {
        return Err(ProtocolError::invalid(format!(
            "media payload of {len} bytes is not a whole number of {unit}-byte samples"
        )));
    }
    Ok(())
}

/// Speaker of a provider track name: inbound is the caller, outbound the agent.
fn speaker_of_track(name: &str) -> Option<&'static str> {
    match name {
        "inbound" | "inbound_track" => Some("caller"),
        "outbound" | "outbound_track" => Some("agent"),
        _ => None,
    }
}

fn canonical_track(name: &str) -> &str {
    name.strip_suffix("_track").unwrap_or(name)
}

/// Twilio, Telnyx and Exotel share a JSON envelope (`event`, `start`, `media`, `stop`) with
/// different spellings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Twilio,
    Telnyx,
    Exotel,
}

struct JsonStream {
    dialect: Dialect,
    started: Option<CallStart>,
    stopped: bool,
}

impl JsonStream {
    fn new(dialect: Dialect) -> Self {
        Self {
            dialect,
            started: None,
            stopped: false,
        }
    }

    fn name(&self) -> &'static str {
        match self.dialect {
            Dialect::Twilio => "Twilio",
            Dialect::Telnyx => "Telnyx",
            Dialect::Exotel => "Exotel",
        }
    }

    fn start(&self, m: &Map<String, Value>) -> Result<CallStart, ProtocolError> {
        let Some(st) = obj(m, "start") else {
            return Err(ProtocolError::invalid(
                "start message without a start object",
            ));
        };
        let (format, external_id, params) = match self.dialect {
            Dialect::Twilio => {
                let mf = obj(st, "mediaFormat")
                    .ok_or_else(|| ProtocolError::invalid("start.mediaFormat is missing"))?;
                let encoding = mf.get("encoding").and_then(Value::as_str).unwrap_or("");
                let codec = match encoding {
                    "audio/x-mulaw" => Codec::Mulaw,
                    "audio/x-alaw" => Codec::Alaw,
                    other => {
                        return Err(ProtocolError::unsupported(format!(
                            "unsupported Twilio encoding {other:?} (expected audio/x-mulaw)"
                        )));
                    }
                };
                let rate =
                    num(mf.get("sampleRate"), "start.mediaFormat.sampleRate")?.unwrap_or(8000);
                let channels = num(mf.get("channels"), "start.mediaFormat.channels")?.unwrap_or(1);
                let id = text_field(st, &["callSid", "streamSid"])
                    .or_else(|| text_field(m, &["streamSid"]));
                (fmt(codec, rate, channels)?, id, obj(st, "customParameters"))
            }
            Dialect::Telnyx => {
                let mf = obj(st, "media_format")
                    .ok_or_else(|| ProtocolError::invalid("start.media_format is missing"))?;
                let encoding = mf.get("encoding").and_then(Value::as_str).unwrap_or("");
                let codec = match encoding.to_ascii_uppercase().as_str() {
                    "PCMU" => Codec::Mulaw,
                    "PCMA" => Codec::Alaw,
                    "L16" => Codec::L16Be,
                    other => {
                        return Err(ProtocolError::unsupported(format!(
                            "unsupported Telnyx encoding {other:?} (stream_codec must be PCMU, PCMA or L16)"
                        )));
                    }
                };
                let rate =
                    num(mf.get("sample_rate"), "start.media_format.sample_rate")?.unwrap_or(8000);
                let channels = num(mf.get("channels"), "start.media_format.channels")?.unwrap_or(1);
                let id = text_field(st, &["call_control_id", "call_session_id", "call_leg_id"])
                    .or_else(|| text_field(m, &["stream_id"]));
                (
                    fmt(codec, rate, channels)?,
                    id,
                    obj(st, "custom_parameters"),
                )
            }
            Dialect::Exotel => {
                let mf = obj(st, "media_format")
                    .ok_or_else(|| ProtocolError::invalid("start.media_format is missing"))?;
                let encoding = mf
                    .get("encoding")
                    .and_then(Value::as_str)
                    .unwrap_or("audio/x-raw");
                let codec = match encoding {
                    "audio/x-raw" | "raw" => Codec::L16Le,
                    "audio/x-mulaw" => Codec::Mulaw,
                    other => {
                        return Err(ProtocolError::unsupported(format!(
                            "unsupported Exotel encoding {other:?} (expected audio/x-raw)"
                        )));
                    }
                };
                if let Some(bits) = num(mf.get("bit_rate"), "start.media_format.bit_rate")?
                    && codec == Codec::L16Le
                    && bits != 16
                {
                    return Err(ProtocolError::unsupported(format!(
                        "Exotel bit_rate {bits}: only 16-bit PCM is supported"
                    )));
                }
                let rate =
                    num(mf.get("sample_rate"), "start.media_format.sample_rate")?.unwrap_or(8000);
                let id = text_field(st, &["call_sid", "stream_sid"])
                    .or_else(|| text_field(m, &["stream_sid"]));
                (fmt(codec, rate, 1)?, id, obj(st, "custom_parameters"))
            }
        };
        if format.channels != 1 {
            return Err(ProtocolError::unsupported(format!(
                "{} streams carry one channel per track, got {}",
                self.name(),
                format.channels
            )));
        }
        let external_id = external_id.ok_or_else(|| {
            ProtocolError::invalid(format!("{} start without a call id", self.name()))
        })?;
        let tracks = match self.dialect {
            Dialect::Twilio => {
                let names: Vec<&str> = match st.get("tracks") {
                    Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
                    None => vec!["inbound"],
                    Some(_) => {
                        return Err(ProtocolError::invalid(
                            "start.tracks must be an array of track names",
                        ));
                    }
                };
                if names.is_empty() || names.len() > 2 {
                    return Err(ProtocolError::invalid(format!(
                        "start.tracks must name 1 or 2 tracks, got {}",
                        names.len()
                    )));
                }
                let mut tracks = Vec::new();
                for n in names {
                    let speaker = speaker_of_track(n).ok_or_else(|| {
                        ProtocolError::invalid(format!("unknown track {n:?} in start.tracks"))
                    })?;
                    if tracks
                        .iter()
                        .any(|t: &TrackSpec| t.name == canonical_track(n))
                    {
                        return Err(ProtocolError::invalid(format!("track {n:?} listed twice")));
                    }
                    tracks.push(TrackSpec {
                        name: canonical_track(n).to_string(),
                        speaker: speaker.into(),
                    });
                }
                tracks
            }
            // Telnyx does not list its tracks in `start`: both are ready; one may stay silent.
            Dialect::Telnyx => vec![
                TrackSpec {
                    name: "inbound".into(),
                    speaker: "caller".into(),
                },
                TrackSpec {
                    name: "outbound".into(),
                    speaker: "agent".into(),
                },
            ],
            // Exotel streams one mixed track.
            Dialect::Exotel => vec![TrackSpec {
                name: "mixed".into(),
                speaker: "unknown".into(),
            }],
        };
        let token = params
            .and_then(|p| text_field(p, &["token"]))
            .map(SecretString::from);
        let echo = params
            .and_then(|p| text_field(p, &["transcripts"]))
            .is_some_and(|v| matches!(v, "on" | "true" | "1" | "yes"));
        Ok(CallStart {
            external_id: limit_id(external_id)?,
            tracks,
            format,
            token,
            echo,
        })
    }

    fn media(
        &self,
        m: &Map<String, Value>,
        start: &CallStart,
    ) -> Result<MediaFrame, ProtocolError> {
        let Some(media) = obj(m, "media") else {
            return Err(ProtocolError::invalid(
                "media message without a media object",
            ));
        };
        let track = match media.get("track").and_then(Value::as_str) {
            Some(name) => {
                let name = canonical_track(name);
                start
                    .tracks
                    .iter()
                    .position(|t| t.name == name)
                    .ok_or_else(|| {
                        ProtocolError::invalid(format!(
                            "media for track {name:?}, which the start did not announce"
                        ))
                    })?
            }
            None if start.tracks.len() == 1 => 0,
            None => {
                return Err(ProtocolError::invalid(
                    "media without a track on a two-track stream",
                ));
            }
        };
        let payload = decode_payload(media.get("payload"), &start.format)?;
        Ok(MediaFrame {
            track,
            timestamp_ms: num(media.get("timestamp"), "media.timestamp")?,
            chunk: num(media.get("chunk"), "media.chunk")?,
            payload,
        })
    }
}

fn fmt(codec: Codec, rate: u64, channels: u64) -> Result<MediaFormat, ProtocolError> {
    if !(8000..=48000).contains(&rate) {
        return Err(ProtocolError::unsupported(format!(
            "sample rate {rate} Hz (supported: 8000 to 48000)"
        )));
    }
    if !(1..=2).contains(&channels) {
        return Err(ProtocolError::unsupported(format!(
            "{channels} channels (supported: 1 or 2)"
        )));
    }
    Ok(MediaFormat {
        codec,
        sample_rate: rate as u32,
        channels: channels as u16,
    })
}

fn limit_id(id: &str) -> Result<String, ProtocolError> {
    if id.len() > 128 || id.chars().any(|c| c.is_control()) {
        return Err(ProtocolError::invalid(
            "call id is longer than 128 characters or has control characters",
        ));
    }
    Ok(id.to_string())
}

impl Adapter for JsonStream {
    fn on_text(&mut self, text: &str) -> Result<IngestEvent, ProtocolError> {
        let m = parse_json(text)?;
        let event = m
            .get("event")
            .and_then(Value::as_str)
            .ok_or_else(|| ProtocolError::invalid("message without an \"event\" field"))?;
        if self.stopped && event != "mark" {
            return Err(ProtocolError::policy(format!("{event:?} after stop")));
        }
        match event {
            "connected" => Ok(IngestEvent::Ignored),
            "start" => {
                if self.started.is_some() {
                    return Err(ProtocolError::policy("a second start on the same stream"));
                }
                let start = self.start(&m)?;
                self.started = Some(start.clone());
                Ok(IngestEvent::Start(start))
            }
            "media" => {
                let start = self
                    .started
                    .as_ref()
                    .ok_or_else(|| ProtocolError::policy("media before start"))?;
                Ok(IngestEvent::Media(self.media(&m, start)?))
            }
            "dtmf" => Ok(IngestEvent::Dtmf),
            "mark" => Ok(IngestEvent::Mark),
            "error" if self.dialect == Dialect::Telnyx => Ok(IngestEvent::Ignored),
            "stop" => {
                self.stopped = true;
                Ok(IngestEvent::Stop)
            }
            other => Err(ProtocolError::invalid(format!(
                "unknown {} event {:?}",
                self.name(),
                truncate(other)
            ))),
        }
    }

    fn on_binary(&mut self, _data: &[u8]) -> Result<IngestEvent, ProtocolError> {
        Err(ProtocolError::unsupported(format!(
            "{} streams send JSON text messages, not binary",
            self.name()
        )))
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

/// Vonage: a `websocket:connected` text message with the content type (and the NCCO's custom
/// headers), then binary 16-bit little-endian PCM on one track; the socket closing ends the call.
#[derive(Default)]
struct Vonage {
    format: Option<MediaFormat>,
}

impl Adapter for Vonage {
    fn on_text(&mut self, text: &str) -> Result<IngestEvent, ProtocolError> {
        let m = parse_json(text)?;
        let event = m
            .get("event")
            .and_then(Value::as_str)
            .ok_or_else(|| ProtocolError::invalid("message without an \"event\" field"))?;
        match event {
            "websocket:connected" => {
                if self.format.is_some() {
                    return Err(ProtocolError::policy("a second websocket:connected"));
                }
                let ct = m
                    .get("content-type")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        ProtocolError::invalid("websocket:connected without content-type")
                    })?;
                let format = parse_l16_content_type(ct)?;
                let external_id =
                    text_field(&m, &["call_id", "uuid", "call_uuid", "conversation_uuid"])
                        .map(limit_id)
                        .transpose()?
                        .unwrap_or_else(|| crate::sys::random_id("vonage-"));
                let speaker = match text_field(&m, &["speaker"]) {
                    Some(s @ ("caller" | "agent")) => s.to_string(),
                    Some(other) => {
                        return Err(ProtocolError::invalid(format!(
                            "speaker header must be caller or agent, got {:?}",
                            truncate(other)
                        )));
                    }
                    None => "unknown".into(),
                };
                self.format = Some(format);
                Ok(IngestEvent::Start(CallStart {
                    external_id,
                    tracks: vec![TrackSpec {
                        name: "leg".into(),
                        speaker,
                    }],
                    format,
                    token: text_field(&m, &["token"]).map(SecretString::from),
                    echo: text_field(&m, &["transcripts"])
                        .is_some_and(|v| matches!(v, "on" | "true" | "1" | "yes")),
                }))
            }
            "websocket:cleared" | "websocket:notify" | "websocket:dtmf" => Ok(IngestEvent::Ignored),
            other => Err(ProtocolError::invalid(format!(
                "unknown Vonage event {:?}",
                truncate(other)
            ))),
        }
    }

    fn on_binary(&mut self, data: &[u8]) -> Result<IngestEvent, ProtocolError> {
        let format = self
            .format
            .ok_or_else(|| ProtocolError::policy("audio before websocket:connected"))?;
        check_payload_size(data.len(), &format)?;
        Ok(IngestEvent::Media(MediaFrame {
            track: 0,
            timestamp_ms: None,
            chunk: None,
            payload: data.to_vec(),
        }))
    }
}

fn parse_l16_content_type(ct: &str) -> Result<MediaFormat, ProtocolError> {
    let mut parts = ct.split(';').map(str::trim);
    let kind = parts.next().unwrap_or("");
    if !kind.eq_ignore_ascii_case("audio/l16") {
        return Err(ProtocolError::unsupported(format!(
            "content-type {:?}: only audio/l16 is supported",
            truncate(ct)
        )));
    }
    let mut rate = None;
    for p in parts {
        if let Some(v) = p.strip_prefix("rate=") {
            rate = Some(v.parse::<u64>().map_err(|_| {
                ProtocolError::invalid(format!("bad rate in content-type {:?}", truncate(ct)))
            })?);
        }
    }
    let rate = rate.ok_or_else(|| ProtocolError::invalid("content-type without rate="))?;
    if rate != 8000 && rate != 16000 {
        return Err(ProtocolError::unsupported(format!(
            "Vonage rate {rate}: 8000 or 16000"
        )));
    }
    fmt(Codec::L16Le, rate, 1)
}

/// The native protocol: `{"event":"start", "call_id", "encoding", "sample_rate", "channels",
/// "speakers", "metadata", "token"}`, binary frames of interleaved samples, `{"event":"stop"}`.
#[derive(Default)]
struct Native {
    start: Option<CallStart>,
    stopped: bool,
    /// Interleaved frames are split into one payload per channel; all but the first wait here.
    pending: Vec<MediaFrame>,
}

impl Native {
    fn start(m: &Map<String, Value>) -> Result<CallStart, ProtocolError> {
        let external_id = text_field(m, &["call_id"])
            .ok_or_else(|| ProtocolError::invalid("start without call_id"))?;
        let codec = match m.get("encoding").and_then(Value::as_str) {
            Some("pcm_s16le") => Codec::L16Le,
            Some("mulaw") => Codec::Mulaw,
            Some("alaw") => Codec::Alaw,
            Some(other) => {
                return Err(ProtocolError::unsupported(format!(
                    "encoding {:?} (use pcm_s16le, mulaw or alaw)",
                    truncate(other)
                )));
            }
            None => return Err(ProtocolError::invalid("start without encoding")),
        };
        let rate = num(m.get("sample_rate"), "sample_rate")?
            .ok_or_else(|| ProtocolError::invalid("start without sample_rate"))?;
        let channels = num(m.get("channels"), "channels")?.unwrap_or(1);
        let format = fmt(codec, rate, channels)?;
        let speakers: Vec<String> = match m.get("speakers") {
            None | Some(Value::Null) => match channels {
                1 => vec!["unknown".into()],
                _ => vec!["caller".into(), "agent".into()],
            },
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<_>>()
                .ok_or_else(|| ProtocolError::invalid("speakers must be strings"))?,
            Some(_) => {
                return Err(ProtocolError::invalid(
                    "speakers must be an array, one label per channel",
                ));
            }
        };
        if speakers.len() != channels as usize {
            return Err(ProtocolError::invalid(format!(
                "{} speaker labels for {channels} channels",
                speakers.len()
            )));
        }
        // Labels are stored in clear beside the sealed text: a role from a fixed set, never a
        // name a client might put there.
        for s in &speakers {
            if !SPEAKER_LABELS.contains(&s.as_str()) {
                return Err(ProtocolError::invalid(format!(
                    "speaker label {:?} must be one of {}",
                    truncate(s),
                    SPEAKER_LABELS.join(", ")
                )));
            }
        }
        if speakers.len() == 2 && speakers[0] == speakers[1] {
            return Err(ProtocolError::invalid(
                "the two channels need different speaker labels",
            ));
        }
        if let Some(md) = m.get("metadata")
            && !md.is_object()
        {
            return Err(ProtocolError::invalid("metadata must be an object"));
        }
        let tracks = speakers
            .into_iter()
            .enumerate()
            .map(|(i, s)| TrackSpec {
                name: format!("ch{i}"),
                speaker: s,
            })
            .collect();
        let token = text_field(m, &["token"]).map(SecretString::from);
        // The client sends interleaved channels; each track then carries one.
        Ok(CallStart {
            external_id: limit_id(external_id)?,
            tracks,
            format,
            token,
            echo: true,
        })
    }
}

impl Adapter for Native {
    fn on_text(&mut self, text: &str) -> Result<IngestEvent, ProtocolError> {
        let m = parse_json(text)?;
        let event = m
            .get("event")
            .and_then(Value::as_str)
            .ok_or_else(|| ProtocolError::invalid("message without an \"event\" field"))?;
        if self.stopped {
            return Err(ProtocolError::policy(format!("{event:?} after stop")));
        }
        match event {
            "start" => {
                if self.start.is_some() {
                    return Err(ProtocolError::policy("a second start on the same stream"));
                }
                let start = Self::start(&m)?;
                self.start = Some(start.clone());
                Ok(IngestEvent::Start(start))
            }
            "stop" => {
                if self.start.is_none() {
                    return Err(ProtocolError::policy("stop before start"));
                }
                self.stopped = true;
                Ok(IngestEvent::Stop)
            }
            other => Err(ProtocolError::invalid(format!(
                "unknown event {:?} (expected start or stop)",
                truncate(other)
            ))),
        }
    }

    fn on_binary(&mut self, data: &[u8]) -> Result<IngestEvent, ProtocolError> {
        let start = self
            .start
            .as_ref()
            .ok_or_else(|| ProtocolError::policy("audio before start"))?;
        if self.stopped {
            return Err(ProtocolError::policy("audio after stop"));
        }
        let format = start.format;
        check_payload_size(data.len(), &format)?;
        if format.channels == 1 {
            return Ok(IngestEvent::Media(MediaFrame {
                track: 0,
                timestamp_ms: None,
                chunk: None,
                payload: data.to_vec(),
            }));
        }
        let bps = format.codec.bytes_per_sample();
        let mut chans = vec![Vec::with_capacity(data.len() / 2); format.channels as usize];
        for (i, sample) in data.chunks_exact(bps).enumerate() {
            chans[i % format.channels as usize].extend_from_slice(sample);
        }
        let mut frames: Vec<MediaFrame> = chans
            .into_iter()
            .enumerate()
            .map(|(track, payload)| MediaFrame {
                track,
                timestamp_ms: None,
                chunk: None,
                payload,
            })
            .collect();
        let first = frames.remove(0);
        frames.reverse();
        self.pending = frames;
        Ok(IngestEvent::Media(first))
    }

    fn next_pending(&mut self) -> Option<IngestEvent> {
        self.pending.pop().map(IngestEvent::Media)
    }

    fn echoes_transcript(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests;

//! The project's own streaming client: replays a recorded call to `callscribe serve` over a real
//! WebSocket, in real time (or faster), and hands back the live transcript events as they
//! arrive. `callscribe replay` prints them; tests and the load generator use it too.
//!
//! Protocols: `native` (16 kHz L16, events come back on the same socket) and `twilio` (8 kHz
//! µ-law JSON exactly as Twilio sends it; events through `/v1/calls/{id}/events` with an agent
//! key). Loopback addresses only.

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::audio::{ChannelMode, LoadedTracks, load_tracks};
use crate::audio::{StreamResampler, g711};
use crate::ingest::Protocol;
use crate::secret::SecretString;

/// 20 ms frames, as telephony providers send them.
const FRAME_MS: u64 = 20;

#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// `ws://127.0.0.1:PORT` (the server's base URL).
    pub url: String,
    pub protocol: Protocol,
    /// 1 = real time, 2 = twice as fast, 0 = as fast as possible.
    pub speed: f32,
    pub ingest_key: SecretString,
    /// Needed with the Twilio protocol, to follow the call's events.
    pub agent_key: Option<SecretString>,
    /// The provider's call id to send.
    pub call_id: String,
    pub channels: ChannelMode,
    /// How long to wait for the call's end after stop.
    pub linger: Duration,
}

/// What happened, for the caller's report.
#[derive(Debug, Clone, Default)]
pub struct ReplaySummary {
    pub audio_s: f64,
    pub call_id: Option<String>,
    pub finals: usize,
    pub interims: usize,
    pub ended: bool,
    /// The close code and reason the ingest socket got, if it was closed by the server.
    pub close: Option<(u16, String)>,
    /// When the first frame was sent (frame k is due `k × 20 ms / speed` later).
    pub started: Option<std::time::Instant>,
}

/// Refuses anything but loopback hosts.
pub fn require_loopback(url: &str) -> anyhow::Result<()> {
    let rest = url
        .strip_prefix("ws://")
        .with_context(|| format!("{url}: only ws:// URLs (loopback) are supported"))?;
    let hostport = rest.split('/').next().unwrap_or("");
    let host = if let Some(h) = hostport.strip_prefix('[') {
        h.split(']').next().unwrap_or("")
    } else {
        hostport.rsplit_once(':').map_or(hostport, |(h, _)| h)
    };
    let ok = host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !ok {
        bail!(
            "{url}: refusing a non-loopback host ({host}); replay and load tests talk to 127.0.0.1 / ::1 only"
        );
    }
    Ok(())
}

/// 16 kHz tracks as frames per track: 16 kHz L16 (native) or 8 kHz µ-law (Twilio).
pub fn frames(tracks: &[Vec<f32>], protocol: Protocol) -> anyhow::Result<Vec<Vec<Vec<u8>>>> {
    let mut out = Vec::new();
    for t in tracks {
        let frames: Vec<Vec<u8>> = match protocol {
            Protocol::Twilio => {
                let mut r = StreamResampler::between(16_000, 8_000, 4096)?;
                let mut s8 = Vec::new();
                r.push(t, &mut s8)?;
                r.finish(&mut s8)?;
                s8.chunks(160)
                    .map(|c| {
                        let mut f: Vec<u8> = c.iter().map(|&x| g711::encode_mulaw(x)).collect();
                        f.resize(160, 0xff);
                        f
                    })
                    .collect()
            }
            _ => t
                .chunks(320)
                .map(|c| {
                    c.iter()
                        .flat_map(|&x| ((x.clamp(-1.0, 1.0) * 32767.0) as i16).to_le_bytes())
                        .collect()
                })
                .collect(),
        };
        out.push(frames);
    }
    Ok(out)
}

fn request(
    url: &str,
    key: Option<&str>,
) -> anyhow::Result<tokio_tungstenite::tungstenite::handshake::client::Request> {
    let mut req = url
        .into_client_request()
        .with_context(|| format!("bad URL {url}"))?;
    if let Some(k) = key {
        req.headers_mut().insert(
            "authorization",
            format!("Bearer {k}")
                .parse()
                .context("the key is not a valid header value")?,
        );
    }
    Ok(req)
}

/// Replays `path`; calls `on_event` with every event the server sends about the call.
pub async fn replay(
    path: &Path,
    opts: &ReplayOptions,
    on_event: impl FnMut(&Value),
) -> anyhow::Result<ReplaySummary> {
    let LoadedTracks {
        tracks,
        speakers,
        audio_s,
    } = load_tracks(path, opts.channels)
        .with_context(|| format!("cannot decode {}", path.display()))?;
    let frames = frames(&tracks, opts.protocol)?;
    replay_frames(frames, speakers, audio_s, opts, on_event).await
}

/// Streams prepared frames (see [`frames`]) as one call; `summary.started` is when the first
/// frame was due.
pub async fn replay_frames(
    tracks: Vec<Vec<Vec<u8>>>,
    speakers: Vec<String>,
    audio_s: f64,
    opts: &ReplayOptions,
    mut on_event: impl FnMut(&Value),
) -> anyhow::Result<ReplaySummary> {
    require_loopback(&opts.url)?;
    let base = opts.url.trim_end_matches('/');
    let n_frames = tracks.iter().map(Vec::len).max().unwrap_or(0);
    let mut summary = ReplaySummary {
        audio_s,
        ..Default::default()
    };
    match opts.protocol {
        Protocol::Native => {
            let (ws, _) = tokio_tungstenite::connect_async(request(
                &format!("{base}{}", Protocol::Native.path()),
                Some(opts.ingest_key.expose()),
            )?)
            .await
            .with_context(|| format!("cannot connect to {base}"))?;
            let (mut tx, mut rx) = ws.split();
            let start = json!({"event": "start", "call_id": opts.call_id, "encoding": "pcm_s16le", "sample_rate": 16000,
                "channels": tracks.len(), "speakers": speakers});
            tx.send(Message::Text(start.to_string().into())).await?;
            let t0 = Instant::now();
            summary.started = Some(t0.into_std());
            let sender = async move {
                for k in 0..n_frames {
                    pace(t0, k, opts.speed).await;
                    let mut frame = Vec::with_capacity(640 * tracks.len());
                    for i in 0..320 {
                        for t in &tracks {
                            let f = t.get(k).map(Vec::as_slice).unwrap_or(&[]);
                            frame.extend_from_slice(f.get(i * 2..i * 2 + 2).unwrap_or(&[0, 0]));
                        }
                    }
                    if tx.send(Message::Binary(frame.into())).await.is_err() {
                        return tx;
                    }
                }
                let _ = tx
                    .send(Message::Text(json!({"event": "stop"}).to_string().into()))
                    .await;
                tx
            };
            let receiver = async {
                while let Some(msg) = rx.next().await {
                    match msg {
                        Ok(Message::Text(t)) => {
                            if let Ok(v) = serde_json::from_str::<Value>(t.as_str()) {
                                count(&v, &mut summary);
                                on_event(&v);
                                if summary.ended {
                                    break;
                                }
                            }
                        }
                        Ok(Message::Close(Some(f))) => {
                            summary.close = Some((f.code.into(), f.reason.to_string()));
                            break;
                        }
                        Ok(Message::Close(None)) | Err(_) => break,
                        _ => {}
                    }
                }
            };
            let linger = opts.linger;
            let (mut tx, _) = tokio::join!(sender, async {
                // keep reading until the call ends (bounded by the audio length plus linger)
                let limit = Duration::from_secs_f64(audio_s / opts.speed.max(0.01) as f64) + linger;
                let _ = tokio::time::timeout(limit, receiver).await;
            });
            let _ = tx.close().await;
        }
        Protocol::Twilio => {
            let agent_key = opts
                .agent_key
                .as_ref()
                .map(SecretString::expose)
                .context("the twilio protocol needs --agent-key to follow the call's events")?;
            let (ws, _) = tokio_tungstenite::connect_async(request(
                &format!("{base}{}", Protocol::Twilio.path()),
                None,
            )?)
            .await
            .with_context(|| format!("cannot connect to {base}"))?;
            let (mut tx, mut rx) = ws.split();
            let names: Vec<&str> = if tracks.len() == 2 {
                vec!["inbound", "outbound"]
            } else {
                vec!["inbound"]
            };
            let stream_sid = format!("MZ{}", &crate::sys::random_id("")[..24]);
            tx.send(Message::Text(
                json!({"event": "connected", "protocol": "Call", "version": "1.0.0"})
                    .to_string()
                    .into(),
            ))
            .await?;
            let start = json!({"event": "start", "sequenceNumber": "1", "streamSid": stream_sid, "start": {
                "accountSid": "AC0", "streamSid": stream_sid, "callSid": opts.call_id, "tracks": names,
                "customParameters": {"token": opts.ingest_key.expose()},
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}});
            tx.send(Message::Text(start.to_string().into())).await?;
            let events_url = format!("{base}/v1/calls/{}/events", opts.call_id);
            let t0 = Instant::now();
            summary.started = Some(t0.into_std());
            let sender = async move {
                let mut seq = 1u64;
                for k in 0..n_frames {
                    pace(t0, k, opts.speed).await;
                    for (t, name) in tracks.iter().zip(&names) {
                        let Some(f) = t.get(k) else { continue };
                        seq += 1;
                        let m = json!({"event": "media", "sequenceNumber": seq.to_string(), "streamSid": stream_sid, "media": {
                            "track": name, "chunk": (k + 1).to_string(), "timestamp": (k as u64 * FRAME_MS).to_string(),
                            "payload": base64::engine::general_purpose::STANDARD.encode(f)}});
                        if tx.send(Message::Text(m.to_string().into())).await.is_err() {
                            return;
                        }
                    }
                }
                seq += 1;
                let stop = json!({"event": "stop", "sequenceNumber": seq.to_string(), "streamSid": stream_sid, "stop": {"accountSid": "AC0", "callSid": opts.call_id}});
                let _ = tx.send(Message::Text(stop.to_string().into())).await;
                let _ = tx.close().await;
            };
            let ingest_close = async {
                while let Some(msg) = rx.next().await {
                    if let Ok(Message::Close(f)) = msg {
                        return f.map(|f| (u16::from(f.code), f.reason.to_string()));
                    }
                    if msg.is_err() {
                        break;
                    }
                }
                None
            };
            let follower = async {
                // the call exists once the server has processed start: retry briefly
                let mut events = None;
                for _ in 0..50 {
                    match tokio_tungstenite::connect_async(request(&events_url, Some(agent_key))?)
                        .await
                    {
                        Ok((ws, _)) => {
                            events = Some(ws);
                            break;
                        }
                        Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                    }
                }
                let mut events = events
                    .context("cannot subscribe to the call's events (is the agent key right?)")?;
                let limit = Duration::from_secs_f64(audio_s / opts.speed.max(0.01) as f64)
                    + opts.linger
                    + Duration::from_secs(5);
                let _ = tokio::time::timeout(limit, async {
                    while let Some(Ok(msg)) = events.next().await {
                        if let Message::Text(t) = msg
                            && let Ok(v) = serde_json::from_str::<Value>(t.as_str())
                        {
                            count(&v, &mut summary);
                            on_event(&v);
                            if summary.ended {
                                break;
                            }
                        }
                    }
                })
                .await;
                anyhow::Ok(())
            };
            let (_, close, followed) = tokio::join!(sender, ingest_close, follower);
            summary.close = close;
            // a refused or broken stream is the answer, not the subscription it prevented
            if summary
                .close
                .as_ref()
                .is_some_and(|(c, _)| *c != crate::ingest::close::NORMAL)
            {
                return Ok(summary);
            }
            followed?;
        }
        other => bail!(
            "replay speaks the native and twilio protocols, not {}",
            other.as_str()
        ),
    }
    Ok(summary)
}

fn count(v: &Value, s: &mut ReplaySummary) {
    match v.get("type").and_then(Value::as_str) {
        Some("call_started") => {
            s.call_id = v.get("call_id").and_then(Value::as_str).map(str::to_string)
        }
        Some("transcript") if v.get("is_final") == Some(&Value::Bool(true)) => s.finals += 1,
        Some("transcript") => s.interims += 1,
        Some("call_ended") => s.ended = true,
        _ => {}
    }
}

async fn pace(t0: Instant, k: usize, speed: f32) {
    if speed > 0.0 {
        let at = t0 + Duration::from_secs_f64(k as f64 * FRAME_MS as f64 / 1000.0 / speed as f64);
        tokio::time::sleep_until(at).await;
    } else if k.is_multiple_of(50) {
        tokio::task::yield_now().await;
    }
}

/// `[mm:ss.ss → mm:ss.ss] speaker: text` for a final transcript event.
pub fn format_final(v: &Value) -> Option<String> {
    if v.get("type")?.as_str()? != "transcript" || !v.get("is_final")?.as_bool()? {
        return None;
    }
    let ts = |ms: i64| format!("{:02}:{:05.2}", ms / 60_000, (ms % 60_000) as f64 / 1000.0);
    let text = v.get("text")?.as_str()?;
    if text.is_empty() {
        return None;
    }
    Some(format!(
        "[{} → {}] {}: {}",
        ts(v.get("start_ms")?.as_i64()?),
        ts(v.get("end_ms")?.as_i64()?),
        v.get("speaker")?.as_str()?,
        text
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_urls() {
        for ok in [
            "ws://127.0.0.1:8080",
            "ws://[::1]:9/x",
            "ws://localhost:1",
            "ws://127.3.2.1",
        ] {
            assert!(require_loopback(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ws://10.0.0.1:80",
            "ws://example.com",
            "http://127.0.0.1",
            "wss://127.0.0.1",
            "ws://8.8.8.8:1",
        ] {
            assert!(require_loopback(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn finals_print_as_timed_lines() {
        let v = json!({"type": "transcript", "is_final": true, "start_ms": 65_430, "end_ms": 70_000, "speaker": "agent", "text": "Hello [NAME]."});
        assert_eq!(
            format_final(&v).unwrap(),
            "[01:05.43 → 01:10.00] agent: Hello [NAME]."
        );
        assert!(format_final(&json!({"type": "transcript", "is_final": false})).is_none());
    }
}

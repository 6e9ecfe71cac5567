//! Live calls end to end: a real server (real model, SQLite store, loopback WebSockets) driven
//! by real WebSocket clients speaking each provider's protocol.

mod common;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use base64::Engine as _;
use callscribe::asr::{DecodeOptions, PoolLayout};
use callscribe::live::{Engine, LiveConfig};
use callscribe::store::{Actor, CallStatus, Role, Store, StoreConfig};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

struct Server {
    url: String,
    engine: Arc<Engine>,
    rt: tokio::runtime::Handle,
    shutdown: std::sync::Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
    done: std::sync::Mutex<Option<std::sync::mpsc::Receiver<()>>>,
}

fn test_config() -> LiveConfig {
    LiveConfig {
        idle_timeout_s: 3,
        max_message_bytes: 64 * 1024,
        redaction_hold_ms: 500,
        ..LiveConfig::default()
    }
}

/// Starts a server on its own runtime thread (tests run on their own runtimes).
fn start_server(workers: usize, config: LiveConfig) -> Server {
    let (tx, rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let dir = tempfile::tempdir().unwrap().keep();
            let store = Store::open(&StoreConfig {
                master_key: None,
                ..StoreConfig::new(&dir, None)
            })
            .await
            .unwrap();
            let redactor = callscribe::cli::load_redactor(None).unwrap();
            let engine = Engine::new(
                common::model(),
                PoolLayout {
                    workers,
                    threads: 1,
                },
                DecodeOptions::default(),
                store,
                redactor,
                config,
            )
            .unwrap();
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("ws://{}", listener.local_addr().unwrap());
            let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
            tx.send((
                url,
                engine.clone(),
                tokio::runtime::Handle::current(),
                stop_tx,
            ))
            .unwrap();
            callscribe::api::serve(
                engine,
                listener,
                callscribe::api::ServeOptions::default(),
                async move {
                    let _ = stop_rx.await;
                },
            )
            .await
            .unwrap();
            let _ = done_tx.send(());
            // keep the runtime (and the store's connections) alive for the test's checks
            std::future::pending::<()>().await;
        });
    });
    let (url, engine, rt, stop) = rx.recv().unwrap();
    Server {
        url,
        engine,
        rt,
        shutdown: std::sync::Mutex::new(Some(stop)),
        done: std::sync::Mutex::new(Some(done_rx)),
    }
}

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| start_server(2, test_config()))
}

/// Runs `f` on the server's runtime (the store's connections live there).
async fn on_server<T: Send + 'static>(
    srv: &Server,
    f: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    srv.rt.spawn(f).await.unwrap()
}

struct Tenant {
    id: String,
    ingest: String,
    agent: String,
}

async fn tenant(srv: &Server, name: &str) -> Tenant {
    let engine = srv.engine.clone();
    let name = format!("{name}-{}", &callscribe::sys::random_id("")[..6]);
    on_server(srv, async move {
        let actor = Actor::operator();
        let t = engine
            .store
            .create_tenant(&actor, &name, None)
            .await
            .unwrap();
        let ingest = engine
            .store
            .create_api_key(&actor, &t.id, Role::Ingest, None)
            .await
            .unwrap()
            .secret
            .to_string();
        let agent = engine
            .store
            .create_api_key(&actor, &t.id, Role::Agent, None)
            .await
            .unwrap()
            .secret
            .to_string();
        Tenant {
            id: t.id,
            ingest,
            agent,
        }
    })
    .await
}

async fn stored(
    srv: &Server,
    tenant: &str,
    call: &str,
) -> (
    callscribe::store::CallInfo,
    callscribe::transcript::Transcript,
) {
    let engine = srv.engine.clone();
    let (tenant, call) = (tenant.to_string(), call.to_string());
    on_server(srv, async move {
        let id = engine.store.find_call(&tenant, &call).await.unwrap();
        engine
            .store
            .transcript(&Actor::operator(), &tenant, &id)
            .await
            .unwrap()
    })
    .await
}

async fn connect(srv: &Server, path: &str, bearer: Option<&str>) -> Result<Ws, WsError> {
    let mut req = format!("{}{path}", srv.url).into_client_request().unwrap();
    if let Some(k) = bearer {
        req.headers_mut()
            .insert("authorization", format!("Bearer {k}").parse().unwrap());
    }
    tokio_tungstenite::connect_async(req)
        .await
        .map(|(ws, _)| ws)
}

fn text(v: Value) -> Message {
    Message::Text(v.to_string().into())
}

/// Reads until the server closes; returns the JSON messages and the close frame.
async fn read_to_close(ws: &mut Ws, limit: Duration) -> (Vec<Value>, Option<CloseFrame>) {
    let mut got = Vec::new();
    let r = tokio::time::timeout(limit, async {
        while let Some(msg) = ws.next().await {
            match msg {
                Ok(Message::Text(t)) => got.push(serde_json::from_str(t.as_str()).unwrap()),
                Ok(Message::Close(f)) => return f,
                Ok(_) => {}
                Err(_) => return None,
            }
        }
        None
    })
    .await;
    (got, r.expect("the server closes within the limit"))
}

/// The sample call: 8 kHz 16-bit stereo, channel 0 caller, channel 1 agent.
fn sample_call() -> (Vec<i16>, Vec<i16>) {
    let mut r = hound::WavReader::open(common::repo().join("samples/sample-call.wav")).unwrap();
    let s: Vec<i16> = r.samples::<i16>().map(Result::unwrap).collect();
    (
        s.iter().step_by(2).copied().collect(),
        s.iter().skip(1).step_by(2).copied().collect(),
    )
}

/// The 5 s speech fixture as 8 kHz samples.
fn speech_8k() -> Vec<i16> {
    let tracks = callscribe::audio::load_tracks(
        &common::fixture("speech.16k.flac"),
        callscribe::audio::ChannelMode::Mix,
    )
    .unwrap()
    .tracks;
    let mut r = callscribe::audio::StreamResampler::between(16000, 8000, 4096).unwrap();
    let mut out = Vec::new();
    r.push(&tracks[0], &mut out).unwrap();
    r.finish(&mut out).unwrap();
    out.iter()
        .map(|&x| (x.clamp(-1.0, 1.0) * 32767.0) as i16)
        .collect()
}

fn mulaw(samples: &[i16]) -> Vec<u8> {
    samples
        .iter()
        .map(|&s| callscribe::audio::g711::encode_mulaw(s as f32 / 32768.0))
        .collect()
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn twilio_start(call_sid: &str, tracks: &[&str], token: &str) -> Value {
    json!({"event": "start", "sequenceNumber": "1", "streamSid": "MZ1", "start": {"accountSid": "AC1", "streamSid": "MZ1",
        "callSid": call_sid, "tracks": tracks, "customParameters": {"token": token},
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}})
}

fn twilio_media(track: &str, k: usize, payload: &[u8]) -> Value {
    json!({"event": "media", "sequenceNumber": (k + 2).to_string(), "streamSid": "MZ1",
        "media": {"track": track, "chunk": (k + 1).to_string(), "timestamp": (k * 20).to_string(), "payload": b64(payload)}})
}

/// Twilio media messages for µ-law tracks, in order (both tracks interleaved per 20 ms).
fn twilio_frames(tracks: &[(&str, Vec<u8>)]) -> Vec<Value> {
    let n = tracks
        .iter()
        .map(|(_, a)| a.len().div_ceil(160))
        .max()
        .unwrap();
    let mut out = Vec::new();
    for k in 0..n {
        for (name, audio) in tracks {
            let mut f = audio
                .get(k * 160..((k + 1) * 160).min(audio.len()))
                .unwrap_or(&[])
                .to_vec();
            f.resize(160, 0xff);
            out.push(twilio_media(name, k, &f));
        }
    }
    out
}

fn words(text: &str) -> Vec<String> {
    common::normalise(text)
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// Share of the expected words found in the transcript (order-free, bag of words).
fn recall(expected: &str, got: &str) -> f32 {
    let got = words(got);
    let exp = words(expected);
    exp.iter().filter(|w| got.contains(w)).count() as f32 / exp.len().max(1) as f32
}

fn speaker_text(t: &callscribe::transcript::Transcript, speaker: &str) -> String {
    t.segments
        .iter()
        .filter(|s| s.speaker == speaker)
        .map(|s| s.text.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twilio_call_with_both_tracks_is_transcribed_labelled_redacted_and_stored() {
    let srv = server();
    let t = tenant(srv, "twilio").await;
    let mut live = connect(srv, "/v1/calls/live", Some(&t.agent))
        .await
        .unwrap();
    let (caller, agent) = sample_call();
    let mut ws = connect(srv, "/v1/ingest/twilio", None).await.unwrap();
    ws.send(text(
        json!({"event": "connected", "protocol": "Call", "version": "1.0.0"}),
    ))
    .await
    .unwrap();
    ws.send(text(twilio_start(
        "CAboth",
        &["inbound", "outbound"],
        &t.ingest,
    )))
    .await
    .unwrap();
    for m in twilio_frames(&[("inbound", mulaw(&caller)), ("outbound", mulaw(&agent))]) {
        ws.send(text(m)).await.unwrap();
    }
    ws.send(text(json!({"event": "stop", "sequenceNumber": "9999", "streamSid": "MZ1", "stop": {"accountSid": "AC1", "callSid": "CAboth"}}))).await.unwrap();
    let (_, close) = read_to_close(&mut ws, Duration::from_secs(120)).await;
    assert_eq!(close.map(|c| u16::from(c.code)), Some(1000));

    let (info, transcript) = stored(srv, &t.id, "CAboth").await;
    assert_eq!(info.status, CallStatus::Complete);
    assert_eq!(info.provider, "twilio");
    assert_eq!(info.tracks, ["caller", "agent"]);
    let script = std::fs::read_to_string(common::repo().join("samples/sample-call.txt")).unwrap();
    let said = |who: &str| {
        script
            .lines()
            .filter(|l| l.contains(&format!("{who}:")))
            .map(|l| l.split_once(':').unwrap().1)
            .collect::<Vec<_>>()
            .join(" ")
    };
    let (caller_text, agent_text) = (
        speaker_text(&transcript, "caller"),
        speaker_text(&transcript, "agent"),
    );
    assert!(
        recall(&said("agent"), &agent_text) > 0.6,
        "agent track: {agent_text}"
    );
    assert!(
        recall(
            "I want to upgrade my phone plan fine please call me back",
            &caller_text
        ) > 0.7,
        "caller track: {caller_text}"
    );
    // speakers are not swapped
    assert!(!common::normalise(&caller_text).contains("thank you for calling"));
    assert!(!common::normalise(&agent_text).contains("upgrade my phone plan"));
    // PII never reaches the store or subscribers
    let all = common::normalise(&format!("{caller_text} {agent_text}"));
    for leak in ["emily", "carter", "917", "426", "8350", "david"] {
        assert!(!all.contains(leak), "{leak} survived: {all}");
    }
    assert!(
        all.contains("phone") || caller_text.contains("[PHONE]"),
        "{caller_text}"
    );
    // the live subscription saw the start, every stored final and the end, in order
    let (events, _) = read_until(
        &mut live,
        |e| e["type"] == "call_ended",
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(events[0]["type"], "call_started");
    let finals: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "transcript" && e["is_final"] == true && e["text"] != "")
        .collect();
    assert_eq!(finals.len(), transcript.segments.len());
    for (i, f) in finals.iter().enumerate() {
        assert_eq!(f["seq"], i as u64);
        assert_eq!(f["text"], transcript.segments[i].text);
        assert!(f["speaker"] == "caller" || f["speaker"] == "agent");
    }
}

/// Reads events until `stop` matches one (inclusive) or the limit passes.
async fn read_until(
    ws: &mut Ws,
    stop: impl Fn(&Value) -> bool,
    limit: Duration,
) -> (Vec<Value>, bool) {
    let mut got = Vec::new();
    let done = tokio::time::timeout(limit, async {
        while let Some(Ok(msg)) = ws.next().await {
            if let Message::Text(t) = msg {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                let end = stop(&v);
                got.push(v);
                if end {
                    return true;
                }
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    (got, done)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_order_and_duplicated_frames_give_the_same_transcript() {
    let srv = server();
    let t = tenant(srv, "reorder").await;
    let (caller, agent) = sample_call();
    // the first 16 s: greeting, name, number
    let n = 8000 * 16;
    let frames = twilio_frames(&[
        ("inbound", mulaw(&caller[..n])),
        ("outbound", mulaw(&agent[..n])),
    ]);
    let mut shuffled = frames.clone();
    // swap neighbours within blocks of 6 messages (3 frames per track), duplicate some
    for block in shuffled.chunks_mut(6) {
        block.reverse();
    }
    let mut with_dups = Vec::new();
    for (i, m) in shuffled.into_iter().enumerate() {
        if i % 37 == 0 {
            with_dups.push(m.clone());
        }
        with_dups.push(m);
    }
    for (sid, msgs) in [("CAorder", frames), ("CAshuffle", with_dups)] {
        let mut ws = connect(srv, "/v1/ingest/twilio", None).await.unwrap();
        ws.send(text(twilio_start(sid, &["inbound", "outbound"], &t.ingest)))
            .await
            .unwrap();
        for m in msgs {
            ws.send(text(m)).await.unwrap();
        }
        ws.send(text(json!({"event": "stop"}))).await.unwrap();
        let (_, close) = read_to_close(&mut ws, Duration::from_secs(120)).await;
        assert_eq!(close.map(|c| u16::from(c.code)), Some(1000));
    }
    let (_, a) = stored(srv, &t.id, "CAorder").await;
    let (_, b) = stored(srv, &t.id, "CAshuffle").await;
    assert!(!a.segments.is_empty());
    // the same segments (finals of the two tracks may be emitted in a different order)
    let texts = |t: &callscribe::transcript::Transcript| {
        let mut v = t
            .segments
            .iter()
            .map(|s| {
                (
                    s.speaker.clone(),
                    s.text.clone(),
                    (s.start * 10.0).round() as i64,
                )
            })
            .collect::<Vec<_>>();
        v.sort_by_key(|x| x.2);
        v
    };
    assert_eq!(
        texts(&a),
        texts(&b),
        "reordering restores the audio exactly"
    );
}

/// Early finals (on by default) change when a final is decoded, not what it says: the same call
/// through a server that waits for the endpoint stores the same segments, and the early path
/// was taken — also with a second call (the same audio, tracks swapped) running at the same
/// time on the same worker. (Load shedding is off on both: it would make a final's context
/// depend on timing.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn early_finals_store_the_same_transcript_as_waiting_for_the_endpoint() {
    assert_eq!(LiveConfig::default().early_final_ms, 300);
    let config = |early_final_ms| LiveConfig {
        early_final_ms,
        final_shed_context_margin: 0,
        ..test_config()
    };
    let (caller, agent) = sample_call();
    let n = 8000 * 16;
    let frames = twilio_frames(&[
        ("inbound", mulaw(&caller[..n])),
        ("outbound", mulaw(&agent[..n])),
    ]);
    let swapped = twilio_frames(&[
        ("inbound", mulaw(&agent[..n])),
        ("outbound", mulaw(&caller[..n])),
    ]);
    let segments = |t: &callscribe::transcript::Transcript, swap: bool| {
        let mut v = t
            .segments
            .iter()
            .map(|s| {
                let speaker = match (swap, s.speaker.as_str()) {
                    (true, "caller") => "agent".to_string(),
                    (true, "agent") => "caller".to_string(),
                    (_, other) => other.to_string(),
                };
                (
                    speaker,
                    s.text.clone(),
                    (s.start * 100.0).round() as i64,
                    (s.end * 100.0).round() as i64,
                )
            })
            .collect::<Vec<_>>();
        v.sort_by(|a, b| (a.2, &a.0).cmp(&(b.2, &b.0)));
        v
    };
    let send = |srv: &'static Server, token: String, sid: &'static str, msgs: Vec<Value>| async move {
        let mut ws = connect(srv, "/v1/ingest/twilio", None).await.unwrap();
        ws.send(text(twilio_start(sid, &["inbound", "outbound"], &token)))
            .await
            .unwrap();
        for m in msgs {
            ws.send(text(m)).await.unwrap();
        }
        ws.send(text(json!({"event": "stop"}))).await.unwrap();
        let (_, close) = read_to_close(&mut ws, Duration::from_secs(120)).await;
        assert_eq!(close.map(|c| u16::from(c.code)), Some(1000));
    };
    // waiting for the endpoint, one call
    let off: &'static Server = Box::leak(Box::new(start_server(1, config(0))));
    let t = tenant(off, "wait").await;
    send(off, t.ingest.clone(), "CAwait", frames.clone()).await;
    let reference = segments(&stored(off, &t.id, "CAwait").await.1, false);
    assert!(reference.len() >= 3, "{reference:?}");
    assert_eq!(
        off.engine
            .stats
            .early_finals_confirmed
            .load(std::sync::atomic::Ordering::Relaxed),
        0,
        "off: no early finals"
    );
    // early finals, two calls at once
    let on: &'static Server = Box::leak(Box::new(start_server(1, config(300))));
    let t = tenant(on, "early").await;
    let a = tokio::spawn(send(on, t.ingest.clone(), "CAearly", frames));
    let b = tokio::spawn(send(on, t.ingest.clone(), "CAswapped", swapped));
    a.await.unwrap();
    b.await.unwrap();
    assert_eq!(
        segments(&stored(on, &t.id, "CAearly").await.1, false),
        reference,
        "the same segments, text and times"
    );
    assert_eq!(
        segments(&stored(on, &t.id, "CAswapped").await.1, true),
        reference,
        "the concurrent call lost nothing"
    );
    let confirmed = on
        .engine
        .stats
        .early_finals_confirmed
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        confirmed >= 4,
        "on: the finals went out early ({confirmed} confirmed)"
    );
}

const SPEECH: &str =
    "Hello, this is a short test of the call transcription service. Thank you very much.";

fn assert_speech(t: &callscribe::transcript::Transcript) {
    let all = t
        .segments
        .iter()
        .map(|s| s.text.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(recall(SPEECH, &all) > 0.7, "{all}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telnyx_l16_out_of_order_frames() {
    let srv = server();
    let t = tenant(srv, "telnyx").await;
    // Telnyx L16 is big-endian 16-bit; 16 kHz here, frames sent pairwise swapped
    let tracks = callscribe::audio::load_tracks(
        &common::fixture("speech.16k.flac"),
        callscribe::audio::ChannelMode::Mix,
    )
    .unwrap()
    .tracks;
    let pcm: Vec<u8> = tracks[0]
        .iter()
        .flat_map(|&x| ((x * 32767.0) as i16).to_be_bytes())
        .collect();
    let mut ws = connect(srv, "/v1/ingest/telnyx", Some(&t.ingest))
        .await
        .unwrap();
    ws.send(text(json!({"event": "connected", "version": "1.0.0"})))
        .await
        .unwrap();
    ws.send(text(json!({"event": "start", "sequence_number": "1", "stream_id": "s1", "start": {"call_control_id": "v3:telnyx-1",
        "media_format": {"encoding": "L16", "sample_rate": 16000, "channels": 1}}}))).await.unwrap();
    let chunks: Vec<&[u8]> = pcm.chunks(640).collect();
    let mut order: Vec<usize> = (0..chunks.len()).collect();
    for pair in order.chunks_mut(2) {
        pair.reverse();
    }
    for k in order {
        let mut c = chunks[k].to_vec();
        c.resize(640, 0);
        ws.send(text(json!({"event": "media", "sequence_number": (k + 2).to_string(), "stream_id": "s1",
            "media": {"track": "inbound", "chunk": (k + 1).to_string(), "timestamp": (k * 20).to_string(), "payload": b64(&c)}}))).await.unwrap();
    }
    ws.send(text(
        json!({"event": "stop", "sequence_number": "99999", "stream_id": "s1"}),
    ))
    .await
    .unwrap();
    let (_, close) = read_to_close(&mut ws, Duration::from_secs(60)).await;
    assert_eq!(close.map(|c| u16::from(c.code)), Some(1000));
    let (info, tr) = stored(srv, &t.id, "v3:telnyx-1").await;
    assert_eq!(info.provider, "telnyx");
    assert!(
        tr.segments.iter().all(|s| s.speaker == "caller"),
        "inbound is the caller"
    );
    assert_speech(&tr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exotel_pcm16_with_basic_auth_in_100ms_frames() {
    let srv = server();
    let t = tenant(srv, "exotel").await;
    let pcm: Vec<u8> = speech_8k().iter().flat_map(|s| s.to_le_bytes()).collect();
    let mut req = format!("{}/v1/ingest/exotel", srv.url)
        .into_client_request()
        .unwrap();
    let basic = b64(format!("exotel-sid:{}", t.ingest).as_bytes());
    req.headers_mut()
        .insert("authorization", format!("Basic {basic}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    ws.send(text(json!({"event": "connected"}))).await.unwrap();
    ws.send(text(json!({"event": "start", "sequence_number": "1", "stream_sid": "MZx", "start": {"stream_sid": "MZx", "call_sid": "CAexotel",
        "account_sid": "ACx", "custom_parameters": {}, "media_format": {"encoding": "audio/x-raw", "sample_rate": "8000", "bit_rate": "16"}}}))).await.unwrap();
    for (k, c) in pcm.chunks(1600).enumerate() {
        let mut c = c.to_vec();
        c.resize(1600, 0);
        ws.send(text(json!({"event": "media", "sequence_number": (k + 2).to_string(), "stream_sid": "MZx",
            "media": {"chunk": (k + 1).to_string(), "timestamp": (k * 100).to_string(), "payload": b64(&c)}}))).await.unwrap();
    }
    ws.send(text(
        json!({"event": "stop", "sequence_number": "9999", "stream_sid": "MZx"}),
    ))
    .await
    .unwrap();
    let (_, close) = read_to_close(&mut ws, Duration::from_secs(60)).await;
    assert_eq!(close.map(|c| u16::from(c.code)), Some(1000));
    let (info, tr) = stored(srv, &t.id, "CAexotel").await;
    assert_eq!(
        (info.provider.as_str(), info.tracks.as_slice()),
        ("exotel", &["unknown".to_string()][..])
    );
    assert_speech(&tr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vonage_binary_l16_ends_when_the_socket_closes() {
    let srv = server();
    let t = tenant(srv, "vonage").await;
    let tracks = callscribe::audio::load_tracks(
        &common::fixture("speech.16k.flac"),
        callscribe::audio::ChannelMode::Mix,
    )
    .unwrap()
    .tracks;
    let pcm: Vec<u8> = tracks[0]
        .iter()
        .flat_map(|&x| ((x * 32767.0) as i16).to_le_bytes())
        .collect();
    let mut ws = connect(srv, "/v1/ingest/vonage", Some(&t.ingest))
        .await
        .unwrap();
    ws.send(text(json!({"event": "websocket:connected", "content-type": "audio/l16;rate=16000", "uuid": "vonage-leg-1"}))).await.unwrap();
    for c in pcm.chunks(640) {
        let mut c = c.to_vec();
        c.resize(640, 0);
        ws.send(Message::Binary(c.into())).await.unwrap();
    }
    ws.close(None).await.unwrap();
    drop(ws);
    let tr = wait_for_call(srv, &t.id, "vonage-leg-1", CallStatus::Complete).await;
    assert_speech(&tr);
}

/// Polls the store until the call has `status` (the server finalises after the socket is gone).
async fn wait_for_call(
    srv: &Server,
    tenant: &str,
    call: &str,
    status: CallStatus,
) -> callscribe::transcript::Transcript {
    for _ in 0..600 {
        let engine = srv.engine.clone();
        let (tn, c) = (tenant.to_string(), call.to_string());
        let found = on_server(srv, async move {
            let id = engine.store.find_call(&tn, &c).await.ok()?;
            engine
                .store
                .transcript(&Actor::operator(), &tn, &id)
                .await
                .ok()
        })
        .await;
        if let Some((info, tr)) = found
            && info.status == status
        {
            return tr;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("call {call} never reached {status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_stereo_stream_gets_interims_and_finals_back_on_its_socket() {
    let srv = server();
    let t = tenant(srv, "native").await;
    let speech = speech_8k();
    let mut ws = connect(srv, "/v1/ingest/stream", Some(&t.ingest))
        .await
        .unwrap();
    ws.send(text(json!({"event": "start", "call_id": "bot-1", "encoding": "mulaw", "sample_rate": 8000, "channels": 2,
        "speakers": ["caller", "agent"], "metadata": {"queue": "test"}}))).await.unwrap();
    // the caller speaks, the agent's channel is silent; real time so interims are produced
    let mut frames = Vec::new();
    for c in speech.chunks(160) {
        let mut f = Vec::with_capacity(320);
        for i in 0..160 {
            f.push(callscribe::audio::g711::encode_mulaw(
                *c.get(i).unwrap_or(&0) as f32 / 32768.0,
            ));
            f.push(0xff);
        }
        frames.push(f);
    }
    let t0 = tokio::time::Instant::now();
    for (k, f) in frames.into_iter().enumerate() {
        tokio::time::sleep_until(t0 + Duration::from_millis(k as u64 * 20)).await;
        ws.send(Message::Binary(f.into())).await.unwrap();
    }
    ws.send(text(json!({"event": "stop"}))).await.unwrap();
    let (events, close) = read_to_close(&mut ws, Duration::from_secs(60)).await;
    assert_eq!(close.map(|c| u16::from(c.code)), Some(1000));
    assert_eq!(events.first().unwrap()["type"], "call_started");
    assert_eq!(events.last().unwrap()["type"], "call_ended");
    let interims: Vec<&Value> = events.iter().filter(|e| e["is_final"] == false).collect();
    let finals: Vec<&Value> = events
        .iter()
        .filter(|e| e["is_final"] == true && e["text"] != "")
        .collect();
    assert!(
        !interims.is_empty(),
        "a 5 s utterance streamed in real time gets interims: {events:?}"
    );
    assert!(!finals.is_empty());
    // every interim belongs to a segment that got its final, and comes before it
    for i in &interims {
        let pos_i = events.iter().position(|e| std::ptr::eq(e, *i)).unwrap();
        let fin = events
            .iter()
            .position(|e| e["is_final"] == true && e["segment_id"] == i["segment_id"]);
        assert!(
            fin.is_some_and(|f| f > pos_i),
            "interim {i} has a later final"
        );
        assert!(i.get("seq").is_none(), "interims are not stored");
        assert_eq!(i["speaker"], "caller");
    }
    let all = finals
        .iter()
        .map(|f| f["text"].as_str().unwrap())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(recall(SPEECH, &all) > 0.7, "{all}");
}

/// Starts a Twilio call for `t` and streams `seconds` of the sample call's caller track.
async fn twilio_call_started(srv: &Server, t: &Tenant, sid: &str, seconds: usize) -> Ws {
    let (caller, agent) = sample_call();
    let n = (8000 * seconds).min(caller.len());
    let mut ws = connect(srv, "/v1/ingest/twilio", None).await.unwrap();
    ws.send(text(twilio_start(sid, &["inbound", "outbound"], &t.ingest)))
        .await
        .unwrap();
    for m in twilio_frames(&[
        ("inbound", mulaw(&caller[..n])),
        ("outbound", mulaw(&agent[..n])),
    ]) {
        ws.send(text(m)).await.unwrap();
    }
    ws
}

async fn expect_close(ws: &mut Ws, code: u16, reason_has: &str) {
    let (_, close) = read_to_close(ws, Duration::from_secs(60)).await;
    let close = close.expect("a close frame");
    assert_eq!(u16::from(close.code), code, "{}", close.reason);
    assert!(
        close.reason.contains(reason_has),
        "reason {:?} should mention {reason_has:?}",
        close.reason.as_str()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_closes_only_its_own_connection_with_a_clear_reason_and_keeps_finals() {
    let srv = server();
    let t = tenant(srv, "badinput").await;
    // a good call runs alongside every bad one
    let good = tokio::spawn({
        let t = Tenant {
            id: t.id.clone(),
            ingest: t.ingest.clone(),
            agent: t.agent.clone(),
        };
        async move {
            let mut ws = twilio_call_started(server(), &t, "CAgood", 12).await;
            ws.send(text(json!({"event": "stop"}))).await.unwrap();
            read_to_close(&mut ws, Duration::from_secs(120))
                .await
                .1
                .map(|c| u16::from(c.code))
        }
    });
    let cases: Vec<(&str, Message, u16, &str)> = vec![
        (
            "CAjson",
            Message::Text("{\"event\": \"media\", oops".into()),
            1007,
            "malformed JSON",
        ),
        (
            "CAunknown",
            text(json!({"event": "teleport"})),
            1007,
            "unknown Twilio event",
        ),
        (
            "CAb64",
            text(
                json!({"event": "media", "media": {"track": "inbound", "chunk": "1", "timestamp": "0", "payload": "@@@"}}),
            ),
            1007,
            "base64",
        ),
        (
            "CAempty",
            text(
                json!({"event": "media", "media": {"track": "inbound", "chunk": "1", "timestamp": "0", "payload": ""}}),
            ),
            1007,
            "empty media payload",
        ),
        (
            "CAbinary",
            Message::Binary(vec![0u8; 160].into()),
            1003,
            "not binary",
        ),
        (
            "CAbig",
            Message::Text("x".repeat(100 * 1024).into()),
            1009,
            "bytes",
        ),
    ];
    for (sid, bad, code, reason) in cases {
        // 6 s of speech first: the first utterance's final is stored before the bad message
        let mut ws = twilio_call_started(srv, &t, sid, 7).await;
        let _ = ws.send(bad).await;
        expect_close(&mut ws, code, reason).await;
        let (info, tr) = stored(srv, &t.id, sid).await;
        assert_eq!(info.status, CallStatus::Interrupted, "{sid}");
        assert!(
            !tr.segments.is_empty(),
            "{sid}: the finals before the bad message are kept"
        );
    }
    // media before start, and stop before start
    let mut ws = connect(srv, "/v1/ingest/twilio", None).await.unwrap();
    ws.send(text(twilio_media("inbound", 0, &[0xff; 160])))
        .await
        .unwrap();
    expect_close(&mut ws, 1008, "media before start").await;
    let mut ws = connect(srv, "/v1/ingest/stream", Some(&t.ingest))
        .await
        .unwrap();
    ws.send(text(json!({"event": "stop"}))).await.unwrap();
    expect_close(&mut ws, 1008, "stop before start").await;
    // wrong payload size for the format
    let mut ws = connect(srv, "/v1/ingest/stream", Some(&t.ingest))
        .await
        .unwrap();
    ws.send(text(
        json!({"event": "start", "call_id": "odd", "encoding": "pcm_s16le", "sample_rate": 16000}),
    ))
    .await
    .unwrap();
    ws.send(Message::Binary(vec![0u8; 641].into()))
        .await
        .unwrap();
    expect_close(&mut ws, 1007, "whole number").await;
    // a client that stops sending is closed after the idle timeout, its call finalised
    let mut ws = twilio_call_started(srv, &t, "CAidle", 7).await;
    expect_close(&mut ws, 4008, "no audio").await;
    let (info, tr) = stored(srv, &t.id, "CAidle").await;
    assert_eq!(info.status, CallStatus::Interrupted);
    assert!(!tr.segments.is_empty());

    assert_eq!(
        good.await.unwrap(),
        Some(1000),
        "the good call was not disturbed"
    );
    let (info, tr) = stored(srv, &t.id, "CAgood").await;
    assert_eq!(info.status, CallStatus::Complete);
    assert!(tr.segments.len() >= 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_checked_before_any_audio() {
    let srv = server();
    let t = tenant(srv, "auth").await;
    // Twilio's token in start: wrong, missing, or a key of the wrong role
    for (token, reason) in [
        ("csk_nope_xxx", "invalid"),
        ("", "no ingest key"),
        (t.agent.as_str(), "role"),
    ] {
        let mut ws = connect(srv, "/v1/ingest/twilio", None).await.unwrap();
        let mut start = twilio_start("CAauth", &["inbound"], token);
        if token.is_empty() {
            start["start"]["customParameters"] = json!({});
        }
        ws.send(text(start)).await.unwrap();
        ws.send(text(twilio_media("inbound", 0, &[0xff; 160])))
            .await
            .ok();
        expect_close(&mut ws, 1008, reason).await;
    }
    // a header key is checked before the upgrade
    match connect(srv, "/v1/ingest/stream", Some("csk_bogus")).await {
        Err(WsError::Http(resp)) => assert_eq!(resp.status(), 401),
        other => panic!("expected HTTP 401, got {:?}", other.map(|_| "a socket")),
    }
    match connect(srv, "/v1/ingest/vonage", Some(&t.agent)).await {
        Err(WsError::Http(resp)) => assert_eq!(resp.status(), 403),
        other => panic!("expected HTTP 403, got {:?}", other.map(|_| "a socket")),
    }
    // a revoked key fails like an unknown one
    let engine = srv.engine.clone();
    let (tid, key) = (t.id.clone(), t.ingest.clone());
    on_server(srv, async move {
        let prefix = key.rsplit_once('_').unwrap().0.to_string();
        engine
            .store
            .revoke_api_key(&Actor::operator(), &tid, &prefix)
            .await
            .unwrap();
    })
    .await;
    match connect(srv, "/v1/ingest/stream", Some(&t.ingest)).await {
        Err(WsError::Http(resp)) => assert_eq!(resp.status(), 401),
        other => panic!("expected HTTP 401, got {:?}", other.map(|_| "a socket")),
    }
    // nothing was stored for any of them
    let engine = srv.engine.clone();
    let tid = t.id.clone();
    let calls = on_server(srv, async move {
        engine
            .store
            .list_calls(&Actor::operator(), &tid)
            .await
            .unwrap()
    })
    .await;
    assert!(calls.is_empty(), "{calls:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_keeps_its_finals_and_closes_the_call() {
    let srv = server();
    let t = tenant(srv, "drop").await;
    let mut live = connect(srv, "/v1/calls/live", Some(&t.agent))
        .await
        .unwrap();
    let ws = twilio_call_started(srv, &t, "CAdrop", 16).await;
    // wait until at least two finals were published, then vanish without stop or close
    let (seen, ok) = read_until(&mut live, |e| e["seq"] == 1, Duration::from_secs(60)).await;
    assert!(ok, "two finals arrive: {seen:?}");
    drop(ws);
    let (rest, ended) = read_until(
        &mut live,
        |e| e["type"] == "call_ended",
        Duration::from_secs(60),
    )
    .await;
    assert!(ended);
    assert_eq!(rest.last().unwrap()["status"], "interrupted");
    let (info, tr) = stored(srv, &t.id, "CAdrop").await;
    assert_eq!(info.status, CallStatus::Interrupted);
    let published: Vec<&Value> = seen
        .iter()
        .chain(&rest)
        .filter(|e| e["is_final"] == true && e["text"] != "")
        .collect();
    assert_eq!(
        tr.segments.len(),
        published.len(),
        "every published final is stored"
    );
    assert!(
        tr.segments.len() >= 3,
        "the open utterance was finalised too: {}",
        tr.segments.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_resumes_after_a_reconnect_without_gaps_or_duplicates() {
    let srv = server();
    let t = tenant(srv, "resume").await;
    // stream the whole call at 4× real time in the background
    let (caller, agent) = sample_call();
    let ingest = t.ingest.clone();
    let streamer = tokio::spawn(async move {
        let mut ws = connect(server(), "/v1/ingest/twilio", None).await.unwrap();
        ws.send(text(twilio_start(
            "CAresume",
            &["inbound", "outbound"],
            &ingest,
        )))
        .await
        .unwrap();
        let t0 = tokio::time::Instant::now();
        for (i, m) in twilio_frames(&[("inbound", mulaw(&caller)), ("outbound", mulaw(&agent))])
            .into_iter()
            .enumerate()
        {
            tokio::time::sleep_until(t0 + Duration::from_millis(i as u64 * 10 / 4)).await;
            ws.send(text(m)).await.unwrap();
        }
        ws.send(text(json!({"event": "stop"}))).await.unwrap();
        read_to_close(&mut ws, Duration::from_secs(120))
            .await
            .1
            .map(|c| u16::from(c.code))
    });
    // find the call, follow it until two finals, disconnect, resume after the last seq seen
    let mut live = connect(srv, "/v1/calls/live", Some(&t.agent))
        .await
        .unwrap();
    let (ev, _) = read_until(
        &mut live,
        |e| e["type"] == "call_started",
        Duration::from_secs(30),
    )
    .await;
    let call_id = ev.last().unwrap()["call_id"].as_str().unwrap().to_string();
    let mut first = connect(srv, &format!("/v1/calls/{call_id}/events"), Some(&t.agent))
        .await
        .unwrap();
    let (a, ok) = read_until(&mut first, |e| e["seq"] == 1, Duration::from_secs(60)).await;
    assert!(ok);
    drop(first);
    tokio::time::sleep(Duration::from_secs(3)).await; // finals keep coming while away
    let mut second = connect(
        srv,
        &format!("/v1/calls/{call_id}/events?after=1"),
        Some(&t.agent),
    )
    .await
    .unwrap();
    let (b, ended) = read_until(
        &mut second,
        |e| e["type"] == "call_ended",
        Duration::from_secs(120),
    )
    .await;
    assert!(ended);
    assert_eq!(streamer.await.unwrap(), Some(1000));
    let seqs: Vec<u64> = a
        .iter()
        .chain(&b)
        .filter_map(|e| e["seq"].as_u64())
        .collect();
    let (_, tr) = stored(srv, &t.id, "CAresume").await;
    assert_eq!(
        seqs,
        (0..tr.segments.len() as u64).collect::<Vec<_>>(),
        "every final once, in order"
    );
    // after the call ended, a new subscriber gets the stored transcript and the end
    let mut late = connect(srv, &format!("/v1/calls/{call_id}/events"), Some(&t.agent))
        .await
        .unwrap();
    let (c, _) = read_to_close(&mut late, Duration::from_secs(30)).await;
    assert_eq!(
        c.iter().filter(|e| e["is_final"] == true).count(),
        tr.segments.len()
    );
    assert_eq!(c.last().unwrap()["type"], "call_ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_cannot_see_each_others_calls() {
    let srv = server();
    let a = tenant(srv, "tenant-a").await;
    let b = tenant(srv, "tenant-b").await;
    let mut b_live = connect(srv, "/v1/calls/live", Some(&b.agent))
        .await
        .unwrap();
    let mut a_live = connect(srv, "/v1/calls/live", Some(&a.agent))
        .await
        .unwrap();
    let mut ws = twilio_call_started(srv, &a, "CAprivate", 6).await;
    let (ev, _) = read_until(
        &mut a_live,
        |e| e["type"] == "call_started",
        Duration::from_secs(30),
    )
    .await;
    let call_id = ev.last().unwrap()["call_id"].as_str().unwrap().to_string();
    // B cannot subscribe to A's call, by id or by provider id: it does not exist for B
    for id in [call_id.as_str(), "CAprivate"] {
        match connect(srv, &format!("/v1/calls/{id}/events"), Some(&b.agent)).await {
            Err(WsError::Http(resp)) => assert_eq!(resp.status(), 404),
            other => panic!("expected 404, got {:?}", other.map(|_| "a socket")),
        }
    }
    // an ingest key is not an agent key
    match connect(srv, &format!("/v1/calls/{call_id}/events"), Some(&a.ingest)).await {
        Err(WsError::Http(resp)) => assert_eq!(resp.status(), 403),
        other => panic!("expected 403, got {:?}", other.map(|_| "a socket")),
    }
    ws.send(text(json!({"event": "stop"}))).await.unwrap();
    read_to_close(&mut ws, Duration::from_secs(60)).await;
    let (a_events, ended) = read_until(
        &mut a_live,
        |e| e["type"] == "call_ended",
        Duration::from_secs(60),
    )
    .await;
    assert!(ended && a_events.iter().any(|e| e["is_final"] == true));
    // B's live feed saw nothing of it
    let (b_events, _) = read_until(&mut b_live, |_| true, Duration::from_millis(500)).await;
    assert!(b_events.is_empty(), "{b_events:?}");
}

#[test]
fn shutdown_finalises_open_calls_before_exit() {
    let srv_ref: &'static Server = Box::leak(Box::new(start_server(
        1,
        LiveConfig {
            interim_every_ms: 0,
            idle_timeout_s: 60,
            ..test_config()
        },
    )));
    let srv = srv_ref;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let t = rt.block_on(tenant(srv_ref, "shutdown"));
    let mut ws = rt.block_on(async {
        let mut live = connect(srv_ref, "/v1/calls/live", Some(&t.agent))
            .await
            .unwrap();
        let (caller, agent) = sample_call();
        let mut ws = connect(srv_ref, "/v1/ingest/twilio", None).await.unwrap();
        ws.send(text(twilio_start(
            "CAshut",
            &["inbound", "outbound"],
            &t.ingest,
        )))
        .await
        .unwrap();
        // up to the middle of the caller's phone number (an utterance is open)
        for m in twilio_frames(&[
            ("inbound", mulaw(&caller[..8000 * 14])),
            ("outbound", mulaw(&agent[..8000 * 14])),
        ]) {
            ws.send(text(m)).await.unwrap();
        }
        // the three utterances before the number are final: the audio up to 14 s is in
        let (_, ok) = read_until(&mut live, |e| e["seq"] == 2, Duration::from_secs(60)).await;
        assert!(ok);
        tokio::time::sleep(Duration::from_millis(500)).await;
        ws
    });
    srv.shutdown
        .lock()
        .unwrap()
        .take()
        .unwrap()
        .send(())
        .unwrap();
    let close = rt.block_on(async { read_to_close(&mut ws, Duration::from_secs(120)).await.1 });
    let close = close.expect("closed by the server");
    assert_eq!(u16::from(close.code), 1001);
    srv.done
        .lock()
        .unwrap()
        .take()
        .unwrap()
        .recv_timeout(Duration::from_secs(120))
        .expect("serve returned");
    // the store still answers: reopen the same runtime's store
    let engine = srv.engine.clone();
    let tid = t.id.clone();
    let (info, tr) = rt.block_on(on_server(srv_ref, async move {
        let id = engine.store.find_call(&tid, "CAshut").await.unwrap();
        engine
            .store
            .transcript(&Actor::operator(), &tid, &id)
            .await
            .unwrap()
    }));
    assert_eq!(info.status, CallStatus::Interrupted);
    let last = tr
        .segments
        .iter()
        .rfind(|s| s.speaker == "caller")
        .expect("caller segments");
    assert!(
        last.end > 12.5,
        "the open utterance (from 12.4 s) was finalised: ends {}",
        last.end
    );
}

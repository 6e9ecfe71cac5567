//! Abuse resistance against a real `serve` on loopback (real model, SQLite store, real
//! WebSocket clients): each attack runs while a legitimate Twilio call of another workspace
//! streams at real time beside it. The legitimate call must be admitted and keep every final;
//! the attacker must get the documented limit (docs/SECURITY.md). Bounded in count and time.

mod common;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use base64::Engine as _;
use callscribe::api::ServeOptions;
use callscribe::live::LiveConfig;
use callscribe::store::{Actor, CallStatus};
use common::server::{Server, Workspace, start, workspace};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The limits under test, small enough to reach quickly.
const MAX_AHEAD_MS: u64 = 2000;
const START_TIMEOUT_S: u64 = 2;
const PER_TENANT: usize = 3;
const HEADER_TIMEOUT_S: u64 = 2;
const PER_ADDRESS: usize = 64;
const MAX_GAP_FILL_MS: u32 = 1000;
const SUBSCRIPTIONS: usize = 4;
/// A workspace whose Twilio streams must be signed with this auth token.
const SIGNED_WORKSPACE: &str = "twilio-signed";
const TWILIO_TOKEN: &str = "0123456789abcdef0123456789abcdef";

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        start(
            ServeOptions {
                web: callscribe::api::WebConfig {
                    header_read_timeout_s: HEADER_TIMEOUT_S,
                    max_connections: 400,
                    max_connections_per_address: PER_ADDRESS,
                    max_subscriptions_per_tenant: SUBSCRIPTIONS,
                    trusted_proxies: vec!["127.0.0.1/32".into()],
                    subscriber_ping_s: 1,
                    subscription_recheck_s: 1,
                    ..Default::default()
                },
                tls: None,
            },
            LiveConfig {
                max_calls: 12,
                max_calls_per_tenant: PER_TENANT,
                max_audio_ahead_ms: MAX_AHEAD_MS,
                max_gap_fill_ms: MAX_GAP_FILL_MS,
                twilio_auth_tokens: [(
                    SIGNED_WORKSPACE.to_string(),
                    callscribe::secret::SecretString::new(TWILIO_TOKEN),
                )]
                .into(),
                start_timeout_s: START_TIMEOUT_S,
                idle_timeout_s: 5,
                ..LiveConfig::default()
            },
        )
    })
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

async fn connect(srv: &Server, path: &str, bearer: Option<&str>) -> Result<Ws, String> {
    let mut req = format!("{}{path}", srv.ws_url())
        .into_client_request()
        .unwrap();
    if let Some(k) = bearer {
        req.headers_mut()
            .insert("authorization", format!("Bearer {k}").parse().unwrap());
    }
    tokio_tungstenite::connect_async(req)
        .await
        .map(|(ws, _)| ws)
        .map_err(|e| e.to_string())
}

fn text(v: Value) -> Message {
    Message::Text(v.to_string().into())
}

/// Reads until the server closes (or `limit`); returns the JSON messages and the close frame.
async fn read_to_close(ws: &mut Ws, limit: Duration) -> (Vec<Value>, Option<CloseFrame>) {
    let mut got = Vec::new();
    let close = tokio::time::timeout(limit, async {
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
    .await
    .unwrap_or(None);
    (got, close)
}

/// The sample call's two tracks as µ-law at 8 kHz (channel 0 caller, channel 1 agent).
fn sample_call() -> (Vec<u8>, Vec<u8>) {
    let mut r = hound::WavReader::open(common::repo().join("samples/sample-call.wav")).unwrap();
    let s: Vec<i16> = r.samples::<i16>().map(Result::unwrap).collect();
    let mulaw = |it: &mut dyn Iterator<Item = &i16>| -> Vec<u8> {
        it.map(|&x| callscribe::audio::g711::encode_mulaw(x as f32 / 32768.0))
            .collect()
    };
    (
        mulaw(&mut s.iter().step_by(2)),
        mulaw(&mut s.iter().skip(1).step_by(2)),
    )
}

fn twilio_start(call_sid: &str, token: &str, echo: bool) -> Value {
    let mut params = json!({"token": token});
    if echo {
        params["transcripts"] = json!("on");
    }
    json!({"event": "start", "sequenceNumber": "1", "streamSid": "MZ1", "start": {
        "accountSid": "AC1", "streamSid": "MZ1", "callSid": call_sid,
        "tracks": ["inbound", "outbound"], "customParameters": params,
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}})
}

/// The media messages of 20 ms frame `k` of both tracks.
fn twilio_frame(k: usize, caller: &[u8], agent: &[u8]) -> [Value; 2] {
    let frame = |track: &str, audio: &[u8]| {
        let mut f = audio
            .get(k * 160..((k + 1) * 160).min(audio.len()))
            .unwrap_or(&[])
            .to_vec();
        f.resize(160, 0xff);
        json!({"event": "media", "sequenceNumber": (k + 2).to_string(), "streamSid": "MZ1",
            "media": {"track": track, "chunk": (k + 1).to_string(), "timestamp": (k * 20).to_string(),
                "payload": base64::engine::general_purpose::STANDARD.encode(&f)}})
    };
    [frame("inbound", caller), frame("outbound", agent)]
}

/// One Twilio media message of the inbound track.
fn twilio_media(timestamp_ms: u64, payload: &[u8]) -> Message {
    text(json!({"event": "media", "streamSid": "MZ1",
        "media": {"track": "inbound", "timestamp": timestamp_ms.to_string(),
            "payload": base64::engine::general_purpose::STANDARD.encode(payload)}}))
}

fn load(c: &std::sync::atomic::AtomicU64) -> u64 {
    c.load(std::sync::atomic::Ordering::Relaxed)
}

/// A legitimate call: the first `seconds` of the sample call at real time, then `stop`.
/// Returns the close code and the finals it was sent on its socket.
async fn legitimate_call(w: &Workspace, sid: &str, seconds: usize) -> (Option<u16>, usize) {
    let srv = server();
    let (caller, agent) = sample_call();
    let frames = (seconds * 50).min(caller.len() / 160);
    let mut ws = connect(srv, "/v1/ingest/twilio", None).await.unwrap();
    ws.send(text(twilio_start(sid, &w.ingest, true)))
        .await
        .unwrap();
    let t0 = tokio::time::Instant::now();
    for k in 0..frames {
        tokio::time::sleep_until(t0 + Duration::from_millis(k as u64 * 20)).await;
        for m in twilio_frame(k, &caller, &agent) {
            if ws.send(text(m)).await.is_err() {
                let (_, close) = read_to_close(&mut ws, Duration::from_secs(5)).await;
                return (close.map(|c| u16::from(c.code)), 0);
            }
        }
    }
    ws.send(text(json!({"event": "stop"}))).await.unwrap();
    let (events, close) = read_to_close(&mut ws, Duration::from_secs(90)).await;
    let finals = events
        .iter()
        .filter(|e| e["type"] == "transcript" && e["is_final"] == true && e["seq"].is_u64())
        .count();
    (close.map(|c| u16::from(c.code)), finals)
}

/// The legitimate call's stored state: status and segment count; and every final its socket
/// was sent is among them.
async fn assert_kept_every_final(w: &Workspace, sid: &str, close: Option<u16>, sent: usize) {
    assert_eq!(close, Some(1000), "the legitimate call ends normally");
    let srv = server();
    let (engine, tenant, sid) = (srv.engine.clone(), w.id.clone(), sid.to_string());
    let (status, stored) = srv
        .on(async move {
            let id = engine.store.find_call(&tenant, &sid).await.unwrap();
            let (info, t) = engine
                .store
                .transcript(&Actor::operator(), &tenant, &id)
                .await
                .unwrap();
            (info.status, t.segments.len())
        })
        .await;
    assert_eq!(status, CallStatus::Complete);
    assert!(sent >= 2, "the legitimate call got its finals: {sent}");
    assert_eq!(stored, sent, "every final sent is stored");
}

/// Finding 1: a client sending a recording as fast as it can is read no faster than real
/// time (plus the margin): its finals never describe audio further ahead of the wall clock
/// than the margin, and its backlog cannot grow past the per-call cap.
#[test]
fn audio_faster_than_real_time_is_paced_to_the_wall_clock() {
    rt().block_on(async {
        let srv = server();
        let legit = workspace(srv, "pace-ok").await;
        let attacker = workspace(srv, "pace-attack").await;
        let good = tokio::spawn(async move {
            let r = legitimate_call(&legit, "CApaceok", 14).await;
            (legit, r)
        });
        let (caller, agent) = sample_call();
        let mut ws = connect(srv, "/v1/ingest/twilio", None).await.unwrap();
        ws.send(text(twilio_start("CApacefast", &attacker.ingest, true)))
            .await
            .unwrap();
        let started = Instant::now();
        let (tx, mut rx) = ws.split();
        // the writer sends 20 s of audio as fast as the socket takes it
        let writer = tokio::spawn(async move {
            let mut tx = tx;
            for k in 0..1000 {
                for m in twilio_frame(k, &caller, &agent) {
                    if tx.send(text(m)).await.is_err() {
                        return;
                    }
                }
            }
            let _ = tx.send(text(json!({"event": "stop"}))).await;
        });
        let mut worst_ahead_ms = i64::MIN;
        let mut finals = 0;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while let Ok(Some(Ok(msg))) = tokio::time::timeout_at(deadline, rx.next()).await {
            let Message::Text(t) = msg else { continue };
            let ev: Value = serde_json::from_str(t.as_str()).unwrap();
            if ev["type"] == "transcript" && ev["is_final"] == true {
                finals += 1;
                let end_ms = ev["end_ms"].as_i64().unwrap();
                // a final arrives after its audio was read: that audio may run at most the
                // margin ahead of the time since the call started
                let ahead = end_ms - started.elapsed().as_millis() as i64;
                worst_ahead_ms = worst_ahead_ms.max(ahead);
            }
            if ev["type"] == "call_ended" {
                break;
            }
        }
        writer.await.unwrap();
        assert!(
            finals >= 2,
            "the paced call is transcribed: {finals} finals"
        );
        assert!(
            worst_ahead_ms <= MAX_AHEAD_MS as i64 + 500,
            "a final {worst_ahead_ms} ms ahead of the wall clock (margin {MAX_AHEAD_MS} ms)"
        );
        assert!(
            started.elapsed() >= Duration::from_secs(20 - MAX_AHEAD_MS / 1000 - 1),
            "20 s of audio took {:?}: not paced",
            started.elapsed()
        );
        let paced = srv
            .engine
            .stats
            .paced
            .load(std::sync::atomic::Ordering::Relaxed);
        assert!(paced > 0, "the attacker was back-pressured");
        let (legit, (close, sent)) = good.await.unwrap();
        assert_kept_every_final(&legit, "CApaceok", close, sent).await;
    });
}

/// Finding 2: sockets that never send `start` — even while pinging — are closed at the start
/// deadline; the legitimate call beside them goes on.
#[test]
fn sockets_that_never_start_a_call_are_closed_at_the_deadline() {
    rt().block_on(async {
        let srv = server();
        let legit = workspace(srv, "idle-ok").await;
        let good = tokio::spawn(async move {
            let r = legitimate_call(&legit, "CAidleok", 8).await;
            (legit, r)
        });
        let mut idlers = Vec::new();
        for i in 0..20 {
            idlers.push(tokio::spawn(async move {
                let mut ws = connect(server(), "/v1/ingest/twilio", None).await.unwrap();
                if i % 2 == 0 {
                    // harmless-looking messages before start do not count either
                    ws.send(text(json!({"event": "connected", "protocol": "Call"})))
                        .await
                        .unwrap();
                }
                let opened = Instant::now();
                let pinger = async {
                    loop {
                        tokio::time::sleep(Duration::from_millis(300)).await;
                        if ws.send(Message::Ping(vec![1].into())).await.is_err() {
                            break;
                        }
                    }
                };
                // pinging until the server closes; read its close afterwards
                let _ =
                    tokio::time::timeout(Duration::from_secs(START_TIMEOUT_S + 3), pinger).await;
                let (_, close) = read_to_close(&mut ws, Duration::from_secs(5)).await;
                (opened.elapsed(), close)
            }));
        }
        for h in idlers {
            let (held, close) = h.await.unwrap();
            let close = close.expect("the server closed the socket");
            assert_eq!(u16::from(close.code), 1008, "{}", close.reason);
            assert!(close.reason.contains("no call started"), "{}", close.reason);
            assert!(
                held < Duration::from_secs(START_TIMEOUT_S + 4),
                "held {held:?}"
            );
        }
        let (legit, (close, sent)) = good.await.unwrap();
        assert_kept_every_final(&legit, "CAidleok", close, sent).await;
    });
}

/// Finding 3: 30 simultaneous starts of one workspace never take more than its limit, and a
/// call of another workspace is still admitted.
#[test]
fn one_workspace_cannot_take_every_call_slot() {
    rt().block_on(async {
        let srv = server();
        let attacker = workspace(srv, "slots-attack").await;
        let mut starts = Vec::new();
        for i in 0..30 {
            let key = attacker.ingest.clone();
            starts.push(tokio::spawn(async move {
                let mut ws = connect(server(), "/v1/ingest/twilio", None).await.unwrap();
                ws.send(text(twilio_start(&format!("CAslot{i}"), &key, true)))
                    .await
                    .unwrap();
                // admitted: `call_started` comes back; refused: 1013
                let first = tokio::time::timeout(Duration::from_secs(10), ws.next())
                    .await
                    .ok()
                    .flatten();
                let admitted = matches!(&first, Some(Ok(Message::Text(t)))
                    if serde_json::from_str::<Value>(t.as_str()).unwrap()["type"] == "call_started");
                if let Some(Ok(Message::Close(Some(c)))) = &first {
                    assert_eq!(u16::from(c.code), 1013, "{}", c.reason);
                    assert!(c.reason.contains("max_calls_per_tenant"), "{}", c.reason);
                }
                (admitted, ws)
            }));
        }
        let mut held = Vec::new();
        let mut admitted = 0;
        for s in starts {
            let (ok, ws) = s.await.unwrap();
            admitted += usize::from(ok);
            held.push(ws);
        }
        assert_eq!(admitted, PER_TENANT, "exactly the workspace's limit was admitted");
        assert_eq!(
            srv.engine.active_calls(Some(&attacker.id)).len(),
            PER_TENANT
        );
        // while the attacker holds its slots, another workspace's call is admitted
        let legit = workspace(srv, "slots-ok").await;
        let (close, sent) = legitimate_call(&legit, "CAslotsok", 8).await;
        assert_kept_every_final(&legit, "CAslotsok", close, sent).await;
        drop(held);
    });
}

/// Findings 4 and 8: an address sending wrong keys backs off (HTTP 429 on the upgrade), its
/// failures are audited in aggregate — not one row per attempt — and a valid key used from the
/// same address is not locked out.
#[test]
fn wrong_ingest_keys_back_off_without_locking_out_the_address_or_flooding_the_audit_trail() {
    rt().block_on(async {
        let srv = server();
        let legit = workspace(srv, "keys-ok").await;
        let good = tokio::spawn(async move {
            let r = legitimate_call(&legit, "CAkeysok", 8).await;
            (legit, r)
        });
        let engine = srv.engine.clone();
        let audit_rows = move || {
            let engine = engine.clone();
            async move {
                engine
                    .store
                    .audit_events(None, 0, 100_000)
                    .await
                    .unwrap()
                    .into_iter()
                    .filter(|e| e.action == "key.auth_failed")
                    .count()
            }
        };
        let before = srv.on(audit_rows()).await;
        let wrong = format!("csk_zzzz9999_{}", "A".repeat(43));
        let mut statuses = Vec::new();
        for _ in 0..300 {
            match connect(srv, "/v1/ingest/twilio", Some(&wrong)).await {
                Ok(_) => statuses.push(101),
                Err(e) if e.contains("401") => statuses.push(401),
                Err(e) if e.contains("429") => statuses.push(429),
                Err(e) => panic!("unexpected: {e}"),
            }
        }
        // five failures are allowed, the sixth starts a wait of 1 s, then 2 s, 4 s …: a few
        // more may get through as a wait ends while the loop runs
        let refused = statuses.iter().filter(|&&s| s == 401).count();
        assert!((6..=8).contains(&refused), "{statuses:?}");
        assert_eq!(
            statuses.iter().filter(|&&s| s == 429).count(),
            300 - refused,
            "{statuses:?}"
        );
        // wrong keys in `start` (Twilio's token) count the same way: refused with a reason
        let mut ws = connect(srv, "/v1/ingest/twilio", None).await.unwrap();
        ws.send(text(twilio_start("CAkeybad", &wrong, false)))
            .await
            .unwrap();
        let (_, close) = read_to_close(&mut ws, Duration::from_secs(5)).await;
        let close = close.unwrap();
        assert_eq!(u16::from(close.code), 1008);
        assert!(close.reason.contains("retry later"), "{}", close.reason);
        let after = srv.on(audit_rows()).await;
        assert!(
            after - before <= 2,
            "{} audit rows for 301 failures: not aggregated",
            after - before
        );
        let (legit, (close, sent)) = good.await.unwrap();
        assert_kept_every_final(&legit, "CAkeysok", close, sent).await;
    });
}

/// Finding 2 (HTTP): slow-header clients are cut off at the header-read timeout, and a flood of
/// connections from one address is held to the per-address cap — from 127.0.0.2, while the
/// legitimate call comes from 127.0.0.1 and goes on.
#[test]
fn slow_headers_and_connection_floods_are_cut_off() {
    rt().block_on(async {
        let srv = server();
        let legit = workspace(srv, "flood-ok").await;
        let good = tokio::spawn(async move {
            let r = legitimate_call(&legit, "CAfloodok", 8).await;
            (legit, r)
        });
        let addr = srv.addr;
        let mut conns = Vec::new();
        for _ in 0..(PER_ADDRESS + 36) {
            conns.push(tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let sock = tokio::net::TcpSocket::new_v4().unwrap();
                sock.bind("127.0.0.2:0".parse().unwrap()).unwrap();
                let mut s = sock.connect(addr).await.unwrap();
                let opened = Instant::now();
                // half a request, never finished
                let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await;
                let mut buf = [0u8; 256];
                let closed =
                    tokio::time::timeout(Duration::from_secs(HEADER_TIMEOUT_S + 5), async {
                        loop {
                            match s.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(_) => {}
                            }
                        }
                    })
                    .await
                    .is_ok();
                (closed, opened.elapsed())
            }));
        }
        let mut at_once = 0;
        for c in conns {
            let (closed, after) = c.await.unwrap();
            assert!(
                closed,
                "a slow-header connection was still open after {after:?}"
            );
            assert!(
                after < Duration::from_secs(HEADER_TIMEOUT_S + 4),
                "{after:?}"
            );
            at_once += usize::from(after < Duration::from_millis(HEADER_TIMEOUT_S * 1000 / 2));
        }
        assert!(
            at_once >= 36,
            "connections past the per-address cap are closed at once: {at_once}"
        );
        let refused = srv
            .engine
            .metrics
            .connections_refused
            .load(std::sync::atomic::Ordering::Relaxed);
        assert!(refused >= 36, "{refused}");
        let (legit, (close, sent)) = good.await.unwrap();
        assert_kept_every_final(&legit, "CAfloodok", close, sent).await;
    });
}

/// Finding 5: a stream of one-byte frames whose timestamps jump a minute each is refused at
/// the first jump past the wall clock (1008, "ahead of the wall clock") instead of turning
/// into hours of synthesised silence; a real gap longer than `max_gap_fill_ms` (the
/// provider went quiet for seconds) is skipped as a discontinuity, not filled, and a message
/// carrying seconds of audio is processed off the runtime threads. The call with the gap
/// completes normally.
#[test]
fn media_timed_ahead_of_the_wall_clock_is_refused_and_long_gaps_are_skipped() {
    rt().block_on(async {
        let srv = server();
        let legit = workspace(srv, "jump-ok").await;
        let attacker = workspace(srv, "jump-attack").await;
        let good = tokio::spawn(async move {
            let r = legitimate_call(&legit, "CAjumpok", 10).await;
            (legit, r)
        });
        let mut ws = connect(srv, "/v1/ingest/twilio", None).await.unwrap();
        ws.send(text(twilio_start("CAjumpfar", &attacker.ingest, false)))
            .await
            .unwrap();
        let started = Instant::now();
        for k in 0..=900u64 {
            // 15 hours of timeline, one byte at a time
            if ws.send(twilio_media(k * 60_000, &[0x7f])).await.is_err() {
                break;
            }
        }
        let (_, close) = read_to_close(&mut ws, Duration::from_secs(10)).await;
        let close = close.expect("the server closes the call");
        assert_eq!(u16::from(close.code), 1008, "{close:?}");
        assert!(
            close.reason.contains("ahead of the wall clock"),
            "{}",
            close.reason
        );
        assert!(started.elapsed() < Duration::from_secs(10));

        // a genuine silence of 3 s (> max_gap_fill_ms) inside the wall clock: skipped
        let (caller, _) = sample_call();
        let (skips, offloaded) = (
            load(&srv.engine.stats.discontinuities),
            load(&srv.engine.stats.dsp_offloaded),
        );
        let mut ws = connect(srv, "/v1/ingest/twilio", None).await.unwrap();
        ws.send(text(twilio_start("CAjumpgap", &attacker.ingest, false)))
            .await
            .unwrap();
        for k in 0..50u64 {
            let f = &caller[k as usize * 160..(k as usize + 1) * 160];
            ws.send(twilio_media(k * 20, f)).await.unwrap();
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        // then 3 s of audio in one message, timed after the gap
        ws.send(twilio_media(4000, &caller[8000..32_000]))
            .await
            .unwrap();
        ws.send(text(json!({"event": "stop"}))).await.unwrap();
        let (_, close) = read_to_close(&mut ws, Duration::from_secs(60)).await;
        assert_eq!(close.map(|c| u16::from(c.code)), Some(1000));
        assert!(
            load(&srv.engine.stats.discontinuities) > skips,
            "the 3 s jump was a discontinuity"
        );
        assert!(
            load(&srv.engine.stats.dsp_offloaded) > offloaded,
            "3 s of audio in one message ran off the runtime threads"
        );
        let (legit, (close, sent)) = good.await.unwrap();
        assert_kept_every_final(&legit, "CAjumpok", close, sent).await;
    });
}

/// Finding 6: frames placed just before a small newest frame, each large, would all wait in
/// the reorder buffer for a frame that never comes (~50 MiB per track before). The buffer
/// holds at most the reorder window's audio: reaching it releases what is held, and the
/// frames for places already passed are dropped and counted.
#[test]
fn a_reorder_flood_is_held_only_up_to_the_window() {
    rt().block_on(async {
        let srv = server();
        let legit = workspace(srv, "reorder-ok").await;
        let attacker = workspace(srv, "reorder-attack").await;
        let good = tokio::spawn(async move {
            let r = legitimate_call(&legit, "CAreorderok", 8).await;
            (legit, r)
        });
        let dropped = load(&srv.engine.stats.frames_dropped);
        let mut ws = connect(srv, "/v1/ingest/twilio", None).await.unwrap();
        ws.send(text(twilio_start(
            "CAreorderflood",
            &attacker.ingest,
            false,
        )))
        .await
        .unwrap();
        ws.send(twilio_media(0, &[0xff; 160])).await.unwrap();
        ws.send(twilio_media(190, &[0xff; 160])).await.unwrap();
        for ts in (1..180u64).rev() {
            ws.send(twilio_media(ts, &[0xff; 4000])).await.unwrap();
        }
        ws.send(text(json!({"event": "stop"}))).await.unwrap();
        let (_, close) = read_to_close(&mut ws, Duration::from_secs(30)).await;
        assert_eq!(close.map(|c| u16::from(c.code)), Some(1000));
        let now_dropped = load(&srv.engine.stats.frames_dropped) - dropped;
        assert!(
            now_dropped >= 170,
            "frames past the buffer's bound are dropped and counted: {now_dropped}"
        );
        let (legit, (close, sent)) = good.await.unwrap();
        assert_kept_every_final(&legit, "CAreorderok", close, sent).await;
    });
}

/// Opens `/v1/calls/live` with `headers`; the HTTP status when refused.
async fn subscribe(srv: &Server, headers: &[(&str, &str)]) -> Result<Ws, u16> {
    let mut req = format!("{}/v1/calls/live", srv.ws_url())
        .into_client_request()
        .unwrap();
    for (k, v) in headers {
        req.headers_mut().insert(
            tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => Err(r.status().as_u16()),
        Err(e) => panic!("subscribe: {e}"),
    }
}

/// Reads a subscription (answering pings) until the server closes it; its close frame.
async fn close_of(ws: &mut Ws, limit: Duration) -> Option<(u16, String)> {
    read_to_close(ws, limit)
        .await
        .1
        .map(|c| (u16::from(c.code), c.reason.to_string()))
}

/// Finding 7: subscriber sockets. A subscriber's big message closes it; a workspace holds at
/// most `max_subscriptions_per_tenant` (429 past it); one that stops answering pings is
/// closed; revoking its key or signing its browser session out closes it within seconds.
#[test]
fn subscriber_sockets_are_capped_pinged_and_closed_on_revocation() {
    rt().block_on(async {
        let srv = server();
        let legit = workspace(srv, "subs-ok").await;
        let attacker = workspace(srv, "subs-attack").await;
        let good = tokio::spawn(async move {
            let r = legitimate_call(&legit, "CAsubsok", 10).await;
            (legit, r)
        });
        let bearer = format!("Bearer {}", attacker.agent);
        let auth = [("authorization", bearer.as_str())];

        // a 64 KiB message is refused (the connection closes)
        let mut ws = subscribe(srv, &auth).await.unwrap();
        ws.send(Message::Text("x".repeat(64 * 1024).into()))
            .await
            .unwrap();
        let t = Instant::now();
        let close = close_of(&mut ws, Duration::from_secs(5)).await;
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "still open: {close:?}"
        );
        drop(ws);

        // the cap: SUBSCRIPTIONS open, the next one refused with 429
        let mut open = Vec::new();
        for _ in 0..SUBSCRIPTIONS {
            open.push(subscribe(srv, &auth).await.expect("under the cap"));
        }
        assert_eq!(subscribe(srv, &auth).await.err(), Some(429));
        // another workspace is not affected by this one's cap
        let other = format!("Bearer {}", workspace(srv, "subs-other").await.agent);
        let mut theirs = subscribe(srv, &[("authorization", other.as_str())])
            .await
            .expect("another workspace subscribes");
        let _ = theirs.close(None).await;

        // one that never reads (never answers a ping) is closed: 4008; one that reads (and so
        // answers) stays open through the same time
        let mut silent = open.pop().unwrap();
        let mut alive = open.pop().unwrap();
        let reader = tokio::spawn(async move {
            let end = tokio::time::Instant::now() + Duration::from_secs(4);
            let mut closed = None;
            while let Ok(msg) = tokio::time::timeout_at(end, alive.next()).await {
                match msg {
                    Some(Ok(Message::Close(f))) => closed = Some(format!("{f:?}")),
                    Some(Ok(_)) => continue,
                    other => closed = Some(format!("{other:?}")),
                }
                break;
            }
            (alive, closed)
        });
        tokio::time::sleep(Duration::from_secs(4)).await;
        let close = close_of(&mut silent, Duration::from_secs(5)).await;
        assert_eq!(close.as_ref().map(|c| c.0), Some(4008), "{close:?}");
        let (mut alive, closed) = reader.await.unwrap();
        assert_eq!(closed, None, "a subscriber answering pings was closed");

        // revoking the key closes every subscription made with it: 1008 (the two never read
        // above were closed by the pings, which freed their slots)
        drop(open);
        let mut fresh = subscribe(srv, &auth).await.expect("slots were freed");
        let (engine, tenant, key) = (
            srv.engine.clone(),
            attacker.id.clone(),
            attacker.agent.clone(),
        );
        srv.on(async move {
            engine
                .store
                .revoke_api_key(&Actor::operator(), &tenant, &key)
                .await
                .unwrap()
        })
        .await;
        let t = Instant::now();
        let closes = futures_util::future::join_all(
            [&mut alive, &mut fresh].map(|ws| close_of(ws, Duration::from_secs(10))),
        )
        .await;
        for close in closes {
            assert_eq!(close.as_ref().map(|c| c.0), Some(1008), "{close:?}");
            assert!(close.unwrap().1.contains("revoked"), "the reason says why");
        }
        assert!(t.elapsed() < Duration::from_secs(8), "{:?}", t.elapsed());

        // signing out closes a browser session's subscription: 1008
        let admin = attacker.admin.clone();
        let r = common::server::http(
            srv.addr,
            "POST",
            "/v1/session",
            &[("Content-Type", "application/json")],
            Some(&json!({"key": admin}).to_string()),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let cookie = format!(
            "callscribe_session={}; callscribe_csrf={}",
            r.cookie("callscribe_session").unwrap(),
            r.cookie("callscribe_csrf").unwrap()
        );
        let csrf = r.cookie("callscribe_csrf").unwrap();
        let mut browser = subscribe(srv, &[("cookie", cookie.as_str())])
            .await
            .expect("the session subscribes");
        let r = common::server::http(
            srv.addr,
            "DELETE",
            "/v1/session",
            &[("Cookie", &cookie), ("X-CSRF-Token", &csrf)],
            None,
        )
        .await;
        assert!(r.status < 300, "sign-out: {} {}", r.status, r.body);
        let close = close_of(&mut browser, Duration::from_secs(10)).await;
        assert_eq!(close.as_ref().map(|c| c.0), Some(1008), "{close:?}");

        let (legit, (close, sent)) = good.await.unwrap();
        assert_kept_every_final(&legit, "CAsubsok", close, sent).await;
    });
}

/// `GET /v1/calls` with `key`, from `from` (a loopback address), with `X-Forwarded-For`.
async fn list_calls_as(from: &str, key: &str, forwarded: Option<&str>) -> u16 {
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind(format!("{from}:0").parse().unwrap()).unwrap();
    let addr = server().addr;
    let stream = sock.connect(addr).await.unwrap();
    let bearer = format!("Bearer {key}");
    let mut headers = vec![("Authorization", bearer.as_str())];
    if let Some(f) = forwarded {
        headers.push(("X-Forwarded-For", f));
    }
    common::server::request_over(
        stream,
        &addr.to_string(),
        "GET",
        "/v1/calls",
        &headers,
        None,
    )
    .await
    .status
}

/// Finding 8: behind one proxy (every peer address the proxy's), a client guessing another
/// client's key cannot lock that client out: with the proxy trusted (`[web] trusted_proxies`)
/// the back-off is keyed by the forwarded client address (and key id). A peer that is not a
/// trusted proxy cannot dodge its back-off by forging `X-Forwarded-For`.
#[test]
fn behind_a_trusted_proxy_one_client_cannot_lock_out_the_others() {
    rt().block_on(async {
        let srv = server();
        let legit = workspace(srv, "proxy-ok").await;
        let victim = workspace(srv, "proxy-victim").await;
        let good = tokio::spawn(async move {
            let r = legitimate_call(&legit, "CAproxyok", 8).await;
            (legit, r)
        });
        // the victim's key id with a wrong secret, from one client behind the proxy
        let prefix: String = victim
            .agent
            .splitn(3, '_')
            .take(2)
            .collect::<Vec<_>>()
            .join("_");
        let wrong = format!("{prefix}_{}", "A".repeat(43));
        let mut statuses = Vec::new();
        for _ in 0..12 {
            statuses.push(list_calls_as("127.0.0.1", &wrong, Some("203.0.113.5")).await);
        }
        assert_eq!(statuses[0], 401);
        assert_eq!(
            statuses.last(),
            Some(&429),
            "the guesser backs off: {statuses:?}"
        );
        // the victim, behind the same proxy, is not locked out
        assert_eq!(
            list_calls_as("127.0.0.1", &victim.agent, Some("198.51.100.7")).await,
            200
        );
        // (the guesser's own address and that key id are: that is the limit working)
        assert_eq!(
            list_calls_as("127.0.0.1", &victim.agent, Some("203.0.113.5")).await,
            429
        );
        // a peer that is not a trusted proxy cannot choose its address
        let mut untrusted = Vec::new();
        for k in 0..12 {
            let forged = format!("198.51.100.{k}");
            untrusted.push(list_calls_as("127.0.0.3", &wrong, Some(&forged)).await);
        }
        assert_eq!(
            untrusted.last(),
            Some(&429),
            "forged X-Forwarded-For does not reset the back-off: {untrusted:?}"
        );
        let (legit, (close, sent)) = good.await.unwrap();
        assert_kept_every_final(&legit, "CAproxyok", close, sent).await;
    });
}

/// Provider authenticity: a workspace with a Twilio auth token configured gets calls only from
/// streams whose upgrade carries a valid `X-Twilio-Signature`; a missing or wrong signature is
/// refused at `start` (1008) and no call is created. Workspaces without a token (the
/// legitimate call) are not affected.
#[test]
fn twilio_streams_into_a_workspace_with_a_token_must_be_signed() {
    rt().block_on(async {
        let srv = server();
        let legit = workspace(srv, "signed-ok").await;
        let signed = common::server::workspace_named(srv, SIGNED_WORKSPACE.into()).await;
        let good = tokio::spawn(async move {
            let r = legitimate_call(&legit, "CAsignedok", 8).await;
            (legit, r)
        });
        let url = format!("{}/v1/ingest/twilio", srv.ws_url());
        let (caller, agent) = sample_call();
        let attempt = |sid: &'static str, signature: Option<String>| {
            let (url, key, caller, agent) = (
                url.clone(),
                signed.ingest.clone(),
                caller.clone(),
                agent.clone(),
            );
            async move {
                let mut req = url.as_str().into_client_request().unwrap();
                if let Some(s) = signature {
                    req.headers_mut()
                        .insert("x-twilio-signature", s.parse().unwrap());
                }
                let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
                ws.send(text(twilio_start(sid, &key, false))).await.unwrap();
                for k in 0..100 {
                    for m in twilio_frame(k, &caller, &agent) {
                        if ws.send(text(m)).await.is_err() {
                            break;
                        }
                    }
                }
                let _ = ws.send(text(json!({"event": "stop"}))).await;
                read_to_close(&mut ws, Duration::from_secs(60))
                    .await
                    .1
                    .map(|c| (u16::from(c.code), c.reason.to_string()))
            }
        };
        let sign = |token: &str| callscribe::ingest::signature::twilio_signature(token, &url);
        let refused = load(&srv.engine.stats.unsigned_refused);
        // signed with the workspace's token: a call
        let close = attempt("CAsigned", Some(sign(TWILIO_TOKEN))).await;
        assert_eq!(close.as_ref().map(|c| c.0), Some(1000), "{close:?}");
        // unsigned, or signed with another token: refused before any audio, no call stored
        for (sid, sig) in [
            ("CAunsigned", None),
            ("CAforged", Some(sign("another token"))),
        ] {
            let close = attempt(sid, sig).await;
            assert_eq!(close.as_ref().map(|c| c.0), Some(1008), "{close:?}");
            assert!(close.unwrap().1.contains("X-Twilio-Signature"));
        }
        assert_eq!(load(&srv.engine.stats.unsigned_refused) - refused, 2);
        let (engine, tenant) = (srv.engine.clone(), signed.id.clone());
        let found = srv
            .on(async move {
                let mut found = Vec::new();
                for sid in ["CAsigned", "CAunsigned", "CAforged"] {
                    found.push(engine.store.find_call(&tenant, sid).await.is_ok());
                }
                found
            })
            .await;
        assert_eq!(
            found,
            [true, false, false],
            "only the signed stream made a call"
        );
        let (legit, (close, sent)) = good.await.unwrap();
        assert_kept_every_final(&legit, "CAsignedok", close, sent).await;
    });
}

/// A CA, and client certificates it issued, in PEM and DER.
struct ClientPki {
    ca_pem: String,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl ClientPki {
    fn new() -> Self {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "callscribe test client CA");
        let ca = params.self_signed(&key).unwrap();
        ClientPki {
            ca_pem: ca.pem(),
            issuer: rcgen::Issuer::new(params, key),
        }
    }

    /// A client certificate for `name` and its key, as rustls wants them.
    fn client(
        &self,
        name: &str,
    ) -> (
        Vec<rustls::pki_types::CertificateDer<'static>>,
        rustls::pki_types::PrivateKeyDer<'static>,
    ) {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec![name.to_string()]).unwrap();
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
    }
}

/// Provider authenticity, mTLS: with `[web.client_certs]` the listener asks for client
/// certificates from the configured CA. The native ingest route here needs one valid for
/// `sbc.example.test`: no certificate, or one for another name, gets 403 before the upgrade.
/// The workspace `mtls-acme` takes ingest (on any route) only with a certificate for
/// `sbc.acme.test`: without it `start` is refused (1008) and no call is created.
#[test]
fn client_certificates_gate_ingest_routes_and_workspaces() {
    use std::sync::Arc;
    let pki = ClientPki::new();
    let dir = tempfile::tempdir().unwrap().keep();
    let ca = dir.join("clients-ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    let server_ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, server_ck.cert.pem()).unwrap();
    std::fs::write(&key, server_ck.signing_key.serialize_pem()).unwrap();
    let srv = start(
        ServeOptions {
            web: callscribe::api::WebConfig {
                client_certs: callscribe::api::mtls::ClientCerts {
                    ca: Some(ca),
                    required: false,
                    routes: [(
                        "/v1/ingest/stream".to_string(),
                        vec!["sbc.example.test".to_string()],
                    )]
                    .into(),
                    tenants: [("mtls-acme".to_string(), vec!["sbc.acme.test".to_string()])].into(),
                },
                tls_handshake_timeout_s: 2,
                ..Default::default()
            },
            tls: Some(callscribe::api::TlsConfig { cert, key }),
        },
        LiveConfig::default(),
    );
    let server_der = server_ck.cert.der().clone();
    rt().block_on(async {
        let plain = common::server::workspace(&srv, "mtls-other").await;
        let acme = common::server::workspace_named(&srv, "mtls-acme".into()).await;
        let connect = |client: Option<&str>| {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(server_der.clone()).unwrap();
            let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
            let config = match client {
                Some(name) => {
                    let (chain, key) = pki.client(name);
                    builder.with_client_auth_cert(chain, key).unwrap()
                }
                None => builder.with_no_client_auth(),
            };
            let addr = srv.addr;
            async move {
                let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
                tokio_rustls::TlsConnector::from(Arc::new(config))
                    .connect("localhost".try_into().unwrap(), tcp)
                    .await
                    .expect("TLS handshake")
            }
        };
        // the native route: 403 without a certificate or with one for another name
        let native = |client: Option<&'static str>, key: String| {
            let s = connect(client);
            async move {
                let mut req = "wss://localhost/v1/ingest/stream"
                    .into_client_request()
                    .unwrap();
                req.headers_mut()
                    .insert("authorization", format!("Bearer {key}").parse().unwrap());
                match tokio_tungstenite::client_async(req, s.await).await {
                    Ok((mut ws, _)) => {
                        let _ = ws.close(None).await;
                        101
                    }
                    Err(tokio_tungstenite::tungstenite::Error::Http(r)) => r.status().as_u16(),
                    Err(e) => panic!("{e}"),
                }
            }
        };
        assert_eq!(native(None, plain.ingest.clone()).await, 403);
        assert_eq!(
            native(Some("other.example.test"), plain.ingest.clone()).await,
            403
        );
        assert_eq!(
            native(Some("sbc.example.test"), plain.ingest.clone()).await,
            101
        );
        // the workspace rule, checked at start (Twilio sends its key there)
        let twilio = |client: Option<&'static str>, sid: &'static str| {
            let s = connect(client);
            let key = acme.ingest.clone();
            async move {
                let req = "wss://localhost/v1/ingest/twilio"
                    .into_client_request()
                    .unwrap();
                let (mut ws, _) = tokio_tungstenite::client_async(req, s.await).await.unwrap();
                ws.send(text(twilio_start(sid, &key, false))).await.unwrap();
                let (caller, agent) = sample_call();
                for k in 0..50 {
                    for m in twilio_frame(k, &caller, &agent) {
                        if ws.send(text(m)).await.is_err() {
                            break;
                        }
                    }
                }
                let _ = ws.send(text(json!({"event": "stop"}))).await;
                let mut close = None;
                while let Ok(Some(msg)) =
                    tokio::time::timeout(Duration::from_secs(60), ws.next()).await
                {
                    match msg {
                        Ok(Message::Close(f)) => {
                            close = f.map(|f| (u16::from(f.code), f.reason.to_string()));
                            break;
                        }
                        Ok(_) => {}
                        Err(_) => break,
                    }
                }
                close
            }
        };
        let refused = twilio(None, "CAmtlsnone").await;
        assert_eq!(refused.as_ref().map(|c| c.0), Some(1008), "{refused:?}");
        assert!(refused.unwrap().1.contains("client certificate"));
        let wrong = twilio(Some("sbc.example.test"), "CAmtlswrong").await;
        assert_eq!(wrong.as_ref().map(|c| c.0), Some(1008), "{wrong:?}");
        let ok = twilio(Some("sbc.acme.test"), "CAmtlsok").await;
        assert_eq!(ok.as_ref().map(|c| c.0), Some(1000), "{ok:?}");
        let (engine, tenant) = (srv.engine.clone(), acme.id.clone());
        let found = srv
            .on(async move {
                let mut found = Vec::new();
                for sid in ["CAmtlsnone", "CAmtlswrong", "CAmtlsok"] {
                    found.push(engine.store.find_call(&tenant, sid).await.is_ok());
                }
                found
            })
            .await;
        assert_eq!(
            found,
            [false, false, true],
            "only the certified stream made a call"
        );
        // a TLS handshake that never finishes (half a ClientHello) is cut at the timeout
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(srv.addr).await.unwrap();
        s.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
            .await
            .unwrap();
        let t = Instant::now();
        let mut buf = [0u8; 64];
        let closed = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        })
        .await;
        assert!(
            closed.is_ok(),
            "a stalled handshake was still open after 10 s"
        );
        assert!(
            t.elapsed() >= Duration::from_millis(1500),
            "{:?}",
            t.elapsed()
        );
    });
}

//! Every abuse scenario of docs/SECURITY.md at once, against a running `callscribe serve` on
//! loopback, for a bounded time: the attacker side of `scripts/measure-abuse.sh` (which runs
//! 8 legitimate calls beside it with `callscribe loadtest` and samples the server's RSS).
//!
//!     cargo run --release --example abuse_load -- --url ws://127.0.0.1:PORT \
//!         --ingest-key K --agent-key K --audio samples/sample-call.wav --seconds 60
//!
//! Each scenario loops until the time is up; counts of what the attacker got are printed as
//! JSON at the end. Loopback only.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Tally = Arc<Mutex<BTreeMap<String, u64>>>;

struct Args {
    url: String,
    ingest: String,
    agent: String,
    audio: String,
    seconds: u64,
}

fn args() -> Args {
    let mut a = Args {
        url: "ws://127.0.0.1:8080".into(),
        ingest: String::new(),
        agent: String::new(),
        audio: "samples/sample-call.wav".into(),
        seconds: 60,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_default();
        match k.as_str() {
            "--url" => a.url = v,
            "--ingest-key" => a.ingest = v,
            "--agent-key" => a.agent = v,
            "--audio" => a.audio = v,
            "--seconds" => a.seconds = v.parse().expect("--seconds N"),
            _ => panic!("unknown argument {k}"),
        }
    }
    assert!(
        a.url.starts_with("ws://127.") || a.url.starts_with("ws://[::1]"),
        "loopback only"
    );
    assert!(
        !a.ingest.is_empty() && !a.agent.is_empty(),
        "--ingest-key and --agent-key"
    );
    a
}

fn count(t: &Tally, what: &str) {
    *t.lock().unwrap().entry(what.to_string()).or_default() += 1;
}

fn mulaw(path: &str) -> Vec<u8> {
    let mut r = hound::WavReader::open(path).expect("a 16-bit WAV");
    let ch = r.spec().channels as usize;
    r.samples::<i16>()
        .step_by(ch)
        .map(|s| callscribe::audio::g711::encode_mulaw(s.unwrap() as f32 / 32768.0))
        .collect()
}

fn start(sid: &str, key: &str) -> Message {
    Message::Text(
        json!({"event": "start", "streamSid": "MZ1", "start": {"callSid": sid, "streamSid": "MZ1",
            "tracks": ["inbound"], "customParameters": {"token": key},
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}})
        .to_string()
        .into(),
    )
}

fn media(ts: u64, payload: &[u8]) -> Message {
    Message::Text(
        json!({"event": "media", "streamSid": "MZ1", "media": {"track": "inbound",
            "timestamp": ts.to_string(),
            "payload": base64::engine::general_purpose::STANDARD.encode(payload)}})
        .to_string()
        .into(),
    )
}

/// How a socket ended: its close code, or "error"/"timeout".
async fn outcome<S>(ws: &mut S, limit: Duration) -> String
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    match tokio::time::timeout(limit, async {
        while let Some(m) = ws.next().await {
            match m {
                Ok(Message::Close(f)) => {
                    return f.map_or("close".into(), |f| u16::from(f.code).to_string());
                }
                Ok(_) => {}
                Err(_) => return "error".to_string(),
            }
        }
        "ended".to_string()
    })
    .await
    {
        Ok(s) => s,
        Err(_) => "timeout".into(),
    }
}

async fn connect(
    url: &str,
    headers: &[(&str, String)],
) -> Result<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    String,
> {
    let mut req = url.into_client_request().unwrap();
    for (k, v) in headers {
        req.headers_mut().insert(
            tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => Err(r.status().as_u16().to_string()),
        Err(e) => Err(format!("{}", e).chars().take(40).collect()),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let a = Arc::new(args());
    let audio = Arc::new(mulaw(&a.audio));
    let until = Instant::now() + Duration::from_secs(a.seconds);
    let tally: Tally = Arc::default();
    let twilio = format!("{}/v1/ingest/twilio", a.url);
    let host = a.url.trim_start_matches("ws://").to_string();
    let mut tasks = Vec::new();
    let mut spawn = |name: &'static str,
                     f: Box<
        dyn Fn(u64) -> futures_util::future::BoxFuture<'static, String> + Send + Sync,
    >| {
        let tally = tally.clone();
        tasks.push(tokio::spawn(async move {
            let mut round = 0;
            while Instant::now() < until {
                let got = f(round).await;
                count(&tally, &format!("{name}: {got}"));
                round += 1;
            }
        }));
    };
    // 1. audio as fast as the socket takes it (3 at once)
    for lane in 0..3 {
        let (a, audio, url) = (a.clone(), audio.clone(), twilio.clone());
        spawn(
            "1 fast replay",
            Box::new(move |r| {
                let (a, audio, url) = (a.clone(), audio.clone(), url.clone());
                Box::pin(async move {
                    let Ok(ws) = connect(&url, &[]).await else {
                        return "refused".into();
                    };
                    let (mut tx, mut rx) = ws.split();
                    let _ = tx
                        .send(start(&format!("CAfast{lane}x{r}"), &a.ingest))
                        .await;
                    let writer = tokio::spawn(async move {
                        for (k, f) in audio.chunks(160).take(3000).enumerate() {
                            if tx.send(media(k as u64 * 20, f)).await.is_err() {
                                return;
                            }
                        }
                        let _ = tx
                            .send(Message::Text(json!({"event": "stop"}).to_string().into()))
                            .await;
                    });
                    let got = outcome(&mut rx, Duration::from_secs(120)).await;
                    writer.abort();
                    got
                })
            }),
        );
    }
    // 2. sockets that never start, pinging (20 at a time)
    for _ in 0..20 {
        let url = twilio.clone();
        spawn(
            "2 no start",
            Box::new(move |_| {
                let url = url.clone();
                Box::pin(async move {
                    let Ok(mut ws) = connect(&url, &[]).await else {
                        return "refused".into();
                    };
                    let pinger = async {
                        loop {
                            tokio::time::sleep(Duration::from_secs(1)).await;
                            if ws.send(Message::Ping(Default::default())).await.is_err() {
                                break;
                            }
                        }
                    };
                    let _ = tokio::time::timeout(Duration::from_secs(30), pinger).await;
                    outcome(&mut ws, Duration::from_secs(5)).await
                })
            }),
        );
    }
    // 3. 60 simultaneous starts of one workspace, each held 5 s
    {
        let (a, url) = (a.clone(), twilio.clone());
        spawn(
            "3 slot grab",
            Box::new(move |r| {
                let (a, url) = (a.clone(), url.clone());
                Box::pin(async move {
                    let mut held = Vec::new();
                    for i in 0..60 {
                        let (a, url) = (a.clone(), url.clone());
                        held.push(tokio::spawn(async move {
                            let Ok(mut ws) = connect(&url, &[]).await else {
                                return "refused".to_string();
                            };
                            let _ = ws.send(start(&format!("CAgrab{r}x{i}"), &a.ingest)).await;
                            for k in 0..250u64 {
                                if ws.send(media(k * 20, &[0xff; 160])).await.is_err() {
                                    break;
                                }
                                tokio::time::sleep(Duration::from_millis(20)).await;
                            }
                            let _ = ws
                                .send(Message::Text(json!({"event": "stop"}).to_string().into()))
                                .await;
                            outcome(&mut ws, Duration::from_secs(30)).await
                        }));
                    }
                    let mut codes = BTreeMap::<String, u32>::new();
                    for h in held {
                        *codes.entry(h.await.unwrap_or_default()).or_default() += 1;
                    }
                    format!("{codes:?}")
                })
            }),
        );
    }
    // 4. wrong keys on the upgrade
    {
        let url = twilio.clone();
        spawn(
            "4 wrong key",
            Box::new(move |_| {
                let url = url.clone();
                Box::pin(async move {
                    let bad = format!("Bearer csk_abcdefgh_{}", "A".repeat(43));
                    match connect(&url, &[("authorization", bad)]).await {
                        Ok(_) => "101".into(),
                        Err(code) => code,
                    }
                })
            }),
        );
    }
    // 5. timestamps jumping a minute each
    {
        let (a, url) = (a.clone(), twilio.clone());
        spawn(
            "5 timestamp jumps",
            Box::new(move |r| {
                let (a, url) = (a.clone(), url.clone());
                Box::pin(async move {
                    let Ok(mut ws) = connect(&url, &[]).await else {
                        return "refused".into();
                    };
                    let _ = ws.send(start(&format!("CAjump{r}"), &a.ingest)).await;
                    for k in 0..900u64 {
                        if ws.send(media(k * 60_000, &[0x7f])).await.is_err() {
                            break;
                        }
                    }
                    outcome(&mut ws, Duration::from_secs(10)).await
                })
            }),
        );
    }
    // 6. reorder flood
    {
        let (a, url) = (a.clone(), twilio.clone());
        spawn(
            "6 reorder flood",
            Box::new(move |r| {
                let (a, url) = (a.clone(), url.clone());
                Box::pin(async move {
                    let Ok(mut ws) = connect(&url, &[]).await else {
                        return "refused".into();
                    };
                    let _ = ws.send(start(&format!("CAreorder{r}"), &a.ingest)).await;
                    let _ = ws.send(media(0, &[0xff; 160])).await;
                    let _ = ws.send(media(190, &[0xff; 160])).await;
                    for ts in (1..180u64).rev() {
                        if ws.send(media(ts, &[0xff; 4000])).await.is_err() {
                            break;
                        }
                    }
                    let _ = ws
                        .send(Message::Text(json!({"event": "stop"}).to_string().into()))
                        .await;
                    outcome(&mut ws, Duration::from_secs(30)).await
                })
            }),
        );
    }
    // 7. subscribers: a 64 KiB message; subscriptions past the cap; one that never reads
    {
        let (a, base) = (a.clone(), a.url.clone());
        spawn(
            "7 subscribers",
            Box::new(move |_| {
                let (a, base) = (a.clone(), base.clone());
                Box::pin(async move {
                    let url = format!("{base}/v1/calls/live");
                    let auth = [("authorization", format!("Bearer {}", a.agent))];
                    let mut open = Vec::new();
                    let mut refused = BTreeMap::<String, u32>::new();
                    for _ in 0..250 {
                        match connect(&url, &auth).await {
                            Ok(ws) => open.push(ws),
                            Err(code) => *refused.entry(code).or_default() += 1,
                        }
                    }
                    if let Some(ws) = open.first_mut() {
                        let _ = ws.send(Message::Text("x".repeat(64 * 1024).into())).await;
                    }
                    tokio::time::sleep(Duration::from_secs(10)).await;
                    format!("{} open, refused {refused:?}", open.len())
                })
            }),
        );
    }
    // 8. slow headers: 50 half requests at a time
    for _ in 0..50 {
        let host = host.clone();
        spawn(
            "8 slow headers",
            Box::new(move |_| {
                let host = host.clone();
                Box::pin(async move {
                    let Ok(mut s) = tokio::net::TcpStream::connect(&host).await else {
                        return "refused".into();
                    };
                    let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await;
                    let t = Instant::now();
                    let mut buf = [0u8; 256];
                    let _ = tokio::time::timeout(Duration::from_secs(60), async {
                        while let Ok(n) = s.read(&mut buf).await {
                            if n == 0 {
                                break;
                            }
                        }
                    })
                    .await;
                    format!("closed after ~{} s", t.elapsed().as_secs())
                })
            }),
        );
    }
    for t in tasks {
        let _ = t.await;
    }
    let out: Value = serde_json::to_value(&*tally.lock().unwrap()).unwrap();
    println!("{}", serde_json::to_string_pretty(&out).unwrap());
}

//! Nothing accepted is lost (issue 19): with real components — a PostgreSQL each test starts in
//! a temporary directory (so it can stop it without touching any other), a SQLite store on a
//! small tmpfs the test fills up, a real `callscribe serve` process killed with SIGKILL, a
//! worker panic injected through the scheduler's test hook — every final a subscriber received
//! is in the store afterwards, and what could not be done is said (close codes, statuses).
//!
//! The durability rule these check (docs/ARCHITECTURE.md): a final is published only once it is
//! stored; while the store is down finals wait (bounded, retried) and new calls are refused
//! with 1013; past the bound the call is closed with 1011 and marked `failed`; a server that
//! stops without closing its calls has them marked `interrupted`.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use callscribe::api::ServeOptions;
use callscribe::live::LiveConfig;
use callscribe::store::{Actor, CallStatus, Role, StoreConfig};
use common::server::{Server, http, start_on};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use zeroize::Zeroizing;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

// ---------------------------------------------------------------------------------------------
// A PostgreSQL of the test's own

/// A PostgreSQL server in a temporary directory on its own loopback port, run as the
/// `postgres` user when the tests run as root (PostgreSQL refuses root). Stopped when dropped.
struct OwnPostgres {
    dir: tempfile::TempDir,
    /// The data directory (in `dir`, or on a disk the test gave).
    data: PathBuf,
    port: u16,
    bin: PathBuf,
}

fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn give_to_postgres(path: &Path) {
    if running_as_root() {
        let ok = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(path)
            .status()
            .unwrap();
        assert!(ok.success(), "chown {} to postgres", path.display());
    }
}

impl OwnPostgres {
    /// Creates and starts a PostgreSQL; its data directory goes under `disk` when given.
    fn start(disk: Option<&Path>) -> OwnPostgres {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL's server programs under /usr/lib/postgresql (scripts/setup.sh installs them)")
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|b| b.join("pg_ctl").is_file())
            .max()
            .expect("pg_ctl under /usr/lib/postgresql/*/bin");
        let dir = tempfile::tempdir().unwrap();
        give_to_postgres(dir.path());
        let data = match disk {
            Some(d) => {
                give_to_postgres(d);
                d.join("pgdata")
            }
            None => dir.path().join("data"),
        };
        let pg = OwnPostgres {
            dir,
            data,
            port: common::free_port(),
            bin,
        };
        let data = pg.data();
        // 1 MiB WAL segments: a small disk holds the cluster and fills quickly
        pg.run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--wal-segsize=1",
            ],
        );
        pg.up();
        pg
    }

    fn data(&self) -> String {
        self.data.display().to_string()
    }

    fn run(&self, program: &str, args: &[&str]) {
        let exe = self.bin.join(program);
        let mut cmd = if running_as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let out = cmd.args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{program} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts the server (again) and waits until it takes connections.
    fn up(&self) {
        let opts = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c max_connections=40",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("server.log").display().to_string();
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-l",
                &log,
                "-o",
                &opts,
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
    }

    /// Stops the server at once, as a crash or a pulled cable would (no clean shutdown).
    fn down(&self) {
        self.run(
            "pg_ctl",
            &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
        );
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn store_config(&self, data_dir: &Path, master_key: &str) -> StoreConfig {
        StoreConfig {
            database_url: Some(self.url()),
            master_key: Some(Zeroizing::new(master_key.to_string())),
            ..StoreConfig::new(data_dir, None)
        }
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let exe = self.bin.join("pg_ctl");
        let data = self.data();
        let args = ["-D", data.as_str(), "-m", "immediate", "stop"];
        let _ = if running_as_root() {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&exe)
                .args(args)
                .stderr(Stdio::null())
                .stdout(Stdio::null())
                .status()
        } else {
            Command::new(&exe)
                .args(args)
                .stderr(Stdio::null())
                .stdout(Stdio::null())
                .status()
        };
    }
}

fn random_master_key() -> String {
    let mut k = [0u8; 32];
    getrandom::fill(&mut k).unwrap();
    base64::engine::general_purpose::STANDARD.encode(k)
}

// ---------------------------------------------------------------------------------------------
// A SQLite store on a small filesystem of the test's own

/// A tmpfs of `mib` MiB mounted in a temporary directory (the tests run as root on the
/// machines they are written for: mounting is how the disk really fills up). Unmounted when
/// dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(mib: u32) -> SmallDisk {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={mib}m,mode=0700"),
                "tmpfs",
            ])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "the disk-full tests mount a small tmpfs (they need root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        SmallDisk { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a filler file until the filesystem refuses more (ENOSPC).
    fn fill(&self) {
        use std::io::Write;
        let mut f = std::fs::File::create(self.path().join("filler")).unwrap();
        let chunk = vec![0x5au8; 64 * 1024];
        loop {
            match f.write(&chunk) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    assert_eq!(e.raw_os_error(), Some(28), "ENOSPC expected: {e}");
                    break;
                }
            }
        }
        let _ = f.sync_all();
    }

    fn free(&self) {
        std::fs::remove_file(self.path().join("filler")).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

// ---------------------------------------------------------------------------------------------
// Calls and subscribers

/// The sample call: 8 kHz 16-bit stereo (caller, agent), about 33 s.
fn sample_call() -> (Vec<i16>, Vec<i16>) {
    let mut r = hound::WavReader::open(common::repo().join("samples/sample-call.wav")).unwrap();
    let s: Vec<i16> = r.samples::<i16>().map(Result::unwrap).collect();
    (
        s.iter().step_by(2).copied().collect(),
        s.iter().skip(1).step_by(2).copied().collect(),
    )
}

fn mulaw(samples: &[i16]) -> Vec<u8> {
    samples
        .iter()
        .map(|&s| callscribe::audio::g711::encode_mulaw(s as f32 / 32768.0))
        .collect()
}

fn text(v: Value) -> Message {
    Message::Text(v.to_string().into())
}

async fn connect(base: &str, path: &str, bearer: Option<&str>) -> Ws {
    let mut req = format!("{base}{path}").into_client_request().unwrap();
    if let Some(k) = bearer {
        req.headers_mut()
            .insert("authorization", format!("Bearer {k}").parse().unwrap());
    }
    tokio_tungstenite::connect_async(req).await.unwrap().0
}

fn twilio_start(sid: &str, token: &str) -> Value {
    json!({"event": "start", "sequenceNumber": "1", "streamSid": "MZ1", "start": {"accountSid": "AC1", "streamSid": "MZ1",
        "callSid": sid, "tracks": ["inbound", "outbound"], "customParameters": {"token": token},
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}})
}

/// Streams the sample call over Twilio's protocol in real time, then `stop`; returns the close
/// code the server sent (`None` if the connection broke without one). The server may close
/// first (a failed call): sending stops then.
async fn stream_call(base: String, ingest: String, sid: String) -> Option<u16> {
    let (caller, agent) = sample_call();
    let (a, b) = (mulaw(&caller), mulaw(&agent));
    let ws = connect(&base, "/v1/ingest/twilio", None).await;
    let (mut tx, mut rx) = ws.split();
    let reader = tokio::spawn(async move {
        while let Some(msg) = rx.next().await {
            match msg {
                Ok(Message::Close(f)) => return f.map(|f| u16::from(f.code)),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
        None
    });
    let send = async {
        tx.send(text(twilio_start(&sid, &ingest))).await?;
        let t0 = tokio::time::Instant::now();
        for k in 0..a.len().div_ceil(160) {
            tokio::time::sleep_until(t0 + Duration::from_millis(k as u64 * 20)).await;
            for (track, audio) in [("inbound", &a), ("outbound", &b)] {
                let mut f = audio
                    .get(k * 160..((k + 1) * 160).min(audio.len()))
                    .unwrap_or(&[])
                    .to_vec();
                f.resize(160, 0xff);
                let m = json!({"event": "media", "sequenceNumber": (k + 2).to_string(), "streamSid": "MZ1",
                    "media": {"track": track, "chunk": (k + 1).to_string(), "timestamp": (k * 20).to_string(),
                    "payload": base64::engine::general_purpose::STANDARD.encode(&f)}});
                tx.send(text(m)).await?;
            }
        }
        tx.send(text(json!({"event": "stop"}))).await
    };
    // a send fails once the server has closed: the reader has its close frame then
    let _ = send.await;
    tokio::time::timeout(Duration::from_secs(240), reader)
        .await
        .expect("the server closes the call within the limit")
        .unwrap()
}

/// A call start that must be refused: the close code and reason.
async fn refused_start(base: &str, ingest: &str) -> (u16, String) {
    let mut ws = connect(base, "/v1/ingest/twilio", None).await;
    ws.send(text(twilio_start("CArefused", ingest)))
        .await
        .unwrap();
    let r = tokio::time::timeout(Duration::from_secs(45), async {
        while let Some(msg) = ws.next().await {
            match msg {
                Ok(Message::Close(Some(f))) => return (u16::from(f.code), f.reason.to_string()),
                Ok(Message::Close(None)) | Err(_) => break,
                Ok(_) => {}
            }
        }
        (0, String::new())
    })
    .await;
    r.expect("a refused call is closed at once")
}

/// What a subscriber of `/v1/calls/live` received about the first call it saw start.
#[derive(Debug, Default)]
struct Seen {
    call: Option<String>,
    /// seq → (text, when it arrived)
    finals: BTreeMap<u64, (String, Instant)>,
    ended: Option<Value>,
}

type Shared = Arc<std::sync::Mutex<Seen>>;

/// Follows `/v1/calls/live` until the first call it saw ends or the socket drops.
async fn follow(base: String, agent: String, seen: Shared) {
    let mut ws = connect(&base, "/v1/calls/live", Some(&agent)).await;
    while let Some(Ok(msg)) = ws.next().await {
        let Message::Text(t) = msg else { continue };
        let v: Value = serde_json::from_str(t.as_str()).unwrap();
        let mut s = seen.lock().unwrap();
        match v["type"].as_str() {
            Some("call_started") if s.call.is_none() => {
                s.call = v["call_id"].as_str().map(str::to_string);
            }
            Some("transcript")
                if v["is_final"] == true && v["call_id"].as_str() == s.call.as_deref() =>
            {
                if let Some(seq) = v["seq"].as_u64() {
                    let previous = s.finals.insert(
                        seq,
                        (v["text"].as_str().unwrap().to_string(), Instant::now()),
                    );
                    assert!(previous.is_none(), "final {seq} was published twice");
                }
            }
            Some("call_ended") if v["call_id"].as_str() == s.call.as_deref() => {
                s.ended = Some(v);
                return;
            }
            _ => {}
        }
    }
}

async fn wait_for(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let until = Instant::now() + limit;
    while !ok() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every final the subscriber saw is in the stored transcript, under its seq, with its text.
fn assert_seen_finals_are_stored(seen: &Seen, stored: &callscribe::transcript::Transcript) {
    for (seq, (text, _)) in &seen.finals {
        let s = stored
            .segments
            .get(*seq as usize)
            .unwrap_or_else(|| panic!("final {seq} was published but is not in the store"));
        assert_eq!(
            &s.text, text,
            "final {seq}: the stored text is what was published"
        );
    }
}

/// The server's warnings and errors on stderr (these tests provoke them: they show what the
/// server said about each outage when a test fails).
fn show_server_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("callscribe=warn"))
        .with_writer(std::io::stderr)
        .try_init();
}

fn live_config() -> LiveConfig {
    show_server_logs();
    LiveConfig {
        heartbeat_s: 1,
        node_dead_after_s: 3,
        ..LiveConfig::default()
    }
}

/// A workspace with an ingest and an agent key, made in the server's store.
async fn keys(srv: &Server) -> (String, String, String) {
    let engine = srv.engine.clone();
    srv.on(async move {
        let op = Actor::operator();
        let name = format!("dur-{}", &callscribe::sys::random_id("")[..8]);
        let t = engine.store.create_tenant(&op, &name, None).await.unwrap();
        let mut k = Vec::new();
        for role in [Role::Ingest, Role::Agent] {
            k.push(
                engine
                    .store
                    .create_api_key(&op, &t.id, role, None)
                    .await
                    .unwrap()
                    .secret
                    .to_string(),
            );
        }
        (t.id, k[0].clone(), k[1].clone())
    })
    .await
}

async fn stored_call(
    srv: &Server,
    tenant: &str,
    call: &str,
) -> (
    callscribe::store::CallInfo,
    callscribe::transcript::Transcript,
) {
    let (engine, tenant, call) = (srv.engine.clone(), tenant.to_string(), call.to_string());
    srv.on(async move {
        engine
            .store
            .transcript(&Actor::operator(), &tenant, &call)
            .await
            .unwrap()
    })
    .await
}

async fn audit_verifies(srv: &Server) {
    let engine = srv.engine.clone();
    let report = srv
        .on(async move { engine.store.verify_audit().await.unwrap() })
        .await;
    assert!(report.broken.is_none(), "audit chain: {:?}", report.broken);
}

async fn readyz(srv: &Server) -> u16 {
    http(srv.addr, "GET", "/readyz", &[], None).await.status
}

// ---------------------------------------------------------------------------------------------
// Store outages

/// Streams the sample call; after its first final, `begin` takes the store away and `end`
/// gives it back `hold` later. Checks the outage was seen (`/readyz` 503, a new call refused
/// with 1013, a write failed), that no final was published while the store could not take it,
/// and afterwards that the call completed with every final stored and published exactly once
/// and the audit chain intact.
async fn a_call_loses_nothing_across(
    srv: &Server,
    hold: Duration,
    begin: impl FnOnce(),
    end: impl FnOnce(),
) {
    let (tenant, ingest, agent) = keys(srv).await;
    let seen = Shared::default();
    let follower = tokio::spawn(follow(srv.ws_url(), agent, seen.clone()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let call = tokio::spawn(stream_call(srv.ws_url(), ingest.clone(), "CAoutage".into()));
    wait_for("a first final", Duration::from_secs(40), || {
        !seen.lock().unwrap().finals.is_empty()
    })
    .await;
    let began = Instant::now();
    begin();
    let until = Instant::now() + Duration::from_secs(40);
    loop {
        let r = http(srv.addr, "GET", "/readyz", &[], None).await;
        if r.status == 503 && r.json()["error"]["code"] == "store_unavailable" {
            break;
        }
        assert!(
            Instant::now() < until,
            "/readyz is not ready while the store is down: {} {}",
            r.status,
            r.body
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let seen_down = Instant::now();
    let (code, reason) = refused_start(&srv.ws_url(), &ingest).await;
    assert_eq!(code, 1013, "{reason}");
    assert!(
        reason.contains("store") || reason.contains("try again"),
        "{reason}"
    );
    tokio::time::sleep(hold.saturating_sub(began.elapsed())).await;
    let health = &srv.engine.store_health;
    assert!(
        health
            .write_failures
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0,
        "a write failed during the outage"
    );
    let published_while_down = seen
        .lock()
        .unwrap()
        .finals
        .values()
        .filter(|(_, at)| *at > seen_down)
        .count();
    assert_eq!(
        published_while_down, 0,
        "no final is published while it cannot be stored"
    );
    end();
    let back = Instant::now();
    assert_eq!(call.await.unwrap(), Some(1000), "the call ends normally");
    tokio::time::timeout(Duration::from_secs(60), follower)
        .await
        .expect("the subscriber sees the call end")
        .unwrap();
    // the subscriber is done: what it saw, out of the lock
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    let after = seen.finals.values().filter(|(_, at)| *at >= back).count();
    let timeline: Vec<(u64, f32)> = seen
        .finals
        .iter()
        .map(|(seq, (_, at))| (*seq, at.duration_since(began).as_secs_f32()))
        .collect();
    assert!(
        after > 0,
        "finals held during the outage are published once stored (back at {:.1} s): {timeline:?} {:?}",
        back.duration_since(began).as_secs_f32(),
        seen.ended
    );
    let ended = seen.ended.as_ref().unwrap();
    assert_eq!(ended["status"], "complete", "{ended}");
    assert!(ended.get("finals_not_stored").is_none(), "{ended}");
    let (info, transcript) = stored_call(srv, &tenant, seen.call.as_ref().unwrap()).await;
    assert_eq!(info.status, CallStatus::Complete);
    assert_eq!(
        transcript.segments.len(),
        seen.finals.len(),
        "every stored final was published, and every published one stored"
    );
    assert_seen_finals_are_stored(&seen, &transcript);
    assert_eq!(ended["segments"], seen.finals.len());
    assert_eq!(
        health
            .finals_lost
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    let until = Instant::now() + Duration::from_secs(15);
    while readyz(srv).await != 200 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(readyz(srv).await, 200, "ready again");
    audit_verifies(srv).await;
}

/// PostgreSQL stops (immediate: as a crash would) mid-call for 60 s and comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_outage_of_60_s_mid_call_loses_no_final() {
    let pg = OwnPostgres::start(None);
    let dir = tempfile::tempdir().unwrap();
    let srv = start_on(
        ServeOptions::default(),
        live_config(),
        Some(pg.store_config(dir.path(), &random_master_key())),
    );
    a_call_loses_nothing_across(&srv, Duration::from_secs(60), || pg.down(), || pg.up()).await;
}

/// Another process holds SQLite's write lock for 30 s mid-call (the embedded store's outage:
/// every write waits, then times out).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_write_lock_held_30_s_mid_call_loses_no_final() {
    let srv = start_on(ServeOptions::default(), live_config(), None);
    let db = srv.dir.join("callscribe.db");
    let (lock_tx, lock_rx) = std::sync::mpsc::channel::<()>();
    let (held_tx, held_rx) = std::sync::mpsc::channel::<()>();
    // a thread of its own with its own runtime: the lock is held across the test's awaits
    let holder = std::thread::spawn(move || {
        lock_rx.recv().unwrap();
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async move {
                use sqlx::Connection as _;
                sqlx::any::install_default_drivers();
                let mut conn = sqlx::AnyConnection::connect(&format!("sqlite://{}", db.display()))
                    .await
                    .unwrap();
                sqlx::query("BEGIN EXCLUSIVE")
                    .execute(&mut conn)
                    .await
                    .unwrap();
                held_tx.send(()).unwrap();
                let _ = tokio::task::spawn_blocking(move || lock_rx.recv()).await;
                sqlx::query("ROLLBACK").execute(&mut conn).await.unwrap();
                conn.close().await.unwrap();
            });
    });
    let release = lock_tx.clone();
    a_call_loses_nothing_across(
        &srv,
        Duration::from_secs(30),
        move || {
            lock_tx.send(()).unwrap();
            held_rx.recv().unwrap();
        },
        move || release.send(()).unwrap(),
    )
    .await;
    holder.join().unwrap();
}

/// SQLite's disk fills up mid-call — a real ENOSPC: the store is on a small tmpfs the test
/// fills — then has room again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_under_sqlite_mid_call_loses_no_final() {
    let disk = SmallDisk::mount(16);
    let srv = start_on(
        ServeOptions::default(),
        live_config(),
        Some(StoreConfig::new(disk.path().join("data"), None)),
    );
    a_call_loses_nothing_across(
        &srv,
        Duration::from_secs(15),
        || disk.fill(),
        || disk.free(),
    )
    .await;
}

/// Past the retry bound (`store_retry_s`) the call is closed with 1011 and ends `failed`; the
/// finals stored before stay stored, no unstored one was published, and the call's end is
/// recorded once the store is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_retry_bound_the_call_is_closed_with_1011_and_what_was_stored_stays() {
    let disk = SmallDisk::mount(16);
    let srv = start_on(
        ServeOptions::default(),
        LiveConfig {
            store_retry_s: 3,
            ..live_config()
        },
        Some(StoreConfig::new(disk.path().join("data"), None)),
    );
    let (tenant, ingest, agent) = keys(&srv).await;
    let seen = Shared::default();
    let follower = tokio::spawn(follow(srv.ws_url(), agent, seen.clone()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let call = tokio::spawn(stream_call(srv.ws_url(), ingest, "CAbound".into()));
    wait_for("a first final", Duration::from_secs(40), || {
        !seen.lock().unwrap().finals.is_empty()
    })
    .await;
    disk.fill();
    let code = tokio::time::timeout(Duration::from_secs(60), call)
        .await
        .expect("the call is closed once a final waited past the bound")
        .unwrap();
    assert_eq!(code, Some(1011));
    tokio::time::timeout(Duration::from_secs(30), follower)
        .await
        .expect("the subscriber sees the call end")
        .unwrap();
    disk.free();
    // the subscriber is done: what it saw, out of the lock
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    let ended = seen.ended.as_ref().unwrap();
    assert_eq!(ended["status"], "failed", "{ended}");
    assert!(ended["finals_not_stored"].as_u64() > Some(0), "{ended}");
    let health = &srv.engine.store_health;
    assert!(
        health
            .finals_lost
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0
    );
    let call_id = seen.call.clone().unwrap();
    let mut status = CallStatus::Open;
    let until = Instant::now() + Duration::from_secs(30);
    while status == CallStatus::Open && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(500)).await;
        status = stored_call(&srv, &tenant, &call_id).await.0.status;
    }
    assert_eq!(
        status,
        CallStatus::Failed,
        "the end is recorded once the disk has room"
    );
    let (_, transcript) = stored_call(&srv, &tenant, &call_id).await;
    assert_eq!(transcript.segments.len(), seen.finals.len());
    assert_seen_finals_are_stored(&seen, &transcript);
    assert_eq!(readyz(&srv).await, 200);
    audit_verifies(&srv).await;
}

// ---------------------------------------------------------------------------------------------
// A worker panic

async fn worker_panic_fails_one_utterance(store: Option<StoreConfig>) {
    let srv = start_on(
        ServeOptions::default(),
        LiveConfig {
            // every job is a final: the injected panic hits an utterance that must be stored
            interim_every_ms: 0,
            ..live_config()
        },
        store,
    );
    let (tenant, ingest, agent) = keys(&srv).await;
    srv.engine.queue.inject_worker_panics(1);
    let seen = Shared::default();
    let follower = tokio::spawn(follow(srv.ws_url(), agent, seen.clone()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let code = stream_call(srv.ws_url(), ingest, "CApanic".into()).await;
    assert_eq!(code, Some(1000), "the call goes on and ends normally");
    tokio::time::timeout(Duration::from_secs(30), follower)
        .await
        .expect("the subscriber sees the call end")
        .unwrap();
    let panics = srv
        .engine
        .queue
        .stats
        .worker_panics
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(panics, 1, "the injected panic happened once");
    // the subscriber is done: what it saw, out of the lock
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    assert_eq!(seen.ended.as_ref().unwrap()["status"], "complete");
    let (info, transcript) = stored_call(&srv, &tenant, seen.call.as_ref().unwrap()).await;
    assert_eq!(info.status, CallStatus::Complete);
    // the sample call has a dozen utterances: one failed, the replaced worker did the rest
    assert!(
        transcript.segments.len() >= 5,
        "the worker went on after the panic: {} finals",
        transcript.segments.len()
    );
    assert_eq!(transcript.segments.len(), seen.finals.len());
    assert_seen_finals_are_stored(&seen, &transcript);
    let metrics = http(srv.addr, "GET", "/metrics", &[], None).await;
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .body
            .contains("callscribe_asr_worker_panics_total 1"),
        "counted in /metrics"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_panic_fails_its_utterance_alone_on_sqlite() {
    worker_panic_fails_one_utterance(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_panic_fails_its_utterance_alone_on_postgres() {
    let pg = OwnPostgres::start(None);
    let dir = tempfile::tempdir().unwrap();
    worker_panic_fails_one_utterance(Some(pg.store_config(dir.path(), &random_master_key()))).await;
}

// ---------------------------------------------------------------------------------------------
// kill -9 of a real `serve`

/// A `callscribe serve` process on a store.
struct ServeProcess {
    child: Child,
    base: String,
    log: PathBuf,
}

impl ServeProcess {
    fn start(store: &ProcStore, port: u16, node: &str, log: PathBuf) -> ServeProcess {
        let config = store.dir.path().join(format!("{node}.toml"));
        std::fs::write(
            &config,
            format!("[live]\nnode_id = \"{node}\"\nheartbeat_s = 1\nnode_dead_after_s = 3\n"),
        )
        .unwrap();
        let listen = format!("127.0.0.1:{port}");
        let config_arg = config.display().to_string();
        let mut cmd = store.command(&[
            "serve",
            "--workers",
            "1",
            "--threads",
            "1",
            "--listen",
            &listen,
            "--config",
            &config_arg,
        ]);
        cmd.stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        ServeProcess {
            child: cmd.spawn().unwrap(),
            base: format!("127.0.0.1:{port}"),
            log,
        }
    }

    async fn ready(&mut self) {
        let addr: std::net::SocketAddr = self.base.parse().unwrap();
        let until = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "serve exited ({status}): {}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            if TcpStream::connect(addr).await.is_ok()
                && http(addr, "GET", "/readyz", &[], None).await.status == 200
            {
                return;
            }
            assert!(Instant::now() < until, "serve is not ready within 60 s");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn ws(&self) -> String {
        format!("ws://{}", self.base)
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The store a `serve` process runs on, as the command line is given it.
struct ProcStore {
    dir: tempfile::TempDir,
    pg: Option<(OwnPostgres, String)>,
}

impl ProcStore {
    /// `callscribe ARGS --data-dir …` with the store's URL and master key in the environment.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_callscribe"));
        cmd.current_dir(common::repo())
            .env("CALLSCRIBE_LOG", "info")
            .env_remove("CALLSCRIBE_MASTER_KEY")
            .env_remove("CALLSCRIBE_DATABASE_URL")
            .args(args)
            .arg("--data-dir")
            .arg(self.dir.path().join("data"));
        if let Some((pg, key)) = &self.pg {
            cmd.env("CALLSCRIBE_DATABASE_URL", pg.url())
                .env("CALLSCRIBE_MASTER_KEY", key);
        }
        cmd
    }

    fn run(&self, args: &[&str]) -> String {
        let out = self.command(args).output().unwrap();
        assert!(
            out.status.success(),
            "callscribe {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    fn config(&self) -> StoreConfig {
        match &self.pg {
            Some((pg, key)) => pg.store_config(&self.dir.path().join("data"), key),
            None => StoreConfig::new(self.dir.path().join("data"), None),
        }
    }
}

/// `serve` is killed with SIGKILL mid-call and started again on the same store: every final a
/// subscriber received is stored, the call reads `interrupted` (not `open`), the audit chain
/// verifies. `same_node`: the restart takes the dead server's node id (it recovers the call at
/// once); otherwise it is another node, which recovers it once the dead one's heartbeat is stale.
async fn kill_9_mid_call(store: ProcStore, same_node: bool) {
    let tenant = format!("kill-{}", &callscribe::sys::random_id("")[..6]);
    store.run(&["tenant", "create", &tenant]);
    let ingest = store.run(&["key", "create", "--tenant", &tenant, "--role", "ingest"]);
    let agent = store.run(&["key", "create", "--tenant", &tenant, "--role", "agent"]);
    let port = common::free_port();
    let logs = store.dir.path().to_path_buf();
    let mut first = ServeProcess::start(&store, port, "node-a", logs.join("first.log"));
    first.ready().await;
    let seen = Shared::default();
    let follower = tokio::spawn(follow(first.ws(), agent.clone(), seen.clone()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let call = tokio::spawn(stream_call(first.ws(), ingest, "CAkill9".into()));
    wait_for("two finals", Duration::from_secs(60), || {
        seen.lock().unwrap().finals.len() >= 2
    })
    .await;
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(30), call).await;
    let _ = tokio::time::timeout(Duration::from_secs(30), follower).await;
    let (call_id, finals) = {
        let s = seen.lock().unwrap();
        assert!(s.ended.is_none(), "killed before the call ended");
        (s.call.clone().unwrap(), s.finals.len())
    };
    assert!(finals >= 2);
    let (node, port) = if same_node {
        ("node-a", port)
    } else {
        ("node-b", common::free_port())
    };
    let mut second = ServeProcess::start(&store, port, node, logs.join("second.log"));
    second.ready().await;
    sqlx::any::install_default_drivers();
    let reader = callscribe::store::Store::open(&store.config())
        .await
        .unwrap();
    let tenant_id = reader
        .list_tenants()
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.name == tenant)
        .unwrap()
        .id;
    let op = Actor::operator();
    let until = Instant::now() + Duration::from_secs(30);
    let (info, transcript) = loop {
        let (info, transcript) = reader.transcript(&op, &tenant_id, &call_id).await.unwrap();
        if info.status != CallStatus::Open || Instant::now() > until {
            break (info, transcript);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(
        info.status,
        CallStatus::Interrupted,
        "the killed server's call is marked interrupted by the restarted one"
    );
    assert!(info.ended_at.is_some());
    assert_seen_finals_are_stored(&seen.lock().unwrap(), &transcript);
    let report = reader.verify_audit().await.unwrap();
    assert!(report.broken.is_none(), "audit chain: {:?}", report.broken);
    // and the operator's command says so too (it exits non-zero on a broken chain)
    store.run(&["audit", "verify"]);
    drop(second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_call_on_sqlite_then_restart_recovers_the_call() {
    let store = ProcStore {
        dir: tempfile::tempdir().unwrap(),
        pg: None,
    };
    kill_9_mid_call(store, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_call_on_postgres_then_another_node_recovers_the_call() {
    let store = ProcStore {
        dir: tempfile::tempdir().unwrap(),
        pg: Some((OwnPostgres::start(None), random_master_key())),
    };
    kill_9_mid_call(store, false).await;
}

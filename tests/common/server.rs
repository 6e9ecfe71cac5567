//! A real `callscribe serve` in the test process (real model, SQLite store, loopback) and a
//! small HTTP/1.1 client for the API tests.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use callscribe::api::ServeOptions;
use callscribe::asr::{DecodeOptions, PoolLayout};
use callscribe::live::{Engine, LiveConfig};
use callscribe::redact::{EntityKind, Span};
use callscribe::store::{Actor, CallStatus, NewCall, NewSegment, Role, Store, StoreConfig};
use callscribe::transcript::TranscriptSegment;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub struct Server {
    pub addr: SocketAddr,
    pub engine: Arc<Engine>,
    pub rt: tokio::runtime::Handle,
    pub dir: PathBuf,
}

impl Server {
    /// Runs `f` on the server's runtime (the store's connections live there).
    pub async fn on<T: Send + 'static>(
        &self,
        f: impl std::future::Future<Output = T> + Send + 'static,
    ) -> T {
        self.rt.spawn(f).await.unwrap()
    }

    pub fn http_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.addr)
    }
}

/// Starts a server on its own runtime thread; it runs until the test process ends.
pub fn start(opts: ServeOptions, live: LiveConfig) -> Server {
    start_on(opts, live, None)
}

/// [`start`] on the given store (`None`: SQLite in a new temporary directory).
pub fn start_on(opts: ServeOptions, live: LiveConfig, store: Option<StoreConfig>) -> Server {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let dir = tempfile::tempdir().unwrap().keep();
            let config = store.unwrap_or_else(|| StoreConfig {
                master_key: None,
                ..StoreConfig::new(&dir, None)
            });
            let store = Store::open(&config).await.unwrap();
            let redactor = callscribe::cli::load_redactor(None).unwrap();
            let engine = Engine::new(
                super::model(),
                PoolLayout {
                    workers: 1,
                    threads: 1,
                },
                DecodeOptions::default(),
                store,
                redactor,
                live,
            )
            .unwrap();
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            tx.send(Server {
                addr,
                engine: engine.clone(),
                rt: tokio::runtime::Handle::current(),
                dir,
            })
            .unwrap();
            callscribe::api::serve(engine, listener, opts, std::future::pending())
                .await
                .unwrap();
        });
    });
    rx.recv().unwrap()
}

/// A workspace with a key of every role and one finished call of two segments (one with a
/// phone number redaction).
pub struct Workspace {
    pub id: String,
    pub ingest: String,
    pub agent: String,
    pub admin: String,
    pub auditor: String,
    pub call: String,
}

impl Workspace {
    pub fn key(&self, role: Role) -> &str {
        match role {
            Role::Ingest => &self.ingest,
            Role::Agent => &self.agent,
            Role::Admin => &self.admin,
            Role::Auditor => &self.auditor,
        }
    }
}

pub async fn workspace(srv: &Server, name: &str) -> Workspace {
    workspace_named(
        srv,
        format!("{name}-{}", &callscribe::sys::random_id("")[..6]),
    )
    .await
}

/// A workspace with exactly this name (for settings keyed by it), its four keys and a call.
pub async fn workspace_named(srv: &Server, name: String) -> Workspace {
    let engine = srv.engine.clone();
    srv.on(async move {
        let store = &engine.store;
        let op = Actor::operator();
        let t = store.create_tenant(&op, &name, None).await.unwrap();
        let mut keys = Vec::new();
        for role in [Role::Ingest, Role::Agent, Role::Admin, Role::Auditor] {
            keys.push(
                store
                    .create_api_key(&op, &t.id, role, None)
                    .await
                    .unwrap()
                    .secret
                    .to_string(),
            );
        }
        let call = stored_call(store, &t.id).await;
        Workspace {
            id: t.id,
            ingest: keys[0].clone(),
            agent: keys[1].clone(),
            admin: keys[2].clone(),
            auditor: keys[3].clone(),
            call,
        }
    })
    .await
}

/// A finished two-segment call in the store.
pub async fn stored_call(store: &Store, tenant: &str) -> String {
    let op = Actor::operator();
    let call = store
        .create_call(
            &op,
            tenant,
            &NewCall {
                external_id: format!("CA{}", callscribe::sys::random_id("")),
                provider: "twilio".into(),
                tracks: vec!["caller".into(), "agent".into()],
                started_at: callscribe::sys::now(),
            },
        )
        .await
        .unwrap();
    let text = "you can reach me on [PHONE] after five";
    let start = text.find("[PHONE]").unwrap();
    let segs = [
        TranscriptSegment {
            start: 0.5,
            end: 2.0,
            speaker: "agent".into(),
            text: "thank you for calling how can I help".into(),
            words: vec![],
            redactions: vec![],
            policy_version: 1,
        },
        TranscriptSegment {
            start: 2.5,
            end: 5.0,
            speaker: "caller".into(),
            text: text.into(),
            words: vec![],
            redactions: vec![Span {
                kind: EntityKind::Phone,
                start,
                end: start + 7,
                t_start: None,
                t_end: None,
            }],
            policy_version: 1,
        },
    ];
    for (i, s) in segs.iter().enumerate() {
        store
            .append_segment(
                &op,
                tenant,
                &call,
                NewSegment {
                    seq: i as u64,
                    segment: s,
                },
            )
            .await
            .unwrap();
    }
    store
        .finish_call(
            &op,
            tenant,
            &call,
            CallStatus::Complete,
            callscribe::sys::now(),
        )
        .await
        .unwrap();
    call
}

/// An HTTP response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// The stable error code of a JSON error.
    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// `name=value` of a Set-Cookie header.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers_named("set-cookie").into_iter().find_map(|c| {
            let first = c.split(';').next()?;
            let (k, v) = first.split_once('=')?;
            (k == name).then(|| v.to_string())
        })
    }
}

/// One request over a fresh connection (`Connection: close`), bounded in time.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Resp {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    request_over(stream, &addr.to_string(), method, path, headers, body).await
}

/// One HTTP/1.1 request over any stream (plain or TLS).
pub async fn request_over<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut stream: S,
    host: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Resp {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    let body = body.unwrap_or("");
    if !body.is_empty() || !matches!(method, "GET" | "HEAD") {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    req.push_str(body);
    let mut raw = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(30), async {
        stream.write_all(req.as_bytes()).await.unwrap();
        let _ = stream.read_to_end(&mut raw).await;
    })
    .await
    .expect("the server answers within 30 s");
    parse(&raw)
}

fn parse(raw: &[u8]) -> Resp {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"))
    {
        let mut out = Vec::new();
        let mut rest = &body[..];
        while let Some(nl) = rest.windows(2).position(|w| w == b"\r\n") {
            let size =
                usize::from_str_radix(String::from_utf8_lossy(&rest[..nl]).trim(), 16).unwrap_or(0);
            if size == 0 {
                break;
            }
            out.extend_from_slice(&rest[nl + 2..nl + 2 + size]);
            rest = &rest[nl + 2 + size + 2..];
        }
        body = out;
    }
    Resp {
        status,
        headers,
        body: String::from_utf8_lossy(&body).to_string(),
    }
}

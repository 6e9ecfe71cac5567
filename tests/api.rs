//! The REST API, sessions and hardening over real loopback HTTP, WebSocket and TLS
//! connections: every route × every role, tenant isolation (404, not 403), expired and revoked
//! keys, rate limits, brute-force back-off, CSRF, security headers, TLS 1.3.

mod common;

use std::sync::Arc;
use std::time::Duration;

use callscribe::api::config::SecurityTxt;
use callscribe::api::limits::LimitsConfig;
use callscribe::api::{ROUTES, ServeOptions, TlsConfig, WebConfig};
use callscribe::live::LiveConfig;
use callscribe::store::Role;
use common::server::{Resp, Server, Workspace, http, start, stored_call, workspace};
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const ROLES: [Role; 4] = [Role::Ingest, Role::Agent, Role::Admin, Role::Auditor];

fn security_txt() -> SecurityTxt {
    SecurityTxt {
        contact: vec!["mailto:security@example.com".into()],
        expires: "2027-06-30T00:00:00Z".into(),
        encryption: vec![],
        acknowledgments: None,
        preferred_languages: Some("en".into()),
        canonical: vec![],
        policy: None,
        hiring: None,
    }
}

/// Limits high enough not to interfere (the rate-limit tests use the defaults).
fn generous() -> WebConfig {
    WebConfig {
        limits: LimitsConfig {
            per_minute: 100_000,
            burst: 10_000,
            writes_per_minute: 100_000,
            writes_burst: 10_000,
            sign_ins_burst: 1000,
            ..LimitsConfig::default()
        },
        security_txt: Some(security_txt()),
        ..WebConfig::default()
    }
}

fn serve(web: WebConfig) -> Server {
    start(ServeOptions { web, tls: None }, LiveConfig::default())
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn bearer(key: &str) -> String {
    format!("Bearer {key}")
}

async fn get(srv: &Server, path: &str, key: Option<&str>) -> Resp {
    match key {
        Some(k) => {
            http(
                srv.addr,
                "GET",
                path,
                &[("Authorization", &bearer(k))],
                None,
            )
            .await
        }
        None => http(srv.addr, "GET", path, &[], None).await,
    }
}

async fn send(
    srv: &Server,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<&str>,
) -> Resp {
    let auth = key.map(bearer);
    let mut h: Vec<(&str, &str)> = vec![("Content-Type", "application/json")];
    if let Some(a) = &auth {
        h.push(("Authorization", a));
    }
    http(srv.addr, method, path, &h, body).await
}

/// Status of a WebSocket upgrade: 101 when accepted, else the HTTP status of the refusal.
async fn ws_status(srv: &Server, path: &str, key: Option<&str>) -> u16 {
    let mut req = format!("{}{path}", srv.ws_url())
        .into_client_request()
        .unwrap();
    if let Some(k) = key {
        req.headers_mut()
            .insert("authorization", bearer(k).parse().unwrap());
    }
    match tokio::time::timeout(
        Duration::from_secs(20),
        tokio_tungstenite::connect_async(req),
    )
    .await
    .expect("upgrade answered")
    {
        Ok((mut ws, _)) => {
            let _ = ws.close(None).await;
            101
        }
        Err(WsError::Http(r)) => r.status().as_u16(),
        Err(e) => panic!("{path}: {e}"),
    }
}

/// A signed-in browser session: (cookie header, csrf token).
async fn sign_in(srv: &Server, key: &str) -> (String, String) {
    let r = send(
        srv,
        "POST",
        "/v1/session",
        None,
        Some(&serde_json::json!({"key": key}).to_string()),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let session = r.cookie("callscribe_session").expect("session cookie");
    let csrf = r.cookie("callscribe_csrf").expect("csrf cookie");
    assert_eq!(r.json()["csrf_token"], csrf.as_str());
    (
        format!("callscribe_session={session}; callscribe_csrf={csrf}"),
        csrf,
    )
}

/// Does one request to a route as `role` (None: no credentials); returns the status.
async fn call_route(
    srv: &Server,
    w: &Workspace,
    method: &str,
    path: &str,
    role: Option<Role>,
) -> u16 {
    let key = role.map(|r| w.key(r).to_string());
    let key = key.as_deref();
    // fresh targets for destructive routes
    let engine = srv.engine.clone();
    let tenant = w.id.clone();
    let concrete = match path {
        "/v1/calls/{id}" if method == "DELETE" => format!(
            "/v1/calls/{}",
            srv.on(async move { stored_call(&engine.store, &tenant).await })
                .await
        ),
        "/v1/calls/{id}" | "/v1/calls/{id}/events" => path.replace("{id}", &w.call),
        "/v1/keys/{prefix}" => {
            let k = srv
                .on(async move {
                    engine
                        .store
                        .create_api_key(
                            &callscribe::store::Actor::operator(),
                            &tenant,
                            Role::Agent,
                            None,
                        )
                        .await
                        .unwrap()
                        .id
                })
                .await;
            path.replace("{prefix}", &k)
        }
        p => p.to_string(),
    };
    if path.ends_with("/events") || path == "/v1/calls/live" || path.starts_with("/v1/ingest/") {
        return ws_status(srv, &concrete, key).await;
    }
    let body = match (method, path) {
        ("POST", "/v1/keys") => Some(r#"{"role": "agent", "ttl_days": 7}"#),
        _ => None,
    };
    send(srv, method, &concrete, key, body).await.status
}

fn success(method: &str, path: &str) -> u16 {
    match (method, path) {
        (_, p)
            if p.ends_with("/events") || p == "/v1/calls/live" || p.starts_with("/v1/ingest/") =>
        {
            101
        }
        ("POST", "/v1/keys") => 201,
        ("DELETE", _) => 204,
        _ => 200,
    }
}

/// Every row of the route table: no credentials → 401, a role the row does not list → 403,
/// a role it lists → success. Public routes answer without credentials.
#[test]
fn every_route_admits_exactly_the_roles_in_the_table() {
    let srv = serve(generous());
    rt().block_on(async {
        let w = workspace(&srv, "routes").await;
        let mut checked = 0;
        for &(method, path, roles) in ROUTES {
            match roles {
                "public" => {
                    let r = get(&srv, path, None).await;
                    assert_eq!(r.status, 200, "{method} {path}: {}", r.body);
                }
                "agent,admin (key in body)" => {
                    for role in ROLES {
                        let r = send(
                            &srv,
                            "POST",
                            path,
                            None,
                            Some(&serde_json::json!({"key": w.key(role)}).to_string()),
                        )
                        .await;
                        let want = if matches!(role, Role::Agent | Role::Admin) {
                            200
                        } else {
                            403
                        };
                        assert_eq!(r.status, want, "{method} {path} as {role:?}: {}", r.body);
                    }
                    assert_eq!(send(&srv, "POST", path, None, Some("{}")).await.status, 400);
                }
                "any" => {
                    assert_eq!(get(&srv, path, None).await.status, 401);
                    for role in ROLES {
                        assert_eq!(
                            get(&srv, path, Some(w.key(role))).await.status,
                            200,
                            "{path} as {role:?}"
                        );
                    }
                }
                "session" => {
                    assert_eq!(
                        send(&srv, method, path, Some(&w.agent), None).await.status,
                        401,
                        "a key is not a session"
                    );
                    let (cookie, csrf) = sign_in(&srv, &w.agent).await;
                    let r = http(
                        srv.addr,
                        method,
                        path,
                        &[("Cookie", &cookie), ("X-CSRF-Token", &csrf)],
                        None,
                    )
                    .await;
                    assert_eq!(r.status, 204, "{}", r.body);
                }
                roles => {
                    let allowed: Vec<&str> = roles.split(',').collect();
                    let none = call_route(&srv, &w, method, path, None).await;
                    // telephony sockets may carry the key in their start message instead (tests/live.rs)
                    let want_none = if path.starts_with("/v1/ingest/") {
                        101
                    } else {
                        401
                    };
                    assert_eq!(none, want_none, "{method} {path} without credentials");
                    for role in ROLES {
                        let got = call_route(&srv, &w, method, path, Some(role)).await;
                        let want = if allowed.contains(&role.as_str()) {
                            success(method, path)
                        } else {
                            403
                        };
                        assert_eq!(got, want, "{method} {path} as {role:?}");
                    }
                }
            }
            checked += 1;
        }
        assert_eq!(checked, ROUTES.len());
    });
}

/// The route table, the router and the OpenAPI document agree.
#[test]
fn the_openapi_document_describes_every_api_route() {
    let srv = serve(generous());
    rt().block_on(async {
        let r = get(&srv, "/v1/openapi.json", None).await;
        assert_eq!(r.status, 200);
        assert!(
            r.header("content-type")
                .unwrap()
                .starts_with("application/json")
        );
        let doc = r.json();
        assert_eq!(doc["openapi"], "3.1.0");
        for &(method, path, _) in ROUTES {
            if matches!(path, "/" | "/app.js" | "/app.css") || path.starts_with("/v1/ingest/") {
                continue; // the page and the telephony sockets are documented in the README
            }
            let op = &doc["paths"][path][method.to_lowercase()];
            assert!(
                op.is_object(),
                "{method} {path} is not in the OpenAPI document"
            );
            assert!(
                op["responses"].is_object()
                    && op["description"].as_str().unwrap().starts_with("Roles:"),
                "{method} {path}"
            );
        }
        let documented: usize = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|p| p.as_object().unwrap().len())
            .sum();
        let listed = ROUTES
            .iter()
            .filter(|(_, p, _)| {
                !matches!(*p, "/" | "/app.js" | "/app.css") && !p.starts_with("/v1/ingest/")
            })
            .count();
        assert_eq!(
            documented, listed,
            "the document lists operations the server does not have"
        );
    });
}

/// Another workspace's call, key or audit trail is "not found" — existence does not leak.
#[test]
fn other_workspaces_resources_are_not_found() {
    let srv = serve(generous());
    rt().block_on(async {
        let a = workspace(&srv, "a").await;
        let b = workspace(&srv, "b").await;
        let r = get(&srv, &format!("/v1/calls/{}", a.call), Some(&b.agent)).await;
        assert_eq!((r.status, r.code().as_str()), (404, "call_not_found"));
        let missing = get(&srv, "/v1/calls/call_doesnotexist", Some(&b.agent)).await;
        assert_eq!(
            (missing.status, missing.body.as_str()),
            (404, r.body.as_str()),
            "same answer as for a call that does not exist"
        );
        assert_eq!(
            send(
                &srv,
                "DELETE",
                &format!("/v1/calls/{}", a.call),
                Some(&b.admin),
                None
            )
            .await
            .status,
            404
        );
        assert_eq!(
            ws_status(
                &srv,
                &format!("/v1/calls/{}/events", a.call),
                Some(&b.agent)
            )
            .await,
            404
        );
        let a_keys = get(&srv, "/v1/keys", Some(&a.admin)).await.json();
        let a_prefix = a_keys["keys"][0]["prefix"].as_str().unwrap().to_string();
        let r = send(
            &srv,
            "DELETE",
            &format!("/v1/keys/{a_prefix}"),
            Some(&b.admin),
            None,
        )
        .await;
        assert_eq!((r.status, r.code().as_str()), (404, "key_not_found"));
        // lists hold only the caller's own
        let calls = get(&srv, "/v1/calls", Some(&b.agent)).await.json();
        let ids: Vec<&str> = calls["calls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, vec![b.call.as_str()]);
        let audit = get(&srv, "/v1/audit?limit=1000", Some(&b.auditor))
            .await
            .json();
        assert!(
            audit["events"]
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["tenant"] == b.id.as_str())
        );
        assert!(!audit.to_string().contains(&a.id));
        // and a's call is untouched
        assert_eq!(
            get(&srv, &format!("/v1/calls/{}", a.call), Some(&a.agent))
                .await
                .status,
            200
        );
    });
}

/// A call read through the API: redacted text with its chips' ranges, the read audited.
#[test]
fn a_transcript_read_is_decrypted_for_its_workspace_and_audited() {
    let srv = serve(generous());
    rt().block_on(async {
        let w = workspace(&srv, "read").await;
        let r = get(&srv, &format!("/v1/calls/{}", w.call), Some(&w.agent)).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("cache-control"), Some("no-store"));
        let v = r.json();
        assert_eq!(v["call"]["status"], "complete");
        assert_eq!(v["call"]["live"], false);
        let segs = v["segments"].as_array().unwrap();
        assert_eq!(segs.len(), 2);
        assert_eq!(segs[1]["speaker"], "caller");
        let text = segs[1]["text"].as_str().unwrap();
        let red = &segs[1]["redactions"][0];
        assert_eq!(red["kind"], "PHONE");
        assert_eq!(
            &text[red["start"].as_u64().unwrap() as usize..red["end"].as_u64().unwrap() as usize],
            "[PHONE]"
        );
        let audit = get(&srv, "/v1/audit?limit=1000", Some(&w.auditor))
            .await
            .json();
        let reads: Vec<_> = audit["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "transcript.read" && e["target"] == w.call.as_str())
            .collect();
        assert_eq!(reads.len(), 1, "{audit}");
        assert!(
            reads[0]["actor"]
                .as_str()
                .unwrap()
                .contains(w.agent.split('_').nth(1).unwrap())
        );
        // export: the whole workspace, decrypted, audited
        let x = get(&srv, "/v1/export", Some(&w.admin)).await;
        assert_eq!(x.status, 200);
        assert!(
            x.header("content-disposition")
                .unwrap()
                .starts_with("attachment")
        );
        assert_eq!(
            x.json()["calls"][0]["transcript"]["segments"][1]["text"],
            text
        );
        let verify = get(&srv, "/v1/audit/verify", Some(&w.auditor)).await.json();
        assert_eq!(verify["intact"], true);
        let audit = get(&srv, "/v1/audit?limit=1000", Some(&w.auditor))
            .await
            .json();
        assert!(
            audit["events"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["action"] == "export")
        );
    });
}

/// `GET /v1/audit/verify` for a workspace's auditor: the count and last hash of that
/// workspace's entries, nothing of another workspace's (count, ids, hashes, the head).
#[test]
fn an_auditor_verifies_only_its_own_workspaces_entries() {
    let srv = serve(generous());
    rt().block_on(async {
        let a = workspace(&srv, "verify-a").await;
        let b = workspace(&srv, "verify-b").await;
        assert_eq!(get(&srv, "/v1/calls", Some(&b.agent)).await.status, 200);
        let r = get(&srv, "/v1/audit/verify", Some(&a.auditor)).await;
        assert_eq!(r.status, 200);
        let v = r.json();
        let mut fields: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        fields.sort();
        assert_eq!(fields, ["broken", "entries", "intact", "last_hash"], "{v}");
        assert_eq!(
            (&v["intact"], &v["broken"]),
            (&true.into(), &serde_json::Value::Null)
        );
        // a's entries up to the verification's own entry (appended after the walk)
        let listed = get(&srv, "/v1/audit?limit=1000", Some(&a.auditor))
            .await
            .json();
        let events = listed["events"].as_array().unwrap();
        let verify = events
            .iter()
            .find(|e| e["action"] == "audit.verify")
            .expect("the verification is audited");
        let before: Vec<_> = events
            .iter()
            .take_while(|e| e["seq"].as_u64() < verify["seq"].as_u64())
            .collect();
        assert_eq!(v["entries"].as_u64(), Some(before.len() as u64), "{v}");
        assert_eq!(v["last_hash"], before.last().unwrap()["hash"]);
        let detail: serde_json::Value =
            serde_json::from_str(verify["detail"].as_str().unwrap()).unwrap();
        assert_eq!(
            detail["entries"], v["entries"],
            "the audit entry holds a's count too"
        );
        // the installation's chain is longer, and none of it shows
        let engine = srv.engine.clone();
        let whole = srv
            .on(async move { engine.store.verify_audit().await.unwrap() })
            .await;
        assert!(
            whole.entries > before.len() as u64 + 5,
            "b has entries: {whole:?}"
        );
        for other in [b.id.as_str(), b.call.as_str(), whole.head_hash.as_str()] {
            assert!(!r.body.contains(other), "{other} in {}", r.body);
        }
    });
}

/// Keys through the API: created (shown once), listed without the key, revoked — and a
/// revoked or expired key, and the sessions made with it, stop working at once.
#[test]
fn revoked_and_expired_keys_and_their_sessions_are_refused() {
    let srv = serve(generous());
    rt().block_on(async {
        let w = workspace(&srv, "keys").await;
        let r = send(
            &srv,
            "POST",
            "/v1/keys",
            Some(&w.admin),
            Some(r#"{"role": "agent", "ttl_days": 7}"#),
        )
        .await;
        assert_eq!(r.status, 201);
        let created = r.json();
        let key = created["key"].as_str().unwrap().to_string();
        let prefix = created["prefix"].as_str().unwrap().to_string();
        assert!(key.starts_with(&format!("{prefix}_")));
        let list = get(&srv, "/v1/keys", Some(&w.admin)).await;
        assert!(
            list.body.contains(&prefix) && !list.body.contains(&key),
            "listed, never shown again"
        );
        assert_eq!(get(&srv, "/v1/calls", Some(&key)).await.status, 200);
        let (cookie, _) = sign_in(&srv, &key).await;
        assert_eq!(
            http(srv.addr, "GET", "/v1/calls", &[("Cookie", &cookie)], None)
                .await
                .status,
            200
        );
        assert_eq!(
            send(
                &srv,
                "DELETE",
                &format!("/v1/keys/{prefix}"),
                Some(&w.admin),
                None
            )
            .await
            .status,
            204
        );
        let r = get(&srv, "/v1/calls", Some(&key)).await;
        assert_eq!((r.status, r.code().as_str()), (401, "unauthorized"));
        let r = http(srv.addr, "GET", "/v1/calls", &[("Cookie", &cookie)], None).await;
        assert_eq!((r.status, r.code().as_str()), (401, "session_expired"));
        assert!(
            r.headers_named("set-cookie")
                .iter()
                .any(|c| c.starts_with("callscribe_session=;") && c.contains("Max-Age=0")),
            "the dead cookie is cleared"
        );
        // an expired key
        let db = srv.engine.store.sqlite_path().unwrap().to_path_buf();
        let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&format!(
            "sqlite://{}",
            db.display()
        ))
        .await
        .unwrap();
        let id = w.auditor.split('_').nth(1).unwrap().to_string();
        sqlx::query("UPDATE api_keys SET expires_at = 1 WHERE id = ?")
            .bind(&id)
            .execute(&mut conn)
            .await
            .unwrap();
        assert_eq!(get(&srv, "/v1/audit", Some(&w.auditor)).await.status, 401);
        // bad request bodies are JSON errors
        let r = send(
            &srv,
            "POST",
            "/v1/keys",
            Some(&w.admin),
            Some(r#"{"role": "god"}"#),
        )
        .await;
        assert_eq!((r.status, r.code().as_str()), (400, "bad_request"));
        let r = send(&srv, "POST", "/v1/keys", Some(&w.admin), Some("not json")).await;
        assert_eq!((r.status, r.code().as_str()), (400, "bad_request"));
    });
}

/// `POST /v1/keys` past the store's maximum lifetime (`[store] max_key_ttl_days`, default 90)
/// is a 400 naming the setting, and no key is made; at the maximum it succeeds.
#[test]
fn keys_longer_than_the_maximum_lifetime_are_refused() {
    let srv = serve(generous());
    rt().block_on(async {
        let w = workspace(&srv, "ttl").await;
        let keys = |r: Resp| r.json()["keys"].as_array().unwrap().len();
        let before = keys(get(&srv, "/v1/keys", Some(&w.admin)).await);
        for ttl in [91, 3650, 100_000] {
            let r = send(
                &srv,
                "POST",
                "/v1/keys",
                Some(&w.admin),
                Some(&format!(r#"{{"role": "agent", "ttl_days": {ttl}}}"#)),
            )
            .await;
            assert_eq!((r.status, r.code().as_str()), (400, "bad_request"), "{ttl}");
            let message = r.json()["error"]["message"].as_str().unwrap().to_string();
            assert!(
                message.contains(&format!("{ttl} days"))
                    && message.contains("maximum of 90 days")
                    && message.contains("[store] max_key_ttl_days"),
                "{message}"
            );
        }
        let r = send(
            &srv,
            "POST",
            "/v1/keys",
            Some(&w.admin),
            Some(r#"{"role": "agent", "ttl_days": 0}"#),
        )
        .await;
        assert_eq!(r.status, 400);
        assert_eq!(
            keys(get(&srv, "/v1/keys", Some(&w.admin)).await),
            before,
            "no key was made"
        );
        let r = send(
            &srv,
            "POST",
            "/v1/keys",
            Some(&w.admin),
            Some(r#"{"role": "agent", "ttl_days": 90}"#),
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.body);
    });
}

/// Defaults: 15 requests at once pass, the 16th gets 429 with Retry-After; writes have their
/// own, smaller bucket; workspaces do not share buckets; the count shows in /metrics.
#[test]
fn the_16th_rapid_request_of_a_workspace_is_rate_limited() {
    let srv = serve(WebConfig::default());
    rt().block_on(async {
        let w = workspace(&srv, "rl").await;
        let other = workspace(&srv, "rl2").await;
        let mut statuses = Vec::new();
        for _ in 0..16 {
            statuses.push(get(&srv, "/v1/calls", Some(&w.agent)).await);
        }
        assert!(
            statuses[..15].iter().all(|r| r.status == 200),
            "{:?}",
            statuses.iter().map(|r| r.status).collect::<Vec<_>>()
        );
        let last = &statuses[15];
        assert_eq!((last.status, last.code().as_str()), (429, "rate_limited"));
        let retry: u64 = last.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=2).contains(&retry), "{retry}");
        // another workspace is unaffected
        assert_eq!(get(&srv, "/v1/calls", Some(&other.agent)).await.status, 200);
        // writes: 5 at once, then 429
        let mut writes = Vec::new();
        for _ in 0..6 {
            writes.push(
                send(
                    &srv,
                    "POST",
                    "/v1/keys",
                    Some(&other.admin),
                    Some(r#"{"role": "agent"}"#),
                )
                .await
                .status,
            );
        }
        assert_eq!(writes, vec![201, 201, 201, 201, 201, 429]);
        let metrics = get(&srv, "/metrics", None).await.body;
        let line = metrics
            .lines()
            .find(|l| l.starts_with("callscribe_rate_limited_total{class=\"any\"}"))
            .unwrap();
        assert!(line.ends_with(" 1"), "{line}");
        assert!(
            metrics
                .lines()
                .any(|l| l == "callscribe_rate_limited_total{class=\"write\"} 1"),
            "{metrics}"
        );
    });
}

/// After 5 failed authentications with a key an address waits 1 s, then 2 s …, even with the
/// valid key of that id;
/// a success resets it. Sign-in attempts count too.
#[test]
fn repeated_failed_authentications_back_off_exponentially() {
    let srv = serve(generous());
    rt().block_on(async {
        let w = workspace(&srv, "bf").await;
        let wrong = format!("{}x", &w.agent[..w.agent.len() - 1]);
        for i in 0..5 {
            assert_eq!(
                get(&srv, "/v1/calls", Some(&wrong)).await.status,
                401,
                "attempt {i}"
            );
        }
        let bad_sign_in = send(
            &srv,
            "POST",
            "/v1/session",
            None,
            Some(&serde_json::json!({"key": wrong}).to_string()),
        )
        .await;
        assert_eq!(bad_sign_in.status, 401);
        // six failures: now the address must wait, even with the right secret for that key id
        let r = get(&srv, "/v1/calls", Some(&w.agent)).await;
        assert_eq!((r.status, r.code().as_str()), (429, "auth_backoff"));
        assert_eq!(r.header("retry-after"), Some("1"));
        let r = send(
            &srv,
            "POST",
            "/v1/session",
            None,
            Some(&serde_json::json!({"key": w.agent}).to_string()),
        )
        .await;
        assert_eq!(r.status, 429);
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(get(&srv, "/v1/calls", Some(&wrong)).await.status, 401);
        let r = get(&srv, "/v1/calls", Some(&w.agent)).await;
        assert_eq!(r.header("retry-after"), Some("2"), "the wait doubled");
        tokio::time::sleep(Duration::from_millis(2100)).await;
        assert_eq!(
            get(&srv, "/v1/calls", Some(&w.agent)).await.status,
            200,
            "a success after the wait"
        );
        assert_eq!(
            get(&srv, "/v1/calls", Some(&wrong)).await.status,
            401,
            "and the count starts again"
        );
        assert_eq!(get(&srv, "/v1/calls", Some(&w.agent)).await.status, 200);
        let metrics = get(&srv, "/metrics", None).await.body;
        assert!(
            metrics.contains("callscribe_auth_failures_total 8\n"),
            "{metrics}"
        );
    });
}

/// Cookie requests that change state need the CSRF token; cross-site requests are refused;
/// sign-in takes JSON only; cookies are HttpOnly and SameSite=Strict.
#[test]
fn cookie_sessions_need_csrf_tokens_and_the_same_origin() {
    let srv = serve(generous());
    rt().block_on(async {
        let w = workspace(&srv, "csrf").await;
        let r = send(
            &srv,
            "POST",
            "/v1/session",
            None,
            Some(&serde_json::json!({"key": w.admin}).to_string()),
        )
        .await;
        let cookies = r.headers_named("set-cookie");
        let session = cookies
            .iter()
            .find(|c| c.starts_with("callscribe_session="))
            .unwrap();
        assert!(
            session.contains("HttpOnly")
                && session.contains("SameSite=Strict")
                && session.contains("Path=/"),
            "{session}"
        );
        assert!(!session.contains("Secure"), "plain HTTP: no Secure flag");
        let csrf_cookie = cookies
            .iter()
            .find(|c| c.starts_with("callscribe_csrf="))
            .unwrap();
        assert!(
            !csrf_cookie.contains("HttpOnly"),
            "the page must read the CSRF token"
        );
        let (cookie, csrf) = sign_in(&srv, &w.admin).await;
        let path = format!("/v1/calls/{}", w.call);
        let r = http(srv.addr, "DELETE", &path, &[("Cookie", &cookie)], None).await;
        assert_eq!((r.status, r.code().as_str()), (403, "csrf_failed"));
        let r = http(
            srv.addr,
            "DELETE",
            &path,
            &[("Cookie", &cookie), ("X-CSRF-Token", "wrong")],
            None,
        )
        .await;
        assert_eq!((r.status, r.code().as_str()), (403, "csrf_failed"));
        let host = srv.addr.to_string();
        let evil = http(
            srv.addr,
            "GET",
            "/v1/calls",
            &[("Cookie", &cookie), ("Origin", "https://evil.example")],
            None,
        )
        .await;
        assert_eq!((evil.status, evil.code().as_str()), (403, "cross_origin"));
        let same = http(
            srv.addr,
            "GET",
            "/v1/calls",
            &[("Cookie", &cookie), ("Origin", &format!("http://{host}"))],
            None,
        )
        .await;
        assert_eq!(same.status, 200);
        let r = http(
            srv.addr,
            "DELETE",
            &path,
            &[("Cookie", &cookie), ("X-CSRF-Token", &csrf)],
            None,
        )
        .await;
        assert_eq!(r.status, 204, "{}", r.body);
        assert_eq!(
            get(&srv, &path, Some(&w.admin)).await.status,
            404,
            "deleted"
        );
        // sign-in: JSON only (a cross-site form cannot send it)
        let form = http(
            srv.addr,
            "POST",
            "/v1/session",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            Some(&format!("key={}", w.agent)),
        )
        .await;
        assert_eq!(form.status, 415);
        // sign-out revokes on the server: the old cookie is dead even if a client keeps it
        let r = http(
            srv.addr,
            "DELETE",
            "/v1/session",
            &[("Cookie", &cookie), ("X-CSRF-Token", &csrf)],
            None,
        )
        .await;
        assert_eq!(r.status, 204);
        assert_eq!(
            http(srv.addr, "GET", "/v1/session", &[("Cookie", &cookie)], None)
                .await
                .status,
            401
        );
    });
}

/// A session older than the rotation interval gets a new token on its next use.
#[test]
fn sessions_are_rotated_while_in_use() {
    let srv = serve(WebConfig {
        session_rotate_s: 1,
        session_idle_s: 60,
        ..generous()
    });
    rt().block_on(async {
        let w = workspace(&srv, "rot").await;
        let (cookie, csrf) = sign_in(&srv, &w.agent).await;
        tokio::time::sleep(Duration::from_millis(2100)).await;
        let r = http(srv.addr, "GET", "/v1/session", &[("Cookie", &cookie)], None).await;
        assert_eq!(r.status, 200);
        let fresh = r.cookie("callscribe_session").expect("a rotated token");
        assert!(!cookie.contains(&fresh));
        let new_cookie = format!("callscribe_session={fresh}; callscribe_csrf={csrf}");
        assert_eq!(
            http(
                srv.addr,
                "GET",
                "/v1/session",
                &[("Cookie", &new_cookie)],
                None
            )
            .await
            .status,
            200
        );
        // the CSRF token carries over
        let r = http(
            srv.addr,
            "DELETE",
            "/v1/session",
            &[("Cookie", &new_cookie), ("X-CSRF-Token", &csrf)],
            None,
        )
        .await;
        assert_eq!(r.status, 204);
    });
}

/// Security headers everywhere, JSON errors, security.txt, metrics without identifiers.
#[test]
fn responses_carry_security_headers_and_errors_are_json() {
    let srv = serve(generous());
    rt().block_on(async {
        let w = workspace(&srv, "hdr").await;
        for path in ["/", "/app.js", "/v1/calls", "/nope"] {
            let r = get(&srv, path, Some(&w.agent)).await;
            let csp = r.header("content-security-policy").unwrap_or_else(|| panic!("{path}: no CSP"));
            assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline") && csp.contains("frame-ancestors 'none'"), "{csp}");
            assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
            assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
            assert_eq!(r.header("x-frame-options"), Some("DENY"));
            assert!(r.header("strict-transport-security").is_none(), "no HSTS over plain HTTP");
        }
        let page = get(&srv, "/", None).await.body;
        assert!(page.contains("<script src=\"/app.js\" defer></script>") && !page.contains("<script>"), "no inline script");
        let r = get(&srv, "/nope", None).await;
        assert_eq!((r.status, r.code().as_str()), (404, "not_found"));
        let r = send(&srv, "PUT", "/v1/calls", Some(&w.agent), None).await;
        assert_eq!((r.status, r.code().as_str()), (405, "method_not_allowed"));
        let r = get(&srv, "/v1/calls?cursor=AAAA", Some(&w.agent)).await;
        assert_eq!((r.status, r.code().as_str()), (400, "bad_request"));
        let r = get(&srv, "/v1/calls?limit=100000", Some(&w.agent)).await;
        assert_eq!(r.status, 400);
        let r = get(&srv, "/v1/calls/live", Some(&w.agent)).await;
        assert_eq!(r.code(), "websocket_required");
        let txt = get(&srv, "/.well-known/security.txt", None).await;
        assert_eq!(txt.body, "Contact: mailto:security@example.com\nExpires: 2027-06-30T00:00:00Z\nPreferred-Languages: en\n");
        assert!(txt.header("content-type").unwrap().starts_with("text/plain"));
        let m = get(&srv, "/metrics", None).await;
        assert!(m.header("content-type").unwrap().starts_with("text/plain; version=0.0.4"));
        for name in ["callscribe_active_calls", "callscribe_asr_queue_depth{priority=\"final\"}", "callscribe_calls_refused_total", "callscribe_interims_skipped_total", "callscribe_asr_real_time_factor", "callscribe_utterance_latency_seconds_bucket{kind=\"final\",le=\"1.5\"}"] {
            assert!(m.body.contains(name), "{name} missing from /metrics");
        }
        assert!(!m.body.contains(&w.id) && !m.body.contains(&w.call), "no identifiers in metrics");
        // no security.txt configured: 404
        let bare = serve(WebConfig::default());
        assert_eq!(get(&bare, "/.well-known/security.txt", None).await.status, 404);
    });
}

fn tls_files() -> (TlsConfig, rustls::pki_types::CertificateDer<'static>) {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let dir = tempfile::tempdir().unwrap().keep();
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    (TlsConfig { cert, key }, ck.cert.der().clone())
}

async fn tls_connect(
    srv: &Server,
    der: &rustls::pki_types::CertificateDer<'static>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(der.clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(versions)
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(srv.addr).await.unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect("localhost".try_into().unwrap(), tcp)
        .await
        .expect("TLS handshake")
}

/// One listener serves HTTPS and wss:// ingest: TLS 1.3 when the client offers it, TLS 1.2
/// still accepted, HSTS and Secure `__Host-` cookies.
#[test]
fn tls_serves_https_and_wss_with_tls_1_3_and_hsts() {
    let (tls, der) = tls_files();
    let srv = start(
        ServeOptions {
            web: generous(),
            tls: Some(tls),
        },
        LiveConfig::default(),
    );
    rt().block_on(async {
        let w = workspace(&srv, "tls").await;
        let s = tls_connect(
            &srv,
            &der,
            &[&rustls::version::TLS13, &rustls::version::TLS12],
        )
        .await;
        assert_eq!(
            s.get_ref().1.protocol_version(),
            Some(rustls::ProtocolVersion::TLSv1_3)
        );
        let r = common::server::request_over(s, "localhost", "GET", "/healthz", &[], None).await;
        assert_eq!(r.status, 200);
        assert_eq!(
            r.header("strict-transport-security"),
            Some("max-age=63072000; includeSubDomains")
        );
        assert!(r.header("content-security-policy").is_some());
        let s12 = tls_connect(&srv, &der, &[&rustls::version::TLS12]).await;
        assert_eq!(
            s12.get_ref().1.protocol_version(),
            Some(rustls::ProtocolVersion::TLSv1_2)
        );
        // sign-in over HTTPS: Secure, __Host- cookies
        let s = tls_connect(&srv, &der, &[&rustls::version::TLS13]).await;
        let body = serde_json::json!({"key": w.agent}).to_string();
        let r = common::server::request_over(
            s,
            "localhost",
            "POST",
            "/v1/session",
            &[("Content-Type", "application/json")],
            Some(&body),
        )
        .await;
        assert_eq!(r.status, 200);
        let c = r
            .headers_named("set-cookie")
            .into_iter()
            .find(|c| c.starts_with("__Host-callscribe_session="))
            .expect("__Host- cookie");
        assert!(c.contains("Secure") && c.contains("HttpOnly"), "{c}");
        // wss:// ingest on the same listener
        let s = tls_connect(&srv, &der, &[&rustls::version::TLS13]).await;
        let mut req = "wss://localhost/v1/ingest/stream"
            .into_client_request()
            .unwrap();
        req.headers_mut()
            .insert("authorization", bearer(&w.ingest).parse().unwrap());
        let (mut ws, resp) = tokio_tungstenite::client_async(req, s)
            .await
            .expect("wss upgrade");
        assert_eq!(resp.status().as_u16(), 101);
        ws.close(None).await.unwrap();
        // plain HTTP on the TLS port is not served
        let plain = tokio::net::TcpStream::connect(srv.addr).await.unwrap();
        let mut raw = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(10), async {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut plain = plain;
            let _ = plain
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                .await;
            let _ = plain.read_to_end(&mut raw).await;
        })
        .await;
        assert!(!String::from_utf8_lossy(&raw).contains("200 OK"));
    });
}

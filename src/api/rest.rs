//! The REST API under `/v1` (JSON; roles per route in docs/ARCHITECTURE.md): calls (list, get
//! with transcript, delete), tenant export, API keys, the audit trail, plus `/metrics` and the
//! OpenAPI document. Another tenant's resources are "not found", never "forbidden".

use std::sync::atomic::Ordering;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::auth::Auth;
use super::error::ApiError;
use crate::store::{Actor, CallQuery, CallState, Principal, Role};

const AGENT: &[Role] = &[Role::Agent, Role::Admin];
const ADMIN: &[Role] = &[Role::Admin];
const AUDITOR: &[Role] = &[Role::Auditor];

/// callscribe's id of the caller's call `id` (its own id or the provider's).
async fn own_call(st: &AppState, p: &Principal, id: &str) -> Result<String, ApiError> {
    st.engine
        .store
        .find_call(&p.tenant, id)
        .await
        .map_err(|e| ApiError::store("looking a call up", e))
}

/// A call as the API shows it: the stored fields and whether it is being transcribed now.
fn call_json(st: &AppState, info: &crate::store::CallInfo) -> serde_json::Value {
    let mut v = serde_json::to_value(info).unwrap_or_default();
    v["live"] = json!(st.engine.is_active(&info.id));
    v
}

fn actor(p: &Principal) -> Actor {
    Actor::ApiKey(p.key_id.clone())
}

/// An optional integer parameter (`name` says which in the error).
fn int_param<T: std::str::FromStr>(v: Option<&str>, name: &str) -> Result<Option<T>, ApiError> {
    v.map(|v| {
        v.parse()
            .map_err(|_| ApiError::bad_request(format!("{name} must be an integer")))
    })
    .transpose()
}

fn encode_cursor(c: &(i64, String)) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}:{}", c.0, c.1))
}

fn decode_cursor(s: &str) -> Option<(i64, String)> {
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(s).ok()?).ok()?;
    let (t, id) = raw.split_once(':')?;
    Some((t.parse().ok()?, id.to_string()))
}

/// The query string of `GET /v1/calls`, as sent (checked by [`CallsParams::query`], so each
/// bad value gets its own message).
#[derive(Debug, Default, Deserialize)]
pub struct CallsParams {
    state: Option<String>,
    since: Option<String>,
    until: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

impl CallsParams {
    fn query(&self) -> Result<CallQuery, ApiError> {
        let state = match self.state.as_deref() {
            None | Some("all") => CallState::All,
            Some("live") => CallState::Live,
            Some("ended") => CallState::Ended,
            Some(_) => return Err(ApiError::bad_request("state must be live, ended or all")),
        };
        let since = int_param::<i64>(self.since.as_deref(), "since")?;
        let until = int_param::<i64>(self.until.as_deref(), "until")?;
        let limit = int_param::<u32>(self.limit.as_deref(), "limit")?;
        if limit.is_some_and(|l| !(1..=200).contains(&l)) {
            return Err(ApiError::bad_request("limit must be between 1 and 200"));
        }
        let after =
            match self.cursor.as_deref() {
                None => None,
                Some(c) => Some(decode_cursor(c).ok_or_else(|| {
                    ApiError::bad_request("cursor is not one this server gave out")
                })?),
            };
        Ok(CallQuery {
            state,
            since,
            until,
            after,
            limit: limit.unwrap_or(50),
        })
    }
}

/// `GET /v1/calls?state=live|ended|all&since=&until=&limit=&cursor=`
pub async fn list_calls(
    State(st): State<AppState>,
    Extension(auth): Extension<Auth>,
    Query(params): Query<CallsParams>,
) -> Result<Response, ApiError> {
    let p = auth.require(AGENT)?;
    let query = params.query()?;
    let page = st
        .engine
        .store
        .list_calls_page(&actor(p), &p.tenant, &query)
        .await
        .map_err(|e| ApiError::store("listing calls", e))?;
    let calls: Vec<_> = page.calls.iter().map(|c| call_json(&st, c)).collect();
    Ok(
        Json(json!({"calls": calls, "next_cursor": page.next.as_ref().map(encode_cursor)}))
            .into_response(),
    )
}

/// `GET /v1/calls/{id}`: the call and its transcript, decrypted (audited).
pub async fn get_call(
    State(st): State<AppState>,
    Extension(auth): Extension<Auth>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let p = auth.require(AGENT)?;
    let call = own_call(&st, p, &id).await?;
    let (info, transcript) = st
        .engine
        .store
        .transcript(&actor(p), &p.tenant, &call)
        .await
        .map_err(|e| ApiError::store("reading a transcript", e))?;
    Ok(
        Json(json!({"call": call_json(&st, &info), "segments": transcript.segments}))
            .into_response(),
    )
}

/// `DELETE /v1/calls/{id}` (admin): crypto-shreds the call.
pub async fn delete_call(
    State(st): State<AppState>,
    Extension(auth): Extension<Auth>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let p = auth.require(ADMIN)?;
    let call = own_call(&st, p, &id).await?;
    if st.engine.is_active(&call) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "call_active",
            "the call is still being transcribed; delete it after it ends",
        ));
    }
    st.engine
        .store
        .delete_call(&actor(p), &p.tenant, &call)
        .await
        .map_err(|e| ApiError::store("deleting a call", e))?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/export` (admin): everything the workspace has, decrypted (audited).
pub async fn export(
    State(st): State<AppState>,
    Extension(auth): Extension<Auth>,
) -> Result<Response, ApiError> {
    let p = auth.require(ADMIN)?;
    let x = st
        .engine
        .store
        .export_tenant(&actor(p), &p.tenant)
        .await
        .map_err(|e| ApiError::store("exporting the workspace", e))?;
    let name = format!(
        "attachment; filename=\"callscribe-export-{}.json\"",
        p.tenant
    );
    Ok(([(header::CONTENT_DISPOSITION, name)], Json(x)).into_response())
}

/// `GET /v1/keys` (admin).
pub async fn list_keys(
    State(st): State<AppState>,
    Extension(auth): Extension<Auth>,
) -> Result<Response, ApiError> {
    let p = auth.require(ADMIN)?;
    let keys = st
        .engine
        .store
        .list_api_keys(&p.tenant)
        .await
        .map_err(|e| ApiError::store("listing keys", e))?;
    Ok(Json(json!({"keys": keys})).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKey {
    role: Role,
    ttl_days: Option<u32>,
}

/// `POST /v1/keys` (admin): `{"role", "ttl_days"?}`; the key is in the response, once. The
/// store checks the lifetime against `[store] max_key_ttl_days`; its refusal is a 400 with its
/// message.
pub async fn create_key(
    State(st): State<AppState>,
    Extension(auth): Extension<Auth>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = auth.require(ADMIN)?;
    let req: NewKey = serde_json::from_slice(&body).map_err(|_| {
        ApiError::bad_request(
            "the body must be {\"role\": \"ingest|agent|admin|auditor\", \"ttl_days\": N}",
        )
    })?;
    let k = st
        .engine
        .store
        .create_api_key(&actor(p), &p.tenant, req.role, req.ttl_days)
        .await
        .map_err(|e| ApiError::store("creating a key", e))?;
    let body = json!({
        "key": k.secret.as_str(),
        "prefix": k.id,
        "role": req.role,
        "expires_at": k.expires_at,
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `DELETE /v1/keys/{prefix}` (admin).
pub async fn revoke_key(
    State(st): State<AppState>,
    Extension(auth): Extension<Auth>,
    Path(prefix): Path<String>,
) -> Result<StatusCode, ApiError> {
    let p = auth.require(ADMIN)?;
    let id = prefix.strip_prefix("csk_").unwrap_or(&prefix);
    if id.len() != 8 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "key_not_found",
            "no such active API key in this workspace",
        ));
    }
    st.engine
        .store
        .revoke_api_key(&actor(p), &p.tenant, id)
        .await
        .map_err(|e| ApiError::store("revoking a key", e))?;
    Ok(StatusCode::NO_CONTENT)
}

/// The query string of `GET /v1/audit`.
#[derive(Debug, Default, Deserialize)]
pub struct AuditParams {
    after: Option<String>,
    limit: Option<String>,
}

/// `GET /v1/audit?after=SEQ&limit=N` (auditor): the workspace's entries, oldest first.
pub async fn audit_events(
    State(st): State<AppState>,
    Extension(auth): Extension<Auth>,
    Query(q): Query<AuditParams>,
) -> Result<Response, ApiError> {
    let p = auth.require(AUDITOR)?;
    let after = int_param::<u64>(q.after.as_deref(), "after")?.unwrap_or(0);
    let limit = int_param::<u32>(q.limit.as_deref(), "limit")?.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request("limit must be between 1 and 1000"));
    }
    let store = &st.engine.store;
    store
        .audit(
            &actor(p),
            "audit.read",
            Some(&p.tenant),
            None,
            json!({"after": after, "limit": limit}),
        )
        .await
        .map_err(|e| ApiError::store("recording an audit read", e))?;
    let events = store
        .audit_events(Some(&p.tenant), after, limit)
        .await
        .map_err(|e| ApiError::store("reading the audit trail", e))?;
    let next = (events.len() == limit as usize)
        .then(|| events.last().map(|e| e.seq))
        .flatten();
    Ok(Json(json!({"events": events, "next_after": next})).into_response())
}

/// `GET /v1/audit/verify` (auditor): the hash chain verified, reported for the workspace's own
/// entries only (their count, the last one's hash, a break only if it is one of them): the
/// chain is the installation's, and nothing about other workspaces' entries is shown.
pub async fn audit_verify(
    State(st): State<AppState>,
    Extension(auth): Extension<Auth>,
) -> Result<Response, ApiError> {
    let p = auth.require(AUDITOR)?;
    let store = &st.engine.store;
    let r = store
        .verify_audit_for(&p.tenant)
        .await
        .map_err(|e| ApiError::store("verifying the audit trail", e))?;
    let _ = store
        .audit(
            &actor(p),
            "audit.verify",
            Some(&p.tenant),
            None,
            json!({"entries": r.entries, "intact": r.broken.is_none()}),
        )
        .await;
    Ok(Json(json!({
        "entries": r.entries,
        "last_hash": r.last_hash,
        "intact": r.broken.is_none(),
        "broken": r.broken.map(|b| json!({"seq": b.seq, "reason": b.reason})),
    }))
    .into_response())
}

/// `GET /v1/openapi.json`.
pub async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        include_str!("openapi.json"),
    )
        .into_response()
}

/// `GET /metrics`: Prometheus text. Counts and times only: no text, ids or tenants in labels.
pub async fn metrics(State(st): State<AppState>) -> Response {
    use std::fmt::Write as _;
    let e = &st.engine;
    let m = &e.metrics;
    let depth = e.queue.depth();
    let mut out = String::with_capacity(4096);
    let mut metric = |name: &str, kind: &str, help: &str, lines: &[(&str, f64)]| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, v) in lines {
            let _ = if labels.is_empty() {
                writeln!(out, "{name} {v}")
            } else {
                writeln!(out, "{name}{{{labels}}} {v}")
            };
        }
    };
    let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed) as f64;
    metric(
        "callscribe_active_calls",
        "gauge",
        "Calls being transcribed now.",
        &[("", e.active_count() as f64)],
    );
    metric(
        "callscribe_max_calls",
        "gauge",
        "Admission limit on concurrent calls.",
        &[("", e.max_calls() as f64)],
    );
    metric(
        "callscribe_calls_started_total",
        "counter",
        "Calls admitted.",
        &[("", load(&e.stats.calls_started))],
    );
    metric(
        "callscribe_calls_refused_total",
        "counter",
        "Calls refused by admission control.",
        &[("", load(&e.stats.calls_refused))],
    );
    metric(
        "callscribe_calls_ended_total",
        "counter",
        "Calls finished.",
        &[("", load(&e.stats.calls_ended))],
    );
    metric(
        "callscribe_asr_queue_depth",
        "gauge",
        "Recogniser jobs waiting, per priority.",
        &[
            ("priority=\"final\"", depth.finals as f64),
            ("priority=\"interim\"", depth.interims as f64),
        ],
    );
    metric(
        "callscribe_segments_total",
        "counter",
        "Transcript events published.",
        &[
            ("kind=\"final\"", load(&e.stats.finals)),
            ("kind=\"interim\"", load(&e.stats.interims)),
        ],
    );
    metric(
        "callscribe_interims_skipped_total",
        "counter",
        "Interims dropped under load (replaced by a newer one or by the final).",
        &[("", load(&e.queue.stats.interims_skipped))],
    );
    metric(
        "callscribe_interims_preempted_total",
        "counter",
        "Interims aborted half-way so that a final could take their worker (also counted skipped).",
        &[("", load(&e.queue.stats.interims_preempted))],
    );
    metric(
        "callscribe_finals_shed_total",
        "counter",
        "Finals decoded with the shorter context because finals queued up (live.final_shed_*).",
        &[("", load(&e.queue.stats.finals_shed))],
    );
    metric(
        "callscribe_early_finals_total",
        "counter",
        "Finals sent at live.early_final_ms of pause: confirmed by the endpoint, or retracted because speech resumed.",
        &[
            (
                "outcome=\"confirmed\"",
                load(&e.stats.early_finals_confirmed),
            ),
            (
                "outcome=\"retracted\"",
                load(&e.stats.early_finals_retracted),
            ),
        ],
    );
    metric(
        "callscribe_store_errors_total",
        "counter",
        "Final segments that could not be stored (lost: never published).",
        &[("", load(&e.stats.store_errors))],
    );
    metric(
        "callscribe_asr_worker_panics_total",
        "counter",
        "Recogniser jobs whose worker panicked: the utterance failed alone, the worker was replaced.",
        &[("", load(&e.queue.stats.worker_panics))],
    );
    let health = &e.store_health;
    metric(
        "callscribe_store_pending_finals",
        "gauge",
        "Finals waiting to be stored (published once stored).",
        &[("", load(&health.pending))],
    );
    metric(
        "callscribe_store_write_failures_total",
        "counter",
        "Failed attempts to store a final (each retry counts).",
        &[("", load(&health.write_failures))],
    );
    metric(
        "callscribe_store_up",
        "gauge",
        "1 while the store takes writes, 0 while a write or the heartbeat fails.",
        &[("", f64::from(u8::from(health.down().is_none())))],
    );
    metric(
        "callscribe_calls_unfinished",
        "gauge",
        "Calls whose end waits to be recorded (the store was down when they closed).",
        &[("", e.unfinished_count() as f64)],
    );
    metric(
        "callscribe_ingest_paced_total",
        "counter",
        "Times an ingest socket was paused: its call ran ahead of real time or queued too many finals.",
        &[("", load(&e.stats.paced))],
    );
    metric(
        "callscribe_ingest_discontinuities_total",
        "counter",
        "Jumps in a stream's timeline longer than live.max_gap_fill_ms: skipped, not filled with silence.",
        &[("", load(&e.stats.discontinuities))],
    );
    metric(
        "callscribe_ingest_frames_dropped_total",
        "counter",
        "Media frames dropped by the reorder buffers: duplicates, late, or beyond the buffer's bound.",
        &[("", load(&e.stats.frames_dropped))],
    );
    metric(
        "callscribe_ingest_unsigned_refused_total",
        "counter",
        "Twilio streams refused: X-Twilio-Signature missing or wrong for the workspace's auth token.",
        &[("", load(&e.stats.unsigned_refused))],
    );
    metric(
        "callscribe_ingest_dsp_offloaded_total",
        "counter",
        "Media messages (over a second of audio) decoded and endpointed off the runtime threads.",
        &[("", load(&e.stats.dsp_offloaded))],
    );
    metric(
        "callscribe_asr_audio_seconds_total",
        "counter",
        "Audio seconds transcribed.",
        &[
            ("kind=\"final\"", load(&m.asr_audio_us[0]) / 1e6),
            ("kind=\"interim\"", load(&m.asr_audio_us[1]) / 1e6),
        ],
    );
    metric(
        "callscribe_asr_busy_seconds_total",
        "counter",
        "Worker seconds spent transcribing.",
        &[
            ("kind=\"final\"", load(&m.asr_busy_us[0]) / 1e6),
            ("kind=\"interim\"", load(&m.asr_busy_us[1]) / 1e6),
        ],
    );
    metric(
        "callscribe_asr_cpu_seconds_total",
        "counter",
        "CPU seconds the workers' threads spent inside recogniser jobs (whisper's share of process_cpu_seconds_total).",
        &[
            ("kind=\"final\"", load(&m.asr_cpu_us[0]) / 1e6),
            ("kind=\"interim\"", load(&m.asr_cpu_us[1]) / 1e6),
        ],
    );
    metric(
        "callscribe_asr_real_time_factor",
        "gauge",
        "Worker seconds per audio second since start.",
        &[("", m.real_time_factor())],
    );
    metric(
        "callscribe_rate_limited_total",
        "counter",
        "Requests refused by a rate limit.",
        &[
            ("class=\"any\"", load(&m.rate_limited[0])),
            ("class=\"write\"", load(&m.rate_limited[1])),
            ("class=\"sign_in\"", load(&m.rate_limited[2])),
        ],
    );
    if let Some(cpu) = crate::metrics::process_cpu_seconds() {
        metric(
            "process_cpu_seconds_total",
            "counter",
            "Total user and system CPU time spent in seconds.",
            &[("", cpu)],
        );
    }
    metric(
        "callscribe_auth_failures_total",
        "counter",
        "Failed authentications.",
        &[("", load(&m.auth_failures))],
    );
    metric(
        "callscribe_auth_blocked_total",
        "counter",
        "Requests refused while their address backed off.",
        &[("", load(&m.auth_blocked))],
    );
    metric(
        "callscribe_connections_refused_total",
        "counter",
        "Connections closed at once: too many open in all or from their address.",
        &[("", load(&m.connections_refused))],
    );
    let _ = writeln!(
        out,
        "# HELP callscribe_utterance_latency_seconds From an utterance handed to the recogniser to its event published."
    );
    let _ = writeln!(out, "# TYPE callscribe_utterance_latency_seconds histogram");
    m.final_latency.render(
        &mut out,
        "callscribe_utterance_latency_seconds",
        "kind=\"final\"",
    );
    m.interim_latency.render(
        &mut out,
        "callscribe_utterance_latency_seconds",
        "kind=\"interim\"",
    );
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let c = (1_700_000_000, "call_abc".to_string());
        assert_eq!(super::decode_cursor(&super::encode_cursor(&c)), Some(c));
        assert_eq!(super::decode_cursor("not base64!"), None);
        assert_eq!(
            super::decode_cursor(&base64::Engine::encode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                "x:y"
            )),
            None
        );
    }
}

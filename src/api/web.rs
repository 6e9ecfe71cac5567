//! The web side of the API: configuration, the authentication layer (API keys or session
//! cookies, CSRF, same-origin, rate limits, brute-force back-off), security headers, sign-in
//! and sign-out, `/.well-known/security.txt` and the embedded agent page.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::limits::{AuthGuard, Class, LimitsConfig, RateLimiter};
use super::{AppState, api_error, authenticate, presented_keys};
use crate::store::{AuthError, Principal, Role, SessionTimes, WebSession};

/// `[web]` in the config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebConfig {
    /// A session ends this long after its last rotation (activity rotates it).
    pub session_idle_s: u64,
    /// … and in any case this long after sign-in.
    pub session_max_s: u64,
    /// A session token older than this is replaced on its next use.
    pub session_rotate_s: u64,
    /// Mark cookies `Secure` [default: when serving TLS]. Set true behind a TLS-terminating proxy.
    pub secure_cookies: Option<bool>,
    pub limits: LimitsConfig,
    /// `/.well-known/security.txt` (RFC 9116); absent: 404.
    pub security_txt: Option<SecurityTxt>,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            session_idle_s: 1800,
            session_max_s: 12 * 3600,
            session_rotate_s: 600,
            secure_cookies: None,
            limits: LimitsConfig::default(),
            security_txt: None,
        }
    }
}

/// The fields of RFC 9116 (Contact and Expires are required).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityTxt {
    /// `mailto:` or `https://` URIs.
    pub contact: Vec<String>,
    /// RFC 3339 date-time, e.g. 2027-06-30T00:00:00Z (at most a year ahead is recommended).
    pub expires: String,
    #[serde(default)]
    pub encryption: Vec<String>,
    #[serde(default)]
    pub acknowledgments: Option<String>,
    #[serde(default)]
    pub preferred_languages: Option<String>,
    #[serde(default)]
    pub canonical: Vec<String>,
    #[serde(default)]
    pub policy: Option<String>,
    #[serde(default)]
    pub hiring: Option<String>,
}

impl WebConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.session_idle_s == 0 || self.session_max_s == 0 || self.session_rotate_s == 0 {
            return Err(
                "[web] session_idle_s, session_max_s and session_rotate_s must be at least 1"
                    .into(),
            );
        }
        if self.session_rotate_s >= self.session_idle_s {
            return Err(format!(
                "[web] session_rotate_s ({}) must be below session_idle_s ({}): an active session would expire before it is rotated",
                self.session_rotate_s, self.session_idle_s
            ));
        }
        self.limits.validate()?;
        if let Some(s) = &self.security_txt {
            if s.contact.is_empty() {
                return Err(
                    "[web.security_txt] contact needs at least one mailto: or https: URI".into(),
                );
            }
            for c in s
                .contact
                .iter()
                .chain(&s.encryption)
                .chain(&s.canonical)
                .chain(s.policy.iter())
                .chain(s.acknowledgments.iter())
                .chain(s.hiring.iter())
            {
                if !(c.starts_with("mailto:")
                    || c.starts_with("https://")
                    || c.starts_with("tel:")
                    || c.starts_with("dns:")
                    || c.starts_with("openpgp4fpr:"))
                {
                    return Err(format!(
                        "[web.security_txt] {c:?} is not a mailto:, tel:, https:, dns: or openpgp4fpr: URI"
                    ));
                }
                if c.contains(['\n', '\r']) {
                    return Err("[web.security_txt] values must be single lines".into());
                }
            }
            if !is_rfc3339(&s.expires) {
                return Err(format!(
                    "[web.security_txt] expires {:?} is not an RFC 3339 date-time such as 2027-06-30T00:00:00Z",
                    s.expires
                ));
            }
        }
        Ok(())
    }

    pub fn session_times(&self) -> SessionTimes {
        SessionTimes {
            idle_s: self.session_idle_s as i64,
            max_s: self.session_max_s as i64,
            rotate_s: self.session_rotate_s as i64,
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SS` followed by `Z` or an offset, optionally with fractions.
fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| r.clone().all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
    if b.len() < 20
        || !(digits(0..4) && b[4] == b'-' && digits(5..7) && b[7] == b'-' && digits(8..10))
    {
        return false;
    }
    if !(matches!(b[10], b'T' | b't')
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19))
    {
        return false;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &frac[n..];
    }
    rest == "Z"
        || rest == "z"
        || (rest.len() == 6
            && matches!(rest.as_bytes()[0], b'+' | b'-')
            && rest.as_bytes()[3] == b':')
}

/// The rendered security.txt.
pub fn render_security_txt(s: &SecurityTxt) -> String {
    let mut out = String::new();
    let mut line = |k: &str, v: &str| out.push_str(&format!("{k}: {v}\n"));
    for c in &s.contact {
        line("Contact", c);
    }
    line("Expires", &s.expires);
    for e in &s.encryption {
        line("Encryption", e);
    }
    if let Some(a) = &s.acknowledgments {
        line("Acknowledgments", a);
    }
    if let Some(l) = &s.preferred_languages {
        line("Preferred-Languages", l);
    }
    for c in &s.canonical {
        line("Canonical", c);
    }
    if let Some(p) = &s.policy {
        line("Policy", p);
    }
    if let Some(h) = &s.hiring {
        line("Hiring", h);
    }
    out
}

/// TLS files (`--tls-cert`/`--tls-key` or `[tls]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Shared web state.
pub struct Web {
    pub config: WebConfig,
    pub tls: bool,
    pub limiter: RateLimiter,
    pub guard: AuthGuard,
}

impl Web {
    pub fn new(config: WebConfig, tls: bool) -> Web {
        Web {
            limiter: RateLimiter::new(config.limits.clone()),
            guard: AuthGuard::new(&config.limits),
            config,
            tls,
        }
    }

    fn secure(&self) -> bool {
        self.config.secure_cookies.unwrap_or(self.tls)
    }

    /// The session cookie's name: `__Host-` prefixed when Secure (bound to this origin).
    pub fn session_cookie(&self) -> &'static str {
        if self.secure() {
            "__Host-callscribe_session"
        } else {
            "callscribe_session"
        }
    }

    pub fn csrf_cookie(&self) -> &'static str {
        if self.secure() {
            "__Host-callscribe_csrf"
        } else {
            "callscribe_csrf"
        }
    }

    fn cookie(&self, name: &str, value: &str, max_age: i64, http_only: bool) -> HeaderValue {
        let mut c = format!(
            "{name}={value}; Path=/; SameSite=Strict; Max-Age={}",
            max_age.max(0)
        );
        if http_only {
            c.push_str("; HttpOnly");
        }
        if self.secure() {
            c.push_str("; Secure");
        }
        HeaderValue::from_str(&c).expect("cookie values are URL-safe base64")
    }
}

/// Who made a request (set by [`auth_layer`] on the API routes).
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub session: Option<WebSession>,
}

/// `None`: no credentials were presented.
#[derive(Debug, Clone)]
pub struct Auth(pub Option<Caller>);

impl Auth {
    /// The caller, if it has one of `roles`: else 401 (no credentials) or 403 (wrong role).
    pub fn require(&self, roles: &[Role]) -> Result<&Principal, Response> {
        match &self.0 {
            None => Err(api_error(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "sign in, or send an API key as Authorization: Bearer KEY",
            )),
            Some(c) if roles.contains(&c.principal.role) => Ok(&c.principal),
            Some(_) => Err(api_error(
                StatusCode::FORBIDDEN,
                "forbidden",
                "this key's role may not use this endpoint",
            )),
        }
    }
}

pub fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// A browser's request from another site? (Origin present and not this host.)
fn cross_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let origin_host = origin.split_once("://").map_or("", |(_, h)| h);
    origin == "null" || !origin_host.eq_ignore_ascii_case(host)
}

fn is_write(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

pub fn too_many(wait: std::time::Duration, code: &str, message: &str) -> Response {
    let mut r = api_error(StatusCode::TOO_MANY_REQUESTS, code, message);
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
    r
}

/// 429 while `ip` is backing off after failed authentications (counted in the metrics).
fn backing_off(st: &AppState, ip: std::net::IpAddr, now: Instant) -> Option<Response> {
    let wait = st.web.guard.blocked(ip, now)?;
    st.engine
        .metrics
        .auth_blocked
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Some(too_many(
        wait,
        "auth_backoff",
        "too many failed authentications from this address; retry later",
    ))
}

/// Records a failed authentication from `ip`.
fn auth_failed(st: &AppState, ip: std::net::IpAddr, now: Instant) {
    st.web.guard.failure(ip, now);
    st.engine
        .metrics
        .auth_failures
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// Authenticates every API request that presents credentials (an API key in
/// `Authorization`, or the session cookie), enforces CSRF and same-origin for cookie requests,
/// rate-limits per workspace, and backs off addresses that keep failing. Handlers then check
/// roles with [`Auth::require`].
pub async fn auth_layer(
    State(st): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    mut req: Request,
    next: Next,
) -> Response {
    let web = &st.web;
    let metrics = &st.engine.metrics;
    let now = Instant::now();
    let write = is_write(req.method());
    let ip = addr.ip();
    if let Some(r) = backing_off(&st, ip, now) {
        return r;
    }
    let headers = req.headers();
    let mut set_cookie = None;
    let caller = if !presented_keys(headers).is_empty() {
        match super::header_principal(
            &st.engine,
            headers,
            &[Role::Ingest, Role::Agent, Role::Admin, Role::Auditor],
        )
        .await
        {
            Ok(p) => {
                web.guard.success(ip);
                p.map(|principal| Caller {
                    principal,
                    session: None,
                })
            }
            Err(r) => {
                if r.status() == StatusCode::UNAUTHORIZED {
                    auth_failed(&st, ip, now);
                }
                return r;
            }
        }
    } else if let Some(token) = cookie_value(headers, web.session_cookie()) {
        match st.engine.store.web_session(token).await {
            Ok(s) => {
                if cross_origin(headers) {
                    return api_error(
                        StatusCode::FORBIDDEN,
                        "cross_origin",
                        "requests with the session cookie must come from this site",
                    );
                }
                if write {
                    let presented = headers
                        .get("x-csrf-token")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    if !s.csrf_matches(presented) {
                        return api_error(
                            StatusCode::FORBIDDEN,
                            "csrf_failed",
                            "missing or wrong X-CSRF-Token header",
                        );
                    }
                }
                let times = web.config.session_times();
                if s.due_for_rotation(&times, crate::store::now()) {
                    match st.engine.store.rotate_web_session(&s, &times).await {
                        Ok((token, expires_at)) => {
                            set_cookie = Some(web.cookie(
                                web.session_cookie(),
                                &token,
                                expires_at - crate::store::now(),
                                true,
                            ));
                        }
                        Err(e) => tracing::error!("cannot rotate a session: {e}"),
                    }
                }
                Some(Caller {
                    principal: s.principal.clone(),
                    session: Some(s),
                })
            }
            Err(AuthError::Invalid) => {
                let mut r = api_error(
                    StatusCode::UNAUTHORIZED,
                    "session_expired",
                    "the session has ended: sign in again",
                );
                r.headers_mut().append(
                    header::SET_COOKIE,
                    web.cookie(web.session_cookie(), "", 0, true),
                );
                return r;
            }
            Err(AuthError::Store(e)) => {
                tracing::error!("session lookup: {e}");
                return api_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store_unreachable",
                    "cannot check the session now",
                );
            }
        }
    } else {
        None
    };
    if let Some(c) = &caller {
        for class in [Class::Any, Class::Write] {
            if class == Class::Write && !write {
                continue;
            }
            if let Err(wait) = web.limiter.take(&c.principal.tenant, class, now) {
                metrics.rate_limited[class as usize]
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return too_many(
                    wait,
                    "rate_limited",
                    "too many requests for this workspace; slow down",
                );
            }
        }
    }
    req.extensions_mut().insert(Auth(caller));
    let mut resp = next.run(req).await;
    if let Some(c) = set_cookie {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
                   base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Security headers on every response; HSTS under TLS; API responses are never cached.
pub async fn security_headers(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/v1/");
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=()"),
    );
    if api && !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if st.web.tls {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=63072000; includeSubDomains"),
        );
    }
    resp
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    key: String,
}

/// `POST /v1/session`: an agent or admin key (JSON `{"key"}`) for a session cookie.
pub async fn sign_in(
    State(st): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let web = &st.web;
    let metrics = &st.engine.metrics;
    let now = Instant::now();
    let ip = addr.ip();
    if let Some(r) = backing_off(&st, ip, now) {
        return r;
    }
    if let Err(wait) = web.limiter.take(&ip.to_string(), Class::SignIn, now) {
        metrics.rate_limited[Class::SignIn as usize]
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return too_many(wait, "rate_limited", "too many sign-in attempts; slow down");
    }
    if cross_origin(&headers) {
        return api_error(
            StatusCode::FORBIDDEN,
            "cross_origin",
            "sign in from this site",
        );
    }
    // a cross-site form cannot send JSON without a preflight: this closes login CSRF
    let json_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json_type {
        return api_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send JSON: {\"key\": \"csk_…\"}",
        );
    }
    let Ok(SignIn { key }) = serde_json::from_slice::<SignIn>(&body) else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "the body must be {\"key\": \"csk_…\"}",
        );
    };
    let principal = match authenticate(&st.engine, key.trim(), &[Role::Agent, Role::Admin]).await {
        Ok(p) => p,
        Err((status, code, msg)) => {
            if status == StatusCode::UNAUTHORIZED {
                auth_failed(&st, ip, now);
            }
            return api_error(
                status,
                code,
                if status == StatusCode::FORBIDDEN {
                    "only agent and admin keys may sign in"
                } else {
                    msg
                },
            );
        }
    };
    web.guard.success(ip);
    let session = match st
        .engine
        .store
        .create_web_session(&principal, &web.config.session_times())
        .await
    {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("sign-in: {e}");
            return api_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "store_unreachable",
                "cannot sign in now",
            );
        }
    };
    let max_age = session.expires_at - crate::store::now();
    let mut resp = (
        StatusCode::OK,
        axum::Json(json!({
            "tenant": principal.tenant,
            "role": principal.role,
            "key": principal.key_id,
            "csrf_token": session.csrf.as_str(),
            "expires_at": session.expires_at,
        })),
    )
        .into_response();
    let h = resp.headers_mut();
    h.append(
        header::SET_COOKIE,
        web.cookie(web.session_cookie(), &session.token, max_age, true),
    );
    // readable by the page (double-submit): it sends it back as X-CSRF-Token
    h.append(
        header::SET_COOKIE,
        web.cookie(
            web.csrf_cookie(),
            &session.csrf,
            web.config.session_max_s as i64,
            false,
        ),
    );
    resp
}

/// `GET /v1/session`: who is signed in.
pub async fn whoami(axum::Extension(auth): axum::Extension<Auth>) -> Response {
    let Some(c) = &auth.0 else {
        return api_error(StatusCode::UNAUTHORIZED, "unauthorized", "not signed in");
    };
    let expires_at = c.session.as_ref().map(|s| s.expires_at);
    axum::Json(json!({"tenant": c.principal.tenant, "role": c.principal.role, "key": c.principal.key_id, "session": c.session.is_some(), "expires_at": expires_at}))
        .into_response()
}

/// `DELETE /v1/session`: signs out (the session is revoked server-side; cookies cleared).
pub async fn sign_out(
    State(st): State<AppState>,
    axum::Extension(auth): axum::Extension<Auth>,
) -> Response {
    let Some(s) = auth.0.as_ref().and_then(|c| c.session.as_ref()) else {
        return api_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "not signed in with a session",
        );
    };
    if let Err(e) = st.engine.store.revoke_web_session(s).await {
        tracing::error!("sign-out: {e}");
        return api_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unreachable",
            "cannot sign out now",
        );
    }
    let web = &st.web;
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        web.cookie(web.session_cookie(), "", 0, true),
    );
    resp.headers_mut().append(
        header::SET_COOKIE,
        web.cookie(web.csrf_cookie(), "", 0, false),
    );
    resp
}

/// `GET /.well-known/security.txt`.
pub async fn security_txt(State(st): State<AppState>) -> Response {
    match &st.web.config.security_txt {
        Some(s) => (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            render_security_txt(s),
        )
            .into_response(),
        None => api_error(
            StatusCode::NOT_FOUND,
            "not_found",
            "no security.txt is configured",
        ),
    }
}

/// The agent page, embedded in the binary.
pub async fn asset(path: &'static str) -> Response {
    let (body, ctype): (&'static str, &'static str) = match path {
        "index.html" => (
            include_str!("static/index.html"),
            "text/html; charset=utf-8",
        ),
        "app.js" => (
            include_str!("static/app.js"),
            "text/javascript; charset=utf-8",
        ),
        "app.css" => (include_str!("static/app.css"), "text/css; charset=utf-8"),
        _ => return api_error(StatusCode::NOT_FOUND, "not_found", "no such file"),
    };
    (
        [
            (header::CONTENT_TYPE, ctype),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates_are_recognised() {
        for ok in [
            "2027-06-30T00:00:00Z",
            "2027-06-30T00:00:00.5+05:30",
            "2027-06-30t12:00:00z",
        ] {
            assert!(is_rfc3339(ok), "{ok}");
        }
        for bad in [
            "2027-06-30",
            "30/06/2027",
            "2027-06-30T00:00:00",
            "2027-06-30T00:00:00+0530",
            "2027-06-30T00:00:00.Z",
        ] {
            assert!(!is_rfc3339(bad), "{bad}");
        }
    }

    #[test]
    fn security_txt_is_validated_and_rendered_in_rfc_9116_fields() {
        let mut s = SecurityTxt {
            contact: vec!["mailto:security@example.com".into()],
            expires: "2027-06-30T00:00:00Z".into(),
            encryption: vec![],
            acknowledgments: None,
            preferred_languages: Some("en, hi".into()),
            canonical: vec!["https://example.com/.well-known/security.txt".into()],
            policy: None,
            hiring: None,
        };
        let cfg = WebConfig {
            security_txt: Some(s.clone()),
            ..WebConfig::default()
        };
        cfg.validate().unwrap();
        assert_eq!(
            render_security_txt(&s),
            "Contact: mailto:security@example.com\nExpires: 2027-06-30T00:00:00Z\nPreferred-Languages: en, hi\nCanonical: https://example.com/.well-known/security.txt\n"
        );
        s.contact = vec!["security@example.com".into()];
        let err = WebConfig {
            security_txt: Some(s.clone()),
            ..WebConfig::default()
        }
        .validate()
        .unwrap_err();
        assert!(err.contains("not a mailto:"), "{err}");
        s.contact = vec!["mailto:a@b.c".into()];
        s.expires = "next year".into();
        assert!(
            WebConfig {
                security_txt: Some(s),
                ..WebConfig::default()
            }
            .validate()
            .unwrap_err()
            .contains("RFC 3339")
        );
    }

    #[test]
    fn session_times_must_rotate_before_idle_expiry() {
        let cfg = WebConfig {
            session_rotate_s: 1800,
            ..WebConfig::default()
        };
        assert!(cfg.validate().unwrap_err().contains("session_rotate_s"));
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; callscribe_session_x=2; callscribe_session=tok"),
        );
        assert_eq!(cookie_value(&h, "callscribe_session"), Some("tok"));
        assert_eq!(cookie_value(&h, "b"), None);
    }

    #[test]
    fn origin_must_match_host() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(
            !cross_origin(&h),
            "no Origin: not a cross-site browser request"
        );
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        assert!(!cross_origin(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(cross_origin(&h));
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(cross_origin(&h));
    }
}

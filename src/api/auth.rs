//! Who is calling: the authentication layer in front of every API route (an API key in
//! `Authorization`, or the browser-session cookie with same-origin and CSRF checks), the
//! per-workspace rate limits, the back-off of addresses that keep failing, and the role check
//! handlers make with [`Auth::require`].

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

use super::AppState;
use super::config::WebConfig;
use super::error::ApiError;
use super::limits::{Attempt, AuthGuard, Class, RateLimiter};
use crate::store::{AuthError, Principal, Role, WebSession};

/// Shared web state.
pub struct Web {
    pub config: WebConfig,
    pub tls: bool,
    pub limiter: RateLimiter,
    pub guard: AuthGuard,
    pub proxies: super::proxy::TrustedProxies,
}

impl Web {
    pub fn new(config: WebConfig, tls: bool) -> Web {
        Web {
            limiter: RateLimiter::new(config.limits.clone()),
            guard: AuthGuard::new(&config.limits),
            // validate() refused bad entries at start
            proxies: super::proxy::TrustedProxies::parse(&config.trusted_proxies)
                .unwrap_or_default(),
            config,
            tls,
        }
    }

    pub(super) fn secure(&self) -> bool {
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
    pub fn require(&self, roles: &[Role]) -> Result<&Principal, ApiError> {
        match &self.0 {
            None => Err(ApiError::unauthenticated()),
            Some(c) if roles.contains(&c.principal.role) => Ok(&c.principal),
            Some(_) => Err(AuthError::WrongRole.into()),
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
pub(super) fn cross_origin(headers: &HeaderMap) -> bool {
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

/// 429 while `who` is backing off after failed authentications (counted in the metrics).
pub(super) fn backing_off(st: &AppState, who: &Attempt, now: Instant) -> Result<(), ApiError> {
    let Some(wait) = st.web.guard.blocked(who, now) else {
        return Ok(());
    };
    st.engine
        .metrics
        .auth_blocked
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Err(ApiError::too_many(
        wait,
        "auth_backoff",
        "too many failed authentications with this key from this address; retry later",
    ))
}

/// Records a failed authentication of `who`.
pub(super) fn auth_failed(st: &AppState, who: &Attempt, now: Instant) {
    st.web.guard.failure(who, now);
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
    let write = is_write(req.method());
    let ip = st.web.proxies.client(addr.ip(), req.headers());
    let (caller, set_cookie) = match identify(&st, ip, req.headers(), write).await {
        Ok(found) => found,
        Err(e) => return e.into_response(),
    };
    req.extensions_mut().insert(Auth(caller));
    let mut resp = next.run(req).await;
    if let Some(c) = set_cookie {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}

/// The caller of a request (none without credentials), and a rotated session cookie to set.
async fn identify(
    st: &AppState,
    ip: IpAddr,
    headers: &HeaderMap,
    write: bool,
) -> Result<(Option<Caller>, Option<HeaderValue>), ApiError> {
    let web = &st.web;
    let metrics = &st.engine.metrics;
    let now = Instant::now();
    let mut set_cookie = None;
    let caller = if !presented_keys(headers).is_empty() {
        let roles = [Role::Ingest, Role::Agent, Role::Admin, Role::Auditor];
        header_principal(st, ip, headers, &roles)
            .await?
            .map(|principal| Caller {
                principal,
                session: None,
            })
    } else if let Some(token) = cookie_value(headers, web.session_cookie()) {
        match st.engine.store.web_session(token).await {
            Ok(s) => {
                if cross_origin(headers) {
                    return Err(ApiError::new(
                        StatusCode::FORBIDDEN,
                        "cross_origin",
                        "requests with the session cookie must come from this site",
                    ));
                }
                if write {
                    let presented = headers
                        .get("x-csrf-token")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    if !s.csrf_matches(presented) {
                        return Err(ApiError::new(
                            StatusCode::FORBIDDEN,
                            "csrf_failed",
                            "missing or wrong X-CSRF-Token header",
                        ));
                    }
                }
                let times = web.config.session_times();
                if s.due_for_rotation(&times, crate::sys::now()) {
                    match st.engine.store.rotate_web_session(&s, &times).await {
                        Ok((token, expires_at)) => {
                            set_cookie = Some(web.cookie(
                                web.session_cookie(),
                                &token,
                                expires_at - crate::sys::now(),
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
            Err(AuthError::Invalid | AuthError::WrongRole) => {
                return Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "session_expired",
                    "the session has ended: sign in again",
                )
                .with_header(
                    header::SET_COOKIE,
                    web.cookie(web.session_cookie(), "", 0, true),
                ));
            }
            Err(AuthError::Store(e)) => {
                tracing::error!("session lookup: {e}");
                return Err(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store_unreachable",
                    "cannot check the session now",
                ));
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
                return Err(ApiError::too_many(
                    wait,
                    "rate_limited",
                    "too many requests for this workspace; slow down",
                ));
            }
        }
    }
    Ok((caller, set_cookie))
}

/// The API key presented in `Authorization` (Bearer, or Basic with the key as password or
/// user name — Exotel embeds credentials in the URL), if any.
pub(super) fn presented_keys(headers: &HeaderMap) -> Vec<String> {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Vec::new();
    };
    let value = value.trim();
    if let Some(token) = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
    {
        return vec![token.trim().to_string()];
    }
    if let Some(b64) = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))
        && let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(b64.trim())
        && let Ok(text) = String::from_utf8(raw)
    {
        let (user, pass) = text.split_once(':').unwrap_or((text.as_str(), ""));
        return [pass, user]
            .into_iter()
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
    }
    vec![String::new()]
}

/// Authenticates the request's `Authorization` header for one of `roles`, if it has one
/// (Basic auth may carry the key as password or user name: the first that passes counts).
/// The first presented key is the attempt the back-off counts.
pub(super) async fn header_principal(
    st: &AppState,
    ip: IpAddr,
    headers: &HeaderMap,
    roles: &[Role],
) -> Result<Option<Principal>, ApiError> {
    let keys = presented_keys(headers);
    let Some(first) = keys.first() else {
        return Ok(None);
    };
    let who = Attempt::new(ip, first);
    Ok(Some(checked_key(st, &who, &keys, roles).await?))
}

/// Why a presented key was not accepted.
#[derive(Debug)]
pub(super) enum KeyRefused {
    /// The attempt is backing off after failed checks (not checked at all).
    BackingOff(ApiError),
    Auth(AuthError),
}

impl KeyRefused {
    /// What the client is told (HTTP body or close reason).
    pub(super) fn message(&self) -> String {
        match self {
            KeyRefused::BackingOff(e) => e.message().to_string(),
            KeyRefused::Auth(e) => e.public_message().to_string(),
        }
    }
}

impl From<KeyRefused> for ApiError {
    fn from(e: KeyRefused) -> Self {
        match e {
            KeyRefused::BackingOff(e) => e,
            KeyRefused::Auth(e) => e.into(),
        }
    }
}

/// Checks the keys one attempt `who` presents (Basic auth may carry the key as password or
/// user name: the first that passes counts) for one of `roles`, with the attempt's back-off:
/// refused unchecked while backing off; a wrong key counts once toward the back-off, a right
/// one clears it. Every key check of the API (headers, sign-in, an ingest `start`) goes
/// through here.
pub(super) async fn checked_key(
    st: &AppState,
    who: &Attempt,
    keys: &[impl AsRef<str>],
    roles: &[Role],
) -> Result<Principal, KeyRefused> {
    let now = Instant::now();
    backing_off(st, who, now).map_err(KeyRefused::BackingOff)?;
    let mut last = AuthError::Invalid;
    for key in keys {
        match st
            .engine
            .store
            .authenticate_as(key.as_ref(), roles, Some(who.ip))
            .await
        {
            Ok(p) => {
                st.web.guard.success(who);
                return Ok(p);
            }
            Err(e) => last = e,
        }
    }
    if matches!(last, AuthError::Invalid) {
        auth_failed(st, who, now);
    }
    Err(KeyRefused::Auth(last))
}

#[cfg(test)]
mod tests {
    use super::*;

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

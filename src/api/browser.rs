//! Browser sessions: signing in with an agent or admin key for a session cookie (plus a CSRF
//! token the page sends back), who is signed in, and signing out (revoked server-side). The
//! sessions themselves live in the store (`store/sessions.rs`), so every node honours them.

use std::net::SocketAddr;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::auth::{Auth, KeyRefused, Web, checked_key, cross_origin};
use super::error::ApiError;
use super::limits::{Attempt, Class};
use crate::store::{AuthError, Role};

impl Web {
    pub(super) fn cookie(
        &self,
        name: &str,
        value: &str,
        max_age: i64,
        http_only: bool,
    ) -> HeaderValue {
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
) -> Result<Response, ApiError> {
    let web = &st.web;
    let metrics = &st.engine.metrics;
    let now = Instant::now();
    let ip = st.web.proxies.client(addr.ip(), &headers);
    if let Err(wait) = web.limiter.take(&ip.to_string(), Class::SignIn, now) {
        metrics.rate_limited[Class::SignIn as usize]
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return Err(ApiError::too_many(
            wait,
            "rate_limited",
            "too many sign-in attempts; slow down",
        ));
    }
    if cross_origin(&headers) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "cross_origin",
            "sign in from this site",
        ));
    }
    // a cross-site form cannot send JSON without a preflight: this closes login CSRF
    let json_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json_type {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send JSON: {\"key\": \"csk_…\"}",
        ));
    }
    let Ok(SignIn { key }) = serde_json::from_slice::<SignIn>(&body) else {
        return Err(ApiError::bad_request(
            "the body must be {\"key\": \"csk_…\"}",
        ));
    };
    let who = Attempt::new(ip, key.trim());
    let principal = match checked_key(&st, &who, &[key.trim()], &[Role::Agent, Role::Admin]).await {
        Ok(p) => p,
        Err(KeyRefused::Auth(AuthError::WrongRole)) => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "only agent and admin keys may sign in",
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let session = match st
        .engine
        .store
        .create_web_session(&principal, &web.config.session_times())
        .await
    {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("sign-in: {e}");
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "store_unreachable",
                "cannot sign in now",
            ));
        }
    };
    let max_age = session.expires_at - crate::sys::now();
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
    Ok(resp)
}

/// `GET /v1/session`: who is signed in.
pub async fn whoami(axum::Extension(auth): axum::Extension<Auth>) -> Result<Response, ApiError> {
    let Some(c) = &auth.0 else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "not signed in",
        ));
    };
    let expires_at = c.session.as_ref().map(|s| s.expires_at);
    let body = json!({
        "tenant": c.principal.tenant,
        "role": c.principal.role,
        "key": c.principal.key_id,
        "session": c.session.is_some(),
        "expires_at": expires_at,
    });
    Ok(axum::Json(body).into_response())
}

/// `DELETE /v1/session`: signs out (the session is revoked server-side; cookies cleared).
pub async fn sign_out(
    State(st): State<AppState>,
    axum::Extension(auth): axum::Extension<Auth>,
) -> Result<Response, ApiError> {
    let Some(s) = auth.0.as_ref().and_then(|c| c.session.as_ref()) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "not signed in with a session",
        ));
    };
    if let Err(e) = st.engine.store.revoke_web_session(s).await {
        tracing::error!("sign-out: {e}");
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unreachable",
            "cannot sign out now",
        ));
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
    Ok(resp)
}

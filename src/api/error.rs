//! The API's one error type: every handler returns `Result<_, ApiError>`, and this file decides
//! the status, the JSON body `{"error": {"code", "message"}}` and what is logged. Internal
//! details (store errors) go to the log, never to the client; messages never carry transcript
//! text or key secrets.

use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::store::{AuthError, StoreError};

/// An error answer of the HTTP API.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// For 429: seconds until a retry can succeed (`Retry-After`).
    retry_after: Option<Duration>,
    /// Extra headers (e.g. a cookie cleared with the error).
    headers: Vec<(header::HeaderName, HeaderValue)>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
            headers: Vec::new(),
        }
    }

    /// 400 `bad_request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 401 without credentials.
    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "sign in, or send an API key as Authorization: Bearer KEY",
        )
    }

    /// 429 with `Retry-After` (whole seconds, at least 1).
    pub fn too_many(wait: Duration, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            retry_after: Some(wait),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, code, message)
        }
    }

    /// 500 for something the server could not do; `detail` goes to the log only.
    pub fn internal(doing: &str, detail: impl std::fmt::Display) -> Self {
        tracing::error!("{doing}: {detail}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("{doing} failed; the server log has the details"),
        )
    }

    /// A store failure while `doing` something: not-found kinds are 404, input errors 400, the
    /// rest 500 with a generic message (the detail is logged).
    pub fn store(doing: &str, e: StoreError) -> Self {
        match e {
            StoreError::CallNotFound { .. }
            | StoreError::AmbiguousCall { .. }
            | StoreError::CallShredded { .. } => Self::new(
                StatusCode::NOT_FOUND,
                "call_not_found",
                "no such call in this workspace",
            ),
            StoreError::ApiKeyNotFound { .. } => Self::new(
                StatusCode::NOT_FOUND,
                "key_not_found",
                "no such active API key in this workspace",
            ),
            StoreError::TenantNotFound(_) => Self::new(
                StatusCode::NOT_FOUND,
                "tenant_not_found",
                "the workspace no longer exists",
            ),
            StoreError::Invalid(msg) => Self::bad_request(msg),
            e => Self::internal(doing, e),
        }
    }

    /// Adds a header to the error response.
    pub fn with_header(mut self, name: header::HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

/// A key that failed: 401 invalid, 403 wrong role, 503 when the store cannot check it (logged
/// where it happened, by [`crate::store::Store::authenticate_as`]).
impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        let (status, code) = match e {
            AuthError::Invalid => (StatusCode::UNAUTHORIZED, "unauthorized"),
            AuthError::WrongRole => (StatusCode::FORBIDDEN, "forbidden"),
            AuthError::Store(_) => (StatusCode::SERVICE_UNAVAILABLE, "store_unreachable"),
        };
        Self::new(status, code, e.public_message())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message}});
        let mut r = (self.status, Json(body)).into_response();
        if let Some(wait) = self.retry_after {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        for (name, value) in self.headers {
            r.headers_mut().append(name, value);
        }
        r
    }
}

//! The HTTP edge's error: a status, a stable machine code and a safe message, always as
//! JSON `{"error": "...", "code": "..."}`. Details of internal failures go to the log,
//! never to the client. `ApiJson`, `ApiQuery` and `ApiForm` wrap axum's extractors so
//! that their rejections use the same body.

use axum::extract::rejection::{FormRejection, JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{request::Parts, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// An error answered to a client.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine code (`invalid_request`, `not_found`, …).
    pub code: &'static str,
    /// Human-readable message, safe to show.
    pub message: String,
    /// Extra headers (`Retry-After`).
    pub headers: Vec<(&'static str, String)>,
    /// The body's shape.
    pub format: ErrorFormat,
}

/// How an error body is shaped on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorFormat {
    /// vouch's own: `{"error": message, "code": machine_code}`.
    Standard,
    /// The OAuth token endpoint of the phone dialect, which two contracts read: RFC 6749
    /// (`error` = machine code, `error_description`) and the phone SDK (`code` = integer
    /// status, `message`). One body satisfies both.
    OAuth,
    /// The phone API (v3): `{"code": <integer>, "message": "..."}` with the vendor's
    /// codes (8000 internal, 8001 malformed, 8002 unauthorized, 8003 step out of order,
    /// 8008 invalid correlation id, …).
    Prove,
}

/// The phone API's integer code of an error.
pub fn prove_code(status: StatusCode, code: &str) -> u32 {
    match (status.as_u16(), code) {
        (_, "out_of_order") => 8003,
        (_, "invalid_correlation_id") => 8008,
        (_, "flow_expired") => 8008,
        (400 | 413 | 415 | 422, _) => 8001,
        (401, _) => 8002,
        (403 | 409, _) => 8003,
        (404 | 410, _) => 8008,
        (429, _) => 8029,
        _ => 8000,
    }
}

/// The HTTP status of a phone API error: only those the vendor's SDKs type (400, 401,
/// 403, 500) and 429 (rate limited, with `Retry-After`). An unknown or expired flow is
/// 400 with code 8008, a body over 4 KB or not JSON is 400 with 8001, a step out of
/// order 403 with 8003, and an unavailable network or store 500 with 8000 (its
/// `Retry-After` stays).
pub fn prove_status(status: StatusCode) -> StatusCode {
    match status.as_u16() {
        400 | 401 | 403 | 429 => status,
        409 => StatusCode::FORBIDDEN,
        402..=499 => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The JSON body of every error.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Human-readable message.
    pub error: String,
    /// Stable machine code.
    pub code: String,
}

/// The JSON body of every error of the phone API (v3), [`ErrorFormat::Prove`].
#[derive(Serialize, utoipa::ToSchema)]
pub struct ProveErrorBody {
    /// The vendor's code (8001 malformed, 8002 unauthorized, 8003 step out of order, 8008
    /// unknown or expired flow, 8029 rate limited, 8000 internal).
    pub code: u32,
    /// Human-readable message.
    pub message: String,
}

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            headers: Vec::new(),
            format: ErrorFormat::Standard,
        }
    }

    /// Reshapes the body (see [`ErrorFormat`]).
    pub fn in_format(mut self, format: ErrorFormat) -> Self {
        self.format = format;
        self
    }

    /// 400 invalid_request.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    /// 401 unauthorized.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403 forbidden.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404 not_found.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 500 internal_error; the detail is logged, not sent.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Internal server error",
        )
    }

    /// Adds a header.
    /// 429 for too many attempts of one kind, with `Retry-After` (the capture pages and
    /// admin sign-in).
    pub fn too_many_attempts(wait_secs: i64) -> Self {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("Too many attempts; try again in {wait_secs} s"),
        )
        .with_header("retry-after", wait_secs.to_string())
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

/// Logs a 503's cause at most once a second, with how many were not logged since: in an
/// outage every request fails the same way, and the log must stay readable.
fn log_unavailable(cause: &str) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST_SECOND: AtomicU64 = AtomicU64::new(0);
    static SUPPRESSED: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if LAST_SECOND.swap(now, Ordering::Relaxed) == now {
        SUPPRESSED.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let suppressed = SUPPRESSED.swap(0, Ordering::Relaxed);
    tracing::warn!(error = %cause, suppressed, "dependency unavailable");
}

impl From<vouch_core::Error> for ApiError {
    fn from(e: vouch_core::Error) -> Self {
        use vouch_core::Error as E;
        match e {
            E::NotFound(what) => {
                let mut msg = what.to_string();
                if let Some(first) = msg.get_mut(0..1) {
                    first.make_ascii_uppercase();
                }
                ApiError::not_found(format!("{msg} not found"))
            }
            E::Invalid(m) => ApiError::bad_request(m),
            E::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m),
            E::Denied(m) => ApiError::forbidden(m),
            E::Unauthenticated(m) => ApiError::unauthorized(m),
            E::Unavailable(m) => {
                log_unavailable(&m);
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "Service temporarily unavailable, try again shortly",
                )
                .with_header("retry-after", "5")
            }
            E::Internal(m) => ApiError::internal(m),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = match self.format {
            ErrorFormat::Standard => {
                let body = ErrorBody {
                    error: self.message,
                    code: self.code.to_string(),
                };
                (self.status, axum::Json(body)).into_response()
            }
            ErrorFormat::Prove => {
                let body = serde_json::json!({
                    "code": prove_code(self.status, self.code),
                    "message": self.message,
                });
                (prove_status(self.status), axum::Json(body)).into_response()
            }
            ErrorFormat::OAuth => {
                let body = serde_json::json!({
                    "error": self.code,
                    "error_description": self.message,
                    "code": self.status.as_u16(),
                    "message": self.message,
                });
                (self.status, axum::Json(body)).into_response()
            }
        };
        for (name, value) in self.headers {
            if let Ok(v) = value.parse() {
                resp.headers_mut().insert(name, v);
            }
        }
        resp
    }
}

/// Result type of handlers.
pub type ApiResult<T> = Result<T, ApiError>;

fn json_rejection(r: JsonRejection) -> ApiError {
    match r {
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Expected a request with Content-Type: application/json",
        ),
        JsonRejection::JsonSyntaxError(e) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("Malformed JSON: {}", e.body_text()),
        ),
        JsonRejection::JsonDataError(e) => {
            ApiError::bad_request(format!("Invalid request body: {}", e.body_text()))
        }
        JsonRejection::BytesRejection(e) => body_rejection(e.status(), e.body_text()),
        other => ApiError::bad_request(other.body_text()),
    }
}

fn body_rejection(status: StatusCode, text: String) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(status, "payload_too_large", "Request body is too large")
    } else {
        ApiError::bad_request(format!("Cannot read request body: {text}"))
    }
}

/// `Json` whose rejections are vouch's JSON errors.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(r) => Err(json_rejection(r)),
        }
    }
}

/// `Query` whose rejections are vouch's JSON errors.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(r) => Err(query_rejection(r)),
        }
    }
}

fn query_rejection(r: QueryRejection) -> ApiError {
    ApiError::bad_request(format!("Invalid query string: {}", r.body_text()))
}

/// `Form` whose rejections are vouch's JSON errors.
pub struct ApiForm<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiForm<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Form::<T>::from_request(req, state).await {
            Ok(axum::Form(v)) => Ok(ApiForm(v)),
            Err(FormRejection::InvalidFormContentType(_)) => Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Expected Content-Type: application/x-www-form-urlencoded",
            )),
            Err(FormRejection::BytesRejection(e)) => Err(body_rejection(e.status(), e.body_text())),
            Err(r) => Err(ApiError::bad_request(format!(
                "Invalid form body: {}",
                r.body_text()
            ))),
        }
    }
}

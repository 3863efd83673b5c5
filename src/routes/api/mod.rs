//! The JSON API. Errors are `{"error": {"code", "message", "details"}}` with a stable code.

pub mod licenses;

use axum::Json;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An API error with a stable machine-readable code.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Value,
    /// Extra response headers (e.g. rate-limit state).
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: Value::Null,
            headers: Vec::new(),
        }
    }

    pub fn with_headers(mut self, headers: &[(HeaderName, HeaderValue)]) -> Self {
        self.headers.extend_from_slice(headers);
        self
    }

    /// The error for a bare status (framework rejections such as 405 or 413), with a code
    /// derived from it.
    pub fn from_status(status: StatusCode, message: impl Into<String>) -> Self {
        let code = match status {
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
            StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
            StatusCode::REQUEST_TIMEOUT => "timeout",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            StatusCode::TOO_MANY_REQUESTS => "rate_limited",
            StatusCode::SERVICE_UNAVAILABLE => "unavailable",
            s if s.is_server_error() => "internal",
            _ => "bad_request",
        };
        Self::new(status, code, message)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        tracing::error!(error = %e, "database error in API request");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "The service is temporarily unavailable; retry shortly.",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (self.status, Json(json!({"error": {"code": self.code, "message": self.message, "details": self.details}}))).into_response();
        res.headers_mut().extend(self.headers);
        res
    }
}

/// Reads a JSON body, answering malformed input with our error format.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        let invalid =
            |status: StatusCode, message: String| ApiError::new(status, "invalid_request", message);
        let json_type = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<mime::Mime>().ok())
            .is_some_and(|m| {
                m.type_() == "application"
                    && (m.subtype() == "json" || m.suffix().is_some_and(|s| s == "json"))
            });
        if !json_type {
            return Err(invalid(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Expected request with `Content-Type: application/json`".into(),
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|rej| invalid(rej.status(), rej.body_text()))?;
        // Every request body of this API is an object; serde would also read a struct from
        // a JSON array, which no client means to send.
        let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
        if first.is_some_and(|b| *b != b'{') {
            return Err(invalid(
                StatusCode::UNPROCESSABLE_ENTITY,
                "The request body must be a JSON object.".into(),
            ));
        }
        match Json::<T>::from_bytes(&bytes) {
            Ok(Json(v)) => Ok(Self(v)),
            Err(rej) => Err(invalid(rej.status(), rej.body_text())),
        }
    }
}

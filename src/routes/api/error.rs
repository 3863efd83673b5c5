//! The one error format of the JSON API (`/api/v1/*`, and the Stripe webhook):
//!
//! ```json
//! {"error": {"code": "rate_limited", "message": "Too many requests; retry later.",
//!            "request_id": "0193c4…", "details": null}}
//! ```
//!
//! `code` is stable and machine-readable ([`ApiCode`]); `message` is a sentence for people;
//! `request_id` matches the `X-Request-Id` header and the server's logs. A handler returns an
//! [`ApiError`]; the response carries it as a marker and the error-page middleware writes the
//! body (it knows the request id). Framework rejections under `/api/` (404, 405, 413, …) get
//! the same shape with a code derived from the status.

use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

/// Every error code the API answers with. Lower-case codes describe the request; the
/// upper-case ones are the license API's codes (shared with `validate`'s answers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiCode {
    /// The body or a parameter is malformed or fails validation (details say where).
    InvalidRequest,
    /// The request cannot be handled as sent.
    BadRequest,
    /// No credentials, or credentials that are not valid (missing, revoked token).
    Unauthorized,
    /// Authenticated, but not allowed to do this.
    Forbidden,
    /// No such object (or not yours).
    NotFound,
    MethodNotAllowed,
    /// The request conflicts with the object's state.
    Conflict,
    PayloadTooLarge,
    UnsupportedMediaType,
    Timeout,
    RateLimited,
    /// A dependency (the database) is unavailable; retry.
    Unavailable,
    Internal,
    /// A webhook's signature does not verify.
    InvalidSignature,
    /// The account has no license (jobs need one).
    NoLicense,
    /// The account's license is suspended / expired / revoked.
    LicenseSuspended,
    LicenseExpired,
    LicenseRevoked,
    /// The month's job quota is used up (`details` has the limit and the reset date).
    QuotaExceeded,
    /// The dataset is larger than the license allows (`details` has the limit).
    DatasetTooLarge,
    /// The same `Idempotency-Key` was sent with a different body.
    IdempotencyConflict,
    /// The dataset is used by a queued or running job.
    DatasetInUse,
    #[serde(rename = "INVALID_SIGNATURE")]
    KeyInvalidSignature,
    #[serde(rename = "NOT_FOUND")]
    KeyNotFound,
    #[serde(rename = "REVOKED")]
    Revoked,
    #[serde(rename = "SUSPENDED")]
    Suspended,
    #[serde(rename = "EXPIRED")]
    Expired,
    #[serde(rename = "TOO_MANY_MACHINES")]
    TooManyMachines,
    #[serde(rename = "NOT_ACTIVATED")]
    NotActivated,
}

impl ApiCode {
    /// The code of a bare status (framework rejections).
    pub fn for_status(status: StatusCode) -> Self {
        match status {
            StatusCode::UNAUTHORIZED => Self::Unauthorized,
            StatusCode::FORBIDDEN => Self::Forbidden,
            StatusCode::NOT_FOUND => Self::NotFound,
            StatusCode::METHOD_NOT_ALLOWED => Self::MethodNotAllowed,
            StatusCode::CONFLICT => Self::Conflict,
            StatusCode::PAYLOAD_TOO_LARGE => Self::PayloadTooLarge,
            StatusCode::REQUEST_TIMEOUT => Self::Timeout,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::UnsupportedMediaType,
            StatusCode::UNPROCESSABLE_ENTITY => Self::InvalidRequest,
            StatusCode::TOO_MANY_REQUESTS => Self::RateLimited,
            StatusCode::SERVICE_UNAVAILABLE => Self::Unavailable,
            s if s.is_server_error() => Self::Internal,
            _ => Self::BadRequest,
        }
    }
}

impl From<crate::license::validate::Code> for ApiCode {
    fn from(c: crate::license::validate::Code) -> Self {
        use crate::license::validate::Code;
        match c {
            Code::InvalidSignature => Self::KeyInvalidSignature,
            Code::NotFound => Self::KeyNotFound,
            Code::Revoked => Self::Revoked,
            Code::Suspended => Self::Suspended,
            Code::Expired => Self::Expired,
            Code::TooManyMachines => Self::TooManyMachines,
            Code::NotActivated => Self::NotActivated,
            Code::Valid | Code::FingerprintRequired | Code::FingerprintMismatch => Self::BadRequest,
        }
    }
}

/// An API error: status, stable code, message, optional details, extra headers.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ApiCode,
    pub message: String,
    pub details: Value,
    /// Extra response headers (e.g. rate-limit state).
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

/// The error as it travels on the response, until the middleware writes the body.
#[derive(Debug, Clone)]
pub struct ApiErrorBody {
    pub code: ApiCode,
    pub message: String,
    pub details: Value,
}

impl ApiErrorBody {
    /// The JSON document, with the request's id.
    pub fn to_json(&self, request_id: &str) -> Value {
        serde_json::json!({"error": {
            "code": self.code,
            "message": self.message,
            "request_id": request_id,
            "details": self.details,
        }})
    }
}

impl ApiError {
    pub fn new(status: StatusCode, code: ApiCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: Value::Null,
            headers: Vec::new(),
        }
    }

    /// The error for a bare status, with the code derived from it.
    pub fn from_status(status: StatusCode, message: impl Into<String>) -> Self {
        Self::new(status, ApiCode::for_status(status), message)
    }

    pub fn with_headers(mut self, headers: &[(HeaderName, HeaderValue)]) -> Self {
        self.headers.extend_from_slice(headers);
        self
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ApiCode::BadRequest, message)
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ApiCode::InvalidRequest,
            message,
        )
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ApiCode::NotFound,
            format!("No such {what}."),
        )
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, ApiCode::Conflict, message)
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                tracing::warn!(error = %e, "database unavailable in API request");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ApiCode::Unavailable,
                    "The service is temporarily unavailable; retry shortly.",
                )
            }
            other => {
                tracing::error!(error = %other, "database error in API request");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ApiCode::Internal,
                    "Something went wrong on our side. The error has been logged.",
                )
            }
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        tracing::error!(error = format!("{e:#}"), "API request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ApiCode::Internal,
            "Something went wrong on our side. The error has been logged.",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = self.status.into_response();
        res.headers_mut().extend(self.headers);
        res.extensions_mut().insert(ApiErrorBody {
            code: self.code,
            message: self.message,
            details: self.details,
        });
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialize_as_documented() {
        let s = |c: ApiCode| serde_json::to_value(c).unwrap();
        assert_eq!(s(ApiCode::InvalidRequest), "invalid_request");
        assert_eq!(s(ApiCode::RateLimited), "rate_limited");
        assert_eq!(s(ApiCode::KeyNotFound), "NOT_FOUND");
        assert_eq!(s(ApiCode::TooManyMachines), "TOO_MANY_MACHINES");
        assert_eq!(
            ApiCode::for_status(StatusCode::PAYLOAD_TOO_LARGE),
            ApiCode::PayloadTooLarge
        );
    }
}

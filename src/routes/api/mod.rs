//! The JSON API. Errors use one format (see [`error`]): `{"error": {"code", "message",
//! "request_id", "details"}}` with a stable code.

pub mod datasets;
pub mod error;
pub mod jobs;
pub mod licenses;
pub mod openapi;
pub mod reference;

pub use error::{ApiCode, ApiError, ApiErrorBody};

use axum::Json;
use axum::http::StatusCode;

/// Reads a JSON body, answering malformed input with our error format.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        let invalid = |status: StatusCode, message: String| {
            ApiError::new(status, ApiCode::InvalidRequest, message)
        };
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

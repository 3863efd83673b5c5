//! The error policy: handlers return `AppError`; each variant has one status code. Site
//! responses carry an `ErrorPage` marker that the error-page middleware renders in the site's
//! style; internal details never reach a response, and a 5xx is logged once, here.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Result type of handlers and services.
pub type Result<T, E = AppError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The request conflicts with the record's current state (e.g. a status transition that
    /// is not allowed, or a record changed meanwhile).
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: u64 },
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                Self::Unavailable(e.to_string())
            }
            other => Self::Internal(anyhow::Error::new(other)),
        }
    }
}

impl From<askama::Error> for AppError {
    fn from(e: askama::Error) -> Self {
        Self::Internal(anyhow::Error::new(e).context("rendering a template"))
    }
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A message safe to show to the visitor.
    pub fn public_message(&self) -> String {
        match self {
            Self::NotFound => "The page you asked for does not exist or has moved.".into(),
            Self::BadRequest(m) => m.clone(),
            Self::Forbidden(m) => m.clone(),
            Self::Conflict(m) => m.clone(),
            Self::TooManyRequests { retry_after_secs } => {
                format!(
                    "Too many requests from your network. Please try again in {} minutes.",
                    retry_after_secs.div_ceil(60)
                )
            }
            Self::Unavailable(_) => {
                "The service is temporarily unavailable. Please try again shortly.".into()
            }
            Self::Internal(_) => {
                "Something went wrong on our side. The error has been logged.".into()
            }
        }
    }
}

/// Marker placed on error responses; the error-page middleware turns it into HTML.
#[derive(Debug, Clone)]
pub struct ErrorPage {
    pub message: String,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match &self {
            Self::Internal(e) => tracing::error!(error = format!("{e:#}"), "request failed"),
            Self::Unavailable(e) => tracing::warn!(error = %e, "dependency unavailable"),
            _ => {}
        }
        let mut res = self.status().into_response();
        if let Self::TooManyRequests { retry_after_secs } = self {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        res.extensions_mut().insert(ErrorPage {
            message: self.public_message(),
        });
        res
    }
}

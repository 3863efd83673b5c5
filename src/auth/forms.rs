//! Helpers shared by the site's form pages: the extractors that read a posted form and check
//! its CSRF token in one step, rendering a page that holds forms, formatting dates.

use crate::error::{AppError, Result};
use crate::security::csrf::FormToken;
use crate::state::AppState;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

/// Shown when a form's CSRF token is missing or does not match.
pub const CSRF_MESSAGE: &str = "Your session expired or the form was not sent from this site. Please reload the page and try again.";

/// A form that carries nothing but its CSRF token (action buttons).
#[derive(Debug, Default, Deserialize)]
pub struct CsrfOnly {}

/// A posted form whose CSRF token matched the visitor's cookie and session: reading the form
/// is the check, so a POST handler cannot forget it. A bad token is a 403 page; a form that
/// cannot be read is a 400 page saying why.
pub struct CsrfForm<T>(pub T);

/// A posted form for pages that show a CSRF failure inside the re-rendered form (sign-in,
/// passwords, Request Access, issuing): the handler must match on which one it got.
pub enum CheckedForm<T> {
    Valid(T),
    /// The token is missing or does not match; the fields are there to re-fill the form.
    BadToken(T),
}

/// Reads an urlencoded body into `T` and checks its `csrf_token` field.
async fn read_checked<T: DeserializeOwned>(req: Request, state: &AppState) -> Result<(T, bool)> {
    let form_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form_type {
        return Err(AppError::BadRequest(
            "The form could not be read: it was not sent as a web form.".into(),
        ));
    }
    let headers = req.headers().clone();
    let body = Bytes::from_request(req, state).await.map_err(|e| {
        AppError::BadRequest(format!("The form could not be read: {}", e.body_text()))
    })?;
    let token = url::form_urlencoded::parse(&body)
        .find(|(k, _)| k == "csrf_token")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let ok = state.csrf.verify_request(&headers, &token);
    if !ok {
        tracing::warn!("form rejected: missing or invalid CSRF token");
    }
    // Repeated keys (checkbox groups) read into lists.
    let value = serde_html_form::from_bytes(&body)
        .map_err(|e| AppError::BadRequest(format!("The form could not be read: {e}")))?;
    Ok((value, ok))
}

impl<T: DeserializeOwned> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self> {
        match read_checked(req, state).await? {
            (t, true) => Ok(Self(t)),
            (_, false) => Err(AppError::Forbidden(CSRF_MESSAGE.into())),
        }
    }
}

impl<T: DeserializeOwned> FromRequest<AppState> for CheckedForm<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self> {
        Ok(match read_checked(req, state).await? {
            (t, true) => Self::Valid(t),
            (t, false) => Self::BadToken(t),
        })
    }
}

/// Renders a page holding forms with `status`, setting the CSRF cookie when it is new.
pub fn render_with(page: &impl Template, token: FormToken, status: StatusCode) -> Result<Response> {
    let mut res = Html(page.render()?).into_response();
    *res.status_mut() = status;
    token.apply(&mut res);
    Ok(res)
}

/// `2026-11-30 14:05 UTC`.
pub fn fmt_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!("{} {:02}:{:02} UTC", t.date(), t.hour(), t.minute())
}

/// `2026-11-30`.
pub fn fmt_date(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC).date().to_string()
}

/// The display name of a tier id (the id itself when the tier is no longer configured).
pub fn tier_name(state: &AppState, id: &str) -> String {
    state
        .settings
        .pricing
        .tiers
        .iter()
        .find(|t| t.id == id)
        .map_or_else(|| id.to_string(), |t| t.name.clone())
}

/// The site's public URL without a trailing slash (for links in emails).
pub fn public_url(state: &AppState) -> &str {
    state.settings.server.public_url.trim_end_matches('/')
}

/// "2 keys issued, the latest on 2026-11-30" (keys look alike at the start, so they are
/// counted rather than listed).
pub fn keys_label((n, latest): (i64, Option<OffsetDateTime>)) -> String {
    match (n, latest) {
        (0, _) | (_, None) => "No key issued yet".into(),
        (1, Some(at)) => format!("1 key, issued on {}", fmt_date(at)),
        (n, Some(at)) => format!(
            "{n} keys issued (all valid), the latest on {}",
            fmt_date(at)
        ),
    }
}

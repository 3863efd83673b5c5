//! Helpers shared by the account and admin pages: reading a posted form, checking its CSRF
//! token, rendering a page that holds forms, and formatting dates for tables.

use crate::error::{AppError, Result};
use crate::security::csrf::FormToken;
use crate::state::AppState;
use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use time::OffsetDateTime;

/// Shown when a form's CSRF token is missing or does not match.
pub const CSRF_MESSAGE: &str = "Your session expired or the form was not sent from this site. Please reload the page and try again.";

/// A form that carries nothing but its CSRF token (action buttons).
#[derive(Debug, Default, Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    pub csrf_token: String,
}

/// The posted form, or a 400 page saying why it could not be read.
pub fn read<T>(form: std::result::Result<Form<T>, FormRejection>) -> Result<T> {
    form.map(|Form(t)| t)
        .map_err(|e| AppError::BadRequest(format!("The form could not be read: {}", e.body_text())))
}

/// Refuses (403) a form whose CSRF token does not match the visitor's cookie.
pub fn check_csrf(state: &AppState, headers: &HeaderMap, token: &str) -> Result<()> {
    if state.csrf.verify_request(headers, token) {
        Ok(())
    } else {
        tracing::warn!("form rejected: missing or invalid CSRF token");
        Err(AppError::Forbidden(CSRF_MESSAGE.into()))
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

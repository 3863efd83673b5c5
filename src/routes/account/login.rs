//! Logging in and out. Every failure gets the same message, and attempts are rate limited
//! per client address and per email address.

use super::home_of;
use super::pages::LoginPage;
use crate::auth::forms::{self, CSRF_MESSAGE, CsrfOnly};
use crate::auth::guard::{MaybeUser, safe_next, see_other};
use crate::auth::{password, session};
use crate::db;
use crate::error::{AppError, Result};
use crate::security;
use crate::state::AppState;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use std::net::SocketAddr;
use tower_sessions::Session;

/// The one message for a wrong email, a wrong password, or an account without a password.
pub const LOGIN_FAILED: &str = "Email or password is incorrect.";

#[derive(Debug, Default, Deserialize)]
pub struct LoginQuery {
    #[serde(default)]
    next: String,
    #[serde(default)]
    signed_out: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
    #[serde(default)]
    csrf_token: String,
}

fn login_page(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    email: &str,
    next: &str,
    error: Option<&str>,
    notice: Option<&'static str>,
) -> Result<Response> {
    let token = state.csrf.for_request(headers);
    let page = LoginPage {
        layout: state.site.layout(
            "Sign in",
            "Sign in to your Fox ML Infrastructure account.",
            "account",
            "/account/login",
        ),
        email: email.to_string(),
        next: safe_next(next).unwrap_or_default().to_string(),
        error: error.map(str::to_string),
        notice,
        csrf_token: token.token.clone(),
    };
    forms::render_with(&page, token, status)
}

/// Counts one attempt for `kind` against the client address and the email; 429 when either is over.
pub(super) fn limit_attempts(
    state: &AppState,
    headers: &HeaderMap,
    peer: SocketAddr,
    kind: &str,
    email: &str,
) -> Result<()> {
    let ip = security::client_ip(
        headers,
        Some(peer),
        state.settings.server.trust_forwarded_for,
    )
    .map_or_else(|| "unknown".to_string(), |ip| ip.to_string());
    let by_ip = state.login_limiter.check(&format!("{kind}:ip:{ip}"));
    let by_email = state.login_limiter.check(&format!("{kind}:email:{email}"));
    let wait = [by_ip, by_email].into_iter().filter_map(|r| r.err()).max();
    match wait {
        Some(retry_after_secs) => {
            tracing::warn!(kind, retry_after_secs, "attempts rate limited");
            Err(AppError::TooManyRequests { retry_after_secs })
        }
        None => Ok(()),
    }
}

#[tracing::instrument(skip_all)]
pub async fn show_login(
    State(state): State<AppState>,
    headers: HeaderMap,
    MaybeUser(user): MaybeUser,
    Query(q): Query<LoginQuery>,
) -> Result<Response> {
    if let Some(u) = user {
        return Ok(see_other(safe_next(&q.next).unwrap_or(home_of(&u))));
    }
    let notice = q.signed_out.is_some().then_some("You are signed out.");
    login_page(&state, &headers, StatusCode::OK, "", &q.next, None, notice)
}

#[tracing::instrument(skip_all)]
pub async fn log_in(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    session: Session,
    form: std::result::Result<Form<LoginForm>, FormRejection>,
) -> Result<Response> {
    let input = forms::read(form)?;
    if !state.csrf.verify_request(&headers, &input.csrf_token) {
        tracing::warn!("login rejected: missing or invalid CSRF token");
        return login_page(
            &state,
            &headers,
            StatusCode::FORBIDDEN,
            &input.email,
            &input.next,
            Some(CSRF_MESSAGE),
            None,
        );
    }
    let email = input.email.trim().to_lowercase();
    limit_attempts(&state, &headers, peer, "login", &email)?;

    let user = {
        let mut conn = state.db.acquire().await?;
        db::customers::user_by_email(&mut conn, &email).await?
    };
    let stored = user.as_ref().and_then(|u| u.password_hash.clone());
    // Checked even without an account or password, so that timing does not tell which.
    let matches = password::verify(input.password, stored).await?;
    match user {
        Some(u) if matches => {
            session::log_in(&session, &u).await?;
            tracing::info!(user_id = %u.id, "logged in");
            Ok(see_other(safe_next(&input.next).unwrap_or(home_of(&u))))
        }
        _ => {
            tracing::info!("login failed");
            login_page(
                &state,
                &headers,
                StatusCode::UNAUTHORIZED,
                &input.email,
                &input.next,
                Some(LOGIN_FAILED),
                None,
            )
        }
    }
}

#[tracing::instrument(skip_all)]
pub async fn log_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    session: Session,
    form: std::result::Result<Form<CsrfOnly>, FormRejection>,
) -> Result<Response> {
    let input = forms::read(form)?;
    forms::check_csrf(&state, &headers, &input.csrf_token)?;
    session::log_out(&session).await?;
    Ok(see_other("/account/login?signed_out=1"))
}

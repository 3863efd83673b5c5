//! Logging in and out. Every failure gets the same message. Failed attempts are limited per
//! client address and per (address, account); an account failed from many addresses is
//! slowed down, never locked.

use super::home_of;
use super::pages::LoginPage;
use crate::auth::forms::{self, CSRF_MESSAGE, CheckedForm, CsrfForm, CsrfOnly};
use crate::auth::guard::{MaybeUser, safe_next, see_other};
use crate::auth::{password, session};
use crate::db;
use crate::domain::AccountEmail;
use crate::error::{AppError, Result};
use crate::security::ClientIp;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
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

/// The sign-in limits of one attempt: which counters a failure adds to.
pub(super) struct Attempt {
    ip: String,
    pair: String,
    account: String,
}

impl Attempt {
    fn new(ip: ClientIp, email: &str) -> Self {
        Self {
            ip: ip.to_string(),
            pair: format!("{ip}|{email}"),
            account: email.to_string(),
        }
    }

    /// Before the password is checked: 429 when this address failed too often (for any
    /// account, or for this one). An account failed often from everywhere is only slowed
    /// down, so that nobody can lock its owner out. Successful sign-ins count nowhere.
    async fn guard(&self, state: &AppState) -> Result<()> {
        let l = &state.limits;
        let by_ip = l.login_ip.peek(&self.ip);
        let by_pair = l.login_pair.peek(&self.pair);
        if !by_ip.allowed || !by_pair.allowed {
            let (limiter, retry_after_secs) = if by_ip.allowed {
                (&l.login_pair, by_pair.reset_secs)
            } else {
                (&l.login_ip, by_ip.reset_secs)
            };
            limiter.note_refusal();
            return Err(AppError::TooManyRequests { retry_after_secs });
        }
        let by_account = l.login_account.peek(&self.account);
        if !by_account.allowed {
            let over = by_account.used.saturating_sub(by_account.limit) + 1;
            let delay = std::time::Duration::from_secs(u64::from(over.min(5)));
            tracing::info!(
                delay_ms = delay.as_millis() as u64,
                "sign-in slowed: many failures for this account"
            );
            tokio::time::sleep(delay).await;
        }
        Ok(())
    }

    fn failed(&self, state: &AppState) {
        state.limits.login_ip.record(&self.ip);
        state.limits.login_pair.record(&self.pair);
        state.limits.login_account.record(&self.account);
    }

    fn succeeded(&self, state: &AppState) {
        state.limits.login_pair.forget(&self.pair);
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
    ip: ClientIp,
    headers: HeaderMap,
    session: Session,
    form: CheckedForm<LoginForm>,
) -> Result<Response> {
    let input = match form {
        CheckedForm::Valid(input) => input,
        CheckedForm::BadToken(input) => {
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
    };
    // An address that cannot name an account is a failed attempt like any other.
    let email = AccountEmail::parse(&input.email).ok();
    let attempt = Attempt::new(
        ip,
        email.as_ref().map_or(input.email.trim(), |e| e.as_str()),
    );
    attempt.guard(&state).await?;

    let user = match &email {
        Some(email) => {
            let mut conn = state.db.acquire().await?;
            db::customers::user_by_email(&mut conn, email).await?
        }
        None => None,
    };
    let stored = user.as_ref().and_then(|u| u.password_hash.clone());
    // Checked even without an account or password, so that timing does not tell which.
    let matches = password::verify(input.password, stored).await?;
    match user {
        Some(u) if matches => {
            attempt.succeeded(&state);
            session::log_in(&session, &u).await?;
            tracing::info!(user_id = %u.id, "logged in");
            Ok(see_other(safe_next(&input.next).unwrap_or(home_of(&u))))
        }
        _ => {
            attempt.failed(&state);
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
    State(_state): State<AppState>,
    _headers: HeaderMap,
    session: Session,
    _: CsrfForm<CsrfOnly>,
) -> Result<Response> {
    session::log_out(&session).await?;
    Ok(see_other("/account/login?signed_out=1"))
}

//! Asking for a password reset link. The answer is the same whether or not an account
//! exists for the address; requests are limited per client address, and emails per account.

use super::pages::ResetPage;
use crate::auth::forms::{self, CSRF_MESSAGE, CheckedForm};
use crate::db;
use crate::domain::AccountEmail;
use crate::email::messages;
use crate::error::{AppError, Result};
use crate::security::ClientIp;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    email: String,
}

fn reset_page(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    email: &str,
    email_error: Option<String>,
    form_error: Option<String>,
    sent: bool,
) -> Result<Response> {
    let csrf = state.csrf.for_request(headers);
    let page = ResetPage {
        layout: state.site.layout(
            "Reset your password",
            "Get a link to choose a new password.",
            "account",
            "/account/reset",
        ),
        email: email.to_string(),
        email_error,
        form_error,
        sent,
        csrf_token: csrf.token.clone(),
    };
    forms::render_with(&page, csrf, status)
}

#[tracing::instrument(skip_all)]
pub async fn show_reset(State(state): State<AppState>, headers: HeaderMap) -> Result<Response> {
    reset_page(&state, &headers, StatusCode::OK, "", None, None, false)
}

#[tracing::instrument(skip_all)]
pub async fn request_reset(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    form: CheckedForm<ResetForm>,
) -> Result<Response> {
    let input = match form {
        CheckedForm::Valid(input) => input,
        CheckedForm::BadToken(input) => {
            return reset_page(
                &state,
                &headers,
                StatusCode::FORBIDDEN,
                &input.email,
                None,
                Some(CSRF_MESSAGE.into()),
                false,
            );
        }
    };
    let email = match AccountEmail::parse(&input.email) {
        Ok(e) => e,
        Err(m) => {
            return reset_page(
                &state,
                &headers,
                StatusCode::UNPROCESSABLE_ENTITY,
                &input.email,
                Some(m),
                None,
                false,
            );
        }
    };
    // Per address: refused past the limit. Per account: past the limit the answer stays the
    // same but no further email is sent (nobody can flood a mailbox, nor stop its owner
    // from asking for a link from their own address).
    if let Err(retry_after_secs) = state.limits.login_pair.check(&format!("reset|{ip}")) {
        return Err(AppError::TooManyRequests { retry_after_secs });
    }
    let mailbox = state.limits.login_account.hit(&format!("reset|{email}"));

    let mut tx = state.db.begin().await?;
    let user = db::customers::user_by_email(&mut tx, &email).await?;
    if !mailbox.allowed {
        tracing::info!("password reset email suppressed: too many for this address");
    } else if let Some(user) = user {
        let hours = state.settings.security.token_ttl_hours;
        let token = db::tokens::create(
            &mut tx,
            user.id,
            "reset_password",
            time::Duration::hours(hours as i64),
        )
        .await?;
        let url = format!(
            "{}/account/reset/confirm?token={token}",
            forms::public_url(&state)
        );
        let mail = messages::password_reset(&user.email, &url, hours);
        db::outbox::enqueue(&mut tx, &mail.as_new()).await?;
        tx.commit().await?;
        state.outbox_wake.notify_one();
        tracing::info!(user_id = %user.id, "password reset link queued");
    } else {
        tracing::info!("password reset asked for an unknown address");
    }
    // The same answer either way: the page does not tell who has an account.
    reset_page(
        &state,
        &headers,
        StatusCode::OK,
        email.as_str(),
        None,
        None,
        true,
    )
}

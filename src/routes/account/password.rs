//! Passwords from emailed one-time links: the first password (`set_password`, sent with the
//! license key) and a reset (`reset_password`, requested in `reset`). Choosing one ends
//! every other session (the epoch is bumped) and logs this one in.

use super::home_of;
use super::pages::{PasswordErrors, PasswordPage};
use crate::auth::forms::{self, CSRF_MESSAGE};
use crate::auth::guard::{actor, see_other};
use crate::auth::{password, session};
use crate::db;
use crate::error::Result;
use crate::state::AppState;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use tower_sessions::Session;

/// Which link a password form answers.
#[derive(Clone, Copy)]
enum Purpose {
    Set,
    Reset,
}

impl Purpose {
    fn token_purpose(self) -> &'static str {
        match self {
            Self::Set => "set_password",
            Self::Reset => "reset_password",
        }
    }
    fn path(self) -> &'static str {
        match self {
            Self::Set => "/account/set-password",
            Self::Reset => "/account/reset/confirm",
        }
    }
    fn heading(self) -> &'static str {
        match self {
            Self::Set => "Set your password",
            Self::Reset => "Choose a new password",
        }
    }
    fn audit_action(self) -> &'static str {
        match self {
            Self::Set => "user.password_set",
            Self::Reset => "user.password_reset",
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
    #[serde(default)]
    csrf_token: String,
}

fn password_page(
    state: &AppState,
    headers: &HeaderMap,
    purpose: Purpose,
    status: StatusCode,
    token: String,
    link_valid: bool,
    errors: PasswordErrors,
) -> Result<Response> {
    let csrf = state.csrf.for_request(headers);
    let page = PasswordPage {
        layout: state.site.layout(
            purpose.heading(),
            "Choose the password of your Fox ML Infrastructure account.",
            "account",
            purpose.path(),
        ),
        heading: purpose.heading(),
        action: purpose.path(),
        token,
        link_valid,
        errors,
        csrf_token: csrf.token.clone(),
    };
    forms::render_with(&page, csrf, status)
}

async fn show_form(
    state: AppState,
    headers: HeaderMap,
    purpose: Purpose,
    token: String,
) -> Result<Response> {
    let usable = !token.is_empty() && {
        let mut conn = state.db.acquire().await?;
        db::tokens::is_usable(&mut conn, &token, purpose.token_purpose()).await?
    };
    let status = if usable {
        StatusCode::OK
    } else {
        StatusCode::GONE
    };
    password_page(
        &state,
        &headers,
        purpose,
        status,
        token,
        usable,
        PasswordErrors::default(),
    )
}

async fn choose_password(
    state: AppState,
    headers: HeaderMap,
    session: Session,
    purpose: Purpose,
    input: PasswordForm,
) -> Result<Response> {
    if !state.csrf.verify_request(&headers, &input.csrf_token) {
        tracing::warn!("password form rejected: missing or invalid CSRF token");
        let errors = PasswordErrors {
            form: Some(CSRF_MESSAGE.into()),
            ..Default::default()
        };
        return password_page(
            &state,
            &headers,
            purpose,
            StatusCode::FORBIDDEN,
            input.token,
            true,
            errors,
        );
    }
    let mut errors = PasswordErrors::default();
    if let Err(m) = password::check_policy(&input.password) {
        errors.password = Some(m);
    } else if input.password != input.password_confirm {
        errors.confirm = Some("The two passwords do not match.".into());
    }
    if errors.password.is_some() || errors.confirm.is_some() {
        return password_page(
            &state,
            &headers,
            purpose,
            StatusCode::UNPROCESSABLE_ENTITY,
            input.token,
            true,
            errors,
        );
    }
    let hash = password::hash(input.password).await?;
    let mut tx = state.db.begin().await?;
    let Some(user_id) = db::tokens::consume(&mut tx, &input.token, purpose.token_purpose()).await?
    else {
        tracing::info!("password link unusable");
        return password_page(
            &state,
            &headers,
            purpose,
            StatusCode::GONE,
            String::new(),
            false,
            PasswordErrors::default(),
        );
    };
    let user = db::accounts::set_password(&mut tx, user_id, &hash).await?;
    // Other links sent earlier (a second reset request, the first set-password link) die too.
    db::accounts::retire_tokens(&mut tx, user_id).await?;
    db::audit::record(
        &mut tx,
        &actor(&user),
        purpose.audit_action(),
        "user",
        &user.id.to_string(),
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    session::log_in(&session, &user).await?;
    tracing::info!(user_id = %user.id, "password chosen; logged in");
    Ok(see_other(home_of(&user)))
}

/// The token travels in the form; a form posted to the emailed URL itself may carry it there.
fn with_query_token(mut input: PasswordForm, q: TokenQuery) -> PasswordForm {
    if input.token.is_empty() {
        input.token = q.token;
    }
    input
}

#[tracing::instrument(skip_all)]
pub async fn show_set_password(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Result<Response> {
    show_form(state, headers, Purpose::Set, q.token).await
}

#[tracing::instrument(skip_all)]
pub async fn set_password(
    State(state): State<AppState>,
    headers: HeaderMap,
    session: Session,
    Query(q): Query<TokenQuery>,
    form: std::result::Result<Form<PasswordForm>, FormRejection>,
) -> Result<Response> {
    let input = with_query_token(forms::read(form)?, q);
    choose_password(state, headers, session, Purpose::Set, input).await
}

#[tracing::instrument(skip_all)]
pub async fn show_reset_confirm(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Result<Response> {
    show_form(state, headers, Purpose::Reset, q.token).await
}

#[tracing::instrument(skip_all)]
pub async fn reset_password(
    State(state): State<AppState>,
    headers: HeaderMap,
    session: Session,
    Query(q): Query<TokenQuery>,
    form: std::result::Result<Form<PasswordForm>, FormRejection>,
) -> Result<Response> {
    let input = with_query_token(forms::read(form)?, q);
    choose_password(state, headers, session, Purpose::Reset, input).await
}

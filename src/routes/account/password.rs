//! Passwords from emailed one-time links: the first password (`set_password`, sent with the
//! license key) and a reset (`reset_password`, requested in `reset`). Choosing one ends
//! every other session (the epoch is bumped) and logs this one in.

use super::home_of;
use super::pages::{PasswordErrors, PasswordPage};
use crate::auth::forms::{self, CSRF_MESSAGE, CheckedForm};
use crate::auth::guard::{actor, see_other};
use crate::auth::{password, session};
use crate::db;
use crate::error::Result;
use crate::state::AppState;
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
    form: CheckedForm<PasswordForm>,
) -> Result<Response> {
    let input = match form {
        CheckedForm::Valid(input) => input,
        CheckedForm::BadToken(input) => {
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
    };
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
/// The form, with the link's token when the form did not carry one.
fn with_query_token(form: CheckedForm<PasswordForm>, q: TokenQuery) -> CheckedForm<PasswordForm> {
    let fill = |mut input: PasswordForm| {
        if input.token.is_empty() {
            input.token = q.token;
        }
        input
    };
    match form {
        CheckedForm::Valid(input) => CheckedForm::Valid(fill(input)),
        CheckedForm::BadToken(input) => CheckedForm::BadToken(fill(input)),
    }
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
    form: CheckedForm<PasswordForm>,
) -> Result<Response> {
    choose_password(
        state,
        headers,
        session,
        Purpose::Set,
        with_query_token(form, q),
    )
    .await
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
    form: CheckedForm<PasswordForm>,
) -> Result<Response> {
    choose_password(
        state,
        headers,
        session,
        Purpose::Reset,
        with_query_token(form, q),
    )
    .await
}

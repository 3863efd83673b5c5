//! API tokens: create one (shown once, on the page that answers the creation) and revoke one.

use super::dashboard::{Extras, render_dashboard};
use super::pages::NewTokenView;
use crate::auth::CurrentUser;
use crate::auth::forms::{CsrfForm, CsrfOnly};
use crate::auth::guard::{actor, see_other};
use crate::db;
use crate::error::{AppError, Result};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use uuid::Uuid;

/// Active tokens a user may hold at once.
const MAX_TOKENS: usize = 50;

#[derive(Debug, Default, Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    name: String,
}

#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn create_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: CurrentUser,
    CsrfForm(input): CsrfForm<TokenForm>,
) -> Result<Response> {
    let name = input.name.trim().to_string();
    let error = if name.is_empty() {
        Some("Give the token a name, e.g. the machine or script that uses it.".to_string())
    } else if name.chars().count() > 100 {
        Some("Use at most 100 characters.".to_string())
    } else {
        None
    };
    let mut tx = state.db.begin().await?;
    let active = db::api_tokens::for_user(&mut tx, user.id)
        .await?
        .iter()
        .filter(|t| t.revoked_at.is_none())
        .count();
    let error = error.or_else(|| {
        (active >= MAX_TOKENS)
            .then(|| format!("You have {MAX_TOKENS} active tokens; revoke one first."))
    });
    if let Some(e) = error {
        drop(tx);
        let extras = Extras {
            token_name: input.name,
            token_error: Some(e),
            ..Default::default()
        };
        return render_dashboard(
            &state,
            &headers,
            &user,
            StatusCode::UNPROCESSABLE_ENTITY,
            extras,
        )
        .await;
    }
    let generated = db::api_tokens::generate();
    let id = db::api_tokens::insert(&mut tx, user.id, &name, &generated).await?;
    let details = serde_json::json!({"prefix": generated.prefix});
    db::audit::record(
        &mut tx,
        &actor(&user),
        "api_token.create",
        "api_token",
        &id.to_string(),
        details,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(token_id = %id, "API token created");
    let extras = Extras {
        new_token: Some(NewTokenView {
            name,
            token: generated.token,
        }),
        ..Default::default()
    };
    render_dashboard(&state, &headers, &user, StatusCode::OK, extras).await
}

#[tracing::instrument(skip_all, fields(user_id = %user.id, token_id = %id))]
pub async fn revoke_token(
    State(state): State<AppState>,
    _headers: HeaderMap,
    user: CurrentUser,
    Path(id): Path<Uuid>,
    _: CsrfForm<CsrfOnly>,
) -> Result<Response> {
    let mut tx = state.db.begin().await?;
    if !db::api_tokens::revoke(&mut tx, user.id, id).await? {
        return Err(AppError::NotFound);
    }
    db::audit::record(
        &mut tx,
        &actor(&user),
        "api_token.revoke",
        "api_token",
        &id.to_string(),
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    tracing::info!("API token revoked");
    Ok(see_other("/account?notice=token-revoked"))
}

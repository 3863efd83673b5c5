//! `ApiUser`: who calls the job API. Programs send `Authorization: Bearer fox_…` (an API
//! token); the browser dashboard uses its login session, and then every request that changes
//! something must carry the page's CSRF token in an `X-CSRF-Token` header. The caller must
//! belong to a customer account (staff accounts have no jobs).

use crate::db::{self, customers::User};
use crate::routes::api::{ApiCode, ApiError};
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use uuid::Uuid;

/// How the caller proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthVia {
    Token,
    Session,
}

/// An authenticated caller of the job API and the account whose objects it may see.
#[derive(Debug, Clone)]
pub struct ApiUser {
    pub user: User,
    pub customer_id: Uuid,
    pub via: AuthVia,
}

fn unauthorized(message: &str) -> ApiError {
    let mut e = ApiError::new(StatusCode::UNAUTHORIZED, ApiCode::Unauthorized, message);
    e.headers.push((
        header::WWW_AUTHENTICATE,
        axum::http::HeaderValue::from_static("Bearer"),
    ));
    e
}

impl FromRequestParts<AppState> for ApiUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let (user, via) = match bearer {
            Some(token) => {
                let mut conn = state.db.acquire().await?;
                let Some(user_id) = db::api_tokens::authenticate(&mut conn, token).await? else {
                    return Err(unauthorized(
                        "The API token is not valid (unknown or revoked).",
                    ));
                };
                let user = db::customers::user_by_id(&mut conn, user_id)
                    .await?
                    .ok_or_else(|| unauthorized("The API token's account no longer exists."))?;
                (user, AuthVia::Token)
            }
            None => {
                let user = crate::auth::guard::load_user(parts, state)
                    .await
                    .map_err(|e| ApiError::from(anyhow::anyhow!("{e}")))?
                    .ok_or_else(|| {
                        unauthorized("Send an API token (Authorization: Bearer fox_…) or sign in.")
                    })?;
                // A browser session authorises only requests from our own pages.
                let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
                let token = parts
                    .headers
                    .get("x-csrf-token")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                if !safe && !state.csrf.verify_request(&parts.headers, token) {
                    return Err(ApiError::new(
                        StatusCode::FORBIDDEN,
                        ApiCode::Forbidden,
                        "Requests signed in with a browser session must carry the page's CSRF token in X-CSRF-Token.",
                    ));
                }
                (user, AuthVia::Session)
            }
        };
        let Some(customer_id) = user.customer_id else {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                ApiCode::Forbidden,
                "This account is not a customer account; datasets and jobs belong to customers.",
            ));
        };
        Ok(Self {
            user,
            customer_id,
            via,
        })
    }
}

//! Extractors that guard handlers: `CurrentUser` (logged in), `RequireRole<R>` (logged in
//! with one of R's roles), `MaybeUser` (either). Anonymous visitors are sent to the login
//! page with a `next` link back; a logged-in user without the role gets a 403 page.

use super::session;
use crate::db::{self, audit::Actor, customers::User};
use crate::domain::Role;
use crate::error::AppError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::marker::PhantomData;
use tower_sessions::Session;

/// Why a guard refused the request.
#[derive(Debug)]
pub enum AuthRejection {
    /// Not logged in: 303 to the login page, then back to `next`.
    Login {
        next: String,
    },
    /// Logged in without the needed role.
    Forbidden,
    Error(AppError),
}

impl From<AppError> for AuthRejection {
    fn from(e: AppError) -> Self {
        Self::Error(e)
    }
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        match self {
            Self::Login { next } => see_other(&login_url(&next)),
            Self::Forbidden => {
                AppError::Forbidden("Your account does not have access to this page.".into())
                    .into_response()
            }
            Self::Error(e) => e.into_response(),
        }
    }
}

/// `/account/login?next=…` for a path on this site (plain `/account/login` without one).
pub fn login_url(next: &str) -> String {
    if next.is_empty() {
        return "/account/login".into();
    }
    let enc: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
    format!("/account/login?next={enc}")
}

/// A 303 See Other to `location` (a path on this site).
pub fn see_other(location: &str) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

/// The audit actor for a signed-in user.
pub fn actor(user: &User) -> Actor {
    Actor {
        id: Some(user.id),
        label: user.email.clone(),
    }
}

/// The session of the request (installed by the session layer).
pub fn session_of(parts: &Parts) -> Result<Session, AppError> {
    parts
        .extensions
        .get::<Session>()
        .cloned()
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("the session layer is not installed")))
}

/// The logged-in user, or `None`. A session whose user is gone or whose epoch is older than
/// the user's (password changed since) is ended.
pub(crate) async fn load_user(parts: &Parts, state: &AppState) -> Result<Option<User>, AppError> {
    let session = session_of(parts)?;
    let Some(su) = session::logged_in(&session).await? else {
        return Ok(None);
    };
    let mut conn = state.db.acquire().await?;
    match db::customers::user_by_id(&mut conn, su.id).await? {
        Some(u) if u.session_epoch == su.epoch => Ok(Some(u)),
        _ => {
            tracing::info!(user_id = %su.id, "session no longer valid; logged out");
            session::log_out(&session).await?;
            Ok(None)
        }
    }
}

/// The page to return to after login: the requested one for a GET, none for a form post
/// (its URL cannot be opened with a GET afterwards).
fn requested(parts: &Parts) -> String {
    if parts.method != axum::http::Method::GET && parts.method != axum::http::Method::HEAD {
        return String::new();
    }
    parts
        .uri
        .path_and_query()
        .map_or(String::new(), |p| p.as_str().to_string())
}

/// The visitor, logged in or not.
pub struct MaybeUser(pub Option<User>);

impl FromRequestParts<AppState> for MaybeUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        Ok(Self(load_user(parts, state).await?))
    }
}

/// A logged-in user (any role).
pub struct CurrentUser(pub User);

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, AuthRejection> {
        match load_user(parts, state).await? {
            Some(u) => Ok(Self(u)),
            None => Err(AuthRejection::Login {
                next: requested(parts),
            }),
        }
    }
}

impl std::ops::Deref for CurrentUser {
    type Target = User;
    fn deref(&self) -> &User {
        &self.0
    }
}

/// A set of roles allowed through a [`RequireRole`] guard.
pub trait Roles: Send + Sync + 'static {
    const ALLOWED: &'static [Role];
}

/// Sales staff and administrators: the sales area.
pub struct Staff;
impl Roles for Staff {
    const ALLOWED: &'static [Role] = &[Role::Sales, Role::Admin];
}

/// Administrators only: license actions and the audit log.
pub struct Admin;
impl Roles for Admin {
    const ALLOWED: &'static [Role] = &[Role::Admin];
}

/// A logged-in user whose role is in `R::ALLOWED`.
pub struct RequireRole<R: Roles> {
    pub user: User,
    _roles: PhantomData<R>,
}

pub type StaffUser = RequireRole<Staff>;
pub type AdminUser = RequireRole<Admin>;

impl<R: Roles> RequireRole<R> {
    pub fn actor(&self) -> Actor {
        actor(&self.user)
    }
}

impl<R: Roles> FromRequestParts<AppState> for RequireRole<R> {
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, AuthRejection> {
        let CurrentUser(user) = CurrentUser::from_request_parts(parts, state).await?;
        if !R::ALLOWED.contains(&user.role) {
            tracing::warn!(user_id = %user.id, path = parts.uri.path(), "role not allowed");
            return Err(AuthRejection::Forbidden);
        }
        Ok(Self {
            user,
            _roles: PhantomData,
        })
    }
}

impl<R: Roles> std::ops::Deref for RequireRole<R> {
    type Target = User;
    fn deref(&self) -> &User {
        &self.user
    }
}

/// Whether `next` is a safe place to return to after login: a path on this site only (no
/// scheme, no `//host`, no backslashes browsers treat as slashes).
pub fn safe_next(next: &str) -> Option<&str> {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(|c| c.is_control())
        && next.len() <= 500;
    ok.then_some(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_must_be_a_local_path() {
        assert_eq!(safe_next("/account?x=1"), Some("/account?x=1"));
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "account",
            "/a\nb",
        ] {
            assert_eq!(safe_next(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn login_url_encodes_next() {
        assert_eq!(login_url(""), "/account/login");
        assert_eq!(
            login_url("/admin/leads?status=new&q=a b"),
            "/account/login?next=%2Fadmin%2Fleads%3Fstatus%3Dnew%26q%3Da+b"
        );
    }
}

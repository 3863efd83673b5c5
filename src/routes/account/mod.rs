//! Customer accounts: login and logout, setting and resetting passwords, the dashboard
//! (licenses, machines, keys, API tokens, billing).

mod dashboard;
mod login;
mod pages;
mod password;
mod reset;
mod tokens;

use crate::domain::Role;
use crate::state::AppState;
use axum::Router;
use axum::routing::{get, post};

/// The account routes (registered in `startup::router_with`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/account", get(dashboard::show_dashboard))
        .route("/account/login", get(login::show_login).post(login::log_in))
        .route("/account/logout", post(login::log_out))
        .route(
            "/account/set-password",
            get(password::show_set_password).post(password::set_password),
        )
        .route(
            "/account/reset",
            get(reset::show_reset).post(reset::request_reset),
        )
        .route(
            "/account/reset/confirm",
            get(password::show_reset_confirm).post(password::reset_password),
        )
        .route("/account/licenses/{id}/resend", post(dashboard::resend_key))
        .route(
            "/account/licenses/{id}/machines/{machine_id}/deactivate",
            post(dashboard::deactivate_machine),
        )
        .route("/account/billing", post(dashboard::open_billing))
        .route("/account/tokens", post(tokens::create_token))
        .route("/account/tokens/{id}/revoke", post(tokens::revoke_token))
}

/// Where a user goes after logging in when no `next` was given.
fn home_of(user: &crate::db::customers::User) -> &'static str {
    if user.role == Role::Customer {
        "/account"
    } else {
        "/admin"
    }
}

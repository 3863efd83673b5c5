//! Customer accounts: login, passwords, the dashboard (licenses, machines, API tokens).

use crate::state::AppState;
use axum::Router;

/// The account routes (registered in `startup::router_with`).
pub fn router() -> Router<AppState> {
    Router::new()
}

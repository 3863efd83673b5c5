//! The sales and admin area: leads, manual licenses, license actions, audit log.

use crate::state::AppState;
use axum::Router;

/// The sales/admin routes (registered in `startup::router_with`).
pub fn router() -> Router<AppState> {
    Router::new()
}

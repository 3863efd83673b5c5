//! Liveness and readiness probes.

use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;

/// The process is up.
pub async fn healthz() -> &'static str {
    "ok"
}

/// The database answers.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    match sqlx::query_scalar!("SELECT 1 AS one").fetch_one(&state.db).await {
        Ok(_) => (StatusCode::OK, "ready"),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}

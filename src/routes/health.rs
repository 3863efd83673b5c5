//! Liveness and readiness probes.

use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};
use std::sync::atomic::Ordering;

/// The process is up.
pub async fn healthz() -> &'static str {
    "ok"
}

/// The database answers and the server is not shutting down.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    if state.draining.load(Ordering::Relaxed) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "draining"})),
        );
    }
    match sqlx::query_scalar!("SELECT 1 AS one")
        .fetch_one(&state.db)
        .await
    {
        Ok(_) => (
            StatusCode::OK,
            Json(json!({"status": "ready", "database": "ok"})),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "unavailable", "database": "unreachable"})),
            )
        }
    }
}

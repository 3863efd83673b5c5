//! `POST /webhooks/stripe`: verify the signature on the raw bytes, then apply the event.
//! Bad or stale signatures → 400 with nothing stored; database trouble → 5xx so Stripe
//! retries; unknown event types → 200.

use crate::commerce::webhook::{self, Event, Handled};
use crate::routes::api::{ApiCode, ApiError};
use crate::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

#[tracing::instrument(skip_all)]
pub async fn receive_stripe_event(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let Some(secret) = &state.settings.stripe.webhook_secret else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            ApiCode::NotFound,
            "webhooks are not configured",
        ));
    };
    let header = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    if let Err(e) = webhook::verify_signature(header, &body, secret.expose(), now) {
        tracing::warn!(reason = %e, "stripe webhook rejected");
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            ApiCode::InvalidSignature,
            e.to_string(),
        ));
    }
    let event: Event = serde_json::from_slice(&body).map_err(|e| {
        tracing::warn!(error = %e, "stripe webhook body is not an event");
        ApiError::bad_request("the body is not a Stripe event")
    })?;
    let mut tx = state.db.begin().await?;
    let handled = webhook::handle(&mut tx, &state.settings, &state.signer, &event).await?;
    tx.commit().await?;
    state.outbox_wake.notify_one();
    let outcome = match handled {
        Handled::Duplicate => "duplicate",
        Handled::Ignored => "ignored",
        Handled::Applied(what) => what,
    };
    tracing::info!(event_id = %event.id, event_type = %event.kind, outcome, "stripe event handled");
    Ok(Json(serde_json::json!({"received": true, "outcome": outcome})).into_response())
}

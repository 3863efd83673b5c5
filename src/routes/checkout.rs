//! Self-serve checkout: `POST /checkout/{tier}` starts a Stripe Checkout Session; the success
//! page re-reads the session from Stripe and fulfils it if paid (the webhook may not have
//! arrived yet), sharing one idempotent fulfilment with the webhook.

use super::render;
use crate::auth::forms::{CsrfForm, CsrfOnly};
use crate::commerce::fulfil::{self, Outcome};
use crate::commerce::stripe_api;
use crate::config::Purchase;
use crate::error::{AppError, Result};
use crate::site::pages::CheckoutSuccessPage;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

#[tracing::instrument(skip_all, fields(tier = %tier))]
pub async fn create_checkout(
    State(state): State<AppState>,
    Path(tier): Path<String>,
    _: CsrfForm<CsrfOnly>,
) -> Result<Response> {
    // Only self-serve tiers are sold here; sales tiers and unknown ids do not exist for it.
    let t = state
        .settings
        .pricing
        .tiers
        .iter()
        .find(|t| t.id == tier && t.purchase == Purchase::Checkout)
        .ok_or(AppError::NotFound)?;
    let Some(client) = &state.stripe else {
        return Ok(Redirect::to(&format!("/request-access?tier={}", t.id)).into_response());
    };
    let reference = uuid::Uuid::new_v4().to_string();
    match stripe_api::create_checkout_session(
        client,
        t,
        &state.settings.server.public_url,
        &reference,
    )
    .await
    {
        Ok(url) => {
            tracing::info!(checkout_reference = %reference, "checkout session created");
            Ok(Redirect::to(&url).into_response())
        }
        // Logged once, where the error is turned into the response (error.rs).
        Err(e) => Err(AppError::Unavailable(format!(
            "creating a checkout session at the payment provider: {e:#}"
        ))),
    }
}

#[derive(Deserialize)]
pub struct SuccessQuery {
    session_id: String,
}

#[tracing::instrument(skip_all)]
pub async fn show_checkout_success(
    State(state): State<AppState>,
    Query(q): Query<SuccessQuery>,
) -> Result<Response> {
    let client = state.stripe.as_ref().ok_or(AppError::NotFound)?;
    let sid = q.session_id.trim();
    if !sid.starts_with("cs_")
        || sid.len() > 255
        || !sid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Err(AppError::NotFound);
    }
    let facts = match stripe_api::retrieve_checkout_session(client, sid).await {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!(
                error = format!("{e:#}"),
                "retrieving a checkout session failed"
            );
            return Err(AppError::NotFound);
        }
    };
    let mut tx = state.db.begin().await?;
    let outcome = fulfil::fulfil(&mut tx, &state.settings, &state.signer, &facts).await?;
    tx.commit().await?;
    state.outbox_wake.notify_one();
    let tier_name = |id: &str| crate::auth::forms::tier_name(&state, id);
    let mut page = CheckoutSuccessPage {
        layout: state.site.layout(
            "Your license",
            "Your Fox ML Infrastructure license.",
            "",
            "/checkout/success",
        ),
        outcome: "pending",
        email: String::new(),
        tier_name: tier_name(facts.tier.as_deref().unwrap_or("")),
        license_id: String::new(),
        expires: String::new(),
        key: String::new(),
        set_password_url: String::new(),
    };
    match outcome {
        Outcome::Issued(i) => {
            tracing::info!(license_id = %i.license_id, "license issued from success page");
            page.license_id = i.license_id.to_string();
            page.expires = i.expires_at.date().to_string();
            // Stripe lets the buyer type any address: the key and the set-password link reach
            // this browser only for an account this fulfilment created. An existing account
            // belongs to whoever reads that mailbox, so they get both by email only.
            if i.new_account {
                page.outcome = "issued";
                page.key = i.key;
                page.set_password_url = i.set_password_url.unwrap_or_default();
            } else {
                page.outcome = "sent";
                page.email = facts.email.clone().unwrap_or_default();
            }
        }
        Outcome::AlreadyFulfilled(l) => {
            page.outcome = "active";
            page.license_id = l.id.to_string();
            page.expires = l.expires_at.date().to_string();
            page.tier_name = tier_name(&l.tier);
        }
        Outcome::NotPaid => {}
        Outcome::Rejected(why) => {
            tracing::error!(reason = %why, "checkout session cannot be fulfilled; needs a person");
            return Err(AppError::BadRequest("We could not match this payment to a plan. Our team has been alerted and will contact you.".into()));
        }
    }
    let mut res = render(&page)?;
    // The page may show a license key: never cache it anywhere.
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

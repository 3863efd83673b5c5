//! The public marketing pages: home and pricing.

use super::render;
use crate::config::Purchase;
use crate::error::Result;
use crate::site::{pages, pricing};
use crate::state::AppState;
use axum::extract::State;
use axum::response::Response;

/// Whether self-serve checkout can be offered (Stripe is configured).
pub fn checkout_available(state: &AppState) -> bool {
    state.settings.stripe.secret_key.is_some()
}

#[tracing::instrument(skip_all)]
pub async fn show_home(State(state): State<AppState>) -> Result<Response> {
    render(&pages::HomePage {
        layout: state.site.layout(
            "Leakage-safe ML for panel data",
            "Fox ML Infrastructure detects and removes leaky features, runs purged walk-forward cross-validation, ranks targets out-of-sample and fingerprints every run.",
            "home",
            "/",
        ),
    })
}

#[tracing::instrument(skip_all)]
pub async fn show_pricing(State(state): State<AppState>) -> Result<Response> {
    let available = checkout_available(&state);
    let p = &state.settings.pricing;
    render(&pages::PricingPage {
        layout: state.site.layout(
            "Pricing",
            "Plans for Fox ML Infrastructure: a free evaluation, self-serve plans for researchers and desks, and enterprise licensing.",
            "pricing",
            "/pricing",
        ),
        tiers: pricing::cards(p, available),
        comparison: pricing::comparison(p),
        checkout_available: available || !p.tiers.iter().any(|t| t.purchase == Purchase::Checkout),
    })
}

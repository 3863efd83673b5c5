//! The public marketing pages: home and pricing. Their HTML depends only on the
//! configuration, so it is rendered once at start-up (see `routes::prerender`).

use crate::config::{Purchase, Settings};
use crate::site::{Site, pages, pricing};
use askama::Template;

/// Stands for the visitor's CSRF token in the pre-rendered pricing page.
pub const CSRF_PLACEHOLDER: &str = "__FOX_CSRF_TOKEN__";

/// Whether self-serve checkout can be offered (Stripe is configured).
pub fn checkout_available(settings: &Settings) -> bool {
    settings.stripe.secret_key.is_some()
}

pub fn home_html(site: &Site) -> askama::Result<String> {
    pages::HomePage {
        layout: site.layout(
            "Leakage-safe ML for panel data",
            "Fox ML Infrastructure detects and removes leaky features, runs purged walk-forward cross-validation, ranks targets out-of-sample and fingerprints every run.",
            "home",
            "/",
        ),
    }
    .render()
}

pub fn pricing_html(site: &Site, settings: &Settings) -> askama::Result<String> {
    let available = checkout_available(settings);
    let p = &settings.pricing;
    pages::PricingPage {
        layout: site.layout(
            "Pricing",
            "Plans for Fox ML Infrastructure: a free evaluation, self-serve plans for researchers and desks, and enterprise licensing.",
            "pricing",
            "/pricing",
        ),
        tiers: pricing::cards(p, available),
        comparison: pricing::comparison(p),
        checkout_available: available || !p.tiers.iter().any(|t| t.purchase == Purchase::Checkout),
        csrf_token: CSRF_PLACEHOLDER.to_string(),
    }
    .render()
}

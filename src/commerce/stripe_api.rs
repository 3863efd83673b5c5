//! The calls we make to Stripe, through async-stripe (pointed at `stripe.api_base` when set,
//! which is how tests reach a local fake Stripe).

use crate::config::{PriceInterval, StripeSettings, Tier};
use anyhow::Context;
use std::collections::HashMap;
use stripe::StripeRequest;
use stripe_billing::billing_portal_session::CreateBillingPortalSession;
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, RetrieveCheckoutSession,
};
use stripe_shared::{CheckoutSessionMode, CheckoutSessionPaymentStatus};

/// The client, or `None` when no secret key is configured.
pub fn client(s: &StripeSettings) -> anyhow::Result<Option<stripe::Client>> {
    let Some(key) = &s.secret_key else {
        return Ok(None);
    };
    let mut b = stripe::ClientBuilder::new(key.expose());
    if let Some(url) = &s.api_base {
        b = b.url(url.trim_end_matches('/'));
    }
    Ok(Some(b.build().context("building the Stripe client")?))
}

/// The facts of a Checkout Session that fulfilment needs, whichever way they arrived.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckoutFacts {
    pub id: String,
    /// `paid`, `unpaid` or `no_payment_required`.
    pub payment_status: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub customer_id: Option<String>,
    pub subscription_id: Option<String>,
    pub payment_intent_id: Option<String>,
    /// From the session's metadata (set by us at creation).
    pub tier: Option<String>,
    pub client_reference_id: Option<String>,
}

impl CheckoutFacts {
    /// Paid (or free): the order may be fulfilled.
    pub fn is_paid(&self) -> bool {
        matches!(self.payment_status.as_str(), "paid" | "no_payment_required")
    }
}

/// Creates a hosted Checkout Session for a self-serve tier; returns its URL.
pub async fn create_checkout_session(
    client: &stripe::Client,
    tier: &Tier,
    public_url: &str,
    reference: &str,
) -> anyhow::Result<String> {
    let price = tier
        .stripe_price_id
        .as_deref()
        .context("tier has no stripe_price_id")?;
    let mode = match tier.interval {
        PriceInterval::Month | PriceInterval::Year => CheckoutSessionMode::Subscription,
        _ => CheckoutSessionMode::Payment,
    };
    let mut item = CreateCheckoutSessionLineItems::new();
    item.price = Some(price.to_string());
    item.quantity = Some(1);
    let base = public_url.trim_end_matches('/');
    let metadata: HashMap<String, String> = [("tier".to_string(), tier.id.clone())].into();
    // The reference is unique per checkout attempt, so Stripe dedupes a retried create.
    let key =
        stripe::IdempotencyKey::new(format!("checkout-{reference}")).context("idempotency key")?;
    let session = CreateCheckoutSession::new()
        .mode(mode)
        .line_items(vec![item])
        .client_reference_id(reference)
        .metadata(metadata)
        .success_url(format!(
            "{base}/checkout/success?session_id={{CHECKOUT_SESSION_ID}}"
        ))
        .cancel_url(format!("{base}/pricing?checkout=cancelled"))
        .customize()
        .request_strategy(stripe::RequestStrategy::Idempotent(key))
        .send(client)
        .await
        .context("creating the Checkout Session")?;
    session
        .url
        .context("Stripe returned a session without a URL")
}

/// Re-reads a Checkout Session from Stripe (the success page does not trust its query string).
pub async fn retrieve_checkout_session(
    client: &stripe::Client,
    id: &str,
) -> anyhow::Result<CheckoutFacts> {
    let s = RetrieveCheckoutSession::new(id)
        .send(client)
        .await
        .context("retrieving the Checkout Session")?;
    let status = match s.payment_status {
        CheckoutSessionPaymentStatus::Paid => "paid".to_string(),
        CheckoutSessionPaymentStatus::NoPaymentRequired => "no_payment_required".to_string(),
        other => other.as_str().to_string(),
    };
    let details = s.customer_details.as_ref();
    Ok(CheckoutFacts {
        id: s.id.as_str().to_string(),
        payment_status: status,
        email: details
            .and_then(|d| d.email.clone())
            .or_else(|| s.customer_email.clone()),
        name: details.and_then(|d| d.name.clone()),
        customer_id: s.customer.as_ref().map(|c| c.id().as_str().to_string()),
        subscription_id: s.subscription.as_ref().map(|c| c.id().as_str().to_string()),
        payment_intent_id: s
            .payment_intent
            .as_ref()
            .map(|c| c.id().as_str().to_string()),
        tier: s.metadata.as_ref().and_then(|m| m.get("tier").cloned()),
        client_reference_id: s.client_reference_id.clone(),
    })
}

/// A Billing Portal session for a Stripe customer; returns its URL.
pub async fn create_portal_session(
    client: &stripe::Client,
    customer_id: &str,
    return_url: &str,
) -> anyhow::Result<String> {
    let s = CreateBillingPortalSession::new()
        .customer(customer_id)
        .return_url(return_url)
        .send(client)
        .await
        .context("creating the billing portal session")?;
    Ok(s.url)
}

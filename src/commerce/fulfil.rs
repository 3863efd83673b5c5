//! Fulfilment of a paid Checkout Session, shared by the success page and the webhook. It is
//! idempotent by checkout session id (UNIQUE in the schema): however many times and however
//! concurrently it runs for one session, one license, one key email.

use super::issue::{self, Issued, Origin, Request};
use super::stripe_api::CheckoutFacts;
use crate::config::{PriceInterval, Purchase, Settings};
use crate::db::{self, audit::Actor, licenses::License};
use crate::domain::{EmailAddress, IssueSource};
use crate::license::Signer;
use sqlx::PgConnection;
use time::{Duration, OffsetDateTime};

/// What fulfilment did.
#[derive(Debug)]
pub enum Outcome {
    /// A new license; the key is only here (and in the queued email).
    Issued(Issued),
    /// This session was fulfilled before (by the other path, or an earlier delivery).
    AlreadyFulfilled(License),
    /// Not paid (yet): nothing to do.
    NotPaid,
    /// The session cannot be fulfilled (unknown tier, no email): logged, not retried.
    Rejected(String),
}

/// The expiry of a new license from checkout: the subscription's paid period when Stripe
/// already told us (events can arrive before the session completes), else one interval.
async fn expiry(
    conn: &mut PgConnection,
    settings: &Settings,
    facts: &CheckoutFacts,
    interval: PriceInterval,
    license_days: Option<u32>,
) -> sqlx::Result<OffsetDateTime> {
    let now = OffsetDateTime::now_utc();
    if let Some(sub) = &facts.subscription_id {
        if let Some(end) = db::subscriptions::period_end(conn, sub).await? {
            if end > now {
                return Ok(end);
            }
        }
    }
    Ok(match interval {
        PriceInterval::Month => now + Duration::days(31),
        PriceInterval::Year => now + Duration::days(366),
        _ => {
            now + Duration::days(i64::from(
                license_days.unwrap_or(settings.license.default_days),
            ))
        }
    })
}

/// Fulfils `facts` inside the caller's transaction.
pub async fn fulfil(
    conn: &mut PgConnection,
    settings: &Settings,
    signer: &Signer,
    facts: &CheckoutFacts,
) -> sqlx::Result<Outcome> {
    if !facts.is_paid() {
        return Ok(Outcome::NotPaid);
    }
    if let Some(existing) = db::licenses::by_checkout_session(conn, &facts.id).await? {
        return Ok(Outcome::AlreadyFulfilled(existing));
    }
    let tier_id = facts.tier.as_deref().unwrap_or_default();
    let Some(tier) = settings
        .pricing
        .tiers
        .iter()
        .find(|t| t.id == tier_id && t.purchase == Purchase::Checkout)
    else {
        return Ok(Outcome::Rejected(format!(
            "checkout session names no self-serve tier (tier {tier_id:?})"
        )));
    };
    let Some(email) = facts
        .email
        .as_deref()
        .and_then(|e| EmailAddress::parse(e).ok())
    else {
        return Ok(Outcome::Rejected(
            "checkout session has no usable customer email".into(),
        ));
    };
    let expires_at = expiry(conn, settings, facts, tier.interval, tier.license_days).await?;
    let req = Request {
        email: &email,
        name: facts.name.as_deref().unwrap_or(""),
        company: "",
        tier,
        expires_at,
        origin: Origin {
            source: IssueSource::Checkout,
            checkout_session_id: Some(&facts.id),
            subscription_id: facts.subscription_id.as_deref(),
            stripe_customer_id: facts.customer_id.as_deref(),
            payment_intent_id: facts.payment_intent_id.as_deref(),
        },
    };
    match issue::issue(conn, settings, signer, &req, &Actor::system("checkout")).await? {
        Some(issued) => Ok(Outcome::Issued(issued)),
        // Lost a race with a concurrent delivery: that one issued the license.
        None => match db::licenses::by_checkout_session(conn, &facts.id).await? {
            Some(l) => Ok(Outcome::AlreadyFulfilled(l)),
            None => Err(sqlx::Error::RowNotFound),
        },
    }
}

//! Stripe webhooks: the signature is checked on the raw body before anything is parsed;
//! each event is recorded in `stripe_events` in the same transaction as its effects, so a
//! redelivered event changes nothing.

use super::fulfil::{self, Outcome};
use super::stripe_api::CheckoutFacts;
use crate::config::Settings;
use crate::db::{self, licenses::License};
use crate::domain::LicenseStatus;
use crate::email::messages::{self, Composed};
use crate::license::Signer;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha256;
use sqlx::PgConnection;
use time::{Duration, OffsetDateTime};

/// Oldest (and furthest in the future) signature timestamp accepted, in seconds.
pub const TOLERANCE_SECS: i64 = 300;

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing or malformed Stripe-Signature header")]
    Malformed,
    #[error("signature timestamp outside the tolerance")]
    Stale,
    #[error("no v1 signature matches")]
    Mismatch,
}

/// Verifies `Stripe-Signature: t=…,v1=…[,v1=…]` for `body`: any `v1` may match, compared in
/// constant time; the timestamp must be within [`TOLERANCE_SECS`] of `now`.
pub fn verify_signature(
    header: &str,
    body: &[u8],
    secret: &str,
    now: i64,
) -> Result<(), SignatureError> {
    let mut ts = None;
    let mut sigs = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => ts = v.parse::<i64>().ok(),
            Some(("v1", v)) => sigs.extend(hex_decode(v)),
            _ => {}
        }
    }
    let ts = ts.ok_or(SignatureError::Malformed)?;
    if sigs.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if (now - ts).abs() > TOLERANCE_SECS {
        return Err(SignatureError::Stale);
    }
    let mac = {
        let mut m = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
        m.update(ts.to_string().as_bytes());
        m.update(b".");
        m.update(body);
        m
    };
    // `verify_slice` compares in constant time.
    if sigs.iter().any(|s| mac.clone().verify_slice(s).is_ok()) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Signs a payload the way Stripe does (for tests and tools that send events).
pub fn sign(body: &[u8], secret: &str, ts: i64) -> String {
    let mut m = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    m.update(format!("{ts}.").as_bytes());
    m.update(body);
    let hex: String = m
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("t={ts},v1={hex}")
}

/// The envelope of every event.
#[derive(Debug, Deserialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub created: i64,
    pub data: EventData,
}

#[derive(Debug, Deserialize)]
pub struct EventData {
    pub object: Value,
}

/// What handling an event did, for the log.
#[derive(Debug, PartialEq, Eq)]
pub enum Handled {
    Duplicate,
    Ignored,
    Applied(&'static str),
}

/// Messages to queue after the effects (inside the same transaction).
type Outbox = Vec<Composed>;

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    match cur {
        Value::String(s) => Some(s),
        // An expanded object: its id.
        Value::Object(o) => o.get("id").and_then(Value::as_str),
        _ => None,
    }
}

fn ts(v: Option<&Value>) -> Option<OffsetDateTime> {
    v.and_then(Value::as_i64)
        .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
}

/// The checkout facts carried by a `checkout.session.*` event.
pub fn checkout_facts(o: &Value) -> CheckoutFacts {
    CheckoutFacts {
        id: str_at(o, &["id"]).unwrap_or_default().to_string(),
        payment_status: str_at(o, &["payment_status"])
            .unwrap_or_default()
            .to_string(),
        email: str_at(o, &["customer_details", "email"])
            .or_else(|| str_at(o, &["customer_email"]))
            .map(str::to_string),
        name: str_at(o, &["customer_details", "name"]).map(str::to_string),
        customer_id: str_at(o, &["customer"]).map(str::to_string),
        subscription_id: str_at(o, &["subscription"]).map(str::to_string),
        payment_intent_id: str_at(o, &["payment_intent"]).map(str::to_string),
        tier: str_at(o, &["metadata", "tier"]).map(str::to_string),
        client_reference_id: str_at(o, &["client_reference_id"]).map(str::to_string),
    }
}

/// The subscription an invoice belongs to (older and newer API shapes).
fn invoice_subscription(o: &Value) -> Option<&str> {
    str_at(o, &["subscription"])
        .or_else(|| str_at(o, &["parent", "subscription_details", "subscription"]))
}

/// The end of the period an invoice paid for: the latest line period end, else `period_end`.
fn invoice_period_end(o: &Value) -> Option<OffsetDateTime> {
    let lines = o.pointer("/lines/data").and_then(Value::as_array);
    let from_lines = lines
        .into_iter()
        .flatten()
        .filter_map(|l| ts(l.pointer("/period/end")))
        .max();
    from_lines.or_else(|| ts(o.get("period_end")))
}

/// Applies one verified event. Runs in the caller's transaction.
pub async fn handle(
    conn: &mut PgConnection,
    settings: &Settings,
    signer: &Signer,
    event: &Event,
) -> sqlx::Result<Handled> {
    let created = OffsetDateTime::from_unix_timestamp(event.created)
        .unwrap_or_else(|_| OffsetDateTime::now_utc());
    if !db::subscriptions::record_event(conn, &event.id, &event.kind, created).await? {
        return Ok(Handled::Duplicate);
    }
    let o = &event.data.object;
    let mut outbox: Outbox = Vec::new();
    let result = match event.kind.as_str() {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
            let facts = checkout_facts(o);
            match fulfil::fulfil(conn, settings, signer, &facts).await? {
                Outcome::Issued(i) => {
                    tracing::info!(license_id = %i.license_id, "license issued from webhook");
                    Handled::Applied("fulfilled")
                }
                Outcome::AlreadyFulfilled(_) => Handled::Applied("already fulfilled"),
                Outcome::NotPaid => Handled::Applied("awaiting payment"),
                Outcome::Rejected(why) => {
                    tracing::error!(reason = %why, "checkout session cannot be fulfilled; needs a person");
                    Handled::Applied("rejected")
                }
            }
        }
        "checkout.session.async_payment_failed" => {
            let facts = checkout_facts(o);
            if let Some(email) = facts.email {
                outbox.push(messages::checkout_payment_failed(&email, &facts.id));
            }
            Handled::Applied("payment failed notice")
        }
        "invoice.paid" => {
            let (Some(sub), Some(end)) = (invoice_subscription(o), invoice_period_end(o)) else {
                return Ok(Handled::Ignored);
            };
            db::subscriptions::extend_period(conn, sub, end, created).await?;
            if let Some(l) = db::licenses::by_subscription(conn, sub).await? {
                db::licenses::extend_to(conn, l.id, end).await?;
                audit(
                    conn,
                    &l,
                    "license.extend",
                    serde_json::json!({"until": end.unix_timestamp(), "event": event.id}),
                )
                .await?;
            }
            Handled::Applied("period extended")
        }
        "invoice.payment_failed" => {
            let Some(sub) = invoice_subscription(o) else {
                return Ok(Handled::Ignored);
            };
            if let Some(l) = db::licenses::by_subscription(conn, sub).await? {
                let grace = OffsetDateTime::now_utc().max(l.expires_at)
                    + Duration::days(i64::from(settings.license.grace_days));
                db::licenses::set_grace(conn, l.id, grace).await?;
                let to = db::customers::customer_email(conn, l.customer_id).await?;
                let invoice = str_at(o, &["id"]).unwrap_or(&event.id);
                let portal = format!(
                    "{}/account",
                    settings.server.public_url.trim_end_matches('/')
                );
                outbox.push(messages::payment_failed(
                    &to,
                    invoice,
                    &grace.date().to_string(),
                    &portal,
                ));
                audit(
                    conn,
                    &l,
                    "license.grace",
                    serde_json::json!({"until": grace.unix_timestamp(), "event": event.id}),
                )
                .await?;
            }
            Handled::Applied("grace period")
        }
        "customer.subscription.updated" | "customer.subscription.deleted" => {
            subscription_changed(conn, settings, event, created, &mut outbox).await?
        }
        "charge.refunded" | "charge.dispute.created" => {
            let pi = str_at(o, &["payment_intent"]);
            let customer = str_at(o, &["customer"]);
            let reason = if event.kind == "charge.refunded" {
                "payment refunded"
            } else {
                "payment disputed"
            };
            for l in db::licenses::by_payment(conn, pi, customer).await? {
                if l.status == LicenseStatus::Active {
                    db::licenses::set_status(conn, l.id, LicenseStatus::Suspended, Some(reason))
                        .await?;
                    let to = db::customers::customer_email(conn, l.customer_id).await?;
                    outbox.push(messages::license_status(
                        &to,
                        l.id,
                        LicenseStatus::Suspended,
                        reason,
                        &format!("status:{}:{}", l.id, event.id),
                    ));
                    audit(
                        conn,
                        &l,
                        "license.suspend",
                        serde_json::json!({"reason": reason, "event": event.id}),
                    )
                    .await?;
                }
            }
            Handled::Applied("suspended")
        }
        _ => Handled::Ignored,
    };
    for m in &outbox {
        db::outbox::enqueue(conn, &m.as_new()).await?;
    }
    Ok(result)
}

async fn audit(
    conn: &mut PgConnection,
    l: &License,
    action: &str,
    details: Value,
) -> sqlx::Result<()> {
    db::audit::record(
        conn,
        &db::audit::Actor::system("stripe"),
        action,
        "license",
        &l.id.to_string(),
        details,
    )
    .await
}

/// `customer.subscription.updated` / `.deleted`: tier changes, cancellation → expiry.
async fn subscription_changed(
    conn: &mut PgConnection,
    settings: &Settings,
    event: &Event,
    created: OffsetDateTime,
    outbox: &mut Outbox,
) -> sqlx::Result<Handled> {
    let o = &event.data.object;
    let Some(sub) = str_at(o, &["id"]) else {
        return Ok(Handled::Ignored);
    };
    let deleted = event.kind == "customer.subscription.deleted";
    let status = if deleted {
        "canceled"
    } else {
        str_at(o, &["status"]).unwrap_or("unknown")
    };
    let item = o.pointer("/items/data/0");
    let price = item.and_then(|i| str_at(i, &["price"]));
    let tier = price.and_then(|p| {
        settings
            .pricing
            .tiers
            .iter()
            .find(|t| t.stripe_price_id.as_deref() == Some(p))
    });
    let period_end = ts(o.get("current_period_end"))
        .or_else(|| ts(item.and_then(|i| i.get("current_period_end"))));
    let cancel_at = if o.get("cancel_at_period_end").and_then(Value::as_bool) == Some(true) {
        period_end
    } else {
        ts(o.get("cancel_at"))
    };
    // Only the newest snapshot counts: an older event arriving late changes nothing.
    if !db::subscriptions::apply_snapshot(
        conn,
        sub,
        status,
        tier.map(|t| t.id.as_str()),
        period_end,
        cancel_at,
        created,
    )
    .await?
    {
        return Ok(Handled::Applied("stale snapshot skipped"));
    }
    let Some(l) = db::licenses::by_subscription(conn, sub).await? else {
        return Ok(Handled::Applied("recorded for later"));
    };
    if let Some(t) = tier.filter(|t| t.id != l.tier) {
        db::licenses::set_tier(
            conn,
            l.id,
            &t.id,
            super::issue::seats(t),
            &super::issue::entitlements(t),
        )
        .await?;
        audit(
            conn,
            &l,
            "license.tier",
            serde_json::json!({"from": l.tier, "to": t.id, "event": event.id}),
        )
        .await?;
    }
    if deleted || status == "canceled" {
        let ended = ts(o.get("ended_at")).unwrap_or(created).min(l.expires_at);
        db::licenses::set_expiry(conn, l.id, ended).await?;
        db::licenses::set_status(
            conn,
            l.id,
            LicenseStatus::Expired,
            Some("subscription cancelled"),
        )
        .await?;
        let to = db::customers::customer_email(conn, l.customer_id).await?;
        outbox.push(messages::license_status(
            &to,
            l.id,
            LicenseStatus::Expired,
            "subscription cancelled",
            &format!("status:{}:expired", l.id),
        ));
        audit(
            conn,
            &l,
            "license.expire",
            serde_json::json!({"event": event.id}),
        )
        .await?;
        return Ok(Handled::Applied("expired"));
    }
    if let Some(at) = cancel_at {
        // Cancelled at period end: the license runs until then and is not renewed.
        db::licenses::set_expiry(conn, l.id, at).await?;
        audit(
            conn,
            &l,
            "license.cancel_at",
            serde_json::json!({"at": at.unix_timestamp(), "event": event.id}),
        )
        .await?;
        return Ok(Handled::Applied("ends at period end"));
    }
    if let Some(end) = period_end {
        db::licenses::extend_to(conn, l.id, end).await?;
    }
    Ok(Handled::Applied("updated"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_with_tolerance_and_any_v1() {
        let body = br#"{"id":"evt_1"}"#;
        let header = sign(body, "whsec_test", 1_000);
        assert_eq!(verify_signature(&header, body, "whsec_test", 1_100), Ok(()));
        assert_eq!(
            verify_signature(&header, body, "whsec_other", 1_100),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(&header, b"{}", "whsec_test", 1_100),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(&header, body, "whsec_test", 1_301),
            Err(SignatureError::Stale)
        );
        let two = format!(
            "{},v1={}",
            sign(body, "whsec_old", 1_000),
            header.split("v1=").nth(1).unwrap()
        );
        assert_eq!(verify_signature(&two, body, "whsec_test", 1_000), Ok(()));
        assert_eq!(
            verify_signature("garbage", body, "whsec_test", 1_000),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify_signature("t=1000,v1=zz", body, "whsec_test", 1_000),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn checkout_facts_read_both_shapes() {
        let o = serde_json::json!({"id": "cs_1", "payment_status": "paid", "customer": {"id": "cus_1"},
            "customer_details": {"email": "a@b.example", "name": "A"}, "metadata": {"tier": "desk"}, "subscription": "sub_1"});
        let f = checkout_facts(&o);
        assert_eq!(
            (f.id.as_str(), f.customer_id.as_deref(), f.tier.as_deref()),
            ("cs_1", Some("cus_1"), Some("desk"))
        );
        assert!(f.is_paid());
    }

    #[test]
    fn invoice_fields_old_and_new_api() {
        let old = serde_json::json!({"subscription": "sub_1", "period_end": 100, "lines": {"data": [{"period": {"end": 200}}, {"period": {"end": 150}}]}});
        assert_eq!(invoice_subscription(&old), Some("sub_1"));
        assert_eq!(invoice_period_end(&old).unwrap().unix_timestamp(), 200);
        let new = serde_json::json!({"parent": {"subscription_details": {"subscription": "sub_2"}}, "period_end": 300});
        assert_eq!(invoice_subscription(&new), Some("sub_2"));
        assert_eq!(invoice_period_end(&new).unwrap().unix_timestamp(), 300);
    }
}

//! Stripe webhooks: signatures on the raw body, idempotence under concurrent redelivery,
//! and each event type's effect on licenses.

use crate::helpers::fake_stripe::{self, WEBHOOK_SECRET};
use crate::helpers::*;
use serde_json::{Value, json};

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn session(id: &str, email: &str, sub: Option<&str>) -> Value {
    json!({"id": id, "object": "checkout.session", "payment_status": "paid", "status": "complete",
           "mode": if sub.is_some() { "subscription" } else { "payment" },
           "customer": "cus_w1", "customer_details": {"email": email, "name": "Webhook Buyer"},
           "subscription": sub, "payment_intent": if sub.is_none() { Some(format!("pi_{id}")) } else { None },
           "metadata": {"tier": "desk"}, "client_reference_id": "ref-1"})
}

async fn completed(app: &TestApp, evt: &str, s: Value) -> reqwest::Response {
    app.deliver_now(&fake_stripe::event(
        evt,
        "checkout.session.completed",
        now(),
        s,
    ))
    .await
}

async fn license_row(
    app: &TestApp,
) -> (
    String,
    time::OffsetDateTime,
    Option<time::OffsetDateTime>,
    String,
) {
    sqlx::query_as("SELECT status, expires_at, grace_until, tier FROM licenses")
        .fetch_one(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_completed_checkout_issues_one_license_and_one_email() {
    let (app, _) = spawn_app_with_stripe(|_| {}).await;
    let res = completed(
        &app,
        "evt_1",
        session("cs_w_1", "hook@fund.example", Some("sub_1")),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["outcome"], "fulfilled");
    assert_eq!(
        app.count("SELECT count(*) FROM licenses WHERE stripe_subscription_id = 'sub_1'")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM stripe_events WHERE id = 'evt_1'")
            .await,
        1
    );
    let mails = app.wait_for_emails(1).await;
    assert!(mails[0].contains("hook@fund.example"));
}

#[tokio::test]
async fn bad_signatures_are_refused_and_nothing_is_stored() {
    let (app, _) = spawn_app_with_stripe(|_| {}).await;
    let body = fake_stripe::event(
        "evt_bad",
        "checkout.session.completed",
        now(),
        session("cs_w_2", "x@fund.example", None),
    );
    let wrong = app.deliver(&body, "whsec_wrong", now()).await;
    assert_eq!(wrong.status(), 400);
    assert_eq!(
        wrong.json::<Value>().await.unwrap()["error"]["code"],
        "invalid_signature"
    );
    assert_eq!(
        app.deliver(&body, WEBHOOK_SECRET, now() - 301)
            .await
            .status(),
        400,
        "stale"
    );
    assert_eq!(
        app.deliver(&body, WEBHOOK_SECRET, now() + 301)
            .await
            .status(),
        400,
        "from the future"
    );
    let unsigned = app
        .client
        .post(app.url("/webhooks/stripe"))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 400);
    // A valid signature over different bytes.
    let sig = fox::commerce::webhook::sign(&body, WEBHOOK_SECRET, now());
    let tampered = app
        .client
        .post(app.url("/webhooks/stripe"))
        .header("stripe-signature", sig)
        .body([&body[..], b" "].concat())
        .send()
        .await
        .unwrap();
    assert_eq!(tampered.status(), 400);
    assert_eq!(app.count("SELECT count(*) FROM stripe_events").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM licenses").await, 0);
}

#[tokio::test]
async fn malformed_json_and_unknown_types() {
    let (app, _) = spawn_app_with_stripe(|_| {}).await;
    let res = app.deliver(b"{not json", WEBHOOK_SECRET, now()).await;
    assert_eq!(res.status(), 400);
    let res = app
        .deliver_now(&fake_stripe::event(
            "evt_unknown",
            "customer.tax_id.created",
            now(),
            json!({"id": "txi_1"}),
        ))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["outcome"], "ignored");
}

#[tokio::test]
async fn twenty_concurrent_duplicates_make_one_customer_license_and_email() {
    let (app, _) = spawn_app_with_stripe(|s| s.database.max_connections = 25).await;
    let body = fake_stripe::event(
        "evt_dup",
        "checkout.session.completed",
        now(),
        session("cs_dup", "dup@fund.example", Some("sub_dup")),
    );
    let sends = (0..20).map(|_| app.deliver_now(&body));
    let results = futures_util::future::join_all(sends).await;
    assert!(
        results.iter().all(|r| r.status() == 200),
        "{:?}",
        results.iter().map(|r| r.status()).collect::<Vec<_>>()
    );
    assert_eq!(app.count("SELECT count(*) FROM customers").await, 1);
    assert_eq!(app.count("SELECT count(*) FROM licenses").await, 1);
    assert_eq!(
        app.count("SELECT count(*) FROM email_outbox WHERE kind = 'license_key'")
            .await,
        1
    );
    app.wait_for_emails(1).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(app.emails().len(), 1, "exactly one email");
    // Even a duplicate of a different event for the same session changes nothing.
    let other = fake_stripe::event(
        "evt_dup_2",
        "checkout.session.completed",
        now(),
        session("cs_dup", "dup@fund.example", Some("sub_dup")),
    );
    assert_eq!(
        app.deliver_now(&other).await.json::<Value>().await.unwrap()["outcome"],
        "already fulfilled"
    );
    assert_eq!(app.count("SELECT count(*) FROM licenses").await, 1);
}

#[tokio::test]
async fn invoice_paid_extends_expiry_only_forward() {
    let (app, _) = spawn_app_with_stripe(|_| {}).await;
    completed(
        &app,
        "evt_a",
        session("cs_inv", "inv@fund.example", Some("sub_inv")),
    )
    .await;
    let (_, before, _, _) = license_row(&app).await;
    let later = before.unix_timestamp() + 30 * 86400;
    let inv = |id: &str, end: i64| json!({"id": id, "object": "invoice", "subscription": "sub_inv", "period_end": end, "lines": {"data": [{"period": {"start": end - 2592000, "end": end}}]}});
    assert_eq!(
        app.deliver_now(&fake_stripe::event(
            "evt_inv_1",
            "invoice.paid",
            now(),
            inv("in_1", later)
        ))
        .await
        .status(),
        200
    );
    let (_, after, _, _) = license_row(&app).await;
    assert_eq!(after.unix_timestamp(), later);
    // An older invoice delivered late never moves the expiry back.
    app.deliver_now(&fake_stripe::event(
        "evt_inv_0",
        "invoice.paid",
        now(),
        inv("in_0", before.unix_timestamp() - 86400),
    ))
    .await;
    assert_eq!(license_row(&app).await.1.unix_timestamp(), later);
}

#[tokio::test]
async fn out_of_order_subscription_events_settle_on_the_newest() {
    let (app, _) = spawn_app_with_stripe(|_| {}).await;
    let end = now() + 40 * 86400;
    // The renewal and the subscription snapshot arrive before the checkout completes.
    let inv = json!({"id": "in_ooo", "object": "invoice", "subscription": "sub_ooo", "period_end": end, "lines": {"data": []}});
    app.deliver_now(&fake_stripe::event(
        "evt_o1",
        "invoice.paid",
        now() - 50,
        inv,
    ))
    .await;
    completed(
        &app,
        "evt_o2",
        session("cs_ooo", "ooo@fund.example", Some("sub_ooo")),
    )
    .await;
    assert_eq!(
        license_row(&app).await.1.unix_timestamp(),
        end,
        "expiry comes from the earlier invoice"
    );

    let sub = |status: &str, cancel: bool, price: &str| {
        json!({"id": "sub_ooo", "object": "subscription", "status": status, "cancel_at_period_end": cancel, "cancel_at": null,
               "items": {"data": [{"price": {"id": price}, "current_period_end": end}]}})
    };
    // Newest first: cancelled at period end, and upgraded… then an older "active, researcher" snapshot.
    app.deliver_now(&fake_stripe::event(
        "evt_o4",
        "customer.subscription.updated",
        now(),
        sub("active", true, "price_desk_monthly"),
    ))
    .await;
    app.deliver_now(&fake_stripe::event(
        "evt_o3",
        "customer.subscription.updated",
        now() - 10,
        sub("active", false, "price_researcher_monthly"),
    ))
    .await;
    let (status, expires, _, tier) = license_row(&app).await;
    assert_eq!(
        (status.as_str(), tier.as_str()),
        ("ACTIVE", "desk"),
        "the stale snapshot changed nothing"
    );
    assert_eq!(
        expires.unix_timestamp(),
        end,
        "runs to the end of the paid period"
    );

    app.deliver_now(&fake_stripe::event(
        "evt_o5",
        "customer.subscription.deleted",
        now() + 1,
        sub("canceled", false, "price_desk_monthly"),
    ))
    .await;
    let (status, expires, _, _) = license_row(&app).await;
    assert_eq!(status, "EXPIRED");
    assert!(expires <= time::OffsetDateTime::now_utc() + time::Duration::seconds(5));
}

#[tokio::test]
async fn a_tier_change_updates_the_license() {
    let (app, _) = spawn_app_with_stripe(|_| {}).await;
    completed(
        &app,
        "evt_t1",
        session("cs_tier", "tier@fund.example", Some("sub_tier")),
    )
    .await;
    let sub = json!({"id": "sub_tier", "object": "subscription", "status": "active", "cancel_at_period_end": false,
                     "items": {"data": [{"price": {"id": "price_researcher_monthly"}, "current_period_end": now() + 86400}]}});
    app.deliver_now(&fake_stripe::event(
        "evt_t2",
        "customer.subscription.updated",
        now(),
        sub,
    ))
    .await;
    let (tier, seats): (String, i32) = sqlx::query_as("SELECT tier, seats FROM licenses")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!((tier.as_str(), seats), ("researcher", 1));
}

#[tokio::test]
async fn refunds_and_disputes_suspend() {
    let (app, _) = spawn_app_with_stripe(|_| {}).await;
    completed(
        &app,
        "evt_r1",
        session("cs_ref", "refund@fund.example", None),
    )
    .await;
    let charge = json!({"id": "ch_1", "object": "charge", "payment_intent": "pi_cs_ref", "customer": "cus_w1", "refunded": true});
    assert_eq!(
        app.deliver_now(&fake_stripe::event(
            "evt_r2",
            "charge.refunded",
            now(),
            charge
        ))
        .await
        .status(),
        200
    );
    let (status, ..) = license_row(&app).await;
    assert_eq!(status, "SUSPENDED");
    let reason: String = sqlx::query_scalar("SELECT status_reason FROM licenses")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(reason, "payment refunded");
    assert_eq!(
        app.count("SELECT count(*) FROM email_outbox WHERE kind = 'license_status'")
            .await,
        1
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM audit_log WHERE action = 'license.suspend' AND actor = 'stripe'"
        )
        .await,
        1
    );

    let (app, _) = spawn_app_with_stripe(|_| {}).await;
    completed(
        &app,
        "evt_d1",
        session("cs_dis", "dispute@fund.example", None),
    )
    .await;
    let dispute =
        json!({"id": "dp_1", "object": "dispute", "charge": "ch_2", "payment_intent": "pi_cs_dis"});
    app.deliver_now(&fake_stripe::event(
        "evt_d2",
        "charge.dispute.created",
        now(),
        dispute,
    ))
    .await;
    assert_eq!(license_row(&app).await.0, "SUSPENDED");
}

#[tokio::test]
async fn a_failed_renewal_opens_a_grace_period_and_emails_the_customer() {
    let (app, _) = spawn_app_with_stripe(|s| s.license.grace_days = 5).await;
    completed(
        &app,
        "evt_f1",
        session("cs_fail", "fail@fund.example", Some("sub_fail")),
    )
    .await;
    let inv = json!({"id": "in_fail", "object": "invoice", "subscription": "sub_fail"});
    let body = fake_stripe::event("evt_f2", "invoice.payment_failed", now(), inv);
    assert_eq!(app.deliver_now(&body).await.status(), 200);
    assert_eq!(
        app.deliver_now(&body).await.json::<Value>().await.unwrap()["outcome"],
        "duplicate"
    );
    let (status, expires, grace, _) = license_row(&app).await;
    assert_eq!(status, "ACTIVE", "keeps working");
    let grace = grace.expect("grace period set");
    assert_eq!((grace - expires).whole_days(), 5);
    assert_eq!(
        app.count("SELECT count(*) FROM email_outbox WHERE kind = 'payment_failed'")
            .await,
        1
    );
}

#[tokio::test]
async fn a_failed_async_payment_issues_nothing_and_tells_the_buyer() {
    let (app, _) = spawn_app_with_stripe(|_| {}).await;
    let mut s = session("cs_async", "async@fund.example", None);
    s["payment_status"] = json!("unpaid");
    let res = completed(&app, "evt_as1", s.clone()).await;
    assert_eq!(
        res.json::<Value>().await.unwrap()["outcome"],
        "awaiting payment"
    );
    app.deliver_now(&fake_stripe::event(
        "evt_as2",
        "checkout.session.async_payment_failed",
        now(),
        s.clone(),
    ))
    .await;
    assert_eq!(app.count("SELECT count(*) FROM licenses").await, 0);
    assert_eq!(
        app.count("SELECT count(*) FROM email_outbox WHERE kind = 'checkout_payment_failed'")
            .await,
        1
    );
    s["payment_status"] = json!("paid");
    app.deliver_now(&fake_stripe::event(
        "evt_as3",
        "checkout.session.async_payment_succeeded",
        now(),
        s,
    ))
    .await;
    assert_eq!(app.count("SELECT count(*) FROM licenses").await, 1);
}

#[tokio::test]
async fn database_trouble_answers_5xx_so_stripe_retries() {
    let (app, _) = spawn_app_with_stripe(|_| {}).await;
    app.db.close().await;
    let res = completed(
        &app,
        "evt_down",
        session("cs_down", "down@fund.example", None),
    )
    .await;
    assert!(res.status().is_server_error(), "{}", res.status());
}

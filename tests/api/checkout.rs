//! Self-serve checkout against a fake Stripe over HTTP, with the real async-stripe client.

use crate::helpers::fake_stripe::{self, FakeStripe};
use crate::helpers::*;

async fn pricing_token(app: &TestApp) -> String {
    let html = app.get("/pricing").await.text().await.unwrap();
    extract_value(&html, "csrf_token").expect("checkout forms carry a CSRF token")
}

async fn start_checkout(app: &TestApp, tier: &str) -> reqwest::Response {
    let token = pricing_token(app).await;
    app.post_form(&format!("/checkout/{tier}"), &[("csrf_token", &token)])
        .await
}

#[tokio::test]
async fn buy_creates_a_checkout_session_with_the_right_parameters() {
    let (app, fake) = spawn_app_with_stripe(|_| {}).await;
    let html = app.get("/pricing").await.text().await.unwrap();
    assert!(
        html.contains("action=\"/checkout/desk\"")
            && html.contains("action=\"/checkout/researcher\"")
    );
    assert!(!html.contains("not available"), "checkout is on");

    let res = start_checkout(&app, "desk").await;
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with(&format!("{}/pay/cs_test_", fake.base)),
        "{location}"
    );

    let req = fake
        .requests()
        .into_iter()
        .find(|r| r.path == "/v1/checkout/sessions")
        .expect("session created");
    let p = &req.params;
    assert_eq!(p["mode"], "subscription", "monthly tier → subscription");
    assert_eq!(p["line_items[0][price]"], "price_desk_monthly");
    assert_eq!(p["line_items[0][quantity]"], "1");
    assert_eq!(p["metadata[tier]"], "desk");
    assert!(uuid::Uuid::parse_str(&p["client_reference_id"]).is_ok());
    assert_eq!(
        p["success_url"],
        "http://127.0.0.1:8080/checkout/success?session_id={CHECKOUT_SESSION_ID}"
    );
    assert_eq!(
        p["cancel_url"],
        "http://127.0.0.1:8080/pricing?checkout=cancelled"
    );
    assert!(
        req.idempotency_key
            .as_deref()
            .is_some_and(|k| k.starts_with("checkout-")),
        "an idempotency key is sent"
    );
    assert_eq!(
        req.authorization.as_deref(),
        Some(format!("Bearer {}", fake_stripe::SECRET_KEY).as_str())
    );
}

#[tokio::test]
async fn one_time_tiers_use_payment_mode() {
    let (app, fake) = spawn_app_with_stripe(|s| {
        let t = s
            .pricing
            .tiers
            .iter_mut()
            .find(|t| t.id == "researcher")
            .unwrap();
        t.interval = fox::config::PriceInterval::Once;
    })
    .await;
    assert_eq!(start_checkout(&app, "researcher").await.status(), 303);
    assert_eq!(fake.requests()[0].params["mode"], "payment");
}

#[tokio::test]
async fn sales_and_unknown_tiers_are_404_and_csrf_is_required() {
    let (app, fake) = spawn_app_with_stripe(|_| {}).await;
    for tier in ["enterprise", "evaluation", "platinum"] {
        assert_eq!(start_checkout(&app, tier).await.status(), 404, "{tier}");
    }
    let res = app
        .post_form("/checkout/desk", &[("csrf_token", "forged")])
        .await;
    assert_eq!(res.status(), 403);
    assert!(fake.requests().is_empty(), "nothing reached Stripe");
}

#[tokio::test]
async fn without_stripe_checkout_is_unavailable_and_nothing_crashes() {
    let app = spawn_app().await;
    let html = app.get("/pricing").await.text().await.unwrap();
    assert!(html.contains("not available") && !html.contains("action=\"/checkout/"));
    let token = app.csrf_token().await;
    let res = app
        .post_form("/checkout/desk", &[("csrf_token", &token)])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/request-access?tier=desk");
    assert_eq!(
        app.get("/checkout/success?session_id=cs_test_x")
            .await
            .status(),
        404
    );
}

async fn paid_session(app: &TestApp, fake: &FakeStripe, email: &str) -> String {
    assert_eq!(start_checkout(app, "desk").await.status(), 303);
    let id = fake.last_session_id();
    fake.pay(&id, email);
    id
}

#[tokio::test]
async fn the_success_page_fulfils_a_paid_session_and_shows_the_key_once() {
    let (app, fake) = spawn_app_with_stripe(|_| {}).await;
    let id = paid_session(&app, &fake, "Quant.Buyer@Fund.example").await;

    let res = app.get(&format!("/checkout/success?session_id={id}")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let html = res.text().await.unwrap();
    let start = html.find("FOX1-").expect("the key is shown");
    let key: String = html[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '<')
        .collect();
    assert!(
        html.contains("/account/set-password?token="),
        "next step: set a password"
    );

    // The key verifies offline with the published public key.
    let published: serde_json::Value = app
        .get("/.well-known/fox-license-key")
        .await
        .json()
        .await
        .unwrap();
    let public =
        fox::license::PublicKey::from_base64(published["public_key"].as_str().unwrap()).unwrap();
    let claims = public.verify(&key).unwrap();
    assert_eq!(claims.tier, "desk");
    assert_eq!(claims.seats, 5);

    // One customer (email normalised), one license, no plaintext key stored.
    assert_eq!(
        app.count("SELECT count(*) FROM customers WHERE email = 'quant.buyer@fund.example'")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM licenses WHERE source = 'checkout' AND tier = 'desk'")
            .await,
        1
    );
    let stored: Vec<u8> = sqlx::query_scalar("SELECT key_hash FROM license_keys")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(stored.len(), 32);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM licenses WHERE entitlements::text LIKE '%{}%'",
            &key[5..25]
        ))
        .await,
        0
    );

    // The key email went out, and its body was erased from the outbox afterwards.
    let mails = app.wait_for_emails(1).await;
    assert!(
        mails[0].contains("quant.buyer@fund.example")
            && mails[0].contains("Your Fox ML Infrastructure license")
    );
    for _ in 0..50 {
        if app.count("SELECT count(*) FROM email_outbox WHERE kind = 'license_key' AND status = 'sent' AND body_text NOT LIKE '%FOX1-%'").await == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(app.count("SELECT count(*) FROM email_outbox WHERE body_text LIKE '%FOX1-%' OR body_html LIKE '%FOX1-%'").await, 0, "sent key emails are erased");

    // Reloading the page does not issue a second license or reveal the key again.
    let again = app
        .get(&format!("/checkout/success?session_id={id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(!again.contains("FOX1-") && again.contains("is active"));
    assert_eq!(app.count("SELECT count(*) FROM licenses").await, 1);
}

#[tokio::test]
async fn an_unpaid_session_is_not_fulfilled() {
    let (app, fake) = spawn_app_with_stripe(|_| {}).await;
    assert_eq!(start_checkout(&app, "desk").await.status(), 303);
    let id = fake.last_session_id();
    let html = app
        .get(&format!("/checkout/success?session_id={id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("waiting for your payment"));
    assert_eq!(app.count("SELECT count(*) FROM licenses").await, 0);
    assert_eq!(
        app.get("/checkout/success?session_id=cs_test_unknown")
            .await
            .status(),
        404
    );
    assert_eq!(
        app.get("/checkout/success?session_id=../../etc")
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn success_page_and_webhook_together_issue_one_license() {
    let (app, fake) = spawn_app_with_stripe(|_| {}).await;
    let id = paid_session(&app, &fake, "both@fund.example").await;
    let session = fake.session(&id);
    let body = fake_stripe::event(
        "evt_both_1",
        "checkout.session.completed",
        1_764_460_900,
        session,
    );
    let success = format!("/checkout/success?session_id={id}");
    let (page, hook) = tokio::join!(app.get(&success), app.deliver_now(&body));
    assert_eq!(page.status(), 200);
    assert_eq!(hook.status(), 200);
    assert_eq!(app.count("SELECT count(*) FROM licenses").await, 1);
    assert_eq!(
        app.count("SELECT count(*) FROM email_outbox WHERE kind = 'license_key'")
            .await,
        1
    );
}

/// An account as `fox license issue` makes it: a license, no password yet, the key email
/// with the owner's set-password link. Returns that link.
async fn passwordless_account(app: &TestApp, email: &str) -> String {
    fox::cli::issue_license(
        &app.settings,
        &fox::config::Environment::local(),
        email,
        "researcher",
        None,
        "",
        "",
    )
    .await
    .unwrap();
    let mail = mail_text(&app.wait_for_emails(1).await[0]);
    link_to(&mail, "/account/set-password").expect("the owner's set-password link")
}

/// Sets a password through a set-password link; the response status.
async fn set_password(app: &TestApp, client: &reqwest::Client, link: &str) -> u16 {
    let html = client
        .get(app.url(link))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (Some(csrf), Some(token)) = (
        extract_value(&html, "csrf_token"),
        extract_value(&html, "token"),
    ) else {
        return 410;
    };
    let pw = "correct horse battery staple";
    client
        .post(app.url("/account/set-password"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("token", token.as_str()),
            ("password", pw),
            ("password_confirm", pw),
        ])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// What a buyer's browser must not see for someone else's account.
fn assert_no_secrets(html: &str) {
    assert!(!html.contains("FOX1-"), "no license key on the page");
    assert!(
        !html.contains("set-password"),
        "no set-password link on the page"
    );
}

#[tokio::test]
async fn buying_with_an_existing_accounts_email_shows_neither_key_nor_link_success_page_first() {
    let (app, fake) = spawn_app_with_stripe(|_| {}).await;
    let owners_link = passwordless_account(&app, "one@cust.example").await;

    // The attacker pays, typing the victim's address at Stripe.
    let id = paid_session(&app, &fake, "One@Cust.example").await;
    let res = app.get(&format!("/checkout/success?session_id={id}")).await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert_no_secrets(&html);
    assert!(
        html.contains("One@Cust.example") && html.contains("We sent your license key"),
        "the page says where the key went"
    );
    assert_eq!(app.count("SELECT count(*) FROM licenses").await, 2);
    // The key and a sign-in link went to the mailbox, and the owner's earlier link still works.
    let mails = app.wait_for_emails(2).await;
    assert!(mails.iter().all(|m| m.contains("one@cust.example")));
    assert_eq!(
        set_password(&app, &crate::helpers::client(), &owners_link).await,
        303
    );
}

#[tokio::test]
async fn buying_with_an_existing_accounts_email_shows_neither_key_nor_link_webhook_first() {
    let (app, fake) = spawn_app_with_stripe(|_| {}).await;
    let owners_link = passwordless_account(&app, "one@cust.example").await;
    let id = paid_session(&app, &fake, "one@cust.example").await;
    let body = fake_stripe::event(
        "evt_takeover_1",
        "checkout.session.completed",
        1_764_460_900,
        fake.session(&id),
    );
    assert_eq!(app.deliver_now(&body).await.status(), 200);
    let html = app
        .get(&format!("/checkout/success?session_id={id}"))
        .await
        .text()
        .await
        .unwrap();
    assert_no_secrets(&html);
    assert_eq!(app.count("SELECT count(*) FROM licenses").await, 2);
    assert_eq!(
        set_password(&app, &crate::helpers::client(), &owners_link).await,
        303
    );
}

#[tokio::test]
async fn an_account_created_by_an_earlier_checkout_gets_no_link_on_a_second_purchase() {
    let (app, fake) = spawn_app_with_stripe(|_| {}).await;
    // The first purchase creates the account: its buyer sees the key and the link.
    let first = paid_session(&app, &fake, "buyer@fund.example").await;
    let html = app
        .get(&format!("/checkout/success?session_id={first}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("FOX1-") && html.contains("/account/set-password?token="));
    // Someone else buys with the same address before the owner set a password.
    let second = paid_session(&app, &fake, "buyer@fund.example").await;
    let html = app
        .get(&format!("/checkout/success?session_id={second}"))
        .await
        .text()
        .await
        .unwrap();
    assert_no_secrets(&html);
}

//! Logs of a full request cycle: one event per request with its id, and no secrets, emails,
//! passwords or request bodies anywhere. (Own test binary: it installs the global subscriber.)

mod common;
use common::*;
use fox::config::{LogFormat, Secret};
use fox::telemetry::{self, Sink};
use std::sync::{Arc, Mutex};

const SMTP_PASSWORD: &str = "smtp-secret-Hunter2-xyzzy";
const STRIPE_KEY: &str = "sk_test_51NotARealKeyButSecret0000";
const DB_PASSWORD: &str = "db-secret-Correct-Horse";
const EMAIL: &str = "quant.lead@secret-fund.example";
const USE_CASE: &str = "Confidential alpha research on mid-cap momentum";

#[tokio::test]
async fn a_full_request_cycle_logs_no_secrets_or_personal_data() {
    let buffer = Arc::new(Mutex::new(Vec::new()));
    telemetry::init(
        LogFormat::Json,
        "debug,sqlx=debug,hyper=info,h2=info",
        Sink::Buffer(buffer.clone()),
    )
    .unwrap();

    let app = spawn_app_with(|s| {
        s.email.smtp.password = Some(Secret::new(SMTP_PASSWORD));
        s.email.smtp.username = Some("mailer".into());
        s.stripe.secret_key = Some(Secret::new(STRIPE_KEY));
        s.stripe.webhook_secret = Some(Secret::new("whsec_secret_value_123"));
        s.database.password = Some(Secret::new(DB_PASSWORD));
    })
    .await;

    let token = app.csrf_token().await;
    let mut form = valid_lead(&token);
    form.iter_mut().find(|(k, _)| *k == "email").unwrap().1 = EMAIL.into();
    form.iter_mut().find(|(k, _)| *k == "use_case").unwrap().1 = USE_CASE.into();
    let res = app
        .client
        .post(app.url("/request-access"))
        .header("x-request-id", "cycle-42")
        .form(&as_pairs(&form))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    app.wait_for_emails(1).await;
    // A failing request too: its error path must not leak either.
    app.get("/docs/does-not-exist").await;

    // A license key through issuing (key email) and the license API.
    let tier = app
        .state
        .settings
        .pricing
        .tiers
        .iter()
        .find(|t| t.id == "desk")
        .unwrap();
    let buyer = fox::domain::EmailAddress::parse("key.holder@secret-fund.example").unwrap();
    let req = fox::commerce::issue::Request {
        email: &buyer,
        name: "Key Holder",
        company: "",
        tier,
        expires_at: time::OffsetDateTime::now_utc() + time::Duration::days(30),
        origin: fox::commerce::issue::Origin {
            source: "sales",
            ..Default::default()
        },
    };
    let mut tx = app.db.begin().await.unwrap();
    let issued = fox::commerce::issue::issue(
        &mut tx,
        &app.state.settings,
        &app.state.signer,
        &req,
        &fox::db::audit::Actor::system("test"),
    )
    .await
    .unwrap()
    .unwrap();
    tx.commit().await.unwrap();
    app.state.outbox_wake.notify_one();
    let res = app
        .client
        .post(app.url("/api/v1/licenses/validate"))
        .json(&serde_json::json!({"key": issued.key, "fingerprint": "fp-secret-machine-01"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    app.wait_for_emails(2).await;

    let logs = String::from_utf8(buffer.lock().unwrap().clone()).unwrap();
    // The capture is real: the request was logged, with its id, as one JSON object per line.
    let finished: Vec<serde_json::Value> = logs
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("each line is JSON"))
        .filter(|v| v["msg"] == "request finished")
        .collect();
    let post = finished
        .iter()
        .find(|v| v["method"] == "POST")
        .expect("the POST was logged");
    assert_eq!(post["request_id"], "cycle-42");
    assert_eq!(post["route"], "/request-access");
    assert_eq!(post["status"], 200);
    assert!(post["latency_ms"].is_number());
    assert!(
        finished
            .iter()
            .any(|v| v["route"] == "/docs/{slug}" && v["status"] == 404)
    );
    assert!(
        logs.contains("\"msg\":\"lead stored\""),
        "the lead event is there"
    );

    for needle in [
        SMTP_PASSWORD,
        STRIPE_KEY,
        DB_PASSWORD,
        SESSION_KEY,
        EMAIL,
        "secret-fund",
        USE_CASE,
        &token,
        "Ada Lovelace",
        "sales@foxml.localhost",
    ] {
        assert!(!logs.contains(needle), "logs leak {needle:?}");
    }
}

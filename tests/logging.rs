//! Logs of a full request cycle: one event per request with its id, and no secrets, emails,
//! passwords or request bodies anywhere. (Own test binary: it installs the global subscriber.)

#[path = "api/helpers/mod.rs"]
mod helpers;
use fox::config::{LogFormat, Secret};
use fox::telemetry::{self, Sink};
use helpers::*;
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
        s.rate_limit.license_api_per_ip.max_requests = 5;
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
    let issued = app
        .issue_license("key.holder@secret-fund.example", "desk")
        .await;
    let res = app
        .client
        .post(app.url("/api/v1/licenses/validate"))
        .json(&serde_json::json!({"key": issued.key, "fingerprint": "fp-secret-machine-01"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    app.wait_for_emails(2).await;

    // A flood of random keys from one address: 4 more answered, 36 refused. Refusals are
    // counted and logged as one aggregate line, and their request lines drop to debug.
    for i in 0..40 {
        let res = app
            .client
            .post(app.url("/api/v1/licenses/validate"))
            .json(&serde_json::json!({"key": format!("FOX1-random{i}.sig")}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), if i < 4 { 200 } else { 429 });
    }
    fox::security::rate_limit::log_refusals(&app.state.limits, std::time::Duration::from_secs(60));

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
    let refused: Vec<&serde_json::Value> = finished.iter().filter(|v| v["status"] == 429).collect();
    assert_eq!(refused.len(), 36);
    assert!(
        refused.iter().all(|v| v["level"] == "debug"),
        "429s at debug"
    );
    let events: Vec<serde_json::Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let warnings = events
        .iter()
        .filter(|v| {
            v["level"] == "warn"
                && v["msg"] != "requests refused by rate limits"
                && v["msg"].as_str().is_some_and(|m| m.contains("limit"))
        })
        .count();
    assert_eq!(warnings, 0, "no warning per refusal");
    let aggregate: Vec<&serde_json::Value> = events
        .iter()
        .filter(|v| v["msg"] == "requests refused by rate limits")
        .collect();
    assert_eq!(aggregate.len(), 1, "one aggregate line");
    assert_eq!(aggregate[0]["limiter"], "license_api_per_ip");
    assert_eq!(aggregate[0]["refused"], 36);

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

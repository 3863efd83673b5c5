//! The license API: every validation code, offline verification, seat limits, rate limits.

use crate::helpers::*;
use serde_json::{Value, json};

/// Issues a license of `tier` for `days` to a new address; (license id, key).
async fn issue(app: &TestApp, tier: &str, days: i64) -> (uuid::Uuid, String) {
    let email = format!("{}@lic.example", uuid::Uuid::new_v4().simple());
    let issued = app.issue_license_for(&email, tier, days).await;
    (issued.license_id, issued.key)
}

async fn call(app: &TestApp, action: &str, body: Value) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/api/v1/licenses/{action}")))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn validate(app: &TestApp, body: Value) -> Value {
    let res = call(app, "validate", body).await;
    assert_eq!(res.status(), 200, "validate always answers 200");
    res.json().await.unwrap()
}

/// Validates until the answer has `code` (changes made straight in the database reach the
/// server's cache through a notification, within milliseconds).
async fn validate_until(app: &TestApp, body: Value, code: &str) -> Value {
    for _ in 0..100 {
        let v = validate(app, body.clone()).await;
        if v["code"] == code {
            return v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("validation never answered {code}");
}

#[tokio::test]
async fn every_validation_code() {
    let app = spawn_app().await;
    let (id, key) = issue(&app, "desk", 30).await;

    let v = validate(&app, json!({"key": key, "nonce": "n-123"})).await;
    assert_eq!(
        (v["valid"].as_bool(), v["code"].as_str()),
        (Some(false), Some("FINGERPRINT_REQUIRED"))
    );
    assert_eq!(v["nonce"], "n-123");
    assert!(v["ts"].as_str().is_some_and(|t| t.ends_with('Z')));
    assert_eq!(v["license"]["id"], id.to_string());
    assert_eq!(v["license"]["seats"], 5);
    assert_eq!(v["license"]["entitlements"]["concurrent_jobs"], 8);

    let v = validate(
        &app,
        json!({"key": key, "fingerprint": "machine-aaaa-0001"}),
    )
    .await;
    assert_eq!(v["code"], "FINGERPRINT_MISMATCH", "not activated yet");

    assert_eq!(
        call(
            &app,
            "activate",
            json!({"key": key, "fingerprint": "machine-aaaa-0001", "name": "research-box"})
        )
        .await
        .status(),
        201
    );
    let v = validate(
        &app,
        json!({"key": key, "fingerprint": "machine-aaaa-0001"}),
    )
    .await;
    assert_eq!(
        (v["valid"].as_bool(), v["code"].as_str()),
        (Some(true), Some("VALID"))
    );
    assert_eq!(v["license"]["status"], "ACTIVE");
    assert_eq!(v["license"]["seats_used"], 1);

    let v = validate(&app, json!({"key": "FOX1-nonsense"})).await;
    assert_eq!(v["code"], "INVALID_SIGNATURE");
    assert!(v["license"].is_null());

    // A well-signed key the database does not know (signed by this server, never stored).
    let claims = fox::license::Claims {
        v: 1,
        lid: uuid::Uuid::new_v4(),
        tier: "desk".into(),
        seats: 1,
        iat: 0,
        exp: i64::MAX / 2,
        ent: json!({}),
    };
    let unknown = app.state.signer.issue(&claims);
    assert_eq!(
        validate(&app, json!({"key": unknown})).await["code"],
        "NOT_FOUND"
    );

    let set = |status: &'static str| {
        let db = app.db.clone();
        async move {
            sqlx::query("UPDATE licenses SET status = $1 WHERE id = $2")
                .bind(status)
                .bind(id)
                .execute(&db)
                .await
                .unwrap()
        }
    };
    let on_machine = json!({"key": key, "fingerprint": "machine-aaaa-0001"});
    set("SUSPENDED").await;
    validate_until(&app, on_machine.clone(), "SUSPENDED").await;
    set("REVOKED").await;
    validate_until(&app, on_machine.clone(), "REVOKED").await;
    set("ACTIVE").await;
    validate_until(&app, on_machine.clone(), "VALID").await;
    sqlx::query("UPDATE licenses SET starts_at = now() - interval '40 days', expires_at = now() - interval '1 day' WHERE id = $1")
        .bind(id)
        .execute(&app.db)
        .await
        .unwrap();
    let v = validate_until(&app, on_machine.clone(), "EXPIRED").await;
    assert_eq!(v["license"]["status"], "EXPIRED");
    // Within a payment grace period it still works.
    sqlx::query("UPDATE licenses SET grace_until = now() + interval '3 days' WHERE id = $1")
        .bind(id)
        .execute(&app.db)
        .await
        .unwrap();
    validate_until(&app, on_machine, "VALID").await;
}

#[tokio::test]
async fn seats_limit_activations_and_too_many_machines() {
    let app = spawn_app().await;
    let (_, key) = issue(&app, "researcher", 30).await; // 1 seat
    assert_eq!(
        call(
            &app,
            "activate",
            json!({"key": key, "fingerprint": "machine-one-0001"})
        )
        .await
        .status(),
        201
    );
    assert_eq!(
        call(
            &app,
            "activate",
            json!({"key": key, "fingerprint": "machine-one-0001"})
        )
        .await
        .status(),
        200,
        "re-activation is idempotent"
    );
    let res = call(
        &app,
        "activate",
        json!({"key": key, "fingerprint": "machine-two-0002"}),
    )
    .await;
    assert_eq!(res.status(), 409);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"]["code"],
        "TOO_MANY_MACHINES"
    );
    assert_eq!(
        validate(&app, json!({"key": key, "fingerprint": "machine-two-0002"})).await["code"],
        "TOO_MANY_MACHINES"
    );

    assert_eq!(
        call(
            &app,
            "deactivate",
            json!({"key": key, "fingerprint": "machine-one-0001"})
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        call(
            &app,
            "deactivate",
            json!({"key": key, "fingerprint": "machine-one-0001"})
        )
        .await
        .status(),
        404
    );
    assert_eq!(
        call(
            &app,
            "activate",
            json!({"key": key, "fingerprint": "machine-two-0002"})
        )
        .await
        .status(),
        201,
        "the freed seat is reusable"
    );
}

#[tokio::test]
async fn concurrent_activations_never_exceed_the_seats() {
    let app = spawn_app().await;
    let (id, key) = issue(&app, "desk", 30).await; // 5 seats
    let calls = (0..12).map(|i| {
        call(
            &app,
            "activate",
            json!({"key": key, "fingerprint": format!("parallel-machine-{i:04}")}),
        )
    });
    let statuses: Vec<u16> = futures_util::future::join_all(calls)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        7,
        "{statuses:?}"
    );
    let active: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM machines WHERE license_id = $1 AND deactivated_at IS NULL",
    )
    .bind(id)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(active, 5);
}

#[tokio::test]
async fn offline_verification_with_the_published_key_and_tampering() {
    let app = spawn_app().await;
    let (id, key) = issue(&app, "desk", 30).await;
    let published: Value = app
        .get("/.well-known/fox-license-key")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(published["algorithm"], "Ed25519");
    let docs = app.get("/docs/licensing-api").await.text().await.unwrap();
    assert!(
        docs.contains(published["public_key"].as_str().unwrap()),
        "the docs show this deployment's public key"
    );
    assert!(!docs.contains("%%LICENSE_PUBLIC_KEY%%"));
    // Only the public key: no server, no database.
    let public =
        fox::license::PublicKey::from_base64(published["public_key"].as_str().unwrap()).unwrap();
    let claims = public.verify(&key).unwrap();
    assert_eq!(
        (claims.lid, claims.tier.as_str(), claims.seats),
        (id, "desk", 5)
    );
    assert!(claims.exp > time::OffsetDateTime::now_utc().unix_timestamp());

    // Flip one character of the payload: the signature no longer matches.
    let mut chars: Vec<char> = key.chars().collect();
    let i = 12;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    let tampered: String = chars.into_iter().collect();
    assert!(public.verify(&tampered).is_err());
    assert_eq!(
        validate(&app, json!({"key": tampered})).await["code"],
        "INVALID_SIGNATURE"
    );
}

#[tokio::test]
async fn malformed_requests_get_json_errors() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(app.url("/api/v1/licenses/validate"))
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_request");
    let res = call(&app, "validate", json!({"key": "x", "unexpected": 1})).await;
    assert_eq!(res.status(), 422);
    let res = call(
        &app,
        "activate",
        json!({"key": "x", "fingerprint": "short"}),
    )
    .await;
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"]["message"],
        "fingerprint must be 8 to 256 printable ASCII characters"
    );
}

#[tokio::test]
async fn rate_limits_per_key_and_per_address_with_headers() {
    let app = spawn_app_with(|s| {
        s.rate_limit.license_api_per_key = fox::config::RateLimitRule {
            max_requests: 3,
            window_secs: 60,
        };
        s.rate_limit.license_api_per_ip = fox::config::RateLimitRule {
            max_requests: 5,
            window_secs: 60,
        };
    })
    .await;
    let (_, key) = issue(&app, "desk", 30).await;
    for expected_remaining in [2, 1, 0] {
        let res = call(&app, "validate", json!({"key": key})).await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["x-ratelimit-limit"], "3");
        assert_eq!(
            res.headers()["x-ratelimit-remaining"],
            expected_remaining.to_string().as_str()
        );
        assert!(res.headers().contains_key("x-ratelimit-reset"));
    }
    let res = call(&app, "validate", json!({"key": key})).await;
    assert_eq!(res.status(), 429);
    assert!(
        res.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 0
    );
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"]["code"],
        "rate_limited"
    );
    // Another key from the same address: allowed until the address limit (5 calls) is used up.
    assert_eq!(
        call(&app, "validate", json!({"key": "FOX1-other"}))
            .await
            .status(),
        200,
        "5th call from this address"
    );
    let res = call(&app, "validate", json!({"key": "FOX1-third"})).await;
    assert_eq!(res.status(), 429, "6th call from this address");
    assert_eq!(
        res.headers()["x-ratelimit-limit"],
        "5",
        "the address limit is the one reported"
    );
}

#[tokio::test]
async fn licenses_past_their_time_are_expired_once_with_an_email() {
    let app = spawn_app().await;
    let (gone, _) = issue(&app, "desk", 30).await;
    let (graced, _) = issue(&app, "desk", 30).await;
    let (fine, _) = issue(&app, "desk", 30).await;
    sqlx::query("UPDATE licenses SET starts_at = now() - interval '40 days', expires_at = now() - interval '1 day' WHERE id = ANY($1)")
        .bind(vec![gone, graced])
        .execute(&app.db)
        .await
        .unwrap();
    sqlx::query("UPDATE licenses SET grace_until = now() + interval '2 days' WHERE id = $1")
        .bind(graced)
        .execute(&app.db)
        .await
        .unwrap();
    assert_eq!(fox::commerce::expiry::expire_due(&app.db).await.unwrap(), 1);
    assert_eq!(
        fox::commerce::expiry::expire_due(&app.db).await.unwrap(),
        0,
        "only once"
    );
    let status = |id: uuid::Uuid| {
        let db = app.db.clone();
        async move {
            sqlx::query_scalar::<_, String>("SELECT status FROM licenses WHERE id = $1")
                .bind(id)
                .fetch_one(&db)
                .await
                .unwrap()
        }
    };
    assert_eq!(status(gone).await, "EXPIRED");
    assert_eq!(status(graced).await, "ACTIVE", "in its grace period");
    assert_eq!(status(fine).await, "ACTIVE");
    assert_eq!(
        app.count("SELECT count(*) FROM email_outbox WHERE kind = 'license_status'")
            .await,
        1
    );
}

#[tokio::test]
async fn a_revocation_reaches_a_cached_answer_through_the_database_notification() {
    let app = spawn_app().await;
    let (id, key) = issue(&app, "desk", 30).await;
    assert_eq!(
        call(
            &app,
            "activate",
            json!({"key": key, "fingerprint": "cached-machine-01"})
        )
        .await
        .status(),
        201
    );
    let body = json!({"key": key, "fingerprint": "cached-machine-01"});
    // Warm the cache, then change the license behind the server's back.
    assert_eq!(validate(&app, body.clone()).await["code"], "VALID");
    assert_eq!(validate(&app, body.clone()).await["code"], "VALID");
    let changed_at = std::time::Instant::now();
    sqlx::query("UPDATE licenses SET status = 'REVOKED' WHERE id = $1")
        .bind(id)
        .execute(&app.db)
        .await
        .unwrap();
    validate_until(&app, body, "REVOKED").await;
    assert!(
        changed_at.elapsed() < std::time::Duration::from_secs(1),
        "well within the 30 s safety TTL"
    );
}

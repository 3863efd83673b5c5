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

/// The engine CLI's license check (`fox_license::check` over HTTP), against this server.
fn engine_check(
    app: &TestApp,
    fingerprint: &str,
    dir: &std::path::Path,
    policy: fox_license::check::Policy,
) -> fox_license::check::Checker<fox_license::check::SystemClock, fox_license::http::HttpPlatform> {
    fox_license::check::Checker {
        public_key: app.state.signer.public_key(),
        url: app.address.clone(),
        fingerprint: fingerprint.into(),
        machine_name: format!("box-{}", &fingerprint[..4]),
        policy,
        store: fox_license::check::Store::new(dir.join(fingerprint)),
        clock: fox_license::check::SystemClock,
        platform: fox_license::http::HttpPlatform::new(&app.address),
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

#[tokio::test]
async fn the_engine_cli_check_activates_within_seats_revalidates_and_stops_when_revoked() {
    let app = spawn_app().await;
    let (id, key) = issue(&app, "researcher", 30).await; // one seat
    let dir = std::env::temp_dir().join(format!("fox-cli-{}", uuid::Uuid::new_v4().simple()));
    // Revalidate on every check, so each one asks the server.
    let always = fox_license::check::Policy {
        revalidate_after: 0,
        grace: 7 * 86_400,
    };
    let (a, b) = (
        engine_check(&app, "machine-a-0123456789", &dir, always),
        engine_check(&app, "machine-b-0123456789", &dir, always),
    );
    let k = key.clone();
    let (a, first) = blocking(move || {
        let r = a.check(&k);
        (a, r)
    })
    .await;
    let first = first.unwrap();
    assert_eq!(first.claims.lid, id);
    assert_eq!(first.activation.fp, "machine-a-0123456789");
    let machines: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM machines WHERE license_id = $1 AND deactivated_at IS NULL",
    )
    .bind(id)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(machines, 1, "the server registered the machine");

    // The one seat is taken: the second machine is told how to free it.
    let k = key.clone();
    let (_b, second) = blocking(move || {
        let r = b.check(&k);
        (b, r)
    })
    .await;
    let e = second.unwrap_err().0;
    assert!(e.starts_with("All 1 seats are in use"), "{e}");
    assert!(e.contains("/account choose Deactivate"), "{e}");

    // Revalidated while valid; revoked on the platform → refused at the next revalidation,
    // and the cached activation is dropped.
    let k = key.clone();
    let (a, again) = blocking(move || {
        let r = a.check(&k);
        (a, r)
    })
    .await;
    assert!(again.unwrap().notice.is_none());
    let mut conn = app.db.acquire().await.unwrap();
    fox::license::actions::apply(
        &mut *conn,
        id,
        fox::license::actions::Action::Revoke,
        "chargeback",
        &fox::db::audit::Actor::system("test"),
    )
    .await
    .unwrap();
    drop(conn);
    app.state.license_cache.clear();
    let k = key.clone();
    let (a, revoked) = blocking(move || {
        let r = a.check(&k);
        (a, r)
    })
    .await;
    assert!(
        revoked
            .unwrap_err()
            .0
            .starts_with("This license was revoked")
    );
    assert!(a.store.activation().is_none());

    // Deactivating frees the seat for machine B (on another license, still active).
    let (id2, key2) = issue(&app, "researcher", 30).await;
    let a2 = engine_check(&app, "machine-a-0123456789", &dir, always);
    let b2 = engine_check(&app, "machine-b-0123456789", &dir, always);
    let result = blocking(move || {
        a2.check(&key2).unwrap();
        assert!(b2.check(&key2).is_err());
        a2.deactivate(&key2).unwrap();
        b2.check(&key2).map(|l| l.claims.lid)
    })
    .await;
    assert_eq!(result.unwrap(), id2);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn admins_issue_offline_activation_files_within_the_seats() {
    let app = spawn_app().await;
    let (id, key) = issue(&app, "researcher", 30).await; // one seat
    let (_, admin) = app.admin("root@fox.example").await;
    let (_, sales) = app.sales("sam@fox.example").await;
    let page = admin
        .get(app.url(&format!("/admin/licenses/{id}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"offline-form\""));
    let csrf = extract_value(&page, "csrf_token").unwrap();
    let post = |c: &reqwest::Client, token: &str, fp: &str| {
        c.post(app.url(&format!("/admin/licenses/{id}/offline-activation")))
            .form(&[
                ("csrf_token", token),
                ("fingerprint", fp),
                ("name", "vault-1"),
            ])
            .send()
    };
    // Staff other than admins, a forged token, a bad fingerprint: nothing issued.
    let sales_csrf = extract_value(
        &sales
            .get(app.url("/admin"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "csrf_token",
    )
    .unwrap();
    assert_eq!(
        post(&sales, &sales_csrf, "vault-fingerprint-1")
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        post(&admin, "forged", "vault-fingerprint-1")
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(post(&admin, &csrf, "short").await.unwrap().status(), 400);

    let fp = fox_license::machine::fingerprint_of("air-gapped-box");
    let res = post(&admin, &csrf, &fp).await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"fox-activation-")
    );
    let file = res.text().await.unwrap();
    let a = app
        .state
        .signer
        .public_key()
        .verify_activation(&file)
        .unwrap();
    assert_eq!(
        (a.lid, a.fp.as_str(), a.mode),
        (id, fp.as_str(), fox_license::activation::Mode::Offline)
    );

    // Installed on that machine (no platform needed), it runs until the license ends.
    let dir = std::env::temp_dir().join(format!("fox-offline-{}", uuid::Uuid::new_v4().simple()));
    let mut vault = engine_check(&app, &fp, &dir, fox_license::check::Policy::default());
    vault.platform = fox_license::http::HttpPlatform::new("http://127.0.0.1:9");
    let k = key.clone();
    let ok = blocking(move || vault.install(&k, &file).and_then(|_| vault.check(&k))).await;
    assert!(ok.unwrap().notice.is_none());

    // It took the one seat: a second file is refused, and it is audited.
    let res = post(
        &admin,
        &csrf,
        &fox_license::machine::fingerprint_of("another-box"),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 409);
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'license.offline_activation' AND target_id = $1",
    )
    .bind(id.to_string())
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(audited, 1);
    let _ = std::fs::remove_dir_all(dir);
}

//! Customer accounts: set password from the emailed link, login (generic failure, rate limit),
//! logout, session expiry, CSRF, password reset, API tokens, resend key, machines, billing,
//! and the authorization matrix.

use crate::helpers::{
    PASSWORD, TestApp, extract_value, link_to, location, mail_text, set_cookie, spawn_app,
    spawn_app_with,
};
use fox::db;
use reqwest::StatusCode;

/// The CSRF token of the dashboard's forms.
async fn dashboard_token(app: &TestApp, client: &reqwest::Client) -> String {
    let html = client
        .get(app.url("/account"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    extract_value(&html, "csrf_token").expect("dashboard has forms")
}

/// Every license key (`FOX1-…`) in `text`.
fn keys_in(text: &str) -> Vec<String> {
    let mut keys: Vec<String> = text
        .match_indices("FOX1-")
        .map(|(at, _)| {
            let end = text[at..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c)))
                .map_or(text.len(), |e| at + e);
            text[at..end].to_string()
        })
        .filter(|k| k.contains('.'))
        .collect();
    keys.dedup();
    keys
}

#[tokio::test]
async fn the_emailed_link_sets_the_password_and_opens_the_dashboard() {
    let app = spawn_app().await;
    let issued = app.issue_license("ada@analytical.example", "desk").await;
    let mail = mail_text(&app.wait_for_emails(1).await[0]);
    let link =
        link_to(&mail, "/account/set-password").expect("the key email has a set-password link");

    let form = app.get(&link).await;
    assert_eq!(form.status(), StatusCode::OK);
    let html = form.text().await.unwrap();
    let csrf = extract_value(&html, "csrf_token").unwrap();
    let token = extract_value(&html, "token").unwrap();

    // Per-field errors first: too short, then a mismatch.
    let res = app
        .post_form(
            "/account/set-password",
            &[
                ("csrf_token", &csrf),
                ("token", &token),
                ("password", "short"),
                ("password_confirm", "short"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Use at least 12 characters.")
    );
    let res = app
        .post_form(
            "/account/set-password",
            &[
                ("csrf_token", &csrf),
                ("token", &token),
                ("password", PASSWORD),
                ("password_confirm", "something else entirely"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("The two passwords do not match.")
    );

    let res = app
        .post_form(
            "/account/set-password",
            &[
                ("csrf_token", &csrf),
                ("token", &token),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/account");

    let dash = app.get("/account").await;
    assert_eq!(dash.status(), StatusCode::OK);
    let html = dash.text().await.unwrap();
    assert!(html.contains(&issued.license_id.to_string()), "{html}");
    assert!(html.contains("Desk") && html.contains("ACTIVE") && html.contains("0 / 5"));

    let stored: Option<String> =
        sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
            .bind(issued.user_id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert!(stored.unwrap().starts_with("$argon2id$"));
    // The link works once.
    assert_eq!(app.get(&link).await.status(), StatusCode::GONE);
    assert!(
        app.get("/account/set-password?token=nonsense")
            .await
            .text()
            .await
            .unwrap()
            .contains("This link cannot be used")
    );
}

#[tokio::test]
async fn login_succeeds_and_every_failure_gets_the_same_message() {
    let app = spawn_app().await;
    app.customer("ada@analytical.example").await;
    app.issue_license("nopassword@analytical.example", "desk")
        .await;

    for (email, password) in [
        ("ada@analytical.example", "wrong password here"),
        ("nobody@analytical.example", PASSWORD),
        ("nopassword@analytical.example", PASSWORD),
    ] {
        let res = app.login_as(&app.client, email, password).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{email}");
        let html = res.text().await.unwrap();
        assert!(html.contains("Email or password is incorrect."), "{email}");
        assert_eq!(app.get("/account").await.status(), StatusCode::SEE_OTHER);
    }

    // Upper case in the address is fine; an outside `next` is ignored.
    let html = app
        .get("/account/login?next=https://evil.example/")
        .await
        .text()
        .await
        .unwrap();
    let csrf = extract_value(&html, "csrf_token").unwrap();
    let res = app
        .post_form(
            "/account/login",
            &[
                ("csrf_token", &csrf),
                ("email", "Ada@Analytical.example"),
                ("password", PASSWORD),
                ("next", "https://evil.example/"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/account");
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("fox_session="))
        .unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert_eq!(app.get("/account").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn login_goes_back_to_the_page_that_asked_for_it() {
    let app = spawn_app().await;
    app.customer("ada@analytical.example").await;
    let res = app.get("/account?notice=key-sent").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let to_login = location(&res);
    assert_eq!(
        to_login,
        "/account/login?next=%2Faccount%3Fnotice%3Dkey-sent"
    );
    let html = app.get(&to_login).await.text().await.unwrap();
    let csrf = extract_value(&html, "csrf_token").unwrap();
    let next = extract_value(&html, "next").unwrap();
    let res = app
        .post_form(
            "/account/login",
            &[
                ("csrf_token", &csrf),
                ("email", "ada@analytical.example"),
                ("password", PASSWORD),
                ("next", &next),
            ],
        )
        .await;
    assert_eq!(location(&res), "/account?notice=key-sent");
}

/// Sign-in through a trusted proxy (the test client), claiming the client address `ip`.
async fn login_from(
    app: &TestApp,
    csrf: &str,
    ip: &str,
    email: &str,
    password: &str,
) -> reqwest::Response {
    app.client
        .post(app.url("/account/login"))
        .header("x-forwarded-for", ip)
        .form(&[
            ("csrf_token", csrf),
            ("email", email),
            ("password", password),
        ])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn failed_logins_are_limited_per_address_and_per_address_and_account() {
    let app = spawn_app_with(|s| {
        s.rate_limit.login.max_requests = 3;
        s.rate_limit.login.window_secs = 600;
        s.rate_limit.login_per_ip.max_requests = 5;
        s.rate_limit.login_per_ip.window_secs = 600;
        s.server.trusted_proxies = vec!["127.0.0.1/32".into()];
    })
    .await;
    app.customer("ada@analytical.example").await;
    let html = app.get("/account/login").await.text().await.unwrap();
    let csrf = extract_value(&html, "csrf_token").unwrap();
    let wrong = "wrong password here";

    // Per (address, account): three failures, then that address is refused for that account…
    for _ in 0..3 {
        let res = login_from(&app, &csrf, "203.0.113.1", "ada@analytical.example", wrong).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res = login_from(
        &app,
        &csrf,
        "203.0.113.1",
        "ada@analytical.example",
        PASSWORD,
    )
    .await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=600).contains(&retry));
    // …but not for other accounts, until the address's own limit (5 failures) is used up.
    for email in ["a@x.example", "b@x.example"] {
        let res = login_from(&app, &csrf, "203.0.113.1", email, wrong).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res = login_from(&app, &csrf, "203.0.113.1", "c@x.example", wrong).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);

    // The account's owner, from their own address, is not locked out.
    let res = login_from(
        &app,
        &csrf,
        "198.51.100.4",
        "ada@analytical.example",
        PASSWORD,
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "the owner signs in");

    // A client reaching the server directly cannot pick its address with the header.
    let direct = spawn_app_with(|s| {
        s.rate_limit.login_per_ip.max_requests = 3;
    })
    .await;
    let html = direct.get("/account/login").await.text().await.unwrap();
    let csrf = extract_value(&html, "csrf_token").unwrap();
    let mut statuses = Vec::new();
    for i in 0..4 {
        let ip = format!("192.0.2.{i}");
        let email = format!("user{i}@x.example");
        statuses.push(
            login_from(&direct, &csrf, &ip, &email, wrong)
                .await
                .status(),
        );
    }
    assert_eq!(statuses[3], StatusCode::TOO_MANY_REQUESTS, "{statuses:?}");
}

#[tokio::test]
async fn successful_logins_are_never_counted() {
    let app = spawn_app_with(|s| {
        s.rate_limit.login.max_requests = 3;
        s.rate_limit.login_per_ip.max_requests = 3;
    })
    .await;
    app.customer("ada@analytical.example").await;
    for i in 0..12 {
        let client = crate::helpers::client();
        let html = client
            .get(app.url("/account/login"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = extract_value(&html, "csrf_token").unwrap();
        let res = client
            .post(app.url("/account/login"))
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("email", "ada@analytical.example"),
                ("password", PASSWORD),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "sign-in {}", i + 1);
    }
}

#[tokio::test]
async fn failures_from_many_addresses_slow_an_account_down_but_never_lock_its_owner_out() {
    let app = spawn_app_with(|s| {
        s.rate_limit.login_per_account.max_requests = 10;
        s.server.trusted_proxies = vec!["127.0.0.1/32".into()];
    })
    .await;
    app.customer("ada@analytical.example").await;
    let html = app.get("/account/login").await.text().await.unwrap();
    let csrf = extract_value(&html, "csrf_token").unwrap();
    // Ten bad attempts from one address (that address is then refused for this account)…
    for _ in 0..10 {
        let res = login_from(
            &app,
            &csrf,
            "203.0.113.7",
            "ada@analytical.example",
            "nope nope nope",
        )
        .await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    // …then the correct password from another address signs in, slowed down.
    let started = std::time::Instant::now();
    let res = login_from(
        &app,
        &csrf,
        "198.51.100.9",
        "ada@analytical.example",
        PASSWORD,
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/account");
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(900),
        "an account under attack is slowed down"
    );
}

#[tokio::test]
async fn logout_ends_the_session() {
    let app = spawn_app().await;
    app.customer("ada@analytical.example").await;
    assert_eq!(
        app.login_as(&app.client, "ada@analytical.example", PASSWORD)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    let csrf = dashboard_token(&app, &app.client).await;
    assert_eq!(
        app.count("SELECT count(*) FROM tower_sessions.session")
            .await,
        1
    );

    // Without the form token, logout is refused.
    assert_eq!(
        app.post_form("/account/logout", &[("csrf_token", "forged")])
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    let res = app
        .post_form("/account/logout", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/account/login?signed_out=1");
    assert!(
        app.get("/account/login?signed_out=1")
            .await
            .text()
            .await
            .unwrap()
            .contains("You are signed out.")
    );
    let res = app.get("/account").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/account/login?next=%2Faccount");
    assert_eq!(
        app.count("SELECT count(*) FROM tower_sessions.session")
            .await,
        0
    );
}

#[tokio::test]
async fn a_session_ends_when_the_epoch_moves_or_its_row_is_gone() {
    let app = spawn_app().await;
    let issued = app.customer("ada@analytical.example").await;
    app.login_as(&app.client, "ada@analytical.example", PASSWORD)
        .await;
    assert_eq!(app.get("/account").await.status(), StatusCode::OK);

    // A password change elsewhere bumps the epoch: this session is over.
    sqlx::query("UPDATE users SET session_epoch = session_epoch + 1 WHERE id = $1")
        .bind(issued.user_id)
        .execute(&app.db)
        .await
        .unwrap();
    let res = app.get("/account").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(&res).starts_with("/account/login"));

    // An expired session is deleted from the store: same result.
    app.login_as(&app.client, "ada@analytical.example", PASSWORD)
        .await;
    assert_eq!(app.get("/account").await.status(), StatusCode::OK);
    sqlx::query("DELETE FROM tower_sessions.session")
        .execute(&app.db)
        .await
        .unwrap();
    assert_eq!(app.get("/account").await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn forms_without_a_valid_csrf_token_are_refused() {
    let app = spawn_app().await;
    app.customer("ada@analytical.example").await;

    // Login: no token, and a token from another visitor.
    let res = app
        .post_form(
            "/account/login",
            &[("email", "ada@analytical.example"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("Your session expired"));
    let other = crate::helpers::client();
    let foreign = extract_value(
        &other
            .get(app.url("/account/login"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "csrf_token",
    )
    .unwrap();
    app.get("/account/login").await;
    let res = app
        .post_form(
            "/account/login",
            &[
                ("csrf_token", &foreign),
                ("email", "ada@analytical.example"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.get("/account").await.status(), StatusCode::SEE_OTHER);

    // Dashboard forms.
    app.login_as(&app.client, "ada@analytical.example", PASSWORD)
        .await;
    let res = app
        .post_form(
            "/account/tokens",
            &[("csrf_token", &foreign), ("name", "ci")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.count("SELECT count(*) FROM api_tokens").await, 0);
    let license: uuid::Uuid = sqlx::query_scalar("SELECT id FROM licenses")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let res = app
        .post_form(&format!("/account/licenses/{license}/resend"), &[])
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.count("SELECT count(*) FROM license_keys").await, 1);
}

#[tokio::test]
async fn a_password_reset_is_emailed_and_ends_other_sessions() {
    let app = spawn_app().await;
    app.customer("ada@analytical.example").await;
    app.wait_for_emails(1).await;
    // Another device is logged in.
    let laptop = crate::helpers::client();
    app.login_as(&laptop, "ada@analytical.example", PASSWORD)
        .await;
    assert_eq!(
        laptop
            .get(app.url("/account"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );

    let html = app.get("/account/reset").await.text().await.unwrap();
    let csrf = extract_value(&html, "csrf_token").unwrap();
    let res = app
        .post_form(
            "/account/reset",
            &[("csrf_token", &csrf), ("email", "not an address")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let unknown = app
        .post_form(
            "/account/reset",
            &[
                ("csrf_token", &csrf),
                ("email", "nobody@analytical.example"),
            ],
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::OK);
    let unknown = unknown.text().await.unwrap();
    let known = app
        .post_form(
            "/account/reset",
            &[("csrf_token", &csrf), ("email", "ada@analytical.example")],
        )
        .await
        .text()
        .await
        .unwrap();
    // The same confirmation either way.
    assert_eq!(
        unknown.replace("nobody@analytical.example", "X"),
        known.replace("ada@analytical.example", "X")
    );

    let mails = app.wait_for_emails(2).await;
    assert_eq!(
        app.count("SELECT count(*) FROM email_outbox").await,
        2,
        "no email for the unknown address"
    );
    let reset = mails
        .iter()
        .map(|m| mail_text(m))
        .find(|m| m.contains("reset the password"))
        .unwrap();
    let link = link_to(&reset, "/account/reset/confirm").unwrap();
    let html = app.get(&link).await.text().await.unwrap();
    let token = extract_value(&html, "token").unwrap();
    let csrf = extract_value(&html, "csrf_token").unwrap();
    let new_password = "a completely new passphrase";
    let res = app
        .post_form(
            "/account/reset/confirm",
            &[
                ("csrf_token", &csrf),
                ("token", &token),
                ("password", new_password),
                ("password_confirm", new_password),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get("/account").await.status(), StatusCode::OK);

    // The other device is logged out; the old password no longer works, the new one does.
    assert_eq!(
        laptop
            .get(app.url("/account"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        app.login_as(&laptop, "ada@analytical.example", PASSWORD)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login_as(&laptop, "ada@analytical.example", new_password)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    // The set-password link of the key email is dead now too (and was never a reset link).
    let key_mail = mails
        .iter()
        .map(|m| mail_text(m))
        .find(|m| m.contains("license is ready"))
        .unwrap();
    let set_link = link_to(&key_mail, "/account/set-password").unwrap();
    let t = set_link.split("token=").nth(1).unwrap();
    assert_eq!(
        app.get(&format!("/account/reset/confirm?token={t}"))
            .await
            .status(),
        StatusCode::GONE
    );
    assert_eq!(app.get(&set_link).await.status(), StatusCode::GONE);
    assert_eq!(app.get(&link).await.status(), StatusCode::GONE);
}

#[tokio::test]
async fn api_tokens_are_shown_once_stored_hashed_and_revocable() {
    let app = spawn_app().await;
    let issued = app.customer("ada@analytical.example").await;
    app.login_as(&app.client, "ada@analytical.example", PASSWORD)
        .await;
    let csrf = dashboard_token(&app, &app.client).await;

    let res = app
        .post_form("/account/tokens", &[("csrf_token", &csrf), ("name", "  ")])
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("Give the token a name"));

    let res = app
        .post_form(
            "/account/tokens",
            &[("csrf_token", &csrf), ("name", "research-box-1")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    let at = html
        .find("id=\"new-token\">")
        .expect("the new token is shown")
        + "id=\"new-token\">".len();
    let token = html[at..at + html[at..].find('<').unwrap()].to_string();
    assert!(
        token.starts_with("fox_") && token.len() >= 4 + 8 + 28,
        "{token}"
    );

    let (prefix, hash, user_id): (String, Vec<u8>, uuid::Uuid) =
        sqlx::query_as("SELECT prefix, token_hash, user_id FROM api_tokens")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(user_id, issued.user_id);
    assert_eq!(prefix, token[..12]);
    assert_eq!(
        hash,
        <sha2::Sha256 as sha2::Digest>::digest(token.as_bytes()).to_vec()
    );
    let secret_part = &token[13..];
    let stored_anywhere: i64 = sqlx::query_scalar("SELECT count(*) FROM api_tokens WHERE prefix LIKE '%' || $1 || '%' OR name LIKE '%' || $1 || '%'").bind(secret_part).fetch_one(&app.db).await.unwrap();
    assert_eq!(stored_anywhere, 0);

    // Shown once: the dashboard lists the prefix only.
    let html = app.get("/account").await.text().await.unwrap();
    assert!(html.contains("research-box-1") && html.contains(&prefix));
    assert!(!html.contains(&token));

    let mut conn = app.db.acquire().await.unwrap();
    assert_eq!(
        db::api_tokens::authenticate(&mut conn, &token)
            .await
            .unwrap(),
        Some(issued.user_id)
    );
    let id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM api_tokens")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let res = app
        .post_form(
            &format!("/account/tokens/{id}/revoke"),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        db::api_tokens::authenticate(&mut conn, &token)
            .await
            .unwrap(),
        None
    );
    let html = app
        .get("/account?notice=token-revoked")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Revoked") && html.contains("The API token was revoked."));
}

#[tokio::test]
async fn resend_key_emails_a_new_key_and_the_old_one_keeps_working() {
    let app = spawn_app().await;
    let issued = app.customer("ada@analytical.example").await;
    app.wait_for_emails(1).await;
    app.login_as(&app.client, "ada@analytical.example", PASSWORD)
        .await;
    let csrf = dashboard_token(&app, &app.client).await;

    let res = app
        .post_form(
            &format!("/account/licenses/{}/resend", issued.license_id),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/account?notice=key-sent");
    let mails: Vec<String> = app
        .wait_for_emails(2)
        .await
        .iter()
        .map(|m| mail_text(m))
        .collect();
    let keys: Vec<String> = mails
        .iter()
        .flat_map(|m| keys_in(m))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(keys.len(), 2, "two different keys were emailed");
    assert!(keys.contains(&issued.key));
    assert_eq!(app.count("SELECT count(*) FROM license_keys").await, 2);
    let mut conn = app.db.acquire().await.unwrap();
    for k in &keys {
        let l = db::licenses::by_key_hash(&mut conn, &app.state.signer.lookup_hash(k))
            .await
            .unwrap()
            .expect("key is known");
        assert_eq!(l.id, issued.license_id);
        app.state
            .signer
            .public_key()
            .verify(k)
            .expect("key verifies offline");
    }
    assert!(
        app.get("/account?notice=key-sent")
            .await
            .text()
            .await
            .unwrap()
            .contains("2 keys issued (all valid)")
    );
    let audit: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'license.key_resend' AND actor_id = $1",
    )
    .bind(issued.user_id)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(audit, 1);
}

#[tokio::test]
async fn a_customer_can_deactivate_a_machine() {
    let app = spawn_app().await;
    let issued = app.customer("ada@analytical.example").await;
    let machine = {
        let mut conn = app.db.acquire().await.unwrap();
        db::licenses::activate_machine(
            &mut conn,
            issued.license_id,
            "fingerprint-0001",
            "research-box",
        )
        .await
        .unwrap()
    };
    app.login_as(&app.client, "ada@analytical.example", PASSWORD)
        .await;
    let html = app.get("/account").await.text().await.unwrap();
    assert!(html.contains("research-box") && html.contains("1 / 5"));
    let csrf = extract_value(&html, "csrf_token").unwrap();

    let path = format!(
        "/account/licenses/{}/machines/{machine}/deactivate",
        issued.license_id
    );
    let res = app.post_form(&path, &[("csrf_token", &csrf)]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let active: i64 =
        sqlx::query_scalar("SELECT count(*) FROM machines WHERE deactivated_at IS NULL")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(active, 0);
    assert!(
        app.get("/account")
            .await
            .text()
            .await
            .unwrap()
            .contains("0 / 5")
    );
    // Twice: nothing left to deactivate.
    assert_eq!(
        app.post_form(&path, &[("csrf_token", &csrf)])
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn customers_cannot_see_or_touch_each_others_licenses_machines_or_tokens() {
    let app = spawn_app().await;
    let ada = app.customer("ada@analytical.example").await;
    let bob = app.customer("bob@babbage.example").await;
    let bob_machine = {
        let mut conn = app.db.acquire().await.unwrap();
        db::licenses::activate_machine(&mut conn, bob.license_id, "fingerprint-bob-1", "bob-box")
            .await
            .unwrap()
    };
    // Bob has a token.
    let bob_client = crate::helpers::client();
    app.login_as(&bob_client, "bob@babbage.example", PASSWORD)
        .await;
    let bob_csrf = dashboard_token(&app, &bob_client).await;
    bob_client
        .post(app.url("/account/tokens"))
        .form(&[("csrf_token", bob_csrf.as_str()), ("name", "bob-token")])
        .send()
        .await
        .unwrap();
    let bob_token: uuid::Uuid = sqlx::query_scalar("SELECT id FROM api_tokens")
        .fetch_one(&app.db)
        .await
        .unwrap();

    app.login_as(&app.client, "ada@analytical.example", PASSWORD)
        .await;
    let html = app.get("/account").await.text().await.unwrap();
    assert!(html.contains(&ada.license_id.to_string()));
    assert!(
        !html.contains(&bob.license_id.to_string())
            && !html.contains("bob-box")
            && !html.contains("bob-token")
    );
    let csrf = extract_value(&html, "csrf_token").unwrap();

    for path in [
        format!("/account/licenses/{}/resend", bob.license_id),
        format!(
            "/account/licenses/{}/machines/{bob_machine}/deactivate",
            bob.license_id
        ),
        // Ada's own license with Bob's machine.
        format!(
            "/account/licenses/{}/machines/{bob_machine}/deactivate",
            ada.license_id
        ),
        format!("/account/tokens/{bob_token}/revoke"),
        format!("/account/licenses/{}/resend", uuid::Uuid::now_v7()),
    ] {
        assert_eq!(
            app.post_form(&path, &[("csrf_token", &csrf)])
                .await
                .status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    assert_eq!(app.count("SELECT count(*) FROM license_keys").await, 2);
    assert_eq!(
        app.count("SELECT count(*) FROM machines WHERE deactivated_at IS NULL")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM api_tokens WHERE revoked_at IS NULL")
            .await,
        1
    );
}

#[tokio::test]
async fn anonymous_visitors_are_sent_to_login_and_customers_get_403_in_admin() {
    let app = spawn_app().await;
    let ada = app.customer("ada@analytical.example").await;
    for path in [
        "/account",
        "/admin",
        "/admin/leads",
        "/admin/licenses",
        "/admin/audit",
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{path}");
        assert!(
            location(&res).starts_with("/account/login?next=%2F"),
            "{path}"
        );
    }
    let res = app
        .post_form(&format!("/account/licenses/{}/resend", ada.license_id), &[])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);

    app.login_as(&app.client, "ada@analytical.example", PASSWORD)
        .await;
    let csrf = dashboard_token(&app, &app.client).await;
    for path in [
        "/admin",
        "/admin/leads",
        "/admin/licenses/new",
        "/admin/licenses",
        "/admin/audit",
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
        assert!(
            res.text().await.unwrap().contains("does not have access"),
            "{path}"
        );
    }
    let res = app
        .post_form(
            &format!("/admin/licenses/{}/revoke", ada.license_id),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app
        .post_form(
            "/admin/licenses/new",
            &[
                ("csrf_token", &csrf),
                ("email", "x@y.example"),
                ("tier", "desk"),
                ("days", "30"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.count("SELECT count(*) FROM licenses").await, 1);
    assert_eq!(
        app.count("SELECT count(*) FROM licenses WHERE status = 'ACTIVE'")
            .await,
        1
    );
}

#[tokio::test]
async fn billing_without_stripe_explains_instead_of_failing() {
    let app = spawn_app().await;
    app.customer("ada@analytical.example").await;
    app.login_as(&app.client, "ada@analytical.example", PASSWORD)
        .await;
    let csrf = dashboard_token(&app, &app.client).await;
    let res = app
        .post_form("/account/billing", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/account?notice=billing-unavailable");
    assert!(
        app.get("/account?notice=billing-unavailable")
            .await
            .text()
            .await
            .unwrap()
            .contains("contact sales")
    );
}

#[tokio::test]
async fn manage_billing_opens_the_stripe_portal_for_a_stripe_customer() {
    let (app, stripe) = crate::helpers::spawn_app_with_stripe(|_| {}).await;
    let tier = app
        .settings
        .pricing
        .tiers
        .iter()
        .find(|t| t.id == "desk")
        .unwrap();
    use fox::commerce::issue::{self, Origin, Request};
    use fox::db::audit::Actor;
    use fox::domain::EmailAddress;
    use time::{Duration, OffsetDateTime};
    let email = EmailAddress::parse("ada@analytical.example").unwrap();
    let req = Request {
        email: &email,
        name: "",
        company: "",
        tier,
        expires_at: OffsetDateTime::now_utc() + Duration::days(30),
        origin: Origin {
            stripe_customer_id: Some("cus_ada123"),
            ..Origin::new(fox::domain::IssueSource::Sales)
        },
    };
    let mut tx = app.db.begin().await.unwrap();
    let issued = issue::issue(
        &mut tx,
        &app.state.settings,
        &app.state.signer,
        &req,
        &Actor::system("test"),
    )
    .await
    .unwrap()
    .unwrap();
    let hash = fox::auth::password::hash(PASSWORD.into()).await.unwrap();
    db::accounts::set_password(&mut tx, issued.user_id, &hash)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    app.login_as(&app.client, "ada@analytical.example", PASSWORD)
        .await;
    let csrf = dashboard_token(&app, &app.client).await;
    let res = app
        .post_form("/account/billing", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), format!("{}/portal/cus_ada123", stripe.base));
    let call = stripe
        .requests()
        .into_iter()
        .find(|r| r.path == "/v1/billing_portal/sessions")
        .expect("portal session created");
    assert_eq!(
        call.params.get("customer").map(String::as_str),
        Some("cus_ada123")
    );
    let return_url = format!(
        "{}/account",
        app.settings.server.public_url.trim_end_matches('/')
    );
    assert_eq!(call.params.get("return_url"), Some(&return_url));
}

#[tokio::test]
async fn password_reset_requests_are_rate_limited() {
    let app = spawn_app_with(|s| {
        s.rate_limit.login.max_requests = 2;
        s.rate_limit.login.window_secs = 600;
    })
    .await;
    app.customer("ada@analytical.example").await;
    let html = app.get("/account/reset").await.text().await.unwrap();
    let csrf = extract_value(&html, "csrf_token").unwrap();
    for _ in 0..2 {
        let res = app
            .post_form(
                "/account/reset",
                &[("csrf_token", &csrf), ("email", "ada@analytical.example")],
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    let res = app
        .post_form(
            "/account/reset",
            &[("csrf_token", &csrf), ("email", "ada@analytical.example")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(
        app.count("SELECT count(*) FROM user_tokens WHERE purpose = 'reset_password'")
            .await,
        2
    );
    // Logins have their own budget.
    assert_eq!(
        app.login_as(&app.client, "ada@analytical.example", PASSWORD)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn a_planted_csrf_cookie_and_its_token_do_not_work_in_a_victims_session() {
    let app = spawn_app().await;
    app.customer("ada@analytical.example").await;

    // The attacker's own visit gives a CSRF cookie and a valid form token for it.
    let attacker = crate::helpers::client();
    let page = attacker
        .get(app.url("/account/login"))
        .send()
        .await
        .unwrap();
    let planted = set_cookie(&page, "fox_csrf").expect("a CSRF cookie");
    let attackers_token = extract_value(&page.text().await.unwrap(), "csrf_token").unwrap();

    // The victim signs in; the attacker manages to plant its cookie in the victim's browser.
    let victim = crate::helpers::client();
    let res = app
        .login_as(&victim, "ada@analytical.example", PASSWORD)
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let session = set_cookie(&res, "fox_session").expect("a session cookie");
    let cookies = format!("fox_session={session}; fox_csrf={planted}");
    let raw = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let post = |token: String| {
        raw.post(app.url("/account/logout"))
            .header("cookie", cookies.clone())
            .form(&[("csrf_token", token)])
            .send()
    };
    let res = post(attackers_token).await.unwrap();
    assert_eq!(
        res.status(),
        StatusCode::FORBIDDEN,
        "the forged form is refused"
    );
    let still_in = raw
        .get(app.url("/account"))
        .header("cookie", cookies.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(
        still_in.status(),
        StatusCode::OK,
        "the victim is still signed in"
    );

    // The token the site itself puts in the victim's pages works.
    let own = extract_value(&still_in.text().await.unwrap(), "csrf_token").unwrap();
    let res = post(own).await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn keys_issued_for_one_license_within_one_second_are_each_a_new_key() {
    // Ed25519 signatures are deterministic: the same claims in the same second used to give
    // the same key again, whose insert failed (a 500 on a quick second "resend key").
    let app = spawn_app().await;
    let issued = app.customer("ada@analytical.example").await;
    let mut conn = app.db.acquire().await.unwrap();
    let license = fox::db::licenses::by_id(&mut conn, issued.license_id)
        .await
        .unwrap()
        .unwrap();
    let mut keys = std::collections::BTreeSet::from([issued.key.clone()]);
    for _ in 0..3 {
        let key = fox::commerce::issue::new_key(&mut conn, &app.state.signer, &license)
            .await
            .unwrap();
        let claims = app.state.signer.public_key().verify(&key).unwrap();
        assert_eq!(claims.lid, issued.license_id);
        keys.insert(key);
    }
    assert_eq!(keys.len(), 4, "four different keys");
    let stored = app
        .count(&format!(
            "SELECT count(*) FROM license_keys WHERE license_id = '{}'",
            issued.license_id
        ))
        .await;
    assert_eq!(stored, 4);
}

//! Request Access: validation, CSRF, honeypot, rate limit, storage and the sales email.

use crate::helpers::*;

async fn lead_count(app: &TestApp) -> i64 {
    sqlx::query_scalar::<_, i64>("SELECT count(*) FROM leads")
        .fetch_one(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_valid_request_is_stored_and_sales_is_emailed() {
    let app = spawn_app().await;
    let token = app.csrf_token().await;
    let res = app
        .post_form("/request-access", &as_pairs(&valid_lead(&token)))
        .await;
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    assert!(body.contains("Ada"), "confirmation greets the visitor");

    let row: (String, String, String, String, String) =
        sqlx::query_as("SELECT name, email, company, tier, status FROM leads")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(
        row,
        (
            "Ada Lovelace".into(),
            "ada@analytical.example".into(),
            "Analytical Engines Ltd".into(),
            "desk".into(),
            "new".into()
        )
    );

    let emails = app.wait_for_emails(1).await;
    let mail = &emails[0];
    assert!(mail.contains("To: sales@foxml.localhost"), "{mail}");
    assert!(mail.contains("Analytical Engines Ltd"));
    assert!(mail.contains("ada@analytical.example"));
    // The file is written before the worker's transaction marks the row sent: poll.
    let mut status = String::new();
    for _ in 0..50 {
        status = sqlx::query_scalar("SELECT status FROM email_outbox")
            .fetch_one(&app.db)
            .await
            .unwrap();
        if status == "sent" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, "sent");
}

#[tokio::test]
async fn each_invalid_field_is_reported_and_input_is_kept() {
    let app = spawn_app().await;
    let token = app.csrf_token().await;
    let cases = [
        ("name", "", "Enter your name."),
        (
            "email",
            "not-an-email",
            "Enter an email address like name@company.com.",
        ),
        ("company", "   ", "Enter your company or organisation."),
        ("team_size", "9000", "Choose your team size."),
        ("tier", "platinum", "Choose the plan you are interested in."),
        (
            "use_case",
            &"x".repeat(5001),
            "Use case must be at most 5000 characters.",
        ),
        (
            "role",
            &"r".repeat(201),
            "Role must be at most 200 characters.",
        ),
    ];
    for (field, value, message) in cases {
        let mut form = valid_lead(&token);
        form.iter_mut().find(|(k, _)| *k == field).unwrap().1 = value.to_string();
        let res = app.post_form("/request-access", &as_pairs(&form)).await;
        assert_eq!(res.status(), 422, "{field}");
        let html = res.text().await.unwrap();
        assert!(html.contains(message), "{field}: expected {message:?}");
        assert!(
            html.contains(&format!("id=\"{field}-error\"")),
            "{field}: error is tied to its field"
        );
        assert!(
            html.contains("aria-invalid=\"true\""),
            "{field}: field is marked invalid"
        );
        // What the visitor typed in the other fields comes back.
        if field != "company" {
            assert!(
                html.contains("value=\"Analytical Engines Ltd\""),
                "{field}: company kept"
            );
        }
        if field != "name" {
            assert!(
                html.contains("value=\"Ada Lovelace\""),
                "{field}: name kept"
            );
        }
    }
    assert_eq!(lead_count(&app).await, 0);
}

#[tokio::test]
async fn input_is_escaped_when_re_rendered() {
    let app = spawn_app().await;
    let token = app.csrf_token().await;
    let mut form = valid_lead(&token);
    form[1].1 = "\"><script>alert(1)</script>".into();
    form[2].1 = "bad".into();
    let html = app
        .post_form("/request-access", &as_pairs(&form))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !html.contains("<script>alert(1)"),
        "input must be HTML-escaped"
    );
}

#[tokio::test]
async fn missing_or_forged_csrf_is_rejected() {
    let app = spawn_app().await;
    // No cookie, no token.
    let fresh = client();
    let res = fresh
        .post(app.url("/request-access"))
        .form(&as_pairs(&valid_lead("")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("session expired"));
    // A cookie, but a token not derived from it.
    let _ = app.csrf_token().await;
    let res = app
        .post_form(
            "/request-access",
            &as_pairs(&valid_lead("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")),
        )
        .await;
    assert_eq!(res.status(), 403);
    assert_eq!(lead_count(&app).await, 0);
}

#[tokio::test]
async fn honeypot_submissions_look_accepted_but_are_dropped() {
    let app = spawn_app().await;
    let token = app.csrf_token().await;
    let mut form = valid_lead(&token);
    form.iter_mut().find(|(k, _)| *k == "website").unwrap().1 = "http://spam.example".into();
    let res = app.post_form("/request-access", &as_pairs(&form)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(lead_count(&app).await, 0);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(app.emails().is_empty());
}

#[tokio::test]
async fn submissions_are_rate_limited_per_address() {
    let app = spawn_app_with(|s| {
        s.rate_limit.leads = fox::config::RateLimitRule {
            max_requests: 3,
            window_secs: 600,
        }
    })
    .await;
    let token = app.csrf_token().await;
    for _ in 0..3 {
        assert_eq!(
            app.post_form("/request-access", &as_pairs(&valid_lead(&token)))
                .await
                .status(),
            200
        );
    }
    let res = app
        .post_form("/request-access", &as_pairs(&valid_lead(&token)))
        .await;
    assert_eq!(res.status(), 429);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0 && retry <= 600, "{retry}");
    assert!(res.text().await.unwrap().contains("Too many requests"));
    assert_eq!(lead_count(&app).await, 3);
}

#[tokio::test]
async fn a_lead_survives_an_email_outage() {
    // SMTP to a port where nothing listens: every send fails.
    let app = spawn_app_with(|s| {
        s.email.transport = fox::config::EmailTransport::Smtp;
        s.email.smtp.host = "127.0.0.1".into();
        s.email.smtp.port = 9;
        s.email.smtp.tls = fox::config::SmtpTls::None;
    })
    .await;
    let token = app.csrf_token().await;
    let res = app
        .post_form("/request-access", &as_pairs(&valid_lead(&token)))
        .await;
    assert_eq!(
        res.status(),
        200,
        "the visitor is not bothered by our mail problems"
    );
    assert_eq!(lead_count(&app).await, 1);
    let mut row = (String::new(), 0i32, None::<String>);
    for _ in 0..50 {
        row = sqlx::query_as("SELECT status, attempts, last_error FROM email_outbox")
            .fetch_one(&app.db)
            .await
            .unwrap();
        if row.1 > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(row.0, "pending", "kept for a retry");
    assert!(
        row.1 >= 1 && row.2.is_some(),
        "the failed attempt is recorded: {row:?}"
    );
}

#[tokio::test]
async fn the_form_preselects_a_tier_from_the_query() {
    let app = spawn_app().await;
    let html = app
        .get("/request-access?tier=enterprise")
        .await
        .text()
        .await
        .unwrap();
    let at = html
        .find("value=\"enterprise\"")
        .expect("enterprise option");
    let tag_end = at + html[at..].find('>').unwrap();
    assert!(
        html[at..tag_end].contains("selected"),
        "enterprise is preselected"
    );
}

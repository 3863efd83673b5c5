//! The sales and admin area: lead workflow and notes, issuing a license, admin license
//! actions, the audit log, and who may do what.

use crate::helpers::{TestApp, extract_value, spawn_app};
use fox::db;
use fox::domain::{EmailAddress, NewLead};
use reqwest::StatusCode;
use uuid::Uuid;

async fn page(app: &TestApp, client: &reqwest::Client, path: &str) -> (StatusCode, String) {
    let res = client.get(app.url(path)).send().await.unwrap();
    (res.status(), res.text().await.unwrap())
}

async fn post(
    app: &TestApp,
    client: &reqwest::Client,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    client.post(app.url(path)).form(form).send().await.unwrap()
}

async fn csrf(app: &TestApp, client: &reqwest::Client) -> String {
    extract_value(&page(app, client, "/admin").await.1, "csrf_token").unwrap()
}

async fn add_lead(app: &TestApp, company: &str, email: &str) -> Uuid {
    let lead = NewLead {
        name: "Grace Hopper".into(),
        email: EmailAddress::parse(email).unwrap(),
        company: company.into(),
        role: "CTO".into(),
        team_size: "6-20".into(),
        use_case: "Panel data".into(),
        tier: "enterprise".into(),
    };
    let mut conn = app.db.acquire().await.unwrap();
    db::leads::insert(&mut conn, &lead).await.unwrap()
}

async fn issue_via_sales(app: &TestApp, client: &reqwest::Client, email: &str) -> Uuid {
    let token = csrf(app, client).await;
    let res = post(
        app,
        client,
        "/admin/licenses/new",
        &[
            ("csrf_token", &token),
            ("email", email),
            ("name", "Ada"),
            ("company", "Analytical"),
            ("tier", "enterprise"),
            ("days", "90"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    let at = html.find("id=\"issued-license-id\">").unwrap() + "id=\"issued-license-id\">".len();
    html[at..at + 36].parse().unwrap()
}

async fn audit_actions(app: &TestApp, actor_id: Uuid) -> Vec<String> {
    sqlx::query_scalar("SELECT action FROM audit_log WHERE actor_id = $1 ORDER BY id")
        .bind(actor_id)
        .fetch_all(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn sales_move_leads_through_the_workflow_and_add_notes() {
    let app = spawn_app().await;
    let (sales_id, sales) = app.sales("sam@foxml.example").await;
    let lead = add_lead(&app, "Hopper Capital", "grace@hopper.example").await;
    add_lead(&app, "Lovelace Partners", "ada@lovelace.example").await;

    let (status, html) = page(&app, &sales, "/admin/leads").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Hopper Capital") && html.contains("Lovelace Partners"));
    let html = page(&app, &sales, "/admin/leads?q=hopper").await.1;
    assert!(html.contains("Hopper Capital") && !html.contains("Lovelace Partners"));
    // The filter bar submits back to the list and keeps the search term.
    assert!(html.contains(r#"<form method="get" action="/admin/leads" class="filter-bar">"#));
    assert!(html.contains(r#"<label for="q">Company or email</label>"#));
    assert!(html.contains(r#"name="q" value="hopper""#));
    let html = page(&app, &sales, "/admin/leads?q=ada%40lovelace").await.1;
    assert!(!html.contains("Hopper Capital") && html.contains("Lovelace Partners"));
    assert!(
        page(&app, &sales, "/admin/leads?q=%25")
            .await
            .1
            .contains("No leads match.")
    );

    let token = csrf(&app, &sales).await;
    let path = format!("/admin/leads/{lead}/status");
    // new → won skips the workflow: refused.
    assert_eq!(
        post(
            &app,
            &sales,
            &path,
            &[("csrf_token", &token), ("status", "won")]
        )
        .await
        .status(),
        StatusCode::CONFLICT
    );
    for next in ["contacted", "qualified", "won"] {
        let res = post(
            &app,
            &sales,
            &path,
            &[("csrf_token", &token), ("status", next)],
        )
        .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{next}");
    }
    // Won is final.
    assert_eq!(
        post(
            &app,
            &sales,
            &path,
            &[("csrf_token", &token), ("status", "lost")]
        )
        .await
        .status(),
        StatusCode::CONFLICT
    );
    let status: String = sqlx::query_scalar("SELECT status FROM leads WHERE id = $1")
        .bind(lead)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(status, "won");
    let html = page(&app, &sales, "/admin/leads?status=won").await.1;
    assert!(html.contains("Hopper Capital") && !html.contains("Lovelace Partners"));
    let html = page(&app, &sales, "/admin/leads?status=new").await.1;
    assert!(!html.contains("Hopper Capital") && html.contains("Lovelace Partners"));

    let notes = format!("/admin/leads/{lead}/notes");
    let res = post(
        &app,
        &sales,
        &notes,
        &[("csrf_token", &token), ("body", "   ")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("Write a note first."));
    let res = post(
        &app,
        &sales,
        &notes,
        &[
            ("csrf_token", &token),
            ("body", "Signed the <enterprise> order form."),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let html = page(&app, &sales, &format!("/admin/leads/{lead}")).await.1;
    assert!(
        html.contains("Signed the &#60;enterprise&#62; order form.")
            || html.contains("Signed the &lt;enterprise&gt; order form."),
        "{html}"
    );
    assert!(
        html.contains("sam@foxml.example"),
        "the note shows its author"
    );
    let author: Option<Uuid> = sqlx::query_scalar("SELECT author_id FROM lead_notes")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(author, Some(sales_id));

    // CSRF applies here too.
    assert_eq!(
        post(
            &app,
            &sales,
            &notes,
            &[("csrf_token", "forged"), ("body", "x")]
        )
        .await
        .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        audit_actions(&app, sales_id).await,
        ["lead.status", "lead.status", "lead.status", "lead.note"]
    );
}

#[tokio::test]
async fn sales_issue_a_license_for_an_invoiced_customer() {
    let app = spawn_app().await;
    let (sales_id, sales) = app.sales("sam@foxml.example").await;

    let (status, html) = page(&app, &sales, "/admin/licenses/new").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(extract_value(&html, "days").as_deref(), Some("365"));

    let token = csrf(&app, &sales).await;
    let res = post(
        &app,
        &sales,
        "/admin/licenses/new",
        &[
            ("csrf_token", &token),
            ("email", "nope"),
            ("tier", "platinum"),
            ("days", "0"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("Choose a plan.")
            && html.contains("Enter a number of days from 1 to 3650.")
            && html.contains("name@company.com")
    );
    assert_eq!(
        extract_value(&html, "email").as_deref(),
        Some("nope"),
        "input is kept"
    );

    let license = issue_via_sales(&app, &sales, "CFO@Enterprise.example").await;
    let (tier, source, seats, days): (String, String, i32, f64) = sqlx::query_as(
        "SELECT tier, source, seats, EXTRACT(EPOCH FROM expires_at - now())::float8 / 86400 FROM licenses WHERE id = $1",
    )
    .bind(license)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(
        (tier.as_str(), source.as_str(), seats),
        ("enterprise", "sales", 1)
    );
    assert!((89.9..90.1).contains(&days), "{days}");
    let customer: String = sqlx::query_scalar(
        "SELECT c.email FROM customers c JOIN licenses l ON l.customer_id = c.id",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(customer, "cfo@enterprise.example");

    let mails = app.wait_for_emails(1).await;
    assert!(
        mails[0].contains("cfo@enterprise.example")
            && mails[0].contains("Your Fox ML Infrastructure license")
    );
    let (actor, actor_id, action): (String, Option<Uuid>, String) =
        sqlx::query_as("SELECT actor, actor_id, action FROM audit_log WHERE target_id = $1")
            .bind(license.to_string())
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(
        (actor.as_str(), actor_id, action.as_str()),
        ("sam@foxml.example", Some(sales_id), "license.issue")
    );
}

#[tokio::test]
async fn sales_cannot_take_admin_only_actions() {
    let app = spawn_app().await;
    let (_, sales) = app.sales("sam@foxml.example").await;
    let license = issue_via_sales(&app, &sales, "cfo@enterprise.example").await;
    let token = csrf(&app, &sales).await;
    for path in [
        "/admin/licenses".to_string(),
        format!("/admin/licenses/{license}"),
        "/admin/audit".to_string(),
    ] {
        assert_eq!(
            page(&app, &sales, &path).await.0,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    for action in ["suspend", "reinstate", "revoke", "extend"] {
        let res = post(
            &app,
            &sales,
            &format!("/admin/licenses/{license}/{action}"),
            &[("csrf_token", &token), ("days", "30")],
        )
        .await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{action}");
    }
    let status: String = sqlx::query_scalar("SELECT status FROM licenses")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(status, "ACTIVE");
    // The admin-only links are not offered to sales.
    let html = page(&app, &sales, "/admin").await.1;
    assert!(!html.contains("href=\"/admin/audit\""));
}

#[tokio::test]
async fn admins_suspend_reinstate_extend_and_revoke_with_audit_and_emails() {
    let app = spawn_app().await;
    let (admin_id, admin) = app.admin("root@foxml.example").await;
    let license = issue_via_sales(&app, &admin, "cfo@enterprise.example").await;
    app.wait_for_emails(1).await;
    let token = csrf(&app, &admin).await;
    let act = |action: &'static str, extra: &'static [(&'static str, &'static str)]| {
        let (app, admin, token) = (&app, &admin, token.clone());
        async move {
            let mut form = vec![("csrf_token", token.as_str())];
            form.extend_from_slice(extra);
            post(
                app,
                admin,
                &format!("/admin/licenses/{license}/{action}"),
                &form,
            )
            .await
        }
    };
    let status = || async {
        sqlx::query_scalar::<_, String>("SELECT status FROM licenses")
            .fetch_one(&app.db)
            .await
            .unwrap()
    };

    let (code, html) = page(&app, &admin, "/admin/licenses").await;
    assert_eq!(code, StatusCode::OK);
    assert!(html.contains(&license.to_string()) && html.contains("cfo@enterprise.example"));
    assert!(html.contains(r#"<form method="get" action="/admin/licenses" class="filter-bar">"#));
    assert!(html.contains(r#"<label for="q">Email or company</label>"#));

    // Reinstating an active license makes no sense.
    assert_eq!(act("reinstate", &[]).await.status(), StatusCode::CONFLICT);
    let res = act("suspend", &[("reason", "Invoice 1043 unpaid")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(status().await, "SUSPENDED");
    let mails = app.wait_for_emails(2).await;
    assert!(
        mails
            .iter()
            .any(|m| m.contains("is suspended") && m.contains("Invoice 1043 unpaid"))
    );

    assert_eq!(act("reinstate", &[]).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(status().await, "ACTIVE");

    let before: time::OffsetDateTime = sqlx::query_scalar("SELECT expires_at FROM licenses")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(
        act("extend", &[("days", "0")]).await.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        act("extend", &[("days", "30")]).await.status(),
        StatusCode::SEE_OTHER
    );
    let after: time::OffsetDateTime = sqlx::query_scalar("SELECT expires_at FROM licenses")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!((after - before).whole_days(), 30);

    assert_eq!(act("revoke", &[]).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(status().await, "REVOKED");
    let mails = app.wait_for_emails(3).await;
    assert!(mails.iter().any(|m| m.contains("is revoked")));
    // Revocation is final.
    assert_eq!(act("reinstate", &[]).await.status(), StatusCode::CONFLICT);
    assert_eq!(
        act("extend", &[("days", "30")]).await.status(),
        StatusCode::CONFLICT
    );
    assert_eq!(act("frobnicate", &[]).await.status(), StatusCode::NOT_FOUND);

    assert_eq!(
        audit_actions(&app, admin_id).await,
        [
            "license.issue",
            "license.suspend",
            "license.reinstate",
            "license.extend",
            "license.revoke"
        ]
    );
    let (code, html) = page(&app, &admin, "/admin/audit").await;
    assert_eq!(code, StatusCode::OK);
    // Newest first.
    let revoke_at = html.find("license.revoke").unwrap();
    let issue_at = html.find("license.issue").unwrap();
    assert!(revoke_at < issue_at);
    assert!(html.contains("root@foxml.example") && html.contains("Invoice 1043 unpaid"));

    let html = page(&app, &admin, &format!("/admin/licenses/{license}"))
        .await
        .1;
    assert!(html.contains("REVOKED") && !html.contains("/suspend\""));
}

#[tokio::test]
async fn unknown_ids_in_admin_are_404() {
    let app = spawn_app().await;
    let (_, admin) = app.admin("root@foxml.example").await;
    let token = csrf(&app, &admin).await;
    let id = Uuid::now_v7();
    assert_eq!(
        page(&app, &admin, &format!("/admin/leads/{id}")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        page(&app, &admin, &format!("/admin/licenses/{id}")).await.0,
        StatusCode::NOT_FOUND
    );
    let res = post(
        &app,
        &admin,
        &format!("/admin/licenses/{id}/suspend"),
        &[("csrf_token", &token)],
    )
    .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = post(
        &app,
        &admin,
        &format!("/admin/leads/{id}/status"),
        &[("csrf_token", &token), ("status", "contacted")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

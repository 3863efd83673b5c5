//! The research pages of the dashboard without a browser: what they show, validation with
//! problems next to their paths, who may see what, CSRF on every form, and the admin's usage
//! table. (`browser.rs` walks the same pages in Chromium.)

use crate::helpers::{
    PASSWORD, TestApp, extract_value, panel_csv, quick_experiment, spawn_app, spawn_app_with,
};
use reqwest::StatusCode;
use serde_json::Value;

/// A signed-in browser-like client of a customer with an API token, and the token.
async fn signed_in(app: &TestApp, email: &str) -> (reqwest::Client, String) {
    let (token, _) = app.api_customer(email).await;
    let c = crate::helpers::client();
    assert_eq!(app.login_as(&c, email, PASSWORD).await.status(), 303);
    (c, token)
}

async fn page(app: &TestApp, c: &reqwest::Client, path: &str) -> (StatusCode, String) {
    let res = c.get(app.url(path)).send().await.unwrap();
    (res.status(), res.text().await.unwrap())
}

async fn finished_job(app: &TestApp, token: &str, dataset: &str) -> String {
    let res = app.submit(token, dataset, quick_experiment()).await;
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.wait_for_job(token, &id, &["succeeded"], 120).await;
    id
}

#[tokio::test]
async fn a_finished_jobs_page_shows_its_results_as_charts_with_tables() {
    let app = spawn_app().await;
    let (c, token) = signed_in(&app, "ada@analytical.example").await;
    let dataset = app.dataset(&token, panel_csv(30, 150, 1)).await;
    let first = finished_job(&app, &token, &dataset).await;
    let second = finished_job(&app, &token, &dataset).await;

    let (status, html) = page(&app, &c, &format!("/account/jobs/{second}")).await;
    assert_eq!(status, 200);
    for id in [
        "chart-ranking",
        "chart-folds",
        "chart-importance-0",
        "chart-models",
    ] {
        assert!(
            html.contains(&format!("<svg class=\"chart\" id=\"{id}\"")),
            "{id}"
        );
        assert!(
            html.contains(&format!("aria-labelledby=\"{id}-title {id}-desc\"")),
            "{id} is described"
        );
    }
    for heading in [
        "Target ranking",
        "Skill per fold",
        "Leakage findings",
        "Model metrics",
        "Reproducibility fingerprint",
    ] {
        assert!(html.contains(heading), "{heading}");
    }
    // The planted leaks are in the findings table with their evidence and action.
    assert!(html.contains("leak_copy") && html.contains("pearson = ") && html.contains("dropped"));
    assert!(html.contains("strict key"));
    assert!(html.contains(&format!("/api/v1/jobs/{second}/artifacts/manifest.json")));
    assert!(
        !html.contains("/static/job-live."),
        "no script on a finished job"
    );
    // The page's policy still forbids inline scripts.
    let res = c
        .get(app.url(&format!("/account/jobs/{second}")))
        .send()
        .await
        .unwrap();
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );

    // Compared with the first run: the engine's statuses per metric.
    let (status, html) = page(
        &app,
        &c,
        &format!("/account/jobs/{second}/compare?with={first}"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        html.contains("drift-table") && html.contains("STABLE"),
        "identical runs are stable"
    );

    // The run directory as one archive.
    let res = c
        .get(app.url(&format!("/account/jobs/{second}/archive")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/gzip");
    let bytes = res.bytes().await.unwrap();
    let mut names = Vec::new();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
    for e in archive.entries().unwrap() {
        names.push(e.unwrap().path().unwrap().display().to_string());
    }
    let short = |id: &str| id.replace('-', "")[24..].to_string();
    let prefix = format!("fox-job-{}/", short(&second));
    assert!(
        names.contains(&format!("{prefix}manifest.json")),
        "{names:?}"
    );
    assert!(
        names
            .iter()
            .any(|n| n.starts_with(&format!("{prefix}models/")))
    );

    // Lists: jobs with state and who submitted them; datasets with what used them.
    let (_, jobs) = page(&app, &c, "/account/jobs").await;
    assert!(
        jobs.contains(&short(&second))
            && jobs.contains("succeeded")
            && jobs.contains("ada@analytical.example")
    );
    let (_, datasets) = page(&app, &c, "/account/datasets").await;
    assert!(datasets.contains("panel.csv") && datasets.contains(&short(&first)));
}

#[tokio::test]
async fn the_new_job_page_validates_on_the_server_and_points_at_each_problem() {
    let app = spawn_app_with(|s| s.worker.embedded_slots = 0).await;
    let (c, token) = signed_in(&app, "ada@analytical.example").await;
    let dataset = app.dataset(&token, panel_csv(10, 60, 1)).await;
    let (status, html) = page(
        &app,
        &c,
        &format!("/account/jobs/new?dataset={dataset}&template=quick"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        html.contains("name: quick-demo") && html.contains("fwd_ret_15m"),
        "template and columns"
    );
    assert!(html.contains("Jobs this month"), "usage before submitting");
    let csrf = extract_value(&html, "csrf_token").unwrap();

    let yaml =
        "name: broken\ndata:\n  timestamp_col: ts\n  entity_col: symbol\ncv:\n  n_splits: lots\n";
    let res = c
        .post(app.url("/account/jobs/new"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("dataset_id", &dataset),
            ("yaml", yaml),
            ("action", "validate"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("<code>cv.n_splits</code>") && html.contains("(line 6)"),
        "{html}"
    );
    assert!(html.contains("n_splits: lots"), "the editor keeps the text");

    // Picked columns become the lists; a valid experiment validates, then submits.
    let good = "name: ok\ndata:\n  timestamp_col: ts\n  entity_col: symbol\ncv:\n  n_splits: 3\n";
    let form = [
        ("csrf_token", csrf.as_str()),
        ("dataset_id", dataset.as_str()),
        ("yaml", good),
        ("targets", "fwd_ret_15m"),
        ("targets", "y_up_15m"),
        ("features", "alpha_0"),
        ("features", "alpha_1"),
        ("action", "validate"),
    ];
    let res = c
        .post(app.url("/account/jobs/new"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("The experiment is valid")
    );
    let mut submit = form.to_vec();
    submit.pop();
    submit.push(("action", "submit"));
    let res = c
        .post(app.url("/account/jobs/new"))
        .form(&submit)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    let id = location.trim_start_matches("/account/jobs/");
    let job = app.job(&token, id).await;
    assert_eq!(job["state"], "queued");
    let stored: Value = sqlx::query_scalar("SELECT experiment FROM jobs WHERE id = $1::uuid")
        .bind(id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(
        stored["targets"]["list"],
        serde_json::json!(["fwd_ret_15m", "y_up_15m"])
    );
    assert_eq!(
        stored["features"]["list"],
        serde_json::json!(["alpha_0", "alpha_1"])
    );

    // A running or queued job's page is live: our script, and a refresh without it.
    let (_, html) = page(&app, &c, &location).await;
    assert!(html.contains("/static/job-live.") && html.contains("http-equiv=\"refresh\""));
}

#[tokio::test]
async fn another_customers_pages_are_404_and_staff_have_no_research_pages() {
    let app = spawn_app().await;
    let (ada, ada_token) = signed_in(&app, "ada@analytical.example").await;
    let (bob, _) = signed_in(&app, "bob@babbage.example").await;
    let dataset = app.dataset(&ada_token, panel_csv(30, 150, 1)).await;
    let job = finished_job(&app, &ada_token, &dataset).await;
    for path in [
        format!("/account/jobs/{job}"),
        format!("/account/jobs/{job}/compare?with={job}"),
        format!("/account/jobs/{job}/archive"),
        format!("/api/v1/jobs/{job}/artifacts/manifest.json"),
    ] {
        assert_eq!(page(&app, &bob, &path).await.0, 404, "{path}");
        assert_eq!(page(&app, &ada, &path).await.0, 200, "{path}");
    }
    let (_, html) = page(&app, &bob, "/account/datasets").await;
    let csrf = extract_value(&html, "csrf_token").unwrap();
    for path in [
        format!("/account/datasets/{dataset}/delete"),
        format!("/account/jobs/{job}/cancel"),
        format!("/account/jobs/{job}/retry"),
    ] {
        let res = bob
            .post(app.url(&path))
            .form(&[("csrf_token", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{path}");
    }
    let res = bob
        .post(app.url("/account/jobs/new"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("dataset_id", dataset.as_str()),
            ("yaml", "name: x\n"),
            ("action", "submit"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404, "someone else's dataset");
    assert_eq!(app.count("SELECT count(*) FROM jobs").await, 1);

    let (_, staff) = app.sales("sam@foxml.example").await;
    assert_eq!(page(&app, &staff, "/account/jobs").await.0, 403);
    // Staff see counts per customer in /admin, not contents.
    let (status, admin) = page(&app, &staff, "/admin").await;
    assert_eq!(status, 200);
    assert!(admin.contains("job-usage") && admin.contains("ada@analytical.example"));
}

#[tokio::test]
async fn every_research_form_needs_its_csrf_token() {
    let app = spawn_app_with(|s| s.worker.embedded_slots = 0).await;
    let (c, token) = signed_in(&app, "ada@analytical.example").await;
    let dataset = app.dataset(&token, panel_csv(10, 60, 1)).await;
    let res = app.submit(&token, &dataset, quick_experiment()).await;
    let job = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    for path in [
        format!("/account/datasets/{dataset}/delete"),
        format!("/account/jobs/{job}/cancel"),
        format!("/account/jobs/{job}/retry"),
        "/account/jobs/new".to_string(),
    ] {
        let res = c
            .post(app.url(&path))
            .form(&[("csrf_token", "forged")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{path}");
    }
    let form = reqwest::multipart::Form::new()
        .text("csrf_token", "forged")
        .part(
            "file",
            reqwest::multipart::Part::bytes(panel_csv(5, 20, 2)).file_name("p.csv"),
        );
    let res = c
        .post(app.url("/account/datasets"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(app.count("SELECT count(*) FROM datasets").await, 1);
    assert_eq!(
        app.job(&token, &job).await["state"],
        "queued",
        "nothing was cancelled"
    );

    // With the page's token the plain (script-less) upload form works.
    let (_, html) = page(&app, &c, "/account/datasets").await;
    let csrf = extract_value(&html, "csrf_token").unwrap();
    let form = reqwest::multipart::Form::new()
        .text("csrf_token", csrf)
        .part(
            "file",
            reqwest::multipart::Part::bytes(panel_csv(5, 20, 2)).file_name("p.csv"),
        );
    let res = c
        .post(app.url("/account/datasets"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["location"],
        "/account/datasets?notice=uploaded"
    );
    assert_eq!(app.count("SELECT count(*) FROM datasets").await, 2);
}

#[tokio::test]
async fn the_plain_upload_form_past_the_license_limit_says_so_and_keeps_nothing() {
    let app = spawn_app().await;
    let (c, _) = signed_in(&app, "ada@analytical.example").await;
    // 20 kB on this license.
    sqlx::query(
        "UPDATE licenses SET entitlements = jsonb_set(entitlements, '{max_dataset_gb}', '0.00002')",
    )
    .execute(&app.db)
    .await
    .unwrap();
    let (_, html) = page(&app, &c, "/account/datasets").await;
    assert!(
        html.contains("Up to 20 kB per dataset on your license."),
        "the limit is shown up front"
    );
    let csrf = extract_value(&html, "csrf_token").unwrap();
    let csv = panel_csv(30, 60, 2);
    assert!(csv.len() > 20_000);
    let form = reqwest::multipart::Form::new()
        .text("csrf_token", csrf)
        .part(
            "file",
            reqwest::multipart::Part::bytes(csv).file_name("big.csv"),
        );
    let res = c
        .post(app.url("/account/datasets"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("id=\"upload-error\""),
        "the page shows the error box"
    );
    assert!(html.contains("20 kB"), "the message names the limit");
    assert_eq!(app.count("SELECT count(*) FROM datasets").await, 0);
}

#[tokio::test]
async fn engine_builds_are_offered_with_their_sha256_to_active_license_holders_only() {
    let dir = std::env::temp_dir().join(format!("fox-downloads-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let build = b"\x7fELF pretend engine build".repeat(1000);
    std::fs::write(dir.join("fox-engine-0.1.0-linux-x86_64.tar.gz"), &build).unwrap();
    std::fs::write(
        dir.join("fox-engine-0.1.0-linux-x86_64.tar.gz.sha256"),
        "side file",
    )
    .unwrap();
    std::fs::write(dir.join(".partial"), "hidden").unwrap();
    let d = dir.display().to_string();
    let app = spawn_app_with(move |s| s.downloads.dir = d).await;
    let (c, _) = signed_in(&app, "ada@analytical.example").await;

    let (status, html) = page(&app, &c, "/account/downloads").await;
    assert_eq!(status, 200);
    let sum: String = {
        use sha2::Digest;
        sha2::Sha256::digest(&build)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    assert!(html.contains("fox-engine-0.1.0-linux-x86_64.tar.gz") && html.contains("Linux x86_64"));
    assert!(html.contains(&sum), "the SHA-256 is shown");
    assert!(
        !html.contains(".partial") && !html.contains("tar.gz.sha256<"),
        "only builds are listed"
    );
    assert!(
        html.contains("fox-engine license activate --key"),
        "install steps"
    );

    let res = c
        .get(app.url("/account/downloads/fox-engine-0.1.0-linux-x86_64.tar.gz"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-checksum-sha256"], sum.as_str());
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    assert_eq!(res.bytes().await.unwrap().as_ref(), &build[..]);

    // Only names of the listing: no hidden files, no paths out of the directory.
    for name in [
        ".partial",
        "..%2F..%2Fetc%2Fpasswd",
        "%2Fetc%2Fpasswd",
        "nope.tar.gz",
    ] {
        let res = c
            .get(app.url(&format!("/account/downloads/{name}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{name}");
    }
    // Signed out: to the login page; staff: no research pages.
    let anon = crate::helpers::client();
    let res = anon
        .get(app.url("/account/downloads"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    // A suspended license: no downloads, and the page says why.
    sqlx::query("UPDATE licenses SET status = 'SUSPENDED', status_reason = 'unpaid invoice'")
        .execute(&app.db)
        .await
        .unwrap();
    app.state.license_cache.clear();
    let (status, html) = page(&app, &c, "/account/downloads").await;
    assert_eq!(status, 403);
    assert!(html.contains("Downloads need an active license.") && html.contains("suspended"));
    assert!(!html.contains(&sum));
    let res = c
        .get(app.url("/account/downloads/fox-engine-0.1.0-linux-x86_64.tar.gz"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let _ = std::fs::remove_dir_all(dir);
}

//! The public website: every page, docs, 404s, headers, request ids, static assets.

use crate::helpers::*;

#[tokio::test]
async fn every_page_renders_its_key_content() {
    let app = spawn_app().await;
    let cases: &[(&str, &[&str])] = &[
        (
            "/",
            &[
                "Fox ML Infrastructure",
                "<svg",
                "Leakage scan",
                "Purged walk-forward",
                "/pricing",
                "/request-access",
                "/docs",
            ],
        ),
        (
            "/pricing",
            &[
                "Evaluation",
                "Researcher",
                "$490",
                "Desk",
                "$1,900",
                "Enterprise",
                "Contact Sales",
                "<table",
                "Concurrent jobs",
            ],
        ),
        (
            "/request-access",
            &[
                "name=\"csrf_token\"",
                "name=\"email\"",
                "name=\"team_size\"",
                "name=\"use_case\"",
                "name=\"website\"",
                "<label",
            ],
        ),
        (
            "/docs",
            &["Getting started", "Configuration reference", "Glossary"],
        ),
        ("/healthz", &["ok"]),
        ("/readyz", &["\"status\":\"ready\""]),
        (
            "/robots.txt",
            &[
                "Sitemap: http://127.0.0.1:8080/sitemap.xml",
                "Disallow: /api/",
            ],
        ),
        (
            "/sitemap.xml",
            &[
                "<urlset",
                "http://127.0.0.1:8080/pricing",
                "http://127.0.0.1:8080/docs/glossary",
            ],
        ),
    ];
    for (path, needles) in cases {
        let res = app.get(path).await;
        assert_eq!(res.status(), 200, "{path}");
        let body = res.text().await.unwrap();
        for n in *needles {
            assert!(body.contains(n), "{path} should contain {n:?}");
        }
    }
}

#[tokio::test]
async fn pricing_without_stripe_points_to_request_access() {
    let app = spawn_app().await;
    let body = app.get("/pricing").await.text().await.unwrap();
    assert!(
        body.contains("/request-access?tier=researcher"),
        "self-serve tiers lead to Request Access until checkout is on"
    );
    assert!(body.contains("/request-access?tier=enterprise"));
    assert!(
        !body.contains("/checkout/"),
        "no checkout links without Stripe"
    );
    assert!(
        body.contains("not available"),
        "the page says online checkout is unavailable"
    );
}

#[tokio::test]
async fn each_docs_page_has_title_toc_sidebar_and_neighbours() {
    let app = spawn_app().await;
    let lib = fox::site::docs::Library::load(std::path::Path::new("content/docs")).unwrap();
    assert!(lib.pages.len() >= 8, "all docs pages are present");
    for (i, doc) in lib.pages.iter().enumerate() {
        let res = app.get(&format!("/docs/{}", doc.slug)).await;
        assert_eq!(res.status(), 200, "{}", doc.slug);
        let body = res.text().await.unwrap();
        assert!(
            body.contains(&format!("<h1 id=\"doc-title\">{}</h1>", doc.title)),
            "{} has its title as the page heading",
            doc.slug
        );
        assert!(
            body.contains("aria-current=\"page\""),
            "{} sidebar marks the current page",
            doc.slug
        );
        if let Some(first) = doc.toc.first() {
            assert!(
                body.contains(&format!("href=\"#{}\"", first.id)),
                "{} has a table of contents",
                doc.slug
            );
        }
        if i + 1 < lib.pages.len() {
            assert!(
                body.contains(&format!(
                    "href=\"/docs/{}\" rel=\"next\"",
                    lib.pages[i + 1].slug
                )),
                "{} links next",
                doc.slug
            );
        }
    }
}

#[tokio::test]
async fn unknown_docs_and_traversal_give_the_site_404() {
    let app = spawn_app().await;
    for path in [
        "/docs/no-such-page",
        "/docs/..%2F..%2FCargo.toml",
        "/docs/%2e%2e",
        "/docs/../Cargo.toml",
        "/docs/getting-started/../../Cargo.toml",
        "/static/..%2FCargo.toml",
        "/static/..%2F..%2Fsrc%2Fmain.rs",
        "/nowhere",
    ] {
        let (status, body) = raw_get(&app.address, path).await;
        assert_eq!(status, 404, "{path}");
        assert!(
            body.to_ascii_lowercase()
                .contains("content-type: text/html"),
            "{path}"
        );
        assert!(
            body.contains("404") && body.contains("Fox ML Infrastructure"),
            "{path} renders the site's 404 page"
        );
        assert!(
            !body.contains("[package]") && !body.contains("fn main"),
            "{path} must not leak files"
        );
    }
}

#[tokio::test]
async fn security_headers_are_on_every_response() {
    let app = spawn_app().await;
    for path in [
        "/",
        "/pricing",
        "/docs/glossary",
        "/nowhere",
        "/healthz",
        "/static/site.css",
    ] {
        let res = app.get(path).await;
        let h = res.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'none'"),
            "{path}: {csp}"
        );
        assert!(!csp.contains("unsafe-inline"));
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(
            h["referrer-policy"], "strict-origin-when-cross-origin",
            "{path}"
        );
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert!(
            h.get("strict-transport-security").is_none(),
            "no HSTS outside production"
        );
    }
}

#[tokio::test]
async fn pages_have_no_inline_scripts_or_styles() {
    let app = spawn_app().await;
    for path in [
        "/",
        "/pricing",
        "/request-access",
        "/docs",
        "/docs/getting-started",
        "/nowhere",
    ] {
        let body = app.get(path).await.text().await.unwrap();
        assert!(!body.contains("<script"), "{path} has a script");
        assert!(
            !body.contains("style=\""),
            "{path} has an inline style (blocked by the CSP)"
        );
        assert!(
            !body.contains("<style"),
            "{path} has a style block (blocked by the CSP)"
        );
    }
}

#[tokio::test]
async fn request_ids_are_generated_or_echoed() {
    let app = spawn_app().await;
    let res = app.get("/healthz").await;
    let id = res.headers()["x-request-id"].to_str().unwrap().to_string();
    assert!(
        uuid::Uuid::parse_str(&id).is_ok(),
        "generated id is a UUID: {id}"
    );

    let res = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "trace-abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "trace-abc-123");

    let res = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "bad id\twith spaces")
        .send()
        .await
        .unwrap();
    assert_ne!(
        res.headers()["x-request-id"],
        "bad id\twith spaces",
        "unsafe ids are replaced"
    );
}

#[tokio::test]
async fn static_assets_are_fingerprinted_and_cached_long() {
    let app = spawn_app().await;
    let home = app.get("/").await.text().await.unwrap();
    let start = home.find("/static/site.").expect("stylesheet link");
    let href = &home[start..start + home[start..].find('"').unwrap()];
    assert!(
        href.ends_with(".css") && href.len() > "/static/site.css".len(),
        "{href}"
    );
    let res = app.get(href).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    let plain = app.get("/static/site.css").await;
    assert_eq!(plain.headers()["cache-control"], "public, max-age=300");
    let fav = app.get("/favicon.ico").await;
    assert_eq!(fav.status(), 308);
    assert!(
        fav.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/static/favicon.")
    );
}

#[tokio::test]
async fn responses_are_compressed_when_asked() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/pricing"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-encoding"], "gzip");
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let app = spawn_app().await;
    let big = "x".repeat(2 * 1024 * 1024);
    let res = app
        .client
        .post(app.url("/request-access"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    assert!(res.text().await.unwrap().contains("larger than we accept"));
}

#[tokio::test]
async fn readyz_reports_an_unreachable_database() {
    let app = spawn_app().await;
    app.db.close().await;
    let res = app.get("/readyz").await;
    assert_eq!(res.status(), 503);
    assert_eq!(
        app.get("/healthz").await.status(),
        200,
        "liveness does not depend on the database"
    );
}

#[tokio::test]
async fn a_panicking_handler_gives_the_site_500_page_and_the_server_lives_on() {
    use axum::routing::get;
    let app = spawn_app().await;
    let extra = axum::Router::new().route(
        "/boom",
        get(|| async {
            if true {
                panic!("handler bug");
            }
            "unreachable"
        }),
    );
    let router = fox::startup::router_with(app.state.clone(), extra);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
        .unwrap();
    });
    let res = app
        .client
        .get(format!("http://{addr}/boom"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 500);
    assert!(
        res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors")
    );
    let body = res.text().await.unwrap();
    assert!(
        body.contains("500") && body.contains("Fox ML Infrastructure"),
        "the site's 500 page"
    );
    assert!(
        !body.contains("handler bug"),
        "internal details never reach the response"
    );
    assert_eq!(
        app.client
            .get(format!("http://{addr}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn on_shutdown_readyz_turns_503_while_requests_are_still_served_then_in_flight_ones_finish() {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (app, server) = spawn_app_until(
        |s| {
            s.server.shutdown_drain_secs = 2;
            s.server.shutdown_grace_secs = 10;
        },
        async {
            let _ = stopped.await;
        },
    )
    .await;
    assert_eq!(app.get("/readyz").await.status(), 200);

    // Thirty sign-ins in flight (argon2 keeps each busy) as the shutdown begins.
    let token = {
        let html = app.get("/account/login").await.text().await.unwrap();
        extract_value(&html, "csrf_token").unwrap()
    };
    let mut in_flight = tokio::task::JoinSet::new();
    for i in 0..30 {
        let client = app.client.clone();
        let url = app.url("/account/login");
        let token = token.clone();
        in_flight.spawn(async move {
            client
                .post(url)
                .form(&[
                    ("csrf_token", token.as_str()),
                    ("email", &format!("user{i}@example.com")),
                    ("password", "not the password at all"),
                ])
                .send()
                .await
                .map(|r| r.status().as_u16())
        });
    }
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    stop.send(()).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    // Draining: not ready, but still serving, and asking clients to reconnect elsewhere.
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 503);
    let page = app.get("/pricing").await;
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["connection"], "close");

    let mut statuses = Vec::new();
    while let Some(r) = in_flight.join_next().await {
        statuses.push(r.unwrap().expect("no request was cut off"));
    }
    assert_eq!(statuses.len(), 30);
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 429),
        "{statuses:?}"
    );

    // After the drain delay the server stops on its own.
    tokio::time::timeout(std::time::Duration::from_secs(15), server)
        .await
        .expect("the server stopped")
        .unwrap()
        .unwrap();
    assert!(app.client.get(app.url("/healthz")).send().await.is_err());
}

/// A TCP forwarder to the local PostgreSQL that starts listening only after `delay`.
async fn late_postgres(delay: std::time::Duration) -> u16 {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        loop {
            let (mut inbound, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let mut pg = tokio::net::TcpStream::connect("127.0.0.1:5432")
                    .await
                    .unwrap();
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut pg).await;
            });
        }
    });
    port
}

#[tokio::test]
async fn start_up_waits_for_a_database_that_comes_up_late() {
    let port = late_postgres(std::time::Duration::from_millis(1500)).await;
    let app = spawn_app_with(|s| {
        s.database.port = port;
        s.database.connect_retry_secs = 30;
    })
    .await;
    assert_eq!(app.get("/readyz").await.status(), 200);
}

#[tokio::test]
async fn start_up_gives_up_after_the_retry_time_with_a_clear_error() {
    let port = late_postgres(std::time::Duration::from_secs(3600)).await;
    let settings = test_settings(|s| {
        s.database.port = port;
        s.database.connect_retry_secs = 1;
    });
    let err = fox::startup::Application::build(fox::config::LoadedConfig {
        settings,
        environment: fox::config::Environment::local(),
        sources: vec![],
    })
    .await
    .err()
    .expect("no database, no server");
    let msg = format!("{err:#}");
    assert!(
        msg.contains(&format!("cannot reach PostgreSQL at 127.0.0.1:{port}"))
            && msg.contains("connect_retry_secs"),
        "{msg}"
    );
}

#[tokio::test]
async fn api_errors_are_json_for_every_status() {
    let app = spawn_app().await;
    let big = "x".repeat(2 * 1024 * 1024);
    for (res, status, code) in [
        (
            app.client
                .post(app.url("/api/v1/licenses/validate"))
                .header("content-type", "application/json")
                .body(big)
                .send()
                .await
                .unwrap(),
            413,
            "payload_too_large",
        ),
        (
            app.get("/api/v1/licenses/validate").await,
            405,
            "method_not_allowed",
        ),
        (app.get("/api/v1/no-such-thing").await, 404, "not_found"),
        (
            app.client
                .post(app.url("/api/v1/licenses/validate"))
                .json(&serde_json::json!(["FOX1-abc.def"]))
                .send()
                .await
                .unwrap(),
            422,
            "invalid_request",
        ),
    ] {
        assert_eq!(res.status(), status);
        assert_eq!(
            res.headers()["content-type"],
            "application/json",
            "{status}"
        );
        let request_id = res.headers()["x-request-id"].to_str().unwrap().to_string();
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{body}");
        assert_eq!(body["error"]["request_id"], request_id, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    // The site keeps its HTML pages.
    let res = app.get("/no-such-page").await;
    assert!(res.text().await.unwrap().contains("<html"));
}

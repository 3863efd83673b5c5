//! `/mcp`, the MCP server for research assistants: a real MCP client session (the Python
//! `mcp` SDK in the test venv, over streamable HTTP) lists datasets, validates, submits (30
//! times at once with one idempotency key), follows and reads the TOON summary; another
//! account sees nothing; and the HTTP edge refuses what it must (no token, a browser session,
//! a made-up token, a foreign Host, a huge body).

use crate::clients::python;
use crate::helpers::{PASSWORD, panel_csv, quick_experiment, spawn_app};
use std::process::Command;

const INIT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;

fn mcp_post(c: &reqwest::Client, url: &str) -> reqwest::RequestBuilder {
    c.post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
}

#[tokio::test]
async fn an_mcp_client_session_lists_validates_submits_once_and_reads_the_toon_summary() {
    let py = python();
    let app = spawn_app().await;
    let (token, _) = app.api_customer("ada@analytical.example").await;
    let (other, _) = app.api_customer("grace@compiler.example").await;
    let dataset = app.dataset(&token, panel_csv(30, 150, 1)).await;
    let other_dataset = app.dataset(&other, panel_csv(20, 100, 2)).await;
    let mut cmd = Command::new(&py);
    cmd.arg("tests/api/support/mcp_session.py")
        .env("FOX_MCP_URL", app.url("/mcp"))
        .env("FOX_TOKEN", &token)
        .env("FOX_OTHER_TOKEN", &other)
        .env("FOX_DATASET", &dataset)
        .env("FOX_OTHER_DATASET", &other_dataset)
        .env("FOX_EXPERIMENT", quick_experiment().to_string());
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success() && text.contains("mcp: ok"), "{text}");
    // The 30 concurrent submissions made one job, of this account.
    assert_eq!(app.count("SELECT count(*) FROM jobs").await, 1);
    let job = text
        .lines()
        .find_map(|l| l.strip_prefix("submitted "))
        .unwrap();
    let j = app.job(&token, job.trim()).await;
    assert_eq!(j["state"], "succeeded", "{j}");
}

#[tokio::test]
async fn the_mcp_endpoint_refuses_callers_without_an_api_token_foreign_hosts_and_huge_bodies() {
    let app = spawn_app().await;
    let (token, _) = app.api_customer("ada@analytical.example").await;
    let url = app.url("/mcp");

    // No token: 401 in the API's error format, naming what to send.
    let res = mcp_post(&app.client, &url).body(INIT).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("API token")
    );

    // A made-up token.
    let res = mcp_post(&app.client, &url)
        .bearer_auth("fox_not_a_token")
        .body(INIT)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    // A signed-in browser session is not enough (no CSRF-able tool calls).
    let c = crate::helpers::client();
    assert_eq!(
        app.login_as(&c, "ada@analytical.example", PASSWORD)
            .await
            .status(),
        303
    );
    let res = mcp_post(&c, &url).body(INIT).send().await.unwrap();
    assert_eq!(res.status(), 401);

    // With the token the same request initializes.
    let res = mcp_post(&app.client, &url)
        .bearer_auth(&token)
        .body(INIT)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["result"]["serverInfo"]["name"], "fox-ml", "{body}");

    // A Host that is not this platform (DNS rebinding) is refused.
    let res = mcp_post(&app.client, &url)
        .bearer_auth(&token)
        .header("host", "attacker.example")
        .body(INIT)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error(), "{}", res.status());
    assert_ne!(res.status(), 404);

    // A body past the site's limit is refused before it is read whole.
    let huge = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"initialize","params":{{"pad":"{}"}}}}"#,
        "x".repeat(app.settings.server.body_limit_bytes as usize + 1)
    );
    let res = mcp_post(&app.client, &url)
        .bearer_auth(&token)
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
}

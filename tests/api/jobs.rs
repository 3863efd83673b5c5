//! The job API end to end: datasets (streamed uploads, limits, dedupe), jobs on the embedded
//! worker (validation, idempotency, events, artifacts, summaries, cancel, retry), who may see
//! what, and the license and tier limits at each boundary.

use crate::helpers::{TestApp, panel_csv, quick_experiment, spawn_app, spawn_app_with};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

async fn body(res: reqwest::Response) -> Value {
    res.json().await.unwrap()
}

/// Sets a key of the customer's license entitlements (e.g. a limit) straight in the database.
async fn entitle(app: &TestApp, license: uuid::Uuid, key: &str, value: Value) {
    sqlx::query(
        "UPDATE licenses SET entitlements = jsonb_set(entitlements, ARRAY[$2], $3) WHERE id = $1",
    )
    .bind(license)
    .bind(key)
    .bind(value)
    .execute(&app.db)
    .await
    .unwrap();
}

#[tokio::test]
async fn datasets_are_streamed_checked_deduplicated_and_private() {
    let app = spawn_app().await;
    let (token, _) = app.api_customer("ada@analytical.example").await;
    let (other, _) = app.api_customer("bob@babbage.example").await;
    let csv = panel_csv(20, 60, 1);

    let res = app.upload(&token, "panel.csv", csv.clone()).await;
    assert_eq!(res.status(), 201);
    let d = body(res).await;
    assert_eq!(d["name"], "panel.csv");
    assert_eq!(d["format"], "csv");
    assert_eq!(d["row_count"], 20 * 60);
    assert_eq!(d["size_bytes"], csv.len());
    assert_eq!(d["columns"][0], "ts");
    assert!(
        d["columns"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "fwd_ret_15m")
    );
    let id = d["id"].as_str().unwrap().to_string();

    // The same bytes again (as a browser form this time): the same dataset, 200.
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(csv.clone())
            .file_name("again.csv")
            .mime_str("text/csv")
            .unwrap(),
    );
    let res = app
        .api(Method::POST, "/api/v1/datasets", &token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(body(res).await["id"], id.as_str());
    assert_eq!(app.count("SELECT count(*) FROM datasets").await, 1);

    // Listed and shown for its owner; another account sees nothing of it.
    let list = body(
        app.api(Method::GET, "/api/v1/datasets", &token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(list["datasets"].as_array().unwrap().len(), 1);
    let list = body(
        app.api(Method::GET, "/api/v1/datasets", &other)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(list["datasets"].as_array().unwrap().is_empty());
    for (method, path) in [
        (Method::GET, format!("/api/v1/datasets/{id}")),
        (Method::DELETE, format!("/api/v1/datasets/{id}")),
    ] {
        let res = app.api(method, &path, &other).send().await.unwrap();
        assert_eq!(res.status(), 404, "{path}");
        assert_eq!(body(res).await["error"]["code"], "not_found");
    }

    // Not CSV: the engine's reader says where.
    let res = app
        .upload(&token, "bad.csv", b"ts,symbol,x\n1,A,1\n2,B\n".to_vec())
        .await;
    assert_eq!(res.status(), 422);
    let msg = body(res).await["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(msg.contains("bad.csv") && msg.contains("row 2"), "{msg}");
    // Neither CSV nor Parquet by type or name.
    let res = app
        .api(Method::POST, "/api/v1/datasets?name=notes.txt", &token)
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    // Nothing was left in the spool directory or the store by the refusals.
    let spool = std::fs::read_dir(&app.settings.storage.spool_dir).map_or(0, |d| d.count());
    assert_eq!(spool, 0, "spool files left behind");

    // Deleted by its owner; its bytes go with it.
    let res = app
        .api(Method::DELETE, &format!("/api/v1/datasets/{id}"), &token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(app.count("SELECT count(*) FROM datasets").await, 0);
    let stored = walk(std::path::Path::new(&app.settings.storage.local_dir));
    assert!(stored.is_empty(), "{stored:?}");
}

/// Every file below `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[tokio::test]
async fn uploads_past_the_license_limit_stop_at_once_and_leave_nothing() {
    let app = spawn_app().await;
    let (token, issued) = app.api_customer("ada@analytical.example").await;
    // 50 kB for this license.
    entitle(&app, issued.license_id, "max_dataset_gb", json!(0.00005)).await;
    let csv = panel_csv(40, 100, 2);
    assert!(csv.len() > 50_000);

    // Announced by Content-Length: refused before a byte is read.
    let res = app.upload(&token, "big.csv", csv.clone()).await;
    assert_eq!(res.status(), 413);
    let e = body(res).await;
    assert_eq!(e["error"]["code"], "dataset_too_large");
    assert_eq!(e["error"]["details"]["limit_bytes"], 50_000);
    assert!(e["error"]["message"].as_str().unwrap().contains("50 kB"));

    // Streamed without a length: refused once the limit is passed, mid-stream.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        csv.chunks(8192).map(|c| Ok(c.to_vec())).collect();
    let res = app
        .api(Method::POST, "/api/v1/datasets?name=big.csv", &token)
        .header("content-type", "text/csv")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await;
    // The server answers before the client has sent everything; a client may see the 413
    // or a closed connection, never a stored dataset.
    if let Ok(res) = res {
        assert_eq!(res.status(), 413);
    }
    assert_eq!(app.count("SELECT count(*) FROM datasets").await, 0);
    let spool = std::fs::read_dir(&app.settings.storage.spool_dir).map_or(0, |d| d.count());
    assert_eq!(spool, 0);
    assert!(walk(std::path::Path::new(&app.settings.storage.local_dir)).is_empty());

    // At the limit exactly it is taken; one byte more is not.
    let small = panel_csv(5, 20, 3);
    entitle(
        &app,
        issued.license_id,
        "max_dataset_gb",
        json!(small.len() as f64 / 1e9),
    )
    .await;
    let mut bigger = small.clone();
    bigger.push(b'\n');
    let res = app.upload(&token, "bigger.csv", bigger).await;
    assert_eq!(res.status(), 413);
    assert_eq!(
        body(res).await["error"]["details"]["limit_bytes"],
        small.len()
    );
    assert_eq!(app.upload(&token, "small.csv", small).await.status(), 201);
}

/// An upload that stays open: its body is fed through the returned sender.
fn open_upload(
    app: &TestApp,
    token: &str,
) -> (
    tokio::sync::mpsc::Sender<Result<Vec<u8>, std::io::Error>>,
    tokio::task::JoinHandle<reqwest::Result<reqwest::Response>>,
) {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let req = app
        .api(Method::POST, "/api/v1/datasets?name=slow.csv", token)
        .header("content-type", "text/csv")
        .body(reqwest::Body::wrap_stream(body));
    (tx, tokio::spawn(req.send()))
}

fn spooled(app: &TestApp) -> usize {
    std::fs::read_dir(&app.settings.storage.spool_dir).map_or(0, |d| d.count())
}

#[tokio::test]
async fn an_account_streams_at_most_its_limit_of_uploads_at_once() {
    let app = spawn_app().await;
    assert_eq!(app.settings.jobs.max_uploads_per_account, 2);
    let (token, _) = app.api_customer("ada@analytical.example").await;
    let (other, _) = app.api_customer("grace@compiler.example").await;
    let csv = panel_csv(5, 20, 3);

    // Two uploads in progress (their spool files exist), held open by their senders.
    let mut open = Vec::new();
    for _ in 0..2 {
        let (tx, res) = open_upload(&app, &token);
        tx.send(Ok(csv[..100].to_vec())).await.unwrap();
        open.push((tx, res));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while spooled(&app) < 2 {
        assert!(Instant::now() < deadline, "the two uploads never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // A third one of the same account: 429 with the limit in words, nothing stored.
    let res = app.upload(&token, "third.csv", csv.clone()).await;
    assert_eq!(res.status(), 429);
    let e = body(res).await;
    assert_eq!(e["error"]["code"], "rate_limited");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already has 2 uploads in progress"),
        "{e}"
    );
    // Another account is not held up by it.
    assert_eq!(
        app.upload(&other, "mine.csv", csv.clone()).await.status(),
        201
    );

    // One upload finishes (its body ends): the next one is taken.
    let (tx, res) = open.remove(0);
    tx.send(Ok(csv[100..].to_vec())).await.unwrap();
    drop(tx);
    assert_eq!(res.await.unwrap().unwrap().status(), 201);
    let third = app.upload(&token, "third.csv", panel_csv(6, 20, 4)).await;
    assert_eq!(third.status(), 201);

    // A client that gives up mid-upload gives its place back too.
    let (tx, res) = open.remove(0);
    res.abort();
    drop(tx);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (tx1, r1) = open_upload(&app, &token);
        let (tx2, r2) = open_upload(&app, &token);
        let b = panel_csv(7, 20, 5);
        tx1.send(Ok(b.clone())).await.unwrap();
        drop(tx1);
        tx2.send(Ok(panel_csv(8, 20, 6))).await.unwrap();
        drop(tx2);
        let (s1, s2) = (
            r1.await.unwrap().unwrap().status(),
            r2.await.unwrap().unwrap().status(),
        );
        if s1.is_success() && s2.is_success() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the abandoned upload kept its place: {s1} {s2}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(spooled(&app), 0, "no spool file is left behind");
}

#[tokio::test]
async fn a_job_runs_on_the_worker_and_its_events_artifacts_and_summary_are_served() {
    let app = spawn_app().await;
    let (token, _) = app.api_customer("ada@analytical.example").await;
    let dataset = app.dataset(&token, panel_csv(30, 150, 1)).await;

    let res = app.submit(&token, &dataset, quick_experiment()).await;
    assert_eq!(res.status(), 201);
    let job = body(res).await;
    assert_eq!(job["state"], "queued");
    let id = job["id"].as_str().unwrap().to_string();
    let done = app
        .wait_for_job(&token, &id, &["succeeded", "failed"], 120)
        .await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["attempt"], 1);
    assert!(done["started_at"].is_string() && done["finished_at"].is_string());
    assert_eq!(done["summary"]["ranking"][0]["target"].is_string(), true);
    assert_eq!(
        done["summary"]["run_dir"],
        format!("/api/v1/jobs/{id}/artifacts")
    );

    // Events: JSON form, in order, ending with the terminal state.
    let ev = body(
        app.api(
            Method::GET,
            &format!("/api/v1/jobs/{id}/events?format=json"),
            &token,
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(ev["terminal"], true);
    let events = ev["events"].as_array().unwrap();
    let states: Vec<&str> = events
        .iter()
        .filter(|e| e["kind"] == "state")
        .map(|e| e["data"]["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["queued", "running", "succeeded"]);
    assert!(events.iter().any(|e| e["kind"] == "stage"));
    assert!(events.iter().any(|e| e["kind"] == "log"));
    let ids: Vec<i64> = events.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]));

    // Server-Sent Events: replay after Last-Event-ID, ending after the terminal event.
    let middle = ids[ids.len() / 2];
    let sse = app
        .api(Method::GET, &format!("/api/v1/jobs/{id}/events"), &token)
        .header("last-event-id", middle.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(sse.status(), 200);
    assert!(
        sse.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let text = tokio::time::timeout(Duration::from_secs(10), sse.text())
        .await
        .expect("the stream ends after the terminal event")
        .unwrap();
    let sse_ids: Vec<i64> = text
        .lines()
        .filter_map(|l| l.strip_prefix("id:"))
        .map(|v| v.trim().parse().unwrap())
        .collect();
    assert_eq!(
        sse_ids,
        ids.iter()
            .copied()
            .filter(|i| *i > middle)
            .collect::<Vec<_>>()
    );
    assert!(text.contains("event: state") && text.contains("\"succeeded\""));

    // Artifacts: the run directory, each file with its size and SHA-256.
    let arts = body(
        app.api(Method::GET, &format!("/api/v1/jobs/{id}/artifacts"), &token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let arts = arts["artifacts"].as_array().unwrap();
    for f in [
        "manifest.json",
        "ranking.json",
        "leakage_report.json",
        "metrics.json",
        "summary.json",
    ] {
        assert!(arts.iter().any(|a| a["path"] == f), "{f} in {arts:?}");
    }
    assert!(
        arts.iter()
            .any(|a| a["path"].as_str().unwrap().starts_with("models/"))
    );
    let manifest = arts.iter().find(|a| a["path"] == "manifest.json").unwrap();
    let res = app
        .api(
            Method::GET,
            &format!("/api/v1/jobs/{id}/artifacts/manifest.json"),
            &token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let bytes = res.bytes().await.unwrap();
    assert_eq!(bytes.len() as i64, manifest["size"].as_i64().unwrap());
    use sha2::Digest;
    let sum: String = sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(sum, manifest["sha256"]);
    let model = arts
        .iter()
        .find(|a| a["path"].as_str().unwrap().starts_with("models/"))
        .unwrap();
    let res = app
        .api(
            Method::GET,
            &format!(
                "/api/v1/jobs/{id}/artifacts/{}",
                model["path"].as_str().unwrap()
            ),
            &token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "nested paths download");
    for bad in ["../../etc/passwd", "nope.json", "%2e%2e/manifest.json"] {
        let res = app
            .api(
                Method::GET,
                &format!("/api/v1/jobs/{id}/artifacts/{bad}"),
                &token,
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{bad}");
    }

    // The summary as JSON and as TOON.
    let json_summary = body(
        app.api(Method::GET, &format!("/api/v1/jobs/{id}/summary"), &token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(json_summary, done["summary"]);
    let res = app
        .api(Method::GET, &format!("/api/v1/jobs/{id}/summary"), &token)
        .header("accept", "application/toon")
        .send()
        .await
        .unwrap();
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/toon")
    );
    let toon = res.text().await.unwrap();
    assert!(
        toon.contains("ranking[") && toon.contains("name: quick"),
        "{toon}"
    );
    let same = app
        .api(
            Method::GET,
            &format!("/api/v1/jobs/{id}/summary?format=toon"),
            &token,
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(same, toon);

    // Retry: a new job with the same inputs.
    let res = app
        .api(Method::POST, &format!("/api/v1/jobs/{id}/retry"), &token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let again = body(res).await;
    assert_eq!(again["retry_of"], id.as_str());
    assert_eq!(again["dataset_id"], dataset.as_str());
    let again_id = again["id"].as_str().unwrap().to_string();
    app.wait_for_job(&token, &again_id, &["succeeded"], 120)
        .await;

    // Deleting a job deletes its artifacts.
    let res = app
        .api(Method::DELETE, &format!("/api/v1/jobs/{id}"), &token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let left = walk(
        &std::path::Path::new(&app.settings.storage.local_dir)
            .join("jobs")
            .join(&id),
    );
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM job_artifacts WHERE job_id = '{id}'"
        ))
        .await,
        0
    );
}

#[tokio::test]
async fn experiments_are_validated_with_every_problem_and_its_path() {
    let app = spawn_app().await;
    let (token, _) = app.api_customer("ada@analytical.example").await;
    let dataset = app.dataset(&token, panel_csv(10, 40, 1)).await;
    let mut bad = quick_experiment();
    bad["cv"]["n_splits"] = json!("three");
    bad["modles"] = json!({});
    let res = app.submit(&token, &dataset, bad).await;
    assert_eq!(res.status(), 422);
    let e = body(res).await;
    assert_eq!(e["error"]["code"], "invalid_request");
    let paths: Vec<&str> = e["error"]["details"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap())
        .collect();
    assert!(
        paths.contains(&"cv.n_splits") && paths.contains(&"modles"),
        "{e}"
    );

    // Columns the dataset does not have, named with the key to fix.
    let mut missing = quick_experiment();
    missing["targets"]["list"] = json!(["fwd_ret_15m", "no_such_target"]);
    let e = body(app.submit(&token, &dataset, missing).await).await;
    let p = &e["error"]["details"]["problems"][0];
    assert_eq!(p["path"], "targets.list");
    assert!(
        p["message"].as_str().unwrap().contains("no_such_target"),
        "{e}"
    );

    // YAML text is accepted as well as JSON.
    let yaml = "name: y\ndata:\n  timestamp_col: ts\n  entity_col: symbol\ncv:\n  n_splits: 3\nmodels:\n  gbdt:\n    n_trees: 5\n";
    let res = app
        .api(Method::POST, "/api/v1/jobs", &token)
        .json(&json!({"dataset_id": dataset, "experiment": yaml}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    // An unknown dataset (or another account's) is a 404.
    let res = app
        .submit(
            &token,
            &uuid::Uuid::now_v7().to_string(),
            quick_experiment(),
        )
        .await;
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn idempotency_keys_replay_and_conflict_even_when_raced() {
    let app = spawn_app_with(|s| s.worker.embedded_slots = 0).await;
    let (token, _) = app.api_customer("ada@analytical.example").await;
    let dataset = app.dataset(&token, panel_csv(10, 40, 1)).await;
    let send = |key: &'static str, exp: Value| {
        let app = &app;
        let token = token.clone();
        let dataset = dataset.clone();
        async move {
            app.api(Method::POST, "/api/v1/jobs", &token)
                .header("idempotency-key", key)
                .json(&json!({"dataset_id": dataset, "experiment": exp}))
                .send()
                .await
                .unwrap()
        }
    };
    let first = send("k-1", quick_experiment()).await;
    assert_eq!(first.status(), 201);
    let id = body(first).await["id"].clone();
    let replay = send("k-1", quick_experiment()).await;
    assert_eq!(replay.status(), 200);
    assert_eq!(body(replay).await["id"], id);
    let mut other = quick_experiment();
    other["seed"] = json!(8);
    let conflict = send("k-1", other).await;
    assert_eq!(conflict.status(), 409);
    assert_eq!(
        body(conflict).await["error"]["code"],
        "idempotency_conflict"
    );

    // Thirty at once with one new key: one job.
    let all =
        futures_util::future::join_all((0..30).map(|_| send("k-2", quick_experiment()))).await;
    let mut ids = std::collections::HashSet::new();
    for r in all {
        assert!(r.status() == 201 || r.status() == 200, "{}", r.status());
        ids.insert(body(r).await["id"].as_str().unwrap().to_string());
    }
    assert_eq!(ids.len(), 1);
    assert_eq!(app.count("SELECT count(*) FROM jobs").await, 2);
}

#[tokio::test]
async fn monthly_quota_is_exact_at_its_boundary_under_concurrency() {
    let app = spawn_app_with(|s| s.worker.embedded_slots = 0).await;
    let (token, issued) = app.api_customer("ada@analytical.example").await;
    entitle(&app, issued.license_id, "jobs_per_month", json!(5)).await;
    let dataset = app.dataset(&token, panel_csv(10, 40, 1)).await;
    let all = futures_util::future::join_all(
        (0..30).map(|_| app.submit(&token, &dataset, quick_experiment())),
    )
    .await;
    let mut created = 0;
    let mut refused = Vec::new();
    for r in all {
        match r.status().as_u16() {
            201 => created += 1,
            429 => refused.push(body(r).await),
            s => panic!("unexpected {s}"),
        }
    }
    assert_eq!(created, 5);
    assert_eq!(refused.len(), 25);
    let e = &refused[0]["error"];
    assert_eq!(e["code"], "quota_exceeded");
    assert_eq!(e["details"]["limit"], 5);
    let resets = e["details"]["resets_at"].as_str().unwrap();
    assert!(resets.ends_with("-01T00:00:00Z"), "{resets}");
    assert!(e["message"].as_str().unwrap().contains("starts again on"));
    // Usage tells the same.
    let usage = body(
        app.api(Method::GET, "/api/v1/usage", &token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(usage["jobs_this_month"], 5);
    assert_eq!(usage["limits"]["jobs_per_month"], 5);
    assert_eq!(usage["queued_jobs"], 5);
    assert_eq!(usage["month_resets_at"], resets);
}

#[tokio::test]
async fn concurrent_jobs_beyond_the_limit_wait_in_the_queue() {
    let app = spawn_app_with(|s| s.worker.embedded_slots = 3).await;
    let (token, issued) = app.api_customer("ada@analytical.example").await;
    entitle(&app, issued.license_id, "concurrent_jobs", json!(1)).await;
    let dataset = app.dataset(&token, panel_csv(30, 150, 1)).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let r = app.submit(&token, &dataset, quick_experiment()).await;
        assert_eq!(r.status(), 201, "extra jobs are queued, not refused");
        ids.push(body(r).await["id"].as_str().unwrap().to_string());
    }
    // Three free slots, but never more than one of this account's jobs running.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let running = app
            .count("SELECT count(*) FROM jobs WHERE state = 'running'")
            .await;
        assert!(running <= 1, "{running} running at once");
        if app
            .count("SELECT count(*) FROM jobs WHERE state = 'succeeded'")
            .await
            == 3
        {
            break;
        }
        assert!(Instant::now() < deadline, "jobs did not finish");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn cancelling_stops_a_queued_job_at_once_and_a_running_one_within_seconds() {
    let app = spawn_app().await;
    let (token, _) = app.api_customer("ada@analytical.example").await;
    // A panel and experiment that run for a while.
    let dataset = app.dataset(&token, panel_csv(60, 600, 4)).await;
    let mut slow = quick_experiment();
    slow["models"]["gbdt"]["n_trees"] = json!(400);
    slow["cv"]["n_splits"] = json!(5);
    slow["targets"]["top_n"] = json!(5);
    let running = body(app.submit(&token, &dataset, slow.clone()).await).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let queued = body(app.submit(&token, &dataset, slow).await).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.wait_for_job(&token, &running, &["running"], 60).await;
    // Wait for the engine process to exist.
    let pid = wait_for_child(&running).await;

    let res = app
        .api(
            Method::POST,
            &format!("/api/v1/jobs/{queued}/cancel"),
            &token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(body(res).await["state"], "cancelled");

    let asked = Instant::now();
    let res = app
        .api(
            Method::POST,
            &format!("/api/v1/jobs/{running}/cancel"),
            &token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(body(res).await["cancel_requested"], true);
    let j = app.wait_for_job(&token, &running, &["cancelled"], 10).await;
    assert!(j["finished_at"].is_string());
    while std::path::Path::new(&format!("/proc/{pid}")).exists() {
        assert!(
            asked.elapsed() < Duration::from_secs(5),
            "the engine process outlived the cancel"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Idempotent; a finished job cannot be cancelled.
    let again = app
        .api(
            Method::POST,
            &format!("/api/v1/jobs/{running}/cancel"),
            &token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(body(again).await["state"], "cancelled");
}

/// The pid of the `fox job-run` process of `job` (waits up to 30 s for it).
async fn wait_for_child(job: &str) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            let needle = format!("FOX_JOB_ID={job}");
            if env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes()) {
                return pid;
            }
        }
        assert!(Instant::now() < deadline, "no engine process for {job}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_engine_failure_fails_the_job_with_the_engines_words() {
    let app = spawn_app().await;
    let (token, _) = app.api_customer("ada@analytical.example").await;
    // A value the reader cannot parse, in row 3 of a feature column.
    let mut csv = String::from_utf8(panel_csv(12, 40, 5)).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    let mut fields: Vec<String> = lines[3].split(',').map(str::to_string).collect();
    fields[2] = "not-a-number".into();
    let broken = fields.join(",");
    csv = lines
        .iter()
        .enumerate()
        .map(|(i, l)| if i == 3 { broken.as_str() } else { l })
        .collect::<Vec<_>>()
        .join("\n");
    let dataset = app.dataset(&token, csv.into_bytes()).await;
    let id = body(app.submit(&token, &dataset, quick_experiment()).await).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let j = app
        .wait_for_job(&token, &id, &["failed", "succeeded"], 60)
        .await;
    assert_eq!(j["state"], "failed");
    let error = j["error"].as_str().unwrap();
    assert!(
        error.contains("panel.csv")
            && error.contains("column `alpha_0`")
            && error.contains("row 3"),
        "{error}"
    );
    assert_eq!(j["attempt"], 1, "engine failures are not retried");
}

#[tokio::test]
async fn jobs_need_an_active_license_and_say_why_not() {
    let app = spawn_app_with(|s| s.worker.embedded_slots = 0).await;
    let (token, issued) = app.api_customer("ada@analytical.example").await;
    let dataset = app.dataset(&token, panel_csv(10, 40, 1)).await;
    for (status, code, reason) in [
        ("SUSPENDED", "license_suspended", Some("payment disputed")),
        ("REVOKED", "license_revoked", None),
        ("EXPIRED", "license_expired", None),
    ] {
        sqlx::query("UPDATE licenses SET status = $2, status_reason = $3 WHERE id = $1")
            .bind(issued.license_id)
            .bind(status)
            .bind(reason)
            .execute(&app.db)
            .await
            .unwrap();
        let res = app.submit(&token, &dataset, quick_experiment()).await;
        assert_eq!(res.status(), 403, "{status}");
        let e = body(res).await;
        assert_eq!(e["error"]["code"], code);
        if let Some(r) = reason {
            assert!(e["error"]["message"].as_str().unwrap().contains(r));
        }
    }
    // A queued job whose license is suspended meanwhile fails when a worker reaches it.
    sqlx::query("UPDATE licenses SET status = 'ACTIVE', status_reason = NULL WHERE id = $1")
        .bind(issued.license_id)
        .execute(&app.db)
        .await
        .unwrap();
    let id = body(app.submit(&token, &dataset, quick_experiment()).await).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    sqlx::query("UPDATE licenses SET status = 'SUSPENDED', status_reason = 'refund' WHERE id = $1")
        .bind(issued.license_id)
        .execute(&app.db)
        .await
        .unwrap();
    let claimed = fox::jobs::queue::claim_next(&app.db, &app.settings, "test-worker")
        .await
        .unwrap();
    assert!(claimed.is_none());
    let j = app.job(&token, &id).await;
    assert_eq!(j["state"], "failed");
    assert!(
        j["error"].as_str().unwrap().contains("suspended: refund"),
        "{j}"
    );

    // Staff accounts have no jobs.
    let (_, staff) = app.sales("sam@foxml.example").await;
    let res = staff.get(app.url("/api/v1/jobs")).send().await.unwrap();
    assert_eq!(res.status(), 403);
}

#[tokio::test]
async fn callers_need_a_valid_token_or_a_session_with_its_csrf_token() {
    let app = spawn_app_with(|s| s.worker.embedded_slots = 0).await;
    let (token, issued) = app.api_customer("ada@analytical.example").await;
    let res = app
        .client
        .get(app.url("/api/v1/jobs"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    let res = app
        .api(Method::GET, "/api/v1/jobs", "fox_nope_nope")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    sqlx::query("UPDATE api_tokens SET revoked_at = now() WHERE user_id = $1")
        .bind(issued.user_id)
        .execute(&app.db)
        .await
        .unwrap();
    let res = app
        .api(Method::GET, "/api/v1/jobs", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "a revoked token");

    // The browser session works too; changes need the page's CSRF token in a header.
    let browser = crate::helpers::client();
    assert_eq!(
        app.login_as(&browser, "ada@analytical.example", crate::helpers::PASSWORD)
            .await
            .status(),
        303
    );
    assert_eq!(
        browser
            .get(app.url("/api/v1/jobs"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let csv = panel_csv(10, 40, 1);
    let res = browser
        .post(app.url("/api/v1/datasets?name=p.csv"))
        .header("content-type", "text/csv")
        .body(csv.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "no CSRF header");
    let html = browser
        .get(app.url("/account"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = crate::helpers::extract_value(&html, "csrf_token").unwrap();
    let res = browser
        .post(app.url("/api/v1/datasets?name=p.csv"))
        .header("content-type", "text/csv")
        .header("x-csrf-token", csrf)
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
}

#[tokio::test]
async fn another_accounts_job_is_a_404_on_every_route() {
    let app = spawn_app_with(|s| s.worker.embedded_slots = 0).await;
    let (ada, _) = app.api_customer("ada@analytical.example").await;
    let (bob, _) = app.api_customer("bob@babbage.example").await;
    let dataset = app.dataset(&ada, panel_csv(10, 40, 1)).await;
    let id = body(app.submit(&ada, &dataset, quick_experiment()).await).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    for (m, p) in [
        (Method::GET, format!("/api/v1/jobs/{id}")),
        (Method::DELETE, format!("/api/v1/jobs/{id}")),
        (Method::POST, format!("/api/v1/jobs/{id}/cancel")),
        (Method::POST, format!("/api/v1/jobs/{id}/retry")),
        (Method::GET, format!("/api/v1/jobs/{id}/events")),
        (Method::GET, format!("/api/v1/jobs/{id}/artifacts")),
        (
            Method::GET,
            format!("/api/v1/jobs/{id}/artifacts/manifest.json"),
        ),
        (Method::GET, format!("/api/v1/jobs/{id}/summary")),
    ] {
        let res = app.api(m.clone(), &p, &bob).send().await.unwrap();
        assert_eq!(res.status(), 404, "{m} {p}");
    }
    // Bob cannot use Ada's dataset either.
    assert_eq!(
        app.submit(&bob, &dataset, quick_experiment())
            .await
            .status(),
        404
    );
    let list = body(
        app.api(Method::GET, "/api/v1/jobs", &bob)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(list["jobs"].as_array().unwrap().is_empty());
    // A dataset in use by a queued job cannot be deleted.
    let res = app
        .api(Method::DELETE, &format!("/api/v1/datasets/{dataset}"), &ada)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409);
    assert_eq!(body(res).await["error"]["code"], "dataset_in_use");
}

#[tokio::test]
async fn job_lists_page_with_a_cursor_and_filter_by_state() {
    let app = spawn_app_with(|s| s.worker.embedded_slots = 0).await;
    let (token, _) = app.api_customer("ada@analytical.example").await;
    let dataset = app.dataset(&token, panel_csv(10, 40, 1)).await;
    let mut made = Vec::new();
    for _ in 0..5 {
        made.push(body(app.submit(&token, &dataset, quick_experiment()).await).await["id"].clone());
    }
    let cancel = made[0].as_str().unwrap();
    app.api(
        Method::POST,
        &format!("/api/v1/jobs/{cancel}/cancel"),
        &token,
    )
    .send()
    .await
    .unwrap();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/jobs?limit=2&cursor={c}"),
            None => "/api/v1/jobs?limit=2".into(),
        };
        let page = body(app.api(Method::GET, &path, &token).send().await.unwrap()).await;
        seen.extend(
            page["jobs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|j| j["id"].clone()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    made.reverse();
    assert_eq!(seen, made, "newest first, each once");
    let cancelled = body(
        app.api(Method::GET, "/api/v1/jobs?state=cancelled", &token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(cancelled["jobs"].as_array().unwrap().len(), 1);
    let bad = app
        .api(Method::GET, "/api/v1/jobs?state=done", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
}

#[tokio::test]
async fn the_openapi_document_is_served_and_matches_the_committed_copy() {
    let app = spawn_app_with(|s| s.worker.embedded_slots = 0).await;
    let served: Value = body(app.get("/api/v1/openapi.json").await).await;
    assert!(served["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/api/v1/datasets",
        "/api/v1/jobs",
        "/api/v1/jobs/{id}/events",
        "/api/v1/jobs/{id}/artifacts/{path}",
        "/api/v1/licenses/validate",
        "/api/v1/usage",
    ] {
        assert!(served["paths"].get(path).is_some(), "{path}");
    }
    let doc = fox::routes::api::openapi::api_routes().openapi;
    let text = fox::routes::api::openapi::document_text(&doc);
    let committed =
        std::fs::read_to_string(fox::routes::api::openapi::COMMITTED).unwrap_or_default();
    assert!(
        committed == text,
        "content/openapi.json is stale: regenerate it with `cargo run -q -- api openapi > content/openapi.json`"
    );
    assert_eq!(serde_json::from_str::<Value>(&committed).unwrap(), served);
    // The docs' API reference is generated from the same document.
    let page = fox::routes::api::reference::markdown(&served);
    let committed_page =
        std::fs::read_to_string("content/docs/api-reference.md").unwrap_or_default();
    assert!(
        committed_page == page,
        "content/docs/api-reference.md is stale: regenerate it with `cargo run -q -- api reference > content/docs/api-reference.md`"
    );
    let html = app.get("/docs/api-reference").await.text().await.unwrap();
    assert!(html.contains("/api/v1/jobs/{id}/events") && html.contains("JobView"));
}

#[tokio::test]
async fn accounts_take_turns_on_a_busy_worker() {
    let app = spawn_app_with(|s| s.worker.embedded_slots = 0).await;
    let (ada, _) = app.api_customer("ada@analytical.example").await;
    let (bob, _) = app.api_customer("bob@babbage.example").await;
    let ada_data = app.dataset(&ada, panel_csv(10, 40, 1)).await;
    let bob_data = app.dataset(&bob, panel_csv(10, 40, 2)).await;
    let mut ada_jobs = Vec::new();
    for _ in 0..4 {
        ada_jobs
            .push(body(app.submit(&ada, &ada_data, quick_experiment()).await).await["id"].clone());
    }
    let bob_job = body(app.submit(&bob, &bob_data, quick_experiment()).await).await["id"].clone();
    // One slot: claim, finish, claim… Bob's single job, submitted last, runs second.
    let mut order = Vec::new();
    while let Some(job) = fox::jobs::queue::claim_next(&app.db, &app.settings, "w")
        .await
        .unwrap()
    {
        order.push(Value::String(job.id.to_string()));
        let mut conn = app.db.acquire().await.unwrap();
        let f = fox::db::jobs::Finish {
            state: fox::domain::JobState::Cancelled,
            error: None,
            summary: None,
            artifacts_expire_at: None,
        };
        assert!(
            fox::db::jobs::finish(&mut conn, job.id, job.attempt, &f)
                .await
                .unwrap()
        );
    }
    assert_eq!(order.len(), 5);
    assert_eq!(order[0], ada_jobs[0]);
    assert_eq!(order[1], bob_job, "{order:?}");
    assert_eq!(&order[2..], &ada_jobs[1..]);
}

#[tokio::test]
async fn artifacts_expire_after_the_retention_and_the_record_stays() {
    let app = spawn_app().await;
    let (token, _) = app.api_customer("ada@analytical.example").await;
    let dataset = app.dataset(&token, panel_csv(30, 150, 1)).await;
    let id = body(app.submit(&token, &dataset, quick_experiment()).await).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let done = app.wait_for_job(&token, &id, &["succeeded"], 120).await;
    assert!(done["artifacts_expire_at"].is_string());
    let jobs_dir = std::path::Path::new(&app.settings.storage.local_dir)
        .join("jobs")
        .join(&id);
    assert!(!walk(&jobs_dir).is_empty());
    sqlx::query(
        "UPDATE jobs SET artifacts_expire_at = now() - interval '1 second' WHERE id = $1::uuid",
    )
    .bind(&id)
    .execute(&app.db)
    .await
    .unwrap();
    let n = fox::jobs::queue::expire_artifacts(&app.db, &app.state.store)
        .await
        .unwrap();
    assert_eq!(n, 1);
    assert!(walk(&jobs_dir).is_empty(), "the run directory is gone");
    let j = app.job(&token, &id).await;
    assert_eq!(j["state"], "succeeded");
    assert_eq!(j["artifacts_deleted"], true);
    assert!(j["summary"].is_object(), "the summary stays");
    let arts = body(
        app.api(Method::GET, &format!("/api/v1/jobs/{id}/artifacts"), &token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(arts["artifacts"].as_array().unwrap().is_empty());
}

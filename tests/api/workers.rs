//! Workers as real processes: `fox worker` processes sharing the queue, a worker killed with
//! SIGKILL mid-job, a server restarted with jobs queued, and jobs on an S3-compatible store.

use crate::helpers::{
    TestApp, panel_csv, quick_experiment, spawn_app_until, spawn_app_with, test_settings,
};
use fox::config::Settings;
use reqwest::Method;
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `fox worker` process on the test app's database and store.
struct Worker {
    child: Child,
    log: std::path::PathBuf,
}

impl Worker {
    fn start(s: &Settings, slots: u32) -> Self {
        let log = std::env::temp_dir().join(format!("fox-worker-{}.log", uuid::Uuid::new_v4()));
        let mut c = Command::new(env!("CARGO_BIN_EXE_fox"));
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("FOX")) {
            c.env_remove(k);
        }
        c.env("FOX__DATABASE__NAME", &s.database.name)
            .env("FOX__STORAGE__LOCAL_DIR", &s.storage.local_dir)
            .env("FOX__STORAGE__SPOOL_DIR", &s.storage.spool_dir)
            .env("FOX__WORKER__WORK_DIR", &s.worker.work_dir)
            .env("FOX__WORKER__LEASE_SECS", s.worker.lease_secs.to_string())
            .env("FOX__WORKER__POLL_SECS", "1")
            .env("FOX__WORKER__THREADS_PER_JOB", "1")
            .env("FOX__LOG__FORMAT", "json")
            .env("FOX__SECURITY__LOCAL_KEYS_DIR", &s.security.local_keys_dir)
            .args(["worker", "--slots", &slots.to_string()])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        Self {
            child: c.spawn().unwrap(),
            log,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Jobs this worker started, from its log.
    fn started(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["msg"] == "job started")
            .map(|v| v["job_id"].as_str().unwrap_or("").to_string())
            .collect()
    }

    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "worker did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn submit(app: &TestApp, token: &str, dataset: &str, exp: Value) -> String {
    let res = app.submit(token, dataset, exp).await;
    assert_eq!(res.status(), 201);
    res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn running_events(app: &TestApp, job: &str) -> i64 {
    app.count(&format!(
        "SELECT count(*) FROM job_events WHERE job_id = '{job}' AND kind = 'state' AND data->>'state' = 'running'"
    ))
    .await
}

#[tokio::test]
async fn two_worker_processes_run_twenty_jobs_each_exactly_once() {
    let app = spawn_app_with(|s| s.worker.embedded_slots = 0).await;
    let (token, issued) = app.api_customer("ada@analytical.example").await;
    sqlx::query("UPDATE licenses SET entitlements = entitlements || '{\"concurrent_jobs\": 4}' WHERE id = $1")
        .bind(issued.license_id)
        .execute(&app.db)
        .await
        .unwrap();
    let dataset = app.dataset(&token, panel_csv(12, 120, 1)).await;
    let mut exp = quick_experiment();
    exp["models"]["gbdt"]["n_trees"] = json!(3);
    let mut jobs = Vec::new();
    for _ in 0..20 {
        jobs.push(submit(&app, &token, &dataset, exp.clone()).await);
    }
    let w1 = Worker::start(&app.settings, 1);
    let w2 = Worker::start(&app.settings, 1);
    for j in &jobs {
        let done = app
            .wait_for_job(&token, j, &["succeeded", "failed"], 240)
            .await;
        assert_eq!(done["state"], "succeeded", "{done}");
        assert_eq!(done["attempt"], 1);
        assert_eq!(running_events(&app, j).await, 1, "{j} ran once");
    }
    let (a, b) = (w1.started(), w2.started());
    assert!(
        !a.is_empty() && !b.is_empty(),
        "both workers ran jobs: {} and {}",
        a.len(),
        b.len()
    );
    let mut all: Vec<String> = a.into_iter().chain(b).collect();
    all.sort();
    let mut expected = jobs.clone();
    expected.sort();
    assert_eq!(
        all, expected,
        "every job started exactly once across the workers"
    );
    w1.stop();
    w2.stop();
}

#[tokio::test]
async fn a_killed_workers_job_is_rerun_by_the_other_and_the_old_attempt_cannot_write() {
    let app = spawn_app_with(|s| {
        s.worker.embedded_slots = 0;
        s.worker.lease_secs = 3;
    })
    .await;
    let (token, _) = app.api_customer("ada@analytical.example").await;
    let dataset = app.dataset(&token, panel_csv(40, 300, 2)).await;
    let mut exp = quick_experiment();
    exp["models"]["gbdt"]["n_trees"] = json!(60);
    let w1 = Worker::start(&app.settings, 1);
    let job = submit(&app, &token, &dataset, exp).await;
    app.wait_for_job(&token, &job, &["running"], 60).await;
    assert_eq!(w1.started(), [job.clone()]);

    // SIGKILL: no goodbye, no release; its engine process dies with it.
    let mut w1 = w1;
    w1.child.kill().unwrap();
    w1.child.wait().unwrap();
    let w2 = Worker::start(&app.settings, 1);
    let done = app
        .wait_for_job(&token, &job, &["succeeded", "failed"], 240)
        .await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["attempt"], 2, "re-run as a second attempt");
    assert_eq!(w2.started(), [job.clone()]);
    assert_eq!(running_events(&app, &job).await, 2);

    // The first attempt's token is stale: nothing it writes lands.
    let id: uuid::Uuid = job.parse().unwrap();
    let mut conn = app.db.acquire().await.unwrap();
    assert_eq!(
        fox::db::jobs::heartbeat(&mut conn, id, 1, 30.0)
            .await
            .unwrap(),
        None
    );
    let stale = fox::db::jobs::finish(
        &mut conn,
        id,
        1,
        &fox::db::jobs::Finish {
            state: fox::domain::JobState::Failed,
            error: Some("stale"),
            summary: None,
            artifacts_expire_at: None,
        },
    )
    .await
    .unwrap();
    assert!(!stale);
    assert!(
        !fox::db::jobs::set_progress(&mut conn, id, 1, "x", 1, 1)
            .await
            .unwrap()
    );
    assert!(
        !fox::db::jobs::put_artifacts(&mut conn, id, 1, &[])
            .await
            .unwrap()
    );
    assert_eq!(app.job(&token, &job).await["state"], "succeeded");
    w2.stop();
}

#[tokio::test]
async fn jobs_queued_across_a_server_restart_are_not_lost() {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (first, server) = spawn_app_until(
        |s| {
            s.worker.embedded_slots = 0;
            s.server.shutdown_drain_secs = 0;
        },
        async {
            let _ = stopped.await;
        },
    )
    .await;
    let (token, _) = first.api_customer("ada@analytical.example").await;
    let dataset = first.dataset(&token, panel_csv(12, 120, 1)).await;
    let mut jobs = Vec::new();
    for _ in 0..3 {
        jobs.push(submit(&first, &token, &dataset, quick_experiment()).await);
    }
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    first.db.close().await;

    // The same database and store, a new server with its worker.
    let s = first.settings.clone();
    let second = spawn_app_with(move |n| {
        n.database.name = s.database.name.clone();
        n.storage = s.storage.clone();
        n.security.local_keys_dir = s.security.local_keys_dir.clone();
    })
    .await;
    for j in &jobs {
        let done = second
            .wait_for_job(&token, j, &["succeeded", "failed"], 120)
            .await;
        assert_eq!(done["state"], "succeeded");
    }
}

#[tokio::test]
async fn datasets_and_artifacts_live_in_an_s3_compatible_store() {
    let endpoint = std::env::var("FOX_TEST_S3_ENDPOINT").expect(
        "FOX_TEST_S3_ENDPOINT must name a local S3-compatible server; ./scripts/test.sh starts one (moto)",
    );
    let bucket = format!("fox-test-{}", uuid::Uuid::new_v4().simple());
    // moto creates buckets for unsigned requests.
    let created = reqwest::Client::new()
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await
        .unwrap();
    assert!(
        created.status().is_success(),
        "creating the bucket: {}",
        created.status()
    );
    let base = test_settings(|_| {});
    let ep = endpoint.clone();
    let b = bucket.clone();
    let app = spawn_app_with(move |s| {
        s.storage.backend = fox::config::StorageBackend::S3;
        s.storage.s3.bucket = b;
        s.storage.s3.region = "us-east-1".into();
        s.storage.s3.endpoint = Some(ep);
        s.storage.s3.allow_http = true;
        s.storage.s3.prefix = "fox".into();
        s.storage.s3.access_key_id = Some(fox::config::Secret::new("testing"));
        s.storage.s3.secret_access_key = Some(fox::config::Secret::new("testing"));
        s.storage.local_dir = base.storage.local_dir.clone();
    })
    .await;
    let (token, _) = app.api_customer("ada@analytical.example").await;
    let csv = panel_csv(30, 150, 1);
    let dataset = app.dataset(&token, csv.clone()).await;
    let job = submit(&app, &token, &dataset, quick_experiment()).await;
    let done = app
        .wait_for_job(&token, &job, &["succeeded", "failed"], 120)
        .await;
    assert_eq!(done["state"], "succeeded", "{done}");

    // The objects are in the bucket, under the prefix, not on the local disk.
    let listing = reqwest::Client::new()
        .get(format!("{endpoint}/{bucket}?list-type=2&prefix=fox/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(listing.contains("fox/datasets/"), "{listing}");
    assert!(
        listing.contains(&format!("fox/jobs/{job}/manifest.json")),
        "{listing}"
    );
    assert!(
        !std::path::Path::new(&app.settings.storage.local_dir)
            .join("datasets")
            .exists()
    );
    // Downloads stream back from the bucket, byte for byte.
    let arts: Value = app
        .api(
            Method::GET,
            &format!("/api/v1/jobs/{job}/artifacts"),
            &token,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let manifest = arts["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["path"] == "manifest.json")
        .unwrap()
        .clone();
    let res = app
        .api(
            Method::GET,
            &format!("/api/v1/jobs/{job}/artifacts/manifest.json"),
            &token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    use sha2::Digest;
    let sum: String = sha2::Sha256::digest(res.bytes().await.unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(sum, manifest["sha256"]);
    // Deleting the job removes its objects.
    app.api(Method::DELETE, &format!("/api/v1/jobs/{job}"), &token)
        .send()
        .await
        .unwrap();
    let listing = reqwest::Client::new()
        .get(format!("{endpoint}/{bucket}?list-type=2&prefix=fox/jobs/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!listing.contains(&job), "{listing}");
}

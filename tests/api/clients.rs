//! The Python client (`clients/python`, installed into the test venv by scripts/test.sh):
//! checked against the committed OpenAPI document, and run against this server.

use crate::helpers::{panel_csv, quick_experiment, spawn_app};
use std::path::PathBuf;
use std::process::Command;

/// The test venv's Python with `fox_ml` installed (scripts/test.sh installs it).
pub fn python() -> PathBuf {
    let py = std::env::var_os("FOX_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("var/test-venv/bin/python"));
    let ok = Command::new(&py)
        .args(["-c", "import fox_ml, httpx"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "{} cannot import fox_ml: run scripts/test.sh, which installs clients/python into its venv",
        py.display()
    );
    py
}

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn the_python_client_matches_the_committed_openapi_document_and_drift_fails() {
    let py = python();
    let (ok, out) = run(Command::new(&py)
        .arg("clients/python/tests/openapi_drift.py")
        .arg("content/openapi.json"));
    assert!(ok, "{out}");
    // A route renamed on the server (or a value changed) fails the check.
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("content/openapi.json").unwrap()).unwrap();
    let paths = doc["paths"].as_object_mut().unwrap();
    let cancel = paths.remove("/api/v1/jobs/{id}/cancel").unwrap();
    paths.insert("/api/v1/jobs/{id}/stop".into(), cancel);
    doc["components"]["schemas"]["JobState"]["enum"] = serde_json::json!(["Queued", "Succeeded"]);
    let drifted = std::env::temp_dir().join(format!("openapi-{}.json", uuid::Uuid::new_v4()));
    std::fs::write(&drifted, doc.to_string()).unwrap();
    let (ok, out) = run(Command::new(&py)
        .arg("clients/python/tests/openapi_drift.py")
        .arg(&drifted));
    assert!(!ok, "drift must fail the check");
    assert!(
        out.contains("cancel: POST /api/v1/jobs/{id}/cancel is not in the document"),
        "{out}"
    );
    assert!(out.contains("JobState has no 'succeeded'"), "{out}");
    let _ = std::fs::remove_file(drifted);
}

#[tokio::test]
async fn the_python_client_uploads_submits_streams_waits_and_downloads_against_the_server() {
    let py = python();
    let app = spawn_app().await;
    let (token, _) = app.api_customer("ada@analytical.example").await;
    let (other, _) = app.api_customer("grace@compiler.example").await;
    let dir = std::env::temp_dir().join(format!("fox-py-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("panel.csv"), panel_csv(30, 150, 1)).unwrap();
    std::fs::write(dir.join("experiment.json"), quick_experiment().to_string()).unwrap();
    let mut cmd = Command::new(&py);
    cmd.arg("clients/python/tests/e2e.py")
        .env("FOX_URL", &app.address)
        .env("FOX_TOKEN", &token)
        .env("FOX_OTHER_TOKEN", &other)
        .env("FOX_PANEL", dir.join("panel.csv"))
        .env("FOX_EXPERIMENT", dir.join("experiment.json"));
    let (ok, out) = tokio::task::spawn_blocking(move || run(&mut cmd))
        .await
        .unwrap();
    assert!(ok, "{out}");
    assert!(out.contains("python client: ok"), "{out}");
    let _ = std::fs::remove_dir_all(dir);
}

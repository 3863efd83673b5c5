//! The real binary: `fox db migrate` creates and migrates a missing database, `fox serve`
//! answers, and SIGTERM shuts it down cleanly.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn fox(db: &str, port: u16) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_fox"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("FOX")) {
        c.env_remove(k);
    }
    c.env("FOX__DATABASE__NAME", db)
        .env("FOX__SERVER__PORT", port.to_string())
        .env("FOX__LOG__FORMAT", "llm")
        .env(
            "FOX__EMAIL__FILE_DIR",
            std::env::temp_dir().join(format!("fox-mail-{db}")),
        );
    c
}

#[tokio::test]
async fn migrate_then_serve_then_stop_on_sigterm() {
    let db = format!("fox_test_{}", uuid::Uuid::new_v4().simple());
    let port = free_port();

    let out = fox(&db, port).args(["db", "migrate"]).output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    assert!(
        log.contains("msg=\"created database\"") && log.contains("msg=\"migrations applied\""),
        "{log}"
    );

    let mut child = fox(&db, port)
        .arg("serve")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/readyz");
    let started = Instant::now();
    loop {
        if let Ok(r) = reqwest::get(&url).await {
            assert_eq!(r.status(), 200);
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "server did not come up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "server did not stop after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "clean exit after SIGTERM: {status:?}");
    let mut log = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut log).unwrap();
    assert!(
        log.contains("msg=\"shutting down: draining in-flight requests\""),
        "{log}"
    );
    assert!(
        log.contains("route=/readyz status=200"),
        "the request was logged: {log}"
    );
}

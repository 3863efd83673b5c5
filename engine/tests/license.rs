//! The license gate of the `fox-engine` binary: `run` and `predict` refuse without a valid,
//! activated license, each with one sentence saying what is wrong and what to do; an offline
//! activation file lets an air-gapped machine run. (The online activation, seats and
//! revalidation are tested against the real platform in the platform's test suite, and every
//! branch with a fake clock in `fox-license`.)

mod common;

use common::License;
use fox_engine::synth::{SynthParams, generate, write_csv};
use std::process::Output;

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A small panel and an experiment on it, in the license's directory.
fn experiment(l: &License) -> std::path::PathBuf {
    let data = l.path("panel.csv");
    let panel = generate(&SynthParams {
        n_entities: 20,
        n_timestamps: 120,
        n_noise: 3,
        seed: 5,
        ..Default::default()
    });
    write_csv(&panel, &data, false).unwrap();
    let cfg = l.path("exp.yaml");
    std::fs::write(
        &cfg,
        format!(
            "name: gate\ndata:\n  path: {}\ntargets:\n  top_n: 1\nfeatures:\n  top_m: 3\ncv:\n  n_splits: 2\nmodels:\n  gbdt:\n    n_trees: 5\n  linear:\n    enabled: false\noutput:\n  dir: {}\n",
            data.display(),
            l.path("runs").display()
        ),
    )
    .unwrap();
    cfg
}

fn refused(o: &Output, words: &str) {
    assert_eq!(
        o.status.code(),
        Some(3),
        "exit code of a refusal; stderr: {}",
        stderr(o)
    );
    let err = stderr(o);
    assert!(err.contains(words), "{words:?} not in: {err}");
    assert_eq!(err.trim().lines().count(), 1, "one sentence: {err}");
}

#[test]
fn run_refuses_without_a_key_with_an_expired_or_tampered_key_or_another_platforms_key() {
    let l = License::new("refusals", serde_json::json!({}));
    let cfg = experiment(&l);
    let run = |f: &dyn Fn(&mut std::process::Command)| {
        let mut c = l.command();
        c.args(["--log-level", "warn", "run"]).arg(&cfg);
        f(&mut c);
        c.output().unwrap()
    };
    refused(
        &run(&|c| {
            c.env_remove("FOX_LICENSE_KEY");
        }),
        "No license key: pass --license-key",
    );

    let now = common::now();
    let expired = l.signer.issue(&fox_license::Claims {
        v: 1,
        lid: l.lid,
        tier: "researcher".into(),
        seats: 1,
        iat: now - 400 * 86_400,
        exp: now - 35 * 86_400,
        ent: serde_json::json!({}),
    });
    refused(
        &run(&|c| {
            c.env("FOX_LICENSE_KEY", &expired);
        }),
        "Your license expired on",
    );

    let tampered = l.key.replacen("FOX1-e", "FOX1-f", 1);
    assert_ne!(tampered, l.key);
    refused(
        &run(&|c| {
            c.arg("--license-key").arg(&tampered);
        }),
        "or was altered (its signature does not verify)",
    );
    let other = fox_license::SigningKey::generate().public_key().to_base64();
    refused(
        &run(&|c| {
            c.env("FOX_LICENSE_PUBLIC_KEY", &other);
        }),
        "was not issued by http://127.0.0.1:9 or was altered",
    );
    // A valid key on a machine never activated, with the platform out of reach.
    refused(
        &run(&|_| {}),
        "not activated yet and http://127.0.0.1:9 could not be reached",
    );
    assert!(!l.path("runs").exists(), "nothing ran");
}

#[test]
fn an_offline_activation_file_runs_the_engine_and_the_dataset_limit_holds() {
    let l = License::new("offline", serde_json::json!({"max_dataset_gb": 0.00001}));
    let cfg = experiment(&l);
    // The machine's fingerprint, as a customer sends it to staff.
    let fp = l
        .command()
        .args(["license", "fingerprint"])
        .output()
        .unwrap();
    assert!(fp.status.success());
    assert_eq!(
        String::from_utf8_lossy(&fp.stdout).trim(),
        fox_license::machine::fingerprint()
    );
    // The file from the platform, installed.
    let token = l.activate_offline();
    std::fs::remove_file(l.path("activation")).unwrap();
    std::fs::write(l.path("fox-activation.txt"), format!("{token}\n")).unwrap();
    let o = l
        .command()
        .args(["license", "install"])
        .arg(l.path("fox-activation.txt"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let status = l.command().args(["license", "status"]).output().unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        text.contains("offline file") && text.contains(&l.lid.to_string()),
        "{text}"
    );

    // 10 kB allowed; the panel is larger.
    let o = l
        .command()
        .args(["--log-level", "warn", "run"])
        .arg(&cfg)
        .output()
        .unwrap();
    refused(&o, "allows datasets up to 0.00001 GB");

    // A license without that limit runs, offline, with the platform out of reach.
    let big = License::new("offline-big", serde_json::json!({"max_dataset_gb": 5}));
    big.activate_offline();
    let cfg = experiment(&big);
    let o = big
        .command()
        .args(["--log-level", "warn", "run"])
        .arg(&cfg)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(summary["name"], "gate");
    assert!(
        !summary["ranking"].as_array().unwrap().is_empty(),
        "targets ranked"
    );
    assert!(big.path("runs").exists());
}

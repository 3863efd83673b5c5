//! End-to-end runs of the pipeline on the synthetic generator: planted leaks are caught,
//! targets rank in their planted order, selection recovers the informative features, outputs
//! are byte-identical across thread counts, saved models predict, and baselines compare.

mod common;

use std::path::{Path, PathBuf};

use fox_engine::config::{ExperimentConfig, LeakPolicy};
use fox_engine::synth::{LEAK_FEATURES, SynthParams, generate, write_csv};
use fox_engine::{EngineError, report, run};

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("fox-e2e-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn setup(dir: &Path) -> ExperimentConfig {
    let panel = generate(&SynthParams {
        n_entities: 40,
        n_timestamps: 240,
        n_noise: 6,
        seed: 3,
        ..Default::default()
    });
    let data = dir.join("panel.csv");
    write_csv(&panel, &data, false).unwrap();
    let yaml = format!(
        "name: e2e\nseed: 5\ndata:\n  path: {}\ntargets:\n  top_n: 2\nfeatures:\n  top_m: 6\n  stability_k: 5\ncv:\n  n_splits: 3\n\
         models:\n  gbdt:\n    n_trees: 25\n    num_leaves: 7\n    min_data_in_leaf: 30\n    feature_fraction: 0.8\n    bagging_fraction: 0.8\noutput:\n  dir: {}\n",
        data.display(),
        dir.join("run").display()
    );
    ExperimentConfig::from_yaml_str(&yaml).unwrap()
}

#[test]
fn full_run_catches_leaks_ranks_targets_and_selects_informative_features() {
    let tmp = TempDir::new("full");
    let cfg = setup(&tmp.0);
    let summary = run::run(&cfg, None).unwrap();
    let run = tmp.0.join("run");
    for f in [
        "manifest.json",
        "config.resolved.json",
        "target_ranking.csv",
        "leakage_report.json",
        "metrics.json",
        "selected_features/fwd_ret_15m.txt",
    ] {
        assert!(run.join(f).is_file(), "{f} missing");
    }
    // Every planted leak is dropped; nothing else is.
    let leak: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("leakage_report.json")).unwrap()).unwrap();
    let dropped: Vec<&str> = leak["dropped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let mut expected = LEAK_FEATURES.to_vec();
    expected.sort();
    assert_eq!(dropped, expected);
    // Planted predictability order among regression targets.
    let order: Vec<&str> = summary.ranking.iter().map(|r| r.target.as_str()).collect();
    let pos = |t: &str| order.iter().position(|x| *x == t).unwrap();
    assert!(
        pos("fwd_ret_15m") < pos("fwd_ret_60m") && pos("fwd_ret_60m") < pos("target_noise_15m"),
        "{order:?}"
    );
    assert!(summary.ranking.iter().all(|r| !r.suspicious));
    // Selection recovers the informative features.
    let sel = std::fs::read_to_string(run.join("selected_features/fwd_ret_15m.txt")).unwrap();
    let top5: Vec<&str> = sel.lines().take(5).collect();
    assert!(top5.iter().all(|f| f.starts_with("alpha_")), "{top5:?}");
    // A saved model loads, verifies and predicts.
    let (model, meta) = fox_engine::models::io::load(&run.join("models/fwd_ret_15m/gbdt")).unwrap();
    assert_eq!(meta.features, model.features);
    let panel = generate(&SynthParams {
        n_entities: 40,
        n_timestamps: 240,
        n_noise: 6,
        seed: 3,
        ..Default::default()
    });
    let pred = model.predict_panel(&panel).unwrap();
    assert!(pred.iter().all(|p| p.is_finite()));
    // `fox-engine predict` on the data file gives the same scores, one line per row.
    let csv = tmp.0.join("pred.csv");
    // The binary needs a license: one of our own, activated offline on this machine.
    let license = common::License::new("pipeline", serde_json::json!({}));
    license.activate_offline();
    let status = license
        .command()
        .args(["--log-level", "warn", "predict"])
        .arg(run.join("models/fwd_ret_15m/gbdt"))
        .arg(&cfg.data.path)
        .arg("--out")
        .arg(&csv)
        .status()
        .unwrap();
    assert!(status.success());
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("ts,symbol,score"));
    let scores: Vec<f64> = lines
        .map(|l| l.rsplit(',').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(scores, pred);
    // Every saved model predicts through the library call; binary ones add a probability.
    for dir in std::fs::read_dir(run.join("models")).unwrap() {
        for fam in std::fs::read_dir(dir.unwrap().path()).unwrap() {
            let fam = fam.unwrap().path();
            let mut out = Vec::new();
            let rep = fox_engine::models::predict::predict_file(&fam, &cfg.data, &mut out).unwrap();
            assert_eq!(rep.rows, panel.n_rows(), "{}", fam.display());
            let text = String::from_utf8(out).unwrap();
            let header = text.lines().next().unwrap();
            let binary = rep.target.starts_with("y_");
            assert_eq!(
                header.ends_with(",probability"),
                binary,
                "{}: {header}",
                fam.display()
            );
            if binary {
                let probs_ok = text.lines().skip(1).all(|l| {
                    let p: f64 = l.rsplit(',').next().unwrap().parse().unwrap();
                    (0.0..=1.0).contains(&p)
                });
                assert!(probs_ok);
            }
        }
    }
    // A data file without one of the model's features is refused, naming the column.
    let (model_dir, missing) = (run.join("models/fwd_ret_15m/gbdt"), &model.features[0]);
    let trimmed = tmp.0.join("trimmed.csv");
    let full = std::fs::read_to_string(&cfg.data.path).unwrap();
    let col = full
        .lines()
        .next()
        .unwrap()
        .split(',')
        .position(|h| h == missing)
        .unwrap();
    let cut: String = full
        .lines()
        .map(|l| {
            let mut f: Vec<&str> = l.split(',').collect();
            f.remove(col);
            f.join(",") + "\n"
        })
        .collect();
    std::fs::write(&trimmed, cut).unwrap();
    let mut data = cfg.data.clone();
    data.path = trimmed;
    let err = fox_engine::models::predict::predict_file(&model_dir, &data, &mut Vec::new())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(missing.as_str()) && err.contains("model feature column is missing"),
        "{err}"
    );
    // The same run as a baseline: every metric is stable.
    let again = run::run(&cfg, Some(&run)).unwrap();
    assert!(!again.drift.is_empty());
    assert!(
        again
            .drift
            .iter()
            .all(|d| d.status == fox_engine::repro::DriftStatus::Stable),
        "{:?}",
        again.drift
    );
    // TOON and JSON renderings of the summary.
    let toon = report::render(&summary, fox_engine::config::SummaryFormat::Toon);
    assert!(
        toon.contains(
            "ranking[5]{rank,target,kind,skill,se,lo,hi,t,composite,auc,suspicious,eligible}:"
        ),
        "{toon}"
    );
}

#[test]
fn outputs_are_byte_identical_with_one_and_two_threads() {
    let tmp = TempDir::new("threads");
    let mut cfg = setup(&tmp.0);
    cfg.targets.top_n = 1;
    let run = tmp.0.join("run");
    let mut trees = Vec::new();
    for threads in [1, 2] {
        cfg.threads = threads;
        let _ = std::fs::remove_dir_all(&run);
        run::run(&cfg, None).unwrap();
        trees.push(report::read_tree(&run).unwrap());
    }
    assert_eq!(
        trees[0].keys().collect::<Vec<_>>(),
        trees[1].keys().collect::<Vec<_>>()
    );
    for (name, bytes) in &trees[0] {
        assert!(
            bytes == &trees[1][name],
            "{name} differs between 1 and 2 threads"
        );
    }
}

#[test]
fn strict_policy_fails_the_run_and_names_the_leaks() {
    let tmp = TempDir::new("strict");
    let mut cfg = setup(&tmp.0);
    cfg.leakage.policy = LeakPolicy::Strict;
    match run::run(&cfg, None) {
        Err(EngineError::Leakage(found)) => {
            for leak in LEAK_FEATURES {
                assert!(found.iter().any(|f| f == leak), "{leak} not in {found:?}");
            }
        }
        other => panic!("expected a leakage error, got {:?}", other.map(|s| s.name)),
    }
}

#[test]
fn warn_policy_keeps_leaks_and_flags_the_leaky_target_as_suspicious() {
    let tmp = TempDir::new("warn");
    let mut cfg = setup(&tmp.0);
    cfg.leakage.policy = LeakPolicy::Warn;
    cfg.output.save_models = false;
    let summary = run::run(&cfg, None).unwrap();
    let top = &summary.ranking[0];
    assert!(
        !top.suspicious,
        "a clean target must rank first: {:?}",
        summary.ranking
    );
    let leaky = summary
        .ranking
        .iter()
        .find(|r| r.target == "fwd_ret_15m")
        .unwrap();
    assert!(
        leaky.suspicious,
        "fwd_ret_15m sees leak_copy and must be flagged: {:?}",
        summary.ranking
    );
    let run = tmp.0.join("run");
    let leak: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("leakage_report.json")).unwrap()).unwrap();
    assert!(leak["dropped"].as_array().unwrap().is_empty());
    assert!(
        leak["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["action"] != "dropped")
    );
}

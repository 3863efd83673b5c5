//! The target ranking on the generator's planted predictability levels, at 100k and at 1M
//! rows: `fwd_ret_15m` > `y_up_15m` (binary, between two regression targets) > `fwd_ret_60m`
//! > `y_up_60m` > `target_noise_15m`. The planted order comes back, skill falls along it on
//! one scale for both kinds of target, every row carries its uncertainty, and no two targets
//! of different planted strength are reported as indistinct (the rows are printed, and
//! shown when an assertion fails).

use std::path::{Path, PathBuf};

use fox_engine::config::ExperimentConfig;
use fox_engine::run;
use fox_engine::synth::{SynthParams, generate, write_csv};
use serde_json::Value;

const PLANTED: [&str; 5] = [
    "fwd_ret_15m",
    "y_up_15m",
    "fwd_ret_60m",
    "y_up_60m",
    "target_noise_15m",
];

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The run's `ranking.json` targets, in rank order.
fn ranking(tag: &str, entities: usize, timestamps: usize) -> Vec<Row> {
    let dir =
        TempDir(std::env::temp_dir().join(format!("fox-planted-{tag}-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let panel = generate(&SynthParams {
        n_entities: entities,
        n_timestamps: timestamps,
        n_noise: 10,
        leaks: false,
        seed: 11,
        ..Default::default()
    });
    let data = dir.0.join("panel.csv");
    write_csv(&panel, &data, false).unwrap();
    drop(panel);
    let cfg = config(&data, &dir.0.join("run"));
    run::run(&cfg, None).unwrap();
    let file: Value =
        serde_json::from_slice(&std::fs::read(dir.0.join("run/ranking.json")).unwrap()).unwrap();
    file["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| Row {
            target: t["target"].as_str().unwrap().to_string(),
            skill: t["skill"].as_f64().unwrap(),
            skill_se: t["skill_se"].as_f64().unwrap(),
            skill_lo: t["skill_lo"].as_f64().unwrap(),
            skill_hi: t["skill_hi"].as_f64().unwrap(),
            suspicious: t["suspicious"].as_bool().unwrap(),
            indistinct_from: t["indistinct_from"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect(),
        })
        .collect()
}

#[derive(Debug)]
struct Row {
    target: String,
    skill: f64,
    skill_se: f64,
    skill_lo: f64,
    skill_hi: f64,
    suspicious: bool,
    indistinct_from: Vec<String>,
}

fn config(data: &Path, out: &Path) -> ExperimentConfig {
    let yaml = format!(
        "name: planted\nseed: 3\ndata:\n  path: {}\ntargets:\n  top_n: 1\nfeatures:\n  top_m: 5\n  stability_k: 3\n\
         cv:\n  n_splits: 3\nmodels:\n  gbdt:\n    n_trees: 30\n    num_leaves: 15\n    learning_rate: 0.1\noutput:\n  dir: {}\n",
        data.display(),
        out.display()
    );
    ExperimentConfig::from_yaml_str(&yaml).unwrap()
}

fn check(rows: &[Row], label: &str) {
    for r in rows {
        eprintln!("{label}: {r:?}");
    }
    let order: Vec<&str> = rows.iter().map(|r| r.target.as_str()).collect();
    assert_eq!(order, PLANTED, "{label}: planted order");
    for r in rows {
        assert!(
            r.skill_se > 0.0 && r.skill_lo < r.skill && r.skill < r.skill_hi,
            "{label}: {} has its interval ({} [{}, {}], se {})",
            r.target,
            r.skill,
            r.skill_lo,
            r.skill_hi,
            r.skill_se
        );
        assert!(!r.suspicious, "{label}: {} flagged", r.target);
    }
    for w in rows.windows(2) {
        assert!(
            w[0].skill > w[1].skill && w[0].skill_lo > w[1].skill_lo,
            "{label}: {} ({:.4}, lo {:.4}) vs {} ({:.4}, lo {:.4})",
            w[0].target,
            w[0].skill,
            w[0].skill_lo,
            w[1].target,
            w[1].skill,
            w[1].skill_lo
        );
    }
    // Every planted strength differs from every other: no pair is reported as a tie.
    for r in rows {
        assert!(
            r.indistinct_from.is_empty(),
            "{label}: {} reported as indistinct from {:?}",
            r.target,
            r.indistinct_from
        );
    }
    // Noise has no skill: its interval contains 0.
    let noise = rows.last().unwrap();
    assert!(
        noise.skill_lo < 0.0 && noise.skill_hi > 0.0,
        "{label}: noise [{}, {}]",
        noise.skill_lo,
        noise.skill_hi
    );
}

#[test]
fn the_planted_order_is_recovered_at_100k_rows() {
    let rows = ranking("100k", 200, 500);
    check(&rows, "100k");
}

#[test]
fn the_planted_order_is_recovered_at_1m_rows() {
    let rows = ranking("1m", 500, 2000);
    check(&rows, "1M");
}

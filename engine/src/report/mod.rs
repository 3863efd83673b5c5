//! The run directory: `manifest.json`, `config.resolved.json`, `target_ranking.csv`,
//! `ranking.json`, `leakage_report.json`, `selected_features/<target>.txt`, `selection.json`,
//! `metrics.json`, `cv_plans.json`, `summary.json`, `drift.json` (with a baseline) and
//! `models/`. Files are written atomically and contain nothing that depends on the clock or
//! the thread count (paths are the ones the config gave).

mod summary;

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

pub use summary::{RunSummary, render};

use crate::config::ExperimentConfig;
use crate::error::Result;
use crate::files::{sha256_hex, to_json, write_atomic};
use crate::pipeline::RunResult;
use crate::repro::Fingerprints;

/// What [`write_run`] needs.
pub struct RunOutputs<'a> {
    /// The resolved config.
    pub cfg: &'a ExperimentConfig,
    /// The run's results.
    pub result: &'a RunResult,
}

/// `manifest.json`.
#[derive(Debug, Serialize)]
struct Manifest<'a> {
    engine: &'static str,
    engine_version: &'static str,
    name: Option<&'a str>,
    seed: u64,
    data_path: String,
    data: &'a crate::data::LoadReport,
    fingerprints: &'a Fingerprints,
    targets_ranked: Vec<&'a str>,
    targets_trained: Vec<&'a str>,
    files: BTreeMap<String, String>,
}

fn opt(v: Option<f64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

/// `target_ranking.csv`, written with the csv crate so that any target name (commas, quotes)
/// stays one field.
fn ranking_csv(r: &RunResult) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let header = [
        "rank",
        "target",
        "kind",
        "horizon_secs",
        "skill",
        "skill_se",
        "skill_lo",
        "skill_hi",
        "skill_t",
        "n_timestamps",
        "composite",
        "auc",
        "auc_excess",
        "r2",
        "coverage",
        "eligible",
        "suspicious",
        "quarantined",
        "indistinct_from",
    ];
    w.write_record(header).expect("writing to memory");
    for t in &r.ranking {
        let kind = serde_json::to_value(t.kind).expect("serializable");
        w.write_record([
            t.rank.to_string(),
            t.target.clone(),
            kind.as_str().unwrap_or("").to_owned(),
            t.horizon_secs.to_string(),
            t.skill.to_string(),
            t.skill_se.to_string(),
            t.skill_lo.to_string(),
            t.skill_hi.to_string(),
            t.skill_t.to_string(),
            t.n_timestamps.to_string(),
            t.composite.to_string(),
            opt(t.auc),
            opt(t.auc_excess),
            opt(t.r2),
            t.coverage.to_string(),
            t.eligible.to_string(),
            t.suspicious.to_string(),
            t.quarantined.join(" "),
            t.indistinct_from.join(" "),
        ])
        .expect("writing to memory");
    }
    String::from_utf8(w.into_inner().expect("writing to memory")).expect("UTF-8 fields")
}

/// `ranking.json`: every ranked target with its per-fold skill, and the pairs that cannot be
/// told apart.
#[derive(Serialize)]
struct RankingFile<'a> {
    targets: &'a [crate::pipeline::ranking::TargetRank],
    indistinct: &'a [crate::pipeline::ranking::Indistinct],
}

/// Writes the run directory (models were already saved by training) and returns the summary.
pub fn write_run(out: &RunOutputs) -> Result<RunSummary> {
    let (cfg, r) = (out.cfg, out.result);
    let dir = &cfg.output.dir;
    let mut files: BTreeMap<String, String> = BTreeMap::new();
    let mut put = |name: &str, text: String| -> Result<()> {
        write_atomic(&dir.join(name), text.as_bytes())?;
        files.insert(name.to_owned(), sha256_hex(text.as_bytes()));
        Ok(())
    };
    put("config.resolved.json", to_json(&cfg.resolved()))?;
    put("target_ranking.csv", ranking_csv(r))?;
    put(
        "ranking.json",
        to_json(&RankingFile {
            targets: &r.ranking,
            indistinct: &r.indistinct,
        }),
    )?;
    put("leakage_report.json", to_json(&r.leakage))?;
    put("selection.json", to_json(&r.selections))?;
    for s in &r.selections {
        put(
            &format!("selected_features/{}.txt", s.target),
            s.selected.iter().map(|f| format!("{f}\n")).collect(),
        )?;
    }
    put("metrics.json", to_json(&r.metrics))?;
    put("cv_plans.json", to_json(&r.plans))?;
    if let Some(d) = &r.drift {
        put("drift.json", to_json(d))?;
    }
    let summary = RunSummary::new(cfg, r, dir);
    put("summary.json", to_json(&summary))?;
    for t in &r.trained {
        for family in t.scores.keys() {
            for name in ["model.json", "model_meta.json"] {
                let rel = format!("models/{}/{family}/{name}", t.target);
                if let Ok(bytes) = std::fs::read(dir.join(&rel)) {
                    files.insert(rel, sha256_hex(&bytes));
                }
            }
        }
    }
    let manifest = Manifest {
        engine: "fox-engine",
        engine_version: env!("CARGO_PKG_VERSION"),
        name: cfg.name.as_deref(),
        seed: cfg.seed,
        data_path: cfg.data.path.display().to_string(),
        data: &r.load,
        fingerprints: &r.fingerprints,
        targets_ranked: r.ranking.iter().map(|t| t.target.as_str()).collect(),
        targets_trained: r.trained.iter().map(|t| t.target.as_str()).collect(),
        files,
    };
    write_atomic(&dir.join("manifest.json"), to_json(&manifest).as_bytes())?;
    Ok(summary)
}

/// Lists every file under `dir` with its bytes (sorted by relative path), for comparisons.
pub fn read_tree(dir: &Path) -> Result<BTreeMap<String, Vec<u8>>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).map_err(|e| crate::error::EngineError::io(&d, e))? {
            let p = e.map_err(|e| crate::error::EngineError::io(&d, e))?.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p
                    .strip_prefix(dir)
                    .expect("under dir")
                    .to_string_lossy()
                    .into_owned();
                out.insert(
                    rel,
                    std::fs::read(&p).map_err(|e| crate::error::EngineError::io(&p, e))?,
                );
            }
        }
    }
    Ok(out)
}

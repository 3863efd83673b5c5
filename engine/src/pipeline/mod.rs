//! The research pipeline: load → leakage pre-scan → bin once → purged CV plans → target
//! ranking (with dominance quarantine) → feature selection → training and evaluation →
//! fingerprints. [`crate::run`] calls it inside a rayon pool of `threads` workers and writes
//! the reports; results do not depend on the thread count.

pub mod cv_eval;
pub mod progress;
pub mod ranking;
pub mod selection;
pub mod training;

use std::path::Path;
use std::time::Instant;

use rayon::prelude::*;

use crate::config::ExperimentConfig;
use crate::cv::{self, CvPlan};
use crate::data::{LoadReport, load_panel};
use crate::error::{EngineError, Result};
use crate::leakage::{LeakageReport, apply_policy, policy_name, scan::prescan};
use crate::models::binning::BinnedMatrix;
use crate::repro::{self, DriftRow, Fingerprints, RunMetrics};
use cv_eval::EvalInput;
use progress::Progress;
use ranking::{Indistinct, TargetRank};
use selection::Selection;
use training::TrainedTarget;

/// Everything a run produced, before it is written.
pub struct RunResult {
    /// Load and hygiene report.
    pub load: LoadReport,
    /// Ranked targets.
    pub ranking: Vec<TargetRank>,
    /// Pairs of ranked targets that cannot be told apart.
    pub indistinct: Vec<Indistinct>,
    /// Leakage findings and exclusions.
    pub leakage: LeakageReport,
    /// Feature selection per top target.
    pub selections: Vec<Selection>,
    /// Trained targets.
    pub trained: Vec<TrainedTarget>,
    /// Metrics by target and family.
    pub metrics: RunMetrics,
    /// Input fingerprints.
    pub fingerprints: Fingerprints,
    /// CV plans per target (name, plan).
    pub plans: Vec<(String, CvPlan)>,
    /// Comparison with the baseline run, if one was given.
    pub drift: Option<Vec<DriftRow>>,
}

pub(crate) fn stage<T>(
    progress: &dyn Progress,
    name: &str,
    total: u64,
    f: impl FnOnce() -> Result<T>,
) -> Result<T> {
    let t0 = Instant::now();
    tracing::info!(stage = name, "stage started");
    progress.stage(name, total);
    let out = f()?;
    if total == 1 {
        progress.tick();
    }
    tracing::info!(
        stage = name,
        elapsed_ms = t0.elapsed().as_millis() as u64,
        "stage finished"
    );
    Ok(out)
}

/// Runs the experiment without writing anything except the saved models (when enabled).
pub fn execute(
    cfg: &ExperimentConfig,
    baseline: Option<&Path>,
    progress: &dyn Progress,
) -> Result<RunResult> {
    let (panel, load) = stage(progress, "load data", 1, || load_panel(cfg))?;
    let data_sha = crate::files::sha256_file(&cfg.data.path)?;
    let mut findings = stage(progress, "leakage pre-scan", 1, || {
        Ok(prescan(&panel, &cfg.leakage))
    })?;
    let dropped = apply_policy(&mut findings, cfg.leakage.policy)?;
    let feats: Vec<usize> = (0..panel.features.len())
        .filter(|&i| !dropped.contains(&panel.features[i].name))
        .collect();
    if feats.is_empty() {
        return Err(EngineError::data(
            &cfg.data.path,
            None,
            None,
            "every feature was excluded by the leakage scan",
        ));
    }
    let bm = stage(progress, "bin features", 1, || {
        Ok(BinnedMatrix::build(
            &panel.features,
            cfg.models.gbdt.max_bins,
        ))
    })?;
    let plans: Vec<CvPlan> = panel
        .targets
        .iter()
        .map(|t| {
            cv::plan(&panel.ts, t.horizon_secs, panel.bar_secs, &cfg.cv)
                .map_err(|e| EngineError::Cv(format!("target `{}`: {e}", t.name)))
        })
        .collect::<Result<_>>()?;
    let inp = EvalInput {
        cfg,
        panel: &panel,
        bm: &bm,
        progress,
    };
    let ranking::Ranking {
        table: ranking,
        indistinct,
        evals,
        findings: mut dom,
    } = stage(progress, "rank targets", panel.targets.len() as u64, || {
        Ok(ranking::rank_targets(&inp, &feats, &plans))
    })?;
    apply_policy(&mut dom, cfg.leakage.policy)?;
    findings.extend(dom);
    let top: Vec<usize> = ranking
        .iter()
        .filter(|r| r.eligible && !r.suspicious)
        .take(cfg.targets.top_n)
        .map(|r| {
            panel
                .targets
                .iter()
                .position(|t| t.name == r.target)
                .expect("ranked target exists")
        })
        .collect();
    let selections: Vec<Selection> = stage(progress, "select features", top.len() as u64, || {
        Ok(top
            .par_iter()
            .map(|&t| selection::select(&inp, &evals[t], &plans[t]))
            .collect())
    })?;
    let models_dir = cfg
        .output
        .save_models
        .then(|| cfg.output.dir.join("models"));
    let trained: Vec<TrainedTarget> =
        stage(progress, "train and evaluate", top.len() as u64, || {
            top.par_iter()
                .zip(selections.par_iter())
                .map(|(&t, s)| {
                    training::train_target(
                        &inp,
                        t,
                        &s.selected_idx,
                        &plans[t],
                        models_dir.as_deref(),
                        &data_sha,
                    )
                })
                .collect::<Result<_>>()
        })?;
    let metrics: RunMetrics = trained
        .iter()
        .map(|t| (t.target.clone(), t.scores.clone()))
        .collect();
    let feature_names: Vec<&str> = feats
        .iter()
        .map(|&i| panel.features[i].name.as_str())
        .collect();
    let named_plans: Vec<(String, CvPlan)> = panel
        .targets
        .iter()
        .map(|t| t.name.clone())
        .zip(plans)
        .collect();
    let mut unseeded = cfg.resolved();
    unseeded["seed"] = serde_json::Value::Null;
    let mut fp = Fingerprints {
        data: data_sha,
        config: repro::fingerprint(&cfg.resolved()),
        features: repro::fingerprint(&feature_names),
        splits: repro::fingerprint(&named_plans),
        hyperparameters: repro::fingerprint(&cfg.models),
        strict_key: String::new(),
        replicate_key: String::new(),
    };
    fp.strict_key = repro::fingerprint(&[
        &fp.data,
        &fp.config,
        &fp.features,
        &fp.splits,
        &fp.hyperparameters,
    ]);
    fp.replicate_key = repro::fingerprint(&[
        &fp.data,
        &repro::fingerprint(&unseeded),
        &fp.features,
        &fp.splits,
        &fp.hyperparameters,
    ]);
    let drift = match baseline {
        Some(dir) => {
            let path = dir.join("metrics.json");
            let text = std::fs::read(&path).map_err(|e| EngineError::io(&path, e))?;
            let base: RunMetrics = serde_json::from_slice(&text).map_err(|e| {
                EngineError::data(&path, None, None, format!("not a metrics.json: {e}"))
            })?;
            Some(repro::compare(&base, &metrics))
        }
        None => None,
    };
    let leakage = LeakageReport {
        policy: policy_name(cfg.leakage.policy).into(),
        findings,
        dropped,
    };
    Ok(RunResult {
        load,
        ranking,
        indistinct,
        leakage,
        selections,
        trained,
        metrics,
        fingerprints: fp,
        plans: named_plans,
        drift,
    })
}

//! Reproducibility: SHA-256 fingerprints of the inputs of a run, and comparison of a run's
//! metrics with a baseline run by a sample-size-adjusted z-score.
//!
//! `z = |Δ| / √(var₁ + var₂)` with `var = se²` (the Newey–West standard error) for the
//! per-timestamp skill (rank IC) and `var = AUC(1 − AUC)/N` for pooled AUC; `z < 1` STABLE, `z < 2` DRIFTING,
//! else DIVERGED. Metrics without a variance (the composite) use fallback thresholds, all
//! expressed as fractions (never percents): STABLE when `|Δ| ≤ abs` or `|Δ|/|baseline| ≤ rel`,
//! DRIFTING up to twice those, else DIVERGED. Runs whose scored row counts differ by more than
//! 10 % are not in the same cohort and are marked INCOMPARABLE.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::files::sha256_hex;
use crate::metrics::Score;

/// Hex SHA-256 of the compact JSON of a value (struct order, sorted maps: canonical).
pub fn fingerprint(value: &impl Serialize) -> String {
    sha256_hex(&serde_json::to_vec(value).expect("serializable"))
}

/// Fingerprints of everything that determines a run's results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprints {
    /// The input data file.
    pub data: String,
    /// The resolved config.
    pub config: String,
    /// The candidate feature list after the leakage scan.
    pub features: String,
    /// The CV splits of every target.
    pub splits: String,
    /// The model hyperparameters.
    pub hyperparameters: String,
    /// Strict key: all of the above (the config includes the seed).
    pub strict_key: String,
    /// Replicate key: the same without the seed, to group runs across seeds.
    pub replicate_key: String,
}

/// Metrics of a run as written to `metrics.json`: target → family → score.
pub type RunMetrics = BTreeMap<String, BTreeMap<String, Score>>;

/// Drift status of one metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum DriftStatus {
    /// Within noise.
    Stable,
    /// Between 1 and 2 standard errors (or 1–2× the fallback thresholds).
    Drifting,
    /// Beyond.
    Diverged,
    /// Not in the same cohort (sample sizes differ by more than 10 %).
    Incomparable,
}

/// One compared metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftRow {
    /// Target.
    pub target: String,
    /// Model family.
    pub family: String,
    /// Metric name.
    pub metric: String,
    /// Baseline value.
    pub baseline: f64,
    /// Current value.
    pub current: f64,
    /// z-score, when variances are known.
    pub z: Option<f64>,
    /// Status.
    pub status: DriftStatus,
}

fn by_z(z: f64) -> DriftStatus {
    if z < 1.0 {
        DriftStatus::Stable
    } else if z < 2.0 {
        DriftStatus::Drifting
    } else {
        DriftStatus::Diverged
    }
}

/// Fallback classification with thresholds as fractions.
pub fn by_thresholds(base: f64, cur: f64, abs: f64, rel: f64) -> DriftStatus {
    let d = (cur - base).abs();
    let r = if base != 0.0 {
        d / base.abs()
    } else {
        f64::INFINITY
    };
    if d <= abs || r <= rel {
        DriftStatus::Stable
    } else if d <= 2.0 * abs || r <= 2.0 * rel {
        DriftStatus::Drifting
    } else {
        DriftStatus::Diverged
    }
}

fn z_row(target: &str, family: &str, metric: &str, b: (f64, f64), c: (f64, f64)) -> DriftRow {
    let var = b.1 + c.1;
    let z = if var > 0.0 {
        (c.0 - b.0).abs() / var.sqrt()
    } else if c.0 == b.0 {
        0.0
    } else {
        f64::INFINITY
    };
    DriftRow {
        target: target.into(),
        family: family.into(),
        metric: metric.into(),
        baseline: b.0,
        current: c.0,
        z: Some(z),
        status: by_z(z),
    }
}

/// Compares every (target, family) present in both runs.
pub fn compare(baseline: &RunMetrics, current: &RunMetrics) -> Vec<DriftRow> {
    let mut rows = Vec::new();
    for (t, fams) in current {
        for (f, c) in fams {
            let Some(b) = baseline.get(t).and_then(|m| m.get(f)) else {
                continue;
            };
            let ratio = b.n_rows.min(c.n_rows) as f64 / b.n_rows.max(c.n_rows).max(1) as f64;
            let mut these = Vec::new();
            let sv = |s: &Score| (s.skill.mean, s.skill.se * s.skill.se);
            these.push(z_row(t, f, "skill_mean", sv(b), sv(c)));
            if let (Some(ba), Some(ca)) = (b.auc, c.auc) {
                let v = |a: f64, n: usize| a * (1.0 - a) / n.max(1) as f64;
                these.push(z_row(
                    t,
                    f,
                    "auc",
                    (ba, v(ba, b.n_rows)),
                    (ca, v(ca, c.n_rows)),
                ));
            }
            these.push(DriftRow {
                target: t.clone(),
                family: f.clone(),
                metric: "composite".into(),
                baseline: b.composite,
                current: c.composite,
                z: None,
                status: by_thresholds(b.composite, c.composite, 0.02, 0.05),
            });
            if ratio < 0.9 {
                these
                    .iter_mut()
                    .for_each(|r| r.status = DriftStatus::Incomparable);
            }
            rows.extend(these);
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::SeriesStats;

    fn score(mean: f64, std: f64, n: usize, composite: f64) -> Score {
        Score {
            skill: SeriesStats {
                mean,
                std,
                n,
                se: std / (n as f64).sqrt(),
                ..Default::default()
            },
            n_rows: 1000,
            composite,
            ..Default::default()
        }
    }

    fn metrics(s: Score) -> RunMetrics {
        BTreeMap::from([("y".to_string(), BTreeMap::from([("gbdt".to_string(), s)]))])
    }

    #[test]
    fn z_score_classification() {
        let base = metrics(score(0.05, 0.1, 100, 0.6));
        let same = compare(&base, &metrics(score(0.05, 0.1, 100, 0.6)));
        assert!(same.iter().all(|r| r.status == DriftStatus::Stable));
        // se = 0.01 each → sqrt(2)·0.01 = 0.01414; Δ = 0.02 → z ≈ 1.41: drifting.
        let d = compare(&base, &metrics(score(0.07, 0.1, 100, 0.6)));
        assert_eq!(d[0].status, DriftStatus::Drifting);
        let d = compare(&base, &metrics(score(0.15, 0.1, 100, 0.9)));
        assert_eq!(
            (d[0].status, d[1].status),
            (DriftStatus::Diverged, DriftStatus::Diverged)
        );
    }

    #[test]
    fn thresholds_are_fractions() {
        // 0.60 → 0.62: Δ = 0.02 ≤ abs 0.02 → stable (a percent/fraction mix-up would say otherwise).
        assert_eq!(by_thresholds(0.60, 0.62, 0.02, 0.05), DriftStatus::Stable);
        assert_eq!(by_thresholds(0.60, 0.65, 0.02, 0.05), DriftStatus::Drifting);
        assert_eq!(by_thresholds(0.60, 0.80, 0.02, 0.05), DriftStatus::Diverged);
    }

    #[test]
    fn fingerprints_are_stable() {
        assert_eq!(fingerprint(&vec![1, 2]), fingerprint(&vec![1, 2]));
        assert_ne!(fingerprint(&vec![1, 2]), fingerprint(&vec![2, 1]));
    }
}

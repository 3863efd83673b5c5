//! Out-of-sample metrics: per-timestamp Spearman rank IC and Pearson IC (mean, std, t, IC-IR),
//! AUC, R², and the FoxML composite score `sigmoid(t/3) × quality`.
//!
//! Reductions are deterministic: per-timestamp values are computed in parallel into an
//! order-preserving `Vec`, then summed sequentially.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::{TargetKind, groups_of};

/// Average ranks (1-based), ties sharing their mean rank.
pub fn rank_average(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]).then(a.cmp(&b)));
    let mut ranks = vec![0.0; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        let r = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            ranks[k] = r;
        }
        i = j + 1;
    }
    ranks
}

/// Pearson correlation; `None` when either side is constant or fewer than 3 points.
pub fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len();
    if n < 3 || y.len() != n {
        return None;
    }
    let (mx, my) = (
        x.iter().sum::<f64>() / n as f64,
        y.iter().sum::<f64>() / n as f64,
    );
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (dx, dy) = (a - mx, b - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if sxx <= 0.0 || syy <= 0.0 {
        return None;
    }
    Some((sxy / (sxx * syy).sqrt()).clamp(-1.0, 1.0))
}

/// Spearman rank correlation.
pub fn spearman(x: &[f64], y: &[f64]) -> Option<f64> {
    pearson(&rank_average(x), &rank_average(y))
}

/// Area under the ROC curve (Mann–Whitney, ties counted half); `None` with one class only.
pub fn auc(scores: &[f64], labels: &[f64]) -> Option<f64> {
    let n1 = labels.iter().filter(|&&l| l > 0.5).count();
    let n0 = labels.len() - n1;
    if n1 == 0 || n0 == 0 {
        return None;
    }
    let ranks = rank_average(scores);
    let pos: f64 = ranks
        .iter()
        .zip(labels)
        .filter(|(_, l)| **l > 0.5)
        .map(|(r, _)| r)
        .sum();
    Some((pos - (n1 * (n1 + 1)) as f64 / 2.0) / (n1 as f64 * n0 as f64))
}

/// Coefficient of determination of `pred` for `y`.
pub fn r2(pred: &[f64], y: &[f64]) -> Option<f64> {
    if y.len() < 2 {
        return None;
    }
    let my = y.iter().sum::<f64>() / y.len() as f64;
    let sst: f64 = y.iter().map(|v| (v - my) * (v - my)).sum();
    let sse: f64 = pred.iter().zip(y).map(|(p, v)| (v - p) * (v - p)).sum();
    (sst > 0.0).then(|| 1.0 - sse / sst)
}

/// Mean, sample std, count and t-statistic of a series.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct SeriesStats {
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation.
    pub std: f64,
    /// Number of values.
    pub n: usize,
    /// `mean / max(std / √n, 1e-6)`, clamped to ±12.
    pub t: f64,
}

/// Summary statistics of a series (sequential, deterministic).
pub fn series_stats(v: &[f64]) -> SeriesStats {
    let n = v.len();
    if n == 0 {
        return SeriesStats::default();
    }
    let mean = v.iter().sum::<f64>() / n as f64;
    let var = if n > 1 {
        v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1) as f64
    } else {
        0.0
    };
    let std = var.sqrt();
    let se = (std / (n as f64).sqrt()).max(1e-6);
    SeriesStats {
        mean,
        std,
        n,
        t: (mean / se).clamp(-12.0, 12.0),
    }
}

/// The composite score of a per-timestamp skill series, per FoxML: `sigmoid(t/3) × coverage ×
/// sample penalty` (0.7 at 20 timestamps rising linearly to 1.0 at 30); fewer than 20
/// timestamps → not eligible (score 0).
pub fn composite(stats: &SeriesStats, coverage: f64) -> (f64, bool) {
    if stats.n < 20 {
        return (0.0, false);
    }
    let skill = 1.0 / (1.0 + (-stats.t / 3.0).exp());
    let penalty = 0.7 + 0.3 * ((stats.n as f64 - 20.0) / 10.0).clamp(0.0, 1.0);
    (skill * coverage.clamp(0.0, 1.0) * penalty, true)
}

/// Out-of-sample evaluation of one prediction vector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Score {
    /// Per-timestamp Spearman rank IC (regression) or per-timestamp AUC − 0.5 (binary).
    pub skill: SeriesStats,
    /// Mean per-timestamp Pearson IC (regression).
    pub ic: Option<f64>,
    /// Mean per-timestamp rank IC (regression).
    pub rank_ic: Option<f64>,
    /// Rank IC information ratio: mean / std.
    pub ic_ir: Option<f64>,
    /// Pooled R² (regression).
    pub r2: Option<f64>,
    /// Pooled AUC (binary).
    pub auc: Option<f64>,
    /// Rows scored.
    pub n_rows: usize,
    /// Fraction of rows with a finite prediction and label.
    pub coverage: f64,
    /// Composite score in [0, 1].
    pub composite: f64,
    /// At least 20 scored timestamps.
    pub eligible: bool,
}

impl Score {
    /// The headline number: rank IC (regression) or AUC − 0.5 (binary).
    pub fn primary(&self) -> f64 {
        self.rank_ic.or(self.auc.map(|a| a - 0.5)).unwrap_or(0.0)
    }
}

/// Scores predictions `pred` of labels `y` on rows with timestamps `ts` (sorted); rows where
/// either value is not finite are skipped.
pub fn score(kind: TargetKind, ts: &[i64], pred: &[f64], y: &[f32]) -> Score {
    let groups = groups_of(ts);
    let per: Vec<(Option<f64>, Option<f64>)> = groups
        .par_iter()
        .map(|g| {
            let (p, l): (Vec<f64>, Vec<f64>) = g
                .clone()
                .filter(|&i| pred[i].is_finite() && y[i].is_finite())
                .map(|i| (pred[i], y[i] as f64))
                .unzip();
            match kind {
                TargetKind::Regression => (spearman(&p, &l), pearson(&p, &l)),
                TargetKind::Binary => (auc(&p, &l).map(|a| a - 0.5), None),
            }
        })
        .collect();
    let skill_series: Vec<f64> = per.iter().filter_map(|p| p.0).collect();
    let skill = series_stats(&skill_series);
    let (p, l): (Vec<f64>, Vec<f64>) = (0..ts.len())
        .filter(|&i| pred[i].is_finite() && y[i].is_finite())
        .map(|i| (pred[i], y[i] as f64))
        .unzip();
    let coverage = if ts.is_empty() {
        0.0
    } else {
        p.len() as f64 / ts.len() as f64
    };
    let (composite, eligible) = composite(&skill, coverage);
    let mut s = Score {
        skill,
        n_rows: p.len(),
        coverage,
        composite,
        eligible,
        ..Default::default()
    };
    match kind {
        TargetKind::Regression => {
            let pe: Vec<f64> = per.iter().filter_map(|p| p.1).collect();
            s.ic = (!pe.is_empty()).then(|| series_stats(&pe).mean);
            s.rank_ic = (skill.n > 0).then_some(skill.mean);
            s.ic_ir = (skill.std > 0.0).then(|| skill.mean / skill.std);
            s.r2 = r2(&p, &l);
        }
        TargetKind::Binary => s.auc = auc(&p, &l),
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ranks_with_ties() {
        assert_eq!(
            rank_average(&[10.0, 20.0, 10.0, 30.0]),
            vec![1.5, 3.0, 1.5, 4.0]
        );
    }

    #[test]
    fn known_values() {
        let x = [1.0, 2.0, 3.0, 4.0];
        assert!((spearman(&x, &[1.0, 4.0, 9.0, 16.0]).unwrap() - 1.0).abs() < 1e-12);
        assert!((pearson(&x, &[4.0, 3.0, 2.0, 1.0]).unwrap() + 1.0).abs() < 1e-12);
        assert_eq!(
            auc(&[0.1, 0.4, 0.35, 0.8], &[0.0, 0.0, 1.0, 1.0]),
            Some(0.75)
        );
        assert_eq!(auc(&[0.1, 0.2], &[1.0, 1.0]), None);
        assert!((r2(&x, &x).unwrap() - 1.0).abs() < 1e-12);
        assert_eq!(pearson(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), None);
    }

    #[test]
    fn composite_follows_foxml() {
        let s = SeriesStats {
            mean: 0.05,
            std: 0.1,
            n: 100,
            t: 5.0,
        };
        let (c, ok) = composite(&s, 1.0);
        assert!(ok);
        assert!((c - 1.0 / (1.0 + (-5.0f64 / 3.0).exp())).abs() < 1e-12);
        let (c20, _) = composite(&SeriesStats { n: 20, ..s }, 1.0);
        assert!((c20 - 0.7 * c).abs() < 1e-12);
        assert_eq!(composite(&SeriesStats { n: 19, ..s }, 1.0), (0.0, false));
        assert_eq!(series_stats(&[1.0; 50]).t, 12.0);
    }

    #[test]
    fn score_per_timestamp() {
        let ts: Vec<i64> = (0..25).flat_map(|t| [t; 4]).collect();
        let y: Vec<f32> = (0..100).map(|i| ((i * 7) % 11) as f32).collect();
        let pred: Vec<f64> = y.iter().map(|v| *v as f64).collect();
        let s = score(TargetKind::Regression, &ts, &pred, &y);
        assert!((s.rank_ic.unwrap() - 1.0).abs() < 1e-9);
        assert!(s.eligible && (s.composite - 0.85 / (1.0 + (-4.0f64).exp())).abs() < 1e-9);
        let yb: Vec<f32> = (0..100).map(|i| (i % 2) as f32).collect();
        let pb: Vec<f64> = yb.iter().map(|v| *v as f64 * 0.5).collect();
        let s = score(TargetKind::Binary, &ts, &pb, &yb);
        assert_eq!(s.auc, Some(1.0));
    }

    proptest! {
        #[test]
        fn correlations_are_bounded_and_symmetric(v in proptest::collection::vec((-1e3f64..1e3, -1e3f64..1e3), 3..40)) {
            let (x, y): (Vec<f64>, Vec<f64>) = v.into_iter().unzip();
            if let Some(r) = spearman(&x, &y) {
                prop_assert!((-1.0..=1.0).contains(&r));
                prop_assert!((r - spearman(&y, &x).unwrap()).abs() < 1e-9);
            }
        }
    }
}

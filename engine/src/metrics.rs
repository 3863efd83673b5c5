//! Out-of-sample metrics: per-timestamp Spearman rank IC of the prediction against the label
//! (for regression and binary targets alike) with a Newey–West standard error and 95 %
//! interval, Pearson IC, IC-IR, AUC, R², paired differences of two targets' skill, and the
//! FoxML composite score `sigmoid(t/3) × quality` (reported, not ranked by).
//!
//! Reductions are deterministic: per-timestamp values are computed in parallel into an
//! order-preserving `Vec`, then summed sequentially.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::{TargetKind, groups_of};

/// Average ranks (1-based), ties sharing their mean rank.
pub fn rank_average(v: &[f64]) -> Vec<f64> {
    let mut ranks = Vec::new();
    rank_average_into(v, &mut Vec::new(), &mut ranks);
    ranks
}

/// [`rank_average`] into `ranks`, with `idx` as scratch space (no allocation once warm).
pub fn rank_average_into(v: &[f64], idx: &mut Vec<usize>, ranks: &mut Vec<f64>) {
    idx.clear();
    idx.extend(0..v.len());
    idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]).then(a.cmp(&b)));
    ranks.clear();
    ranks.resize(v.len(), 0.0);
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
    auc_from_ranks(&rank_average(scores), labels)
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

/// The z of a two-sided 95 % interval.
pub const Z95: f64 = 1.959_963_984_540_054;

/// Mean of a per-timestamp series with its uncertainty.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct SeriesStats {
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation.
    pub std: f64,
    /// Number of values.
    pub n: usize,
    /// Standard error of the mean, Newey–West (Bartlett weights, `lag` autocovariances):
    /// neighbouring timestamps share overlapping label windows, so the values are not
    /// independent and `std / √n` would understate it.
    #[serde(default)]
    pub se: f64,
    /// Autocovariance lags in `se`.
    #[serde(default)]
    pub lag: usize,
    /// `mean / se` (not clamped).
    pub t: f64,
    /// Lower end of the 95 % interval of the mean, `mean − 1.96 se`.
    #[serde(default)]
    pub lo: f64,
    /// Upper end of the 95 % interval of the mean, `mean + 1.96 se`.
    #[serde(default)]
    pub hi: f64,
}

/// Newey–West lag for a series of `n` timestamps whose labels span `horizon_bars` bars: at
/// least the overlap, and at least the usual automatic choice `⌊4 (n/100)^{2/9}⌋`; at most
/// `n / 2`.
pub fn hac_lag(n: usize, horizon_bars: usize) -> usize {
    let auto = (4.0 * (n as f64 / 100.0).powf(2.0 / 9.0)).floor() as usize;
    horizon_bars.max(auto).min(n / 2)
}

/// Summary statistics of a series (sequential, deterministic) with a Newey–West standard
/// error over `lag` autocovariances.
pub fn series_stats(v: &[f64], lag: usize) -> SeriesStats {
    let n = v.len();
    if n == 0 {
        return SeriesStats::default();
    }
    let mean = v.iter().sum::<f64>() / n as f64;
    let dev: Vec<f64> = v.iter().map(|x| x - mean).collect();
    let gamma = |k: usize| dev[k..].iter().zip(&dev).map(|(a, b)| a * b).sum::<f64>() / n as f64;
    let g0 = gamma(0);
    let var = if n > 1 {
        g0 * n as f64 / (n - 1) as f64
    } else {
        0.0
    };
    let lag = lag.min(n.saturating_sub(1));
    let mut long_run = g0;
    for k in 1..=lag {
        long_run += 2.0 * (1.0 - k as f64 / (lag + 1) as f64) * gamma(k);
    }
    // Bartlett weights keep the long-run variance ≥ 0 up to rounding; the small-sample
    // factor n/(n−1) matches the sample variance when there is no autocorrelation.
    let se = if n > 1 {
        (long_run.max(0.0) / (n - 1) as f64).sqrt()
    } else {
        0.0
    };
    SeriesStats {
        mean,
        std: var.sqrt(),
        n,
        se,
        lag,
        t: if se > 0.0 { mean / se } else { 0.0 },
        lo: mean - Z95 * se,
        hi: mean + Z95 * se,
    }
}

/// FoxML's t: `mean / max(std / √n, 1e-6)` clamped to ±12 (independent values assumed).
pub fn foxml_t(stats: &SeriesStats) -> f64 {
    if stats.n == 0 {
        return 0.0;
    }
    (stats.mean / (stats.std / (stats.n as f64).sqrt()).max(1e-6)).clamp(-12.0, 12.0)
}

/// The composite score of a per-timestamp skill series, per FoxML: `sigmoid(t/3) × coverage ×
/// sample penalty` with FoxML's t ([`foxml_t`]) and a penalty of 0.7 at 20 timestamps rising
/// linearly to 1.0 at 30; fewer than 20 timestamps → not eligible (score 0). Reported for
/// users who know it; it saturates once t reaches 12, so targets are not ranked by it.
pub fn composite(stats: &SeriesStats, coverage: f64) -> (f64, bool) {
    if stats.n < 20 {
        return (0.0, false);
    }
    let skill = 1.0 / (1.0 + (-foxml_t(stats) / 3.0).exp());
    let penalty = 0.7 + 0.3 * ((stats.n as f64 - 20.0) / 10.0).clamp(0.0, 1.0);
    (skill * coverage.clamp(0.0, 1.0) * penalty, true)
}

/// Out-of-sample evaluation of one prediction vector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Score {
    /// Per-timestamp Spearman rank IC of the prediction against the label, for every kind of
    /// target (0/1 labels for binary ones), so that all targets are on one scale.
    pub skill: SeriesStats,
    /// Mean per-timestamp Pearson IC (regression).
    pub ic: Option<f64>,
    /// Rank IC information ratio: mean / std of the per-timestamp rank IC.
    pub ic_ir: Option<f64>,
    /// Pooled R² (regression).
    pub r2: Option<f64>,
    /// Pooled AUC (binary).
    pub auc: Option<f64>,
    /// Mean per-timestamp AUC − 0.5 (binary): FoxML's classification skill.
    #[serde(default)]
    pub auc_excess: Option<f64>,
    /// Rows scored.
    pub n_rows: usize,
    /// Fraction of rows with a finite prediction and label.
    pub coverage: f64,
    /// FoxML composite in [0, 1], from its native skill (rank IC for regression,
    /// per-timestamp AUC − 0.5 for binary).
    pub composite: f64,
    /// At least 20 scored timestamps.
    pub eligible: bool,
}

impl Score {
    /// The headline number: mean per-timestamp rank IC.
    pub fn primary(&self) -> f64 {
        self.skill.mean
    }
}

/// The per-timestamp rank IC behind a [`Score`], in time order (for paired comparisons).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SkillSeries {
    /// Timestamps with a value.
    pub ts: Vec<i64>,
    /// Rank IC at each of them.
    pub values: Vec<f64>,
    /// Label horizon in bars (sets the Newey–West lag).
    pub horizon_bars: usize,
}

/// Per-timestamp values of one group of rows.
struct TsValues {
    rank_ic: Option<f64>,
    pearson: Option<f64>,
    auc: Option<f64>,
}

fn ts_values(kind: TargetKind, p: &[f64], l: &[f64]) -> TsValues {
    let rp = rank_average(p);
    let rank_ic = pearson(&rp, &rank_average(l));
    match kind {
        TargetKind::Regression => TsValues {
            rank_ic,
            pearson: pearson(p, l),
            auc: None,
        },
        TargetKind::Binary => TsValues {
            rank_ic,
            pearson: None,
            auc: auc_from_ranks(&rp, l),
        },
    }
}

/// AUC from the average ranks of the scores (Mann–Whitney).
fn auc_from_ranks(ranks: &[f64], labels: &[f64]) -> Option<f64> {
    let n1 = labels.iter().filter(|&&l| l > 0.5).count();
    let n0 = labels.len() - n1;
    if n1 == 0 || n0 == 0 {
        return None;
    }
    let pos: f64 = ranks
        .iter()
        .zip(labels)
        .filter(|(_, l)| **l > 0.5)
        .map(|(r, _)| r)
        .sum();
    Some((pos - (n1 * (n1 + 1)) as f64 / 2.0) / (n1 as f64 * n0 as f64))
}

/// Scores predictions `pred` of labels `y` on rows with timestamps `ts` (sorted), for labels
/// spanning `horizon_bars` bars; rows where either value is not finite are skipped. Returns the
/// score and its per-timestamp rank IC series.
pub fn score_series(
    kind: TargetKind,
    ts: &[i64],
    pred: &[f64],
    y: &[f32],
    horizon_bars: usize,
) -> (Score, SkillSeries) {
    let groups = groups_of(ts);
    let per: Vec<TsValues> = groups
        .par_iter()
        .map(|g| {
            let (p, l): (Vec<f64>, Vec<f64>) = g
                .clone()
                .filter(|&i| pred[i].is_finite() && y[i].is_finite())
                .map(|i| (pred[i], y[i] as f64))
                .unzip();
            ts_values(kind, &p, &l)
        })
        .collect();
    let mut series = SkillSeries {
        horizon_bars,
        ..Default::default()
    };
    for (g, v) in groups.iter().zip(&per) {
        if let Some(x) = v.rank_ic {
            series.ts.push(ts[g.start]);
            series.values.push(x);
        }
    }
    let lag = hac_lag(series.values.len(), horizon_bars);
    let skill = series_stats(&series.values, lag);
    let (p, l): (Vec<f64>, Vec<f64>) = (0..ts.len())
        .filter(|&i| pred[i].is_finite() && y[i].is_finite())
        .map(|i| (pred[i], y[i] as f64))
        .unzip();
    let coverage = if ts.is_empty() {
        0.0
    } else {
        p.len() as f64 / ts.len() as f64
    };
    let mut s = Score {
        skill,
        n_rows: p.len(),
        coverage,
        ic_ir: (skill.std > 0.0).then(|| skill.mean / skill.std),
        ..Default::default()
    };
    let native = match kind {
        TargetKind::Regression => {
            let pe: Vec<f64> = per.iter().filter_map(|v| v.pearson).collect();
            s.ic = (!pe.is_empty()).then(|| pe.iter().sum::<f64>() / pe.len() as f64);
            s.r2 = r2(&p, &l);
            skill
        }
        TargetKind::Binary => {
            let ae: Vec<f64> = per.iter().filter_map(|v| v.auc.map(|a| a - 0.5)).collect();
            let stats = series_stats(&ae, lag);
            s.auc_excess = (stats.n > 0).then_some(stats.mean);
            s.auc = auc(&p, &l);
            stats
        }
    };
    (s.composite, s.eligible) = composite(&native, coverage);
    (s, series)
}

/// [`score_series`] without the series.
pub fn score(kind: TargetKind, ts: &[i64], pred: &[f64], y: &[f32], horizon_bars: usize) -> Score {
    score_series(kind, ts, pred, y, horizon_bars).0
}

/// Paired comparison of two skill series on their common timestamps: statistics of
/// `a − b`, with a Newey–West lag for the longer of the two horizons. Both series are scored
/// on the same rows and timestamps, so most of their timestamp-to-timestamp noise cancels.
pub fn paired_difference(a: &SkillSeries, b: &SkillSeries) -> SeriesStats {
    let mut d = Vec::with_capacity(a.values.len().min(b.values.len()));
    let (mut i, mut j) = (0, 0);
    while i < a.ts.len() && j < b.ts.len() {
        match a.ts[i].cmp(&b.ts[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                d.push(a.values[i] - b.values[j]);
                i += 1;
                j += 1;
            }
        }
    }
    let lag = hac_lag(d.len(), a.horizon_bars.max(b.horizon_bars));
    series_stats(&d, lag)
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
            ..Default::default()
        };
        assert!((foxml_t(&s) - 5.0).abs() < 1e-12);
        let (c, ok) = composite(&s, 1.0);
        assert!(ok);
        assert!((c - 1.0 / (1.0 + (-5.0f64 / 3.0).exp())).abs() < 1e-12);
        let s20 = SeriesStats { n: 20, ..s };
        let (c20, _) = composite(&s20, 1.0);
        let t20 = 0.05 / (0.1 / 20f64.sqrt());
        assert!((c20 - 0.7 / (1.0 + (-t20 / 3.0).exp())).abs() < 1e-12);
        assert_eq!(composite(&SeriesStats { n: 19, ..s }, 1.0), (0.0, false));
        // FoxML's t saturates: a constant positive series has t = 12.
        assert_eq!(foxml_t(&series_stats(&[1.0; 50], 0)), 12.0);
    }

    #[test]
    fn newey_west_widens_the_interval_of_autocorrelated_series() {
        // Without autocorrelation and lag 0 the standard error is std / √n.
        let iid: Vec<f64> = (0..400)
            .map(|i| ((i * 7919) % 101) as f64 / 100.0)
            .collect();
        let s0 = series_stats(&iid, 0);
        assert!((s0.se - s0.std / 20.0).abs() < 1e-12, "{s0:?}");
        assert!((s0.lo - (s0.mean - Z95 * s0.se)).abs() < 1e-15);
        // Each value repeated 8 times (as with labels overlapping 8 bars): lag 8 recovers
        // roughly the standard error of the 50 independent values, lag 0 understates it.
        let blocky: Vec<f64> = iid[..50].iter().flat_map(|&v| [v; 8]).collect();
        let (naive, hac) = (series_stats(&blocky, 0), series_stats(&blocky, 8));
        let independent = series_stats(&iid[..50], 0).se;
        assert!(hac.se > 2.0 * naive.se, "{hac:?} vs {naive:?}");
        assert!(
            (hac.se / independent - 1.0).abs() < 0.35,
            "{} vs {independent}",
            hac.se
        );
        assert_eq!(hac_lag(400, 12), 12);
        assert_eq!(hac_lag(400, 1), 5);
        assert_eq!(hac_lag(6, 12), 3);
    }

    #[test]
    fn paired_difference_uses_common_timestamps() {
        let a = SkillSeries {
            ts: vec![1, 2, 3, 5],
            values: vec![0.3, 0.2, 0.4, 0.1],
            horizon_bars: 1,
        };
        let b = SkillSeries {
            ts: vec![2, 3, 4, 5],
            values: vec![0.1, 0.1, 0.9, 0.0],
            horizon_bars: 1,
        };
        let d = paired_difference(&a, &b);
        // Common timestamps 2, 3, 5: differences 0.1, 0.3, 0.1.
        assert_eq!(d.n, 3);
        assert!((d.mean - 0.5 / 3.0).abs() < 1e-12, "{d:?}");
    }

    #[test]
    fn score_per_timestamp() {
        let ts: Vec<i64> = (0..25).flat_map(|t| [t; 4]).collect();
        let y: Vec<f32> = (0..100).map(|i| ((i * 7) % 11) as f32).collect();
        let pred: Vec<f64> = y.iter().map(|v| *v as f64).collect();
        let s = score(TargetKind::Regression, &ts, &pred, &y, 1);
        assert!((s.skill.mean - 1.0).abs() < 1e-9);
        assert!(s.eligible && (s.composite - 0.85 / (1.0 + (-4.0f64).exp())).abs() < 1e-9);
        let yb: Vec<f32> = (0..100).map(|i| (i % 2) as f32).collect();
        let pb: Vec<f64> = yb.iter().map(|v| *v as f64 * 0.5).collect();
        let s = score(TargetKind::Binary, &ts, &pb, &yb, 1);
        assert_eq!(s.auc, Some(1.0));
        assert_eq!(s.auc_excess, Some(0.5));
        // A perfect ranking of 0/1 labels is a rank IC of 1 too: one scale for both kinds.
        assert!((s.skill.mean - 1.0).abs() < 1e-9, "{s:?}");
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

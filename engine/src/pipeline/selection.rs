//! Feature selection for the top targets: GBDT gain, |standardized linear coefficient| and
//! held-out permutation importance, each normalised to sum 1 per fold, combined by a weighted
//! mean; the top `top_m` are kept. Stability across folds: mean pairwise top-k Jaccard and
//! Kendall τ-b of the per-fold combined importances.

use serde::Serialize;

use super::cv_eval::{EvalInput, Family, evaluate};
use super::ranking::TargetEval;
use crate::cv::CvPlan;
use crate::metrics::Score;

/// Importance of one feature for one target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureImportance {
    /// Feature name.
    pub feature: String,
    /// Mean GBDT gain share.
    pub gbdt_gain: f64,
    /// Mean |standardized coefficient| share.
    pub linear_coef: f64,
    /// Mean permutation importance share.
    pub permutation: f64,
    /// Weighted mean of the three.
    pub combined: f64,
}

/// Selection stability across folds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stability {
    /// k used for the Jaccard measure.
    pub k: usize,
    /// Mean pairwise Jaccard of the per-fold top-k sets.
    pub topk_jaccard: f64,
    /// Mean pairwise Kendall τ-b of the per-fold importances.
    pub kendall_tau: f64,
}

/// Selection result of one target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Selection {
    /// Target name.
    pub target: String,
    /// Importances, best first.
    pub importances: Vec<FeatureImportance>,
    /// Selected feature names, best first.
    pub selected: Vec<String>,
    /// Selected feature indices into the panel, best first.
    #[serde(skip)]
    pub selected_idx: Vec<usize>,
    /// Stability across folds.
    pub stability: Stability,
    /// Out-of-sample score of the linear model on all candidate features.
    pub linear_score: Option<Score>,
}

fn mean_cols(v: &[Vec<f64>], k: usize) -> Vec<f64> {
    if v.is_empty() || v[0].is_empty() {
        return vec![0.0; k];
    }
    (0..k)
        .map(|j| v.iter().map(|x| x[j]).sum::<f64>() / v.len() as f64)
        .collect()
}

fn top_set(v: &[f64], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[b].total_cmp(&v[a]).then(a.cmp(&b)));
    idx.truncate(k);
    idx.sort_unstable();
    idx
}

/// Jaccard index of two sorted index sets.
pub fn jaccard(a: &[usize], b: &[usize]) -> f64 {
    let inter = a.iter().filter(|x| b.binary_search(x).is_ok()).count();
    let union = a.len() + b.len() - inter;
    if union == 0 {
        1.0
    } else {
        inter as f64 / union as f64
    }
}

/// Kendall τ-b of two score vectors (O(n²)).
pub fn kendall_tau(a: &[f64], b: &[f64]) -> f64 {
    let (mut c, mut d, mut ta, mut tb) = (0i64, 0i64, 0i64, 0i64);
    for i in 0..a.len() {
        for j in i + 1..a.len() {
            let (x, y) = ((a[i] - a[j]).signum(), (b[i] - b[j]).signum());
            let (x, y) = (
                if a[i] == a[j] { 0.0 } else { x },
                if b[i] == b[j] { 0.0 } else { y },
            );
            match (x == 0.0, y == 0.0) {
                (true, true) => {}
                (true, false) => ta += 1,
                (false, true) => tb += 1,
                _ if x == y => c += 1,
                _ => d += 1,
            }
        }
    }
    let denom = (((c + d + ta) as f64) * ((c + d + tb) as f64)).sqrt();
    if denom == 0.0 {
        0.0
    } else {
        (c - d) as f64 / denom
    }
}

fn pairwise_mean(n: usize, f: impl Fn(usize, usize) -> f64) -> f64 {
    let mut vals = Vec::new();
    for i in 0..n {
        for j in i + 1..n {
            vals.push(f(i, j));
        }
    }
    if vals.is_empty() {
        1.0
    } else {
        vals.iter().sum::<f64>() / vals.len() as f64
    }
}

/// Selects features for the evaluated target `ev`.
pub fn select(inp: &EvalInput, ev: &TargetEval, plan: &CvPlan) -> Selection {
    let fs = &inp.cfg.features;
    let p = ev.feats.len();
    let linear = inp.cfg.models.linear.enabled.then(|| {
        evaluate(
            inp,
            ev.target,
            &ev.feats,
            plan,
            Family::Linear,
            false,
            false,
            inp.cfg.seed,
        )
    });
    let w = &fs.weights;
    let (wg, wl, wp) = (
        w.gbdt_gain,
        if linear.is_some() { w.linear_coef } else { 0.0 },
        w.permutation,
    );
    let wsum = (wg + wl + wp).max(1e-12);
    let n_folds = ev.outcome.importance.len();
    let fold_combined: Vec<Vec<f64>> = (0..n_folds)
        .map(|k| {
            (0..p)
                .map(|j| {
                    let g = ev.outcome.importance[k][j];
                    let l = linear.as_ref().map_or(0.0, |o| o.importance[k][j]);
                    let pm = ev
                        .outcome
                        .permutation
                        .get(k)
                        .and_then(|v| v.get(j))
                        .copied()
                        .unwrap_or(0.0);
                    (wg * g + wl * l + wp * pm) / wsum
                })
                .collect()
        })
        .collect();
    let g = mean_cols(&ev.outcome.importance, p);
    let l = linear
        .as_ref()
        .map_or(vec![0.0; p], |o| mean_cols(&o.importance, p));
    let pm = mean_cols(&ev.outcome.permutation, p);
    let combined = mean_cols(&fold_combined, p);
    let mut order: Vec<usize> = (0..p).collect();
    order.sort_by(|&a, &b| combined[b].total_cmp(&combined[a]).then(a.cmp(&b)));
    let importances: Vec<FeatureImportance> = order
        .iter()
        .map(|&j| FeatureImportance {
            feature: inp.panel.features[ev.feats[j]].name.clone(),
            gbdt_gain: g[j],
            linear_coef: l[j],
            permutation: pm[j],
            combined: combined[j],
        })
        .collect();
    let keep: Vec<usize> = order
        .iter()
        .copied()
        .filter(|&j| combined[j] > 0.0)
        .take(fs.top_m)
        .collect();
    let keep = if keep.is_empty() {
        order.iter().copied().take(fs.top_m.min(p)).collect()
    } else {
        keep
    };
    let k = fs.stability_k.min(p);
    let tops: Vec<Vec<usize>> = fold_combined.iter().map(|v| top_set(v, k)).collect();
    inp.progress.tick();
    Selection {
        target: inp.panel.targets[ev.target].name.clone(),
        selected: keep
            .iter()
            .map(|&j| inp.panel.features[ev.feats[j]].name.clone())
            .collect(),
        selected_idx: keep.iter().map(|&j| ev.feats[j]).collect(),
        importances,
        stability: Stability {
            k,
            topk_jaccard: pairwise_mean(n_folds, |i, j| jaccard(&tops[i], &tops[j])),
            kendall_tau: pairwise_mean(n_folds, |i, j| {
                kendall_tau(&fold_combined[i], &fold_combined[j])
            }),
        },
        linear_score: linear.map(|o| o.score),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stability_measures() {
        assert_eq!(jaccard(&[1, 2, 3], &[2, 3, 4]), 0.5);
        assert_eq!(kendall_tau(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]), 1.0);
        assert_eq!(kendall_tau(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), -1.0);
        assert_eq!(top_set(&[0.1, 0.5, 0.3, 0.5], 2), vec![1, 3]);
    }
}

//! Out-of-sample evaluation of one model family on one target over the CV folds: fits per
//! fold (in parallel), predictions on the test blocks only, and per-fold importances.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::config::ExperimentConfig;
use crate::cv::CvPlan;
use crate::data::{Panel, TargetKind};
use crate::metrics::{Score, SkillSeries, score, score_series};
use crate::models::binning::BinnedMatrix;
use crate::models::gbdt::{EarlyStop, Gbdt, Objective};
use crate::models::linear::LinearModel;

/// Model family evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Histogram GBDT.
    Gbdt,
    /// Ridge (regression) or logistic (binary).
    Linear,
}

/// Rows used to fit linear models per fold are capped (evenly strided) to bound the O(n·p²)
/// Gram cost; coefficients converge long before.
pub const LINEAR_MAX_ROWS: usize = 250_000;

/// What one evaluation produced.
#[derive(Debug, Clone)]
pub struct CvOutcome {
    /// Out-of-sample score over all test blocks.
    pub score: Score,
    /// Its per-timestamp rank IC series (for paired comparisons of targets).
    pub series: SkillSeries,
    /// Mean per-timestamp rank IC of each fold's test block.
    pub fold_skill: Vec<f64>,
    /// Per-fold importances over `feats` (gain share or |coef| share).
    pub importance: Vec<Vec<f64>>,
    /// Per-fold permutation importances (GBDT only, when requested).
    pub permutation: Vec<Vec<f64>>,
}

/// Inputs shared by every evaluation.
pub struct EvalInput<'a> {
    /// Config.
    pub cfg: &'a ExperimentConfig,
    /// Panel.
    pub panel: &'a Panel,
    /// Binned features of the panel.
    pub bm: &'a BinnedMatrix,
    /// Progress sink.
    pub progress: &'a dyn super::progress::Progress,
}

fn finite_rows(rows: impl Iterator<Item = u32>, y: &[f32]) -> Vec<u32> {
    rows.filter(|&r| y[r as usize].is_finite()).collect()
}

/// Splits a fold's training rows (in time order) for early stopping: the latest `fraction`
/// of them validate, and the rows whose label window reaches into the validation block
/// (`ts + horizon ≥` its first timestamp) are purged from the rest. `None` when either part
/// would hold fewer than `min` rows.
pub fn validation_split(
    train: &[u32],
    ts: &[i64],
    horizon_secs: i64,
    fraction: f64,
    min: usize,
) -> Option<(Vec<u32>, Vec<u32>)> {
    let n = train.len();
    let cut = n - ((n as f64 * fraction).round() as usize).min(n);
    let first_val_ts = ts[*train.get(cut)? as usize];
    // Whole timestamps validate: the block starts at the first row of its timestamp.
    let start = train.partition_point(|&r| ts[r as usize] < first_val_ts);
    let valid = train[start..].to_vec();
    let inner: Vec<u32> = train[..start]
        .iter()
        .copied()
        .filter(|&r| ts[r as usize] + horizon_secs < first_val_ts)
        .collect();
    (inner.len() >= min && valid.len() >= min).then_some((inner, valid))
}

fn stride(rows: Vec<u32>, max: usize) -> Vec<u32> {
    if rows.len() <= max {
        return rows;
    }
    let step = rows.len().div_ceil(max);
    rows.into_iter().step_by(step).collect()
}

/// Evaluates `family` on target `t` with features `feats` over `plan`'s folds. With
/// `early_stop` (and `models.gbdt.early_stopping_rounds` > 0) each GBDT fit stops early on a
/// purged validation block cut from the end of its training rows.
#[allow(clippy::too_many_arguments)]
pub fn evaluate(
    inp: &EvalInput,
    t: usize,
    feats: &[usize],
    plan: &CvPlan,
    family: Family,
    with_permutation: bool,
    early_stop: bool,
    seed: u64,
) -> CvOutcome {
    let target = &inp.panel.targets[t];
    let y = &target.values;
    let per_fold: Vec<(Vec<f64>, Vec<f64>, Vec<f64>)> = plan
        .folds
        .par_iter()
        .enumerate()
        .map(|(k, fold)| {
            let train = finite_rows(
                fold.train.iter().flat_map(|r| r.start as u32..r.end as u32),
                y,
            );
            let test: Vec<u32> = (fold.test.start as u32..fold.test.end as u32).collect();
            let fold_seed = seed ^ ((t as u64) << 32) ^ (k as u64).wrapping_mul(0x9E37_79B9);
            match family {
                Family::Gbdt => {
                    let obj = if target.kind == TargetKind::Binary {
                        Objective::Logloss
                    } else {
                        Objective::L2
                    };
                    let g = &inp.cfg.models.gbdt;
                    let split = (early_stop && g.early_stopping_rounds > 0)
                        .then(|| {
                            validation_split(
                                &train,
                                &inp.panel.ts,
                                target.horizon_secs,
                                g.validation_fraction,
                                2 * g.min_data_in_leaf.max(50),
                            )
                        })
                        .flatten();
                    let m = match &split {
                        Some((inner, valid)) => Gbdt::train_until(
                            inp.bm,
                            feats,
                            inner,
                            y,
                            g,
                            obj,
                            fold_seed,
                            Some(EarlyStop {
                                rows: valid,
                                rounds: g.early_stopping_rounds,
                            }),
                        ),
                        None => Gbdt::train(inp.bm, feats, &train, y, g, obj, fold_seed),
                    };
                    let pred = m.predict_binned(inp.bm, feats, &test);
                    let perm = if with_permutation {
                        permutation(inp, &m, feats, &test, target.kind, y, fold_seed)
                    } else {
                        Vec::new()
                    };
                    (pred, m.gain_importance(), perm)
                }
                Family::Linear => {
                    let cols: Vec<&[f32]> = feats
                        .iter()
                        .map(|&f| inp.panel.features[f].values.as_slice())
                        .collect();
                    let train = stride(train, LINEAR_MAX_ROWS);
                    let l = &inp.cfg.models.linear;
                    let m = match target.kind {
                        TargetKind::Regression => LinearModel::fit_ridge(&cols, &train, y, l.alpha),
                        TargetKind::Binary => {
                            LinearModel::fit_logistic(&cols, &train, y, l.alpha, l.max_iter)
                        }
                    };
                    (m.predict(&cols, &test), m.coef_importance(), Vec::new())
                }
            }
        })
        .collect();
    let mut ts = Vec::new();
    let mut pred = Vec::new();
    let mut labels = Vec::new();
    for (fold, (p, _, _)) in plan.folds.iter().zip(&per_fold) {
        ts.extend_from_slice(&inp.panel.ts[fold.test.clone()]);
        labels.extend_from_slice(&y[fold.test.clone()]);
        pred.extend_from_slice(p);
    }
    let (importance, permutation) = per_fold.into_iter().map(|(_, i, p)| (i, p)).unzip();
    let hb = horizon_bars(target.horizon_secs, inp.panel.bar_secs);
    let (score, series) = score_series(target.kind, &ts, &pred, &labels, hb);
    let fold_skill = plan
        .folds
        .iter()
        .map(|f| {
            let (t0, t1) = (inp.panel.ts[f.test.start], inp.panel.ts[f.test.end - 1]);
            let v: Vec<f64> = series
                .ts
                .iter()
                .zip(&series.values)
                .filter(|(t, _)| (t0..=t1).contains(*t))
                .map(|(_, v)| *v)
                .collect();
            v.iter().sum::<f64>() / v.len().max(1) as f64
        })
        .collect();
    CvOutcome {
        score,
        series,
        fold_skill,
        importance,
        permutation,
    }
}

/// A label horizon in bars (at least 1).
pub fn horizon_bars(horizon_secs: i64, bar_secs: i64) -> usize {
    (horizon_secs.max(1) as u64).div_ceil(bar_secs.max(1) as u64) as usize
}

/// Permutation importance on the held-out block: drop of the primary metric when one
/// feature's codes are shuffled, over at most `permutation_max_rows` test rows (the latest
/// ones), for the `max(2·top_m, 20)` features with the most gain. Only trees that use the
/// feature are re-evaluated. Negative drops count as 0; the result is normalised to sum 1.
fn permutation(
    inp: &EvalInput,
    m: &Gbdt,
    feats: &[usize],
    test: &[u32],
    kind: TargetKind,
    y: &[f32],
    seed: u64,
) -> Vec<f64> {
    let max = inp.cfg.features.permutation_max_rows.max(1);
    let rows: Vec<u32> = test[test.len().saturating_sub(max)..].to_vec();
    let ts: Vec<i64> = rows.iter().map(|&r| inp.panel.ts[r as usize]).collect();
    let labels: Vec<f32> = rows.iter().map(|&r| y[r as usize]).collect();
    let cols: Vec<Vec<u8>> = feats
        .iter()
        .map(|&f| rows.iter().map(|&r| inp.bm.cols[f][r as usize]).collect())
        .collect();
    let views: Vec<&[u8]> = cols.iter().map(|c| c.as_slice()).collect();
    let local: Vec<u32> = (0..rows.len() as u32).collect();
    let per_tree: Vec<Vec<f64>> = m
        .trees
        .iter()
        .map(|t| {
            local
                .iter()
                .map(|&i| t.predict_binned(&views, i as usize))
                .collect()
        })
        .collect();
    let base_pred: Vec<f64> = (0..rows.len())
        .map(|i| m.init + per_tree.iter().map(|p| p[i]).sum::<f64>())
        .collect();
    // Only the mean matters here; its standard error is not used.
    let base = score(kind, &ts, &base_pred, &labels, 1).primary();
    // Only the features with the most gain are permuted: the others cannot be selected on
    // permutation evidence anyway, and each permutation re-evaluates every tree using it.
    let gain = m.gain_importance();
    let mut by_gain: Vec<usize> = (0..feats.len()).filter(|&f| gain[f] > 0.0).collect();
    by_gain.sort_by(|&a, &b| gain[b].total_cmp(&gain[a]).then(a.cmp(&b)));
    by_gain.truncate((2 * inp.cfg.features.top_m).max(20));
    let uses: Vec<Vec<usize>> = (0..feats.len())
        .map(|f| {
            if !by_gain.contains(&f) {
                return Vec::new();
            }
            (0..m.trees.len()).filter(|&k| m.trees[k].nodes.iter().any(|n| matches!(n, crate::models::gbdt::Node::Split { feature, .. } if *feature as usize == f))).collect()
        })
        .collect();
    let mut drops: Vec<f64> = (0..feats.len())
        .into_par_iter()
        .map(|f| {
            if uses[f].is_empty() {
                return 0.0;
            }
            let mut shuffled = cols[f].clone();
            shuffled.shuffle(&mut ChaCha8Rng::seed_from_u64(
                seed ^ (f as u64).wrapping_mul(0x2545_F491),
            ));
            let mut v = views.clone();
            v[f] = &shuffled;
            let mut pred = base_pred.clone();
            for &k in &uses[f] {
                for (i, p) in pred.iter_mut().enumerate() {
                    *p += m.trees[k].predict_binned(&v, i) - per_tree[k][i];
                }
            }
            (base - score(kind, &ts, &pred, &labels, 1).primary()).max(0.0)
        })
        .collect();
    let s: f64 = drops.iter().sum();
    if s > 0.0 {
        drops.iter_mut().for_each(|d| *d /= s);
    }
    drops
}

#[cfg(test)]
mod tests {
    use super::validation_split;

    #[test]
    fn the_validation_block_is_the_latest_whole_timestamps_and_the_rest_is_purged() {
        // 10 timestamps 300 s apart, 4 rows each; labels reach 600 s ahead.
        let ts: Vec<i64> = (0..10).flat_map(|t| [t * 300; 4]).collect();
        let train: Vec<u32> = (0..40).collect();
        let (inner, valid) = validation_split(&train, &ts, 600, 0.25, 4).unwrap();
        // 25 % of 40 rows = 10: the cut falls inside timestamp 7 (rows 28..32), which
        // validates whole.
        assert_eq!(valid, (28..40).collect::<Vec<u32>>());
        // Validation starts at 2100 s: rows whose label window ends at or after it go.
        assert!(inner.iter().all(|&r| ts[r as usize] + 600 < 2100));
        assert_eq!(inner, (0..20).collect::<Vec<u32>>());
        // Too few rows on either side: no split.
        assert!(validation_split(&train, &ts, 600, 0.25, 21).is_none());
        assert!(validation_split(&[], &ts, 600, 0.25, 1).is_none());
    }
}

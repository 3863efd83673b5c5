//! Purged walk-forward cross-validation over time blocks.
//!
//! Test folds are consecutive blocks of *distinct timestamps* (so rows sharing a timestamp are
//! never split across train and test). A row at `t` has the label window `(t, t + h]`.
//! Training rows satisfy `ts ≤ test_start − purge` and, for `purged_kfold`, also
//! `ts ≥ test_end + embargo`. With `purge ≥ h` and `embargo ≥ h` no training label window can
//! overlap a test row's; purge and embargo default to `h + purge_buffer` bars and are raised
//! to `h` when configured smaller. Walk-forward splits time into `n_splits + 1` blocks and skips
//! the first (it has no past to train on).

use std::ops::Range;

use serde::Serialize;

use crate::config::{CvScheme, CvSettings};
use crate::error::{EngineError, Result};

/// One fold: row ranges into the time-sorted panel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fold {
    /// Training rows (one range for walk-forward, up to two for purged k-fold).
    pub train: Vec<Range<usize>>,
    /// Test rows.
    pub test: Range<usize>,
}

impl Fold {
    /// Training row indices.
    pub fn train_rows(&self) -> Vec<u32> {
        self.train
            .iter()
            .flat_map(|r| r.start as u32..r.end as u32)
            .collect()
    }
    /// Number of training rows.
    pub fn n_train(&self) -> usize {
        self.train.iter().map(|r| r.len()).sum()
    }
}

/// The folds of one target, with the gaps actually used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CvPlan {
    /// Label horizon in seconds.
    pub horizon_secs: i64,
    /// Gap before each test block, seconds.
    pub purge_secs: i64,
    /// Gap after each test block, seconds.
    pub embargo_secs: i64,
    /// Folds in time order.
    pub folds: Vec<Fold>,
}

/// Builds the folds for rows with sorted timestamps `ts`.
pub fn plan(ts: &[i64], horizon_secs: i64, bar_secs: i64, cv: &CvSettings) -> Result<CvPlan> {
    let derived = horizon_secs + cv.purge_buffer as i64 * bar_secs;
    let gap = |s: &Option<crate::config::Span>| {
        s.as_ref()
            .and_then(|s| s.seconds(bar_secs))
            .unwrap_or(derived)
            .max(horizon_secs)
    };
    let (purge_secs, embargo_secs) = (gap(&cv.purge), gap(&cv.embargo));
    let mut uniq = ts.to_vec();
    uniq.dedup();
    let n_blocks = match cv.scheme {
        CvScheme::WalkForward => cv.n_splits + 1,
        CvScheme::PurgedKfold => cv.n_splits,
    };
    if uniq.len() < 2 * n_blocks {
        return Err(EngineError::Cv(format!(
            "too few timestamps for the folds: {} distinct timestamps, {} splits need at least {}",
            uniq.len(),
            cv.n_splits,
            2 * n_blocks
        )));
    }
    let first_test = usize::from(cv.scheme == CvScheme::WalkForward);
    let bound = |b: usize| b * uniq.len() / n_blocks;
    let row_at = |t: i64| ts.partition_point(|&x| x < t);
    let mut folds = Vec::new();
    for b in first_test..n_blocks {
        let (t0, t1) = (uniq[bound(b)], uniq[bound(b + 1) - 1]);
        let test = row_at(t0)..ts.partition_point(|&x| x <= t1);
        let mut train = Vec::new();
        let before = ts.partition_point(|&x| x <= t0 - purge_secs);
        if before > 0 {
            train.push(0..before);
        }
        if cv.scheme == CvScheme::PurgedKfold {
            let after = row_at(t1.saturating_add(embargo_secs));
            if after < ts.len() {
                train.push(after..ts.len());
            }
        }
        if train.is_empty() {
            return Err(EngineError::Cv(format!(
                "too few timestamps for the folds: fold {} (test from {}) has no training rows after a purge of {} s; use fewer splits or more history",
                folds.len() + 1,
                crate::timefmt::format_rfc3339(t0),
                purge_secs
            )));
        }
        folds.push(Fold { train, test });
    }
    Ok(CvPlan {
        horizon_secs,
        purge_secs,
        embargo_secs,
        folds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Span;
    use proptest::prelude::*;

    fn settings(n: usize, scheme: CvScheme) -> CvSettings {
        CvSettings {
            n_splits: n,
            scheme,
            purge_buffer: 0,
            ..Default::default()
        }
    }

    #[test]
    fn walk_forward_blocks_with_shared_timestamps() {
        // 8 timestamps × 3 rows each.
        let ts: Vec<i64> = (0..8).flat_map(|t| [t * 60; 3]).collect();
        let p = plan(&ts, 60, 60, &settings(3, CvScheme::WalkForward)).unwrap();
        assert_eq!(p.folds.len(), 3);
        assert_eq!(p.folds[0].test, 6..12);
        assert_eq!(p.folds[0].train, vec![0..6]); // ts 0 and 60: label (60, 120] ends at the test start
        assert_eq!(p.folds[2].test, 18..24);
    }

    #[test]
    fn purge_never_below_horizon_and_derived_by_default() {
        let ts: Vec<i64> = (0..40).map(|t| t * 300).collect();
        let mut cv = settings(3, CvScheme::WalkForward);
        cv.purge_buffer = 5;
        assert_eq!(plan(&ts, 900, 300, &cv).unwrap().purge_secs, 900 + 1500);
        cv.purge = Some(Span::Bars(1));
        assert_eq!(plan(&ts, 900, 300, &cv).unwrap().purge_secs, 900);
    }

    #[test]
    fn too_few_timestamps_is_an_error() {
        let ts: Vec<i64> = (0..5).collect();
        let e = plan(&ts, 1, 1, &settings(5, CvScheme::WalkForward)).unwrap_err();
        assert!(e.to_string().contains("too few timestamps"), "{e}");
    }

    proptest! {
        #[test]
        fn no_training_label_window_overlaps_a_test_row(
            gaps in proptest::collection::vec(1i64..4, 12..60),
            reps in proptest::collection::vec(1usize..4, 60),
            h_bars in 1i64..6,
            n_splits in 2usize..5,
            kfold in any::<bool>(),
            purge in proptest::option::of(0u64..8),
        ) {
            let bar = 60;
            let mut ts = Vec::new();
            let mut t = 0;
            for (i, g) in gaps.iter().enumerate() {
                t += g * bar;
                ts.extend(std::iter::repeat_n(t, reps[i]));
            }
            let scheme = if kfold { CvScheme::PurgedKfold } else { CvScheme::WalkForward };
            let cv = CvSettings { n_splits, scheme, purge: purge.map(Span::Bars), purge_buffer: 0, embargo: None };
            let h = h_bars * bar;
            if let Ok(p) = plan(&ts, h, bar, &cv) {
                for f in &p.folds {
                    prop_assert!(!f.test.is_empty());
                    for tr in f.train_rows() {
                        prop_assert!(!f.test.contains(&(tr as usize)));
                        for te in f.test.clone() {
                            // Label windows (t, t+h] are disjoint iff |t_train − t_test| ≥ h.
                            prop_assert!((ts[tr as usize] - ts[te]).abs() >= h,
                                "train ts {} vs test ts {} with h {}", ts[tr as usize], ts[te], h);
                        }
                    }
                }
                for w in p.folds.windows(2) {
                    prop_assert!(w[0].test.end <= w[1].test.start);
                }
            }
        }
    }
}

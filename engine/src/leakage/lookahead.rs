//! Look-ahead statistics: mean cross-sectional rank correlation of a feature with a target,
//! with the target lagged by one horizon (same entity), and of the lagged target with the
//! target (the target's own history), over up to 400 evenly spaced timestamps.

use std::ops::Range;

use crate::data::{Panel, TargetColumn};
use crate::metrics::spearman;

const MAX_TIMESTAMPS: usize = 400;

/// Mean per-timestamp rank correlations for one (feature, target) pair.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LookaheadStats {
    /// With the target.
    pub ic: f64,
    /// With the target lagged one horizon.
    pub ic_lagged_target: f64,
    /// Of the lagged target with the target (same for every feature).
    pub own_history_ic: f64,
}

/// Per-target precomputation: sampled groups and the lagged-target row of every row in them.
pub struct TargetLags<'a> {
    target: &'a TargetColumn,
    groups: Vec<Range<usize>>,
    lag_row: Vec<Option<u32>>,
    own: f64,
}

fn mean_of(v: impl Iterator<Item = Option<f64>>) -> f64 {
    let (s, n) = v.flatten().fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    if n == 0 { 0.0 } else { s / n as f64 }
}

fn group_corr(g: &Range<usize>, x: impl Fn(usize) -> f32, y: impl Fn(usize) -> f32) -> Option<f64> {
    let (a, b): (Vec<f64>, Vec<f64>) = g
        .clone()
        .map(|i| (x(i), y(i)))
        .filter(|(u, v)| u.is_finite() && v.is_finite())
        .map(|(u, v)| (u as f64, v as f64))
        .unzip();
    spearman(&a, &b)
}

impl<'a> TargetLags<'a> {
    /// Prepares the lag lookup of `target` on `panel`.
    pub fn new(panel: &'a Panel, target: &'a TargetColumn) -> Self {
        let all = panel.ts_groups();
        let step = all.len().div_ceil(MAX_TIMESTAMPS).max(1);
        let groups: Vec<Range<usize>> = all.into_iter().step_by(step).collect();
        // Per-entity (ts, row) lists are in time order because rows are sorted by time.
        let mut by_entity: Vec<Vec<(i64, u32)>> = vec![Vec::new(); panel.entity_names.len()];
        for i in 0..panel.n_rows() {
            by_entity[panel.entity[i] as usize].push((panel.ts[i], i as u32));
        }
        let mut lag_row = vec![None; panel.n_rows()];
        for g in &groups {
            for i in g.clone() {
                let want = panel.ts[i] - target.horizon_secs;
                let list = &by_entity[panel.entity[i] as usize];
                if let Ok(k) = list.binary_search_by_key(&want, |e| e.0) {
                    lag_row[i] = Some(list[k].1);
                }
            }
        }
        let lagged = |i: usize| lag_row[i].map_or(f32::NAN, |j| target.values[j as usize]);
        let own = mean_of(
            groups
                .iter()
                .map(|g| group_corr(g, lagged, |i| target.values[i])),
        );
        Self {
            target,
            groups,
            lag_row,
            own,
        }
    }

    /// Statistics of one feature column.
    pub fn stats(&self, feature: &[f32]) -> LookaheadStats {
        let y = &self.target.values;
        let lagged = |i: usize| self.lag_row[i].map_or(f32::NAN, |j| y[j as usize]);
        LookaheadStats {
            ic: mean_of(
                self.groups
                    .iter()
                    .map(|g| group_corr(g, |i| feature[i], |i| y[i])),
            ),
            ic_lagged_target: mean_of(
                self.groups
                    .iter()
                    .map(|g| group_corr(g, |i| feature[i], lagged)),
            ),
            own_history_ic: self.own,
        }
    }
}

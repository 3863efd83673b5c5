//! Look-ahead statistics: mean cross-sectional rank correlation of a feature with a target,
//! with the target lagged by one horizon (same entity), and of the lagged target with the
//! target (the target's own history), over up to 400 evenly spaced timestamps.

use std::ops::Range;

use crate::data::{Panel, TargetColumn};
use crate::metrics::{pearson, rank_average_into, spearman};

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

/// Per-target precomputation: sampled groups and the lagged-target row of every row in them,
/// and per group the ranks of the target and of the lagged target over the rows where each
/// is finite (a feature finite on all those rows is then ranked once per correlation, and
/// the target not at all).
pub struct TargetLags<'a> {
    target: &'a TargetColumn,
    groups: Vec<Range<usize>>,
    lag_row: Vec<Option<u32>>,
    own: f64,
    y_ranked: Vec<Ranked>,
    lag_ranked: Vec<Ranked>,
}

/// The rows of a group where a column is finite, and the column's ranks over them.
struct Ranked {
    rows: Vec<u32>,
    ranks: Vec<f64>,
}

impl Ranked {
    fn of(g: &Range<usize>, v: impl Fn(usize) -> f32) -> Self {
        let rows: Vec<u32> = g
            .clone()
            .filter(|&i| v(i).is_finite())
            .map(|i| i as u32)
            .collect();
        let vals: Vec<f64> = rows.iter().map(|&i| v(i as usize) as f64).collect();
        let mut ranks = Vec::new();
        rank_average_into(&vals, &mut Vec::new(), &mut ranks);
        Self { rows, ranks }
    }
}

/// Reused buffers of one `stats` call.
#[derive(Default)]
struct Scratch {
    vals: Vec<f64>,
    idx: Vec<usize>,
    ranks: Vec<f64>,
}

/// Spearman of `x` with the pre-ranked column over the group `g`: the same value as
/// `group_corr`, without re-ranking the column when `x` is finite wherever it is.
fn corr_with(
    g: &Range<usize>,
    pre: &Ranked,
    x: &[f32],
    y: impl Fn(usize) -> f32,
    s: &mut Scratch,
) -> Option<f64> {
    if !pre.rows.iter().all(|&i| x[i as usize].is_finite()) {
        return group_corr(g, |i| x[i], y);
    }
    s.vals.clear();
    s.vals
        .extend(pre.rows.iter().map(|&i| x[i as usize] as f64));
    rank_average_into(&s.vals, &mut s.idx, &mut s.ranks);
    pearson(&s.ranks, &pre.ranks)
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
        let y_ranked = groups
            .iter()
            .map(|g| Ranked::of(g, |i| target.values[i]))
            .collect();
        let lag_ranked = groups.iter().map(|g| Ranked::of(g, lagged)).collect();
        Self {
            target,
            groups,
            lag_row,
            own,
            y_ranked,
            lag_ranked,
        }
    }

    /// Statistics of one feature column.
    pub fn stats(&self, feature: &[f32]) -> LookaheadStats {
        let y = &self.target.values;
        let lagged = |i: usize| self.lag_row[i].map_or(f32::NAN, |j| y[j as usize]);
        let mut s = Scratch::default();
        let mut ic = Vec::with_capacity(self.groups.len());
        let mut lag = Vec::with_capacity(self.groups.len());
        for (k, g) in self.groups.iter().enumerate() {
            ic.push(corr_with(g, &self.y_ranked[k], feature, |i| y[i], &mut s));
            lag.push(corr_with(g, &self.lag_ranked[k], feature, lagged, &mut s));
        }
        LookaheadStats {
            ic: mean_of(ic.into_iter()),
            ic_lagged_target: mean_of(lag.into_iter()),
            own_history_ic: self.own,
        }
    }

    /// [`TargetLags::stats`] the plain way (every pair re-ranked), for the tests.
    #[cfg(test)]
    fn stats_plain(&self, feature: &[f32]) -> LookaheadStats {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::{SynthParams, generate};

    #[test]
    fn ranking_the_target_once_gives_exactly_the_plain_statistics() {
        let mut panel = generate(&SynthParams {
            n_entities: 30,
            n_timestamps: 80,
            ..Default::default()
        });
        // Missing values in a feature and in a target, and a feature with ties.
        for i in (0..panel.n_rows()).step_by(7) {
            panel.features[0].values[i] = f32::NAN;
        }
        for i in (0..panel.n_rows()).step_by(11) {
            panel.targets[0].values[i] = f32::NAN;
        }
        for v in &mut panel.features[1].values {
            *v = (*v * 2.0).round();
        }
        panel.targets[0].horizon_secs = 900;
        for t in &panel.targets {
            let lags = TargetLags::new(&panel, t);
            for f in &panel.features {
                assert_eq!(
                    lags.stats(&f.values),
                    lags.stats_plain(&f.values),
                    "{} / {}",
                    f.name,
                    t.name
                );
            }
        }
    }
}

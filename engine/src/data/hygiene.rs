//! Panel hygiene as in the original stack: cap rows per entity (most recent kept), cap rows per
//! timestamp (seeded sample), then drop timestamps with fewer than `min_cs` entities.

use rand::SeedableRng;
use rand::seq::index::sample;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::{Panel, groups_of};
use crate::config::DataSettings;

/// Rows removed by each rule.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HygieneReport {
    /// Rows removed by `max_rows_per_entity`.
    pub rows_dropped_entity_cap: usize,
    /// Rows removed by `max_cs_samples`.
    pub rows_dropped_cs_cap: usize,
    /// Timestamps removed by `min_cs`.
    pub timestamps_dropped_min_cs: usize,
    /// Rows removed by `min_cs`.
    pub rows_dropped_min_cs: usize,
}

/// Computes which rows survive hygiene (rows must be sorted by timestamp).
pub fn apply(panel: &Panel, data: &DataSettings, seed: u64) -> (Vec<bool>, HygieneReport) {
    let n = panel.n_rows();
    let mut keep = vec![true; n];
    let mut rep = HygieneReport::default();
    if let Some(cap) = data.max_rows_per_entity {
        let mut seen = vec![0usize; panel.entity_names.len()];
        // Walk backwards so the most recent rows of each entity are kept.
        for i in (0..n).rev() {
            let e = panel.entity[i] as usize;
            seen[e] += 1;
            if seen[e] > cap {
                keep[i] = false;
                rep.rows_dropped_entity_cap += 1;
            }
        }
    }
    for g in groups_of(&panel.ts) {
        let alive: Vec<usize> = g.clone().filter(|&i| keep[i]).collect();
        if let Some(cap) = data.max_cs_samples
            && alive.len() > cap
        {
            let mut rng = ChaCha8Rng::seed_from_u64(
                seed ^ (panel.ts[g.start] as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            );
            let mut chosen = vec![false; alive.len()];
            for j in sample(&mut rng, alive.len(), cap) {
                chosen[j] = true;
            }
            for (j, &i) in alive.iter().enumerate() {
                if !chosen[j] {
                    keep[i] = false;
                    rep.rows_dropped_cs_cap += 1;
                }
            }
        }
        let alive = g.clone().filter(|&i| keep[i]).count();
        if alive > 0 && alive < data.min_cs {
            rep.timestamps_dropped_min_cs += 1;
            rep.rows_dropped_min_cs += alive;
            for i in g {
                keep[i] = false;
            }
        }
    }
    (keep, rep)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn panel(ts: Vec<i64>, entity: Vec<u32>) -> Panel {
        let n_ent = *entity.iter().max().unwrap() as usize + 1;
        Panel {
            source: PathBuf::from("t.csv"),
            ts,
            entity,
            entity_names: (0..n_ent).map(|i| format!("E{i}")).collect(),
            features: vec![],
            targets: vec![],
            bar_secs: 1,
        }
    }

    fn data(min_cs: usize, cs: Option<usize>, ent: Option<usize>) -> DataSettings {
        let mut d: DataSettings =
            serde_json::from_value(serde_json::json!({"path": "p.csv"})).unwrap();
        d.min_cs = min_cs;
        d.max_cs_samples = cs;
        d.max_rows_per_entity = ent;
        d
    }

    #[test]
    fn thin_cross_sections_are_dropped() {
        let p = panel(vec![0, 0, 0, 1, 1, 2, 2, 2], vec![0, 1, 2, 0, 1, 0, 1, 2]);
        let (keep, rep) = apply(&p, &data(3, None, None), 1);
        assert_eq!(keep, vec![true, true, true, false, false, true, true, true]);
        assert_eq!(
            (rep.timestamps_dropped_min_cs, rep.rows_dropped_min_cs),
            (1, 2)
        );
    }

    #[test]
    fn caps_are_respected_and_seeded() {
        let ts: Vec<i64> = (0..10).flat_map(|t| std::iter::repeat_n(t, 8)).collect();
        let ent: Vec<u32> = (0..10).flat_map(|_| 0..8u32).collect();
        let p = panel(ts, ent);
        let (keep, rep) = apply(&p, &data(1, Some(5), Some(7)), 9);
        assert_eq!(rep.rows_dropped_entity_cap, 8 * 3);
        for g in groups_of(&p.ts) {
            assert!(g.filter(|&i| keep[i]).count() <= 5);
        }
        assert_eq!(apply(&p, &data(1, Some(5), Some(7)), 9).0, keep);
        // The entity cap keeps the most recent rows: timestamps 0..3 are gone.
        assert!(keep[..24].iter().all(|k| !k));
    }
}

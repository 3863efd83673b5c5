//! The pre-training scan: name rules, near-copies of a target, and look-ahead features.
//!
//! Look-ahead rule: `|IC| ≥ lookahead_min_ic` and `|IC| ≥ lookahead_ratio × max(b, 0.02)`
//! for `b` either the |IC| with the target lagged one horizon or the |IC| of the target's own
//! history. Genuine predictors on panel returns have small ICs and sit well below the
//! minimum; a feature that knows (part of) the label window does not.

use std::collections::BTreeMap;

use rayon::prelude::*;
use regex::Regex;

use super::lookahead::TargetLags;
use super::{LeakCheck, LeakFinding};
use crate::config::LeakageSettings;
use crate::data::{Panel, TargetKind};
use crate::metrics::pearson;

fn finding(
    feature: &str,
    target: Option<&str>,
    check: LeakCheck,
    reason: String,
    evidence: &[(&str, f64)],
) -> LeakFinding {
    LeakFinding {
        feature: feature.into(),
        target: target.map(str::to_owned),
        check,
        confirmed: true,
        reason,
        evidence: evidence
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect::<BTreeMap<_, _>>(),
        action: String::new(),
    }
}

fn pooled_pearson(x: &[f32], y: &[f32]) -> Option<f64> {
    let (a, b): (Vec<f64>, Vec<f64>) = x
        .iter()
        .zip(y)
        .filter(|(u, v)| u.is_finite() && v.is_finite())
        .map(|(u, v)| (*u as f64, *v as f64))
        .unzip();
    pearson(&a, &b)
}

/// Fraction of rows (both finite) where x == y, and where x == 1 − y.
fn binary_match(x: &[f32], y: &[f32]) -> (f64, f64) {
    let (mut n, mut eq, mut flip) = (0usize, 0usize, 0usize);
    for (u, v) in x.iter().zip(y) {
        if u.is_finite() && v.is_finite() {
            n += 1;
            eq += usize::from(u == v);
            flip += usize::from(*u == 1.0 - v);
        }
    }
    if n == 0 {
        (0.0, 0.0)
    } else {
        (eq as f64 / n as f64, flip as f64 / n as f64)
    }
}

/// Runs every pre-training check over all (feature, target) pairs. Findings are sorted by
/// feature, then check, then target.
pub fn prescan(panel: &Panel, s: &LeakageSettings) -> Vec<LeakFinding> {
    let rules: Vec<Regex> = s
        .name_patterns
        .iter()
        .filter_map(|p| Regex::new(p).ok())
        .collect();
    let lags: Vec<TargetLags> = panel
        .targets
        .iter()
        .map(|t| TargetLags::new(panel, t))
        .collect();
    let mut out: Vec<LeakFinding> = panel
        .features
        .par_iter()
        .flat_map_iter(|f| {
            let mut v = Vec::new();
            if let Some(r) = rules.iter().find(|r| r.is_match(&f.name)) {
                v.push(finding(&f.name, None, LeakCheck::NameRule, format!("name matches leakage pattern `{}`", r.as_str()), &[]));
            }
            for (t, lag) in panel.targets.iter().zip(&lags) {
                let near = match t.kind {
                    TargetKind::Regression => pooled_pearson(&f.values, &t.values)
                        .filter(|c| c.abs() >= s.near_copy_corr)
                        .map(|c| (format!("|Pearson| {:.5} with the target ≥ {}", c.abs(), s.near_copy_corr), vec![("pearson", c)])),
                    TargetKind::Binary => {
                        let (eq, flip) = binary_match(&f.values, &t.values);
                        (eq.max(flip) >= s.binary_match).then(|| {
                            (format!("equals {} on {:.3}% of rows", if eq >= flip { "y" } else { "1 − y" }, 100.0 * eq.max(flip)), vec![("match_y", eq), ("match_1_minus_y", flip)])
                        })
                    }
                };
                if let Some((reason, ev)) = near {
                    v.push(finding(&f.name, Some(&t.name), LeakCheck::NearCopy, reason, &ev));
                }
                let st = lag.stats(&f.values);
                let ic = st.ic.abs();
                let base_lag = st.ic_lagged_target.abs().max(0.02);
                let base_own = st.own_history_ic.abs().max(0.02);
                if ic >= s.lookahead_min_ic && (ic >= s.lookahead_ratio * base_lag || ic >= s.lookahead_ratio * base_own) {
                    v.push(finding(
                        &f.name,
                        Some(&t.name),
                        LeakCheck::LookAhead,
                        format!(
                            "rank IC {:.3} vs {:.3} with the target lagged one horizon and {:.3} for the target's own history",
                            st.ic, st.ic_lagged_target, st.own_history_ic
                        ),
                        &[("ic", st.ic), ("ic_lagged_target", st.ic_lagged_target), ("own_history_ic", st.own_history_ic)],
                    ));
                }
            }
            v
        })
        .collect();
    out.sort_by(|a, b| (&a.feature, a.check, &a.target).cmp(&(&b.feature, b.check, &b.target)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::{LEAK_FEATURES, SynthParams, generate};

    #[test]
    fn every_planted_leak_is_caught_and_no_informative_feature_is_flagged() {
        let panel = generate(&SynthParams {
            n_entities: 40,
            n_timestamps: 150,
            ..Default::default()
        });
        let found = prescan(&panel, &LeakageSettings::default());
        let flagged: std::collections::BTreeSet<&str> =
            found.iter().map(|f| f.feature.as_str()).collect();
        for leak in LEAK_FEATURES {
            assert!(flagged.contains(leak), "{leak} not caught: {found:#?}");
        }
        for f in &flagged {
            assert!(LEAK_FEATURES.contains(f), "false positive {f}: {found:#?}");
        }
        let has = |f: &str, c: LeakCheck| found.iter().any(|x| x.feature == f && x.check == c);
        assert!(has("leak_copy", LeakCheck::NearCopy));
        assert!(has("leak_flip", LeakCheck::NearCopy));
        assert!(has("p_up_15m", LeakCheck::NameRule));
        assert!(has("leak_future", LeakCheck::LookAhead));
        assert!(has("leak_rolling", LeakCheck::LookAhead));
    }
}

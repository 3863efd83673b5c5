//! Target ranking: every candidate target is scored out-of-sample over its purged CV folds
//! (never in-sample) with the GBDT, after the dominance quarantine; suspiciously good targets
//! are flagged for leakage review and ranked after the others.

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::Serialize;

use super::cv_eval::{CvOutcome, EvalInput, Family, evaluate};
use crate::config::LeakPolicy;
use crate::cv::CvPlan;
use crate::data::TargetKind;
use crate::leakage::{LeakCheck, LeakFinding, dominance};

/// One row of `target_ranking.csv`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetRank {
    /// 1-based rank.
    pub rank: usize,
    /// Target name.
    pub target: String,
    /// `regression` or `binary`.
    pub kind: TargetKind,
    /// Horizon in seconds.
    pub horizon_secs: i64,
    /// Composite score in [0, 1].
    pub composite: f64,
    /// Mean per-timestamp rank IC (regression) or AUC − 0.5 (binary).
    pub skill_mean: f64,
    /// Its std across timestamps.
    pub skill_std: f64,
    /// Its t-statistic (clamped to ±12).
    pub skill_t: f64,
    /// Timestamps scored.
    pub n_timestamps: usize,
    /// Pooled AUC (binary).
    pub auc: Option<f64>,
    /// Pooled R² (regression).
    pub r2: Option<f64>,
    /// Fraction of test rows scored.
    pub coverage: f64,
    /// ≥ 20 scored timestamps.
    pub eligible: bool,
    /// IC or AUC above the suspicious threshold: review for leakage.
    pub suspicious: bool,
    /// Features this target lost to the dominance quarantine.
    pub quarantined: Vec<String>,
}

/// Evaluation state of one target after ranking.
#[derive(Debug, Clone)]
pub struct TargetEval {
    /// Target index in the panel.
    pub target: usize,
    /// Feature indices used (after every exclusion).
    pub feats: Vec<usize>,
    /// GBDT outcome on those features (with permutation importances).
    pub outcome: CvOutcome,
}

fn mean_shares(importance: &[Vec<f64>]) -> Vec<f64> {
    let k = importance.first().map_or(0, Vec::len);
    (0..k)
        .map(|j| importance.iter().map(|v| v[j]).sum::<f64>() / importance.len().max(1) as f64)
        .collect()
}

/// Scores one target, running the dominance quarantine; returns its evaluation and findings.
pub fn evaluate_target(
    inp: &EvalInput,
    t: usize,
    feats: Vec<usize>,
    plan: &CvPlan,
) -> (TargetEval, Vec<LeakFinding>) {
    let s = &inp.cfg.leakage;
    let name = &inp.panel.targets[t].name;
    let mut feats = feats;
    let mut out = evaluate(inp, t, &feats, plan, Family::Gbdt, true, inp.cfg.seed);
    let mut findings = Vec::new();
    let enough = out.score.n_rows >= 500 && inp.panel.entity_names.len() >= 3;
    for _ in 0..s.max_reruns {
        let shares = mean_shares(&out.importance);
        let Some((j, share, next)) = dominance::dominant(&shares, s) else {
            break;
        };
        let fname = inp.panel.features[feats[j]].name.clone();
        let without: Vec<usize> = feats.iter().copied().filter(|&f| f != feats[j]).collect();
        if without.is_empty() || !enough {
            break;
        }
        let rerun = evaluate(inp, t, &without, plan, Family::Gbdt, true, inp.cfg.seed);
        let (before, after) = (out.score.primary(), rerun.score.primary());
        let confirmed = dominance::confirmed(before, after, s);
        let evidence = BTreeMap::from([
            ("importance_share".into(), share),
            ("next_share".into(), next),
            ("score_with".into(), before),
            ("score_without".into(), after),
        ]);
        findings.push(LeakFinding {
            feature: fname,
            target: Some(name.clone()),
            check: LeakCheck::Dominance,
            confirmed,
            reason: format!(
                "holds {:.0}% of importance (next {:.0}%); score {before:.4} → {after:.4} without it: {}",
                share * 100.0,
                next * 100.0,
                if confirmed { "leak confirmed" } else { "not confirmed, kept" }
            ),
            evidence,
            action: String::new(),
        });
        if !confirmed {
            break;
        }
        if s.policy == LeakPolicy::Drop {
            feats = without;
            out = rerun;
        } else {
            break;
        }
    }
    (
        TargetEval {
            target: t,
            feats,
            outcome: out,
        },
        findings,
    )
}

/// Sorts and numbers the ranking: clean, eligible targets first by composite (ties, e.g. when
/// t saturates at 12, by skill); then suspicious ones; then ineligible ones.
pub fn order(table: &mut [TargetRank]) {
    table.sort_by(|a, b| {
        let class = |r: &TargetRank| (!r.eligible as u8) * 2 + r.suspicious as u8;
        class(a)
            .cmp(&class(b))
            .then(b.composite.total_cmp(&a.composite))
            .then(b.skill_mean.total_cmp(&a.skill_mean))
            .then(a.target.cmp(&b.target))
    });
    for (i, r) in table.iter_mut().enumerate() {
        r.rank = i + 1;
    }
}

/// Ranks every target; `feats` are the features left after the pre-scan, `plans[t]` the folds.
pub fn rank_targets(
    inp: &EvalInput,
    feats: &[usize],
    plans: &[CvPlan],
) -> (Vec<TargetRank>, Vec<TargetEval>, Vec<LeakFinding>) {
    let results: Vec<(TargetEval, Vec<LeakFinding>)> = (0..inp.panel.targets.len())
        .into_par_iter()
        .map(|t| {
            let out = evaluate_target(inp, t, feats.to_vec(), &plans[t]);
            inp.progress.tick();
            out
        })
        .collect();
    let cfg = &inp.cfg.targets;
    let mut table: Vec<TargetRank> = results
        .iter()
        .map(|(ev, fs)| {
            let tc = &inp.panel.targets[ev.target];
            let sc = &ev.outcome.score;
            let suspicious = sc.rank_ic.is_some_and(|ic| ic > cfg.suspicious_ic)
                || sc.auc.is_some_and(|a| a > cfg.suspicious_auc);
            TargetRank {
                rank: 0,
                target: tc.name.clone(),
                kind: tc.kind,
                horizon_secs: tc.horizon_secs,
                composite: sc.composite,
                skill_mean: sc.skill.mean,
                skill_std: sc.skill.std,
                skill_t: sc.skill.t,
                n_timestamps: sc.skill.n,
                auc: sc.auc,
                r2: sc.r2,
                coverage: sc.coverage,
                eligible: sc.eligible,
                suspicious,
                quarantined: fs
                    .iter()
                    .filter(|f| f.confirmed && inp.cfg.leakage.policy == LeakPolicy::Drop)
                    .map(|f| f.feature.clone())
                    .collect(),
            }
        })
        .collect();
    order(&mut table);
    let (evals, findings): (Vec<TargetEval>, Vec<Vec<LeakFinding>>) = results.into_iter().unzip();
    (table, evals, findings.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(
        target: &str,
        composite: f64,
        skill: f64,
        suspicious: bool,
        eligible: bool,
    ) -> TargetRank {
        TargetRank {
            rank: 0,
            target: target.into(),
            kind: TargetKind::Regression,
            horizon_secs: 900,
            composite,
            skill_mean: skill,
            skill_std: 0.1,
            skill_t: 3.0,
            n_timestamps: 100,
            auc: None,
            r2: None,
            coverage: 1.0,
            eligible,
            suspicious,
            quarantined: vec![],
        }
    }

    #[test]
    fn suspicious_and_ineligible_targets_rank_last() {
        let mut t = vec![
            row("leaky", 0.98, 0.9, true, true),
            row("thin", 0.0, 0.3, false, false),
            row("b", 0.98, 0.05, false, true),
            row("a", 0.98, 0.2, false, true),
            row("c", 0.6, 0.01, false, true),
        ];
        order(&mut t);
        let names: Vec<&str> = t.iter().map(|r| r.target.as_str()).collect();
        assert_eq!(names, ["a", "b", "c", "leaky", "thin"]);
        assert_eq!(t[4].rank, 5);
    }
}

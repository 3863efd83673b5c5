//! Target ranking: every candidate target is scored out-of-sample over its purged CV folds
//! (never in-sample) with the GBDT, after the dominance quarantine, by the per-timestamp rank
//! IC of its prediction (one scale for regression and binary targets) with a Newey–West
//! standard error. Targets are ranked by the lower end of the 95 % interval; pairs whose
//! paired difference cannot be told from 0 are reported. Suspiciously good targets are flagged
//! for leakage review and ranked after the others.

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::Serialize;

use super::cv_eval::{CvOutcome, EvalInput, Family, evaluate};
use crate::config::LeakPolicy;
use crate::cv::CvPlan;
use crate::data::TargetKind;
use crate::leakage::{LeakCheck, LeakFinding, dominance};
use crate::metrics::paired_difference;

/// One ranked target (a row of `target_ranking.csv`).
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
    /// Mean per-timestamp rank IC of the out-of-sample prediction against the label (both
    /// kinds of target, one scale).
    pub skill: f64,
    /// Its Newey–West standard error.
    pub skill_se: f64,
    /// Lower end of its 95 % interval: what targets are ranked by.
    pub skill_lo: f64,
    /// Upper end of its 95 % interval.
    pub skill_hi: f64,
    /// `skill / skill_se`.
    pub skill_t: f64,
    /// Timestamps scored.
    pub n_timestamps: usize,
    /// Mean per-timestamp rank IC of each fold's test block.
    pub fold_skill: Vec<f64>,
    /// FoxML's composite score in [0, 1] (reported, not ranked by: it saturates).
    pub composite: f64,
    /// Pooled AUC (binary).
    pub auc: Option<f64>,
    /// Mean per-timestamp AUC − 0.5 (binary).
    pub auc_excess: Option<f64>,
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
    /// Other ranked targets whose skill this one's cannot be told from (the 95 % interval of
    /// the paired difference contains 0).
    pub indistinct_from: Vec<String>,
}

/// Two ranked targets whose skill cannot be told apart.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Indistinct {
    /// The better-ranked target.
    pub a: String,
    /// The other one.
    pub b: String,
    /// Mean per-timestamp difference of their rank ICs, `a − b`.
    pub diff: f64,
    /// Its Newey–West standard error.
    pub diff_se: f64,
}

/// Evaluation state of one target after ranking.
#[derive(Debug, Clone)]
pub struct TargetEval {
    /// Target index in the panel.
    pub target: usize,
    /// Target name.
    pub name: String,
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
    let mut out = evaluate(inp, t, &feats, plan, Family::Gbdt, true, true, inp.cfg.seed);
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
        let rerun = evaluate(
            inp,
            t,
            &without,
            plan,
            Family::Gbdt,
            true,
            true,
            inp.cfg.seed,
        );
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
            name: name.clone(),
            feats,
            outcome: out,
        },
        findings,
    )
}

/// Sorts and numbers the ranking: clean, eligible targets first by the lower end of their
/// skill's 95 % interval (then by skill, then by name); then suspicious ones; then ineligible
/// ones.
pub fn order(table: &mut [TargetRank]) {
    table.sort_by(|a, b| {
        let class = |r: &TargetRank| (!r.eligible as u8) * 2 + r.suspicious as u8;
        class(a)
            .cmp(&class(b))
            .then(b.skill_lo.total_cmp(&a.skill_lo))
            .then(b.skill.total_cmp(&a.skill))
            .then(a.target.cmp(&b.target))
    });
    for (i, r) in table.iter_mut().enumerate() {
        r.rank = i + 1;
    }
}

/// The ranking row of an evaluated target.
fn rank_row(inp: &EvalInput, ev: &TargetEval, findings: &[LeakFinding]) -> TargetRank {
    let cfg = &inp.cfg.targets;
    let tc = &inp.panel.targets[ev.target];
    let sc = &ev.outcome.score;
    let suspicious = match tc.kind {
        TargetKind::Regression => sc.skill.mean > cfg.suspicious_ic,
        TargetKind::Binary => sc.auc.is_some_and(|a| a > cfg.suspicious_auc),
    };
    TargetRank {
        rank: 0,
        target: tc.name.clone(),
        kind: tc.kind,
        horizon_secs: tc.horizon_secs,
        skill: sc.skill.mean,
        skill_se: sc.skill.se,
        skill_lo: sc.skill.lo,
        skill_hi: sc.skill.hi,
        skill_t: sc.skill.t,
        n_timestamps: sc.skill.n,
        fold_skill: ev.outcome.fold_skill.clone(),
        composite: sc.composite,
        auc: sc.auc,
        auc_excess: sc.auc_excess,
        r2: sc.r2,
        coverage: sc.coverage,
        eligible: sc.eligible,
        suspicious,
        quarantined: findings
            .iter()
            .filter(|f| f.confirmed && inp.cfg.leakage.policy == LeakPolicy::Drop)
            .map(|f| f.feature.clone())
            .collect(),
        indistinct_from: Vec::new(),
    }
}

/// Pairs of clean, eligible targets (in rank order) whose paired skill difference has a 95 %
/// interval containing 0; fills each row's `indistinct_from`.
pub fn indistinct_pairs(table: &mut [TargetRank], evals: &[TargetEval]) -> Vec<Indistinct> {
    let series = |name: &str| {
        evals
            .iter()
            .find(|e| e.name == name)
            .map(|e| &e.outcome.series)
            .expect("every ranked target was evaluated")
    };
    let ranked: Vec<usize> = (0..table.len())
        .filter(|&i| table[i].eligible && !table[i].suspicious)
        .collect();
    let mut out = Vec::new();
    for (k, &i) in ranked.iter().enumerate() {
        for &j in &ranked[k + 1..] {
            let d = paired_difference(series(&table[i].target), series(&table[j].target));
            if d.n > 1 && d.lo <= 0.0 && d.hi >= 0.0 {
                out.push(Indistinct {
                    a: table[i].target.clone(),
                    b: table[j].target.clone(),
                    diff: d.mean,
                    diff_se: d.se,
                });
            }
        }
    }
    for p in &out {
        for r in table.iter_mut() {
            if r.target == p.a {
                r.indistinct_from.push(p.b.clone());
            } else if r.target == p.b {
                r.indistinct_from.push(p.a.clone());
            }
        }
    }
    out
}

/// What target ranking produced.
pub struct Ranking {
    /// Ranked targets, best first.
    pub table: Vec<TargetRank>,
    /// Pairs of targets that cannot be told apart.
    pub indistinct: Vec<Indistinct>,
    /// Evaluation of each target, in panel order.
    pub evals: Vec<TargetEval>,
    /// Dominance-quarantine findings.
    pub findings: Vec<LeakFinding>,
}

/// Ranks every target; `feats` are the features left after the pre-scan, `plans[t]` the folds.
pub fn rank_targets(inp: &EvalInput, feats: &[usize], plans: &[CvPlan]) -> Ranking {
    let results: Vec<(TargetEval, Vec<LeakFinding>)> = (0..inp.panel.targets.len())
        .into_par_iter()
        .map(|t| {
            let out = evaluate_target(inp, t, feats.to_vec(), &plans[t]);
            inp.progress.tick();
            out
        })
        .collect();
    let mut table: Vec<TargetRank> = results
        .iter()
        .map(|(ev, fs)| rank_row(inp, ev, fs))
        .collect();
    order(&mut table);
    let (evals, findings): (Vec<TargetEval>, Vec<Vec<LeakFinding>>) = results.into_iter().unzip();
    let indistinct = indistinct_pairs(&mut table, &evals);
    Ranking {
        table,
        indistinct,
        evals,
        findings: findings.into_iter().flatten().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(target: &str, skill: f64, se: f64, suspicious: bool, eligible: bool) -> TargetRank {
        TargetRank {
            rank: 0,
            target: target.into(),
            kind: TargetKind::Regression,
            horizon_secs: 900,
            skill,
            skill_se: se,
            skill_lo: skill - 1.96 * se,
            skill_hi: skill + 1.96 * se,
            skill_t: skill / se,
            n_timestamps: 100,
            fold_skill: vec![],
            composite: 0.98,
            auc: None,
            auc_excess: None,
            r2: None,
            coverage: 1.0,
            eligible,
            suspicious,
            quarantined: vec![],
            indistinct_from: vec![],
        }
    }

    #[test]
    fn ranked_by_lower_bound_with_suspicious_and_ineligible_last() {
        let mut t = vec![
            row("leaky", 0.9, 0.01, true, true),
            row("thin", 0.3, 0.01, false, false),
            // Higher skill but so uncertain that its lower bound is below b's.
            row("noisy", 0.25, 0.1, false, true),
            row("b", 0.15, 0.01, false, true),
            row("a", 0.2, 0.01, false, true),
        ];
        order(&mut t);
        let names: Vec<&str> = t.iter().map(|r| r.target.as_str()).collect();
        assert_eq!(names, ["a", "b", "noisy", "leaky", "thin"]);
        assert_eq!(t[4].rank, 5);
    }
}

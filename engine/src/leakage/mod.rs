//! Leakage controls: a pre-training scan (name rules, near-copies, look-ahead) and the
//! post-training dominance quarantine, with the policy (`drop | warn | strict`) applied to the
//! findings. Every decision carries its evidence for `leakage_report.json`.

pub mod dominance;
mod lookahead;
pub mod scan;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::LeakPolicy;
use crate::error::{EngineError, Result};

/// Which check produced a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LeakCheck {
    /// The feature's name matches a leakage pattern.
    NameRule,
    /// The feature (nearly) copies a target.
    NearCopy,
    /// The feature knows the future: far better than lagged baselines.
    LookAhead,
    /// The feature dominated importance and the score collapsed without it.
    Dominance,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeakFinding {
    /// Feature.
    pub feature: String,
    /// Target it leaks (none for name rules).
    pub target: Option<String>,
    /// Check.
    pub check: LeakCheck,
    /// Whether it is a confirmed leak (dominance suspects may be cleared).
    pub confirmed: bool,
    /// Human-readable explanation.
    pub reason: String,
    /// Numbers behind the decision.
    pub evidence: BTreeMap<String, f64>,
    /// What was done: `dropped`, `reported` or `kept`.
    pub action: String,
}

/// The leakage section of a run report.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct LeakageReport {
    /// Policy in force.
    pub policy: String,
    /// Findings, sorted by feature then check.
    pub findings: Vec<LeakFinding>,
    /// Features excluded from every target by the pre-scan.
    pub dropped: Vec<String>,
}

/// Applies the policy to confirmed findings: fills `action`, and returns the features to
/// exclude (sorted). `strict` fails on any confirmed finding.
pub fn apply_policy(findings: &mut [LeakFinding], policy: LeakPolicy) -> Result<Vec<String>> {
    let mut leaking: Vec<String> = findings
        .iter()
        .filter(|f| f.confirmed)
        .map(|f| f.feature.clone())
        .collect();
    leaking.sort();
    leaking.dedup();
    if policy == LeakPolicy::Strict && !leaking.is_empty() {
        return Err(EngineError::Leakage(leaking));
    }
    for f in findings.iter_mut() {
        f.action = match (f.confirmed, policy) {
            (false, _) => "kept",
            (true, LeakPolicy::Drop) => "dropped",
            (true, _) => "reported",
        }
        .into();
    }
    Ok(if policy == LeakPolicy::Drop {
        leaking
    } else {
        Vec::new()
    })
}

/// Policy name as written in configs.
pub fn policy_name(p: LeakPolicy) -> &'static str {
    match p {
        LeakPolicy::Drop => "drop",
        LeakPolicy::Warn => "warn",
        LeakPolicy::Strict => "strict",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(feature: &str, confirmed: bool) -> LeakFinding {
        LeakFinding {
            feature: feature.into(),
            target: None,
            check: LeakCheck::NameRule,
            confirmed,
            reason: String::new(),
            evidence: BTreeMap::new(),
            action: String::new(),
        }
    }

    #[test]
    fn policies() {
        let mut f = vec![finding("b", true), finding("a", true), finding("c", false)];
        assert_eq!(
            apply_policy(&mut f, LeakPolicy::Drop).unwrap(),
            vec!["a", "b"]
        );
        assert_eq!(f[2].action, "kept");
        assert!(apply_policy(&mut f, LeakPolicy::Warn).unwrap().is_empty());
        assert_eq!(f[0].action, "reported");
        assert!(
            matches!(apply_policy(&mut f, LeakPolicy::Strict), Err(EngineError::Leakage(v)) if v == ["a", "b"])
        );
    }
}

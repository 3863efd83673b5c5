//! The run summary printed on stdout, in three modes: human (aligned tables), JSON and TOON.

use std::path::Path;

use serde::Serialize;

use crate::config::{ExperimentConfig, SummaryFormat};
use crate::pipeline::RunResult;
use crate::pipeline::ranking::Indistinct;
use crate::repro::DriftRow;

/// Data section.
#[derive(Debug, Clone, Serialize)]
pub struct DataSummary {
    /// Rows read.
    pub rows_read: usize,
    /// Rows kept.
    pub rows_kept: usize,
    /// Timestamps kept.
    pub timestamps: usize,
    /// Entities kept.
    pub entities: usize,
}

/// One ranked target.
#[derive(Debug, Clone, Serialize)]
pub struct RankRow {
    /// Rank.
    pub rank: usize,
    /// Target.
    pub target: String,
    /// Kind.
    pub kind: String,
    /// Mean per-timestamp rank IC of the out-of-sample prediction (both kinds).
    pub skill: f64,
    /// Its standard error (Newey–West).
    pub se: f64,
    /// Lower end of its 95 % interval (the ranking key).
    pub lo: f64,
    /// Upper end of its 95 % interval.
    pub hi: f64,
    /// `skill / se`.
    pub t: f64,
    /// FoxML composite score.
    pub composite: f64,
    /// Pooled AUC (binary).
    pub auc: Option<f64>,
    /// Flagged for leakage review.
    pub suspicious: bool,
    /// Eligible.
    pub eligible: bool,
}

/// One leakage finding.
#[derive(Debug, Clone, Serialize)]
pub struct LeakRow {
    /// Feature.
    pub feature: String,
    /// Target (empty for name rules).
    pub target: String,
    /// Check.
    pub check: String,
    /// Action.
    pub action: String,
}

/// One trained model.
#[derive(Debug, Clone, Serialize)]
pub struct ModelRow {
    /// Target.
    pub target: String,
    /// Family.
    pub family: String,
    /// Selected features.
    pub n_features: usize,
    /// Mean per-timestamp rank IC out-of-sample.
    pub skill: f64,
    /// Its standard error (Newey–West).
    pub se: f64,
    /// Lower end of its 95 % interval.
    pub lo: f64,
    /// Upper end of its 95 % interval.
    pub hi: f64,
    /// Pooled AUC (binary).
    pub auc: Option<f64>,
    /// Composite.
    pub composite: f64,
}

/// Selection stability per target.
#[derive(Debug, Clone, Serialize)]
pub struct SelectionRow {
    /// Target.
    pub target: String,
    /// Top features (first five), space-separated.
    pub top: String,
    /// Mean pairwise top-k Jaccard across folds.
    pub jaccard: f64,
    /// Mean pairwise Kendall τ across folds.
    pub kendall_tau: f64,
}

/// What `fox-engine run` prints.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    /// Experiment name.
    pub name: String,
    /// Run directory.
    pub run_dir: String,
    /// Strict reproducibility key.
    pub strict_key: String,
    /// Data.
    pub data: DataSummary,
    /// Ranking.
    pub ranking: Vec<RankRow>,
    /// Pairs of ranked targets whose skill cannot be told apart.
    pub indistinct: Vec<Indistinct>,
    /// Leakage findings that were confirmed.
    pub leakage: Vec<LeakRow>,
    /// Selection.
    pub selection: Vec<SelectionRow>,
    /// Models.
    pub models: Vec<ModelRow>,
    /// Drift against the baseline.
    pub drift: Vec<DriftRow>,
}

fn name_of(v: &impl Serialize) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|x| x.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn r4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

fn r2(x: f64) -> f64 {
    (x * 1e2).round() / 1e2
}

impl RunSummary {
    /// Builds the summary of a finished run.
    pub fn new(cfg: &ExperimentConfig, r: &RunResult, dir: &Path) -> Self {
        RunSummary {
            name: cfg.name.clone().unwrap_or_default(),
            run_dir: dir.display().to_string(),
            strict_key: r.fingerprints.strict_key[..16].to_string(),
            data: DataSummary {
                rows_read: r.load.rows_read,
                rows_kept: r.load.rows_kept,
                timestamps: r.load.timestamps,
                entities: r.load.entities,
            },
            ranking: r
                .ranking
                .iter()
                .map(|t| RankRow {
                    rank: t.rank,
                    target: t.target.clone(),
                    kind: name_of(&t.kind),
                    skill: r4(t.skill),
                    se: r4(t.skill_se),
                    lo: r4(t.skill_lo),
                    hi: r4(t.skill_hi),
                    t: r2(t.skill_t),
                    composite: r4(t.composite),
                    auc: t.auc.map(r4),
                    suspicious: t.suspicious,
                    eligible: t.eligible,
                })
                .collect(),
            indistinct: r.indistinct.clone(),
            leakage: r
                .leakage
                .findings
                .iter()
                .filter(|f| f.confirmed)
                .map(|f| LeakRow {
                    feature: f.feature.clone(),
                    target: f.target.clone().unwrap_or_default(),
                    check: name_of(&f.check),
                    action: f.action.clone(),
                })
                .collect(),
            selection: r
                .selections
                .iter()
                .map(|s| SelectionRow {
                    target: s.target.clone(),
                    top: s
                        .selected
                        .iter()
                        .take(5)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(" "),
                    jaccard: r4(s.stability.topk_jaccard),
                    kendall_tau: r4(s.stability.kendall_tau),
                })
                .collect(),
            models: r
                .trained
                .iter()
                .flat_map(|t| {
                    t.scores.iter().map(|(fam, s)| ModelRow {
                        target: t.target.clone(),
                        family: fam.clone(),
                        n_features: t.features.len(),
                        skill: r4(s.skill.mean),
                        se: r4(s.skill.se),
                        lo: r4(s.skill.lo),
                        hi: r4(s.skill.hi),
                        auc: s.auc.map(r4),
                        composite: r4(s.composite),
                    })
                })
                .collect(),
            drift: r.drift.clone().unwrap_or_default(),
        }
    }
}

/// Aligned text table.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut w: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<width$}", width = w[i]))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    let mut out = vec![
        line(headers.iter().map(|h| h.to_string()).collect()),
        line(w.iter().map(|n| "-".repeat(*n)).collect()),
    ];
    out.extend(rows.iter().map(|r| line(r.clone())));
    out.join("\n") + "\n"
}

fn human(s: &RunSummary) -> String {
    let mut out = format!(
        "run {} ({})\ndata: {} rows kept of {}, {} timestamps, {} entities\n\nTarget ranking (out-of-sample)\n",
        if s.name.is_empty() { "-" } else { &s.name },
        s.run_dir,
        s.data.rows_kept,
        s.data.rows_read,
        s.data.timestamps,
        s.data.entities
    );
    let rows: Vec<Vec<String>> = s
        .ranking
        .iter()
        .map(|r| {
            let flag = if r.suspicious {
                "SUSPICIOUS"
            } else if !r.eligible {
                "ineligible"
            } else {
                ""
            };
            vec![
                r.rank.to_string(),
                r.target.clone(),
                r.kind.clone(),
                format!("{:.4}", r.skill),
                format!("[{:.4}, {:.4}]", r.lo, r.hi),
                format!("{:.1}", r.t),
                format!("{:.4}", r.composite),
                flag.into(),
            ]
        })
        .collect();
    out += &table(
        &[
            "rank",
            "target",
            "kind",
            "skill",
            "95% interval",
            "t",
            "composite",
            "flag",
        ],
        &rows,
    );
    out += "skill: mean per-timestamp rank IC of the out-of-sample prediction (all kinds); ranked by the interval's lower end\n";
    for p in &s.indistinct {
        out += &format!(
            "cannot be told apart: {} and {} (difference {:.4} ± {:.4}, 95 %)\n",
            p.a,
            p.b,
            p.diff,
            crate::metrics::Z95 * p.diff_se
        );
    }
    out += &format!("\nLeakage ({} confirmed)\n", s.leakage.len());
    let rows: Vec<Vec<String>> = s
        .leakage
        .iter()
        .map(|l| {
            vec![
                l.feature.clone(),
                l.target.clone(),
                l.check.clone(),
                l.action.clone(),
            ]
        })
        .collect();
    out += &table(&["feature", "target", "check", "action"], &rows);
    out += "\nFeature selection\n";
    let rows: Vec<Vec<String>> = s
        .selection
        .iter()
        .map(|x| {
            vec![
                x.target.clone(),
                format!("{:.3}", x.jaccard),
                format!("{:.3}", x.kendall_tau),
                x.top.clone(),
            ]
        })
        .collect();
    out += &table(&["target", "jaccard", "kendall", "top features"], &rows);
    out += "\nModels (out-of-sample over CV folds)\n";
    let rows: Vec<Vec<String>> = s
        .models
        .iter()
        .map(|m| {
            vec![
                m.target.clone(),
                m.family.clone(),
                m.n_features.to_string(),
                format!("{:.4}", m.skill),
                format!("[{:.4}, {:.4}]", m.lo, m.hi),
                m.auc.map(|a| format!("{a:.4}")).unwrap_or_default(),
                format!("{:.4}", m.composite),
            ]
        })
        .collect();
    out += &table(
        &[
            "target",
            "family",
            "features",
            "skill",
            "95% interval",
            "auc",
            "composite",
        ],
        &rows,
    );
    if !s.drift.is_empty() {
        out += "\nDrift against baseline\n";
        let rows: Vec<Vec<String>> = s
            .drift
            .iter()
            .map(|d| {
                vec![
                    d.target.clone(),
                    d.family.clone(),
                    d.metric.clone(),
                    format!("{:.4}", d.baseline),
                    format!("{:.4}", d.current),
                    d.z.map(|z| format!("{z:.2}")).unwrap_or_default(),
                    format!("{:?}", d.status).to_uppercase(),
                ]
            })
            .collect();
        out += &table(
            &[
                "target", "family", "metric", "baseline", "current", "z", "status",
            ],
            &rows,
        );
    }
    out
}

/// Renders the summary in the chosen format.
pub fn render(s: &RunSummary, format: SummaryFormat) -> String {
    match format {
        SummaryFormat::Human => human(s),
        SummaryFormat::Json => crate::files::to_json(s),
        SummaryFormat::Toon => {
            crate::toon::encode(&serde_json::to_value(s).expect("serializable")) + "\n"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align() {
        let t = table(&["a", "long"], &[vec!["xyz".into(), "1".into()]]);
        assert_eq!(t, "a    long\n---  ----\nxyz  1\n");
    }
}

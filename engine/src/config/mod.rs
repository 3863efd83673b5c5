//! The experiment config: typed YAML with `deny_unknown_fields`, a committed JSON Schema, and
//! validation that lists every problem with its path.

mod structure;
mod validate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};

/// One problem found in a config, with the dotted path to the offending key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigIssue {
    /// Dotted path, e.g. `cv.n_splits` or `targets.include[1]`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", if self.path.is_empty() { "(root)" } else { &self.path }, self.message)
    }
}

/// A whole experiment: data, targets, features, CV, leakage controls, models and output.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExperimentConfig {
    /// Free-form experiment name, copied into the manifest.
    #[serde(default)]
    pub name: Option<String>,
    /// Where the panel data is and how to read it.
    pub data: DataSettings,
    /// Which columns are candidate targets and how many to keep.
    #[serde(default)]
    pub targets: TargetSettings,
    /// Which columns are features and how many to select.
    #[serde(default)]
    pub features: FeatureSettings,
    /// Purged walk-forward cross-validation.
    #[serde(default)]
    pub cv: CvSettings,
    /// Leakage scan and auto-fix.
    #[serde(default)]
    pub leakage: LeakageSettings,
    /// Model families and hyperparameters.
    #[serde(default)]
    pub models: ModelSettings,
    /// Seed for every random choice (bagging, permutation, sampling).
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Worker threads; 0 means one per core. Outputs do not depend on it.
    #[serde(default)]
    pub threads: usize,
    /// Where and how results are written.
    #[serde(default)]
    pub output: OutputSettings,
}

fn default_seed() -> u64 {
    42
}

/// Input file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum DataFormat {
    /// Chosen from the file extension.
    #[default]
    Auto,
    /// Comma-separated values with a header row.
    Csv,
    /// Apache Parquet (not supported by this build yet).
    Parquet,
}

/// Unit of integer epoch timestamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum TimestampUnit {
    /// Seconds.
    #[default]
    S,
    /// Milliseconds.
    Ms,
    /// Microseconds.
    Us,
    /// Nanoseconds.
    Ns,
}

/// What to do with ±inf in features.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum InfPolicy {
    /// Fail with the file, column and row.
    #[default]
    Error,
    /// Treat as missing (NaN).
    Missing,
}

/// Data source and panel hygiene.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DataSettings {
    /// Path to the data file (relative paths are resolved against the config file).
    pub path: PathBuf,
    /// File format.
    #[serde(default)]
    pub format: DataFormat,
    /// Timestamp column (RFC 3339 text or integer epoch).
    #[serde(default = "default_ts_col")]
    pub timestamp_col: String,
    /// Entity column (e.g. the symbol).
    #[serde(default = "default_entity_col")]
    pub entity_col: String,
    /// Unit of integer epoch timestamps.
    #[serde(default)]
    pub timestamp_unit: TimestampUnit,
    /// Drop timestamps with fewer entities than this.
    #[serde(default = "default_min_cs")]
    pub min_cs: usize,
    /// Keep at most this many rows per timestamp (seeded sample).
    #[serde(default)]
    pub max_cs_samples: Option<usize>,
    /// Keep at most this many (most recent) rows per entity.
    #[serde(default)]
    pub max_rows_per_entity: Option<usize>,
    /// What ±inf in a feature means.
    #[serde(default)]
    pub on_inf: InfPolicy,
}

fn default_ts_col() -> String {
    "ts".into()
}
fn default_entity_col() -> String {
    "symbol".into()
}
fn default_min_cs() -> usize {
    10
}

/// A span of time: a number of bars (integer) or a duration (`"75m"`, `"2h"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Span {
    /// A number of bars of the panel's bar interval.
    Bars(u64),
    /// A duration: digits then `s`, `m`, `min`, `h` or `d`.
    Duration(String),
}

impl Span {
    /// Seconds, given the panel's bar interval in seconds.
    pub fn seconds(&self, bar_secs: i64) -> Option<i64> {
        match self {
            Span::Bars(n) => Some(*n as i64 * bar_secs),
            Span::Duration(s) => crate::timefmt::parse_duration(s),
        }
    }
}

/// Candidate targets.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct TargetSettings {
    /// Explicit target columns; when non-empty, the patterns are ignored.
    pub list: Vec<String>,
    /// Regexes: a column matching any of them is a target.
    pub include: Vec<String>,
    /// Regexes: a matching column is never a target.
    pub exclude: Vec<String>,
    /// Horizon per target, overriding the one read from its name.
    pub horizons: BTreeMap<String, Span>,
    /// Horizon for targets whose name carries none.
    pub default_horizon: Span,
    /// How many top-ranked targets go on to feature selection and training.
    pub top_n: usize,
    /// Rank IC above this is flagged for leakage review instead of ranked first.
    pub suspicious_ic: f64,
    /// AUC above this is flagged for leakage review instead of ranked first.
    pub suspicious_auc: f64,
}

impl Default for TargetSettings {
    fn default() -> Self {
        Self {
            list: vec![],
            include: vec!["^(y_|fwd_ret_|target_)".into()],
            exclude: vec![],
            horizons: BTreeMap::new(),
            default_horizon: Span::Bars(1),
            top_n: 3,
            suspicious_ic: 0.5,
            suspicious_auc: 0.9,
        }
    }
}

/// Weights of each importance family in feature selection.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ImportanceWeights {
    /// GBDT split gain.
    pub gbdt_gain: f64,
    /// Absolute standardized linear coefficients.
    pub linear_coef: f64,
    /// Permutation importance on held-out folds.
    pub permutation: f64,
}

impl Default for ImportanceWeights {
    fn default() -> Self {
        Self { gbdt_gain: 1.0, linear_coef: 0.7, permutation: 1.0 }
    }
}

/// Feature columns and selection.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct FeatureSettings {
    /// Explicit feature columns; when non-empty, the patterns are ignored.
    pub list: Vec<String>,
    /// Regexes a feature must match (empty: every non-target column).
    pub include: Vec<String>,
    /// Regexes: a matching column is never a feature.
    pub exclude: Vec<String>,
    /// Features kept per target after selection.
    pub top_m: usize,
    /// k of the top-k Jaccard stability measure.
    pub stability_k: usize,
    /// Family weights of the combined importance.
    pub weights: ImportanceWeights,
    /// Held-out rows per fold used for permutation importance.
    pub permutation_max_rows: usize,
}

impl Default for FeatureSettings {
    fn default() -> Self {
        Self {
            list: vec![],
            include: vec![],
            exclude: vec![],
            top_m: 50,
            stability_k: 20,
            weights: ImportanceWeights::default(),
            permutation_max_rows: 20_000,
        }
    }
}

/// Cross-validation scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum CvScheme {
    /// Expanding window: train only on the past.
    #[default]
    WalkForward,
    /// Train on both sides of each test block, purged before and embargoed after.
    PurgedKfold,
}

/// Purged cross-validation settings.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct CvSettings {
    /// Scheme.
    pub scheme: CvScheme,
    /// Number of test folds.
    pub n_splits: usize,
    /// Gap before each test block; default: target horizon + `purge_buffer`.
    pub purge: Option<Span>,
    /// Extra bars added to the derived purge.
    pub purge_buffer: u64,
    /// Gap after each test block; default: target horizon + `purge_buffer`.
    pub embargo: Option<Span>,
}

impl Default for CvSettings {
    fn default() -> Self {
        Self { scheme: CvScheme::WalkForward, n_splits: 5, purge: None, purge_buffer: 5, embargo: None }
    }
}

/// What to do with detected leaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum LeakPolicy {
    /// Exclude leaking features and report them.
    #[default]
    Drop,
    /// Report only.
    Warn,
    /// Fail the run.
    Strict,
}

/// Leakage scan thresholds.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct LeakageSettings {
    /// Policy for detected leaks.
    pub policy: LeakPolicy,
    /// Regexes for features that are targets in disguise.
    pub name_patterns: Vec<String>,
    /// |Pearson| with a regression target at or above this is a near-copy.
    pub near_copy_corr: f64,
    /// Fraction of rows equal to y or 1−y (binary target) at or above which it is a near-copy.
    pub binary_match: f64,
    /// Look-ahead: minimum |rank IC| with the target before a feature is suspected.
    pub lookahead_min_ic: f64,
    /// Look-ahead: IC must exceed this multiple of the lagged-target baselines.
    pub lookahead_ratio: f64,
    /// Dominance: share of importance that alone makes a feature suspect.
    pub dominance_share: f64,
    /// Dominance: share that makes a feature suspect when also `dominance_ratio`× the next.
    pub dominance_share_with_ratio: f64,
    /// Dominance: ratio to the next feature's share.
    pub dominance_ratio: f64,
    /// Leak confirmed when the score drops by this much (absolute) without the feature.
    pub confirm_abs_drop: f64,
    /// Leak confirmed when the score drops by this fraction without the feature.
    pub confirm_rel_drop: f64,
    /// Maximum dominance reruns per target.
    pub max_reruns: usize,
}

impl Default for LeakageSettings {
    fn default() -> Self {
        Self {
            policy: LeakPolicy::Drop,
            name_patterns: ["^y_", "^p_", "fwd_ret_", "^target_", "barrier_", "^mfe_", "^mdd_", "^tth_"]
                .map(String::from)
                .to_vec(),
            near_copy_corr: 0.999,
            binary_match: 0.999,
            lookahead_min_ic: 0.2,
            lookahead_ratio: 3.0,
            dominance_share: 0.40,
            dominance_share_with_ratio: 0.30,
            dominance_ratio: 3.0,
            confirm_abs_drop: 0.15,
            confirm_rel_drop: 0.25,
            max_reruns: 3,
        }
    }
}

/// Model families.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ModelSettings {
    /// Histogram gradient-boosted trees.
    pub gbdt: GbdtSettings,
    /// Ridge regression (regression targets) and L2 logistic regression (binary targets).
    pub linear: LinearSettings,
}

/// GBDT hyperparameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct GbdtSettings {
    /// Number of boosting rounds.
    pub n_trees: usize,
    /// Maximum leaves per tree (leaf-wise growth).
    pub num_leaves: usize,
    /// Shrinkage.
    pub learning_rate: f64,
    /// Minimum rows in a leaf.
    pub min_data_in_leaf: usize,
    /// L2 regularisation of leaf values.
    pub lambda_l2: f64,
    /// Fraction of features sampled per tree.
    pub feature_fraction: f64,
    /// Fraction of rows sampled per tree.
    pub bagging_fraction: f64,
    /// Maximum histogram bins per feature (≤ 255).
    pub max_bins: usize,
}

impl Default for GbdtSettings {
    fn default() -> Self {
        Self {
            n_trees: 100,
            num_leaves: 31,
            learning_rate: 0.1,
            min_data_in_leaf: 20,
            lambda_l2: 1.0,
            feature_fraction: 1.0,
            bagging_fraction: 1.0,
            max_bins: 255,
        }
    }
}

/// Linear model hyperparameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct LinearSettings {
    /// Fit linear models at all.
    pub enabled: bool,
    /// L2 penalty on standardized coefficients (per row).
    pub alpha: f64,
    /// Newton iterations for logistic regression.
    pub max_iter: usize,
}

impl Default for LinearSettings {
    fn default() -> Self {
        Self { enabled: true, alpha: 1.0, max_iter: 20 }
    }
}

/// Summary format on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum SummaryFormat {
    /// Aligned tables.
    #[default]
    Human,
    /// JSON.
    Json,
    /// Token-Oriented Object Notation.
    Toon,
}

/// Output settings.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct OutputSettings {
    /// Run directory (created; existing files are overwritten).
    pub dir: PathBuf,
    /// Default summary format on stdout.
    pub format: SummaryFormat,
    /// Save the final models.
    pub save_models: bool,
}

impl Default for OutputSettings {
    fn default() -> Self {
        Self { dir: PathBuf::from("runs/latest"), format: SummaryFormat::Human, save_models: true }
    }
}

impl ExperimentConfig {
    /// Parses YAML text, checking its structure against the schema (all unknown keys, wrong
    /// types, missing keys) and then its values; every problem is reported.
    pub fn from_yaml_str(text: &str) -> Result<Self> {
        let value: serde_json::Value = serde_yaml_ng::from_str(text).map_err(|e| {
            EngineError::Config(vec![ConfigIssue { path: String::new(), message: format!("not valid YAML: {e}") }])
        })?;
        let issues = structure::check(&value, &json_schema());
        if !issues.is_empty() {
            return Err(EngineError::Config(issues));
        }
        let cfg: Self = serde_json::from_value(value).map_err(|e| {
            EngineError::Config(vec![ConfigIssue { path: String::new(), message: e.to_string() }])
        })?;
        let issues = validate::check(&cfg);
        if issues.is_empty() { Ok(cfg) } else { Err(EngineError::Config(issues)) }
    }

    /// Reads and validates a config file; a relative `data.path` is resolved against the
    /// file's directory.
    pub fn from_path(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| EngineError::io(path, e))?;
        let mut cfg = Self::from_yaml_str(&text)?;
        if cfg.data.path.is_relative()
            && let Some(dir) = path.parent()
        {
            cfg.data.path = dir.join(&cfg.data.path);
        }
        Ok(cfg)
    }
}

/// The JSON Schema of [`ExperimentConfig`], pretty-printed as committed in
/// `engine/schema/experiment.schema.json`.
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(ExperimentConfig)).expect("schema serializes")
}

/// The schema as the text committed to the repository.
pub fn json_schema_text() -> String {
    serde_json::to_string_pretty(&json_schema()).expect("schema serializes") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "data:\n  path: panel.csv\n";

    #[test]
    fn minimal_config_gets_defaults() {
        let cfg = ExperimentConfig::from_yaml_str(MINIMAL).unwrap();
        assert_eq!(cfg.data.min_cs, 10);
        assert_eq!(cfg.targets.include, vec!["^(y_|fwd_ret_|target_)".to_string()]);
        assert_eq!(cfg.cv.n_splits, 5);
        assert_eq!(cfg.seed, 42);
    }

    #[test]
    fn committed_schema_matches_the_types() {
        let committed = include_str!("../../schema/experiment.schema.json");
        assert_eq!(
            committed,
            json_schema_text(),
            "schema drifted: run `cargo run -p fox-engine -- schema > engine/schema/experiment.schema.json`"
        );
    }

    #[test]
    fn reports_every_structural_problem_with_its_path() {
        let text = "data:\n  path: p.csv\n  min_cs: lots\n  colour: red\ncv:\n  n_split: 3\nseed: -1\n";
        let Err(EngineError::Config(issues)) = ExperimentConfig::from_yaml_str(text) else { panic!() };
        let paths: Vec<_> = issues.iter().map(|i| i.path.as_str()).collect();
        assert!(paths.contains(&"data.min_cs"), "{issues:?}");
        assert!(paths.contains(&"data.colour"), "{issues:?}");
        assert!(paths.contains(&"cv.n_split"), "{issues:?}");
        assert!(paths.contains(&"seed"), "{issues:?}");
    }

    #[test]
    fn reports_every_semantic_problem_with_its_path() {
        let text = "data:\n  path: p.csv\ncv:\n  n_splits: 1\n  purge: 15x\ntargets:\n  include: ['(']\n  \
                    suspicious_auc: 1.5\nmodels:\n  gbdt:\n    max_bins: 900\n    learning_rate: 0\n";
        let Err(EngineError::Config(issues)) = ExperimentConfig::from_yaml_str(text) else { panic!() };
        let paths: Vec<_> = issues.iter().map(|i| i.path.as_str()).collect();
        for p in ["cv.n_splits", "cv.purge", "targets.include[0]", "targets.suspicious_auc", "models.gbdt.max_bins", "models.gbdt.learning_rate"] {
            assert!(paths.contains(&p), "missing {p} in {issues:?}");
        }
    }

    #[test]
    fn example_templates_are_valid() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
        let mut n = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                ExperimentConfig::from_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                n += 1;
            }
        }
        assert!(n >= 3, "expected the three templates, found {n}");
    }
}

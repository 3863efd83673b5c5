//! Config sections about the run: leakage controls, models and output.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

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
            name_patterns: [
                "^y_", "^p_", "fwd_ret_", "^target_", "barrier_", "^mfe_", "^mdd_", "^tth_",
            ]
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
    /// Target ranking only: a fit stops once this many trees in a row have not lowered its
    /// loss on a validation block (the last `validation_fraction` of its training rows in
    /// time, purged by the target's horizon) and keeps its best number of trees. 0: every
    /// fit grows `n_trees` trees on all its training rows.
    pub early_stopping_rounds: usize,
    /// Share of a ranking fit's training rows (the latest) held out for early stopping.
    pub validation_fraction: f64,
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
            early_stopping_rounds: 0,
            validation_fraction: 0.2,
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
        Self {
            enabled: true,
            alpha: 1.0,
            max_iter: 20,
        }
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
    /// Run directory (created; existing files are overwritten); relative to the config file.
    pub dir: PathBuf,
    /// Default summary format on stdout.
    pub format: SummaryFormat,
    /// Save the final models.
    pub save_models: bool,
}

impl Default for OutputSettings {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("runs/latest"),
            format: SummaryFormat::Human,
            save_models: true,
        }
    }
}

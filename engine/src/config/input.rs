//! Config sections about the input: data source and hygiene, targets, features and CV.

use std::collections::BTreeMap;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Input file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum DataFormat {
    /// Chosen from the file extension.
    #[default]
    Auto,
    /// Comma-separated values with a header row.
    Csv,
    /// Apache Parquet (flat schema; snappy, zstd, lz4, gzip or uncompressed).
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

impl DataSettings {
    /// Settings for the file at `path` with every other key at its default.
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            format: DataFormat::default(),
            timestamp_col: default_ts_col(),
            entity_col: default_entity_col(),
            timestamp_unit: TimestampUnit::default(),
            min_cs: default_min_cs(),
            max_cs_samples: None,
            max_rows_per_entity: None,
            on_inf: InfPolicy::default(),
        }
    }

    /// Whether the input is read as Parquet: `format: parquet`, or `auto` with a `.parquet`
    /// (or `.pq`) extension.
    pub fn is_parquet(&self) -> bool {
        match self.format {
            DataFormat::Parquet => true,
            DataFormat::Csv => false,
            DataFormat::Auto => DataFormat::from_extension(&self.path) == Some(DataFormat::Parquet),
        }
    }
}

impl DataFormat {
    /// The format a file's extension names: `.csv`, or `.parquet` / `.pq` (any case).
    pub fn from_extension(path: &std::path::Path) -> Option<DataFormat> {
        let e = path.extension()?;
        if e.eq_ignore_ascii_case("csv") {
            Some(DataFormat::Csv)
        } else if e.eq_ignore_ascii_case("parquet") || e.eq_ignore_ascii_case("pq") {
            Some(DataFormat::Parquet)
        } else {
            None
        }
    }
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
        Self {
            gbdt_gain: 1.0,
            linear_coef: 0.7,
            permutation: 1.0,
        }
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
        Self {
            scheme: CvScheme::WalkForward,
            n_splits: 5,
            purge: None,
            purge_buffer: 5,
            embargo: None,
        }
    }
}

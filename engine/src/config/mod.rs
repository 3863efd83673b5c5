//! The experiment config: typed YAML with `deny_unknown_fields`, a committed JSON Schema, and
//! validation that lists every problem with its path.

mod input;
mod run;
mod structure;
mod validate;

pub use input::*;
pub use run::*;

use std::path::Path;

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
        write!(
            f,
            "{}: {}",
            if self.path.is_empty() {
                "(root)"
            } else {
                &self.path
            },
            self.message
        )
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

impl ExperimentConfig {
    /// An experiment on `data` with every other section at its defaults.
    pub fn new(data: DataSettings) -> Self {
        Self {
            name: None,
            data,
            targets: TargetSettings::default(),
            features: FeatureSettings::default(),
            cv: CvSettings::default(),
            leakage: LeakageSettings::default(),
            models: ModelSettings::default(),
            seed: default_seed(),
            threads: 0,
            output: OutputSettings::default(),
        }
    }

    /// Parses YAML text, checking its structure against the schema (all unknown keys, wrong
    /// types, missing keys) and then its values; every problem is reported.
    pub fn from_yaml_str(text: &str) -> Result<Self> {
        let value: serde_json::Value = serde_yaml_ng::from_str(text).map_err(|e| {
            EngineError::Config(vec![ConfigIssue {
                path: String::new(),
                message: format!("not valid YAML: {e}"),
            }])
        })?;
        let mut issues = structure::check(&value, &json_schema());
        if !issues.is_empty() {
            // Drop unknown keys and try again, so that value problems elsewhere are listed too.
            let mut pruned = value;
            for i in issues
                .iter()
                .filter(|i| i.message.starts_with("unknown key"))
            {
                let mut parts: Vec<&str> = i.path.split('.').collect();
                let last = parts.pop().unwrap_or_default();
                let parent = parts.iter().try_fold(&mut pruned, |v, k| v.get_mut(*k));
                if let Some(obj) = parent.and_then(|v| v.as_object_mut()) {
                    obj.remove(last);
                }
            }
            if let Ok(cfg) = serde_json::from_value::<Self>(pruned) {
                issues.extend(validate::check(&cfg));
            }
            return Err(EngineError::Config(issues));
        }
        let cfg: Self = serde_json::from_value(value).map_err(|e| {
            EngineError::Config(vec![ConfigIssue {
                path: String::new(),
                message: e.to_string(),
            }])
        })?;
        let issues = validate::check(&cfg);
        if issues.is_empty() {
            Ok(cfg)
        } else {
            Err(EngineError::Config(issues))
        }
    }

    /// Reads and validates a config file; relative `data.path` and `output.dir` are resolved
    /// against the file's directory.
    pub fn from_path(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| EngineError::io(path, e))?;
        let mut cfg = Self::from_yaml_str(&text)?;
        if let Some(dir) = path.parent() {
            for p in [&mut cfg.data.path, &mut cfg.output.dir] {
                if p.is_relative() {
                    *p = dir.join(&*p);
                }
            }
        }
        Ok(cfg)
    }
}

impl ExperimentConfig {
    /// The config as recorded in run outputs and fingerprints: every default filled in, and
    /// without `threads`, which changes how fast a run is but never what it produces.
    pub fn resolved(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).expect("config serializes");
        if let Some(m) = v.as_object_mut() {
            m.remove("threads");
        }
        v
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
    fn file_extensions_name_the_format() {
        use std::path::Path;
        let f = |p: &str| DataFormat::from_extension(Path::new(p));
        assert_eq!(f("a/panel.csv"), Some(DataFormat::Csv));
        assert_eq!(f("panel.CSV"), Some(DataFormat::Csv));
        assert_eq!(f("panel.parquet"), Some(DataFormat::Parquet));
        assert_eq!(f("panel.Pq"), Some(DataFormat::Parquet));
        assert_eq!(f("panel.txt"), None);
        assert_eq!(f("panel"), None);
        let mut cfg = ExperimentConfig::from_yaml_str(MINIMAL).unwrap();
        assert!(!cfg.data.is_parquet());
        cfg.data.path = "x/panel.pq".into();
        assert!(cfg.data.is_parquet());
        cfg.data.format = DataFormat::Csv;
        assert!(!cfg.data.is_parquet());
    }

    #[test]
    fn minimal_config_gets_defaults() {
        let cfg = ExperimentConfig::from_yaml_str(MINIMAL).unwrap();
        let built = ExperimentConfig::new(DataSettings::new("panel.csv".into()));
        assert_eq!(cfg.resolved(), built.resolved());
        assert_eq!(cfg.data.min_cs, 10);
        assert_eq!(
            cfg.targets.include,
            vec!["^(y_|fwd_ret_|target_)".to_string()]
        );
        assert_eq!(cfg.cv.n_splits, 5);
        assert_eq!(cfg.seed, 42);
    }

    #[test]
    fn committed_schema_matches_the_types() {
        let committed = include_str!("../../schema/experiment.schema.json");
        assert!(
            committed == json_schema_text(),
            "schema drifted: run `cargo run -p fox-engine -- schema > engine/schema/experiment.schema.json`"
        );
    }

    #[test]
    fn reports_every_structural_problem_with_its_path() {
        let text =
            "data:\n  path: p.csv\n  min_cs: lots\n  colour: red\ncv:\n  n_split: 3\nseed: -1\n";
        let Err(EngineError::Config(issues)) = ExperimentConfig::from_yaml_str(text) else {
            panic!()
        };
        let paths: Vec<_> = issues.iter().map(|i| i.path.as_str()).collect();
        assert!(paths.contains(&"data.min_cs"), "{issues:?}");
        assert!(paths.contains(&"data.colour"), "{issues:?}");
        assert!(paths.contains(&"cv.n_split"), "{issues:?}");
        assert!(paths.contains(&"seed"), "{issues:?}");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_reported_together() {
        let text = "data:\n  path: p.csv\n  colour: red\ncv:\n  n_splits: 1\n";
        let Err(EngineError::Config(issues)) = ExperimentConfig::from_yaml_str(text) else {
            panic!()
        };
        let paths: Vec<_> = issues.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(paths, ["data.colour", "cv.n_splits"], "{issues:?}");
    }

    #[test]
    fn reports_every_semantic_problem_with_its_path() {
        let text = "data:\n  path: p.csv\ncv:\n  n_splits: 1\n  purge: 15x\ntargets:\n  include: ['(']\n  \
                    suspicious_auc: 1.5\nmodels:\n  gbdt:\n    max_bins: 900\n    learning_rate: 0\n";
        let Err(EngineError::Config(issues)) = ExperimentConfig::from_yaml_str(text) else {
            panic!()
        };
        let paths: Vec<_> = issues.iter().map(|i| i.path.as_str()).collect();
        for p in [
            "cv.n_splits",
            "cv.purge",
            "targets.include[0]",
            "targets.suspicious_auc",
            "models.gbdt.max_bins",
            "models.gbdt.learning_rate",
        ] {
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
                ExperimentConfig::from_path(&path)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                n += 1;
            }
        }
        assert!(n >= 3, "expected the three templates, found {n}");
    }
}

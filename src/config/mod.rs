//! Centralized configuration: `config/base.yaml`, then `config/{FOX_ENV}.yaml`, then
//! `FOX__SECTION__KEY` environment variables, validated as a whole so that every problem is
//! reported at once, each naming the file (or variable) and the key to fix.

mod check;
mod layers;
pub mod reference;
mod secret;
mod semantic;
mod settings;

pub use check::Problem;
pub use layers::ENV_PREFIX;
pub use secret::{REDACTED, Secret};
pub use semantic::{MIN_SESSION_KEY_LEN, is_placeholder};
pub use settings::*;

use layers::{Layered, Layers};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The deployment environment, from `FOX_ENV` (`local` by default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment(String);

impl Environment {
    /// Parses an environment name (lower-case letters, digits, `-` and `_`).
    pub fn parse(name: &str) -> Result<Self, ConfigError> {
        let ok = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(name.to_string()))
        } else {
            Err(ConfigError::one(format!(
                "FOX_ENV: expected a name like \"local\" or \"production\", got \"{name}\""
            )))
        }
    }
    pub fn local() -> Self {
        Self("local".into())
    }
    pub fn production() -> Self {
        Self("production".into())
    }
    pub fn name(&self) -> &str {
        &self.0
    }
    /// Production turns on the strict checks (real secrets, SMTP, https) and HSTS.
    pub fn is_production(&self) -> bool {
        self.0 == "production"
    }
}

/// Every problem found in a configuration, one complete message per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub problems: Vec<String>,
}

impl ConfigError {
    fn one(msg: String) -> Self {
        Self {
            problems: vec![msg],
        }
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "invalid configuration ({} problem{}):",
            self.problems.len(),
            if self.problems.len() == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            write!(f, "\n  {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// A validated configuration and where it came from.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    pub settings: Settings,
    pub environment: Environment,
    /// The files and variables that were layered, in order.
    pub sources: Vec<String>,
}

/// The JSON Schema of the settings, as committed in `config/schema.json`.
pub fn schema() -> Value {
    let schema = schemars::generate::SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<Settings>();
    serde_json::to_value(schema).expect("the settings schema serializes")
}

/// Loads `base.yaml` and `{env}.yaml` from `dir`, then the `FOX__…` variables in `vars`.
pub fn load(
    dir: &Path,
    env: &Environment,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<LoadedConfig, ConfigError> {
    let files = [
        dir.join("base.yaml"),
        dir.join(format!("{}.yaml", env.name())),
    ];
    load_layers(&files, env, vars)
}

/// Layers the given YAML files in order, then the variables, and validates the result.
pub fn load_layers(
    files: &[PathBuf],
    env: &Environment,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<LoadedConfig, ConfigError> {
    let schema = schema();
    let vars: Vec<(String, String)> = vars
        .into_iter()
        .filter(|(k, _)| k.starts_with(ENV_PREFIX))
        .collect();
    let mut sources: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    sources.extend(vars.iter().map(|(k, _)| format!("env {k}")));
    // The built-in defaults are the bottom layer, so that a file or variable may set one key of
    // a nested setting (e.g. FOX__RATE_LIMIT__LOGIN__MAX_REQUESTS) and keep the rest.
    let layered = Layered::build(
        Layers {
            defaults: serde_json::to_value(Settings::default()).expect("defaults serialize"),
            files,
            vars,
        },
        |path| check::schema_at(&schema, path).is_some_and(check::accepts_string),
    )
    .map_err(|problems| ConfigError { problems })?;

    let describe = |problems: Vec<Problem>| -> Vec<String> {
        problems
            .into_iter()
            .map(|p| {
                let origin = layered
                    .origin_of(&p.blame)
                    .map(|o| format!("{o}: "))
                    .unwrap_or_default();
                let path = if p.path.is_empty() {
                    String::new()
                } else {
                    format!("{}: ", p.path)
                };
                format!("{origin}{path}{}", p.reason)
            })
            .collect()
    };
    let problems = check::check(&layered.tree, &schema);
    if !problems.is_empty() {
        return Err(ConfigError {
            problems: describe(problems),
        });
    }
    let settings: Settings = serde_json::from_value(layered.tree.clone()).map_err(|e| {
        ConfigError::one(format!(
            "configuration does not match the settings types: {e}"
        ))
    })?;
    let problems = semantic::check(&settings, env.is_production());
    if !problems.is_empty() {
        return Err(ConfigError {
            problems: describe(problems),
        });
    }
    Ok(LoadedConfig {
        settings,
        environment: env.clone(),
        sources,
    })
}

/// The example templates written by `fox config init`, as (file name, contents).
pub const TEMPLATES: &[(&str, &str)] = &[
    ("base.yaml", include_str!("../../config/base.yaml")),
    ("local.yaml", include_str!("../../config/local.yaml")),
    (
        "production.yaml",
        include_str!("../../config/examples/production.yaml"),
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_names_are_checked() {
        assert!(Environment::parse("production").unwrap().is_production());
        assert!(Environment::parse("Prod uction").is_err());
    }
}

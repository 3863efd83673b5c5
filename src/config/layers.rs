//! Reads the YAML layers and the `FOX__…` environment overrides into one JSON tree with the
//! `config` crate, which merges them and remembers where each value came from
//! (`config::Value::origin`), so that validation errors can name the file (or variable) to
//! fix. Our own parts: the messages for unreadable or malformed files (checked before the
//! crate reads them, so they name the file and say what is wrong in our words), and typing
//! an environment value by the schema (a string where a string is expected, else a YAML
//! scalar, so `9000` becomes a number and `true` a boolean).

use config::{Config, File, FileFormat, Source, ValueKind};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

/// Prefix of environment variables that override settings: `FOX__SERVER__PORT=9000`.
pub const ENV_PREFIX: &str = "FOX__";

/// The origin `config` gives values read from the environment.
const ENV_ORIGIN: &str = "the environment";

/// The merged tree plus, for every path, the source that set it last.
#[derive(Debug, Default)]
pub struct Layered {
    pub tree: Value,
    origins: BTreeMap<String, String>,
    /// Our names of the files, by canonical path (`config` names a file relative to the
    /// working directory; messages use the path as given).
    file_names: HashMap<PathBuf, String>,
}

/// The layers to merge, bottom first.
pub struct Layers<'a> {
    /// Built-in defaults (no origin: they are not a file to blame).
    pub defaults: Value,
    pub files: &'a [PathBuf],
    /// Variables; only those starting with [`ENV_PREFIX`] are used.
    pub vars: Vec<(String, String)>,
}

impl Layered {
    /// Merges the layers. Errors are complete messages, one per bad file or variable.
    pub fn build(
        layers: Layers<'_>,
        leaf_is_string: impl Fn(&[String]) -> bool,
    ) -> Result<Self, Vec<String>> {
        let mut errors = Vec::new();
        let defaults = Config::try_from(&layers.defaults)
            .map_err(|e| vec![format!("built-in defaults: {e}")])?;
        let mut builder = Config::builder().add_source(defaults);
        for path in layers.files {
            match check_yaml_file(path) {
                Ok(()) => {
                    builder =
                        builder.add_source(File::from(path.as_path()).format(FileFormat::Yaml))
                }
                Err(e) => errors.push(e),
            }
        }
        let vars: HashMap<String, String> = layers
            .vars
            .into_iter()
            .filter(|(k, _)| k.starts_with(ENV_PREFIX))
            .collect();
        for key in vars.keys() {
            if key[ENV_PREFIX.len()..].split("__").any(str::is_empty) {
                errors.push(format!(
                    "env {key}: empty path segment (use FOX__SECTION__KEY)"
                ));
            }
        }
        if !errors.is_empty() {
            errors.sort();
            return Err(errors);
        }
        let env = config::Environment::with_prefix("FOX")
            .prefix_separator("__")
            .separator("__")
            .source(Some(vars.into_iter().collect()));
        let merged = builder
            .add_source(env)
            .build()
            .and_then(|c| c.collect())
            .map_err(|e| vec![format!("reading the configuration: {e}")])?;
        let mut out = Self {
            file_names: layers
                .files
                .iter()
                .filter_map(|f| Some((f.canonicalize().ok()?, f.display().to_string())))
                .collect(),
            ..Self::default()
        };
        let mut root = Map::new();
        for (k, v) in merged {
            let path = vec![k.clone()];
            root.insert(k, out.convert(v, &path, &leaf_is_string));
        }
        out.tree = Value::Object(root);
        Ok(out)
    }

    /// The JSON form of `v` at `path`, recording origins on the way.
    fn convert(
        &mut self,
        v: config::Value,
        path: &[String],
        leaf_is_string: &impl Fn(&[String]) -> bool,
    ) -> Value {
        let key = path_string(path);
        let from_env = v.origin() == Some(ENV_ORIGIN);
        let origin = v.origin().map(|o| {
            if from_env {
                let var: Vec<String> = env_segments(path)
                    .iter()
                    .map(|s| s.to_ascii_uppercase())
                    .collect();
                format!("env {ENV_PREFIX}{}", var.join("__"))
            } else {
                std::fs::canonicalize(o)
                    .ok()
                    .and_then(|c| self.file_names.get(&c).cloned())
                    .unwrap_or_else(|| o.to_string())
            }
        });
        if let Some(o) = origin {
            self.origins.insert(key.clone(), o);
        }
        match v.kind {
            ValueKind::Nil => Value::Null,
            ValueKind::Boolean(b) => Value::Bool(b),
            ValueKind::I64(n) => n.into(),
            ValueKind::I128(n) => {
                serde_json::Number::from_i128(n).map_or(Value::Null, Value::Number)
            }
            ValueKind::U64(n) => n.into(),
            ValueKind::U128(n) => {
                serde_json::Number::from_u128(n).map_or(Value::Null, Value::Number)
            }
            ValueKind::Float(f) => {
                serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
            }
            ValueKind::String(s) if from_env && !leaf_is_string(&env_segments(path)) => {
                serde_yaml_ng::from_str::<Value>(&s).unwrap_or(Value::String(s))
            }
            ValueKind::String(s) => Value::String(s),
            ValueKind::Table(m) => {
                let mut out = Map::new();
                let mut first_child_origin = None;
                for (k, c) in m {
                    let mut child = path.to_vec();
                    child.push(k.clone());
                    out.insert(k, self.convert(c, &child, leaf_is_string));
                    if first_child_origin.is_none() {
                        first_child_origin = self.origins.get(&path_string(&child)).cloned();
                    }
                }
                // `config` creates intermediate tables without an origin: a mapping comes
                // from the layer that wrote its first key.
                if !self.origins.contains_key(&key) {
                    if let Some(o) = first_child_origin {
                        self.origins.insert(key, o);
                    }
                }
                Value::Object(out)
            }
            ValueKind::Array(a) => Value::Array(
                a.into_iter()
                    .enumerate()
                    .map(|(i, c)| {
                        let mut child = path.to_vec();
                        child.push(format!("[{i}]"));
                        self.convert(c, &child, leaf_is_string)
                    })
                    .collect(),
            ),
        }
    }

    /// The source that set `path` or its closest ancestor.
    pub fn origin_of(&self, path: &str) -> Option<&str> {
        let mut p = path.to_string();
        loop {
            if let Some(o) = self.origins.get(&p) {
                return Some(o);
            }
            match p.rfind(['.', '[']) {
                Some(i) => p.truncate(i),
                None if !p.is_empty() => p.clear(),
                None => return None,
            }
        }
    }
}

/// The key segments of a path (array indices dropped), upper-cased as in a variable name.
fn env_segments(path: &[String]) -> Vec<String> {
    path.iter()
        .filter(|s| !s.starts_with('['))
        .map(|s| s.to_string())
        .collect()
}

/// `server.port`, `pricing.tiers[0].id`.
fn path_string(path: &[String]) -> String {
    let mut out = String::new();
    for seg in path {
        if seg.starts_with('[') {
            out.push_str(seg);
        } else {
            out = join(&out, seg);
        }
    }
    out
}

/// Reads a layer file and checks it is YAML with a mapping at the top (or empty), with a
/// message naming the file when it is not.
fn check_yaml_file(path: &std::path::Path) -> Result<(), String> {
    let name = path.display().to_string();
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("{name}: cannot read file: {e}"))?;
    check_yaml(&name, &text)
}

fn check_yaml(source: &str, text: &str) -> Result<(), String> {
    if text.trim().is_empty() {
        return Ok(());
    }
    let value: Value =
        serde_yaml_ng::from_str(text).map_err(|e| format!("{source}: invalid YAML: {e}"))?;
    match value {
        Value::Null | Value::Object(_) => Ok(()),
        other => Err(format!(
            "{source}: expected a mapping of sections at the top level, got {}",
            kind(&other)
        )),
    }
}

/// Joins a parent path and a key: `server` + `port` → `server.port`.
pub fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// A short description of a value for error messages: `"abc"`, `42`, `a list`.
pub fn kind(v: &Value) -> String {
    match v {
        Value::Null => "nothing (null)".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("{s:?}"),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a mapping".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(files: &[(&str, &str)]) -> Vec<PathBuf> {
        let dir = std::env::temp_dir().join(format!("fox-layers-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        files
            .iter()
            .map(|(name, text)| {
                let p = dir.join(name);
                std::fs::write(&p, text).unwrap();
                p
            })
            .collect()
    }

    fn layers(files: &[PathBuf], vars: &[(&str, &str)]) -> Layers<'static> {
        Layers {
            defaults: serde_json::json!({"server": {"port": 1, "host": "d"}}),
            files: Box::leak(files.to_vec().into_boxed_slice()),
            vars: vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn later_layers_win_and_origins_follow() {
        let files = scratch(&[
            ("base.yaml", "server:\n  port: 8080\n  host: a\n"),
            ("local.yaml", "server:\n  port: 9000\n"),
        ]);
        let l = Layered::build(
            layers(&files, &[("FOX__SERVER__HOST", "b"), ("OTHER", "x")]),
            |_| true,
        )
        .unwrap();
        assert_eq!(l.tree["server"]["port"], 9000);
        assert_eq!(l.tree["server"]["host"], "b");
        assert!(l.origin_of("server.port").unwrap().ends_with("local.yaml"));
        assert_eq!(l.origin_of("server.host"), Some("env FOX__SERVER__HOST"));
        assert_eq!(
            l.origin_of("server"),
            l.origin_of("server").filter(|_| true)
        );
    }

    #[test]
    fn env_values_are_typed_unless_a_string_is_expected() {
        let l = Layered::build(layers(&[], &[("FOX__SERVER__PORT", "9000")]), |_| false).unwrap();
        assert_eq!(l.tree["server"]["port"], 9000);
        let l = Layered::build(layers(&[], &[("FOX__DATABASE__PASSWORD", "12345")]), |_| {
            true
        })
        .unwrap();
        assert_eq!(l.tree["database"]["password"], "12345");
        let l = Layered::build(
            layers(
                &[],
                &[("FOX__SERVER__TRUSTED_PROXIES", "[10.0.0.0/8, 192.0.2.1]")],
            ),
            |_| false,
        )
        .unwrap();
        assert_eq!(
            l.tree["server"]["trusted_proxies"],
            serde_json::json!(["10.0.0.0/8", "192.0.2.1"])
        );
    }

    #[test]
    fn lists_are_replaced_whole_and_defaults_have_no_origin() {
        let files = scratch(&[
            ("a.yaml", "tiers: [{id: x}, {id: y}]\n"),
            ("b.yaml", "tiers: [{id: z}]\n"),
        ]);
        let l = Layered::build(layers(&files, &[]), |_| true).unwrap();
        assert_eq!(l.tree["tiers"], serde_json::json!([{"id": "z"}]));
        assert!(l.origin_of("tiers[0].id").unwrap().ends_with("b.yaml"));
        assert_eq!(l.origin_of("server.host"), None);
    }

    #[test]
    fn files_must_be_yaml_mappings_and_every_bad_layer_is_reported() {
        let files = scratch(&[("x.yaml", "- 1\n- 2\n"), ("y.yaml", "server: [")]);
        let errs =
            Layered::build(layers(&files, &[("FOX__SERVER____PORT", "1")]), |_| true).unwrap_err();
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert!(
            errs.iter()
                .any(|e| e.contains("x.yaml: expected a mapping")),
            "{errs:?}"
        );
        assert!(
            errs.iter().any(|e| e.contains("y.yaml: invalid YAML")),
            "{errs:?}"
        );
        assert!(
            errs.iter()
                .any(|e| e.contains("env FOX__SERVER____PORT: empty path segment"))
        );
    }
}

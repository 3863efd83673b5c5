//! Reads the YAML layers and environment overrides into one JSON tree, remembering which
//! source set each value so that validation errors can name the file (or variable) to fix.

use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// Prefix of environment variables that override settings: `FOX__SERVER__PORT=9000`.
pub const ENV_PREFIX: &str = "FOX__";

/// The merged tree plus, for every path, the source that set it last.
#[derive(Debug, Default)]
pub struct Layered {
    pub tree: Value,
    origins: BTreeMap<String, String>,
}

impl Layered {
    #[cfg(test)]
    pub fn new() -> Self {
        Self {
            tree: Value::Object(Map::new()),
            origins: BTreeMap::new(),
        }
    }

    /// Starts from `defaults` (no origin is recorded for them: they are not a file to blame).
    pub fn with_defaults(defaults: Value) -> Self {
        Self {
            tree: defaults,
            origins: BTreeMap::new(),
        }
    }

    /// Reads one YAML file and merges it on top. Errors are complete messages.
    pub fn add_file(&mut self, path: &Path) -> Result<(), String> {
        let name = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("{name}: cannot read file: {e}"))?;
        self.add_yaml(&name, &text)
    }

    /// Merges YAML text on top, attributing its values to `source`.
    pub fn add_yaml(&mut self, source: &str, text: &str) -> Result<(), String> {
        let value: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_yaml_ng::from_str(text).map_err(|e| format!("{source}: invalid YAML: {e}"))?
        };
        let value = match value {
            Value::Null => Value::Object(Map::new()),
            v @ Value::Object(_) => v,
            other => {
                return Err(format!(
                    "{source}: expected a mapping of sections at the top level, got {}",
                    kind(&other)
                ));
            }
        };
        merge(&mut self.tree, value, "", source, &mut self.origins);
        Ok(())
    }

    /// Applies `FOX__SECTION__KEY=value` variables. `leaf_is_string` tells, for a path,
    /// whether the schema expects a string there (the raw text is kept) or not (the text is
    /// read as a YAML scalar, so `9000` becomes a number and `true` a boolean).
    pub fn add_env<I>(
        &mut self,
        vars: I,
        leaf_is_string: impl Fn(&[String]) -> bool,
    ) -> Result<(), String>
    where
        I: IntoIterator<Item = (String, String)>,
    {
        let mut vars: Vec<_> = vars
            .into_iter()
            .filter(|(k, _)| k.starts_with(ENV_PREFIX))
            .collect();
        vars.sort();
        for (key, raw) in vars {
            let segments: Vec<String> = key[ENV_PREFIX.len()..]
                .split("__")
                .map(|s| s.to_ascii_lowercase())
                .collect();
            if segments.iter().any(String::is_empty) {
                return Err(format!(
                    "env {key}: empty path segment (use FOX__SECTION__KEY)"
                ));
            }
            let value = if leaf_is_string(&segments) {
                Value::String(raw)
            } else {
                serde_yaml_ng::from_str::<Value>(&raw).unwrap_or(Value::String(raw))
            };
            let source = format!("env {key}");
            let mut overlay = value;
            for seg in segments.iter().rev() {
                let mut map = Map::new();
                map.insert(seg.clone(), overlay);
                overlay = Value::Object(map);
            }
            merge(&mut self.tree, overlay, "", &source, &mut self.origins);
        }
        Ok(())
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

/// Joins a parent path and a key: `server` + `port` → `server.port`.
pub fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

fn merge(
    base: &mut Value,
    overlay: Value,
    path: &str,
    source: &str,
    origins: &mut BTreeMap<String, String>,
) {
    match (base, overlay) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                let child = join(path, &k);
                origins.insert(child.clone(), source.to_string());
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v, &child, source, origins),
                    None => {
                        record(&v, &child, source, origins);
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => {
            // Arrays and scalars replace what was there: a tier list is replaced whole.
            origins.retain(|p, _| !(p.starts_with(path) && p.len() > path.len()));
            record(&v, path, source, origins);
            *slot = v;
        }
    }
}

fn record(v: &Value, path: &str, source: &str, origins: &mut BTreeMap<String, String>) {
    origins.insert(path.to_string(), source.to_string());
    match v {
        Value::Object(m) => m
            .iter()
            .for_each(|(k, c)| record(c, &join(path, k), source, origins)),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, c)| record(c, &format!("{path}[{i}]"), source, origins)),
        _ => {}
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

    #[test]
    fn later_layers_win_and_origins_follow() {
        let mut l = Layered::new();
        l.add_yaml("base.yaml", "server:\n  port: 8080\n  host: a\n")
            .unwrap();
        l.add_yaml("local.yaml", "server:\n  port: 9000\n").unwrap();
        l.add_env(
            [
                ("FOX__SERVER__HOST".into(), "b".into()),
                ("OTHER".into(), "x".into()),
            ],
            |_| true,
        )
        .unwrap();
        assert_eq!(l.tree["server"]["port"], 9000);
        assert_eq!(l.tree["server"]["host"], "b");
        assert_eq!(l.origin_of("server.port"), Some("local.yaml"));
        assert_eq!(l.origin_of("server.host"), Some("env FOX__SERVER__HOST"));
    }

    #[test]
    fn env_values_are_typed_unless_a_string_is_expected() {
        let mut l = Layered::new();
        l.add_env([("FOX__SERVER__PORT".into(), "9000".into())], |_| false)
            .unwrap();
        assert_eq!(l.tree["server"]["port"], 9000);
        let mut l = Layered::new();
        l.add_env([("FOX__DATABASE__PASSWORD".into(), "12345".into())], |_| {
            true
        })
        .unwrap();
        assert_eq!(l.tree["database"]["password"], "12345");
    }

    #[test]
    fn top_level_must_be_a_mapping() {
        let mut l = Layered::new();
        let err = l.add_yaml("x.yaml", "- 1\n- 2\n").unwrap_err();
        assert!(err.contains("x.yaml: expected a mapping"), "{err}");
        let err = l.add_yaml("y.yaml", "server: [").unwrap_err();
        assert!(err.starts_with("y.yaml: invalid YAML"), "{err}");
    }
}

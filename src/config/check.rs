//! Validates a merged configuration tree against the JSON Schema generated from the settings
//! types, collecting every problem (not just the first) with its path and a plain reason.

use super::layers::{join, kind};
use serde_json::Value;

/// One problem: where (`server.port`, empty for the top level) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub reason: String,
    /// The path whose source is blamed (for an unknown key: the key itself, not its parent).
    pub blame: String,
}

impl Problem {
    pub fn new(path: &str, reason: String) -> Self {
        Self {
            path: path.to_string(),
            reason,
            blame: path.to_string(),
        }
    }
}

/// Checks `value` against `root` (the schema document holding `$defs`).
pub fn check(value: &Value, root: &Value) -> Vec<Problem> {
    let mut out = Vec::new();
    Checker { root }.node(value, root, "", &mut out);
    out
}

/// The schema node found by following `path` (`["server", "port"]`) through properties.
pub fn schema_at<'a>(root: &'a Value, path: &[String]) -> Option<&'a Value> {
    let checker = Checker { root };
    let mut node = checker.resolve(root);
    for seg in path {
        node = checker.non_null_branch(node);
        node = match seg.parse::<usize>() {
            Ok(_) if node.get("items").is_some() => checker.resolve(&node["items"]),
            _ => checker.resolve(node.get("properties")?.get(seg)?),
        };
    }
    Some(checker.non_null_branch(node))
}

/// Whether a schema node accepts strings (env overrides keep their raw text there).
pub fn accepts_string(node: &Value) -> bool {
    match node.get("type") {
        Some(Value::String(t)) => t == "string",
        Some(Value::Array(ts)) => ts.iter().any(|t| t == "string"),
        _ => node.get("enum").is_some() || node.get("oneOf").is_some(),
    }
}

struct Checker<'a> {
    root: &'a Value,
}

impl<'a> Checker<'a> {
    fn resolve(&self, mut node: &'a Value) -> &'a Value {
        while let Some(Value::String(r)) = node.get("$ref") {
            let name = r.trim_start_matches("#/$defs/");
            match self.root.get("$defs").and_then(|d| d.get(name)) {
                Some(n) => node = n,
                None => break,
            }
        }
        node
    }

    /// For `Option<T>` schemas (`anyOf: [T, null]`), the `T` branch.
    fn non_null_branch(&self, node: &'a Value) -> &'a Value {
        let node = self.resolve(node);
        if let Some(Value::Array(branches)) = node.get("anyOf") {
            if let Some(b) = branches
                .iter()
                .find(|b| b.get("type") != Some(&Value::String("null".into())))
            {
                return self.resolve(b);
            }
        }
        node
    }

    fn node(&self, v: &Value, schema: &'a Value, path: &str, out: &mut Vec<Problem>) {
        let schema = self.resolve(schema);
        let mut push = |reason: String| out.push(Problem::new(path, reason));

        if let Some(Value::Array(branches)) = schema.get("anyOf").or_else(|| schema.get("oneOf")) {
            // A unit enum with documented variants: `oneOf: [{const: "a"}, ...]`.
            let consts: Vec<&Value> = branches
                .iter()
                .filter_map(|b| self.resolve(b).get("const"))
                .collect();
            if consts.len() == branches.len() {
                if !consts.contains(&v) {
                    push(format!(
                        "expected one of {}, got {}",
                        list(&consts),
                        kind(v)
                    ));
                }
                return;
            }
            let mut best: Option<Vec<Problem>> = None;
            for b in branches {
                let mut sub = Vec::new();
                self.node(v, b, path, &mut sub);
                if sub.is_empty() {
                    return;
                }
                // Prefer the branch that is not `null`: its message is the useful one.
                let is_null = self.resolve(b).get("type") == Some(&Value::String("null".into()));
                if best.is_none() || !is_null {
                    best = Some(sub);
                }
            }
            out.extend(best.unwrap_or_default());
            return;
        }

        if let Some(Value::Array(allowed)) = schema.get("enum") {
            if !allowed.contains(v) {
                push(format!(
                    "expected one of {}, got {}",
                    list(&allowed.iter().collect::<Vec<_>>()),
                    kind(v)
                ));
            }
            return;
        }

        let types: Vec<&str> = match schema.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if v.is_null() && types.contains(&"null") {
            return;
        }
        let main = types.iter().copied().find(|t| *t != "null").unwrap_or("");
        match main {
            "integer" => {
                let (min, max) = (
                    schema.get("minimum").and_then(Value::as_f64),
                    schema.get("maximum").and_then(Value::as_f64),
                );
                let ok = v
                    .as_i64()
                    .map(|n| n as f64)
                    .or_else(|| v.as_u64().map(|n| n as f64));
                match ok {
                    Some(n) if min.is_none_or(|m| n >= m) && max.is_none_or(|m| n <= m) => {}
                    _ => push(format!(
                        "expected {}, got {}",
                        describe_range("an integer", min, max),
                        kind(v)
                    )),
                }
            }
            "number" => {
                let (min, max) = (
                    schema.get("minimum").and_then(Value::as_f64),
                    schema.get("maximum").and_then(Value::as_f64),
                );
                match v.as_f64() {
                    Some(n) if min.is_none_or(|m| n >= m) && max.is_none_or(|m| n <= m) => {}
                    _ => push(format!(
                        "expected {}, got {}",
                        describe_range("a number", min, max),
                        kind(v)
                    )),
                }
            }
            "string" if !v.is_string() => push(format!("expected a string, got {}", kind(v))),
            "boolean" if !v.is_boolean() => {
                push(format!("expected true or false, got {}", kind(v)))
            }
            "array" => match v.as_array() {
                Some(items) => {
                    if let Some(item_schema) = schema.get("items") {
                        for (i, item) in items.iter().enumerate() {
                            self.node(item, item_schema, &format!("{path}[{i}]"), out);
                        }
                    }
                }
                None => push(format!("expected a list, got {}", kind(v))),
            },
            "object" => match v.as_object() {
                Some(map) => self.object(map, schema, path, out),
                None => push(format!("expected a mapping, got {}", kind(v))),
            },
            "" if types.contains(&"null") => {
                push(format!("expected nothing (null), got {}", kind(v)))
            }
            _ => {}
        }
    }

    fn object(
        &self,
        map: &serde_json::Map<String, Value>,
        schema: &'a Value,
        path: &str,
        out: &mut Vec<Problem>,
    ) {
        let empty = serde_json::Map::new();
        let props = schema
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let closed = schema.get("additionalProperties") == Some(&Value::Bool(false));
        for (k, child) in map {
            match props.get(k) {
                Some(s) => self.node(child, s, &join(path, k), out),
                None if closed => {
                    let hint = closest(k, props.keys())
                        .map(|s| format!(" (did you mean \"{s}\"?)"))
                        .unwrap_or_default();
                    out.push(Problem {
                        path: path.to_string(),
                        reason: format!("unknown key \"{k}\"{hint}"),
                        blame: join(path, k),
                    });
                }
                None => {}
            }
        }
        if let Some(Value::Array(req)) = schema.get("required") {
            for r in req.iter().filter_map(Value::as_str) {
                if !map.contains_key(r) {
                    out.push(Problem::new(&join(path, r), "missing required key".into()));
                }
            }
        }
    }
}

fn describe_range(what: &str, min: Option<f64>, max: Option<f64>) -> String {
    match (min, max) {
        (Some(a), Some(b)) => format!("{what} between {a} and {b}"),
        (Some(a), None) if a == 0.0 => format!("{what} ≥ 0 (not negative)"),
        (Some(a), None) => format!("{what} ≥ {a}"),
        (None, Some(b)) => format!("{what} ≤ {b}"),
        (None, None) => what.to_string(),
    }
}

fn list(values: &[&Value]) -> String {
    values
        .iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The known key most like `key`, if any is close enough to be a likely typo.
fn closest<'k>(key: &str, known: impl Iterator<Item = &'k String>) -> Option<&'k str> {
    known
        .map(|k| (strsim::damerau_levenshtein(key, k), k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min()
        .map(|(_, k)| k.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn root() -> Value {
        json!({
            "type": "object", "additionalProperties": false,
            "properties": {
                "server": {"$ref": "#/$defs/S"},
                "fmt": {"oneOf": [{"const": "a"}, {"const": "b"}]},
                "opt": {"anyOf": [{"$ref": "#/$defs/S"}, {"type": "null"}]}
            },
            "$defs": {"S": {"type": "object", "additionalProperties": false, "properties": {
                "port": {"type": "integer", "minimum": 1, "maximum": 65535}}}}
        })
    }

    #[test]
    fn reports_every_problem_with_paths() {
        let v = json!({"sever": 1, "server": {"port": "abc", "prot": 2}, "fmt": "c", "opt": {"port": 0}});
        let mut got: Vec<String> = check(&v, &root())
            .into_iter()
            .map(|p| format!("{}: {}", p.path, p.reason))
            .collect();
        got.sort();
        assert_eq!(
            got,
            vec![
                ": unknown key \"sever\" (did you mean \"server\"?)",
                "fmt: expected one of \"a\", \"b\", got \"c\"",
                "opt.port: expected an integer between 1 and 65535, got 0",
                "server.port: expected an integer between 1 and 65535, got \"abc\"",
                "server: unknown key \"prot\" (did you mean \"port\"?)",
            ]
        );
    }

    #[test]
    fn valid_tree_has_no_problems_and_null_fits_option() {
        assert!(
            check(
                &json!({"server": {"port": 80}, "opt": null, "fmt": "a"}),
                &root()
            )
            .is_empty()
        );
    }

    #[test]
    fn schema_at_follows_refs_and_options() {
        let r = root();
        let node = schema_at(&r, &["opt".into(), "port".into()]).unwrap();
        assert_eq!(node["type"], "integer");
        assert!(!accepts_string(node));
    }
}

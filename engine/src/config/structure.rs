//! Structural check of a parsed YAML document against the generated JSON Schema, so that every
//! unknown key, wrong type and missing key is reported at once (serde stops at the first).
//!
//! Supports the subset of JSON Schema that schemars emits for our types: `$ref`, `type`,
//! `properties`, `additionalProperties`, `required`, `enum`, `const`, `anyOf`/`oneOf`, `items`
//! and `minimum`.

use serde_json::{Map, Value};

use super::ConfigIssue;

/// Lists every structural problem of `value` against `schema` (the root schema).
pub(super) fn check(value: &Value, schema: &Value) -> Vec<ConfigIssue> {
    let mut issues = Vec::new();
    walk(value, schema, schema, "", &mut issues);
    issues
}

fn resolve<'a>(schema: &'a Value, root: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => root
            .pointer(r.trim_start_matches('#'))
            .map_or(schema, |s| resolve(s, root)),
        None => schema,
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn type_matches(value: &Value, ty: &str) -> bool {
    match ty {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "string" => value.is_string(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64(),
        _ => true,
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::String(s) => format!("the string {s:?}"),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a mapping".into(),
        other => other.to_string(),
    }
}

fn walk(value: &Value, schema: &Value, root: &Value, path: &str, out: &mut Vec<ConfigIssue>) {
    let schema = resolve(schema, root);
    let issue = |out: &mut Vec<ConfigIssue>, message: String| {
        out.push(ConfigIssue {
            path: path.to_owned(),
            message,
        })
    };
    for key in ["anyOf", "oneOf"] {
        if let Some(options) = schema.get(key).and_then(Value::as_array) {
            let fits = options.iter().any(|o| check_sub(value, o, root).is_empty());
            if !fits {
                let consts: Vec<String> = options
                    .iter()
                    .filter_map(|o| {
                        resolve(o, root)
                            .get("const")
                            .map(|c| c.as_str().map_or(c.to_string(), str::to_owned))
                    })
                    .collect();
                if consts.len() == options.len() {
                    issue(
                        out,
                        format!("{} is not one of: {}", describe(value), consts.join(", ")),
                    );
                    return;
                }
                let descs: Vec<String> = options
                    .iter()
                    .filter_map(|o| {
                        resolve(o, root)
                            .get("description")
                            .and_then(Value::as_str)
                            .map(str::to_owned)
                    })
                    .collect();
                issue(
                    out,
                    format!(
                        "{} does not fit any allowed form{}",
                        describe(value),
                        if descs.is_empty() {
                            String::new()
                        } else {
                            format!(" ({})", descs.join("; "))
                        }
                    ),
                );
            }
            return;
        }
    }
    if let Some(ty) = schema.get("type") {
        let types: Vec<&str> = match ty {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        if !types.is_empty() && !types.iter().any(|t| type_matches(value, t)) {
            issue(
                out,
                format!("expected {}, found {}", types.join(" or "), describe(value)),
            );
            return;
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        let names: Vec<String> = allowed
            .iter()
            .map(|v| v.as_str().map_or(v.to_string(), str::to_owned))
            .collect();
        issue(
            out,
            format!("{} is not one of: {}", describe(value), names.join(", ")),
        );
        return;
    }
    if let Some(c) = schema.get("const")
        && c != value
    {
        issue(out, format!("expected {c}, found {}", describe(value)));
        return;
    }
    if let (Some(min), Some(n)) = (
        schema.get("minimum").and_then(Value::as_f64),
        value.as_f64(),
    ) && n < min
    {
        issue(out, format!("{n} is below the minimum {min}"));
    }
    if let Value::Object(map) = value {
        walk_object(map, schema, root, path, out);
    }
    if let (Value::Array(items), Some(item_schema)) = (value, schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            walk(item, item_schema, root, &format!("{path}[{i}]"), out);
        }
    }
}

fn check_sub(value: &Value, schema: &Value, root: &Value) -> Vec<ConfigIssue> {
    let mut v = Vec::new();
    walk(value, schema, root, "", &mut v);
    v
}

fn walk_object(
    map: &Map<String, Value>,
    schema: &Value,
    root: &Value,
    path: &str,
    out: &mut Vec<ConfigIssue>,
) {
    let props = schema.get("properties").and_then(Value::as_object);
    let additional = schema.get("additionalProperties");
    for (key, v) in map {
        match props.and_then(|p| p.get(key)) {
            Some(sub) => walk(v, sub, root, &join(path, key), out),
            None => match additional {
                Some(Value::Bool(false)) => {
                    let known: Vec<&str> = props
                        .map(|p| p.keys().map(String::as_str).collect())
                        .unwrap_or_default();
                    out.push(ConfigIssue {
                        path: join(path, key),
                        message: format!("unknown key; expected one of: {}", known.join(", ")),
                    });
                }
                Some(sub @ Value::Object(_)) => walk(v, sub, root, &join(path, key), out),
                _ => {}
            },
        }
    }
    for req in schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if !map.contains_key(req) {
            out.push(ConfigIssue {
                path: join(path, req),
                message: "required key is missing".into(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn missing_required_key_is_reported() {
        let issues = check(&json!({"seed": 1}), &crate::config::json_schema());
        assert!(
            issues
                .iter()
                .any(|i| i.path == "data" && i.message.contains("required")),
            "{issues:?}"
        );
    }

    #[test]
    fn enum_values_are_listed() {
        let issues = check(
            &json!({"data": {"path": "x", "format": "xls"}}),
            &crate::config::json_schema(),
        );
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert!(issues[0].message.contains("csv"), "{issues:?}");
    }
}

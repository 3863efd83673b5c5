//! Generates the "Configuration reference" docs page from the JSON Schema, so that the page
//! and the code cannot disagree (a test compares it with `content/docs/configuration.md`).

use serde_json::Value;
use std::fmt::Write;

/// The full Markdown page, front matter included.
pub fn markdown(schema: &Value) -> String {
    let mut out = String::from(
        "---\ntitle: Configuration reference\norder: 35\nsection: Operations\n---\n\n\
<!-- Generated from config/schema.json by `fox config reference`; do not edit by hand. -->\n\n\
The server reads `config/base.yaml`, then `config/{FOX_ENV}.yaml` (`FOX_ENV` defaults to `local`; \
use `production` in production), then environment variables named `FOX__SECTION__KEY` \
(for example `FOX__SERVER__PORT=9000` or `FOX__LOG__FORMAT=json`). Later layers win. \
Unknown keys are errors, and `fox config validate` reports every problem at once with the file \
and key to fix. `fox config show` prints the effective configuration with secrets shown as \
`[redacted]`; `fox config schema` prints the JSON Schema.\n\n\
Secrets (type *secret*) should come from the environment or a secret store, never from a \
committed file. In production the server refuses to start with a missing or placeholder \
`security.session_key`, with email not going through SMTP, or with a non-https `server.public_url`.\n",
    );
    let root_props = schema["properties"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    for (section, node) in &root_props {
        let def = resolve(schema, node);
        let _ = write!(out, "\n## `{section}`\n\n{}\n\n", desc(node, def));
        out.push_str("| Key | Type | Default | Meaning |\n| --- | --- | --- | --- |\n");
        let default = node.get("default").cloned().unwrap_or(Value::Null);
        rows(schema, def, section, &default, &mut out);
    }
    out
}

fn rows(schema: &Value, obj: &Value, prefix: &str, parent_default: &Value, out: &mut String) {
    let Some(props) = obj.get("properties").and_then(Value::as_object) else {
        return;
    };
    let required: Vec<&str> = obj
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for (key, node) in props {
        let path = format!("{prefix}.{key}");
        let target = non_null(schema, node);
        let default = node
            .get("default")
            .or_else(|| parent_default.get(key))
            .cloned()
            .unwrap_or(Value::Null);
        let is_object = target.get("properties").is_some();
        let items = target.get("items").map(|i| non_null(schema, i));
        let default_text = if is_object {
            "see below".to_string()
        } else if default.is_null() && required.contains(&key.as_str()) {
            "required".to_string()
        } else {
            show_default(&default)
        };
        let _ = writeln!(
            out,
            "| `{path}` | {} | {} | {} |",
            type_name(schema, node),
            default_text,
            desc(node, target).replace('\n', " ")
        );
        if is_object {
            rows(schema, target, &path, &default, out);
        } else if let Some(item) = items.filter(|i| i.get("properties").is_some()) {
            rows(schema, item, &format!("{path}[]"), &Value::Null, out);
        }
    }
}

fn resolve<'a>(schema: &'a Value, mut node: &'a Value) -> &'a Value {
    while let Some(Value::String(r)) = node.get("$ref") {
        match schema["$defs"].get(r.trim_start_matches("#/$defs/")) {
            Some(n) => node = n,
            None => break,
        }
    }
    node
}

fn non_null<'a>(schema: &'a Value, node: &'a Value) -> &'a Value {
    let node = resolve(schema, node);
    match node.get("anyOf").and_then(Value::as_array) {
        Some(b) => b
            .iter()
            .find(|b| b.get("type") != Some(&Value::String("null".into())))
            .map_or(node, |b| resolve(schema, b)),
        None => node,
    }
}

fn desc(node: &Value, target: &Value) -> String {
    node.get("description")
        .or_else(|| target.get("description"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

fn type_name(schema: &Value, node: &Value) -> String {
    let t = non_null(schema, node);
    let optional = resolve(schema, node).get("anyOf").is_some()
        || matches!(t.get("type"), Some(Value::Array(ts)) if ts.iter().any(|x| x == "null"));
    let base = if t.get("writeOnly") == Some(&Value::Bool(true)) {
        "secret".to_string()
    } else if let Some(Value::Array(b)) = t.get("oneOf") {
        let consts: Vec<String> = b
            .iter()
            .filter_map(|b| b.get("const"))
            .map(|c| format!("`{}`", c.as_str().unwrap_or("")))
            .collect();
        format!("one of {}", consts.join(", "))
    } else if let Some(Value::Array(e)) = t.get("enum") {
        format!(
            "one of {}",
            e.iter()
                .map(|c| format!("`{}`", c.as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else {
        let main = match t.get("type") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(ts)) => ts
                .iter()
                .filter_map(Value::as_str)
                .find(|s| *s != "null")
                .unwrap_or("")
                .to_string(),
            _ => "mapping".into(),
        };
        match (main.as_str(), t.get("minimum"), t.get("maximum")) {
            ("integer", Some(a), Some(b)) => format!("integer {a}–{b}"),
            ("integer", Some(a), None) => format!("integer ≥ {a}"),
            ("array", _, _) => {
                let item = t.get("items").map(|i| non_null(schema, i));
                match item.and_then(|i| i.get("type")).and_then(Value::as_str) {
                    Some("object") => "list of mappings".into(),
                    Some(s) => format!("list of {s}s"),
                    None => "list".into(),
                }
            }
            ("object", _, _) => "mapping".into(),
            (m, _, _) => m.to_string(),
        }
    };
    if optional {
        format!("{base} (optional)")
    } else {
        base
    }
}

fn show_default(v: &Value) -> String {
    match v {
        Value::Null => "unset".into(),
        Value::String(s) if s.is_empty() => "empty".into(),
        Value::Array(a) if a.is_empty() => "empty".into(),
        Value::String(s) => format!("`{}`", s.replace('|', "\\|")),
        other => format!("`{}`", other.to_string().replace('|', "\\|")),
    }
}

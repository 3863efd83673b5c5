//! The API reference page of the docs (`content/docs/api-reference.md`), generated from the
//! OpenAPI document: every operation with its parameters, body and answers, then every
//! schema with its fields. Plain Markdown, rendered like every docs page (nothing fetched
//! from elsewhere, which the site's CSP would refuse anyway).

use serde_json::Value;
use std::fmt::Write;

/// The page for the OpenAPI document `doc` (as JSON).
pub fn markdown(doc: &Value) -> String {
    let mut out = String::from(
        "---\ntitle: API reference\norder: 51\nsection: Operations\n---\n\n\
<!-- Generated from content/openapi.json by `fox api reference`; do not edit by hand. -->\n\n\
Every route of `/api/v1`, generated from the server's code. The same description is served \
as OpenAPI 3.1 at [`/api/v1/openapi.json`](/api/v1/openapi.json) for client generators. \
Authentication, the error format and the codes are explained in the \
[Job API overview](/docs/api-overview).\n",
    );
    let paths = doc["paths"].as_object().cloned().unwrap_or_default();
    let mut by_tag: Vec<(String, Vec<(String, String, Value)>)> = Vec::new();
    for (path, item) in &paths {
        for method in ["get", "post", "put", "patch", "delete"] {
            let Some(op) = item.get(method) else {
                continue;
            };
            let tag = op["tags"][0].as_str().unwrap_or("other").to_string();
            let entry = (method.to_uppercase(), path.clone(), op.clone());
            match by_tag.iter_mut().find(|(t, _)| *t == tag) {
                Some((_, ops)) => ops.push(entry),
                None => by_tag.push((tag, vec![entry])),
            }
        }
    }
    for (tag, ops) in &by_tag {
        let _ = write!(out, "\n## {}\n", capitalise(tag));
        for (method, path, op) in ops {
            operation(&mut out, method, path, op);
        }
    }
    out.push_str("\n## Schemas\n");
    if let Some(schemas) = doc["components"]["schemas"].as_object() {
        for (name, s) in schemas {
            schema(&mut out, name, s);
        }
    }
    out
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// One line of text (tables cannot hold line breaks or pipes).
fn cell(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

/// A short name of a schema: `JobView`, `array of ArtifactView`, `string (uuid)`.
fn type_of(s: &Value) -> String {
    if let Some(r) = s["$ref"].as_str() {
        return format!("`{}`", r.rsplit('/').next().unwrap_or(r));
    }
    if let Some(any) = s["oneOf"].as_array().or(s["anyOf"].as_array()) {
        return any.iter().map(type_of).collect::<Vec<_>>().join(" or ");
    }
    let ty = match &s["type"] {
        Value::String(t) => t.clone(),
        Value::Array(ts) => ts
            .iter()
            .filter_map(Value::as_str)
            .filter(|t| *t != "null")
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "object".into(),
    };
    match ty.as_str() {
        "array" => format!("array of {}", type_of(&s["items"])),
        t => match s["format"].as_str() {
            Some(f) => format!("{t} ({f})"),
            None => t.to_string(),
        },
    }
}

fn operation(out: &mut String, method: &str, path: &str, op: &Value) {
    let _ = write!(out, "\n### `{method} {path}`\n\n");
    if let Some(d) = op["description"].as_str().or(op["summary"].as_str()) {
        let _ = writeln!(out, "{}\n", d.trim());
    }
    if op.get("security").is_some() {
        out.push_str("Authentication: an API token (`Authorization: Bearer fox_…`) or the dashboard's session.\n\n");
    }
    if let Some(params) = op["parameters"].as_array().filter(|p| !p.is_empty()) {
        out.push_str(
            "| Parameter | In | Type | Required | Meaning |\n| --- | --- | --- | --- | --- |\n",
        );
        for p in params {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | {} |",
                p["name"].as_str().unwrap_or(""),
                p["in"].as_str().unwrap_or(""),
                type_of(&p["schema"]),
                if p["required"].as_bool() == Some(true) {
                    "yes"
                } else {
                    "no"
                },
                cell(p["description"].as_str().unwrap_or(""))
            );
        }
        out.push('\n');
    }
    if let Some(content) = op["requestBody"]["content"].as_object() {
        for (ct, media) in content {
            let _ = writeln!(
                out,
                "Request body (`{ct}`): {}\n",
                type_of(&media["schema"])
            );
        }
    }
    if let Some(responses) = op["responses"].as_object() {
        out.push_str("| Status | Body | Meaning |\n| --- | --- | --- |\n");
        for (status, r) in responses {
            let body = r["content"]
                .as_object()
                .and_then(|c| c.iter().next())
                .map(|(ct, m)| {
                    if m.get("schema").is_some() {
                        format!("{} (`{ct}`)", type_of(&m["schema"]))
                    } else {
                        format!("`{ct}`")
                    }
                })
                .unwrap_or_else(|| "none".into());
            let _ = writeln!(
                out,
                "| {status} | {body} | {} |",
                cell(r["description"].as_str().unwrap_or(""))
            );
        }
    }
}

fn schema(out: &mut String, name: &str, s: &Value) {
    let _ = write!(out, "\n### `{name}`\n\n");
    if let Some(d) = s["description"].as_str() {
        let _ = writeln!(out, "{}\n", d.trim());
    }
    if let Some(values) = s["enum"].as_array() {
        let v: Vec<String> = values
            .iter()
            .map(|v| format!("`{}`", v.as_str().unwrap_or("")))
            .collect();
        let _ = writeln!(out, "One of {}.", v.join(", "));
        return;
    }
    if let Some(any) = s["oneOf"].as_array() {
        let _ = writeln!(
            out,
            "One of: {}.",
            any.iter().map(type_of).collect::<Vec<_>>().join("; ")
        );
        return;
    }
    let Some(props) = s["properties"].as_object() else {
        let _ = writeln!(out, "Type: {}.", type_of(s));
        return;
    };
    let required: Vec<&str> = s["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    out.push_str("| Field | Type | Required | Meaning |\n| --- | --- | --- | --- |\n");
    for (field, p) in props {
        let _ = writeln!(
            out,
            "| `{field}` | {} | {} | {} |",
            type_of(p),
            if required.contains(&field.as_str()) {
                "yes"
            } else {
                "no"
            },
            cell(p["description"].as_str().unwrap_or(""))
        );
    }
}

//! TOON (Token-Oriented Object Notation) encoder for run summaries, following the public
//! spec: two-space indentation for objects, `key: value` primitives, inline primitive arrays
//! `key[N]: a,b`, tabular arrays `key[N]{f1,f2}:` with one comma-separated row per item for
//! uniform arrays of flat objects, and `- ` list items otherwise. Strings are quoted only when
//! needed (empty, padded, `true`/`false`/`null`, numeric-looking, leading `-`, or containing
//! `:`, `"`, `\`, brackets, braces, `,` or control characters), with `\\ \" \n \r \t`
//! escapes. Numbers are canonical decimals without exponent; non-finite numbers become `null`.

pub mod decode;

use serde_json::{Map, Value};

const INDENT: &str = "  ";

/// Encodes a JSON value as TOON (no trailing newline).
pub fn encode(value: &Value) -> String {
    let mut lines = Vec::new();
    match value {
        Value::Object(m) => encode_fields(m, 0, &mut lines),
        Value::Array(a) => encode_array(None, a, 0, &mut lines),
        v => lines.push(primitive(v)),
    }
    lines.join("\n")
}

fn pad(depth: usize) -> String {
    INDENT.repeat(depth)
}

fn is_primitive(v: &Value) -> bool {
    !matches!(v, Value::Object(_) | Value::Array(_))
}

/// Formats a key, quoting it unless it is a plain identifier.
pub fn key(k: &str) -> String {
    let plain = k
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    if plain { k.to_owned() } else { quote(k) }
}

fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Whether an unquoted token would read back as a number.
pub fn looks_numeric(s: &str) -> bool {
    let t = s.strip_prefix('-').unwrap_or(s);
    let mut parts = t.splitn(2, ['e', 'E']);
    let mant = parts.next().unwrap_or("");
    let exp_ok = parts.next().is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && e.chars().all(|c| c.is_ascii_digit())
    });
    let mut mp = mant.splitn(2, '.');
    let int = mp.next().unwrap_or("");
    let frac_ok = mp
        .next()
        .is_none_or(|f| !f.is_empty() && f.chars().all(|c| c.is_ascii_digit()));
    !int.is_empty() && int.chars().all(|c| c.is_ascii_digit()) && frac_ok && exp_ok
}

fn needs_quotes(s: &str) -> bool {
    s.is_empty()
        || s.trim() != s
        || matches!(s, "true" | "false" | "null")
        || looks_numeric(s)
        || s.starts_with('-')
        || s.chars()
            .any(|c| matches!(c, ':' | '"' | '\\' | '[' | ']' | '{' | '}' | ',') || c.is_control())
}

fn number(n: &serde_json::Number) -> String {
    if n.is_i64() || n.is_u64() {
        return n.to_string();
    }
    match n.as_f64() {
        Some(f) if f.is_finite() => {
            if f == 0.0 {
                "0".into()
            } else {
                // Rust's Display for f64 is the shortest round-trip decimal, never exponent.
                format!("{f}")
            }
        }
        _ => "null".into(),
    }
}

fn primitive(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => number(n),
        Value::String(s) => {
            if needs_quotes(s) {
                quote(s)
            } else {
                s.clone()
            }
        }
        _ => unreachable!("not a primitive"),
    }
}

fn encode_fields(m: &Map<String, Value>, depth: usize, lines: &mut Vec<String>) {
    for (k, v) in m {
        match v {
            Value::Object(inner) => {
                lines.push(format!("{}{}:", pad(depth), key(k)));
                encode_fields(inner, depth + 1, lines);
            }
            Value::Array(a) => encode_array(Some(k), a, depth, lines),
            p => lines.push(format!("{}{}: {}", pad(depth), key(k), primitive(p))),
        }
    }
}

/// Field names if `a` is a non-empty array of objects with identical keys and primitive values.
fn tabular_fields(a: &[Value]) -> Option<Vec<String>> {
    let first = a.first()?.as_object()?;
    if first.is_empty() {
        return None;
    }
    let fields: Vec<String> = first.keys().cloned().collect();
    a.iter()
        .all(|v| {
            v.as_object().is_some_and(|o| {
                o.len() == fields.len() && fields.iter().all(|f| o.get(f).is_some_and(is_primitive))
            })
        })
        .then_some(fields)
}

fn encode_array(name: Option<&str>, a: &[Value], depth: usize, lines: &mut Vec<String>) {
    let head = format!(
        "{}{}[{}]",
        pad(depth),
        name.map(key).unwrap_or_default(),
        a.len()
    );
    if a.iter().all(is_primitive) {
        let items: Vec<String> = a.iter().map(primitive).collect();
        lines.push(if items.is_empty() {
            format!("{head}:")
        } else {
            format!("{head}: {}", items.join(","))
        });
    } else if let Some(fields) = tabular_fields(a) {
        lines.push(format!(
            "{head}{{{}}}:",
            fields.iter().map(|f| key(f)).collect::<Vec<_>>().join(",")
        ));
        for v in a {
            let row: Vec<String> = fields.iter().map(|f| primitive(&v[f])).collect();
            lines.push(format!("{}{}", pad(depth + 1), row.join(",")));
        }
    } else {
        lines.push(format!("{head}:"));
        for v in a {
            list_item(v, depth + 1, lines);
        }
    }
}

fn list_item(v: &Value, depth: usize, lines: &mut Vec<String>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            let mut sub = Vec::new();
            encode_fields(m, depth + 1, &mut sub);
            // The first field moves onto the hyphen line.
            let first = sub.remove(0);
            lines.push(format!("{}- {}", pad(depth), first.trim_start()));
            lines.extend(sub);
        }
        Value::Object(_) => lines.push(format!("{}-", pad(depth))),
        Value::Array(a) => {
            let mut sub = Vec::new();
            encode_array(None, a, depth + 1, &mut sub);
            let first = sub.remove(0);
            lines.push(format!("{}- {}", pad(depth), first.trim_start()));
            lines.extend(sub);
        }
        p => lines.push(format!("{}- {}", pad(depth), primitive(p))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn golden_summary() {
        let v = json!({
            "name": "demo run",
            "rows": 1200,
            "ok": true,
            "ranking": [
                {"rank": 1, "target": "fwd_ret_15m", "composite": 0.75, "note": null},
                {"rank": 2, "target": "y_up_15m", "composite": 0.5, "note": "a,b"}
            ],
            "tags": ["x", "-y", "true", "07"],
            "nested": {"k": "v: w", "empty": []},
            "mixed": [1, {"a": 1, "b": [1, 2]}, "s"]
        });
        let expected = "name: demo run\nrows: 1200\nok: true\nranking[2]{rank,target,composite,note}:\n  1,fwd_ret_15m,0.75,null\n  \
                        2,y_up_15m,0.5,\"a,b\"\ntags[4]: x,\"-y\",\"true\",\"07\"\nnested:\n  k: \"v: w\"\n  empty[0]:\nmixed[3]:\n  - 1\n  \
                        - a: 1\n    b[2]: 1,2\n  - s";
        assert_eq!(encode(&v), expected);
        assert_eq!(decode::decode(expected).unwrap(), v);
    }

    #[test]
    fn numbers_are_canonical() {
        assert_eq!(
            encode(&json!({"a": 1e-7, "b": 2.0, "c": -0.0, "d": 1.5e20})),
            "a: 0.0000001\nb: 2\nc: 0\nd: 150000000000000000000"
        );
    }

    /// Numbers compared as f64 (TOON does not distinguish 3 from 3.0).
    fn norm(v: Value) -> Value {
        match v {
            Value::Number(n) => json!(n.as_f64()),
            Value::Array(a) => Value::Array(a.into_iter().map(norm).collect()),
            Value::Object(m) => Value::Object(m.into_iter().map(|(k, v)| (k, norm(v))).collect()),
            v => v,
        }
    }

    fn leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(|i| json!(i)),
            (-1e6f64..1e6).prop_map(|f| json!(f)),
            "[ -~]{0,12}".prop_map(Value::String),
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        leaf().prop_recursive(3, 24, 5, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                proptest::collection::btree_map("[a-z_]{1,6}", inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn round_trips_through_the_decoder(m in proptest::collection::btree_map("[a-z_]{1,6}", value(), 1..5)) {
            let v = Value::Object(m.into_iter().collect());
            let text = encode(&v);
            let back = decode::decode(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
            prop_assert_eq!(norm(back), norm(v), "{}", text);
        }
    }
}

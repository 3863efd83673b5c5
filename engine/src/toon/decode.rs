//! A TOON decoder for the subset [`super::encode`] writes (comma delimiter, two-space
//! indentation); used to prove round trips and to read TOON summaries back.

use serde_json::{Map, Value};

struct Parser {
    lines: Vec<(usize, String)>,
    pos: usize,
}

/// Decodes TOON text into a JSON value.
pub fn decode(text: &str) -> Result<Value, String> {
    let lines: Vec<(usize, String)> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let n = l.len() - l.trim_start_matches(' ').len();
            (n / 2, l[n..].to_owned())
        })
        .collect();
    let mut p = Parser { lines, pos: 0 };
    let Some((_, first)) = p.lines.first().cloned() else {
        return Ok(Value::Object(Map::new()));
    };
    if first.starts_with('[') {
        p.pos = 1;
        return p.array_body(&first, 0);
    }
    if p.lines.len() == 1 && split_key(&first).is_none() {
        return Ok(primitive(&first));
    }
    let mut m = Map::new();
    p.fields(0, &mut m)?;
    if p.pos != p.lines.len() {
        return Err(format!(
            "unexpected line {}: {}",
            p.pos + 1,
            p.lines[p.pos].1
        ));
    }
    Ok(Value::Object(m))
}

/// Splits `key<rest>` where rest starts with `:` or `[`; `None` if the text is not a field.
fn split_key(s: &str) -> Option<(String, &str)> {
    if let Some(body) = s.strip_prefix('"') {
        let end = closing_quote(body)?;
        let rest = &body[end + 1..];
        return (rest.starts_with(':') || rest.starts_with('['))
            .then(|| (unescape(&body[..end]), rest));
    }
    let i = s.find([':', '['])?;
    Some((s[..i].to_owned(), &s[i..]))
}

fn closing_quote(body: &str) -> Option<usize> {
    let mut esc = false;
    for (i, c) in body.char_indices() {
        match (esc, c) {
            (true, _) => esc = false,
            (false, '\\') => esc = true,
            (false, '"') => return Some(i),
            _ => {}
        }
    }
    None
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next() {
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some('t') => out.push('\t'),
                Some(o) => out.push(o),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn primitive(tok: &str) -> Value {
    if let Some(body) = tok.strip_prefix('"') {
        return Value::String(unescape(&body[..body.len().saturating_sub(1)]));
    }
    match tok {
        "null" => Value::Null,
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        t if super::looks_numeric(t) => {
            if let Ok(i) = t.parse::<i64>() {
                Value::from(i)
            } else {
                t.parse::<f64>()
                    .map_or_else(|_| Value::String(t.to_owned()), Value::from)
            }
        }
        t => Value::String(t.to_owned()),
    }
}

/// Splits a comma-separated row, honouring quotes.
fn split_row(s: &str) -> Vec<String> {
    let (mut out, mut cur, mut inq, mut esc) = (Vec::new(), String::new(), false, false);
    for c in s.chars() {
        if esc {
            cur.push(c);
            esc = false;
            continue;
        }
        match c {
            '\\' if inq => {
                cur.push(c);
                esc = true;
            }
            '"' => {
                inq = !inq;
                cur.push(c);
            }
            ',' if !inq => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

impl Parser {
    fn fields(&mut self, depth: usize, m: &mut Map<String, Value>) -> Result<(), String> {
        while let Some((d, line)) = self.lines.get(self.pos).cloned() {
            if d != depth || line.starts_with('-') {
                break;
            }
            self.pos += 1;
            self.field(&line, depth, m)?;
        }
        Ok(())
    }

    fn field(
        &mut self,
        line: &str,
        depth: usize,
        m: &mut Map<String, Value>,
    ) -> Result<(), String> {
        let (k, rest) =
            split_key(line).ok_or_else(|| format!("expected `key: value`, found `{line}`"))?;
        let v = if rest.starts_with('[') {
            self.array_body(rest, depth)?
        } else {
            let val = rest[1..].trim_start();
            if val.is_empty() {
                let mut inner = Map::new();
                self.fields(depth + 1, &mut inner)?;
                Value::Object(inner)
            } else {
                primitive(val)
            }
        };
        m.insert(k, v);
        Ok(())
    }

    /// Parses `[N]…:` (after the key) and the lines it owns.
    fn array_body(&mut self, head: &str, depth: usize) -> Result<Value, String> {
        let close = head.find(']').ok_or("unclosed `[`")?;
        let n: usize = head[1..close]
            .parse()
            .map_err(|_| format!("bad length in `{head}`"))?;
        let after = &head[close + 1..];
        if let Some(fl) = after.strip_prefix('{') {
            let end = fl.find("}:").ok_or("unclosed field list")?;
            let fields: Vec<String> = split_row(&fl[..end])
                .iter()
                .map(|f| {
                    if f.starts_with('"') {
                        unescape(&f[1..f.len() - 1])
                    } else {
                        f.clone()
                    }
                })
                .collect();
            let mut out = Vec::with_capacity(n);
            for _ in 0..n {
                let (_, row) = self
                    .lines
                    .get(self.pos)
                    .cloned()
                    .ok_or("missing tabular row")?;
                self.pos += 1;
                let cells = split_row(&row);
                out.push(Value::Object(
                    fields
                        .iter()
                        .cloned()
                        .zip(cells.iter().map(|c| primitive(c)))
                        .collect(),
                ));
            }
            return Ok(Value::Array(out));
        }
        let rest = after
            .strip_prefix(':')
            .ok_or_else(|| format!("expected `:` in `{head}`"))?
            .trim_start();
        if !rest.is_empty() {
            return Ok(Value::Array(
                split_row(rest).iter().map(|c| primitive(c)).collect(),
            ));
        }
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let (_, item) = self
                .lines
                .get(self.pos)
                .cloned()
                .ok_or("missing list item")?;
            self.pos += 1;
            out.push(self.list_item(&item, depth + 1)?);
        }
        Ok(Value::Array(out))
    }

    fn list_item(&mut self, line: &str, depth: usize) -> Result<Value, String> {
        let body = line
            .strip_prefix('-')
            .ok_or_else(|| format!("expected `- item`, found `{line}`"))?
            .trim_start();
        if body.is_empty() {
            return Ok(Value::Object(Map::new()));
        }
        if body.starts_with('[') {
            return self.array_body(body, depth + 1);
        }
        if split_key(body).is_some() {
            let mut m = Map::new();
            self.field(body, depth + 1, &mut m)?;
            self.fields(depth + 1, &mut m)?;
            return Ok(Value::Object(m));
        }
        Ok(primitive(body))
    }
}

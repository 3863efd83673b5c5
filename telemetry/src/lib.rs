//! One log subscriber for the server, its CLI and the engine's CLI.
//!
//! Formats (`log.format`): `pretty` (human, colour only on a TTY), `json` (one object per
//! line) and `llm` (one compact `key=value` line with stable keys). In `json` and `llm` every
//! line has `ts`, `level`/`lvl`, `target`, `msg`, then the fields of the enclosing spans
//! (e.g. `request_id`), then the event's own fields.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// How log events are written (to standard error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines, coloured only on a terminal.
    #[default]
    Pretty,
    /// One JSON object per line.
    Json,
    /// One compact `key=value` line per event with stable keys, for tools and language models.
    Llm,
}

impl std::str::FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "pretty" => Ok(Self::Pretty),
            "json" => Ok(Self::Json),
            "llm" => Ok(Self::Llm),
            other => Err(format!(
                "unknown log format `{other}` (pretty, json or llm)"
            )),
        }
    }
}

/// Where log lines go: standard error, or a shared buffer in tests.
#[derive(Clone)]
pub enum Sink {
    Stderr,
    Buffer(Arc<Mutex<Vec<u8>>>),
}

/// Installs the global subscriber. Fails if the filter is invalid or one is already set.
pub fn init(format: LogFormat, level: &str, sink: Sink) -> anyhow::Result<()> {
    let filter =
        EnvFilter::try_new(level).map_err(|e| anyhow::anyhow!("log.level {level:?}: {e}"))?;
    let registry = tracing_subscriber::registry().with(filter);
    match format {
        LogFormat::Pretty => {
            let ansi = matches!(sink, Sink::Stderr) && std::io::stderr().is_terminal();
            let layer = tracing_subscriber::fmt::layer()
                .with_ansi(ansi)
                .with_writer(move || SinkWriter(sink.clone()));
            registry.with(layer).try_init()?;
        }
        LogFormat::Json | LogFormat::Llm => registry.with(LineLayer { format, sink }).try_init()?,
    }
    Ok(())
}

struct SinkWriter(Sink);

impl Write for SinkWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &self.0 {
            Sink::Stderr => std::io::stderr().write(buf),
            Sink::Buffer(b) => {
                b.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend_from_slice(buf);
                Ok(buf.len())
            }
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Fields recorded on a span, kept in its extensions.
struct SpanFields(Vec<(String, Value)>);

struct FieldVisitor<'a>(&'a mut Vec<(String, Value)>);

impl FieldVisitor<'_> {
    fn put(&mut self, field: &Field, v: Value) {
        let name = field.name().to_string();
        match self.0.iter_mut().find(|(k, _)| *k == name) {
            Some(slot) => slot.1 = v,
            None => self.0.push((name, v)),
        }
    }
}

impl Visit for FieldVisitor<'_> {
    fn record_str(&mut self, f: &Field, v: &str) {
        self.put(f, Value::String(v.to_string()));
    }
    fn record_i64(&mut self, f: &Field, v: i64) {
        self.put(f, v.into());
    }
    fn record_u64(&mut self, f: &Field, v: u64) {
        self.put(f, v.into());
    }
    fn record_f64(&mut self, f: &Field, v: f64) {
        self.put(
            f,
            serde_json::Number::from_f64((v * 1000.0).round() / 1000.0)
                .map_or(Value::Null, Value::Number),
        );
    }
    fn record_bool(&mut self, f: &Field, v: bool) {
        self.put(f, v.into());
    }
    fn record_error(&mut self, f: &Field, v: &(dyn std::error::Error + 'static)) {
        self.put(f, Value::String(v.to_string()));
    }
    fn record_debug(&mut self, f: &Field, v: &dyn std::fmt::Debug) {
        self.put(f, Value::String(format!("{v:?}")));
    }
}

/// Writes `json` and `llm` lines.
struct LineLayer {
    format: LogFormat,
    sink: Sink,
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for LineLayer {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Vec::new();
        attrs.record(&mut FieldVisitor(&mut fields));
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(fields));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            let mut ext = span.extensions_mut();
            if let Some(SpanFields(fields)) = ext.get_mut::<SpanFields>() {
                values.record(&mut FieldVisitor(fields));
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Vec::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(SpanFields(f)) = span.extensions().get::<SpanFields>() {
                    fields.extend(f.iter().cloned());
                }
            }
        }
        let mut own = Vec::new();
        event.record(&mut FieldVisitor(&mut own));
        let msg = own
            .iter()
            .position(|(k, _)| k == "message")
            .map(|i| own.remove(i).1);
        fields.extend(own);
        let meta = event.metadata();
        let ts = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let level = meta.level().as_str().to_ascii_lowercase();
        let msg = match msg {
            Some(Value::String(s)) => s,
            Some(other) => other.to_string(),
            None => String::new(),
        };
        let line = match self.format {
            LogFormat::Llm => llm_line(&ts, &level, meta.target(), &msg, &fields),
            _ => json_line(&ts, &level, meta.target(), &msg, fields),
        };
        let _ = SinkWriter(self.sink.clone()).write_all(line.as_bytes());
    }
}

fn json_line(
    ts: &str,
    level: &str,
    target: &str,
    msg: &str,
    fields: Vec<(String, Value)>,
) -> String {
    let mut m = Map::new();
    m.insert("ts".into(), ts.into());
    m.insert("level".into(), level.into());
    m.insert("target".into(), target.into());
    m.insert("msg".into(), msg.into());
    for (k, v) in fields {
        m.entry(k).or_insert(v);
    }
    let mut s = Value::Object(m).to_string();
    s.push('\n');
    s
}

/// `ts=… lvl=… target=… msg="…" k=v …`: logfmt, quoted only where needed.
pub fn llm_line(
    ts: &str,
    level: &str,
    target: &str,
    msg: &str,
    fields: &[(String, Value)],
) -> String {
    let mut s = format!(
        "ts={ts} lvl={level} target={target} msg={}",
        logfmt_value(msg)
    );
    for (k, v) in fields {
        let text = match v {
            Value::String(t) => t.clone(),
            other => other.to_string(),
        };
        s.push(' ');
        s.push_str(k);
        s.push('=');
        s.push_str(&logfmt_value(&text));
    }
    s.push('\n');
    s
}

fn logfmt_value(v: &str) -> String {
    let plain = !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_graphic() && c != '"' && c != '=' && c != '\\');
    if plain {
        return v.to_string();
    }
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn llm_lines_have_stable_keys_and_quote_when_needed() {
        let line = llm_line(
            "2026-01-01T00:00:00Z",
            "info",
            "fox::http",
            "request finished",
            &[
                ("route".into(), "/docs/{slug}".into()),
                ("status".into(), 200.into()),
                ("note".into(), "a \"b\"\nc".into()),
            ],
        );
        assert_eq!(
            line,
            "ts=2026-01-01T00:00:00Z lvl=info target=fox::http msg=\"request finished\" route=/docs/{slug} status=200 note=\"a \\\"b\\\"\\nc\"\n"
        );
    }

    #[test]
    fn json_lines_put_fixed_keys_first() {
        let line = json_line(
            "t",
            "warn",
            "x",
            "m",
            vec![("k".into(), 1.into()), ("msg".into(), "ignored".into())],
        );
        assert_eq!(
            line,
            "{\"ts\":\"t\",\"level\":\"warn\",\"target\":\"x\",\"msg\":\"m\",\"k\":1}\n"
        );
    }
}

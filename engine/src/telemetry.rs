//! Log subscriber setup shared by the engine CLI (and reusable by the server): `pretty`
//! (tracing-subscriber's human format, colour only on a TTY), `json` (one object per line:
//! `ts`, `level`, `target`, `msg`, then the event's fields) and `llm` (one logfmt line per
//! event: `ts=… lvl=info target=… msg="…" key=value …`, no colour). Logs go to stderr so that
//! stdout stays clean for summaries.

use std::fmt;
use std::io::IsTerminal;
use std::str::FromStr;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable.
    Pretty,
    /// JSON lines.
    Json,
    /// Compact logfmt lines for machine (and LLM) readers.
    Llm,
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "pretty" => Ok(Self::Pretty),
            "json" => Ok(Self::Json),
            "llm" => Ok(Self::Llm),
            o => Err(format!("unknown log format `{o}` (pretty, json or llm)")),
        }
    }
}

/// Installs the global subscriber; `level` is an `EnvFilter` directive such as `info` or
/// `fox_engine=debug` (overridden by `RUST_LOG` when set).
pub fn init(format: LogFormat, level: &str) -> anyhow::Result<()> {
    let filter = EnvFilter::try_from_default_env().or_else(|_| EnvFilter::try_new(level))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let res = match format {
        LogFormat::Pretty => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder
            .with_ansi(false)
            .event_format(Lines { json: true })
            .try_init(),
        LogFormat::Llm => builder
            .with_ansi(false)
            .event_format(Lines { json: false })
            .try_init(),
    };
    res.map_err(|e| anyhow::anyhow!("cannot install the log subscriber: {e}"))
}

#[derive(Default)]
struct Fields {
    msg: String,
    rest: Vec<(String, serde_json::Value)>,
}

impl Visit for Fields {
    fn record_str(&mut self, f: &Field, v: &str) {
        self.put(f, serde_json::Value::from(v));
    }
    fn record_i64(&mut self, f: &Field, v: i64) {
        self.put(f, v.into());
    }
    fn record_u64(&mut self, f: &Field, v: u64) {
        self.put(f, v.into());
    }
    fn record_f64(&mut self, f: &Field, v: f64) {
        self.put(f, v.into());
    }
    fn record_bool(&mut self, f: &Field, v: bool) {
        self.put(f, v.into());
    }
    fn record_debug(&mut self, f: &Field, v: &dyn fmt::Debug) {
        self.put(f, format!("{v:?}").into());
    }
}

impl Fields {
    fn put(&mut self, f: &Field, v: serde_json::Value) {
        if f.name() == "message" {
            self.msg = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
        } else {
            self.rest.push((f.name().to_owned(), v));
        }
    }
}

struct Lines {
    json: bool,
}

fn now() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    crate::timefmt::format_rfc3339_millis(ms)
}

/// A logfmt value: bare when safe, else quoted with escapes.
fn logfmt_value(v: &serde_json::Value) -> String {
    let s = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_graphic() && c != '"' && c != '=')
    {
        s
    } else {
        serde_json::Value::from(s).to_string()
    }
}

/// Formats one event as a line (without the trailing newline).
fn line(json: bool, ts: &str, level: &str, target: &str, f: &Fields) -> String {
    if json {
        let mut m = serde_json::Map::new();
        m.insert("ts".into(), ts.into());
        m.insert("level".into(), level.to_lowercase().into());
        m.insert("target".into(), target.into());
        m.insert("msg".into(), f.msg.clone().into());
        for (k, v) in &f.rest {
            m.insert(k.clone(), v.clone());
        }
        serde_json::Value::Object(m).to_string()
    } else {
        let mut s = format!(
            "ts={ts} lvl={} target={target} msg={}",
            level.to_lowercase(),
            serde_json::Value::from(f.msg.clone())
        );
        for (k, v) in &f.rest {
            s += &format!(" {k}={}", logfmt_value(v));
        }
        s
    }
}

impl<S, N> FormatEvent<S, N> for Lines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut f = Fields::default();
        event.record(&mut f);
        let meta = event.metadata();
        writeln!(
            w,
            "{}",
            line(self.json, &now(), meta.level().as_str(), meta.target(), &f)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> Fields {
        Fields {
            msg: "stage finished".into(),
            rest: vec![
                ("stage".into(), "load data".into()),
                ("elapsed_ms".into(), 12.into()),
            ],
        }
    }

    #[test]
    fn json_line_has_keys_in_order() {
        let l = line(
            true,
            "2026-01-01T00:00:00.000Z",
            "INFO",
            "fox_engine",
            &fields(),
        );
        assert_eq!(
            l,
            r#"{"ts":"2026-01-01T00:00:00.000Z","level":"info","target":"fox_engine","msg":"stage finished","stage":"load data","elapsed_ms":12}"#
        );
    }

    #[test]
    fn llm_line_is_logfmt() {
        let l = line(
            false,
            "2026-01-01T00:00:00.000Z",
            "INFO",
            "fox_engine",
            &fields(),
        );
        assert_eq!(
            l,
            r#"ts=2026-01-01T00:00:00.000Z lvl=info target=fox_engine msg="stage finished" stage="load data" elapsed_ms=12"#
        );
        assert_eq!("llm".parse::<LogFormat>(), Ok(LogFormat::Llm));
    }
}

//! Logging for the engine CLI: the workspace's one subscriber (`fox-telemetry`), with the
//! same `pretty`, `json` and `llm` formats as the server. Logs go to stderr so that stdout
//! stays clean for summaries.

pub use fox_telemetry::LogFormat;

/// Installs the global subscriber; `level` is an `EnvFilter` directive such as `info` or
/// `fox_engine=debug` (overridden by `RUST_LOG` when set).
pub fn init(format: LogFormat, level: &str) -> anyhow::Result<()> {
    let level = std::env::var("RUST_LOG")
        .ok()
        .filter(|l| !l.trim().is_empty())
        .unwrap_or_else(|| level.to_string());
    fox_telemetry::init(format, &level, fox_telemetry::Sink::Stderr)
}

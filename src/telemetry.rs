//! The log subscriber lives in the workspace crate `fox-telemetry`, shared with the engine's
//! CLI so that every command writes the same `pretty`, `json` and `llm` formats.

pub use fox_telemetry::{LogFormat, Sink, init, llm_line};

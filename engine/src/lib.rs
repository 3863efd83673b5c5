//! fox-engine: the leakage-safe ML engine for cross-sectional / panel data.
//!
//! This crate knows nothing about HTTP, databases or async runtimes; the server runs it on a
//! worker thread. Each module does one job; see `engine/README.md` for the map.

pub mod config;
pub mod cv;
pub mod data;
pub mod error;
pub mod files;
pub mod leakage;
pub mod metrics;
pub mod models;
pub mod pipeline;
pub mod report;
pub mod repro;
pub mod run;
pub mod synth;
pub mod timefmt;
pub mod toon;

pub use error::{EngineError, Result};
pub use pipeline::progress::{NoProgress, Progress};

//! Command-line arguments of `fox-engine` (clap).

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Leakage-safe research engine for cross-sectional / panel data.
#[derive(Parser)]
#[command(name = "fox-engine", version, about)]
pub struct Cli {
    /// Log format on stderr: pretty, json or llm.
    #[arg(long, global = true, default_value = "pretty", value_parser = ["pretty", "json", "llm"])]
    pub log_format: String,
    /// Log level (an EnvFilter directive; RUST_LOG overrides it).
    #[arg(long, global = true, default_value = "info")]
    pub log_level: String,
    /// License key (FOX1-…); else FOX_LICENSE_KEY, else the key stored by `license activate`.
    #[arg(long, global = true, env = "FOX_LICENSE_KEY", hide_env_values = true)]
    pub license_key: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Human,
    Json,
    Toon,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run an experiment: leakage scan, target ranking, feature selection, training, reports.
    Run {
        /// Experiment config (YAML).
        experiment: PathBuf,
        /// Summary format on stdout (default: output.format of the config).
        #[arg(long, value_enum)]
        format: Option<Format>,
        /// A previous run directory to compare metrics with.
        #[arg(long)]
        baseline: Option<PathBuf>,
        /// Override the number of worker threads (0 = one per core).
        #[arg(long)]
        threads: Option<usize>,
        /// Override the run directory.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check an experiment config and list every problem with its path.
    Validate {
        /// Experiment config (YAML).
        experiment: PathBuf,
    },
    /// Write a deterministic synthetic panel (CSV, or Parquet for a `.parquet` path) with
    /// known signal and planted leaks.
    Generate {
        /// Output path: `.parquet` writes Parquet, anything else CSV.
        #[arg(long)]
        out: PathBuf,
        /// Entities.
        #[arg(long, default_value_t = 50)]
        entities: usize,
        /// Timestamps (5-minute bars).
        #[arg(long, default_value_t = 400)]
        timestamps: usize,
        /// Informative features.
        #[arg(long, default_value_t = 5)]
        informative: usize,
        /// Pure-noise features.
        #[arg(long, default_value_t = 15)]
        noise: usize,
        /// Signal loading of the next bar's return.
        #[arg(long, default_value_t = 0.3)]
        signal: f64,
        /// Seed.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Do not plant leak features.
        #[arg(long)]
        no_leaks: bool,
        /// Write timestamps as RFC 3339 instead of epoch seconds (CSV only; Parquet stores a
        /// TIMESTAMP column).
        #[arg(long)]
        rfc3339: bool,
    },
    /// Predict with a saved model (a run's `models/<target>/<family>` directory): one score
    /// per (timestamp, entity) row of a CSV or Parquet file, written as CSV.
    Predict {
        /// Model directory holding `model.json` and `model_meta.json`.
        model: PathBuf,
        /// Data file (CSV or Parquet) with the timestamp, entity and the model's feature columns.
        data: PathBuf,
        /// Experiment config whose `data` section (column names, timestamp unit, format,
        /// infinity policy) describes the file; defaults otherwise.
        #[arg(long)]
        experiment: Option<PathBuf>,
        /// Write the predictions to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print the JSON Schema of experiment configs.
    Schema,
    /// This machine's license: status, activation, offline activation files.
    #[command(subcommand)]
    License(LicenseCommand),
}

#[derive(Subcommand)]
pub enum LicenseCommand {
    /// Check the license on this machine (revalidating online when due) and print it.
    Status,
    /// Store the key (with --key) and activate this machine within the license's seats.
    Activate {
        /// The license key to store (FOX1-…).
        #[arg(long)]
        key: Option<String>,
    },
    /// Free this machine's seat and forget its activation.
    Deactivate,
    /// Print this machine's fingerprint (for an offline activation file).
    Fingerprint,
    /// Install an offline activation file (air-gapped machines).
    Install {
        /// The file from the platform's admin (`fox-activation-….txt`).
        file: PathBuf,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent_and_every_command_has_help() {
        Cli::command().debug_assert();
        for sub in Cli::command().get_subcommands() {
            assert!(
                sub.get_about().is_some(),
                "{} lacks --help text",
                sub.get_name()
            );
        }
        let cli = Cli::try_parse_from([
            "fox-engine",
            "--log-format",
            "llm",
            "run",
            "x.yaml",
            "--format",
            "toon",
            "--baseline",
            "runs/a",
        ])
        .unwrap();
        assert!(matches!(
            cli.command,
            Command::Run {
                format: Some(Format::Toon),
                ..
            }
        ));
    }
}

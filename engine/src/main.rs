//! `fox-engine` command-line interface: a thin layer over the library (parse arguments, set
//! up logging, call one library function, print).

mod progress_bar;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use fox_engine::config::{DataFormat, ExperimentConfig, SummaryFormat};
use fox_engine::telemetry::{self, LogFormat};

/// Leakage-safe research engine for cross-sectional / panel data.
#[derive(Parser)]
#[command(name = "fox-engine", version, about)]
struct Cli {
    /// Log format on stderr: pretty, json or llm.
    #[arg(long, global = true, default_value = "pretty", value_parser = ["pretty", "json", "llm"])]
    log_format: String,
    /// Log level (an EnvFilter directive; RUST_LOG overrides it).
    #[arg(long, global = true, default_value = "info")]
    log_level: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Human,
    Json,
    Toon,
}

#[derive(Subcommand)]
enum Command {
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let format: LogFormat = cli.log_format.parse().expect("validated by clap");
    if let Err(e) = telemetry::init(format, &cli.log_level) {
        eprintln!("error: {e:#}");
        return ExitCode::FAILURE;
    }
    match dispatch(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Run {
            experiment,
            format,
            baseline,
            threads,
            out,
        } => {
            let mut cfg = ExperimentConfig::from_path(&experiment)?;
            if let Some(t) = threads {
                cfg.threads = t;
            }
            if let Some(o) = out {
                cfg.output.dir = o;
            }
            let fmt = match format {
                Some(Format::Human) => SummaryFormat::Human,
                Some(Format::Json) => SummaryFormat::Json,
                Some(Format::Toon) => SummaryFormat::Toon,
                None => cfg.output.format,
            };
            let bar = progress_bar::Bar::on_tty();
            let summary = match &bar {
                Some(b) => fox_engine::pipeline::run_with(&cfg, baseline.as_deref(), b),
                None => fox_engine::pipeline::run(&cfg, baseline.as_deref()),
            };
            if let Some(b) = &bar {
                b.finish();
            }
            let summary = summary.with_context(|| format!("running {}", experiment.display()))?;
            print!("{}", fox_engine::report::render(&summary, fmt));
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate { experiment } => match ExperimentConfig::from_path(&experiment) {
            Ok(_) => {
                println!("{}: valid", experiment.display());
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("{}: {e}", experiment.display());
                Ok(ExitCode::from(2))
            }
        },
        Command::Generate {
            out,
            entities,
            timestamps,
            informative,
            noise,
            signal,
            seed,
            no_leaks,
            rfc3339,
        } => {
            let p = fox_engine::synth::SynthParams {
                n_entities: entities,
                n_timestamps: timestamps,
                n_informative: informative,
                n_noise: noise,
                signal,
                leaks: !no_leaks,
                seed,
                ..Default::default()
            };
            let panel = fox_engine::synth::generate(&p);
            if DataFormat::from_extension(&out) == Some(DataFormat::Parquet) {
                fox_engine::synth::write_parquet(&panel, &out)?;
            } else {
                fox_engine::synth::write_csv(&panel, &out, rfc3339)?;
            }
            tracing::info!(path = %out.display(), rows = panel.n_rows(), features = panel.features.len(), "synthetic panel written");
            Ok(ExitCode::SUCCESS)
        }
        Command::Predict {
            model,
            data,
            experiment,
            out,
        } => {
            let mut settings = match &experiment {
                Some(p) => ExperimentConfig::from_path(p)?.data,
                None => ExperimentConfig::from_yaml_str("data:\n  path: x\n")?.data,
            };
            // The file to score may be in another format than the experiment's data.
            if let Some(format) = DataFormat::from_extension(&data) {
                settings.format = format;
            }
            settings.path = data;
            let report = match &out {
                Some(path) => {
                    let file = std::fs::File::create(path)
                        .with_context(|| format!("creating {}", path.display()))?;
                    let mut w = std::io::BufWriter::new(file);
                    fox_engine::models::predict::predict_file(&model, &settings, &mut w)?
                }
                None => {
                    let mut w = std::io::BufWriter::new(std::io::stdout().lock());
                    fox_engine::models::predict::predict_file(&model, &settings, &mut w)?
                }
            };
            tracing::info!(target_name = %report.target, family = %report.family, rows = report.rows, "predictions written");
            Ok(ExitCode::SUCCESS)
        }
        Command::Schema => {
            print!("{}", fox_engine::config::json_schema_text());
            Ok(ExitCode::SUCCESS)
        }
    }
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

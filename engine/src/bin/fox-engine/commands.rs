//! What each command does: read the inputs, call the library, print the result.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use fox_engine::config::{DataFormat, DataSettings, ExperimentConfig, SummaryFormat};

use crate::cli::{Command, Format};
use crate::{licensing, progress_bar};

/// Runs one command; `Ok` carries the exit code (2 for an invalid config, 3 for a license
/// refused, with its sentence on stderr).
pub fn dispatch(cmd: Command, license_key: Option<&str>) -> anyhow::Result<ExitCode> {
    let refused = |r: licensing::Refusal| {
        eprintln!("error: {r}");
        Ok(ExitCode::from(licensing::REFUSED))
    };
    // `run` and `predict` read user data: the license comes first.
    let inputs: Vec<PathBuf> = match &cmd {
        Command::Run { experiment, .. } => {
            let cfg = ExperimentConfig::from_path(experiment)?;
            vec![cfg.data.path]
        }
        Command::Predict { data, .. } => vec![data.clone()],
        _ => Vec::new(),
    };
    if matches!(cmd, Command::Run { .. } | Command::Predict { .. }) {
        let paths: Vec<&Path> = inputs.iter().map(PathBuf::as_path).collect();
        if let Err(r) = licensing::require(license_key, &paths) {
            return refused(r);
        }
    }
    match cmd {
        Command::License(c) => match licensing::command(c, license_key) {
            Ok(code) => Ok(code),
            Err(r) => refused(r),
        },
        Command::Run {
            experiment,
            format,
            baseline,
            threads,
            out,
        } => run(&experiment, format, baseline.as_deref(), threads, out),
        Command::Validate { experiment } => Ok(validate(&experiment)),
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
            let params = fox_engine::synth::SynthParams {
                n_entities: entities,
                n_timestamps: timestamps,
                n_informative: informative,
                n_noise: noise,
                signal,
                leaks: !no_leaks,
                seed,
                ..Default::default()
            };
            generate(&params, &out, rfc3339)
        }
        Command::Predict {
            model,
            data,
            experiment,
            out,
        } => predict(&model, data, experiment.as_deref(), out.as_deref()),
        Command::Schema => {
            print!("{}", fox_engine::config::json_schema_text());
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn run(
    experiment: &Path,
    format: Option<Format>,
    baseline: Option<&Path>,
    threads: Option<usize>,
    out: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let mut cfg = ExperimentConfig::from_path(experiment)?;
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
        Some(b) => fox_engine::run::run_with(&cfg, baseline, b),
        None => fox_engine::run::run(&cfg, baseline),
    };
    if let Some(b) = &bar {
        b.finish();
    }
    let summary = summary.with_context(|| format!("running {}", experiment.display()))?;
    print!("{}", fox_engine::report::render(&summary, fmt));
    Ok(ExitCode::SUCCESS)
}

fn validate(experiment: &Path) -> ExitCode {
    match ExperimentConfig::from_path(experiment) {
        Ok(_) => {
            println!("{}: valid", experiment.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{}: {e}", experiment.display());
            ExitCode::from(2)
        }
    }
}

fn generate(
    params: &fox_engine::synth::SynthParams,
    out: &Path,
    rfc3339: bool,
) -> anyhow::Result<ExitCode> {
    let panel = fox_engine::synth::generate(params);
    if DataFormat::from_extension(out) == Some(DataFormat::Parquet) {
        fox_engine::synth::write_parquet(&panel, out)?;
    } else {
        fox_engine::synth::write_csv(&panel, out, rfc3339)?;
    }
    tracing::info!(path = %out.display(), rows = panel.n_rows(), features = panel.features.len(), "synthetic panel written");
    Ok(ExitCode::SUCCESS)
}

fn predict(
    model: &Path,
    data: PathBuf,
    experiment: Option<&Path>,
    out: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let mut settings = match experiment {
        Some(p) => ExperimentConfig::from_path(p)?.data,
        None => DataSettings::new(data.clone()),
    };
    // The file to score may be in another format than the experiment's data.
    if let Some(format) = DataFormat::from_extension(&data) {
        settings.format = format;
    }
    settings.path = data;
    let report = match out {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("creating {}", path.display()))?;
            let mut w = std::io::BufWriter::new(file);
            fox_engine::models::predict::predict_file(model, &settings, &mut w)?
        }
        None => {
            let mut w = std::io::BufWriter::new(std::io::stdout().lock());
            fox_engine::models::predict::predict_file(model, &settings, &mut w)?
        }
    };
    tracing::info!(target_name = %report.target, family = %report.family, rows = report.rows, "predictions written");
    Ok(ExitCode::SUCCESS)
}

//! `fox`: parse the command line, load the configuration, start logging, dispatch.

use anyhow::Context;
use clap::Parser;
use fox::cli::{Cli, Command, ConfigCommand, DbCommand, EXIT_INVALID_CONFIG};
use fox::config::{self, ConfigError, LoadedConfig};
use fox::startup::{Application, shutdown_signal};
use fox::telemetry::{self, Sink};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            if let Some(c) = e.downcast_ref::<ConfigError>() {
                eprintln!("{c}");
                return ExitCode::from(EXIT_INVALID_CONFIG);
            }
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn start_logging(cfg: &LoadedConfig) -> anyhow::Result<()> {
    telemetry::init(
        cfg.settings.log.format,
        &cfg.settings.log.level,
        Sink::Stderr,
    )
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Serve => {
            let cfg = cli.load_config()?;
            start_logging(&cfg)?;
            tracing::info!(
                environment = cfg.environment.name(),
                sources = cfg.sources.join(","),
                "configuration loaded"
            );
            runtime()?.block_on(async {
                let app = Application::build(cfg).await?;
                tracing::info!(port = app.port(), url = %app.state.site.public_url, "listening");
                app.run_until(shutdown_signal()).await
            })?;
        }
        Command::Db(DbCommand::Migrate) => {
            let cfg = cli.load_config()?;
            start_logging(&cfg)?;
            runtime()?.block_on(fox::db::migrate(&cfg.settings.database))?;
            tracing::info!(database = %cfg.settings.database.name, "migrations applied");
        }
        Command::Config(ConfigCommand::Validate { files }) => {
            for line in cli.validate(files)? {
                println!("{line}");
            }
        }
        Command::Config(ConfigCommand::Show) => {
            let cfg = cli.load_config()?;
            println!(
                "# environment: {}\n# sources: {}",
                cfg.environment.name(),
                cfg.sources.join(" → ")
            );
            print!("{}", serde_yaml_ng::to_string(&cfg.settings)?);
        }
        Command::Config(ConfigCommand::Schema) => {
            println!("{}", serde_json::to_string_pretty(&config::schema())?)
        }
        Command::Config(ConfigCommand::Reference) => {
            print!("{}", config::reference::markdown(&config::schema()))
        }
        Command::Config(ConfigCommand::Init { dir, force }) => {
            for p in fox::cli::init_templates(dir, *force)? {
                println!("wrote {}", p.display());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

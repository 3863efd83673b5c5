//! `fox`: parse the command line, load the configuration, start logging, dispatch.

use anyhow::Context;
use clap::Parser;
use fox::cli::{
    ApiCommand, Cli, Command, ConfigCommand, DbCommand, EXIT_INVALID_CONFIG, LicenseCommand,
    TokenCommand, UserCommand,
};
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
                tracing::info!(
                    address = %app.local_addr(),
                    public_url = %app.state.site.public_url,
                    "listening"
                );
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
        Command::User(UserCommand::Create {
            role,
            email,
            password_stdin,
            name,
            company,
        }) => {
            let cfg = cli.load_config()?;
            start_logging(&cfg)?;
            let password = fox::cli::read_password(!*password_stdin)?;
            let id = runtime()?.block_on(fox::cli::create_user(
                &cfg.settings,
                *role,
                email,
                password,
                name,
                company,
            ))?;
            println!("created {} user {id}", role.as_str());
        }
        Command::License(LicenseCommand::Keygen) => {
            let (signing, public) = fox::cli::keygen();
            println!("signing_key: {signing}\npublic_key: {public}");
            eprintln!(
                "Keep the signing key secret: set it as FOX__LICENSE__SIGNING_KEY. The public key verifies license keys offline."
            );
        }
        Command::License(LicenseCommand::Issue {
            email,
            tier,
            days,
            name,
            company,
        }) => {
            let cfg = cli.load_config()?;
            start_logging(&cfg)?;
            let (id, key) = runtime()?.block_on(fox::cli::issue_license(
                &cfg.settings,
                &cfg.environment,
                email,
                tier,
                *days,
                name,
                company,
            ))?;
            println!("license_id: {id}\nkey: {key}");
            eprintln!("The key email is queued; the server's outbox sends it.");
        }
        Command::License(LicenseCommand::List) => {
            let cfg = cli.load_config()?;
            start_logging(&cfg)?;
            print!(
                "{}",
                runtime()?.block_on(fox::cli::list_licenses(&cfg.settings))?
            );
        }
        Command::Token(TokenCommand::Create { email, name }) => {
            let cfg = cli.load_config()?;
            start_logging(&cfg)?;
            let token = runtime()?.block_on(fox::cli::create_token(&cfg.settings, email, name))?;
            println!("token: {token}");
            eprintln!(
                "Shown once: only a hash is stored. Send it as `Authorization: Bearer <token>`."
            );
        }
        Command::Api(ApiCommand::Openapi) => {
            let doc = fox::routes::api::openapi::api_routes().openapi;
            print!("{}", fox::routes::api::openapi::document_text(&doc));
        }
        Command::Api(ApiCommand::Reference) => {
            let doc = serde_json::to_value(fox::routes::api::openapi::api_routes().openapi)?;
            print!("{}", fox::routes::api::reference::markdown(&doc));
        }
        Command::Worker { slots } => {
            let cfg = cli.load_config()?;
            start_logging(&cfg)?;
            runtime()?.block_on(fox::startup::run_worker(cfg, *slots, shutdown_signal()))?;
        }
        Command::JobRun {
            dir,
            threads,
            baseline,
        } => {
            // The worker keeps this process's stderr as the job's log.
            telemetry::init(fox::config::LogFormat::Llm, "info", Sink::Stderr)?;
            let code = fox::jobs::runner::run(dir, *threads, baseline.as_deref());
            return Ok(ExitCode::from(code as u8));
        }
        Command::License(LicenseCommand::OfflineActivation {
            id,
            fingerprint,
            name,
        }) => {
            let cfg = cli.load_config()?;
            start_logging(&cfg)?;
            let token = runtime()?.block_on(fox::cli::offline_activation(
                &cfg.settings,
                &cli.environment()?,
                id,
                fingerprint,
                name,
            ))?;
            println!("{token}");
            eprintln!("Install it on that machine with `fox-engine license install FILE`.");
        }
        Command::License(LicenseCommand::Revoke { id, reason }) => {
            let cfg = cli.load_config()?;
            start_logging(&cfg)?;
            let id = runtime()?.block_on(fox::cli::revoke_license(&cfg.settings, id, reason))?;
            println!("revoked license {id}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

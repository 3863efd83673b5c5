//! The `fox` command line: one binary, a subcommand per job.

use crate::config::{self, ConfigError, Environment, LoadedConfig, TEMPLATES};
use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};

mod accounts;
mod licenses;
mod tokens;

pub use accounts::{create_user, read_password};
pub use licenses::{issue_license, keygen, list_licenses, offline_activation, revoke_license};
pub use tokens::create_token;

/// Exit code for an invalid configuration.
pub const EXIT_INVALID_CONFIG: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "fox",
    version,
    about = "Fox ML Infrastructure: website, licensing and job API"
)]
pub struct Cli {
    /// Folder holding base.yaml and {FOX_ENV}.yaml.
    #[arg(long, global = true, env = "FOX_CONFIG_DIR", default_value = "config")]
    pub config_dir: PathBuf,
    /// Deployment environment: selects {ENV}.yaml and, for "production", the strict checks.
    #[arg(long = "env", global = true, env = "FOX_ENV", default_value = "local")]
    pub environment: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web server (applies pending migrations first).
    Serve,
    /// Database administration.
    #[command(subcommand)]
    Db(DbCommand),
    /// Inspect and check the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Manage login accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Create signing keys; issue, list and revoke licenses.
    #[command(subcommand)]
    License(LicenseCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// The API's description.
    #[command(subcommand)]
    Api(ApiCommand),
    /// Run jobs: claim queued jobs and run each in its own process, until SIGTERM or Ctrl-C
    /// (running jobs then go back to the queue). Run several, on several machines, against
    /// the same database and object store.
    Worker {
        /// Job slots (default: worker.slots).
        #[arg(long)]
        slots: Option<u32>,
    },
    /// Internal: run one prepared job in this process (started by a worker).
    #[command(hide = true)]
    JobRun {
        /// The job's working directory (experiment.json, the dataset; the run goes to out/).
        #[arg(long)]
        dir: PathBuf,
        /// Engine threads.
        #[arg(long)]
        threads: usize,
        /// The baseline run directory to compare with.
        #[arg(long)]
        baseline: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ApiCommand {
    /// Print the OpenAPI 3.1 document of /api/v1 (as served at /api/v1/openapi.json).
    Openapi,
    /// Print the API reference page (Markdown) generated from the OpenAPI document.
    Reference,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token for a user and print it once (only its hash is stored).
    Create {
        /// The user's email address.
        #[arg(long)]
        email: String,
        /// A name for the token (where it is used).
        #[arg(long)]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user. The password is read from standard input (one line).
    Create {
        /// Role: admin and sales open /admin; a customer gets a customer record too.
        #[arg(long, value_enum)]
        role: Role,
        /// Email address (the login).
        #[arg(long)]
        email: String,
        /// Read the password from standard input without prompting (for scripts).
        #[arg(long)]
        password_stdin: bool,
        /// Name (customers only).
        #[arg(long, default_value = "")]
        name: String,
        /// Company (customers only).
        #[arg(long, default_value = "")]
        company: String,
    },
}

pub use crate::domain::Role;

/// `--role admin|sales|customer`: the domain's roles, by their stored names.
impl clap::ValueEnum for Role {
    fn value_variants<'a>() -> &'a [Self] {
        Role::ALL
    }
    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.as_str()))
    }
}

#[derive(Debug, Subcommand)]
pub enum LicenseCommand {
    /// Print a new Ed25519 signing key (a secret: set it as FOX__LICENSE__SIGNING_KEY) and its public key.
    Keygen,
    /// Issue a license: creates the customer and account if needed, prints the license id and key, queues the key email.
    Issue {
        /// Customer email address.
        #[arg(long)]
        email: String,
        /// Tier id from the pricing configuration (e.g. desk).
        #[arg(long)]
        tier: String,
        /// Length in days (default: the tier's license_days, else license.default_days).
        #[arg(long)]
        days: Option<u32>,
        /// Customer name.
        #[arg(long, default_value = "")]
        name: String,
        /// Customer company.
        #[arg(long, default_value = "")]
        company: String,
    },
    /// List licenses, newest first, as a table.
    List,
    /// Print an offline activation file for an air-gapped machine (takes a seat); the customer installs it with `fox-engine license install FILE`.
    OfflineActivation {
        /// License id (a UUID, as printed by `fox license list`).
        id: String,
        /// The machine's fingerprint (`fox-engine license fingerprint` on that machine).
        #[arg(long)]
        fingerprint: String,
        /// A name for the machine, shown with its seat.
        #[arg(long, default_value = "offline machine")]
        name: String,
    },
    /// Revoke a license for good (the customer is emailed).
    Revoke {
        /// License id (a UUID, as printed by `fox license list`).
        id: String,
        /// Reason, included in the customer's email.
        #[arg(long, default_value = "")]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Create the database if missing and apply pending migrations.
    Migrate,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Check the effective configuration, or each FILE layered over base.yaml; reports every problem, exits 2 if any.
    Validate {
        /// Files to check instead of the effective configuration.
        files: Vec<PathBuf>,
    },
    /// Print the effective configuration as YAML, secrets shown as [redacted].
    Show,
    /// Print the JSON Schema of the configuration.
    Schema,
    /// Print the configuration reference (Markdown) generated from the schema.
    Reference,
    /// Write commented configuration templates into DIR.
    Init {
        /// Target folder (created if missing).
        #[arg(default_value = "config")]
        dir: PathBuf,
        /// Overwrite existing files.
        #[arg(long)]
        force: bool,
    },
}

/// Environment variables that may override settings.
pub fn override_vars() -> Vec<(String, String)> {
    std::env::vars()
        .filter(|(k, _)| k.starts_with(config::ENV_PREFIX))
        .collect()
}

impl Cli {
    pub fn environment(&self) -> Result<Environment, ConfigError> {
        Environment::parse(&self.environment)
    }

    /// The effective configuration: base, environment file, variables.
    pub fn load_config(&self) -> Result<LoadedConfig, ConfigError> {
        config::load(&self.config_dir, &self.environment()?, override_vars())
    }

    /// `config validate`: the effective configuration, or each file over base.yaml.
    pub fn validate(&self, files: &[PathBuf]) -> Result<Vec<String>, ConfigError> {
        if files.is_empty() {
            return self
                .load_config()
                .map(|c| vec![format!("configuration OK ({})", c.sources.join(" → "))]);
        }
        let base = self.config_dir.join("base.yaml");
        let mut ok = Vec::new();
        let mut problems = Vec::new();
        for f in files {
            let mut layers = Vec::new();
            if !same_file(f, &base) && base.exists() {
                layers.push(base.clone());
            }
            layers.push(f.clone());
            // A file named production.yaml is checked with the production rules.
            let env = if f.file_stem().and_then(|s| s.to_str()) == Some("production") {
                Environment::production()
            } else {
                self.environment()?
            };
            match config::load_layers(&layers, &env, override_vars()) {
                Ok(_) => ok.push(format!("{}: OK", f.display())),
                Err(e) => problems.extend(e.problems),
            }
        }
        if problems.is_empty() {
            Ok(ok)
        } else {
            Err(ConfigError { problems })
        }
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// `config init`: writes the templates; refuses to overwrite without `force`.
pub fn init_templates(dir: &Path, force: bool) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut written = Vec::new();
    for (name, text) in TEMPLATES {
        let path = dir.join(name);
        if path.exists() && !force {
            anyhow::bail!("{} exists; use --force to overwrite", path.display());
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

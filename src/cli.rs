//! The `fox` command line: one binary, a subcommand per job.

use crate::config::{self, ConfigError, Environment, LoadedConfig, TEMPLATES};
use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};

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

/// A user's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    Admin,
    Sales,
    Customer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Sales => "sales",
            Self::Customer => "customer",
        }
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

/// Longest license the CLI issues in one go (ten years).
const MAX_DAYS: u32 = 3650;

/// Reads a password (one line) from standard input, prompting when it is a terminal.
pub fn read_password(prompt: bool) -> anyhow::Result<String> {
    use std::io::{BufRead, IsTerminal, Write};
    let stdin = std::io::stdin();
    if prompt && stdin.is_terminal() {
        eprint!("Password (visible as you type): ");
        std::io::stderr().flush().ok();
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// `user create`: the account (and, for a customer, its customer record), audited as `cli`.
pub async fn create_user(
    settings: &config::Settings,
    role: Role,
    email: &str,
    password: String,
    name: &str,
    company: &str,
) -> anyhow::Result<uuid::Uuid> {
    use crate::db;
    let email = crate::domain::EmailAddress::parse(email)
        .map_err(|m| anyhow::anyhow!("--email: {m}"))?
        .as_str()
        .to_lowercase();
    crate::auth::password::check_policy(&password).map_err(|m| anyhow::anyhow!("password: {m}"))?;
    let hash = crate::auth::password::hash(password).await?;
    let pool = db::migrate(&settings.database).await?;
    let mut tx = pool.begin().await?;
    let customer_id = match role {
        Role::Customer => {
            Some(db::customers::upsert_customer(&mut tx, &email, name, company, None).await?)
        }
        _ => None,
    };
    let Some(id) =
        db::accounts::create_user(&mut tx, &email, role.as_str(), &hash, customer_id).await?
    else {
        anyhow::bail!("a user with this email address already exists");
    };
    let details = serde_json::json!({"role": role.as_str()});
    db::audit::record(
        &mut tx,
        &db::audit::Actor::system("cli"),
        "user.create",
        "user",
        &id.to_string(),
        details,
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// `license keygen`: (signing key, public key), both base64.
pub fn keygen() -> (String, String) {
    let key = crate::license::SigningKey::generate();
    (key.to_base64(), key.public_key().to_base64())
}

/// `license issue`: returns the license id and its key.
pub async fn issue_license(
    settings: &config::Settings,
    email: &str,
    tier: &str,
    days: Option<u32>,
    name: &str,
    company: &str,
) -> anyhow::Result<(uuid::Uuid, String)> {
    use crate::commerce::issue::{self, Origin, Request};
    use crate::db;
    let email =
        crate::domain::EmailAddress::parse(email).map_err(|m| anyhow::anyhow!("--email: {m}"))?;
    let Some(tier) = settings.pricing.tiers.iter().find(|t| t.id == tier) else {
        let known: Vec<&str> = settings
            .pricing
            .tiers
            .iter()
            .map(|t| t.id.as_str())
            .collect();
        anyhow::bail!(
            "--tier: unknown tier {tier:?}; known tiers: {}",
            known.join(", ")
        );
    };
    let days = days
        .or(tier.license_days)
        .unwrap_or(settings.license.default_days);
    if !(1..=MAX_DAYS).contains(&days) {
        anyhow::bail!("--days: must be from 1 to {MAX_DAYS}, got {days}");
    }
    let Some(secret) = &settings.license.signing_key else {
        anyhow::bail!(
            "license.signing_key is not set: create one with `fox license keygen` and set FOX__LICENSE__SIGNING_KEY (keys signed with a throw-away key would not verify)"
        );
    };
    let signer = crate::license::Signer::new(
        crate::license::SigningKey::from_base64(secret.expose()).context("license.signing_key")?,
    );
    let pool = db::migrate(&settings.database).await?;
    let req = Request {
        email: &email,
        name,
        company,
        tier,
        expires_at: time::OffsetDateTime::now_utc() + time::Duration::days(days.into()),
        origin: Origin {
            source: "cli",
            ..Default::default()
        },
    };
    let mut tx = pool.begin().await?;
    let issued = issue::issue(
        &mut tx,
        settings,
        &signer,
        &req,
        &db::audit::Actor::system("cli"),
    )
    .await?
    .context("the license was not issued")?;
    tx.commit().await?;
    Ok((issued.license_id, issued.key))
}

/// `license list`: a plain-text table, newest first.
pub async fn list_licenses(settings: &config::Settings) -> anyhow::Result<String> {
    let pool = crate::db::migrate(&settings.database).await?;
    let mut conn = pool.acquire().await?;
    let rows = crate::db::admin::licenses(&mut conn, None, None, 10_000).await?;
    let mut out = format!(
        "{:<36}  {:<32}  {:<12}  {:<9}  {:>5}  {:>5}  {:<10}  {}\n",
        "ID", "EMAIL", "TIER", "STATUS", "USED", "SEATS", "EXPIRES", "SOURCE"
    );
    for r in rows {
        out += &format!(
            "{:<36}  {:<32}  {:<12}  {:<9}  {:>5}  {:>5}  {:<10}  {}\n",
            r.id,
            r.email,
            r.tier,
            r.status,
            r.machines,
            r.seats,
            r.expires_at.date(),
            r.source
        );
    }
    Ok(out)
}

/// `license revoke`: revokes, emails the customer, audits as `cli`.
pub async fn revoke_license(
    settings: &config::Settings,
    id: &str,
    reason: &str,
) -> anyhow::Result<uuid::Uuid> {
    use crate::db::license_actions::{self, Action, ActionError};
    let id: uuid::Uuid = id
        .trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("not a license id (expected a UUID): {id:?}"))?;
    let pool = crate::db::migrate(&settings.database).await?;
    let mut tx = pool.begin().await?;
    match license_actions::apply(
        &mut tx,
        id,
        Action::Revoke,
        reason.trim(),
        &crate::db::audit::Actor::system("cli"),
    )
    .await
    {
        Ok(_) => {}
        Err(ActionError::NotFound) => anyhow::bail!("no license with id {id}"),
        Err(ActionError::NotAllowed(m)) => anyhow::bail!("license {id}: {m}"),
        Err(ActionError::Db(e)) => {
            return Err(anyhow::Error::new(e).context("revoking the license"));
        }
    }
    tx.commit().await?;
    Ok(id)
}

//! Database access: connecting (creating the database if it is missing), migrations, and
//! one small module of named queries per table.

pub mod accounts;
pub mod admin;
pub mod api_tokens;
pub mod audit;
pub mod customers;
pub mod datasets;
pub mod jobs;
pub mod leads;
pub mod licenses;
pub mod outbox;
pub mod subscriptions;
pub mod tokens;

use crate::config::DatabaseSettings;
use anyhow::Context;
use secrecy::ExposeSecret;
use sqlx::migrate::MigrateDatabase;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgSslMode};
use sqlx::{PgPool, Postgres};
use std::time::Duration;

/// Migrations in `migrations/`, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// Connection options for `s`, for the database `s.name`.
pub fn connect_options(s: &DatabaseSettings) -> PgConnectOptions {
    let mut o = PgConnectOptions::new()
        .host(&s.host)
        .port(s.port)
        .username(&s.username)
        .database(&s.name)
        .ssl_mode(if s.require_ssl {
            PgSslMode::Require
        } else {
            PgSslMode::Prefer
        });
    if let Some(p) = &s.password {
        o = o.password(p.expose());
    }
    o
}

/// A connection URL (with the password) for sqlx's database-creation helpers. Never logged.
fn url(s: &DatabaseSettings) -> anyhow::Result<secrecy::SecretString> {
    let mut u = url::Url::parse("postgres://localhost").expect("static URL");
    u.set_host(Some(&s.host)).context("database.host")?;
    u.set_port(Some(s.port)).ok();
    u.set_username(&s.username).ok();
    if let Some(p) = &s.password {
        u.set_password(Some(p.expose())).ok();
    }
    u.set_path(&s.name);
    if s.require_ssl {
        u.set_query(Some("sslmode=require"));
    }
    Ok(secrecy::SecretString::from(u.to_string()))
}

/// Whether an error means "PostgreSQL is not there yet" (not listening, starting up, or in
/// recovery), worth retrying at start-up, rather than a configuration mistake.
fn not_up_yet(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut => true,
        // 57P03 cannot_connect_now: the database system is starting up.
        sqlx::Error::Database(d) => d.code().as_deref() == Some("57P03"),
        _ => false,
    }
}

/// Whether the configured database exists, retrying with back-off for
/// `connect_retry_secs` while PostgreSQL is not up yet (containers start before their
/// database).
async fn database_exists(s: &DatabaseSettings, url: &str) -> anyhow::Result<bool> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(s.connect_retry_secs);
    let mut wait = Duration::from_millis(250);
    loop {
        match Postgres::database_exists(url).await {
            Ok(b) => return Ok(b),
            Err(e) if not_up_yet(&e) && tokio::time::Instant::now() + wait < deadline => {
                tracing::warn!(
                    host = %s.host,
                    port = s.port,
                    retry_in_ms = wait.as_millis() as u64,
                    error = %e,
                    "PostgreSQL is not reachable yet; retrying"
                );
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
            Err(e) => {
                return Err(anyhow::Error::new(e).context(format!(
                    "cannot reach PostgreSQL at {}:{} (tried for up to {} s; database.connect_retry_secs)",
                    s.host, s.port, s.connect_retry_secs
                )));
            }
        }
    }
}

/// Creates the configured database when it does not exist yet.
pub async fn ensure_database(s: &DatabaseSettings) -> anyhow::Result<()> {
    let url = url(s)?;
    let exists = database_exists(s, url.expose_secret()).await?;
    if !exists {
        Postgres::create_database(url.expose_secret())
            .await
            .with_context(|| format!("creating database {:?}", s.name))?;
        tracing::info!(database = %s.name, "created database");
    }
    Ok(())
}

/// A pool for the configured database (connections are opened lazily).
pub fn pool(s: &DatabaseSettings) -> PgPool {
    PgPoolOptions::new()
        .max_connections(s.max_connections)
        .acquire_timeout(Duration::from_secs(s.acquire_timeout_secs))
        .connect_lazy_with(connect_options(s))
}

/// Creates the database if needed and applies pending migrations.
pub async fn migrate(s: &DatabaseSettings) -> anyhow::Result<PgPool> {
    ensure_database(s).await?;
    let pool = pool(s);
    MIGRATOR
        .run(&pool)
        .await
        .context("applying database migrations")?;
    Ok(pool)
}

//! `fox user …`: login accounts from the command line.

use super::Role;
use crate::config;
use anyhow::Context;

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
    let email =
        crate::domain::AccountEmail::parse(email).map_err(|m| anyhow::anyhow!("--email: {m}"))?;
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
    let Some(id) = db::accounts::create_user(&mut tx, &email, role, &hash, customer_id).await?
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

//! `fox token create`: an API token for scripts and operators, printed once.

use crate::config;
use crate::db;
use crate::domain::AccountEmail;

/// Creates a token named `name` for the user `email`; returns it (shown once).
pub async fn create_token(
    settings: &config::Settings,
    email: &str,
    name: &str,
) -> anyhow::Result<String> {
    let email = AccountEmail::parse(email).map_err(|m| anyhow::anyhow!("--email: {m}"))?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        anyhow::bail!("--name: give the token a name of 1 to 100 characters");
    }
    let pool = db::migrate(&settings.database).await?;
    let mut tx = pool.begin().await?;
    let Some(user) = db::customers::user_by_email(&mut tx, &email).await? else {
        anyhow::bail!("--email: no user with this email address");
    };
    let t = db::api_tokens::generate();
    let id = db::api_tokens::insert(&mut tx, user.id, name, &t).await?;
    db::audit::record(
        &mut tx,
        &db::audit::Actor::system("cli"),
        "token.create",
        "user",
        &user.id.to_string(),
        serde_json::json!({"token_id": id, "name": name}),
    )
    .await?;
    tx.commit().await?;
    Ok(t.token)
}

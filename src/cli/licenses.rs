//! `fox license …`: signing keys and licenses from the command line.

use crate::config;
use crate::domain::IssueSource;
use anyhow::Context;

/// Longest license the CLI issues in one go (ten years).
const MAX_DAYS: u32 = 3650;

/// `license keygen`: (signing key, public key), both base64.
pub fn keygen() -> (String, String) {
    let key = crate::license::SigningKey::generate();
    (key.to_base64(), key.public_key().to_base64())
}

/// `license issue`: returns the license id and its key.
pub async fn issue_license(
    settings: &config::Settings,
    env: &config::Environment,
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
    let Some(key) = crate::security::local_keys::license_signing_key(settings, env)? else {
        anyhow::bail!(
            "license.signing_key is not set: create one with `fox license keygen` and set FOX__LICENSE__SIGNING_KEY (keys signed with a throw-away key would not verify)"
        );
    };
    let signer = crate::license::Signer::new(key);
    let pool = db::migrate(&settings.database).await?;
    let req = Request {
        email: &email,
        name,
        company,
        tier,
        expires_at: time::OffsetDateTime::now_utc() + time::Duration::days(days.into()),
        origin: Origin::new(IssueSource::Cli),
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
    use crate::license::actions::{self as license_actions, Action, ActionError};
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

/// `license offline-activation`: an offline activation file for an air-gapped machine,
/// audited as `cli`.
pub async fn offline_activation(
    settings: &config::Settings,
    env: &config::Environment,
    id: &str,
    fingerprint: &str,
    name: &str,
) -> anyhow::Result<String> {
    use crate::license::validate::{self, MachineError};
    let id: uuid::Uuid = id
        .trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("not a license id (expected a UUID): {id:?}"))?;
    let Some(key) = crate::security::local_keys::license_signing_key(settings, env)? else {
        anyhow::bail!(
            "license.signing_key is not set: an activation signed with a throw-away key would not verify"
        );
    };
    let signer = crate::license::Signer::new(key);
    let pool = crate::db::migrate(&settings.database).await?;
    let mut tx = pool.begin().await?;
    let token =
        match validate::offline_activation(&mut tx, &signer, id, fingerprint.trim(), name.trim())
            .await
        {
            Ok(t) => t,
            Err(MachineError::Refused(p)) => anyhow::bail!("license {id}: {}", p.detail),
            Err(MachineError::Db(e)) => {
                return Err(anyhow::Error::new(e).context("activating the machine"));
            }
        };
    crate::db::audit::record(
        &mut tx,
        &crate::db::audit::Actor::system("cli"),
        "license.offline_activation",
        "license",
        &id.to_string(),
        serde_json::json!({ "machine": name.trim() }),
    )
    .await?;
    tx.commit().await?;
    Ok(token)
}

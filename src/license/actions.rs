//! What can be done to a license after it is issued, as workflows over `db/`: staff actions
//! (suspend, reinstate, revoke, extend; shared by the admin pages and the CLI) and a
//! customer's "resend my key". Each runs in the caller's transaction: the row change under a
//! lock, the customer's email, the audit entry (wake the outbox after commit).

use crate::config::Settings;
use crate::db::{self, audit::Actor, licenses::License};
use crate::domain::LicenseStatus;
use crate::email::messages;
use crate::license::Signer;
use sqlx::PgConnection;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// What to do to a license.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Suspend,
    Reinstate,
    Revoke,
    /// Moves the expiry this many days past the later of now and the current expiry.
    Extend(u32),
}

impl Action {
    /// The audit action name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Suspend => "license.suspend",
            Self::Reinstate => "license.reinstate",
            Self::Revoke => "license.revoke",
            Self::Extend(_) => "license.extend",
        }
    }

    /// The status after the action, or why it does not apply to a license in `status`.
    pub fn next_status(self, status: LicenseStatus) -> Result<LicenseStatus, String> {
        use LicenseStatus::*;
        match (self, status) {
            (_, Revoked) => Err("This license is revoked; revocation is final.".into()),
            (Self::Suspend, Active) => Ok(Suspended),
            (Self::Suspend, _) => Err(format!(
                "Only an active license can be suspended (this one is {status})."
            )),
            (Self::Reinstate, Suspended) => Ok(Active),
            (Self::Reinstate, _) => Err(format!(
                "Only a suspended license can be reinstated (this one is {status})."
            )),
            (Self::Revoke, _) => Ok(Revoked),
            // Extending an expired license makes it work again; a suspension stays in force.
            (Self::Extend(_), Expired | Active) => Ok(Active),
            (Self::Extend(_), Suspended) => Ok(Suspended),
        }
    }
}

/// Why an action was not applied.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("no such license")]
    NotFound,
    #[error("{0}")]
    NotAllowed(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Applies `action` to the license; returns it as it is afterwards.
pub async fn apply(
    conn: &mut PgConnection,
    license_id: Uuid,
    action: Action,
    reason: &str,
    actor: &Actor,
) -> Result<License, ActionError> {
    let before = db::licenses::lock(conn, license_id)
        .await?
        .ok_or(ActionError::NotFound)?;
    let next = action
        .next_status(before.status)
        .map_err(ActionError::NotAllowed)?;
    let mut details = serde_json::json!({"from": before.status, "to": next});
    match action {
        Action::Extend(days) => {
            let base = before.expires_at.max(OffsetDateTime::now_utc());
            let until =
                db::licenses::extend_to(conn, license_id, base + Duration::days(days.into()))
                    .await?;
            details["days"] = days.into();
            details["expires_at"] = until.date().to_string().into();
        }
        _ => {
            let reason = (!reason.is_empty()).then_some(reason);
            db::licenses::set_status(conn, license_id, next, reason).await?;
            if let Some(r) = reason {
                details["reason"] = r.into();
            }
        }
    }
    if matches!(action, Action::Suspend | Action::Revoke) {
        let to = db::customers::customer_email(conn, before.customer_id).await?;
        let why = if reason.is_empty() {
            "Changed by Fox ML Infrastructure staff."
        } else {
            reason
        };
        // Each staff action is its own event: the dedupe key only guards this one message.
        let dedupe = format!("license-status:{license_id}:{next}:{}", Uuid::now_v7());
        let mail = messages::license_status(&to, license_id, next, why, &dedupe);
        db::outbox::enqueue(conn, &mail.as_new()).await?;
    }
    db::audit::record(
        conn,
        actor,
        action.name(),
        "license",
        &license_id.to_string(),
        details,
    )
    .await?;
    db::licenses::by_id(conn, license_id)
        .await?
        .ok_or(ActionError::NotFound)
}

/// "Resend my key": signs a new key for the license (earlier keys keep working), emails it
/// to the customer and records who asked. A revoked license gets no new key.
pub async fn resend_key(
    conn: &mut PgConnection,
    settings: &Settings,
    signer: &Signer,
    license: &License,
    actor: &Actor,
) -> Result<(), ActionError> {
    if license.status == LicenseStatus::Revoked {
        return Err(ActionError::NotAllowed(
            "This license is revoked; no new key can be issued for it.".into(),
        ));
    }
    let key = crate::commerce::issue::new_key(conn, signer, license).await?;
    let to = db::customers::customer_email(conn, license.customer_id).await?;
    let login = format!(
        "{}/account/login",
        settings.server.public_url.trim_end_matches('/')
    );
    let tier = settings
        .pricing
        .tiers
        .iter()
        .find(|t| t.id == license.tier)
        .map_or(license.tier.as_str(), |t| t.name.as_str());
    let expires = license
        .expires_at
        .to_offset(time::UtcOffset::UTC)
        .date()
        .to_string();
    let mail = messages::license_key(&to, license.id, tier, &expires, &key, &login, false, false);
    db::outbox::enqueue(conn, &mail.as_new()).await?;
    db::audit::record(
        conn,
        actor,
        "license.key_resend",
        "license",
        &license.id.to_string(),
        serde_json::json!({}),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Action::*;
    use crate::domain::LicenseStatus::*;

    #[test]
    fn allowed_transitions() {
        assert_eq!(Suspend.next_status(Active), Ok(Suspended));
        assert!(Suspend.next_status(Suspended).is_err());
        assert_eq!(Reinstate.next_status(Suspended), Ok(Active));
        assert!(Reinstate.next_status(Active).is_err());
        assert_eq!(Revoke.next_status(Suspended), Ok(Revoked));
        assert!(Revoke.next_status(Revoked).is_err());
        assert!(Reinstate.next_status(Revoked).is_err());
        assert_eq!(Extend(30).next_status(Expired), Ok(Active));
        assert_eq!(Extend(30).next_status(Suspended), Ok(Suspended));
        assert!(Extend(30).next_status(Revoked).is_err());
    }
}

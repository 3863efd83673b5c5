//! Staff actions on a license (suspend, reinstate, revoke, extend) shared by the admin pages
//! and the CLI: the row change under a lock, the customer's email, the audit entry — all in
//! the caller's transaction (wake the outbox after commit).

use crate::db::{self, audit::Actor, licenses::License};
use crate::email::messages;
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
    pub fn next_status(self, status: &str) -> Result<&'static str, String> {
        match (self, status) {
            (_, "REVOKED") => Err("This license is revoked; revocation is final.".into()),
            (Self::Suspend, "ACTIVE") => Ok("SUSPENDED"),
            (Self::Suspend, _) => Err(format!(
                "Only an active license can be suspended (this one is {status})."
            )),
            (Self::Reinstate, "SUSPENDED") => Ok("ACTIVE"),
            (Self::Reinstate, _) => Err(format!(
                "Only a suspended license can be reinstated (this one is {status})."
            )),
            (Self::Revoke, _) => Ok("REVOKED"),
            // Extending an expired license makes it work again; a suspension stays in force.
            (Self::Extend(_), "EXPIRED" | "ACTIVE") => Ok("ACTIVE"),
            (Self::Extend(_), "SUSPENDED") => Ok("SUSPENDED"),
            (Self::Extend(_), _) => {
                Err(format!("A license in status {status} cannot be extended."))
            }
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
        .next_status(&before.status)
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

#[cfg(test)]
mod tests {
    use super::Action::*;

    #[test]
    fn allowed_transitions() {
        assert_eq!(Suspend.next_status("ACTIVE"), Ok("SUSPENDED"));
        assert!(Suspend.next_status("SUSPENDED").is_err());
        assert_eq!(Reinstate.next_status("SUSPENDED"), Ok("ACTIVE"));
        assert!(Reinstate.next_status("ACTIVE").is_err());
        assert_eq!(Revoke.next_status("SUSPENDED"), Ok("REVOKED"));
        assert!(Revoke.next_status("REVOKED").is_err());
        assert!(Reinstate.next_status("REVOKED").is_err());
        assert_eq!(Extend(30).next_status("EXPIRED"), Ok("ACTIVE"));
        assert_eq!(Extend(30).next_status("SUSPENDED"), Ok("SUSPENDED"));
        assert!(Extend(30).next_status("REVOKED").is_err());
    }
}

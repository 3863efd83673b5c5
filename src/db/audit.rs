//! The audit log: who did what to which record, when.

use sqlx::PgConnection;
use uuid::Uuid;

/// Who acted: a signed-in user, or a system actor (`cli`, `stripe`, `checkout`).
#[derive(Debug, Clone)]
pub struct Actor {
    pub id: Option<Uuid>,
    pub label: String,
}

impl Actor {
    pub fn system(label: &str) -> Self {
        Self {
            id: None,
            label: label.to_string(),
        }
    }
}

/// Appends one entry. `details` must hold no secrets (never a key or token).
pub async fn record(
    conn: &mut PgConnection,
    actor: &Actor,
    action: &str,
    target_type: &str,
    target_id: &str,
    details: serde_json::Value,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO audit_log (actor_id, actor, action, target_type, target_id, details) VALUES ($1, $2, $3, $4, $5, $6)",
        actor.id,
        actor.label,
        action,
        target_type,
        target_id,
        details
    )
    .execute(conn)
    .await?;
    Ok(())
}

//! Marks licenses whose time ran out (expiry and any payment grace period passed) as EXPIRED
//! and tells their owners, once. Runs periodically beside the outbox worker.

use crate::db;
use crate::domain::LicenseStatus;
use crate::email::messages;
use sqlx::PgPool;
use std::time::Duration;

/// Expires what is due; returns how many licenses changed.
pub async fn expire_due(pool: &PgPool) -> sqlx::Result<usize> {
    let mut tx = pool.begin().await?;
    let due = sqlx::query!(
        r#"UPDATE licenses SET status = $1, status_reason = 'license period ended', updated_at = now()
           WHERE status = $2 AND GREATEST(expires_at, COALESCE(grace_until, expires_at)) <= now()
           RETURNING id, customer_id"#,
        LicenseStatus::Expired as _,
        LicenseStatus::Active as _,
    )
    .fetch_all(&mut *tx)
    .await?;
    for l in &due {
        let to = db::customers::customer_email(&mut tx, l.customer_id).await?;
        let mail = messages::license_status(
            &to,
            l.id,
            LicenseStatus::Expired,
            "the license period ended",
            &format!("status:{}:expired", l.id),
        );
        db::outbox::enqueue(&mut tx, &mail.as_new()).await?;
        db::audit::record(
            &mut tx,
            &db::audit::Actor::system("scheduler"),
            "license.expire",
            "license",
            &l.id.to_string(),
            serde_json::json!({}),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(due.len())
}

/// Runs [`expire_due`] every `every` until the process ends.
pub async fn run(pool: PgPool, every: Duration, wake_outbox: std::sync::Arc<tokio::sync::Notify>) {
    loop {
        match expire_due(&pool).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(expired = n, "licenses expired");
                wake_outbox.notify_one();
            }
            Err(e) => tracing::warn!(error = %e, "expiry pass failed; will retry"),
        }
        tokio::time::sleep(every).await;
    }
}

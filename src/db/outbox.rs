//! Queries on `email_outbox`: enqueue in the caller's transaction, claim due messages with
//! `FOR UPDATE SKIP LOCKED` so that several workers never send the same one.

use sqlx::{PgConnection, Postgres, Transaction};
use time::OffsetDateTime;
use uuid::Uuid;

/// A message to send.
#[derive(Debug, Clone)]
pub struct NewEmail<'a> {
    pub kind: &'a str,
    pub dedupe_key: Option<&'a str>,
    pub to: &'a str,
    pub subject: &'a str,
    pub text: &'a str,
    pub html: Option<&'a str>,
    /// Holds a secret (a license key, a one-time link): the body is erased once sent.
    pub sensitive: bool,
}

/// A claimed message.
#[derive(Debug, Clone)]
pub struct QueuedEmail {
    pub id: Uuid,
    pub kind: String,
    pub to_address: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: Option<String>,
    pub attempts: i32,
}

/// Queues a message; with a `dedupe_key` already queued, does nothing and returns `None`.
#[tracing::instrument(skip_all, fields(kind = email.kind))]
pub async fn enqueue(conn: &mut PgConnection, email: &NewEmail<'_>) -> sqlx::Result<Option<Uuid>> {
    let id = Uuid::now_v7();
    let row = sqlx::query_scalar!(
        r#"INSERT INTO email_outbox (id, kind, dedupe_key, to_address, subject, body_text, body_html, sensitive)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (dedupe_key) DO NOTHING
           RETURNING id"#,
        id,
        email.kind,
        email.dedupe_key,
        email.to,
        email.subject,
        email.text,
        email.html,
        email.sensitive,
    )
    .fetch_optional(conn)
    .await?;
    Ok(row)
}

/// Locks up to `limit` due messages for this transaction.
pub async fn claim_due(
    tx: &mut Transaction<'_, Postgres>,
    limit: i64,
) -> sqlx::Result<Vec<QueuedEmail>> {
    sqlx::query_as!(
        QueuedEmail,
        r#"SELECT id, kind, to_address, subject, body_text, body_html, attempts
           FROM email_outbox
           WHERE status = 'pending' AND next_attempt_at <= now()
           ORDER BY next_attempt_at, id
           LIMIT $1
           FOR UPDATE SKIP LOCKED"#,
        limit
    )
    .fetch_all(&mut **tx)
    .await
}

/// Marks a message sent.
pub async fn mark_sent(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<()> {
    sqlx::query!(
        r#"UPDATE email_outbox SET status = 'sent', sent_at = now(), attempts = attempts + 1, last_error = NULL,
               body_text = CASE WHEN sensitive THEN '[erased after sending]' ELSE body_text END,
               body_html = CASE WHEN sensitive THEN NULL ELSE body_html END
           WHERE id = $1"#,
        id
    )
        .execute(conn)
        .await?;
    Ok(())
}

/// Records a failed attempt: retried at `retry_at`, or given up on when `retry_at` is `None`.
pub async fn mark_failed(
    conn: &mut PgConnection,
    id: Uuid,
    error: &str,
    retry_at: Option<OffsetDateTime>,
) -> sqlx::Result<()> {
    sqlx::query!(
        r#"UPDATE email_outbox
           SET attempts = attempts + 1, last_error = $2,
               status = CASE WHEN $3::timestamptz IS NULL THEN 'failed' ELSE 'pending' END,
               next_attempt_at = COALESCE($3, next_attempt_at)
           WHERE id = $1"#,
        id,
        error,
        retry_at
    )
    .execute(conn)
    .await?;
    Ok(())
}

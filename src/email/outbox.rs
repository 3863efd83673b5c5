//! The outbox worker: sends due messages, retrying with exponential back-off.

use super::Mailer;
use crate::db::outbox;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Longest wait between two attempts.
const MAX_BACKOFF_SECS: i64 = 3600;
/// Messages claimed per transaction.
const BATCH: i64 = 20;

/// Sends what is due now; returns how many were sent.
pub async fn process_due(
    pool: &PgPool,
    mailer: &Mailer,
    max_attempts: u32,
) -> anyhow::Result<usize> {
    let mut sent = 0;
    loop {
        let mut tx = pool.begin().await?;
        let batch = outbox::claim_due(&mut tx, BATCH).await?;
        if batch.is_empty() {
            tx.commit().await?;
            return Ok(sent);
        }
        for m in &batch {
            match mailer
                .send(
                    &m.to_address,
                    &m.subject,
                    &m.body_text,
                    m.body_html.as_deref(),
                )
                .await
            {
                Ok(()) => {
                    outbox::mark_sent(&mut tx, m.id).await?;
                    sent += 1;
                    tracing::info!(email_id = %m.id, kind = %m.kind, "email sent");
                }
                Err(e) => {
                    let attempts = m.attempts + 1;
                    let retry_at = (attempts < max_attempts as i32).then(|| {
                        time::OffsetDateTime::now_utc()
                            + time::Duration::seconds(
                                (5i64 << attempts.min(12)).min(MAX_BACKOFF_SECS),
                            )
                    });
                    let error = format!("{e:#}");
                    outbox::mark_failed(&mut tx, m.id, &error, retry_at).await?;
                    // A relay's answer may quote the recipient: addresses never reach the log.
                    let error = redact_addresses(&error);
                    tracing::warn!(email_id = %m.id, kind = %m.kind, attempts, gave_up = retry_at.is_none(), error, "email not sent");
                }
            }
        }
        tx.commit().await?;
        if batch.len() < BATCH as usize {
            return Ok(sent);
        }
    }
}

/// Runs until the process ends: on every `wake` and every `poll` interval.
pub async fn run(
    pool: PgPool,
    mailer: Arc<Mailer>,
    max_attempts: u32,
    poll: Duration,
    wake: Arc<Notify>,
) {
    loop {
        if let Err(e) = process_due(&pool, &mailer, max_attempts).await {
            tracing::warn!(error = format!("{e:#}"), "outbox pass failed; will retry");
        }
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(poll) => {}
        }
    }
}

/// Replaces every word that looks like an email address with `[address]`.
pub fn redact_addresses(text: &str) -> String {
    text.split(' ')
        .map(|w| if w.contains('@') { "[address]" } else { w })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::redact_addresses;

    #[test]
    fn addresses_in_relay_errors_are_redacted() {
        assert_eq!(
            redact_addresses(
                "permanent error (550): 5.1.1 <ada@example.com>: Recipient address rejected"
            ),
            "permanent error (550): 5.1.1 [address] Recipient address rejected"
        );
        assert_eq!(redact_addresses("connection refused"), "connection refused");
    }
}

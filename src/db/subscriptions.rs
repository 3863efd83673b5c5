//! Stripe subscriptions as last reported, and the ledger of processed webhook events.

use sqlx::PgConnection;
use time::OffsetDateTime;

/// Records an event id; `false` if it was processed before (the caller then does nothing).
pub async fn record_event(
    conn: &mut PgConnection,
    id: &str,
    kind: &str,
    created: OffsetDateTime,
) -> sqlx::Result<bool> {
    let row = sqlx::query_scalar!(
        "INSERT INTO stripe_events (id, type, created) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING RETURNING id",
        id,
        kind,
        created
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.is_some())
}

/// The end of the paid period Stripe reported for a subscription.
pub async fn period_end(conn: &mut PgConnection, id: &str) -> sqlx::Result<Option<OffsetDateTime>> {
    Ok(sqlx::query_scalar!(
        "SELECT current_period_end FROM subscriptions WHERE id = $1",
        id
    )
    .fetch_optional(conn)
    .await?
    .flatten())
}

/// Moves the paid period end forward (an invoice was paid).
pub async fn extend_period(
    conn: &mut PgConnection,
    id: &str,
    end: OffsetDateTime,
    event_at: OffsetDateTime,
) -> sqlx::Result<()> {
    sqlx::query!(
        r#"INSERT INTO subscriptions (id, status, current_period_end, last_event_at) VALUES ($1, 'active', $2, $3)
           ON CONFLICT (id) DO UPDATE SET
               current_period_end = GREATEST(subscriptions.current_period_end, EXCLUDED.current_period_end),
               updated_at = now()"#,
        id,
        end,
        event_at
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Applies a subscription snapshot unless a newer one was applied already (events arrive
/// out of order); returns whether it was applied.
pub async fn apply_snapshot(
    conn: &mut PgConnection,
    id: &str,
    status: &str,
    tier: Option<&str>,
    period_end: Option<OffsetDateTime>,
    cancel_at: Option<OffsetDateTime>,
    event_at: OffsetDateTime,
) -> sqlx::Result<bool> {
    let r = sqlx::query!(
        r#"INSERT INTO subscriptions (id, status, tier, current_period_end, cancel_at, last_event_at)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (id) DO UPDATE SET
               status = EXCLUDED.status,
               tier = COALESCE(EXCLUDED.tier, subscriptions.tier),
               current_period_end = GREATEST(subscriptions.current_period_end, EXCLUDED.current_period_end),
               cancel_at = EXCLUDED.cancel_at,
               last_event_at = EXCLUDED.last_event_at,
               updated_at = now()
           WHERE subscriptions.last_event_at <= EXCLUDED.last_event_at"#,
        id,
        status,
        tier,
        period_end,
        cancel_at,
        event_at
    )
    .execute(conn)
    .await?;
    Ok(r.rows_affected() > 0)
}

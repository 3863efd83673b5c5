//! Queries on `licenses`, `license_keys` and `machines`.

use crate::domain::{IssueSource, LicenseStatus};
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

/// A license as stored.
#[derive(Debug, Clone)]
pub struct License {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub tier: String,
    pub status: LicenseStatus,
    pub status_reason: Option<String>,
    pub seats: i32,
    pub starts_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub grace_until: Option<OffsetDateTime>,
    pub entitlements: serde_json::Value,
    pub source: IssueSource,
    pub stripe_subscription_id: Option<String>,
    pub stripe_customer_id: Option<String>,
    pub created_at: OffsetDateTime,
}

impl License {
    /// The moment after which the license no longer works: its expiry, or the end of a
    /// payment grace period when that is later.
    pub fn works_until(&self) -> OffsetDateTime {
        self.grace_until
            .map_or(self.expires_at, |g| g.max(self.expires_at))
    }
}

/// What a new license row holds.
#[derive(Debug, Clone)]
pub struct NewLicense<'a> {
    pub customer_id: Uuid,
    pub tier: &'a str,
    pub seats: i32,
    pub expires_at: OffsetDateTime,
    pub entitlements: serde_json::Value,
    pub source: IssueSource,
    pub checkout_session_id: Option<&'a str>,
    pub subscription_id: Option<&'a str>,
    pub stripe_customer_id: Option<&'a str>,
    pub payment_intent_id: Option<&'a str>,
}

/// Inserts a license; `None` when its checkout session was already fulfilled.
pub async fn insert(conn: &mut PgConnection, l: &NewLicense<'_>) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar!(
        r#"INSERT INTO licenses (id, customer_id, tier, seats, expires_at, entitlements, source,
                                 stripe_checkout_session_id, stripe_subscription_id, stripe_customer_id, stripe_payment_intent_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
           ON CONFLICT (stripe_checkout_session_id) DO NOTHING
           RETURNING id"#,
        Uuid::now_v7(),
        l.customer_id,
        l.tier,
        l.seats,
        l.expires_at,
        l.entitlements,
        l.source as _,
        l.checkout_session_id,
        l.subscription_id,
        l.stripe_customer_id,
        l.payment_intent_id
    )
    .fetch_optional(conn)
    .await
}

/// Stores the keyed hash of a newly issued key.
/// Records a key; `false` (and nothing written) when exactly this key is already recorded.
pub async fn insert_key(
    conn: &mut PgConnection,
    key_hash: &[u8],
    license_id: Uuid,
    hint: &str,
) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "INSERT INTO license_keys (key_hash, license_id, hint) VALUES ($1, $2, $3)
         ON CONFLICT (key_hash) DO NOTHING",
        key_hash,
        license_id,
        hint
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

macro_rules! select_license {
    ($tail:literal, $($arg:expr),*) => {
        sqlx::query_as!(
            License,
            r#"SELECT l.id, l.customer_id, l.tier, l.status AS "status: LicenseStatus", l.status_reason, l.seats, l.starts_at, l.expires_at, l.grace_until,
                    l.entitlements, l.source AS "source: IssueSource", l.stripe_subscription_id, l.stripe_customer_id, l.created_at
             FROM licenses l "# + $tail,
            $($arg),*
        )
    };
}

/// The license a key belongs to (by the key's lookup hash).
pub async fn by_key_hash(
    conn: &mut PgConnection,
    key_hash: &[u8],
) -> sqlx::Result<Option<License>> {
    select_license!(
        "JOIN license_keys k ON k.license_id = l.id WHERE k.key_hash = $1",
        key_hash
    )
    .fetch_optional(conn)
    .await
}

pub async fn by_id(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<License>> {
    select_license!("WHERE l.id = $1", id)
        .fetch_optional(conn)
        .await
}

/// Locks the license row for the rest of the transaction (seat counting, status changes).
pub async fn lock(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<License>> {
    select_license!("WHERE l.id = $1 FOR UPDATE", id)
        .fetch_optional(conn)
        .await
}

pub async fn for_customer(
    conn: &mut PgConnection,
    customer_id: Uuid,
) -> sqlx::Result<Vec<License>> {
    select_license!(
        "WHERE l.customer_id = $1 ORDER BY l.created_at DESC",
        customer_id
    )
    .fetch_all(conn)
    .await
}

pub async fn by_checkout_session(
    conn: &mut PgConnection,
    session_id: &str,
) -> sqlx::Result<Option<License>> {
    select_license!("WHERE l.stripe_checkout_session_id = $1", session_id)
        .fetch_optional(conn)
        .await
}

pub async fn by_subscription(
    conn: &mut PgConnection,
    subscription_id: &str,
) -> sqlx::Result<Option<License>> {
    select_license!(
        "WHERE l.stripe_subscription_id = $1 FOR UPDATE",
        subscription_id
    )
    .fetch_optional(conn)
    .await
}

/// Licenses paid by a Stripe payment: by payment intent, else every license of the customer.
pub async fn by_payment(
    conn: &mut PgConnection,
    payment_intent_id: Option<&str>,
    stripe_customer_id: Option<&str>,
) -> sqlx::Result<Vec<License>> {
    select_license!(
        "WHERE ($1::text IS NOT NULL AND l.stripe_payment_intent_id = $1)
            OR ($2::text IS NOT NULL AND l.stripe_customer_id = $2
                AND NOT EXISTS (SELECT 1 FROM licenses p WHERE $1::text IS NOT NULL AND p.stripe_payment_intent_id = $1))
         ORDER BY l.created_at FOR UPDATE",
        payment_intent_id,
        stripe_customer_id
    )
    .fetch_all(conn)
    .await
}

/// Every license, newest first (admin).
pub async fn all(conn: &mut PgConnection, limit: i64) -> sqlx::Result<Vec<License>> {
    select_license!("ORDER BY l.created_at DESC LIMIT $1", limit)
        .fetch_all(conn)
        .await
}

pub async fn set_status(
    conn: &mut PgConnection,
    id: Uuid,
    status: LicenseStatus,
    reason: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE licenses SET status = $2, status_reason = $3, updated_at = now() WHERE id = $1",
        id,
        status as _,
        reason
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Moves the expiry forward only (never back) and clears a payment grace period.
pub async fn extend_to(
    conn: &mut PgConnection,
    id: Uuid,
    until: OffsetDateTime,
) -> sqlx::Result<OffsetDateTime> {
    sqlx::query_scalar!(
        r#"UPDATE licenses SET expires_at = GREATEST(expires_at, $2), grace_until = NULL, updated_at = now(),
               status = CASE WHEN status = $3 AND GREATEST(expires_at, $2) > now() THEN $4 ELSE status END
           WHERE id = $1 RETURNING expires_at"#,
        id,
        until,
        LicenseStatus::Expired as _,
        LicenseStatus::Active as _,
    )
    .fetch_one(conn)
    .await
}

/// Sets the expiry (cancellation), e.g. to the end of the paid period.
pub async fn set_expiry(conn: &mut PgConnection, id: Uuid, at: OffsetDateTime) -> sqlx::Result<()> {
    sqlx::query!("UPDATE licenses SET expires_at = GREATEST($2, starts_at + interval '1 second'), updated_at = now() WHERE id = $1", id, at)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn set_grace(
    conn: &mut PgConnection,
    id: Uuid,
    until: OffsetDateTime,
) -> sqlx::Result<()> {
    sqlx::query!("UPDATE licenses SET grace_until = GREATEST(grace_until, $2), updated_at = now() WHERE id = $1", id, until)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn set_tier(
    conn: &mut PgConnection,
    id: Uuid,
    tier: &str,
    seats: i32,
    entitlements: &serde_json::Value,
) -> sqlx::Result<()> {
    sqlx::query!("UPDATE licenses SET tier = $2, seats = $3, entitlements = $4, updated_at = now() WHERE id = $1", id, tier, seats, entitlements)
        .execute(conn)
        .await?;
    Ok(())
}

/// An activated machine.
#[derive(Debug, Clone)]
pub struct Machine {
    pub id: Uuid,
    pub fingerprint: String,
    pub name: String,
    pub activated_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
}

pub async fn active_machines(
    conn: &mut PgConnection,
    license_id: Uuid,
) -> sqlx::Result<Vec<Machine>> {
    sqlx::query_as!(
        Machine,
        "SELECT id, fingerprint, name, activated_at, last_seen_at FROM machines WHERE license_id = $1 AND deactivated_at IS NULL ORDER BY activated_at",
        license_id
    )
    .fetch_all(conn)
    .await
}

pub async fn activate_machine(
    conn: &mut PgConnection,
    license_id: Uuid,
    fingerprint: &str,
    name: &str,
) -> sqlx::Result<Uuid> {
    sqlx::query_scalar!(
        "INSERT INTO machines (id, license_id, fingerprint, name) VALUES ($1, $2, $3, $4) RETURNING id",
        Uuid::now_v7(),
        license_id,
        fingerprint,
        name
    )
    .fetch_one(conn)
    .await
}

/// Records that a machine was seen; at most once a minute, so validations stay read-mostly.
pub async fn touch_machine(conn: &mut PgConnection, machine_id: Uuid) -> sqlx::Result<()> {
    sqlx::query!("UPDATE machines SET last_seen_at = now() WHERE id = $1 AND last_seen_at < now() - interval '1 minute'", machine_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Deactivates the machine with this fingerprint (or id); returns whether one was active.
pub async fn deactivate_machine(
    conn: &mut PgConnection,
    license_id: Uuid,
    fingerprint: Option<&str>,
    machine_id: Option<Uuid>,
) -> sqlx::Result<bool> {
    let r = sqlx::query!(
        r#"UPDATE machines SET deactivated_at = now()
           WHERE license_id = $1 AND deactivated_at IS NULL AND (fingerprint = $2 OR id = $3)"#,
        license_id,
        fingerprint,
        machine_id
    )
    .execute(conn)
    .await?;
    Ok(r.rows_affected() > 0)
}

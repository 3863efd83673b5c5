//! Account queries beyond `customers`: passwords, staff accounts, billing ids, key hints.

use crate::db::customers::User;
use crate::domain::{AccountEmail, Role};
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

/// Sets a password and bumps the session epoch (ending the user's other sessions).
pub async fn set_password(
    conn: &mut PgConnection,
    user_id: Uuid,
    password_hash: &str,
) -> sqlx::Result<User> {
    sqlx::query_as!(
        User,
        r#"UPDATE users SET password_hash = $2, session_epoch = session_epoch + 1 WHERE id = $1
         RETURNING id, email, role AS "role: Role", password_hash, customer_id, session_epoch"#,
        user_id,
        password_hash
    )
    .fetch_one(conn)
    .await
}

/// Marks every unused one-time token of the user used (after a password change).
pub async fn retire_tokens(conn: &mut PgConnection, user_id: Uuid) -> sqlx::Result<u64> {
    let r = sqlx::query!(
        "UPDATE user_tokens SET used_at = now() WHERE user_id = $1 AND used_at IS NULL",
        user_id
    )
    .execute(conn)
    .await?;
    Ok(r.rows_affected())
}

/// Creates a user; `None` when the email is taken.
pub async fn create_user(
    conn: &mut PgConnection,
    email: &AccountEmail,
    role: Role,
    password_hash: &str,
    customer_id: Option<Uuid>,
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar!(
        "INSERT INTO users (id, email, role, password_hash, customer_id) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (email) DO NOTHING RETURNING id",
        Uuid::now_v7(),
        email.as_str(),
        role as _,
        password_hash,
        customer_id
    )
    .fetch_optional(conn)
    .await
}

/// The customer's Stripe customer id: on the customer, else on its latest Stripe license.
pub async fn stripe_customer_id(
    conn: &mut PgConnection,
    customer_id: Uuid,
) -> sqlx::Result<Option<String>> {
    let id = sqlx::query_scalar!(
        r#"SELECT COALESCE(c.stripe_customer_id,
                  (SELECT l.stripe_customer_id FROM licenses l
                   WHERE l.customer_id = c.id AND l.stripe_customer_id IS NOT NULL
                   ORDER BY l.created_at DESC LIMIT 1)) AS "id?"
           FROM customers c WHERE c.id = $1"#,
        customer_id
    )
    .fetch_optional(conn)
    .await?;
    Ok(id.flatten())
}

/// How many keys a license has had, and when the latest was issued.
pub async fn key_summary(
    conn: &mut PgConnection,
    license_id: Uuid,
) -> sqlx::Result<(i64, Option<OffsetDateTime>)> {
    let r = sqlx::query!(r#"SELECT count(*) AS "n!", max(created_at) AS latest FROM license_keys WHERE license_id = $1"#, license_id)
        .fetch_one(conn)
        .await?;
    Ok((r.n, r.latest))
}

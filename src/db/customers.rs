//! Queries on `customers` and `users`.

use crate::domain::{AccountEmail, Role};
use sqlx::PgConnection;
use uuid::Uuid;

/// Finds or creates the customer with this (normalised) email; fills in missing details.
pub async fn upsert_customer(
    conn: &mut PgConnection,
    email: &AccountEmail,
    name: &str,
    company: &str,
    stripe_customer_id: Option<&str>,
) -> sqlx::Result<Uuid> {
    sqlx::query_scalar!(
        r#"INSERT INTO customers (id, email, name, company, stripe_customer_id)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (email) DO UPDATE SET
               name = CASE WHEN customers.name = '' THEN EXCLUDED.name ELSE customers.name END,
               company = CASE WHEN customers.company = '' THEN EXCLUDED.company ELSE customers.company END,
               stripe_customer_id = COALESCE(customers.stripe_customer_id, EXCLUDED.stripe_customer_id)
           RETURNING id"#,
        Uuid::now_v7(),
        email.as_str(),
        name,
        company,
        stripe_customer_id
    )
    .fetch_one(conn)
    .await
}

/// A login account.
#[derive(Debug, Clone)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub role: Role,
    pub password_hash: Option<String>,
    pub customer_id: Option<Uuid>,
    pub session_epoch: i32,
}

/// Finds or creates the customer's account (role `customer`); returns it, and whether this
/// call created it (checkout shows a set-password link only for an account it created).
pub async fn upsert_customer_user(
    conn: &mut PgConnection,
    email: &AccountEmail,
    customer_id: Uuid,
) -> sqlx::Result<(User, bool)> {
    let inserted = sqlx::query_scalar!(
        r#"INSERT INTO users (id, email, role, customer_id) VALUES ($1, $2, 'customer', $3)
           ON CONFLICT (email) DO NOTHING
           RETURNING id"#,
        Uuid::now_v7(),
        email.as_str(),
        customer_id
    )
    .fetch_optional(&mut *conn)
    .await?;
    if inserted.is_none() {
        sqlx::query!(
            "UPDATE users SET customer_id = COALESCE(customer_id, $2) WHERE email = $1",
            email.as_str(),
            customer_id
        )
        .execute(&mut *conn)
        .await?;
    }
    let user = user_by_email(conn, email)
        .await?
        .ok_or(sqlx::Error::RowNotFound)?;
    Ok((user, inserted.is_some()))
}

pub async fn user_by_email(
    conn: &mut PgConnection,
    email: &AccountEmail,
) -> sqlx::Result<Option<User>> {
    sqlx::query_as!(User, r#"SELECT id, email, role AS "role: Role", password_hash, customer_id, session_epoch FROM users WHERE email = $1"#, email.as_str())
        .fetch_optional(conn)
        .await
}

pub async fn user_by_id(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<User>> {
    sqlx::query_as!(User, r#"SELECT id, email, role AS "role: Role", password_hash, customer_id, session_epoch FROM users WHERE id = $1"#, id)
        .fetch_optional(conn)
        .await
}

/// The email address of a customer.
pub async fn customer_email(conn: &mut PgConnection, customer_id: Uuid) -> sqlx::Result<String> {
    sqlx::query_scalar!("SELECT email FROM customers WHERE id = $1", customer_id)
        .fetch_one(conn)
        .await
}

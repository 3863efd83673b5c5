//! One-time tokens (set / reset password). Only a SHA-256 of each token is stored.

use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// The stored form of a token.
pub fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A new random token (URL-safe, 256 bits).
pub fn generate() -> String {
    use base64::Engine;
    let mut raw = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut raw);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

/// Creates a token for `purpose` (`set_password` or `reset_password`); returns it.
pub async fn create(
    conn: &mut PgConnection,
    user_id: Uuid,
    purpose: &str,
    ttl: Duration,
) -> sqlx::Result<String> {
    let token = generate();
    let expires_at = OffsetDateTime::now_utc() + ttl;
    sqlx::query!("INSERT INTO user_tokens (token_hash, user_id, purpose, expires_at) VALUES ($1, $2, $3, $4)", hash(&token), user_id, purpose, expires_at)
        .execute(conn)
        .await?;
    Ok(token)
}

/// Marks an unexpired, unused token used and returns its user; `None` if it is not usable.
pub async fn consume(
    conn: &mut PgConnection,
    token: &str,
    purpose: &str,
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar!(
        r#"UPDATE user_tokens SET used_at = now()
           WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now()
           RETURNING user_id"#,
        hash(token),
        purpose
    )
    .fetch_optional(conn)
    .await
}

/// Whether a token is currently usable (for showing the form before it is submitted).
pub async fn is_usable(conn: &mut PgConnection, token: &str, purpose: &str) -> sqlx::Result<bool> {
    let n = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM user_tokens WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now()"#,
        hash(token),
        purpose
    )
    .fetch_one(conn)
    .await?;
    Ok(n > 0)
}

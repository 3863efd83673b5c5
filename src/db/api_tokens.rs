//! Personal API tokens (`fox_<8-char prefix>_<secret>`): only a SHA-256 of each token and its
//! visible prefix are stored; the token itself is shown once, when it is created.

use rand::Rng;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

/// Characters of the secret part (alphanumeric: ~5.95 bits each, 40 of them ≈ 238 bits).
const SECRET_LEN: usize = 40;

/// A token as listed in the dashboard.
#[derive(Debug, Clone)]
pub struct ApiToken {
    pub id: Uuid,
    pub name: String,
    pub prefix: String,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
}

/// A freshly generated token: `token` goes to the user once, the rest to the database.
pub struct Generated {
    pub token: String,
    pub prefix: String,
    pub hash: Vec<u8>,
}

/// The stored form of a token.
pub fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A new random token.
pub fn generate() -> Generated {
    const LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let visible: String = (0..8)
        .map(|_| LOWER[rng.random_range(0..LOWER.len())] as char)
        .collect();
    let secret: String = (&mut rng)
        .sample_iter(rand::distr::Alphanumeric)
        .take(SECRET_LEN)
        .map(char::from)
        .collect();
    let prefix = format!("fox_{visible}");
    let token = format!("{prefix}_{secret}");
    Generated {
        hash: hash(&token),
        prefix,
        token,
    }
}

pub async fn insert(
    conn: &mut PgConnection,
    user_id: Uuid,
    name: &str,
    t: &Generated,
) -> sqlx::Result<Uuid> {
    sqlx::query_scalar!(
        "INSERT INTO api_tokens (id, user_id, name, prefix, token_hash) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        Uuid::now_v7(),
        user_id,
        name,
        t.prefix,
        t.hash
    )
    .fetch_one(conn)
    .await
}

/// The user's tokens, newest first.
pub async fn for_user(conn: &mut PgConnection, user_id: Uuid) -> sqlx::Result<Vec<ApiToken>> {
    sqlx::query_as!(
        ApiToken,
        "SELECT id, name, prefix, created_at, last_used_at, revoked_at FROM api_tokens WHERE user_id = $1 ORDER BY created_at DESC",
        user_id
    )
    .fetch_all(conn)
    .await
}

/// Revokes one of the user's tokens; `false` when the user has no token with this id.
pub async fn revoke(conn: &mut PgConnection, user_id: Uuid, id: Uuid) -> sqlx::Result<bool> {
    let r = sqlx::query!(
        "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, now()) WHERE id = $1 AND user_id = $2",
        id,
        user_id
    )
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// The user a presented token belongs to (unrevoked only); records its use (at most once a
/// minute per token, so that a busy client does not write on every request).
pub async fn authenticate(conn: &mut PgConnection, token: &str) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar!(
        r#"WITH t AS (SELECT id, user_id, last_used_at FROM api_tokens
                      WHERE token_hash = $1 AND revoked_at IS NULL),
                used AS (UPDATE api_tokens SET last_used_at = now()
                         WHERE id IN (SELECT id FROM t WHERE last_used_at IS NULL
                                      OR last_used_at < now() - interval '1 minute'))
           SELECT user_id AS "user_id!" FROM t"#,
        hash(token.trim())
    )
    .fetch_optional(conn)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_a_visible_prefix_and_a_long_secret() {
        let t = generate();
        assert!(t.token.starts_with(&format!("{}_", t.prefix)));
        assert_eq!(t.prefix.len(), 12);
        assert_eq!(t.token.len(), 12 + 1 + SECRET_LEN);
        assert_eq!(t.hash, hash(&t.token));
        assert_ne!(generate().token, t.token);
    }
}

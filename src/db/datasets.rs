//! Queries on `datasets`. Every query that reads or changes a dataset takes the owning
//! customer: another account's id finds nothing.

use crate::domain::DatasetFormat;
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

/// A dataset as stored.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub created_by: Option<Uuid>,
    pub created_at: OffsetDateTime,
    pub name: String,
    pub format: DatasetFormat,
    pub size_bytes: i64,
    pub sha256: Vec<u8>,
    pub columns: serde_json::Value,
    pub row_count: i64,
    pub storage_key: String,
}

impl Dataset {
    /// The column names.
    pub fn column_names(&self) -> Vec<String> {
        self.columns
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A dataset to record.
pub struct NewDataset<'a> {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub created_by: Uuid,
    pub name: &'a str,
    pub format: DatasetFormat,
    pub size_bytes: i64,
    pub sha256: &'a [u8],
    pub columns: serde_json::Value,
    pub row_count: i64,
    pub storage_key: &'a str,
}

macro_rules! select_dataset {
    ($tail:literal, $($arg:expr),*) => {
        sqlx::query_as!(
            Dataset,
            r#"SELECT id, customer_id, created_by, created_at, name, format AS "format: DatasetFormat",
                      size_bytes, sha256, columns, row_count, storage_key
               FROM datasets "# + $tail,
            $($arg),*
        )
    };
}

/// Records a dataset; `None` when the account already has one with these bytes.
pub async fn insert(conn: &mut PgConnection, d: &NewDataset<'_>) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar!(
        r#"INSERT INTO datasets (id, customer_id, created_by, name, format, size_bytes, sha256, columns, row_count, storage_key)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (customer_id, sha256) DO NOTHING
           RETURNING id"#,
        d.id,
        d.customer_id,
        d.created_by,
        d.name,
        d.format as _,
        d.size_bytes,
        d.sha256,
        d.columns,
        d.row_count,
        d.storage_key
    )
    .fetch_optional(conn)
    .await
}

pub async fn by_id(
    conn: &mut PgConnection,
    customer_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<Dataset>> {
    select_dataset!("WHERE customer_id = $1 AND id = $2", customer_id, id)
        .fetch_optional(conn)
        .await
}

pub async fn by_sha256(
    conn: &mut PgConnection,
    customer_id: Uuid,
    sha256: &[u8],
) -> sqlx::Result<Option<Dataset>> {
    select_dataset!(
        "WHERE customer_id = $1 AND sha256 = $2",
        customer_id,
        sha256
    )
    .fetch_optional(conn)
    .await
}

/// The account's datasets, newest first.
pub async fn for_customer(
    conn: &mut PgConnection,
    customer_id: Uuid,
) -> sqlx::Result<Vec<Dataset>> {
    select_dataset!(
        "WHERE customer_id = $1 ORDER BY created_at DESC, id DESC",
        customer_id
    )
    .fetch_all(conn)
    .await
}

/// Locks the dataset row (deletion against concurrent submissions).
pub async fn lock(
    conn: &mut PgConnection,
    customer_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<Dataset>> {
    select_dataset!(
        "WHERE customer_id = $1 AND id = $2 FOR UPDATE",
        customer_id,
        id
    )
    .fetch_optional(conn)
    .await
}

pub async fn delete(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<()> {
    sqlx::query!("DELETE FROM datasets WHERE id = $1", id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Bytes stored for the account.
pub async fn bytes_for_customer(conn: &mut PgConnection, customer_id: Uuid) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"SELECT COALESCE(sum(size_bytes), 0)::bigint AS "n!" FROM datasets WHERE customer_id = $1"#,
        customer_id
    )
    .fetch_one(conn)
    .await
}

//! Dataset uploads: the body is streamed to a spool file (hashed on the way, never held whole
//! in memory) and refused with 413 as soon as it passes the license's size limit; then the
//! engine's own reader takes its header and row count, identical bytes already uploaded by
//! the account return that dataset, and the file goes to the object store. Whatever fails,
//! the spool file is removed and nothing is recorded.

use super::limits;
use crate::db::{self, datasets::Dataset};
use crate::domain::DatasetFormat;
use crate::routes::api::{ApiCode, ApiError};
use crate::state::AppState;
use axum::body::Bytes;
use axum::http::StatusCode;
use fox_engine::error::EngineError;
use futures_util::{Stream, StreamExt};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

/// Uploads in progress per account in this process (`jobs.max_uploads_per_account` caps
/// them: thirty parallel uploads of one account would fill the spool disk). Entries leave
/// the map when their last upload ends, so it holds only accounts uploading now.
#[derive(Default)]
pub struct UploadSlots(Mutex<HashMap<Uuid, u32>>);

/// One upload's place; given back when dropped (whatever way the upload ends).
pub struct UploadSlot<'a> {
    slots: &'a UploadSlots,
    customer: Uuid,
}

impl UploadSlots {
    /// A place for one more upload of `customer`, or `None` when `max` are in progress.
    pub fn take(&self, customer: Uuid, max: u32) -> Option<UploadSlot<'_>> {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = m.entry(customer).or_insert(0);
        if *n >= max {
            if *n == 0 {
                m.remove(&customer);
            }
            return None;
        }
        *n += 1;
        Some(UploadSlot {
            slots: self,
            customer,
        })
    }
}

impl Drop for UploadSlot<'_> {
    fn drop(&mut self) {
        let mut m = self.slots.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = m.get_mut(&self.customer) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.customer);
            }
        }
    }
}

/// What the uploader said about the file.
#[derive(Debug, Clone)]
pub struct UploadMeta {
    pub name: String,
    pub format: DatasetFormat,
}

/// The format named by a content type, else by the file name's extension.
pub fn format_of(content_type: Option<&str>, name: &str) -> Option<DatasetFormat> {
    let ct = content_type
        .and_then(|c| c.split(';').next())
        .map(|c| c.trim().to_ascii_lowercase());
    match ct.as_deref() {
        Some("text/csv" | "application/csv") => return Some(DatasetFormat::Csv),
        Some(
            "application/vnd.apache.parquet" | "application/x-parquet" | "application/parquet",
        ) => {
            return Some(DatasetFormat::Parquet);
        }
        _ => {}
    }
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".csv") {
        Some(DatasetFormat::Csv)
    } else if lower.ends_with(".parquet") || lower.ends_with(".pq") {
        Some(DatasetFormat::Parquet)
    } else {
        None
    }
}

/// A display name from what the client sent: the last path segment, without control
/// characters, at most 200 characters; `dataset.<ext>` when nothing usable is left.
pub fn clean_name(raw: Option<&str>, format: DatasetFormat) -> String {
    let base = raw
        .unwrap_or("")
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect::<String>();
    let base = base.trim();
    if base.is_empty() || base == "." || base == ".." {
        format!("dataset.{format}")
    } else {
        base.to_string()
    }
}

/// A spool file, removed when the upload ends whatever happened (the local store moves it
/// away first when it keeps it).
struct Spool {
    path: PathBuf,
}

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The new dataset, or the account's existing one with the same bytes.
pub enum Uploaded {
    Created(Dataset),
    Existing(Dataset),
}

fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        ApiCode::DatasetTooLarge,
        format!(
            "The dataset is larger than your license allows ({}); upload a smaller file or ask sales for a larger limit.",
            human_bytes(limit)
        ),
    )
    .with_details(json!({"limit_bytes": limit}))
}

/// `1.5 GB`, `200 MB`, `12 kB` (powers of 10, as the limits are stated).
pub fn human_bytes(n: u64) -> String {
    let n = n as f64;
    let (v, unit) = if n >= 1e9 {
        (n / 1e9, "GB")
    } else if n >= 1e6 {
        (n / 1e6, "MB")
    } else if n >= 1e3 {
        (n / 1e3, "kB")
    } else {
        return format!("{n} bytes");
    };
    let s = format!("{v:.1}");
    format!("{} {unit}", s.trim_end_matches(".0"))
}

/// An engine error about the spooled file, told with the name the uploader gave it.
fn unreadable(e: EngineError, name: &str) -> ApiError {
    let message = match e {
        EngineError::Data {
            column,
            row,
            message,
            ..
        } => format!(
            "{name}{}{}: {message}",
            column
                .map(|c| format!(", column `{c}`"))
                .unwrap_or_default(),
            row.map(|r| format!(", row {r}")).unwrap_or_default()
        ),
        other => format!("{name}: {other}"),
    };
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        ApiCode::InvalidRequest,
        message,
    )
}

/// Takes an upload for the account `customer_id` (by `user_id`).
pub async fn upload<S, E>(
    state: &AppState,
    customer_id: Uuid,
    user_id: Uuid,
    meta: UploadMeta,
    content_length: Option<u64>,
    mut body: S,
) -> Result<Uploaded, ApiError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let limit = {
        let mut conn = state.db.acquire().await?;
        let license = limits::usable_license(&mut conn, customer_id).await?;
        limits::Limits::of(&license, &state.settings).max_dataset_bytes()
    };
    if let (Some(limit), Some(len)) = (limit, content_length) {
        if len > limit {
            return Err(too_large(limit));
        }
    }
    let max = state.settings.jobs.max_uploads_per_account;
    let Some(_slot) = state.uploads.take(customer_id, max) else {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            ApiCode::RateLimited,
            format!(
                "This account already has {max} upload{} in progress; start the next one when one has finished.",
                if max == 1 { "" } else { "s" }
            ),
        ));
    };
    let spool_dir = Path::new(&state.settings.storage.spool_dir);
    tokio::fs::create_dir_all(spool_dir)
        .await
        .map_err(|e| anyhow::anyhow!("creating storage.spool_dir: {e}"))?;
    let spool = Spool {
        path: spool_dir.join(format!("upload-{}.part", Uuid::new_v4())),
    };
    let file = tokio::fs::File::create(&spool.path)
        .await
        .map_err(|e| anyhow::anyhow!("creating a spool file: {e}"))?;
    let mut out = tokio::io::BufWriter::with_capacity(1 << 20, file);
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::bad_request(format!("The upload was interrupted: {e}")))?;
        size += chunk.len() as u64;
        if limit.is_some_and(|l| size > l) {
            // Stop reading at once; the spool file goes with `spool`.
            return Err(too_large(limit.unwrap_or_default()));
        }
        hasher.update(&chunk);
        out.write_all(&chunk)
            .await
            .map_err(|e| anyhow::anyhow!("writing the spool file: {e}"))?;
    }
    out.flush()
        .await
        .map_err(|e| anyhow::anyhow!("writing the spool file: {e}"))?;
    drop(out);
    if size == 0 {
        return Err(ApiError::invalid("The upload is empty."));
    }
    let sha256 = hasher.finalize().to_vec();

    let (path, format) = (spool.path.clone(), meta.format);
    let shape = tokio::task::spawn_blocking(move || match format {
        DatasetFormat::Csv => fox_engine::data::inspect::csv_shape(&path),
        DatasetFormat::Parquet => fox_engine::data::inspect::parquet_shape(&path),
    })
    .await
    .map_err(|e| anyhow::anyhow!("inspecting the upload: {e}"))?
    .map_err(|e| unreadable(e, &meta.name))?;

    let mut conn = state.db.acquire().await?;
    if let Some(existing) = db::datasets::by_sha256(&mut conn, customer_id, &sha256).await? {
        return Ok(Uploaded::Existing(existing));
    }
    let id = Uuid::now_v7();
    let key = crate::storage::dataset_key(customer_id, id, format);
    state.store.put_file(&key, &spool.path).await?;
    drop(spool);
    let inserted = db::datasets::insert(
        &mut conn,
        &db::datasets::NewDataset {
            id,
            customer_id,
            created_by: user_id,
            name: &meta.name,
            format,
            size_bytes: size as i64,
            sha256: &sha256,
            columns: json!(shape.columns),
            row_count: shape.rows as i64,
            storage_key: &key,
        },
    )
    .await;
    let outcome = match inserted {
        Ok(Some(_)) => db::datasets::by_id(&mut conn, customer_id, id)
            .await?
            .map(Uploaded::Created),
        // The same bytes arrived twice at once: keep the first, drop this copy.
        Ok(None) => {
            state.store.delete(&key).await?;
            db::datasets::by_sha256(&mut conn, customer_id, &sha256)
                .await?
                .map(Uploaded::Existing)
        }
        Err(e) => {
            let _ = state.store.delete(&key).await;
            return Err(e.into());
        }
    };
    let outcome = outcome.ok_or(sqlx::Error::RowNotFound)?;
    if let Uploaded::Created(d) = &outcome {
        tracing::info!(dataset_id = %d.id, size_bytes = d.size_bytes, rows = d.row_count, "dataset uploaded");
    }
    Ok(outcome)
}

/// Deletes a dataset no queued or running job uses.
pub async fn delete(state: &AppState, customer_id: Uuid, id: Uuid) -> Result<(), ApiError> {
    let mut tx = state.db.begin().await?;
    // The row lock makes a concurrent submission on this dataset wait, then fail cleanly.
    let d = db::datasets::lock(&mut tx, customer_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("dataset"))?;
    let active = db::jobs::count_active_on_dataset(&mut tx, id).await?;
    if active > 0 {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ApiCode::DatasetInUse,
            format!(
                "{active} queued or running job{} use{} this dataset; cancel {} or wait for {} to finish.",
                if active == 1 { "" } else { "s" },
                if active == 1 { "s" } else { "" },
                if active == 1 { "it" } else { "them" },
                if active == 1 { "it" } else { "them" },
            ),
        ));
    }
    db::datasets::delete(&mut tx, id).await?;
    tx.commit().await?;
    // The row is gone first: a failed object deletion leaves bytes no one can reach, never a
    // dataset without bytes.
    if let Err(e) = state.store.delete(&d.storage_key).await {
        tracing::warn!(dataset_id = %id, error = format!("{e:#}"), "dataset bytes not deleted");
    }
    tracing::info!(dataset_id = %id, "dataset deleted");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_names() {
        assert_eq!(
            format_of(Some("text/csv; charset=utf-8"), "x"),
            Some(DatasetFormat::Csv)
        );
        assert_eq!(
            format_of(Some("application/vnd.apache.parquet"), "x"),
            Some(DatasetFormat::Parquet)
        );
        assert_eq!(
            format_of(Some("application/octet-stream"), "a.PQ"),
            Some(DatasetFormat::Parquet)
        );
        assert_eq!(format_of(None, "a.txt"), None);
        assert_eq!(
            clean_name(Some("../../etc/passwd"), DatasetFormat::Csv),
            "passwd"
        );
        assert_eq!(
            clean_name(Some("C:\\data\\panel.csv"), DatasetFormat::Csv),
            "panel.csv"
        );
        assert_eq!(clean_name(Some("..\n"), DatasetFormat::Csv), "dataset.csv");
        assert_eq!(clean_name(None, DatasetFormat::Parquet), "dataset.parquet");
        assert_eq!(human_bytes(5_000_000_000), "5 GB");
        assert_eq!(human_bytes(1_500), "1.5 kB");
    }
}

//! The object store that holds datasets and job artifacts, through the `object_store` crate:
//! a directory on this machine by default (`storage.backend: local`, under `var/`), or any
//! S3-compatible bucket, which servers and workers on several machines share.
//!
//! Keys: `datasets/<customer>/<dataset>/data.<csv|parquet>`, `jobs/<job>/<path in the run directory>`.

use crate::config::{StorageBackend, StorageSettings};
use anyhow::Context;
use axum::body::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

/// A handle on the configured store. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<dyn ObjectStore>,
    prefix: String,
    /// The directory of the local backend (uploads are moved into it without a copy).
    local_dir: Option<PathBuf>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.inner)
    }
}

impl Store {
    /// The store `s` describes (the local directory is created when missing).
    pub fn from_settings(s: &StorageSettings) -> anyhow::Result<Self> {
        match s.backend {
            StorageBackend::Local => {
                std::fs::create_dir_all(&s.local_dir)
                    .with_context(|| format!("creating storage.local_dir {:?}", s.local_dir))?;
                let dir = std::fs::canonicalize(&s.local_dir)
                    .with_context(|| format!("storage.local_dir {:?}", s.local_dir))?;
                let fs = object_store::local::LocalFileSystem::new_with_prefix(&dir)
                    .context("storage.local_dir")?
                    .with_automatic_cleanup(true);
                Ok(Self {
                    inner: Arc::new(fs),
                    prefix: String::new(),
                    local_dir: Some(dir),
                })
            }
            StorageBackend::S3 => {
                install_crypto_provider();
                let s3 = &s.s3;
                let mut b = object_store::aws::AmazonS3Builder::new()
                    .with_bucket_name(&s3.bucket)
                    .with_region(&s3.region)
                    .with_allow_http(s3.allow_http);
                if let Some(e) = &s3.endpoint {
                    b = b.with_endpoint(e);
                }
                if let Some(k) = &s3.access_key_id {
                    b = b.with_access_key_id(k.expose());
                }
                if let Some(k) = &s3.secret_access_key {
                    b = b.with_secret_access_key(k.expose());
                }
                let store = b.build().context("storage.s3")?;
                Ok(Self {
                    inner: Arc::new(store),
                    prefix: s3.prefix.trim_matches('/').to_string(),
                    local_dir: None,
                })
            }
        }
    }

    fn path(&self, key: &str) -> StorePath {
        if self.prefix.is_empty() {
            StorePath::from(key)
        } else {
            StorePath::from(format!("{}/{key}", self.prefix))
        }
    }

    /// Stores the file at `file` under `key`, streaming it (never whole in memory). With the
    /// local backend the file is moved into place when it is on the same file system.
    pub async fn put_file(&self, key: &str, file: &Path) -> anyhow::Result<()> {
        if let Some(dir) = &self.local_dir {
            let dest = dir.join(key);
            if let Some(parent) = dest.parent() {
                tokio::fs::create_dir_all(parent).await?;
            }
            if tokio::fs::rename(file, &dest).await.is_ok() {
                return Ok(());
            }
        }
        let mut src = tokio::fs::File::open(file)
            .await
            .with_context(|| format!("opening {}", file.display()))?;
        let mut w = object_store::buffered::BufWriter::with_capacity(
            self.inner.clone(),
            self.path(key),
            8 << 20,
        );
        let copied = async {
            tokio::io::copy(&mut src, &mut w).await?;
            w.shutdown().await
        }
        .await;
        if let Err(e) = copied {
            // Nothing half-written stays behind.
            let _ = w.abort().await;
            return Err(anyhow::Error::new(e).context(format!("storing {key}")));
        }
        Ok(())
    }

    /// Writes the object `key` to `file`, streaming; returns its size.
    pub async fn get_to_file(&self, key: &str, file: &Path) -> anyhow::Result<u64> {
        let (_, mut stream) = self.get_stream(key).await?;
        let mut out = tokio::fs::File::create(file)
            .await
            .with_context(|| format!("creating {}", file.display()))?;
        let mut n = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.with_context(|| format!("reading {key}"))?;
            n += chunk.len() as u64;
            out.write_all(&chunk).await?;
        }
        out.flush().await?;
        Ok(n)
    }

    /// The object `key` as a stream of chunks, with its size.
    pub async fn get_stream(
        &self,
        key: &str,
    ) -> anyhow::Result<(u64, BoxStream<'static, Result<Bytes, object_store::Error>>)> {
        let r = self
            .inner
            .get(&self.path(key))
            .await
            .with_context(|| format!("reading {key} from the store"))?;
        Ok((r.meta.size, r.into_stream()))
    }

    /// Deletes `key` (a missing object is not an error).
    pub async fn delete(&self, key: &str) -> anyhow::Result<()> {
        match self.inner.delete(&self.path(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(anyhow::Error::new(e).context(format!("deleting {key}"))),
        }
    }

    /// Deletes every object under `prefix` (e.g. a job's run directory).
    pub async fn delete_prefix(&self, prefix: &str) -> anyhow::Result<()> {
        let mut listed = self.inner.list(Some(&self.path(prefix)));
        while let Some(meta) = listed.next().await {
            let meta = meta.with_context(|| format!("listing {prefix}"))?;
            match self.inner.delete(&meta.location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(anyhow::Error::new(e).context(format!("deleting {prefix}"))),
            }
        }
        Ok(())
    }
}

/// rustls needs one process-wide crypto provider; the S3 client's TLS uses ring's.
fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The key of a dataset's file (named by the platform, never by the uploader).
pub fn dataset_key(
    customer: uuid::Uuid,
    dataset: uuid::Uuid,
    format: crate::domain::DatasetFormat,
) -> String {
    format!("datasets/{customer}/{dataset}/data.{format}")
}

/// The key of a file of a job's run directory (`rel` uses `/`).
pub fn artifact_key(job: uuid::Uuid, rel: &str) -> String {
    format!("jobs/{job}/{rel}")
}

/// The prefix of a job's artifacts.
pub fn job_prefix(job: uuid::Uuid) -> String {
    format!("jobs/{job}")
}

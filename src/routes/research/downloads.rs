//! Downloads: the engine builds in `downloads.dir` (written by `scripts/release-engine.sh`),
//! each with its SHA-256, offered only to accounts holding an active license.

use super::pages::{BuildRow, DownloadsPage};
use super::{Customer, file_body};
use crate::error::{AppError, Result};
use crate::jobs::datasets::human_bytes;
use crate::jobs::limits;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;

/// A file offered for download.
struct Artifact {
    name: String,
    path: PathBuf,
    len: u64,
    sha256: String,
}

/// SHA-256 sums by (path, length, modification time): a build is hashed once.
fn sums() -> &'static Mutex<HashMap<(PathBuf, u64, SystemTime), String>> {
    static SUMS: OnceLock<Mutex<HashMap<(PathBuf, u64, SystemTime), String>>> = OnceLock::new();
    SUMS.get_or_init(Default::default)
}

fn sha256_of(path: &std::path::Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h)?;
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// The regular files of `dir` (no hidden files, no `.sha256` side files), sorted by name.
fn list(dir: PathBuf) -> std::io::Result<Vec<Artifact>> {
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let meta = entry.metadata()?;
        if !meta.is_file() || name.starts_with('.') || name.ends_with(".sha256") {
            continue;
        }
        let path = entry.path();
        let id = (path.clone(), meta.len(), meta.modified()?);
        let cached = sums().lock().expect("sums lock").get(&id).cloned();
        let sha256 = match cached {
            Some(s) => s,
            None => {
                let s = sha256_of(&path)?;
                sums().lock().expect("sums lock").insert(id, s.clone());
                s
            }
        };
        out.push(Artifact {
            name,
            path,
            len: meta.len(),
            sha256,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

async fn artifacts(state: &AppState) -> Result<Vec<Artifact>> {
    let dir = PathBuf::from(&state.settings.downloads.dir);
    tokio::task::spawn_blocking(move || list(dir))
        .await
        .map_err(|e| AppError::Internal(anyhow::Error::new(e)))?
        .map_err(|e| AppError::Internal(anyhow::Error::new(e).context("listing downloads")))
}

/// The platform a build is for, from its name (`…-linux-x86_64.tar.gz`).
fn platform(name: &str) -> String {
    let n = name.to_ascii_lowercase();
    let os = if n.contains("linux") {
        "Linux"
    } else if n.contains("darwin") || n.contains("macos") {
        "macOS"
    } else if n.contains("windows") {
        "Windows"
    } else {
        return "—".into();
    };
    let arch = if n.contains("x86_64") || n.contains("amd64") {
        " x86_64"
    } else if n.contains("aarch64") || n.contains("arm64") {
        " arm64"
    } else {
        ""
    };
    format!("{os}{arch}")
}

/// Why the account may not download, if it may not: it needs an active license.
async fn refusal(state: &AppState, customer: &Customer) -> Result<Option<String>> {
    let mut conn = state.db.acquire().await?;
    Ok(limits::usable_license(&mut conn, customer.id)
        .await
        .err()
        .map(|e| format!("Downloads need an active license. {}", e.message)))
}

#[tracing::instrument(skip_all, fields(user_id = %customer.user.id))]
pub async fn show_downloads(State(state): State<AppState>, customer: Customer) -> Result<Response> {
    let problem = refusal(&state, &customer).await?;
    let rows = if problem.is_some() {
        Vec::new()
    } else {
        artifacts(&state)
            .await?
            .into_iter()
            .map(|a| BuildRow {
                platform: platform(&a.name),
                size: human_bytes(a.len),
                sha256: a.sha256,
                name: a.name,
            })
            .collect()
    };
    let status = if problem.is_some() {
        StatusCode::FORBIDDEN
    } else {
        StatusCode::OK
    };
    let page = DownloadsPage {
        layout: state.site.layout(
            "Downloads",
            "The engine for your machines.",
            "account",
            "/account/downloads",
        ),
        artifacts: rows,
        problem,
        public_url: state
            .settings
            .server
            .public_url
            .trim_end_matches('/')
            .to_string(),
    };
    let mut res = crate::routes::render(&page)?;
    *res.status_mut() = status;
    Ok(res)
}

/// One build, streamed. Only names of the directory's listing are served (no paths).
#[tracing::instrument(skip_all, fields(user_id = %customer.user.id))]
pub async fn download(
    State(state): State<AppState>,
    customer: Customer,
    Path(name): Path<String>,
) -> Result<Response> {
    if let Some(p) = refusal(&state, &customer).await? {
        return Err(AppError::Forbidden(p));
    }
    let a = artifacts(&state)
        .await?
        .into_iter()
        .find(|a| a.name == name)
        .ok_or(AppError::NotFound)?;
    let file = tokio::fs::File::open(&a.path)
        .await
        .map_err(|e| AppError::Internal(anyhow::Error::new(e)))?;
    tracing::info!(artifact = %a.name, "engine build downloaded");
    let mut res = file_body(file).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(a.len));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{}\"", a.name)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&a.sha256) {
        h.insert(HeaderName::from_static("x-checksum-sha256"), v);
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::platform;

    #[test]
    fn platforms_are_read_from_names() {
        assert_eq!(
            platform("fox-engine-0.1.0-linux-x86_64.tar.gz"),
            "Linux x86_64"
        );
        assert_eq!(
            platform("fox-engine-0.1.0-macos-arm64.tar.gz"),
            "macOS arm64"
        );
        assert_eq!(platform("notes.txt"), "—");
    }
}

//! Static files, read into memory at start-up and served under content-hashed names
//! (`site.3f9a0c8e1b.css`) so that browsers may cache them for a year.

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

/// One file in memory.
pub struct Asset {
    pub bytes: axum::body::Bytes,
    pub content_type: &'static str,
    /// The file's name with its content hash: `site.3f9a0c8e1b.css`.
    pub hashed_name: String,
}

/// All static files by plain name, and a map from hashed to plain names.
#[derive(Default)]
pub struct Assets {
    files: BTreeMap<String, Asset>,
    hashed: BTreeMap<String, String>,
}

impl Assets {
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let mut a = Self::default();
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if !path.is_file() {
                continue;
            }
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            let bytes = std::fs::read(&path)?;
            let hash = hex(&Sha256::digest(&bytes)[..5]);
            let hashed_name = match name.rsplit_once('.') {
                Some((stem, ext)) => format!("{stem}.{hash}.{ext}"),
                None => format!("{name}.{hash}"),
            };
            a.hashed.insert(hashed_name.clone(), name.clone());
            a.files.insert(
                name.clone(),
                Asset {
                    bytes: bytes.into(),
                    content_type: content_type(&name),
                    hashed_name,
                },
            );
        }
        Ok(a)
    }

    /// The fingerprinted URL of `name` (falls back to the plain path if it is missing).
    pub fn url(&self, name: &str) -> String {
        match self.files.get(name) {
            Some(a) => format!("/static/{}", a.hashed_name),
            None => format!("/static/{name}"),
        }
    }

    /// Looks a request name up; the bool says whether it was the fingerprinted name.
    pub fn get(&self, requested: &str) -> Option<(&Asset, bool)> {
        if let Some(plain) = self.hashed.get(requested) {
            return self.files.get(plain).map(|a| (a, true));
        }
        self.files.get(requested).map(|a| (a, false))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or("") {
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

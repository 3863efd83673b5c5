//! Everything the public site prepares once at start-up: fingerprinted static assets, the
//! rendered docs, the page structs the templates fill, and the pre-rendered pages.

pub mod assets;
pub mod charts;
pub mod docs;
pub mod pages;
pub mod pricing;
pub mod render;

use crate::config::Settings;
use anyhow::Context;
use std::path::Path;

/// The site's prepared content, shared by all requests.
pub struct Site {
    pub assets: assets::Assets,
    pub docs: docs::Library,
    pub public_url: String,
}

impl Site {
    /// Loads the static files and renders the docs named in `site` settings.
    pub fn load(settings: &Settings) -> anyhow::Result<Self> {
        let s = &settings.site;
        let assets = assets::Assets::load(Path::new(&s.static_dir))
            .with_context(|| format!("loading site.static_dir {:?}", s.static_dir))?;
        let docs = docs::Library::load(Path::new(&s.docs_dir))
            .with_context(|| format!("rendering site.docs_dir {:?}", s.docs_dir))?;
        Ok(Self {
            assets,
            docs,
            public_url: settings.server.public_url.trim_end_matches('/').to_string(),
        })
    }

    /// The layout data for a page at `path`.
    pub fn layout(
        &self,
        title: &str,
        description: &str,
        nav: &'static str,
        path: &str,
    ) -> pages::Layout {
        pages::Layout {
            title: title.to_string(),
            description: description.to_string(),
            nav,
            css_url: self.assets.url("site.css"),
            favicon_url: self.assets.url("favicon.svg"),
            canonical_url: format!("{}{}", self.public_url, path),
            year: chrono::Datelike::year(&chrono::Utc::now()),
        }
    }
}

//! Pages whose HTML depends only on the configuration and the content (home, pricing, the
//! docs), rendered into complete HTML once at start-up and served from memory.

use super::Site;
use super::docs::Library;
use super::pages::{self, DocsIndexPage, DocsPage, PageLink, SidebarLink, SidebarSection};
use super::pricing;
use crate::config::{Purchase, Settings};
use askama::Template;
use axum::body::Bytes;
use std::collections::HashMap;

/// Pages whose HTML depends only on configuration and content, rendered once at start-up
/// and served from memory.
pub struct Prerendered {
    pub home: Bytes,
    pub pricing: Bytes,
    pub docs_index: Bytes,
    pub docs: HashMap<String, Bytes>,
}

impl Prerendered {
    /// Renders every page; `public_key` (base64) fills the docs' `%%LICENSE_PUBLIC_KEY%%`.
    pub fn build(site: &Site, settings: &Settings, public_key: &str) -> askama::Result<Self> {
        let mut docs = HashMap::new();
        for (i, d) in site.docs.pages.iter().enumerate() {
            let html = page_html(site, i)?.replace("%%LICENSE_PUBLIC_KEY%%", public_key);
            docs.insert(d.slug.clone(), Bytes::from(html));
        }
        Ok(Self {
            home: home_html(site)?.into(),
            pricing: pricing_html(site, settings)?.into(),
            docs_index: docs_index_html(site)?.into(),
            docs,
        })
    }
}

/// Stands for the visitor's CSRF token in the pre-rendered pricing page.
pub const CSRF_PLACEHOLDER: &str = "__FOX_CSRF_TOKEN__";

/// Whether self-serve checkout can be offered (Stripe is configured).
pub fn checkout_available(settings: &Settings) -> bool {
    settings.stripe.secret_key.is_some()
}

pub fn home_html(site: &Site) -> askama::Result<String> {
    pages::HomePage {
        layout: site.layout(
            "Leakage-safe ML for panel data",
            "Fox ML Infrastructure detects and removes leaky features, runs purged walk-forward cross-validation, ranks targets out-of-sample and fingerprints every run.",
            "home",
            "/",
        ),
    }
    .render()
}

pub fn pricing_html(site: &Site, settings: &Settings) -> askama::Result<String> {
    let available = checkout_available(settings);
    let p = &settings.pricing;
    pages::PricingPage {
        layout: site.layout(
            "Pricing",
            "Plans for Fox ML Infrastructure: a free evaluation, self-serve plans for researchers and desks, and enterprise licensing.",
            "pricing",
            "/pricing",
        ),
        tiers: pricing::cards(p, available),
        comparison: pricing::comparison(p),
        checkout_available: available || !p.tiers.iter().any(|t| t.purchase == Purchase::Checkout),
        csrf_token: CSRF_PLACEHOLDER.to_string(),
    }
    .render()
}

fn sidebar(lib: &Library, current: Option<&str>) -> Vec<SidebarSection> {
    lib.sections()
        .into_iter()
        .map(|(title, pages)| SidebarSection {
            title: title.to_string(),
            pages: pages
                .into_iter()
                .map(|p| SidebarLink {
                    href: format!("/docs/{}", p.slug),
                    title: p.title.clone(),
                    current: current == Some(p.slug.as_str()),
                })
                .collect(),
        })
        .collect()
}

pub fn docs_index_html(site: &Site) -> askama::Result<String> {
    DocsIndexPage {
        layout: site.layout("Documentation", "Fox ML Infrastructure documentation: onboarding, architecture, configuration, data format, licensing.", "docs", "/docs"),
        sidebar: sidebar(&site.docs, None),
    }
    .render()
}

/// The page at position `i` of the library.
pub fn page_html(site: &Site, i: usize) -> askama::Result<String> {
    let lib = &site.docs;
    let doc = &lib.pages[i];
    let link = |j: usize| PageLink {
        href: format!("/docs/{}", lib.pages[j].slug),
        title: lib.pages[j].title.clone(),
    };
    DocsPage {
        layout: site.layout(
            &doc.title,
            &format!("{} — Fox ML Infrastructure documentation", doc.title),
            "docs",
            &format!("/docs/{}", doc.slug),
        ),
        title: doc.title.clone(),
        section: doc.section.clone(),
        body_html: doc.html.clone(),
        toc: doc.toc.clone(),
        sidebar: sidebar(lib, Some(&doc.slug)),
        prev: i.checked_sub(1).map(link),
        next: (i + 1 < lib.pages.len()).then(|| link(i + 1)),
    }
    .render()
}

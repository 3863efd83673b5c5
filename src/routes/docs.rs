//! The documentation pages, served from the library rendered at start-up.

use super::render;
use crate::error::{AppError, Result};
use crate::site::docs::Library;
use crate::site::pages::{DocsIndexPage, DocsPage, PageLink, SidebarLink, SidebarSection};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::response::Response;

fn sidebar(lib: &Library, current: Option<&str>) -> Vec<SidebarSection> {
    lib.sections()
        .into_iter()
        .map(|(title, pages)| SidebarSection {
            title: title.to_string(),
            pages: pages
                .into_iter()
                .map(|p| SidebarLink { href: format!("/docs/{}", p.slug), title: p.title.clone(), current: current == Some(p.slug.as_str()) })
                .collect(),
        })
        .collect()
}

#[tracing::instrument(skip_all)]
pub async fn list_docs(State(state): State<AppState>) -> Result<Response> {
    render(&DocsIndexPage {
        layout: state.site.layout("Documentation", "Fox ML Infrastructure documentation: onboarding, architecture, configuration, data format, licensing.", "docs", "/docs"),
        sidebar: sidebar(&state.site.docs, None),
    })
}

#[tracing::instrument(skip_all)]
pub async fn show_doc(State(state): State<AppState>, Path(slug): Path<String>) -> Result<Response> {
    let lib = &state.site.docs;
    let i = lib.index_of(&slug).ok_or(AppError::NotFound)?;
    let doc = &lib.pages[i];
    let link = |j: usize| PageLink { href: format!("/docs/{}", lib.pages[j].slug), title: lib.pages[j].title.clone() };
    render(&DocsPage {
        layout: state.site.layout(&doc.title, &format!("{} — Fox ML Infrastructure documentation", doc.title), "docs", &format!("/docs/{}", doc.slug)),
        title: doc.title.clone(),
        section: doc.section.clone(),
        body_html: doc.html.clone(),
        toc: doc.toc.clone(),
        sidebar: sidebar(lib, Some(&doc.slug)),
        prev: i.checked_sub(1).map(link),
        next: (i + 1 < lib.pages.len()).then(|| link(i + 1)),
    })
}

//! HTTP handlers, one module per area. Routes are registered in `startup::router`.

pub mod account;
pub mod admin;
pub mod api;
pub mod checkout;
pub mod docs;
pub mod health;
pub mod request_access;
pub mod site;
pub mod static_files;
pub mod webhooks;

use crate::config::Settings;
use crate::error::{AppError, Result};
use crate::site::Site;
use crate::state::AppState;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use std::collections::HashMap;

/// Renders a page template into an HTML response.
pub fn render(page: &impl Template) -> Result<Response> {
    Ok(Html(page.render()?).into_response())
}

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
            let html = docs::page_html(site, i)?.replace("%%LICENSE_PUBLIC_KEY%%", public_key);
            docs.insert(d.slug.clone(), Bytes::from(html));
        }
        Ok(Self {
            home: site::home_html(site)?.into(),
            pricing: site::pricing_html(site, settings)?.into(),
            docs_index: docs::index_html(site)?.into(),
            docs,
        })
    }
}

fn html(bytes: &Bytes) -> Response {
    let mut res = bytes.clone().into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    res
}

pub async fn show_home(State(state): State<AppState>) -> Response {
    html(&state.pages.home)
}

/// The pricing page; with checkout on, its Buy forms get the visitor's CSRF token.
pub async fn show_pricing(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> Response {
    if state.stripe.is_none() {
        return html(&state.pages.pricing);
    }
    let csrf = state.csrf.for_request(&headers);
    let page =
        String::from_utf8_lossy(&state.pages.pricing).replace(site::CSRF_PLACEHOLDER, &csrf.token);
    let mut res = html(&Bytes::from(page));
    csrf.apply(&mut res);
    res
}

pub async fn list_docs(State(state): State<AppState>) -> Response {
    html(&state.pages.docs_index)
}

pub async fn show_doc(State(state): State<AppState>, Path(slug): Path<String>) -> Result<Response> {
    // Only slugs of rendered pages match: `..`, `/` and encoded paths are never looked up on disk.
    state
        .pages
        .docs
        .get(&slug)
        .map(html)
        .ok_or(AppError::NotFound)
}

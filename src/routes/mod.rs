//! HTTP handlers, one module per area, and the handlers of the pre-rendered pages (home,
//! pricing, docs). Routes are registered in `startup::router`, except the account and admin
//! areas, whose routers live in `account::router` and `admin::router` (merged there).

pub mod account;
pub mod admin;
pub mod api;
pub mod checkout;
pub mod health;
pub mod mcp;
pub mod request_access;
pub mod research;
pub mod static_files;
pub mod webhooks;

use crate::error::{AppError, Result};
use crate::state::AppState;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};

/// Renders a page template into an HTML response.
pub fn render(page: &impl Template) -> Result<Response> {
    Ok(Html(page.render()?).into_response())
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
    let page = String::from_utf8_lossy(&state.pages.pricing)
        .replace(crate::site::render::CSRF_PLACEHOLDER, &csrf.token);
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

//! HTTP handlers, one module per area. Routes are registered in `startup::router`.

pub mod docs;
pub mod health;
pub mod request_access;
pub mod site;
pub mod static_files;

use crate::error::Result;
use askama::Template;
use axum::response::{Html, IntoResponse, Response};

/// Renders a page template into an HTML response.
pub fn render(page: &impl Template) -> Result<Response> {
    Ok(Html(page.render()?).into_response())
}

//! Static files from memory, `robots.txt`, `sitemap.xml` and the favicon.

use crate::error::{AppError, Result};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};

/// A year, for fingerprinted names: their content can never change.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Plain names may change with a deploy.
const SHORT: &str = "public, max-age=300";

pub async fn serve_static(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response> {
    let (asset, fingerprinted) = state.site.assets.get(&name).ok_or(AppError::NotFound)?;
    let mut res = asset.bytes.clone().into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if fingerprinted { IMMUTABLE } else { SHORT }),
    );
    Ok(res)
}

pub async fn favicon(State(state): State<AppState>) -> Redirect {
    Redirect::permanent(&state.site.assets.url("favicon.svg"))
}

pub async fn robots(State(state): State<AppState>) -> impl IntoResponse {
    let body = format!(
        "User-agent: *\nAllow: /\nDisallow: /account\nDisallow: /admin\nDisallow: /api/\nDisallow: /checkout\n\nSitemap: {}/sitemap.xml\n",
        state.site.public_url
    );
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body)
}

pub async fn sitemap(State(state): State<AppState>) -> impl IntoResponse {
    let base = &state.site.public_url;
    let mut paths: Vec<String> = vec![
        "/".into(),
        "/pricing".into(),
        "/request-access".into(),
        "/docs".into(),
    ];
    paths.extend(
        state
            .site
            .docs
            .pages
            .iter()
            .map(|p| format!("/docs/{}", p.slug)),
    );
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
    );
    for p in paths {
        xml += &format!("  <url><loc>{base}{p}</loc></url>\n");
    }
    xml += "</urlset>\n";
    (
        [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
        xml,
    )
}

/// The public key that verifies license keys offline.
pub async fn license_public_key(State(state): State<AppState>) -> impl IntoResponse {
    let body = serde_json::json!({
        "algorithm": "Ed25519",
        "key_format": "FOX1",
        "public_key": state.signer.public_key().to_base64(),
        "encoding": "base64 (32 raw bytes)",
        "docs": format!("{}/docs/licensing-api", state.site.public_url),
    });
    (
        [(header::CACHE_CONTROL, "public, max-age=3600")],
        axum::Json(body),
    )
}

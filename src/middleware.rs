//! Cross-cutting request handling: request ids and the one log event per request, and
//! rendering error responses as the site's error page.

use crate::error::ErrorPage;
use crate::routes::api::{ApiCode, ApiErrorBody};
use crate::site::pages;
use crate::state::AppState;
use askama::Template;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use std::time::Instant;
use tracing::Instrument;

pub const REQUEST_ID: &str = "x-request-id";

/// The route pattern that matched, carried from the router to the request log.
#[derive(Clone)]
struct MatchedRoute(String);

/// Accepts a client's request id only if it is short and plain (it ends up in logs).
fn usable_request_id(v: &HeaderValue) -> Option<String> {
    let s = v.to_str().ok()?;
    let ok = !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    ok.then(|| s.to_string())
}

/// Outermost layer: assigns the request id, opens the request span, logs one event with
/// method, matched route, status and latency, and echoes the id in the response.
pub async fn track_request(mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(usable_request_id)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let header_value = HeaderValue::from_str(&id).expect("request ids are plain ASCII");
    req.headers_mut().insert(REQUEST_ID, header_value.clone());
    let method = req.method().clone();
    let span = tracing::info_span!("request", request_id = %id);
    let mut res = next.run(req).instrument(span.clone()).await;
    let route = res
        .extensions()
        .get::<MatchedRoute>()
        .map_or("(unmatched)".to_string(), |r| r.0.clone());
    let status = res.status().as_u16();
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| {
        // Refusals by rate limits are counted and logged in aggregate (rate_limit::report_refusals);
        // one line each would let a flood write the disk full.
        if status == 429 {
            tracing::debug!(target: "fox::http", method = %method, route = %route, status, latency_ms, "request finished");
        } else {
            tracing::info!(target: "fox::http", method = %method, route = %route, status, latency_ms, "request finished");
        }
    });
    res.headers_mut().insert(REQUEST_ID, header_value);
    res
}

/// Route layer: records which route pattern matched.
pub async fn record_route(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string());
    let mut res = next.run(req).await;
    if let Some(r) = route {
        res.extensions_mut().insert(MatchedRoute(r));
    }
    res
}

/// Renders error responses (from handlers, timeouts, body limits, panics, unknown routes):
/// under `/api/` in the API's JSON format (with the request id), elsewhere as the site's
/// HTML error page — unless they already carry a body of their own type.
pub async fn render_error_pages(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path().to_string();
    let request_id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let res = next.run(req).await;
    let status = res.status();
    if let Some(api) = res.extensions().get::<ApiErrorBody>().cloned() {
        return json_error(res, &api, &request_id);
    }
    let marked = res.extensions().get::<ErrorPage>().cloned();
    // Framework rejections (body limit, timeouts, bad forms) come as bare or text/plain
    // bodies; JSON and HTML bodies were written on purpose and are left alone.
    let plain = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_none_or(|v| v.as_bytes().starts_with(b"text/plain"));
    let bare_error = (status.is_client_error() || status.is_server_error()) && plain;
    if marked.is_none() && !bare_error {
        return res;
    }
    let message = marked
        .map(|m| m.message)
        .unwrap_or_else(|| default_message(status).to_string());
    if path.starts_with("/api/") {
        let api = ApiErrorBody {
            code: ApiCode::for_status(status),
            message,
            details: serde_json::Value::Null,
        };
        return json_error(res, &api, &request_id);
    }
    let (mut parts, _) = res.into_parts();
    let heading = status.canonical_reason().unwrap_or("Error").to_string();
    let page = pages::ErrorPage {
        layout: state.site.layout(&heading, &message, "", &path),
        status: status.as_u16(),
        heading,
        message,
    };
    let body = match page.render() {
        Ok(html) => Html(html).into_response().into_body(),
        Err(e) => {
            tracing::error!(error = %e, "rendering the error page failed");
            Body::from("error")
        }
    };
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, body)
}

/// The response with the API's JSON error document as its body.
fn json_error(res: Response, api: &ApiErrorBody, request_id: &str) -> Response {
    let (mut parts, _) = res.into_parts();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(api.to_json(request_id).to_string()))
}

fn default_message(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND => "The page you asked for does not exist or has moved.",
        StatusCode::METHOD_NOT_ALLOWED => "That page does not accept this kind of request.",
        StatusCode::PAYLOAD_TOO_LARGE => "What you sent is larger than we accept.",
        StatusCode::REQUEST_TIMEOUT => "The request took too long and was stopped.",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "The request was sent in a format we do not accept.",
        s if s.is_server_error() => "Something went wrong on our side. The error has been logged.",
        _ => "The request could not be handled.",
    }
}

/// Turns a panic inside a handler into a 500 (rendered as the error page), logged once.
pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    StatusCode::INTERNAL_SERVER_ERROR.into_response()
}

/// While the server drains before shutting down, every response asks the client to close its
/// connection, so kept-alive connections end cleanly after their current request instead of
/// being cut when the listener closes.
pub async fn close_when_draining(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let mut res = next.run(req).await;
    if state.draining.load(std::sync::atomic::Ordering::Relaxed) {
        res.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    res
}

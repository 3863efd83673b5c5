//! The research workflow in the dashboard: datasets (upload with progress, list, delete), a
//! new job (template, editor, columns, server-side validation), the jobs list, a job's page
//! (live while it runs, results as charts once it succeeded), comparison with an earlier
//! job, and downloads. The pages sit on the job API's rules (`jobs`) and the customer's
//! login session; every object belongs to the customer, another account's ids are 404.

mod datasets;
mod downloads;
pub(crate) mod jobs;
mod pages;
mod results;

use crate::auth::CurrentUser;
use crate::auth::guard::AuthRejection;
use crate::db::customers::User;
use crate::error::AppError;
use crate::jobs::datasets::human_bytes;
use crate::jobs::limits;
use crate::state::AppState;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use axum::routing::{get, post};
use pages::UsageView;
use uuid::Uuid;

/// The research routes with the site's limits (merged in `startup::router_with`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/account/datasets", get(datasets::show_datasets))
        .route(
            "/account/datasets/{id}/delete",
            post(datasets::delete_dataset),
        )
        .route("/account/jobs", get(jobs::list_jobs))
        .route(
            "/account/jobs/new",
            get(jobs::show_new_job).post(jobs::create_job),
        )
        .route("/account/jobs/{id}", get(results::show_job))
        .route("/account/jobs/{id}/cancel", post(jobs::cancel_job))
        .route("/account/jobs/{id}/retry", post(jobs::retry_job))
        .route("/account/jobs/{id}/compare", get(results::compare_jobs))
        .route("/account/jobs/{id}/archive", get(results::download_archive))
        .route("/account/downloads", get(downloads::show_downloads))
        .route("/account/downloads/{name}", get(downloads::download))
}

/// The upload form's route: no body limit or timeout of the site (it streams and enforces
/// the license's limit).
pub fn upload_router() -> Router<AppState> {
    Router::new()
        .route("/account/datasets", post(datasets::upload_dataset))
        .layer(DefaultBodyLimit::disable())
}

/// A signed-in customer (staff accounts have no datasets or jobs).
pub struct Customer {
    pub user: User,
    pub id: Uuid,
}

impl FromRequestParts<AppState> for Customer {
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, AuthRejection> {
        let CurrentUser(user) = CurrentUser::from_request_parts(parts, state).await?;
        match user.customer_id {
            Some(id) => Ok(Self { user, id }),
            None => Err(AuthRejection::Forbidden),
        }
    }
}

/// The account's limits and use, in words, for the pages.
async fn usage_view(state: &AppState, customer: Uuid) -> Result<UsageView, AppError> {
    let mut conn = state.db.acquire().await?;
    Ok(
        match limits::usage(&mut conn, &state.settings, customer).await {
            Ok(u) => {
                let of = |n: i64, max: Option<u32>| match max {
                    Some(m) => format!("{n} of {m}"),
                    None => format!("{n} (no limit)"),
                };
                UsageView {
                    available: true,
                    tier: crate::auth::forms::tier_name(state, &u.tier),
                    running: of(u.running_jobs, u.limits.concurrent_jobs),
                    month: of(u.jobs_this_month, u.limits.jobs_per_month),
                    resets: u.month_resets_at.get(..10).unwrap_or("").to_string(),
                    max_dataset: u
                        .limits
                        .max_dataset_bytes()
                        .map_or("no limit".into(), human_bytes),
                    problem: None,
                }
            }
            Err(e) => UsageView {
                problem: Some(e.message),
                ..UsageView::default()
            },
        },
    )
}

/// Lets a page run our own scripts (and nothing inline or from elsewhere): the site's policy
/// with `script-src 'self'`.
fn allow_own_scripts(res: &mut Response, state: &AppState) {
    let stripe_double = state
        .settings
        .stripe
        .api_base
        .as_deref()
        .and_then(|u| url::Url::parse(u).ok())
        .map(|u| u.origin().ascii_serialization());
    let csp = crate::security::headers::content_security_policy(stripe_double.as_deref())
        .replace("script-src 'none'", "script-src 'self'");
    if let Ok(v) = HeaderValue::from_str(&csp) {
        res.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
}

/// The last eight hex digits of an id (`9e4c11d2`): ids are UUIDv7, whose leading digits are
/// the creation time and the same for everything made within a minute.
fn short(id: Uuid) -> String {
    let s = id.simple().to_string();
    s[s.len() - 8..].to_string()
}

/// A file's bytes as a streamed response body (64 KiB reads).
fn file_body(file: tokio::fs::File) -> axum::body::Body {
    let stream = futures_util::stream::unfold(file, |mut f| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 64 << 10];
        match f.read(&mut buf).await {
            Ok(0) | Err(_) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(axum::body::Bytes::from(buf)), f))
            }
        }
    });
    axum::body::Body::from_stream(stream)
}

//! The sales and admin area. Sales and admins: the overview, leads (status workflow, notes,
//! filters) and issuing licenses for invoiced customers. Admins only: the license list and
//! actions (suspend, reinstate, revoke, extend) and the audit log. Every action is audited
//! with the acting user.

mod audit;
mod issue;
mod leads;
mod licenses;
mod pages;

use crate::auth::StaffUser;
use crate::auth::forms;
use crate::db;
use crate::domain::Role;
use crate::error::Result;
use crate::state::AppState;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use pages::{OverviewPage, StaffNav};

/// The sales/admin routes (registered in `startup::router_with`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin", get(show_overview))
        .route("/admin/leads", get(leads::list_leads))
        .route("/admin/leads/{id}", get(leads::show_lead))
        .route("/admin/leads/{id}/status", post(leads::change_lead_status))
        .route("/admin/leads/{id}/notes", post(leads::add_lead_note))
        .route(
            "/admin/licenses/new",
            get(issue::show_issue_form).post(issue::issue_license),
        )
        .route("/admin/licenses", get(licenses::list_licenses))
        .route("/admin/licenses/{id}", get(licenses::show_license))
        .route(
            "/admin/licenses/{id}/offline-activation",
            post(licenses::offline_activation),
        )
        .route(
            "/admin/licenses/{id}/{action}",
            post(licenses::change_license),
        )
        .route("/admin/audit", get(audit::list_audit))
}

/// The header strip of every staff page.
fn staff_nav(
    user: &crate::db::customers::User,
    current: &'static str,
    csrf_token: &str,
) -> StaffNav {
    StaffNav {
        email: user.email.clone(),
        is_admin: user.role == Role::Admin,
        current,
        csrf_token: csrf_token.to_string(),
    }
}

#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn show_overview(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: StaffUser,
) -> Result<Response> {
    let (overview, usage) = {
        let mut conn = state.db.acquire().await?;
        let (month, _) = crate::jobs::limits::month_bounds(time::OffsetDateTime::now_utc());
        (
            db::admin::overview(&mut conn).await?,
            db::admin::job_usage(&mut conn, month, 200).await?,
        )
    };
    let csrf = state.csrf.for_request(&headers);
    let page = OverviewPage {
        layout: state.site.layout(
            "Sales and admin",
            "Fox ML Infrastructure sales and admin area.",
            "account",
            "/admin",
        ),
        nav: staff_nav(&user, "overview", &csrf.token),
        overview,
        usage: usage
            .into_iter()
            .map(|u| {
                vec![
                    u.email,
                    u.company,
                    u.this_month.to_string(),
                    u.running.to_string(),
                    u.queued.to_string(),
                    u.succeeded.to_string(),
                    u.failed.to_string(),
                    format!(
                        "{} ({})",
                        u.datasets,
                        crate::jobs::datasets::human_bytes(u.dataset_bytes as u64)
                    ),
                ]
            })
            .collect(),
    };
    forms::render_with(&page, csrf, StatusCode::OK)
}

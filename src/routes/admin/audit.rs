//! Admin: the audit log, newest first.

use super::pages::{AuditPage, AuditRow};
use super::staff_nav;
use crate::auth::AdminUser;
use crate::auth::forms::{self, fmt_time};
use crate::db;
use crate::error::Result;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn list_audit(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: AdminUser,
) -> Result<Response> {
    let entries = {
        let mut conn = state.db.acquire().await?;
        db::admin::audit(&mut conn, 500).await?
    };
    let csrf = state.csrf.for_request(&headers);
    let page = AuditPage {
        layout: state.site.layout(
            "Audit log",
            "Who did what, when.",
            "account",
            "/admin/audit",
        ),
        nav: staff_nav(&user, "audit", &csrf.token),
        entries: entries
            .into_iter()
            .map(|e| AuditRow {
                at: fmt_time(e.at),
                actor: e.actor,
                action: e.action,
                target: format!("{} {}", e.target_type, e.target_id),
                details: if e.details.as_object().is_some_and(|o| o.is_empty()) {
                    String::new()
                } else {
                    e.details.to_string()
                },
            })
            .collect(),
    };
    forms::render_with(&page, csrf, StatusCode::OK)
}

//! Admin: the license list and one license with its actions (suspend, reinstate, revoke,
//! extend). The rules and effects live in `license::actions`, shared with the CLI.

use super::pages::{LicensePage, LicenseRow, LicensesPage};
use super::staff_nav;
use crate::auth::AdminUser;
use crate::auth::forms::{self, CsrfForm, fmt_date, fmt_time};
use crate::auth::guard::see_other;
use crate::db;
use crate::domain::LicenseStatus;
use crate::error::{AppError, Result};
use crate::license::actions::{self, Action, ActionError};
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use uuid::Uuid;

#[derive(Debug, Default, Deserialize)]
pub struct LicenseFilter {
    #[serde(default)]
    status: String,
    #[serde(default)]
    q: String,
}

fn row(state: &AppState, l: db::admin::LicenseRow) -> LicenseRow {
    LicenseRow {
        id: l.id.to_string(),
        email: l.email,
        company: l.company,
        tier_name: forms::tier_name(state, &l.tier),
        status_class: l.status.as_str().to_ascii_lowercase(),
        status: l.status.to_string(),
        seats: format!("{} / {}", l.machines, l.seats),
        expires: fmt_date(l.expires_at),
        source: l.source.to_string(),
    }
}

#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn list_licenses(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: AdminUser,
    Query(f): Query<LicenseFilter>,
) -> Result<Response> {
    let status = f.status.parse::<LicenseStatus>().ok();
    let q: String = f.q.trim().chars().take(200).collect();
    let rows = {
        let mut conn = state.db.acquire().await?;
        db::admin::licenses(
            &mut conn,
            status,
            (!q.is_empty()).then_some(q.as_str()),
            500,
        )
        .await?
    };
    let all: Vec<&str> = LicenseStatus::ALL.iter().map(|s| s.as_str()).collect();
    let status_options = crate::site::pages::status_filter(&all, status.map(LicenseStatus::as_str));
    let csrf = state.csrf.for_request(&headers);
    let page = LicensesPage {
        layout: state
            .site
            .layout("Licenses", "Every license.", "account", "/admin/licenses"),
        nav: staff_nav(&user, "licenses", &csrf.token),
        status_options,
        q,
        licenses: rows.into_iter().map(|l| row(&state, l)).collect(),
    };
    forms::render_with(&page, csrf, StatusCode::OK)
}

#[derive(Debug, Default, Deserialize)]
pub struct NoticeQuery {
    #[serde(default)]
    notice: String,
}

fn notice_text(code: &str) -> Option<&'static str> {
    Some(match code {
        "suspend" => "License suspended; the customer was emailed.",
        "reinstate" => "License reinstated.",
        "revoke" => "License revoked; the customer was emailed.",
        "extend" => "License extended.",
        _ => return None,
    })
}

#[tracing::instrument(skip_all, fields(user_id = %user.id, license_id = %id))]
pub async fn show_license(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: AdminUser,
    Path(id): Path<Uuid>,
    Query(q): Query<NoticeQuery>,
) -> Result<Response> {
    let mut conn = state.db.acquire().await?;
    let l = db::licenses::by_id(&mut conn, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let customer = db::customers::customer_email(&mut conn, l.customer_id).await?;
    let machines = db::licenses::active_machines(&mut conn, id).await?.len();
    let keys = forms::keys_label(db::accounts::key_summary(&mut conn, id).await?);
    drop(conn);
    let ok = |a: Action| a.next_status(l.status).is_ok();
    let csrf = state.csrf.for_request(&headers);
    let page = LicensePage {
        layout: state.site.layout(
            "License",
            "One license and its actions.",
            "account",
            "/admin/licenses",
        ),
        nav: staff_nav(&user, "licenses", &csrf.token),
        can_suspend: ok(Action::Suspend),
        can_reinstate: ok(Action::Reinstate),
        can_revoke: ok(Action::Revoke),
        can_extend: ok(Action::Extend(1)),
        reason: l.status_reason.clone().unwrap_or_default(),
        created: fmt_time(l.created_at),
        keys,
        license: LicenseRow {
            id: l.id.to_string(),
            email: customer,
            company: String::new(),
            tier_name: forms::tier_name(&state, &l.tier),
            status_class: l.status.as_str().to_ascii_lowercase(),
            status: l.status.to_string(),
            seats: format!("{machines} / {}", l.seats),
            expires: fmt_date(l.expires_at),
            source: l.source.to_string(),
        },
        notice: notice_text(&q.notice),
    };
    forms::render_with(&page, csrf, StatusCode::OK)
}

#[derive(Debug, Default, Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    reason: String,
    #[serde(default)]
    days: String,
}

#[tracing::instrument(skip_all, fields(user_id = %user.id, license_id = %id, action = %action))]
pub async fn change_license(
    State(state): State<AppState>,
    _headers: HeaderMap,
    user: AdminUser,
    Path((id, action)): Path<(Uuid, String)>,
    CsrfForm(input): CsrfForm<ActionForm>,
) -> Result<Response> {
    let act = match action.as_str() {
        "suspend" => Action::Suspend,
        "reinstate" => Action::Reinstate,
        "revoke" => Action::Revoke,
        "extend" => match input.days.trim().parse::<u32>() {
            Ok(d) if (1..=super::issue::MAX_DAYS).contains(&d) => Action::Extend(d),
            _ => {
                return Err(AppError::BadRequest(format!(
                    "Enter a number of days from 1 to {} to extend by.",
                    super::issue::MAX_DAYS
                )));
            }
        },
        _ => return Err(AppError::NotFound),
    };
    let reason: String = input.reason.trim().chars().take(500).collect();
    let mut tx = state.db.begin().await?;
    match actions::apply(&mut tx, id, act, &reason, &user.actor()).await {
        Ok(_) => {}
        Err(ActionError::NotFound) => return Err(AppError::NotFound),
        Err(ActionError::NotAllowed(m)) => return Err(AppError::Conflict(m)),
        Err(ActionError::Db(e)) => return Err(e.into()),
    }
    tx.commit().await?;
    state.outbox_wake.notify_one();
    tracing::info!("license changed by an admin");
    Ok(see_other(&format!("/admin/licenses/{id}?notice={action}")))
}

#[derive(Debug, Default, Deserialize)]
pub struct OfflineForm {
    #[serde(default)]
    fingerprint: String,
    #[serde(default)]
    name: String,
}

/// An offline activation file for an air-gapped machine (admins): takes a seat for the
/// machine's fingerprint and answers the signed activation as a download, audited.
#[tracing::instrument(skip_all, fields(user_id = %user.id, license_id = %id))]
pub async fn offline_activation(
    State(state): State<AppState>,
    user: AdminUser,
    Path(id): Path<Uuid>,
    CsrfForm(input): CsrfForm<OfflineForm>,
) -> Result<Response> {
    use crate::license::validate::{self, MachineError};
    let fingerprint = input.fingerprint.trim();
    let name: String = input.name.trim().chars().take(200).collect();
    let name = if name.is_empty() {
        "offline machine".to_string()
    } else {
        name
    };
    let mut tx = state.db.begin().await?;
    let token =
        match validate::offline_activation(&mut tx, &state.signer, id, fingerprint, &name).await {
            Ok(t) => t,
            Err(MachineError::Refused(p)) if p.code == validate::Code::NotFound => {
                return Err(AppError::NotFound);
            }
            Err(MachineError::Refused(p)) if p.code == validate::Code::FingerprintRequired => {
                return Err(AppError::BadRequest(p.detail));
            }
            Err(MachineError::Refused(p)) => return Err(AppError::Conflict(p.detail)),
            Err(MachineError::Db(e)) => return Err(e.into()),
        };
    db::audit::record(
        &mut tx,
        &user.actor(),
        "license.offline_activation",
        "license",
        &id.to_string(),
        serde_json::json!({ "machine": name }),
    )
    .await?;
    tx.commit().await?;
    state.license_cache.clear();
    tracing::info!("offline activation issued");
    let file = format!("fox-activation-{}.txt", &id.simple().to_string()[24..]);
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "text/plain; charset=utf-8".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        format!("{token}\n"),
    )
        .into_response())
}

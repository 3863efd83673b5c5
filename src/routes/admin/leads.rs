//! Leads from Request Access: the list with filters, one lead with its notes, the status
//! workflow (new → contacted → qualified → won, and lost from any open status).

use super::pages::{LeadPage, LeadRow, LeadsPage, NoteView};
use super::staff_nav;
use crate::auth::StaffUser;
use crate::auth::forms::{self, CsrfForm, fmt_time};
use crate::auth::guard::see_other;
use crate::db::{self, admin::Lead};
use crate::domain::LeadStatus;
use crate::error::{AppError, Result};
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use uuid::Uuid;

fn row(state: &AppState, l: Lead) -> LeadRow {
    LeadRow {
        id: l.id.to_string(),
        created: fmt_time(l.created_at),
        name: l.name,
        email: l.email,
        company: l.company,
        tier_name: forms::tier_name(state, &l.tier),
        team_size: l.team_size,
        status: l.status.to_string(),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct LeadFilter {
    #[serde(default)]
    status: String,
    #[serde(default)]
    q: String,
}

#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn list_leads(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: StaffUser,
    Query(f): Query<LeadFilter>,
) -> Result<Response> {
    let status = f.status.parse::<LeadStatus>().ok();
    let q: String = f.q.trim().chars().take(200).collect();
    let search = (!q.is_empty()).then_some(q.as_str());
    let leads = {
        let mut conn = state.db.acquire().await?;
        db::admin::leads(&mut conn, status, search, 500).await?
    };
    let all: Vec<&str> = LeadStatus::ALL.iter().map(|s| s.as_str()).collect();
    let status_options = crate::site::pages::status_filter(&all, status.map(LeadStatus::as_str));
    let csrf = state.csrf.for_request(&headers);
    let page = LeadsPage {
        layout: state.site.layout(
            "Leads",
            "Leads from Request Access.",
            "account",
            "/admin/leads",
        ),
        nav: staff_nav(&user, "leads", &csrf.token),
        status_options,
        q,
        leads: leads.into_iter().map(|l| row(&state, l)).collect(),
    };
    forms::render_with(&page, csrf, StatusCode::OK)
}

#[derive(Debug, Default, Deserialize)]
pub struct NoticeQuery {
    #[serde(default)]
    notice: String,
}

/// What a lead page shows besides the stored lead: a confirmation, or a note being fixed.
#[derive(Default)]
struct PageExtras {
    notice: Option<&'static str>,
    note_body: String,
    note_error: Option<String>,
}

async fn lead_page(
    state: &AppState,
    headers: &HeaderMap,
    user: &StaffUser,
    id: Uuid,
    status: StatusCode,
    extras: PageExtras,
) -> Result<Response> {
    let mut conn = state.db.acquire().await?;
    let lead = db::admin::lead(&mut conn, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let notes = db::admin::notes(&mut conn, id).await?;
    drop(conn);
    let csrf = state.csrf.for_request(headers);
    let transitions: Vec<&str> = lead.status.next().iter().map(|s| s.as_str()).collect();
    let (role, use_case) = (lead.role.clone(), lead.use_case.clone());
    let page = LeadPage {
        layout: state.site.layout(
            "Lead",
            "A lead from Request Access.",
            "account",
            "/admin/leads",
        ),
        nav: staff_nav(user, "leads", &csrf.token),
        lead: row(state, lead),
        role,
        use_case,
        transitions,
        notes: notes
            .into_iter()
            .map(|n| NoteView {
                author: n.author.unwrap_or_else(|| "(deleted user)".into()),
                at: fmt_time(n.created_at),
                body: n.body,
            })
            .collect(),
        note_body: extras.note_body,
        note_error: extras.note_error,
        notice: extras.notice,
    };
    forms::render_with(&page, csrf, status)
}

#[tracing::instrument(skip_all, fields(user_id = %user.id, lead_id = %id))]
pub async fn show_lead(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: StaffUser,
    Path(id): Path<Uuid>,
    Query(q): Query<NoticeQuery>,
) -> Result<Response> {
    let notice = match q.notice.as_str() {
        "status" => Some("Status updated."),
        "note" => Some("Note added."),
        _ => None,
    };
    let extras = PageExtras {
        notice,
        ..Default::default()
    };
    lead_page(&state, &headers, &user, id, StatusCode::OK, extras).await
}

#[derive(Debug, Default, Deserialize)]
pub struct StatusForm {
    #[serde(default)]
    status: String,
}

#[tracing::instrument(skip_all, fields(user_id = %user.id, lead_id = %id))]
pub async fn change_lead_status(
    State(state): State<AppState>,
    _headers: HeaderMap,
    user: StaffUser,
    Path(id): Path<Uuid>,
    CsrfForm(input): CsrfForm<StatusForm>,
) -> Result<Response> {
    let mut tx = state.db.begin().await?;
    let lead = db::admin::lead(&mut tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let Some(to) = lead
        .status
        .next()
        .iter()
        .copied()
        .find(|s| s.as_str() == input.status)
    else {
        return Err(AppError::Conflict(format!(
            "A lead in status “{}” cannot move to “{}”.",
            lead.status, input.status
        )));
    };
    if !db::admin::set_lead_status(&mut tx, id, lead.status, to).await? {
        return Err(AppError::Conflict(
            "The lead was changed meanwhile; reload and try again.".into(),
        ));
    }
    let details = serde_json::json!({"from": lead.status, "to": to});
    db::audit::record(
        &mut tx,
        &user.actor(),
        "lead.status",
        "lead",
        &id.to_string(),
        details,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(to = %to, "lead status changed");
    Ok(see_other(&format!("/admin/leads/{id}?notice=status")))
}

#[derive(Debug, Default, Deserialize)]
pub struct NoteForm {
    #[serde(default)]
    body: String,
}

#[tracing::instrument(skip_all, fields(user_id = %user.id, lead_id = %id))]
pub async fn add_lead_note(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: StaffUser,
    Path(id): Path<Uuid>,
    CsrfForm(input): CsrfForm<NoteForm>,
) -> Result<Response> {
    let body = input.body.trim();
    let error = if body.is_empty() {
        Some("Write a note first.")
    } else if body.chars().count() > 5000 {
        Some("Use at most 5000 characters.")
    } else {
        None
    };
    if let Some(e) = error {
        let extras = PageExtras {
            note_body: input.body.clone(),
            note_error: Some(e.into()),
            ..Default::default()
        };
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return lead_page(&state, &headers, &user, id, status, extras).await;
    }
    let mut tx = state.db.begin().await?;
    db::admin::lead(&mut tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let note_id = db::admin::add_note(&mut tx, id, user.id, body).await?;
    let details = serde_json::json!({"note_id": note_id});
    db::audit::record(
        &mut tx,
        &user.actor(),
        "lead.note",
        "lead",
        &id.to_string(),
        details,
    )
    .await?;
    tx.commit().await?;
    Ok(see_other(&format!("/admin/leads/{id}?notice=note")))
}

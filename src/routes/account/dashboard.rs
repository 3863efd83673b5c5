//! The dashboard: the customer's licenses with their machines and keys, API tokens, and the
//! actions on them. Every id in a path is checked against the logged-in customer: someone
//! else's license or machine is a 404, exactly like one that does not exist.

use super::pages::{DashboardPage, LicenseView, MachineView, NewTokenView, TokenView};
use crate::auth::CurrentUser;
use crate::auth::forms::{self, CsrfForm, CsrfOnly, fmt_date, fmt_time};
use crate::auth::guard::{actor, see_other};
use crate::db::{self, customers::User, licenses::License};
use crate::domain::{LicenseStatus, Role};
use crate::error::{AppError, Result};
use crate::license::actions::{self, ActionError};
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use sqlx::PgConnection;
use uuid::Uuid;

/// Confirmation shown after a redirect; the query names one of these, never free text.
fn notice_text(code: &str) -> Option<&'static str> {
    Some(match code {
        "key-sent" => {
            "A new license key is on its way to your email address. Your earlier keys keep working."
        }
        "machine-deactivated" => "The machine was deactivated; its seat is free again.",
        "token-revoked" => "The API token was revoked. Requests using it are refused from now on.",
        "billing-unavailable" => {
            "Your plan is not billed through our online billing portal. For invoices or plan changes, contact sales."
        }
        "billing-failed" => {
            "The billing portal is not available right now. Please try again in a few minutes."
        }
        _ => return None,
    })
}

#[derive(Debug, Default, Deserialize)]
pub struct NoticeQuery {
    #[serde(default)]
    notice: String,
}

/// What a dashboard render adds to the stored data.
#[derive(Default)]
pub(super) struct Extras {
    pub notice: Option<&'static str>,
    pub new_token: Option<NewTokenView>,
    pub token_name: String,
    pub token_error: Option<String>,
}

async fn license_view(
    conn: &mut PgConnection,
    state: &AppState,
    l: &License,
) -> Result<LicenseView> {
    let machines = db::licenses::active_machines(conn, l.id).await?;
    let keys = forms::keys_label(db::accounts::key_summary(conn, l.id).await?);
    let reason = match l.status {
        LicenseStatus::Active => String::new(),
        _ => l.status_reason.clone().unwrap_or_default(),
    };
    Ok(LicenseView {
        id: l.id.to_string(),
        tier_name: forms::tier_name(state, &l.tier),
        status: l.status.to_string(),
        status_class: l.status.as_str().to_ascii_lowercase(),
        reason,
        expires: fmt_date(l.expires_at),
        seats_used: machines.len(),
        seats: l.seats,
        machines: machines
            .into_iter()
            .map(|m| MachineView {
                id: m.id.to_string(),
                name: if m.name.is_empty() {
                    "Unnamed machine".into()
                } else {
                    m.name
                },
                fingerprint: m.fingerprint.chars().take(16).collect(),
                activated: fmt_time(m.activated_at),
                last_seen: fmt_time(m.last_seen_at),
            })
            .collect(),
        keys,
        can_resend: l.status != LicenseStatus::Revoked,
    })
}

/// Renders the dashboard of `user`.
pub(super) async fn render_dashboard(
    state: &AppState,
    headers: &HeaderMap,
    user: &User,
    status: StatusCode,
    extras: Extras,
) -> Result<Response> {
    let mut conn = state.db.acquire().await?;
    let mut licenses = Vec::new();
    if let Some(cid) = user.customer_id {
        for l in db::licenses::for_customer(&mut conn, cid).await? {
            licenses.push(license_view(&mut conn, state, &l).await?);
        }
    }
    let tokens = db::api_tokens::for_user(&mut conn, user.id)
        .await?
        .into_iter()
        .map(|t| TokenView {
            id: t.id.to_string(),
            name: t.name,
            prefix: t.prefix,
            created: fmt_date(t.created_at),
            last_used: t.last_used_at.map_or_else(|| "Never".into(), fmt_time),
            revoked: t.revoked_at.map(fmt_date),
        })
        .collect();
    let csrf = state.csrf.for_request(headers);
    let page = DashboardPage {
        layout: state.site.layout(
            "Your account",
            "Your Fox ML Infrastructure licenses, machines and API tokens.",
            "account",
            "/account",
        ),
        email: user.email.clone(),
        is_customer: user.customer_id.is_some(),
        is_staff: user.role != Role::Customer,
        notice: extras.notice,
        licenses,
        tokens,
        new_token: extras.new_token,
        token_name: extras.token_name,
        token_error: extras.token_error,
        csrf_token: csrf.token.clone(),
    };
    forms::render_with(&page, csrf, status)
}

#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn show_dashboard(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: CurrentUser,
    Query(q): Query<NoticeQuery>,
) -> Result<Response> {
    let extras = Extras {
        notice: notice_text(&q.notice),
        ..Default::default()
    };
    render_dashboard(&state, &headers, &user, StatusCode::OK, extras).await
}

/// The license if it belongs to the user's customer; otherwise 404 (as if it did not exist).
async fn owned_license(conn: &mut PgConnection, user: &User, id: Uuid) -> Result<License> {
    let license = db::licenses::by_id(conn, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if user.customer_id != Some(license.customer_id) {
        tracing::warn!(user_id = %user.id, license_id = %id, "license of another customer requested");
        return Err(AppError::NotFound);
    }
    Ok(license)
}

/// "Resend my key": signs a new key for the license and emails it; earlier keys keep working.
#[tracing::instrument(skip_all, fields(user_id = %user.id, license_id = %id))]
pub async fn resend_key(
    State(state): State<AppState>,
    _headers: HeaderMap,
    user: CurrentUser,
    Path(id): Path<Uuid>,
    _: CsrfForm<CsrfOnly>,
) -> Result<Response> {
    let mut tx = state.db.begin().await?;
    let license = owned_license(&mut tx, &user, id).await?;
    actions::resend_key(
        &mut tx,
        &state.settings,
        &state.signer,
        &license,
        &actor(&user),
    )
    .await
    .map_err(|e| match e {
        ActionError::NotAllowed(why) => AppError::Conflict(why),
        ActionError::NotFound => AppError::NotFound,
        ActionError::Db(e) => e.into(),
    })?;
    tx.commit().await?;
    state.outbox_wake.notify_one();
    tracing::info!("new license key issued and queued");
    Ok(see_other("/account?notice=key-sent"))
}

/// Frees a seat: deactivates one of the license's machines.
#[tracing::instrument(skip_all, fields(user_id = %user.id, license_id = %id, machine_id = %machine_id))]
pub async fn deactivate_machine(
    State(state): State<AppState>,
    _headers: HeaderMap,
    user: CurrentUser,
    Path((id, machine_id)): Path<(Uuid, Uuid)>,
    _: CsrfForm<CsrfOnly>,
) -> Result<Response> {
    let mut tx = state.db.begin().await?;
    let license = owned_license(&mut tx, &user, id).await?;
    if !db::licenses::deactivate_machine(&mut tx, license.id, None, Some(machine_id)).await? {
        return Err(AppError::NotFound);
    }
    let details = serde_json::json!({"machine_id": machine_id});
    db::audit::record(
        &mut tx,
        &actor(&user),
        "machine.deactivate",
        "license",
        &license.id.to_string(),
        details,
    )
    .await?;
    tx.commit().await?;
    tracing::info!("machine deactivated");
    Ok(see_other("/account?notice=machine-deactivated"))
}

/// "Manage billing": a Stripe Billing Portal session for subscription customers.
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn open_billing(
    State(state): State<AppState>,
    _headers: HeaderMap,
    user: CurrentUser,
    _: CsrfForm<CsrfOnly>,
) -> Result<Response> {
    let stripe_id = match user.customer_id {
        Some(cid) => {
            let mut conn = state.db.acquire().await?;
            db::accounts::stripe_customer_id(&mut conn, cid).await?
        }
        None => None,
    };
    let (Some(client), Some(stripe_id)) = (state.stripe.as_ref(), stripe_id) else {
        return Ok(see_other("/account?notice=billing-unavailable"));
    };
    let return_url = format!("{}/account", forms::public_url(&state));
    match crate::commerce::stripe_api::create_portal_session(client, &stripe_id, &return_url).await
    {
        Ok(url) => Ok(see_other(&url)),
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "billing portal session failed");
            Ok(see_other("/account?notice=billing-failed"))
        }
    }
}

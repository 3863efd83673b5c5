//! Request Access / Contact Sales: the form, its validation, and storing the lead together
//! with the sales notification in one transaction (the outbox sends it afterwards).

use super::render;
use crate::auth::forms::{CSRF_MESSAGE, CheckedForm};
use crate::db;
use crate::domain::{LeadErrors, LeadInput, TEAM_SIZES};
use crate::email::messages;
use crate::error::{AppError, Result};
use crate::security::ClientIp;
use crate::site::pages::{RequestAccessDonePage, RequestAccessPage, SelectOption};
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct Preselect {
    tier: Option<String>,
}

fn form_page(
    state: &AppState,
    form: LeadInput,
    errors: LeadErrors,
    csrf_token: String,
) -> RequestAccessPage {
    let tier_options = state
        .settings
        .pricing
        .tiers
        .iter()
        .map(|t| SelectOption {
            value: t.id.clone(),
            label: t.name.clone(),
            selected: t.id == form.tier,
        })
        .collect();
    let team_size_options = TEAM_SIZES
        .iter()
        .map(|(v, l)| SelectOption {
            value: v.to_string(),
            label: l.to_string(),
            selected: *v == form.team_size,
        })
        .collect();
    RequestAccessPage {
        layout: state.site.layout(
            "Request access",
            "Request a Fox ML Infrastructure evaluation or talk to sales about Desk and Enterprise licensing.",
            "request-access",
            "/request-access",
        ),
        form,
        errors,
        csrf_token,
        tier_options,
        team_size_options,
    }
}

/// Renders the form, issuing a CSRF cookie when the visitor has none.
fn respond_with_form(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    form: LeadInput,
    errors: LeadErrors,
) -> Result<Response> {
    let csrf = state.csrf.for_request(headers);
    let mut res = render(&form_page(state, form, errors, csrf.token.clone()))?;
    *res.status_mut() = status;
    csrf.apply(&mut res);
    Ok(res)
}

#[tracing::instrument(skip_all)]
pub async fn show_request_access(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<Preselect>,
) -> Result<Response> {
    let tier = q
        .tier
        .filter(|t| state.settings.pricing.tiers.iter().any(|x| &x.id == t))
        .unwrap_or_default();
    respond_with_form(
        &state,
        &headers,
        StatusCode::OK,
        LeadInput {
            tier,
            ..Default::default()
        },
        LeadErrors::default(),
    )
}

#[tracing::instrument(skip_all)]
pub async fn create_lead(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    form: CheckedForm<LeadInput>,
) -> Result<Response> {
    let input = match form {
        CheckedForm::Valid(input) => input,
        CheckedForm::BadToken(input) => {
            let errors = LeadErrors {
                form: Some(CSRF_MESSAGE.into()),
                ..Default::default()
            };
            return respond_with_form(&state, &headers, StatusCode::FORBIDDEN, input, errors);
        }
    };

    let tier_ids: Vec<&str> = state
        .settings
        .pricing
        .tiers
        .iter()
        .map(|t| t.id.as_str())
        .collect();
    let lead = match input.validate(&tier_ids) {
        Ok(lead) => lead,
        Err(errors) => {
            return respond_with_form(
                &state,
                &headers,
                StatusCode::UNPROCESSABLE_ENTITY,
                input,
                errors,
            );
        }
    };

    if let Err(retry_after_secs) = state.limits.leads.check(&ip.to_string()) {
        return Err(AppError::TooManyRequests { retry_after_secs });
    }

    let first_name = lead
        .name
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_string();
    let done = |state: &AppState| {
        render(&RequestAccessDonePage {
            layout: state.site.layout(
                "Request received",
                "We received your request.",
                "request-access",
                "/request-access",
            ),
            first_name: first_name.clone(),
        })
    };
    if !input.website.is_empty() {
        // Honeypot filled: a bot. It sees the normal confirmation; nothing is stored or sent.
        tracing::info!("request access honeypot triggered; submission discarded");
        return done(&state);
    }

    let tier_name = state
        .settings
        .pricing
        .tiers
        .iter()
        .find(|t| t.id == lead.tier)
        .map_or(lead.tier.clone(), |t| t.name.clone());
    let admin_url = format!("{}/admin/leads", state.site.public_url);
    let mut tx = state.db.begin().await?;
    let lead_id = db::leads::insert(&mut tx, &lead).await?;
    let note = messages::lead_notification(
        &state.settings.email.sales_to,
        &lead,
        &tier_name,
        &admin_url,
    );
    db::outbox::enqueue(&mut tx, &note.as_new()).await?;
    tx.commit().await?;
    state.outbox_wake.notify_one();
    tracing::info!(lead_id = %lead_id, tier = %lead.tier, "lead stored");
    Ok(done(&state)?.into_response())
}

//! "Issue license" for an invoiced customer: creates (or finds) the customer and account,
//! the license and its key, and queues the key email. The key is shown once on the answer.

use super::pages::{IssueErrors, IssueInput, IssuePage, IssuedView};
use super::staff_nav;
use crate::auth::StaffUser;
use crate::auth::forms::{self, CSRF_MESSAGE, CheckedForm, fmt_date};
use crate::commerce::issue::{self, Origin, Request};
use crate::config::Tier;
use crate::domain::{EmailAddress, IssueSource};
use crate::error::{AppError, Result};
use crate::site::pages::SelectOption;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use time::{Duration, OffsetDateTime};

/// Longest license sales can issue in one go (ten years).
pub const MAX_DAYS: u32 = 3650;

fn issue_page(
    state: &AppState,
    headers: &HeaderMap,
    user: &StaffUser,
    status: StatusCode,
    form: IssueInput,
    errors: IssueErrors,
    issued: Option<IssuedView>,
) -> Result<Response> {
    let csrf = state.csrf.for_request(headers);
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
    let page = IssuePage {
        layout: state.site.layout(
            "Issue a license",
            "Issue a license for an invoiced customer.",
            "account",
            "/admin/licenses/new",
        ),
        nav: staff_nav(user, "issue", &csrf.token),
        form,
        errors,
        tier_options,
        issued,
    };
    forms::render_with(&page, csrf, status)
}

#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn show_issue_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: StaffUser,
) -> Result<Response> {
    let form = IssueInput {
        days: state.settings.license.default_days.to_string(),
        ..Default::default()
    };
    issue_page(
        &state,
        &headers,
        &user,
        StatusCode::OK,
        form,
        IssueErrors::default(),
        None,
    )
}

/// The validated form.
struct Valid<'a> {
    email: EmailAddress,
    tier: &'a Tier,
    days: u32,
}

fn validate<'a>(
    state: &'a AppState,
    f: &IssueInput,
) -> std::result::Result<Valid<'a>, Box<IssueErrors>> {
    let mut e = IssueErrors::default();
    let email = EmailAddress::parse(&f.email)
        .map_err(|m| e.email = Some(m))
        .ok();
    if f.name.trim().chars().count() > 200 {
        e.name = Some("Use at most 200 characters.".into());
    }
    if f.company.trim().chars().count() > 200 {
        e.company = Some("Use at most 200 characters.".into());
    }
    let tier = state.settings.pricing.tiers.iter().find(|t| t.id == f.tier);
    if tier.is_none() {
        e.tier = Some("Choose a plan.".into());
    }
    let days = match f.days.trim().parse::<u32>() {
        Ok(d) if (1..=MAX_DAYS).contains(&d) => Some(d),
        _ => {
            e.days = Some(format!("Enter a number of days from 1 to {MAX_DAYS}."));
            None
        }
    };
    match (email, tier, days) {
        (Some(email), Some(tier), Some(days)) if !e.any() => Ok(Valid { email, tier, days }),
        _ => Err(Box::new(e)),
    }
}

#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn issue_license(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: StaffUser,
    form: CheckedForm<IssueInput>,
) -> Result<Response> {
    let input = match form {
        CheckedForm::Valid(input) => input,
        CheckedForm::BadToken(input) => {
            let errors = IssueErrors {
                form: Some(CSRF_MESSAGE.into()),
                ..Default::default()
            };
            return issue_page(
                &state,
                &headers,
                &user,
                StatusCode::FORBIDDEN,
                input,
                errors,
                None,
            );
        }
    };
    let v = match validate(&state, &input) {
        Ok(v) => v,
        Err(errors) => {
            return issue_page(
                &state,
                &headers,
                &user,
                StatusCode::UNPROCESSABLE_ENTITY,
                input,
                *errors,
                None,
            );
        }
    };
    let expires_at = OffsetDateTime::now_utc() + Duration::days(v.days.into());
    let req = Request {
        email: &v.email,
        name: input.name.trim(),
        company: input.company.trim(),
        tier: v.tier,
        expires_at,
        origin: Origin::new(IssueSource::Sales),
    };
    let mut tx = state.db.begin().await?;
    let issued = issue::issue(&mut tx, &state.settings, &state.signer, &req, &user.actor())
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("a sales license was deduplicated")))?;
    tx.commit().await?;
    state.outbox_wake.notify_one();
    tracing::info!(license_id = %issued.license_id, tier = %v.tier.id, "license issued by sales");
    let view = IssuedView {
        license_id: issued.license_id.to_string(),
        email: v.email.account().to_string(),
        tier_name: v.tier.name.clone(),
        expires: fmt_date(expires_at),
        key: issued.key,
    };
    let fresh = IssueInput {
        days: state.settings.license.default_days.to_string(),
        ..Default::default()
    };
    issue_page(
        &state,
        &headers,
        &user,
        StatusCode::OK,
        fresh,
        IssueErrors::default(),
        Some(view),
    )
}

//! `POST /api/v1/licenses/{validate,activate,deactivate}`: online license checks for the
//! engine and customers' tooling, rate limited per client address, then per key. The
//! decisions live in `license::validate`; these handlers parse, limit and answer.

use super::{ApiCode, ApiError, ApiJson};
use crate::db::licenses::License;
use crate::license::validate::{self, MachineError, SentKey};
use crate::security::ClientIp;
use crate::security::rate_limit::Quota;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidateRequest {
    pub key: String,
    #[serde(default)]
    pub fingerprint: Option<String>,
    #[serde(default)]
    pub nonce: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MachineRequest {
    pub key: String,
    pub fingerprint: String,
    #[serde(default)]
    pub name: Option<String>,
}

/// The license part of a response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LicenseView {
    pub id: uuid::Uuid,
    pub tier: String,
    pub status: String,
    pub expires_at: String,
    pub seats: i32,
    pub seats_used: usize,
    #[schema(value_type = Object)]
    pub entitlements: Value,
}

/// Always 200: `valid` and a stable `code` say what the key is worth.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ValidateResponse {
    pub valid: bool,
    pub code: validate::Code,
    pub detail: String,
    pub license: Option<LicenseView>,
    pub nonce: Option<String>,
    pub ts: String,
    /// With `valid`: a fresh signed machine activation (`FOXA1-…`) the engine CLI keeps and
    /// trusts offline for a while.
    pub activation: Option<String>,
}

/// A machine activation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MachineAnswer {
    pub activated: bool,
    pub machine_id: uuid::Uuid,
    pub seats: i32,
    pub seats_used: usize,
    /// The signed machine activation (`FOXA1-…`) the engine CLI keeps.
    pub activation: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeactivateAnswer {
    pub deactivated: bool,
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// Rate-limit state sent with every answer.
type RateHeaders = Vec<(HeaderName, HeaderValue)>;

/// Applies the rate limits, per client address first: a request that address limit refuses
/// never reaches the per-key limiter (a flood of random keys from a few addresses costs
/// nothing there). On success returns the headers to add to the response.
fn limit(state: &AppState, ip: ClientIp, key: &SentKey<'_>) -> Result<RateHeaders, ApiError> {
    let h = |n: &'static str, v: u64| (HeaderName::from_static(n), HeaderValue::from(v));
    let headers = |q: Quota| {
        vec![
            h("x-ratelimit-limit", u64::from(q.limit)),
            h("x-ratelimit-remaining", u64::from(q.remaining)),
            h("x-ratelimit-reset", q.reset_secs),
        ]
    };
    let refuse = |q: Quota| {
        let mut rate = headers(q);
        rate.push((header::RETRY_AFTER, HeaderValue::from(q.reset_secs)));
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            ApiCode::RateLimited,
            "Too many requests; retry later.",
        )
        .with_headers(&rate)
    };
    let by_ip = state.limits.license_ip.hit(&ip.to_string());
    if !by_ip.allowed {
        return Err(refuse(by_ip));
    }
    // Keys are limited by their lookup hash: the key itself is never kept in memory maps.
    let key_id = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(&key.hash)
    };
    let by_key = state.limits.license_key.hit(&key_id);
    if !by_key.allowed {
        return Err(refuse(by_key));
    }
    Ok(headers(if by_ip.remaining < by_key.remaining {
        by_ip
    } else {
        by_key
    }))
}

fn with_headers(mut res: Response, headers: RateHeaders) -> Response {
    res.headers_mut().extend(headers);
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

fn view(l: &License, used: usize) -> LicenseView {
    LicenseView {
        id: l.id,
        tier: l.tier.clone(),
        status: validate::effective_status(l).to_string(),
        expires_at: rfc3339(l.expires_at),
        seats: l.seats,
        seats_used: used,
        entitlements: l.entitlements.clone(),
    }
}

/// A machine operation's refusal as an API error.
fn machine_error(e: MachineError, rl: &RateHeaders) -> ApiError {
    match e {
        MachineError::Refused(p) => {
            let status = match p.code {
                validate::Code::TooManyMachines => StatusCode::CONFLICT,
                validate::Code::NotActivated => StatusCode::NOT_FOUND,
                _ => StatusCode::FORBIDDEN,
            };
            ApiError::new(status, p.code.into(), p.detail).with_headers(rl)
        }
        MachineError::Db(e) => e.into(),
    }
}

/// Checks a license key and, with a fingerprint, its activation on that machine. Always
/// 200 for a well-formed request: `valid` and `code` say what the key is worth.
#[utoipa::path(post, path = "/api/v1/licenses/validate", tag = "licenses",
    request_body = ValidateRequest,
    responses(
        (status = 200, description = "What the key is worth: `valid` and a stable `code`", body = ValidateResponse),
        (status = 422, description = "The body is not the expected JSON object (`invalid_request`)", body = super::openapi::ErrorBody),
        (status = 429, description = "Rate limited (`rate_limited`); see `Retry-After`", body = super::openapi::ErrorBody)))]
pub async fn validate_license(
    State(state): State<AppState>,
    ip: ClientIp,
    ApiJson(req): ApiJson<ValidateRequest>,
) -> Result<Response, ApiError> {
    let key = SentKey::new(&state.signer, &req.key);
    let rl = limit(&state, ip, &key)?;
    if req.nonce.as_ref().is_some_and(|n| n.len() > 128) {
        return Err(ApiError::bad_request(
            "nonce must be at most 128 characters",
        ));
    }
    let v = validate::validate(
        &state.license_cache,
        &state.db,
        &state.signer,
        &key,
        req.fingerprint.as_deref(),
    )
    .await?;
    tracing::info!(code = v.code.as_str(), "license validated");
    let activation = match (&v.license, req.fingerprint.as_deref()) {
        (Some((l, _)), Some(fp)) if v.valid() => Some(validate::activation_token(
            &state.signer,
            l,
            fp,
            crate::license::activation::Mode::Online,
        )),
        _ => None,
    };
    let body = ValidateResponse {
        activation,
        valid: v.valid(),
        code: v.code,
        detail: v.detail,
        license: v.license.as_ref().map(|(l, used)| view(l, *used)),
        nonce: req.nonce,
        ts: rfc3339(OffsetDateTime::now_utc()),
    };
    Ok(with_headers(Json(body).into_response(), rl))
}

/// Activates a machine for the key's license within its seats: 201 when new, 200 when it
/// was active already, 409 `TOO_MANY_MACHINES` when every seat is taken.
#[utoipa::path(post, path = "/api/v1/licenses/activate", tag = "licenses",
    request_body = MachineRequest,
    responses(
        (status = 201, description = "Activated", body = MachineAnswer),
        (status = 200, description = "Already active", body = MachineAnswer),
        (status = 403, description = "The key or its license is not usable (`INVALID_SIGNATURE`, `NOT_FOUND`, `REVOKED`, `SUSPENDED`, `EXPIRED`)", body = super::openapi::ErrorBody),
        (status = 409, description = "Every seat is taken (`TOO_MANY_MACHINES`)", body = super::openapi::ErrorBody),
        (status = 429, description = "Rate limited (`rate_limited`)", body = super::openapi::ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn activate_machine(
    State(state): State<AppState>,
    ip: ClientIp,
    ApiJson(req): ApiJson<MachineRequest>,
) -> Result<Response, ApiError> {
    let key = SentKey::new(&state.signer, &req.key);
    let rl = limit(&state, ip, &key)?;
    if !validate::fingerprint_ok(&req.fingerprint) {
        return Err(ApiError::bad_request(
            "fingerprint must be 8 to 256 printable ASCII characters",
        ));
    }
    let name = req.name.as_deref().unwrap_or("").trim();
    if name.chars().count() > 200 {
        return Err(ApiError::bad_request("name must be at most 200 characters"));
    }
    let mut tx = state.db.begin().await?;
    let a = validate::activate(&mut tx, &state.signer, &key, &req.fingerprint, name)
        .await
        .map_err(|e| machine_error(e, &rl))?;
    tx.commit().await?;
    // The database notification clears every server's cache; clear ours now so that the
    // caller's next validation sees the change.
    state.license_cache.clear();
    tracing::info!(license_id = %a.license.id, machine_id = %a.machine_id, created = a.created, "machine activated");
    let body = MachineAnswer {
        activated: true,
        machine_id: a.machine_id,
        seats: a.license.seats,
        seats_used: a.seats_used,
        activation: validate::activation_token(
            &state.signer,
            &a.license,
            &req.fingerprint,
            crate::license::activation::Mode::Online,
        ),
    };
    let status = if a.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(with_headers((status, Json(body)).into_response(), rl))
}

/// Frees the seat of a machine (404 `NOT_ACTIVATED` when it was not active).
#[utoipa::path(post, path = "/api/v1/licenses/deactivate", tag = "licenses",
    request_body = MachineRequest,
    responses(
        (status = 200, description = "Deactivated", body = DeactivateAnswer),
        (status = 403, description = "The key is not usable (`INVALID_SIGNATURE`, `NOT_FOUND`)", body = super::openapi::ErrorBody),
        (status = 404, description = "The machine was not active (`NOT_ACTIVATED`)", body = super::openapi::ErrorBody),
        (status = 429, description = "Rate limited (`rate_limited`)", body = super::openapi::ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn deactivate_machine(
    State(state): State<AppState>,
    ip: ClientIp,
    ApiJson(req): ApiJson<MachineRequest>,
) -> Result<Response, ApiError> {
    let key = SentKey::new(&state.signer, &req.key);
    let rl = limit(&state, ip, &key)?;
    let mut tx = state.db.begin().await?;
    let l = validate::deactivate(&mut tx, &state.signer, &key, &req.fingerprint)
        .await
        .map_err(|e| machine_error(e, &rl))?;
    tx.commit().await?;
    // The database notification clears every server's cache; clear ours now so that the
    // caller's next validation sees the change.
    state.license_cache.clear();
    tracing::info!(license_id = %l.id, "machine deactivated");
    Ok(with_headers(
        Json(DeactivateAnswer { deactivated: true }).into_response(),
        rl,
    ))
}

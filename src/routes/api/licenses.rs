//! `POST /api/v1/licenses/{validate,activate,deactivate}`: online license checks for the
//! engine and customers' tooling, rate limited per client address and per key.

use super::{ApiError, ApiJson};
use crate::db::{self, licenses::License};
use crate::license::KeyError;
use crate::license::cache::Cached;
use crate::security::ClientIp;
use crate::security::rate_limit::Quota;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgConnection;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidateRequest {
    pub key: String,
    #[serde(default)]
    pub fingerprint: Option<String>,
    #[serde(default)]
    pub nonce: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MachineRequest {
    pub key: String,
    pub fingerprint: String,
    #[serde(default)]
    pub name: Option<String>,
}

/// The license part of a response.
#[derive(Debug, Serialize)]
pub struct LicenseView {
    pub id: uuid::Uuid,
    pub tier: String,
    pub status: String,
    pub expires_at: String,
    pub seats: i32,
    pub seats_used: usize,
    pub entitlements: Value,
}

/// Always 200: `valid` and a stable `code` say what the key is worth.
#[derive(Debug, Serialize)]
pub struct ValidateResponse {
    pub valid: bool,
    pub code: &'static str,
    pub detail: String,
    pub license: Option<LicenseView>,
    pub nonce: Option<String>,
    pub ts: String,
}

fn now_rfc3339() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default()
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// Rate-limit state sent with every answer.
type RateHeaders = Vec<(HeaderName, HeaderValue)>;

/// A key as sent, with its lookup hash computed once per request.
struct SentKey<'a> {
    text: &'a str,
    hash: Vec<u8>,
}

impl<'a> SentKey<'a> {
    fn new(state: &AppState, text: &'a str) -> Self {
        Self {
            text,
            hash: state.signer.lookup_hash(text),
        }
    }
}

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
            "rate_limited",
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

fn with_headers(mut res: Response, headers: Vec<(HeaderName, HeaderValue)>) -> Response {
    res.headers_mut().extend(headers);
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// The outcome of checking a key against the database (before fingerprints).
enum Lookup {
    Invalid(&'static str, String),
    Found(License),
}

async fn lookup(
    conn: &mut PgConnection,
    state: &AppState,
    key: &SentKey<'_>,
) -> sqlx::Result<Lookup> {
    match state.signer.public_key().verify(key.text) {
        Ok(_) => {}
        Err(KeyError::Malformed) => {
            return Ok(Lookup::Invalid(
                "INVALID_SIGNATURE",
                "This is not a Fox ML license key.".into(),
            ));
        }
        Err(KeyError::BadSignature) => {
            return Ok(Lookup::Invalid(
                "INVALID_SIGNATURE",
                "The key's signature does not match its contents.".into(),
            ));
        }
    }
    Ok(match db::licenses::by_key_hash(conn, &key.hash).await? {
        Some(l) => Lookup::Found(l),
        None => Lookup::Invalid("NOT_FOUND", "No license is registered for this key.".into()),
    })
}

/// What a key resolves to, from the cache when it can be; `true` when read afresh.
async fn resolve(state: &AppState, key: &SentKey<'_>) -> Result<(Cached, bool), ApiError> {
    let generation = match state.license_cache.get(&key.hash) {
        Ok(hit) => return Ok((hit, false)),
        Err(generation) => generation,
    };
    let mut conn = state.db.acquire().await?;
    let value = match lookup(&mut conn, state, key).await? {
        Lookup::Invalid(code, detail) => Cached::Invalid(code, detail),
        Lookup::Found(l) => {
            let machines = db::licenses::active_machines(&mut conn, l.id).await?;
            Cached::Found(l, machines)
        }
    };
    state
        .license_cache
        .put(key.hash.clone(), generation, value.clone());
    Ok((value, true))
}

/// The status problem of a license, if any: revoked, suspended, expired.
fn status_problem(l: &License) -> Option<(&'static str, String)> {
    match l.status.as_str() {
        "REVOKED" => Some(("REVOKED", "This license was revoked.".into())),
        "SUSPENDED" => Some((
            "SUSPENDED",
            format!(
                "This license is suspended: {}.",
                l.status_reason.as_deref().unwrap_or("contact support")
            ),
        )),
        "EXPIRED" => Some(("EXPIRED", "This license has expired.".into())),
        _ if l.works_until() <= OffsetDateTime::now_utc() => Some((
            "EXPIRED",
            format!("This license expired on {}.", l.expires_at.date()),
        )),
        _ => None,
    }
}

fn view(l: &License, used: usize) -> LicenseView {
    LicenseView {
        id: l.id,
        tier: l.tier.clone(),
        status: if status_problem(l).is_some_and(|(c, _)| c == "EXPIRED") {
            "EXPIRED".into()
        } else {
            l.status.clone()
        },
        expires_at: rfc3339(l.expires_at),
        seats: l.seats,
        seats_used: used,
        entitlements: l.entitlements.clone(),
    }
}

/// The license of `key` for a machine operation; an unusable key or license is an error.
async fn usable_license(
    conn: &mut PgConnection,
    state: &AppState,
    key: &SentKey<'_>,
    rl: &RateHeaders,
) -> Result<License, ApiError> {
    let l = match lookup(conn, state, key).await? {
        Lookup::Invalid(code, detail) => {
            return Err(ApiError::new(StatusCode::FORBIDDEN, code, detail).with_headers(rl));
        }
        Lookup::Found(l) => l,
    };
    match status_problem(&l) {
        Some((code, detail)) => {
            Err(ApiError::new(StatusCode::FORBIDDEN, code, detail).with_headers(rl))
        }
        None => Ok(l),
    }
}

fn fingerprint_ok(f: &str) -> bool {
    (8..=256).contains(&f.len()) && f.bytes().all(|b| b.is_ascii_graphic())
}

pub async fn validate_license(
    State(state): State<AppState>,
    ip: ClientIp,
    ApiJson(req): ApiJson<ValidateRequest>,
) -> Result<Response, ApiError> {
    let key = SentKey::new(&state, &req.key);
    let rl = limit(&state, ip, &key)?;
    if req.nonce.as_ref().is_some_and(|n| n.len() > 128) {
        return Err(ApiError::bad_request(
            "nonce must be at most 128 characters",
        ));
    }
    let respond =
        |valid: bool, code: &'static str, detail: String, license: Option<LicenseView>| {
            let body = ValidateResponse {
                valid,
                code,
                detail,
                license,
                nonce: req.nonce.clone(),
                ts: now_rfc3339(),
            };
            tracing::info!(code, "license validated");
            with_headers(Json(body).into_response(), rl.clone())
        };
    let (l, machines, fresh) = match resolve(&state, &key).await? {
        (Cached::Invalid(code, detail), _) => return Ok(respond(false, code, detail, None)),
        (Cached::Found(l, machines), fresh) => (l, machines, fresh),
    };
    if let Some((code, detail)) = status_problem(&l) {
        return Ok(respond(false, code, detail, Some(view(&l, machines.len()))));
    }
    let Some(fp) = req.fingerprint.as_deref() else {
        return Ok(respond(
            false,
            "FINGERPRINT_REQUIRED",
            "Send the machine fingerprint; licenses are bound to activated machines.".into(),
            Some(view(&l, machines.len())),
        ));
    };
    let v = view(&l, machines.len());
    Ok(match machines.iter().find(|m| m.fingerprint == fp) {
        Some(m) => {
            // Last-seen times follow fresh reads (at most once per cache lifetime).
            if fresh {
                db::licenses::touch_machine(&mut *state.db.acquire().await?, m.id).await?;
            }
            respond(
                true,
                "VALID",
                "The license is valid on this machine.".into(),
                Some(v),
            )
        }
        None if machines.len() >= l.seats as usize => respond(
            false,
            "TOO_MANY_MACHINES",
            format!(
                "All {} seats are in use; deactivate a machine first.",
                l.seats
            ),
            Some(v),
        ),
        None => respond(
            false,
            "FINGERPRINT_MISMATCH",
            "This machine is not activated for the license; activate it first.".into(),
            Some(v),
        ),
    })
}

#[tracing::instrument(skip_all)]
pub async fn activate_machine(
    State(state): State<AppState>,
    ip: ClientIp,
    ApiJson(req): ApiJson<MachineRequest>,
) -> Result<Response, ApiError> {
    let key = SentKey::new(&state, &req.key);
    let rl = limit(&state, ip, &key)?;
    if !fingerprint_ok(&req.fingerprint) {
        return Err(ApiError::bad_request(
            "fingerprint must be 8 to 256 printable ASCII characters",
        ));
    }
    let name = req.name.as_deref().unwrap_or("").trim();
    if name.chars().count() > 200 {
        return Err(ApiError::bad_request("name must be at most 200 characters"));
    }
    let mut tx = state.db.begin().await?;
    let l = usable_license(&mut tx, &state, &key, &rl).await?;
    // Lock the license so concurrent activations cannot exceed the seats.
    let l = db::licenses::lock(&mut tx, l.id)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", "license not found"))?;
    let machines = db::licenses::active_machines(&mut tx, l.id).await?;
    let (machine_id, created) = match machines.iter().find(|m| m.fingerprint == req.fingerprint) {
        Some(m) => (m.id, false),
        None if machines.len() >= l.seats as usize => {
            let detail = format!(
                "All {} seats are in use; deactivate a machine first.",
                l.seats
            );
            return Err(
                ApiError::new(StatusCode::CONFLICT, "TOO_MANY_MACHINES", detail).with_headers(&rl),
            );
        }
        None => (
            db::licenses::activate_machine(&mut tx, l.id, &req.fingerprint, name).await?,
            true,
        ),
    };
    tx.commit().await?;
    // The database notification clears every server's cache; clear ours now so that the
    // caller's next validation sees the change.
    state.license_cache.clear();
    tracing::info!(license_id = %l.id, machine_id = %machine_id, created, "machine activated");
    let body = serde_json::json!({"activated": true, "machine_id": machine_id, "seats": l.seats, "seats_used": machines.len() + usize::from(created)});
    Ok(with_headers(
        (
            if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            },
            Json(body),
        )
            .into_response(),
        rl,
    ))
}

#[tracing::instrument(skip_all)]
pub async fn deactivate_machine(
    State(state): State<AppState>,
    ip: ClientIp,
    ApiJson(req): ApiJson<MachineRequest>,
) -> Result<Response, ApiError> {
    let key = SentKey::new(&state, &req.key);
    let rl = limit(&state, ip, &key)?;
    let mut tx = state.db.begin().await?;
    let l = match lookup(&mut tx, &state, &key).await? {
        Lookup::Invalid(code, detail) => {
            return Err(ApiError::new(StatusCode::FORBIDDEN, code, detail).with_headers(&rl));
        }
        Lookup::Found(l) => l,
    };
    let removed =
        db::licenses::deactivate_machine(&mut tx, l.id, Some(&req.fingerprint), None).await?;
    tx.commit().await?;
    // The database notification clears every server's cache; clear ours now so that the
    // caller's next validation sees the change.
    state.license_cache.clear();
    if !removed {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "NOT_ACTIVATED",
            "This machine is not activated for the license.",
        )
        .with_headers(&rl));
    }
    tracing::info!(license_id = %l.id, "machine deactivated");
    Ok(with_headers(
        Json(serde_json::json!({"deactivated": true})).into_response(),
        rl,
    ))
}

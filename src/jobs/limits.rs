//! Which license a customer's jobs run under, and the limits it sets: concurrent jobs (extra
//! jobs wait in the queue), jobs per calendar month (UTC), the largest dataset.

use crate::config::Settings;
use crate::db::{self, licenses::License};
use crate::domain::LicenseStatus;
use crate::license::validate::{self, Code};
use crate::routes::api::{ApiCode, ApiError};
use axum::http::StatusCode;
use serde::Serialize;
use sqlx::PgConnection;
use time::{Date, Month, OffsetDateTime, Time};
use uuid::Uuid;

/// A license's limits; `None` is unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Limits {
    pub concurrent_jobs: Option<u32>,
    pub jobs_per_month: Option<u32>,
    /// GB of 10^9 bytes (a contract may set a fraction).
    pub max_dataset_gb: Option<f64>,
}

impl Limits {
    /// From the license's signed entitlements; a key they lack comes from its tier's current
    /// configuration.
    pub fn of(l: &License, settings: &Settings) -> Self {
        let tier = settings.pricing.tiers.iter().find(|t| t.id == l.tier);
        let get = |key: &str, fallback: Option<u32>| -> Option<u32> {
            match l.entitlements.get(key) {
                Some(v) if v.is_null() => None,
                Some(v) => v.as_u64().and_then(|n| u32::try_from(n).ok()),
                None => fallback,
            }
        };
        let t = tier.map(|t| t.limits.clone()).unwrap_or_default();
        let gb = match l.entitlements.get("max_dataset_gb") {
            Some(v) if v.is_null() => None,
            Some(v) => v.as_f64().filter(|g| *g > 0.0),
            None => t.max_dataset_gb.map(f64::from),
        };
        Self {
            concurrent_jobs: get("concurrent_jobs", t.concurrent_jobs),
            jobs_per_month: get("jobs_per_month", t.jobs_per_month),
            max_dataset_gb: gb,
        }
    }

    /// The largest dataset in bytes (1 GB = 10^9 bytes).
    pub fn max_dataset_bytes(&self) -> Option<u64> {
        self.max_dataset_gb.map(|gb| (gb * 1e9).round() as u64)
    }
}

/// The license the customer's jobs run under: an ACTIVE, unexpired one (the latest to
/// expire when there are several); otherwise a 403 naming what is wrong with the newest.
pub async fn usable_license(
    conn: &mut PgConnection,
    customer_id: Uuid,
) -> Result<License, ApiError> {
    let licenses = db::licenses::for_customer(conn, customer_id).await?;
    if let Some(l) = licenses
        .iter()
        .filter(|l| validate::status_problem(l).is_none())
        .max_by_key(|l| l.works_until())
    {
        return Ok(l.clone());
    }
    Err(match licenses.first() {
        None => ApiError::new(
            StatusCode::FORBIDDEN,
            ApiCode::NoLicense,
            "Your account has no license. Buy a plan or request an evaluation to run jobs.",
        ),
        Some(l) => license_refusal(l),
    })
}

/// The refusal for a license that does not work (now).
pub fn license_refusal(l: &License) -> ApiError {
    let p = validate::status_problem(l);
    let detail = p.as_ref().map_or_else(
        || "This license does not allow jobs.".to_string(),
        |p| p.detail.clone(),
    );
    let code = match p.map(|p| p.code) {
        Some(Code::Suspended) => ApiCode::LicenseSuspended,
        Some(Code::Revoked) => ApiCode::LicenseRevoked,
        _ if l.status == LicenseStatus::Suspended => ApiCode::LicenseSuspended,
        _ => ApiCode::LicenseExpired,
    };
    ApiError::new(
        StatusCode::FORBIDDEN,
        code,
        format!(
            "{detail} Jobs run only under an active license; see your dashboard or contact sales."
        ),
    )
}

/// The first instant of the month of `t` (UTC), and of the next month.
pub fn month_bounds(t: OffsetDateTime) -> (OffsetDateTime, OffsetDateTime) {
    let t = t.to_offset(time::UtcOffset::UTC);
    let start = Date::from_calendar_date(t.year(), t.month(), 1).expect("day 1 exists");
    let (ny, nm) = match t.month() {
        Month::December => (t.year() + 1, Month::January),
        m => (t.year(), m.next()),
    };
    let next = Date::from_calendar_date(ny, nm, 1).expect("day 1 exists");
    (
        start.with_time(Time::MIDNIGHT).assume_utc(),
        next.with_time(Time::MIDNIGHT).assume_utc(),
    )
}

/// What the account uses against its limits.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Usage {
    pub license_id: Uuid,
    pub tier: String,
    pub limits: Limits,
    pub running_jobs: i64,
    pub queued_jobs: i64,
    pub jobs_this_month: i64,
    /// When the monthly count starts again (RFC 3339).
    pub month_resets_at: String,
    pub dataset_bytes: i64,
}

pub async fn usage(
    conn: &mut PgConnection,
    settings: &Settings,
    customer_id: Uuid,
) -> Result<Usage, ApiError> {
    let l = usable_license(conn, customer_id).await?;
    let (start, next) = month_bounds(OffsetDateTime::now_utc());
    let (queued, running) = db::jobs::count_active(conn, customer_id).await?;
    Ok(Usage {
        license_id: l.id,
        tier: l.tier.clone(),
        limits: Limits::of(&l, settings),
        running_jobs: running,
        queued_jobs: queued,
        jobs_this_month: db::jobs::count_created_since(conn, customer_id, start).await?,
        month_resets_at: crate::jobs::rfc3339(next),
        dataset_bytes: db::datasets::bytes_for_customer(conn, customer_id).await?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn months_start_on_the_first_and_roll_over_the_year() {
        let (s, n) = month_bounds(datetime!(2026-12-04 14:00 UTC));
        assert_eq!(
            (s, n),
            (
                datetime!(2026-12-01 0:00 UTC),
                datetime!(2027-01-01 0:00 UTC)
            )
        );
        let (s, n) = month_bounds(datetime!(2027-02-28 23:59:59 UTC));
        assert_eq!(
            (s, n),
            (
                datetime!(2027-02-01 0:00 UTC),
                datetime!(2027-03-01 0:00 UTC)
            )
        );
    }
}

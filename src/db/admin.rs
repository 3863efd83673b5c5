//! Queries of the sales and admin area: leads and their notes, the license list, the audit
//! log, the overview counts.

use crate::domain::{IssueSource, LeadStatus, LicenseStatus};
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

/// A lead as listed and shown to sales.
#[derive(Debug, Clone)]
pub struct Lead {
    pub id: Uuid,
    pub created_at: OffsetDateTime,
    pub name: String,
    pub email: String,
    pub company: String,
    pub role: String,
    pub team_size: String,
    pub use_case: String,
    pub tier: String,
    pub status: LeadStatus,
}

/// `%` and `_` in a search are literal characters, not wildcards.
fn like_pattern(q: &str) -> String {
    let escaped = q
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// Leads, newest first, optionally with one status and a search on company or email.
pub async fn leads(
    conn: &mut PgConnection,
    status: Option<LeadStatus>,
    search: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<Lead>> {
    let pattern = search.map(like_pattern);
    sqlx::query_as!(
        Lead,
        r#"SELECT id, created_at, name, email, company, role, team_size, use_case, tier, status AS "status: LeadStatus" FROM leads
         WHERE ($1::text IS NULL OR status = $1)
           AND ($2::text IS NULL OR company ILIKE $2 OR email ILIKE $2)
         ORDER BY created_at DESC LIMIT $3"#,
        status as _,
        pattern,
        limit
    )
    .fetch_all(conn)
    .await
}

pub async fn lead(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<Lead>> {
    sqlx::query_as!(
        Lead,
        r#"SELECT id, created_at, name, email, company, role, team_size, use_case, tier, status AS "status: LeadStatus" FROM leads WHERE id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await
}

/// Moves a lead from `from` to `to`; `false` when it is no longer in `from` (a concurrent change).
pub async fn set_lead_status(
    conn: &mut PgConnection,
    id: Uuid,
    from: LeadStatus,
    to: LeadStatus,
) -> sqlx::Result<bool> {
    let r = sqlx::query!(
        "UPDATE leads SET status = $3, updated_at = now() WHERE id = $1 AND status = $2",
        id,
        from as _,
        to as _
    )
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// A note on a lead, with its author's email.
#[derive(Debug, Clone)]
pub struct Note {
    pub id: Uuid,
    pub body: String,
    pub created_at: OffsetDateTime,
    pub author: Option<String>,
}

pub async fn add_note(
    conn: &mut PgConnection,
    lead_id: Uuid,
    author_id: Uuid,
    body: &str,
) -> sqlx::Result<Uuid> {
    sqlx::query_scalar!(
        "INSERT INTO lead_notes (id, lead_id, author_id, body) VALUES ($1, $2, $3, $4) RETURNING id",
        Uuid::now_v7(),
        lead_id,
        author_id,
        body
    )
    .fetch_one(conn)
    .await
}

/// A lead's notes, oldest first.
pub async fn notes(conn: &mut PgConnection, lead_id: Uuid) -> sqlx::Result<Vec<Note>> {
    sqlx::query_as!(
        Note,
        r#"SELECT n.id, n.body, n.created_at, u.email AS "author?"
           FROM lead_notes n LEFT JOIN users u ON u.id = n.author_id
           WHERE n.lead_id = $1 ORDER BY n.created_at, n.id"#,
        lead_id
    )
    .fetch_all(conn)
    .await
}

/// A license with its customer, for the admin list.
#[derive(Debug, Clone)]
pub struct LicenseRow {
    pub id: Uuid,
    pub email: String,
    pub company: String,
    pub tier: String,
    pub status: LicenseStatus,
    pub seats: i32,
    pub machines: i64,
    pub expires_at: OffsetDateTime,
    pub source: IssueSource,
    pub created_at: OffsetDateTime,
}

/// Licenses, newest first, optionally with one status and a search on email or company.
pub async fn licenses(
    conn: &mut PgConnection,
    status: Option<LicenseStatus>,
    search: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<LicenseRow>> {
    let pattern = search.map(like_pattern);
    sqlx::query_as!(
        LicenseRow,
        r#"SELECT l.id, c.email, c.company, l.tier, l.status AS "status: LicenseStatus", l.seats, l.expires_at, l.source AS "source: IssueSource", l.created_at,
                  (SELECT count(*) FROM machines m WHERE m.license_id = l.id AND m.deactivated_at IS NULL) AS "machines!"
           FROM licenses l JOIN customers c ON c.id = l.customer_id
           WHERE ($1::text IS NULL OR l.status = $1)
             AND ($2::text IS NULL OR c.email ILIKE $2 OR c.company ILIKE $2)
           ORDER BY l.created_at DESC LIMIT $3"#,
        status as _,
        pattern,
        limit
    )
    .fetch_all(conn)
    .await
}

/// One audit log entry.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub id: i64,
    pub at: OffsetDateTime,
    pub actor: String,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    pub details: serde_json::Value,
}

/// The newest entries first.
pub async fn audit(conn: &mut PgConnection, limit: i64) -> sqlx::Result<Vec<AuditEntry>> {
    sqlx::query_as!(
        AuditEntry,
        "SELECT id, at, actor, action, target_type, target_id, details FROM audit_log ORDER BY at DESC, id DESC LIMIT $1",
        limit
    )
    .fetch_all(conn)
    .await
}

/// Counts for the overview page.
#[derive(Debug, Clone, Default)]
pub struct Overview {
    pub new_leads: i64,
    pub open_leads: i64,
    pub active_licenses: i64,
    pub customers: i64,
}

pub async fn overview(conn: &mut PgConnection) -> sqlx::Result<Overview> {
    sqlx::query_as!(
        Overview,
        r#"SELECT (SELECT count(*) FROM leads WHERE status = 'new') AS "new_leads!",
                  (SELECT count(*) FROM leads WHERE status IN ('new', 'contacted', 'qualified')) AS "open_leads!",
                  (SELECT count(*) FROM licenses WHERE status = $1 AND expires_at > now()) AS "active_licenses!",
                  (SELECT count(*) FROM customers) AS "customers!""#,
        LicenseStatus::Active as _,
    )
    .fetch_one(conn)
    .await
}

/// Job usage of one customer (counts and bytes only: never dataset contents).
#[derive(Debug, Clone)]
pub struct JobUsage {
    pub email: String,
    pub company: String,
    pub queued: i64,
    pub running: i64,
    pub succeeded: i64,
    pub failed: i64,
    pub this_month: i64,
    pub datasets: i64,
    pub dataset_bytes: i64,
}

/// Customers with jobs or datasets, the busiest this month first.
pub async fn job_usage(
    conn: &mut PgConnection,
    month_start: OffsetDateTime,
    limit: i64,
) -> sqlx::Result<Vec<JobUsage>> {
    sqlx::query_as!(
        JobUsage,
        r#"SELECT c.email, c.company,
                  count(j.id) FILTER (WHERE j.state = 'queued') AS "queued!",
                  count(j.id) FILTER (WHERE j.state = 'running') AS "running!",
                  count(j.id) FILTER (WHERE j.state = 'succeeded') AS "succeeded!",
                  count(j.id) FILTER (WHERE j.state = 'failed') AS "failed!",
                  count(j.id) FILTER (WHERE j.created_at >= $1) AS "this_month!",
                  (SELECT count(*) FROM datasets d WHERE d.customer_id = c.id) AS "datasets!",
                  (SELECT COALESCE(sum(size_bytes), 0)::bigint FROM datasets d WHERE d.customer_id = c.id) AS "dataset_bytes!"
           FROM customers c LEFT JOIN jobs j ON j.customer_id = c.id
           GROUP BY c.id
           HAVING count(j.id) > 0 OR EXISTS (SELECT 1 FROM datasets d WHERE d.customer_id = c.id)
           ORDER BY count(j.id) FILTER (WHERE j.created_at >= $1) DESC, c.email
           LIMIT $2"#,
        month_start,
        limit
    )
    .fetch_all(conn)
    .await
}

#[cfg(test)]
mod tests {
    #[test]
    fn search_wildcards_are_literal() {
        assert_eq!(super::like_pattern("a%b_c\\"), "%a\\%b\\_c\\\\%");
    }
}

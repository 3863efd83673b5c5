//! Queries on `leads`.

use crate::domain::NewLead;
use sqlx::PgConnection;
use uuid::Uuid;

/// Stores a lead; returns its id.
#[tracing::instrument(skip_all)]
pub async fn insert(conn: &mut PgConnection, lead: &NewLead) -> sqlx::Result<Uuid> {
    let id = Uuid::now_v7();
    sqlx::query!(
        r#"INSERT INTO leads (id, name, email, company, role, team_size, use_case, tier)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"#,
        id,
        lead.name,
        lead.email.as_str(),
        lead.company,
        lead.role,
        lead.team_size,
        lead.use_case,
        lead.tier,
    )
    .execute(conn)
    .await?;
    Ok(id)
}

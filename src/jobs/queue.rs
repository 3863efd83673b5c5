//! The queue over the `jobs` table, as River, Oban and solid_queue do it: a worker claims a
//! queued job with `FOR UPDATE SKIP LOCKED`, takes a lease it renews by heartbeat, and every
//! later write presents the attempt number (the fencing token). A reaper puts jobs whose
//! lease ran out back in the queue while attempts remain. Per-account concurrency is checked
//! at claim time under an advisory lock per account, and accounts with fewer running jobs are
//! served first.

use super::limits::Limits;
use crate::config::Settings;
use crate::db::{self, jobs::Job};
use crate::domain::{EventKind, JobState};
use crate::license::validate;
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use std::time::Duration;
use uuid::Uuid;

/// Candidates a claim looks at per round.
const CANDIDATES: i64 = 16;

/// Claims the next job this worker may run, if any. A queued job whose license stopped
/// working is failed with the reason instead.
pub async fn claim_next(
    pool: &PgPool,
    settings: &Settings,
    worker: &str,
) -> sqlx::Result<Option<Job>> {
    let mut tx = pool.begin().await?;
    let candidates = db::jobs::lock_candidates(&mut tx, CANDIDATES).await?;
    for (id, customer_id) in candidates {
        db::jobs::lock_account_claims(&mut tx, customer_id).await?;
        let Some(job) = db::jobs::get(&mut tx, id).await? else {
            continue;
        };
        let license = db::licenses::by_id(&mut tx, job.license_id).await?;
        let problem = match &license {
            None => Some("its license no longer exists".to_string()),
            Some(l) => validate::status_problem(l).map(|p| p.detail),
        };
        if let Some(why) = problem {
            let error = format!("The job cannot run: {why}");
            if db::jobs::fail_queued(&mut tx, id, &error).await? {
                event(&mut tx, id, JobState::Failed, job.attempt, Some(&error)).await?;
            }
            continue;
        }
        let limits = license.as_ref().map(|l| Limits::of(l, settings));
        let running = db::jobs::count_running(&mut tx, customer_id).await?;
        if limits
            .and_then(|l| l.concurrent_jobs)
            .is_some_and(|max| running >= i64::from(max))
        {
            // This account is at its limit: its job waits; another account's may run.
            continue;
        }
        let lease = settings.worker.lease_secs as f64;
        let job = db::jobs::claim(&mut tx, id, worker, lease).await?;
        event(&mut tx, id, JobState::Running, job.attempt, None).await?;
        tx.commit().await?;
        return Ok(Some(job));
    }
    tx.commit().await?;
    Ok(None)
}

/// Records a state change of a job.
pub async fn event(
    conn: &mut PgConnection,
    id: Uuid,
    state: JobState,
    attempt: i32,
    error: Option<&str>,
) -> sqlx::Result<()> {
    let mut data = json!({"state": state, "attempt": attempt});
    if let Some(e) = error {
        data["error"] = e.into();
    }
    db::jobs::add_event(conn, id, EventKind::State, &data).await?;
    Ok(())
}

/// Re-queues (or fails, or cancels) running jobs whose lease expired; returns how many.
pub async fn reap(pool: &PgPool) -> sqlx::Result<usize> {
    let mut tx = pool.begin().await?;
    let reaped = db::jobs::reap_expired(&mut tx).await?;
    for r in &reaped {
        let error = (r.state == JobState::Failed).then(|| {
            format!(
                "The worker running attempt {} of {} stopped responding; the job was given up after {} attempts.",
                r.attempt, r.max_attempts, r.attempt
            )
        });
        event(&mut tx, r.id, r.state, r.attempt, error.as_deref()).await?;
        tracing::warn!(job_id = %r.id, attempt = r.attempt, state = %r.state, "job lease expired");
    }
    tx.commit().await?;
    Ok(reaped.len())
}

/// Deletes the artifacts of finished jobs whose retention ran out; returns how many jobs.
pub async fn expire_artifacts(
    pool: &PgPool,
    store: &crate::storage::Store,
) -> anyhow::Result<usize> {
    let due = db::jobs::artifacts_due(&mut *pool.acquire().await?, 50).await?;
    for id in &due {
        store
            .delete_prefix(&crate::storage::job_prefix(*id))
            .await?;
        db::jobs::mark_artifacts_deleted(&mut *pool.acquire().await?, *id).await?;
        tracing::info!(job_id = %id, "job artifacts expired");
    }
    Ok(due.len())
}

/// Runs the reaper and the artifact expiry every `every` until the process ends.
pub async fn housekeeping(pool: PgPool, store: crate::storage::Store, every: Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        if let Err(e) = reap(&pool).await {
            tracing::warn!(error = %e, "job reaper failed; retrying");
        }
        if let Err(e) = expire_artifacts(&pool, &store).await {
            tracing::warn!(error = format!("{e:#}"), "artifact expiry failed; retrying");
        }
    }
}

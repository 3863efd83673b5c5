//! Queries on `jobs`, `job_events` and `job_artifacts`. Reads for an account take its
//! customer id; writes by a worker present the attempt number as a fencing token, so a worker
//! that lost its lease changes nothing.

use crate::domain::{EventKind, JobState};
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

/// A job as stored.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub created_by: Option<Uuid>,
    pub license_id: Uuid,
    pub dataset_id: Option<Uuid>,
    pub retry_of: Option<Uuid>,
    pub state: JobState,
    pub experiment: serde_json::Value,
    pub idempotency_key: Option<String>,
    pub request_hash: Option<Vec<u8>>,
    pub attempt: i32,
    pub max_attempts: i32,
    pub worker_id: Option<String>,
    pub lease_expires_at: Option<OffsetDateTime>,
    pub cancel_requested_at: Option<OffsetDateTime>,
    pub stage: Option<String>,
    pub progress_done: i64,
    pub progress_total: i64,
    pub error: Option<String>,
    pub summary: Option<serde_json::Value>,
    pub created_at: OffsetDateTime,
    pub started_at: Option<OffsetDateTime>,
    pub finished_at: Option<OffsetDateTime>,
    pub artifacts_expire_at: Option<OffsetDateTime>,
    pub artifacts_deleted_at: Option<OffsetDateTime>,
}

macro_rules! select_job {
    ($tail:literal, $($arg:expr),*) => {
        sqlx::query_as!(
            Job,
            r#"SELECT id, customer_id, created_by, license_id, dataset_id, retry_of,
                      state AS "state: JobState", experiment, idempotency_key, request_hash,
                      attempt, max_attempts, worker_id, lease_expires_at, cancel_requested_at,
                      stage, progress_done, progress_total, error, summary, created_at,
                      started_at, finished_at, artifacts_expire_at, artifacts_deleted_at
               FROM jobs "# + $tail,
            $($arg),*
        )
    };
}

/// A job to queue.
pub struct NewJob<'a> {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub created_by: Uuid,
    pub license_id: Uuid,
    pub dataset_id: Uuid,
    pub retry_of: Option<Uuid>,
    pub experiment: &'a serde_json::Value,
    pub idempotency: Option<(&'a str, &'a [u8])>,
    pub max_attempts: i32,
}

pub async fn insert(conn: &mut PgConnection, j: &NewJob<'_>) -> sqlx::Result<()> {
    sqlx::query!(
        r#"INSERT INTO jobs (id, customer_id, created_by, license_id, dataset_id, retry_of,
                             experiment, idempotency_key, request_hash, max_attempts)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"#,
        j.id,
        j.customer_id,
        j.created_by,
        j.license_id,
        j.dataset_id,
        j.retry_of,
        j.experiment,
        j.idempotency.map(|(k, _)| k),
        j.idempotency.map(|(_, h)| h),
        j.max_attempts
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// One of the account's jobs.
pub async fn by_id(
    conn: &mut PgConnection,
    customer_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<Job>> {
    select_job!("WHERE customer_id = $1 AND id = $2", customer_id, id)
        .fetch_optional(conn)
        .await
}

/// A job by id alone (workers).
pub async fn get(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<Job>> {
    select_job!("WHERE id = $1", id).fetch_optional(conn).await
}

pub async fn by_idempotency_key(
    conn: &mut PgConnection,
    customer_id: Uuid,
    key: &str,
) -> sqlx::Result<Option<Job>> {
    select_job!(
        "WHERE customer_id = $1 AND idempotency_key = $2",
        customer_id,
        key
    )
    .fetch_optional(conn)
    .await
}

/// The account's jobs, newest first: at most `limit`, older than the job `before` (the
/// cursor), in `state` when given. Ids are UUIDv7, so their order is creation order.
pub async fn list(
    conn: &mut PgConnection,
    customer_id: Uuid,
    state: Option<JobState>,
    before: Option<Uuid>,
    limit: i64,
) -> sqlx::Result<Vec<Job>> {
    select_job!(
        "WHERE customer_id = $1 AND ($2::text IS NULL OR state = $2) AND ($3::uuid IS NULL OR id < $3)
         ORDER BY id DESC LIMIT $4",
        customer_id,
        state as _,
        before,
        limit
    )
    .fetch_all(conn)
    .await
}

/// Jobs the account created since `since`.
pub async fn count_created_since(
    conn: &mut PgConnection,
    customer_id: Uuid,
    since: OffsetDateTime,
) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM jobs WHERE customer_id = $1 AND created_at >= $2"#,
        customer_id,
        since
    )
    .fetch_one(conn)
    .await
}

/// The account's queued and running jobs.
pub async fn count_active(conn: &mut PgConnection, customer_id: Uuid) -> sqlx::Result<(i64, i64)> {
    let r = sqlx::query!(
        r#"SELECT count(*) FILTER (WHERE state = 'queued') AS "queued!",
                  count(*) FILTER (WHERE state = 'running') AS "running!"
           FROM jobs WHERE customer_id = $1 AND state IN ('queued', 'running')"#,
        customer_id
    )
    .fetch_one(conn)
    .await?;
    Ok((r.queued, r.running))
}

/// Queued or running jobs on a dataset.
pub async fn count_active_on_dataset(
    conn: &mut PgConnection,
    dataset_id: Uuid,
) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM jobs WHERE dataset_id = $1 AND state IN ('queued', 'running')"#,
        dataset_id
    )
    .fetch_one(conn)
    .await
}

/// Jobs per dataset of the account (for "used by").
pub async fn ids_on_dataset(conn: &mut PgConnection, dataset_id: Uuid) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar!(
        "SELECT id FROM jobs WHERE dataset_id = $1 ORDER BY id DESC LIMIT 100",
        dataset_id
    )
    .fetch_all(conn)
    .await
}

/// Locks the account's row: submissions of one account are counted one at a time.
pub async fn lock_customer(conn: &mut PgConnection, customer_id: Uuid) -> sqlx::Result<()> {
    sqlx::query!(
        "SELECT id FROM customers WHERE id = $1 FOR UPDATE",
        customer_id
    )
    .fetch_optional(conn)
    .await?;
    Ok(())
}

// ---- the queue -------------------------------------------------------------------------

/// Queued jobs a worker may claim, locked (others skip them): accounts with the fewest
/// running jobs first, then the account served longest ago (round robin), then the oldest
/// job, so that one account's backlog cannot starve another's.
pub async fn lock_candidates(
    conn: &mut PgConnection,
    limit: i64,
) -> sqlx::Result<Vec<(Uuid, Uuid)>> {
    let rows = sqlx::query!(
        r#"SELECT j.id, j.customer_id FROM jobs j
           WHERE j.state = 'queued'
           ORDER BY (SELECT count(*) FROM jobs r WHERE r.customer_id = j.customer_id AND r.state = 'running'),
                    (SELECT max(s.started_at) FROM jobs s WHERE s.customer_id = j.customer_id) NULLS FIRST,
                    j.id
           LIMIT $1
           FOR UPDATE OF j SKIP LOCKED"#,
        limit
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.id, r.customer_id)).collect())
}

/// Serialises claims for one account across workers until the transaction ends.
pub async fn lock_account_claims(conn: &mut PgConnection, customer_id: Uuid) -> sqlx::Result<()> {
    sqlx::query!(
        "SELECT pg_advisory_xact_lock(hashtextextended('fox-claim:' || $1::text, 0))",
        customer_id.to_string()
    )
    .fetch_one(conn)
    .await?;
    Ok(())
}

pub async fn count_running(conn: &mut PgConnection, customer_id: Uuid) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM jobs WHERE customer_id = $1 AND state = 'running'"#,
        customer_id
    )
    .fetch_one(conn)
    .await
}

/// Marks a locked queued job running for `worker` with a lease; returns it (its new
/// `attempt` is the fencing token).
pub async fn claim(
    conn: &mut PgConnection,
    id: Uuid,
    worker: &str,
    lease_secs: f64,
) -> sqlx::Result<Job> {
    sqlx::query!(
        r#"UPDATE jobs SET state = 'running', attempt = attempt + 1, worker_id = $2,
                  lease_expires_at = now() + make_interval(secs => $3),
                  started_at = COALESCE(started_at, now()), stage = NULL,
                  progress_done = 0, progress_total = 0
           WHERE id = $1 AND state = 'queued'"#,
        id,
        worker,
        lease_secs
    )
    .execute(&mut *conn)
    .await?;
    get(conn, id).await?.ok_or(sqlx::Error::RowNotFound)
}

/// Renews the lease of attempt `attempt`; `None` when the lease is lost (another attempt owns
/// the job, or it ended), else whether a cancellation was requested.
pub async fn heartbeat(
    conn: &mut PgConnection,
    id: Uuid,
    attempt: i32,
    lease_secs: f64,
) -> sqlx::Result<Option<bool>> {
    sqlx::query_scalar!(
        r#"UPDATE jobs SET lease_expires_at = now() + make_interval(secs => $3)
           WHERE id = $1 AND attempt = $2 AND state = 'running'
           RETURNING cancel_requested_at IS NOT NULL AS "cancel!""#,
        id,
        attempt,
        lease_secs
    )
    .fetch_optional(conn)
    .await
}

/// Records the stage and progress of attempt `attempt`; `false` when the lease is lost.
pub async fn set_progress(
    conn: &mut PgConnection,
    id: Uuid,
    attempt: i32,
    stage: &str,
    done: i64,
    total: i64,
) -> sqlx::Result<bool> {
    let r = sqlx::query!(
        r#"UPDATE jobs SET stage = $3, progress_done = $4, progress_total = $5
           WHERE id = $1 AND attempt = $2 AND state = 'running'"#,
        id,
        attempt,
        stage,
        done,
        total
    )
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// How a running attempt ended.
pub struct Finish<'a> {
    pub state: JobState,
    pub error: Option<&'a str>,
    pub summary: Option<&'a serde_json::Value>,
    pub artifacts_expire_at: Option<OffsetDateTime>,
}

/// Ends attempt `attempt`; `false` when the lease is lost (nothing is written).
pub async fn finish(
    conn: &mut PgConnection,
    id: Uuid,
    attempt: i32,
    f: &Finish<'_>,
) -> sqlx::Result<bool> {
    let r = sqlx::query!(
        r#"UPDATE jobs SET state = $3, error = $4, summary = $5, artifacts_expire_at = $6,
                  finished_at = now(), lease_expires_at = NULL, worker_id = NULL
           WHERE id = $1 AND attempt = $2 AND state = 'running'"#,
        id,
        attempt,
        f.state as _,
        f.error,
        f.summary,
        f.artifacts_expire_at
    )
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Puts attempt `attempt` back in the queue (its worker is stopping); `false` when the
/// lease is lost.
pub async fn release(conn: &mut PgConnection, id: Uuid, attempt: i32) -> sqlx::Result<bool> {
    let r = sqlx::query!(
        r#"UPDATE jobs SET state = 'queued', lease_expires_at = NULL, worker_id = NULL,
                  stage = NULL, progress_done = 0, progress_total = 0
           WHERE id = $1 AND attempt = $2 AND state = 'running'"#,
        id,
        attempt
    )
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Fails a job that is still queued (e.g. its license stopped working while it waited).
pub async fn fail_queued(conn: &mut PgConnection, id: Uuid, error: &str) -> sqlx::Result<bool> {
    let r = sqlx::query!(
        r#"UPDATE jobs SET state = 'failed', error = $2, finished_at = now()
           WHERE id = $1 AND state = 'queued'"#,
        id,
        error
    )
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// A running job whose lease ran out, as the reaper left it.
pub struct Reaped {
    pub id: Uuid,
    pub state: JobState,
    pub attempt: i32,
    pub max_attempts: i32,
}

/// Jobs whose lease expired: cancelled when a cancellation was asked for, queued again while
/// attempts remain, else failed with the reason.
pub async fn reap_expired(conn: &mut PgConnection) -> sqlx::Result<Vec<Reaped>> {
    sqlx::query_as!(
        Reaped,
        r#"UPDATE jobs SET
               state = CASE WHEN cancel_requested_at IS NOT NULL THEN 'cancelled'
                            WHEN attempt < max_attempts THEN 'queued' ELSE 'failed' END,
               finished_at = CASE WHEN cancel_requested_at IS NULL AND attempt < max_attempts
                                  THEN NULL ELSE now() END,
               error = CASE WHEN cancel_requested_at IS NULL AND attempt >= max_attempts
                            THEN format('The worker running attempt %s of %s stopped responding; the job was given up after %s attempts.', attempt, max_attempts, attempt)
                            ELSE error END,
               lease_expires_at = NULL, worker_id = NULL
           WHERE state = 'running' AND lease_expires_at < now()
           RETURNING id, state AS "state: JobState", attempt, max_attempts"#
    )
    .fetch_all(conn)
    .await
}

/// Asks a job to stop: a queued job is cancelled at once, a running one is marked (its worker
/// stops it). Returns the state afterwards; `None` if the account has no such job.
pub async fn request_cancel(
    conn: &mut PgConnection,
    customer_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<JobState>> {
    sqlx::query_scalar!(
        r#"UPDATE jobs SET
               state = CASE WHEN state = 'queued' THEN 'cancelled' ELSE state END,
               finished_at = CASE WHEN state = 'queued' THEN now() ELSE finished_at END,
               cancel_requested_at = CASE WHEN state IN ('queued', 'running')
                                          THEN COALESCE(cancel_requested_at, now())
                                          ELSE cancel_requested_at END
           WHERE id = $1 AND customer_id = $2
           RETURNING state AS "state: JobState""#,
        id,
        customer_id
    )
    .fetch_optional(conn)
    .await
}

/// Deletes a finished job (events and artifact rows go with it).
pub async fn delete(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<()> {
    sqlx::query!("DELETE FROM jobs WHERE id = $1", id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Finished jobs whose artifacts are due for deletion.
pub async fn artifacts_due(conn: &mut PgConnection, limit: i64) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar!(
        r#"SELECT id FROM jobs WHERE artifacts_expire_at <= now() AND artifacts_deleted_at IS NULL
           ORDER BY artifacts_expire_at LIMIT $1"#,
        limit
    )
    .fetch_all(conn)
    .await
}

pub async fn mark_artifacts_deleted(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE jobs SET artifacts_deleted_at = now() WHERE id = $1",
        id
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!("DELETE FROM job_artifacts WHERE job_id = $1", id)
        .execute(conn)
        .await?;
    Ok(())
}

// ---- events ----------------------------------------------------------------------------

/// An event of a job.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: i64,
    pub at: OffsetDateTime,
    pub kind: EventKind,
    pub data: serde_json::Value,
}

pub async fn add_event(
    conn: &mut PgConnection,
    job_id: Uuid,
    kind: EventKind,
    data: &serde_json::Value,
) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        "INSERT INTO job_events (job_id, kind, data) VALUES ($1, $2, $3) RETURNING id",
        job_id,
        kind as _,
        data
    )
    .fetch_one(conn)
    .await
}

/// Records several events of one kind in one statement, in order.
pub async fn add_events(
    conn: &mut PgConnection,
    job_id: Uuid,
    kind: EventKind,
    data: &[serde_json::Value],
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO job_events (job_id, kind, data)
         SELECT $1, $2, d FROM unnest($3::jsonb[]) WITH ORDINALITY AS t(d, n) ORDER BY n",
        job_id,
        kind as _,
        data
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Events after `after`, oldest first, at most `limit`.
pub async fn events_after(
    conn: &mut PgConnection,
    job_id: Uuid,
    after: i64,
    limit: i64,
) -> sqlx::Result<Vec<Event>> {
    sqlx::query_as!(
        Event,
        r#"SELECT id, at, kind AS "kind: EventKind", data FROM job_events
           WHERE job_id = $1 AND id > $2 ORDER BY id LIMIT $3"#,
        job_id,
        after,
        limit
    )
    .fetch_all(conn)
    .await
}

/// The job's stage events, oldest first.
pub async fn stages(conn: &mut PgConnection, job_id: Uuid) -> sqlx::Result<Vec<Event>> {
    sqlx::query_as!(
        Event,
        r#"SELECT id, at, kind AS "kind: EventKind", data FROM job_events
           WHERE job_id = $1 AND kind = 'stage' ORDER BY id"#,
        job_id
    )
    .fetch_all(conn)
    .await
}

/// The id of the job's latest event (0 without any).
pub async fn last_event_id(conn: &mut PgConnection, job_id: Uuid) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"SELECT COALESCE(max(id), 0) AS "id!" FROM job_events WHERE job_id = $1"#,
        job_id
    )
    .fetch_one(conn)
    .await
}

/// The last log lines of a job (oldest first).
pub async fn log_tail(
    conn: &mut PgConnection,
    job_id: Uuid,
    lines: i64,
) -> sqlx::Result<Vec<Event>> {
    let mut v = sqlx::query_as!(
        Event,
        r#"SELECT id, at, kind AS "kind: EventKind", data FROM job_events
           WHERE job_id = $1 AND kind = 'log' ORDER BY id DESC LIMIT $2"#,
        job_id,
        lines
    )
    .fetch_all(conn)
    .await?;
    v.reverse();
    Ok(v)
}

// ---- artifacts -------------------------------------------------------------------------

/// A file of a job's run directory.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Artifact {
    pub path: String,
    #[serde(rename = "size")]
    pub size_bytes: i64,
    #[serde(serialize_with = "hex")]
    pub sha256: Vec<u8>,
}

fn hex<S: serde::Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&b.iter().map(|x| format!("{x:02x}")).collect::<String>())
}

/// Records the artifacts of attempt `attempt` (replacing any from an earlier attempt);
/// `false` when the lease is lost.
pub async fn put_artifacts(
    conn: &mut PgConnection,
    job_id: Uuid,
    attempt: i32,
    files: &[Artifact],
) -> sqlx::Result<bool> {
    let owned = sqlx::query_scalar!(
        "SELECT id FROM jobs WHERE id = $1 AND attempt = $2 AND state = 'running' FOR UPDATE",
        job_id,
        attempt
    )
    .fetch_optional(&mut *conn)
    .await?;
    if owned.is_none() {
        return Ok(false);
    }
    sqlx::query!("DELETE FROM job_artifacts WHERE job_id = $1", job_id)
        .execute(&mut *conn)
        .await?;
    let paths: Vec<String> = files.iter().map(|f| f.path.clone()).collect();
    let sizes: Vec<i64> = files.iter().map(|f| f.size_bytes).collect();
    let sums: Vec<Vec<u8>> = files.iter().map(|f| f.sha256.clone()).collect();
    sqlx::query!(
        r#"INSERT INTO job_artifacts (job_id, path, size_bytes, sha256)
           SELECT $1, * FROM UNNEST($2::text[], $3::bigint[], $4::bytea[])"#,
        job_id,
        &paths,
        &sizes,
        &sums
    )
    .execute(conn)
    .await?;
    Ok(true)
}

pub async fn artifacts(conn: &mut PgConnection, job_id: Uuid) -> sqlx::Result<Vec<Artifact>> {
    sqlx::query_as!(
        Artifact,
        "SELECT path, size_bytes, sha256 FROM job_artifacts WHERE job_id = $1 ORDER BY path",
        job_id
    )
    .fetch_all(conn)
    .await
}

pub async fn artifact(
    conn: &mut PgConnection,
    job_id: Uuid,
    path: &str,
) -> sqlx::Result<Option<Artifact>> {
    sqlx::query_as!(
        Artifact,
        "SELECT path, size_bytes, sha256 FROM job_artifacts WHERE job_id = $1 AND path = $2",
        job_id,
        path
    )
    .fetch_optional(conn)
    .await
}

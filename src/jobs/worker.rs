//! The worker: N job slots that claim jobs from the queue and run each in a child process —
//! `fox job-run`, the same binary re-executed — so that a job's memory or crash cannot take
//! the worker (or the server it is embedded in) down, a cancel is SIGTERM then SIGKILL, and
//! each slot has its own thread count. New work and cancellations arrive by LISTEN/NOTIFY;
//! polling is the fallback. While a job runs the slot renews its lease; a slot that lost its
//! lease kills its child and writes nothing more.

use super::queue;
use crate::config::Settings;
use crate::db::{self, jobs::Job};
use crate::domain::{EventKind, JobState};
use crate::storage::Store;
use anyhow::Context;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::{Notify, watch};
use uuid::Uuid;

/// Notification channels (see the jobs migration).
const QUEUED: &str = "fox_jobs_queued";
const CANCEL: &str = "fox_jobs_cancel";

/// Log lines kept per job (the rest are counted, not stored).
const MAX_LOG_LINES: usize = 2000;
/// How long a log line may wait to be written with the lines after it.
const LOG_BATCH: Duration = Duration::from_millis(200);

/// What every slot shares.
#[derive(Clone)]
pub struct WorkerContext {
    pub db: PgPool,
    pub store: Store,
    pub settings: Arc<Settings>,
    /// The `fox` binary to run jobs with (`job-run`).
    pub runner: PathBuf,
    /// Identifies this process in the jobs table (host:pid).
    pub name: String,
}

/// Wake-ups from the database: new work, and cancellations by job id.
#[derive(Default)]
struct Signals {
    work: Notify,
    cancels: Mutex<HashMap<Uuid, Arc<Notify>>>,
}

impl Signals {
    fn cancel(&self, job: Uuid) {
        if let Some(n) = self
            .cancels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&job)
        {
            n.notify_one();
        }
    }
    fn watch_cancel(&self, job: Uuid) -> Arc<Notify> {
        let n = Arc::new(Notify::new());
        self.cancels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(job, n.clone());
        n
    }
    fn unwatch(&self, job: Uuid) {
        self.cancels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&job);
    }
}

impl WorkerContext {
    /// A worker on this process's `fox` binary (or `worker.runner`'s path when set).
    pub fn new(db: PgPool, store: Store, settings: Arc<Settings>) -> anyhow::Result<Self> {
        let runner = match &settings.worker.runner {
            Some(p) => PathBuf::from(p),
            None => std::env::current_exe().context("finding the fox binary for job-run")?,
        };
        let host = std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "localhost".into());
        Ok(Self {
            db,
            store,
            settings,
            runner,
            name: format!("{host}:{}", std::process::id()),
        })
    }

    /// Engine threads per job with `slots` slots.
    fn threads(&self, slots: u32) -> usize {
        match self.settings.worker.threads_per_job {
            0 => {
                let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
                (cores / slots.max(1) as usize).max(1)
            }
            n => n as usize,
        }
    }
}

/// Runs `slots` job slots until `shutdown` turns true; running jobs are then stopped and put
/// back in the queue for another worker.
pub async fn run(ctx: WorkerContext, slots: u32, mut shutdown: watch::Receiver<bool>) {
    let signals = Arc::new(Signals::default());
    tokio::spawn(listen(ctx.db.clone(), signals.clone()));
    tracing::info!(slots, worker = %ctx.name, threads_per_job = ctx.threads(slots), "worker started");
    let mut tasks = tokio::task::JoinSet::new();
    for slot in 0..slots {
        let (ctx, signals, shutdown) = (ctx.clone(), signals.clone(), shutdown.clone());
        tasks.spawn(slot_loop(ctx, slot, slots, signals, shutdown));
    }
    let _ = shutdown.wait_for(|s| *s).await;
    while tasks.join_next().await.is_some() {}
    tracing::info!(worker = %ctx.name, "worker stopped");
}

async fn listen(pool: PgPool, signals: Arc<Signals>) {
    loop {
        match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(mut l) => {
                if l.listen_all([QUEUED, CANCEL]).await.is_ok() {
                    // Anything may have been queued while we were not listening.
                    signals.work.notify_waiters();
                    loop {
                        match l.recv().await {
                            Ok(n) if n.channel() == CANCEL => {
                                if let Ok(id) = n.payload().parse() {
                                    signals.cancel(id);
                                }
                            }
                            Ok(_) => signals.work.notify_waiters(),
                            Err(e) => {
                                tracing::warn!(error = %e, "worker listener lost; reconnecting");
                                break;
                            }
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "worker cannot listen; polling meanwhile"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn slot_loop(
    ctx: WorkerContext,
    slot: u32,
    slots: u32,
    signals: Arc<Signals>,
    mut shutdown: watch::Receiver<bool>,
) {
    let worker = format!("{}/{slot}", ctx.name);
    let poll = Duration::from_secs(ctx.settings.worker.poll_secs);
    loop {
        if *shutdown.borrow() {
            return;
        }
        // Registered before the claim, so a notification during it is not lost.
        let woken = signals.work.notified();
        match queue::claim_next(&ctx.db, &ctx.settings, &worker).await {
            Ok(Some(job)) => {
                let cancel = signals.watch_cancel(job.id);
                let id = job.id;
                run_job(&ctx, job, ctx.threads(slots), cancel, shutdown.clone()).await;
                signals.unwatch(id);
                // Another job may be waiting already: claim again at once.
                continue;
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "claiming a job failed; retrying"),
        }
        tokio::select! {
            _ = woken => {}
            _ = tokio::time::sleep(poll) => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// How a child process ended, from the worker's side.
enum Outcome {
    Succeeded(Value),
    Failed(String),
    Cancelled,
    /// The worker is stopping: the job goes back to the queue.
    Released,
    /// The lease was lost: another attempt owns the job; write nothing.
    LeaseLost,
}

/// Runs one claimed job to its end.
async fn run_job(
    ctx: &WorkerContext,
    job: Job,
    threads: usize,
    cancel: Arc<Notify>,
    shutdown: watch::Receiver<bool>,
) {
    // Absolute: the engine process runs inside it, and the baseline's path must hold there.
    let base = std::path::absolute(&ctx.settings.worker.work_dir)
        .unwrap_or_else(|_| PathBuf::from(&ctx.settings.worker.work_dir));
    let dir = base.join(format!("job-{}-{}", job.id, job.attempt));
    tracing::info!(job_id = %job.id, attempt = job.attempt, threads, "job started");
    let started = Instant::now();
    let outcome = match prepare(ctx, &job, &dir).await {
        Ok(baseline) => {
            supervise(
                ctx,
                &job,
                &dir,
                threads,
                baseline.as_deref(),
                cancel,
                shutdown,
            )
            .await
        }
        Err(e) => Outcome::Failed(format!("The job could not be prepared: {e:#}")),
    };
    if let Err(e) = conclude(ctx, &job, &dir, outcome).await {
        tracing::error!(job_id = %job.id, error = format!("{e:#}"), "finishing a job failed; its lease will expire");
    }
    let _ = tokio::fs::remove_dir_all(&dir).await;
    tracing::info!(job_id = %job.id, elapsed_ms = started.elapsed().as_millis() as u64, "job slot free");
}

/// Fills the working directory: the dataset, the experiment and the baseline run (if any).
async fn prepare(ctx: &WorkerContext, job: &Job, dir: &Path) -> anyhow::Result<Option<PathBuf>> {
    let _ = tokio::fs::remove_dir_all(dir).await;
    tokio::fs::create_dir_all(dir)
        .await
        .with_context(|| format!("creating {}", dir.display()))?;
    let dataset = {
        let mut conn = ctx.db.acquire().await?;
        match job.dataset_id {
            Some(d) => db::datasets::by_id(&mut conn, job.customer_id, d).await?,
            None => None,
        }
    }
    .context("its dataset was deleted")?;
    ctx.store
        .get_to_file(
            &dataset.storage_key,
            &dir.join(super::data_file_name(dataset.format)),
        )
        .await?;
    let mut experiment = job.experiment.clone();
    let baseline: Option<Uuid> = experiment
        .as_object_mut()
        .and_then(|o| o.remove(super::BASELINE_KEY))
        .and_then(|v| v.as_str().and_then(|s| s.parse().ok()));
    tokio::fs::write(dir.join("experiment.json"), experiment.to_string()).await?;
    let Some(base) = baseline else {
        return Ok(None);
    };
    let files = db::jobs::artifacts(&mut *ctx.db.acquire().await?, base).await?;
    let base_dir = dir.join("baseline");
    for f in files {
        let target = safe_join(&base_dir, &f.path).context("a baseline artifact path")?;
        if let Some(parent) = target.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        ctx.store
            .get_to_file(&crate::storage::artifact_key(base, &f.path), &target)
            .await?;
    }
    Ok(Some(base_dir))
}

/// `dir/rel` for a relative path without `..` or absolute parts.
fn safe_join(dir: &Path, rel: &str) -> Option<PathBuf> {
    let p = Path::new(rel);
    p.components()
        .all(|c| matches!(c, std::path::Component::Normal(_)))
        .then(|| dir.join(p))
}

/// Progress as reported by the child, written at most every half second.
struct Reporter {
    stage: String,
    done: i64,
    total: i64,
    written: Option<Instant>,
}

/// Starts the child and watches it: progress and log lines to the job's events, the lease
/// renewed, cancellation and shutdown turned into SIGTERM then SIGKILL.
async fn supervise(
    ctx: &WorkerContext,
    job: &Job,
    dir: &Path,
    threads: usize,
    baseline: Option<&Path>,
    cancel: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) -> Outcome {
    let mut cmd = Command::new(&ctx.runner);
    cmd.arg("job-run")
        .arg("--dir")
        .arg(dir)
        .arg("--threads")
        .arg(threads.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .env("FOX_JOB_ID", job.id.to_string());
    if let Some(b) = baseline {
        cmd.arg("--baseline").arg(b);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return Outcome::Failed(format!("The engine process could not start: {e}")),
    };
    let stdout = BufReader::new(child.stdout.take().expect("piped")).lines();
    let stderr = BufReader::new(child.stderr.take().expect("piped")).lines();
    let logs = tokio::spawn(keep_logs(ctx.db.clone(), job.id, stderr));
    let mut stdout = stdout;
    let mut rep = Reporter {
        stage: String::new(),
        done: 0,
        total: 0,
        written: None,
    };
    let lease = Duration::from_secs(ctx.settings.worker.lease_secs);
    let mut beat = tokio::time::interval(lease / 3);
    beat.tick().await;
    let mut result: Option<Result<Value, String>> = None;
    let mut stop: Option<Outcome> = None;
    loop {
        tokio::select! {
            line = stdout.next_line() => match line {
                Ok(Some(line)) => {
                    if let Some(r) = on_line(ctx, job, &mut rep, &line).await {
                        result = Some(r);
                    }
                }
                // The child closed stdout: it is ending.
                _ => break,
            },
            _ = beat.tick() => {
                match heartbeat(ctx, job).await {
                    Some(false) => {}
                    Some(true) => { stop = Some(Outcome::Cancelled); break; }
                    None => { stop = Some(Outcome::LeaseLost); break; }
                }
            }
            _ = cancel.notified() => {
                if matches!(heartbeat(ctx, job).await, Some(true)) {
                    stop = Some(Outcome::Cancelled);
                    break;
                }
            }
            _ = shutdown.changed() => {
                if *shutdown.borrow() { stop = Some(Outcome::Released); break; }
            }
        }
    }
    if let Some(outcome) = stop {
        terminate(
            &mut child,
            Duration::from_secs(ctx.settings.worker.kill_grace_secs),
        )
        .await;
        // The child is gone, so its stderr ends: the last lines are written, then the task
        // ends (a grandchild holding the pipe open cannot keep us here).
        let abort = logs.abort_handle();
        if tokio::time::timeout(Duration::from_secs(2), logs)
            .await
            .is_err()
        {
            abort.abort();
        }
        return outcome;
    }
    let status = child.wait().await;
    let _ = logs.await;
    match (result, status) {
        (Some(Ok(summary)), Ok(s)) if s.success() => Outcome::Succeeded(summary),
        (Some(Err(message)), _) => Outcome::Failed(message),
        (_, Ok(s)) => Outcome::Failed(exit_reason(s)),
        (_, Err(e)) => Outcome::Failed(format!("The engine process could not be watched: {e}")),
    }
}

/// Why a child ended without a result, in words.
fn exit_reason(s: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (s.code(), s.signal()) {
        (_, Some(9)) => {
            "The engine process was killed (signal 9), most likely because it ran out of memory."
                .into()
        }
        (_, Some(sig)) => format!("The engine process was stopped by signal {sig}."),
        (Some(code), _) => {
            format!("The engine process exited with status {code} without a result.")
        }
        _ => "The engine process ended without a result.".into(),
    }
}

/// SIGTERM, then SIGKILL after `grace`.
async fn terminate(child: &mut tokio::process::Child, grace: Duration) {
    if let Some(pid) = child.id() {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
    }
    if tokio::time::timeout(grace, child.wait()).await.is_err() {
        let _ = child.kill().await;
    }
}

/// Renews the lease: `None` when lost, else whether a cancellation was asked for.
async fn heartbeat(ctx: &WorkerContext, job: &Job) -> Option<bool> {
    let lease = ctx.settings.worker.lease_secs as f64;
    match ctx.db.acquire().await {
        Ok(mut conn) => match db::jobs::heartbeat(&mut conn, job.id, job.attempt, lease).await {
            Ok(r) => r,
            Err(e) => {
                // A database hiccup is not a lost lease; the next beat tries again.
                tracing::warn!(job_id = %job.id, error = %e, "heartbeat failed");
                Some(false)
            }
        },
        Err(e) => {
            tracing::warn!(job_id = %job.id, error = %e, "heartbeat failed");
            Some(false)
        }
    }
}

/// Handles one protocol line; returns the result when the line carries it.
async fn on_line(
    ctx: &WorkerContext,
    job: &Job,
    rep: &mut Reporter,
    line: &str,
) -> Option<Result<Value, String>> {
    let Ok(v) = serde_json::from_str::<Value>(line) else {
        return None;
    };
    match v["type"].as_str() {
        Some("stage") => {
            rep.stage = v["name"].as_str().unwrap_or("").to_string();
            rep.total = v["total"].as_i64().unwrap_or(0);
            rep.done = 0;
            let data = json!({"stage": rep.stage, "total": rep.total});
            write_progress(ctx, job, rep, Some((EventKind::Stage, data))).await;
            None
        }
        Some("tick") => {
            rep.done += 1;
            let due = rep
                .written
                .is_none_or(|t| t.elapsed() >= Duration::from_millis(500));
            if due || rep.done == rep.total {
                let data = json!({"stage": rep.stage, "done": rep.done, "total": rep.total});
                write_progress(ctx, job, rep, Some((EventKind::Progress, data))).await;
            }
            None
        }
        Some("done") => Some(Ok(v["summary"].clone())),
        Some("error") => Some(Err(v["message"]
            .as_str()
            .unwrap_or("the run failed")
            .to_string())),
        _ => None,
    }
}

async fn write_progress(
    ctx: &WorkerContext,
    job: &Job,
    rep: &mut Reporter,
    event: Option<(EventKind, Value)>,
) {
    rep.written = Some(Instant::now());
    let r = async {
        let mut tx = ctx.db.begin().await?;
        if db::jobs::set_progress(
            &mut tx,
            job.id,
            job.attempt,
            &rep.stage,
            rep.done,
            rep.total,
        )
        .await?
        {
            if let Some((kind, data)) = &event {
                db::jobs::add_event(&mut tx, job.id, *kind, data).await?;
            }
        }
        tx.commit().await
    }
    .await;
    if let Err(e) = r {
        tracing::warn!(job_id = %job.id, error = %e, "recording progress failed");
    }
}

/// Stores the child's stderr as the job's log (at most `MAX_LOG_LINES` lines).
async fn keep_logs(
    db: PgPool,
    job: Uuid,
    mut lines: tokio::io::Lines<BufReader<tokio::process::ChildStderr>>,
) {
    // Lines are written in batches (one statement for what arrived within LOG_BATCH), not
    // one statement each: a job's log costs the database a few round trips, not hundreds.
    let mut kept = 0usize;
    let mut batch: Vec<Value> = Vec::new();
    let mut due: Option<tokio::time::Instant> = None;
    loop {
        let next = match due {
            Some(at) => tokio::select! {
                line = lines.next_line() => Some(line),
                _ = tokio::time::sleep_until(at) => None,
            },
            None => Some(lines.next_line().await),
        };
        match next {
            Some(Ok(Some(line))) => {
                if kept < MAX_LOG_LINES {
                    kept += 1;
                    let line: String = line.chars().take(2000).collect();
                    batch.push(json!({"line": line}));
                    due.get_or_insert_with(|| tokio::time::Instant::now() + LOG_BATCH);
                }
                if batch.len() < 200 {
                    continue;
                }
            }
            // The time is up: write what came.
            None => {}
            // The child closed stderr (or it failed): write the rest and stop.
            Some(_) => {
                write_logs(&db, job, &batch).await;
                return;
            }
        }
        write_logs(&db, job, &batch).await;
        batch.clear();
        due = None;
    }
}

async fn write_logs(db: &PgPool, job: Uuid, batch: &[Value]) {
    if batch.is_empty() {
        return;
    }
    if let Ok(mut conn) = db.acquire().await {
        let _ = db::jobs::add_events(&mut conn, job, EventKind::Log, batch).await;
    }
}

/// Records how the attempt ended (fenced by its attempt number).
async fn conclude(
    ctx: &WorkerContext,
    job: &Job,
    dir: &Path,
    outcome: Outcome,
) -> anyhow::Result<()> {
    let (state, error, summary) = match outcome {
        Outcome::LeaseLost => {
            tracing::warn!(job_id = %job.id, attempt = job.attempt, "lease lost; another attempt owns the job");
            return Ok(());
        }
        Outcome::Released => {
            let mut tx = ctx.db.begin().await?;
            if db::jobs::release(&mut tx, job.id, job.attempt).await? {
                queue::event(&mut tx, job.id, JobState::Queued, job.attempt, None).await?;
            }
            tx.commit().await?;
            tracing::info!(job_id = %job.id, "worker stopping: job returned to the queue");
            return Ok(());
        }
        Outcome::Cancelled => (JobState::Cancelled, None, None),
        Outcome::Failed(e) => (JobState::Failed, Some(user_words(ctx, job, &e).await), None),
        Outcome::Succeeded(mut summary) => {
            let files = upload_run(ctx, job, &dir.join(super::OUTPUT_DIR)).await?;
            if !db::jobs::put_artifacts(&mut *ctx.db.acquire().await?, job.id, job.attempt, &files)
                .await?
            {
                return Ok(());
            }
            if let Some(o) = summary.as_object_mut() {
                o.insert(
                    "run_dir".into(),
                    format!("/api/v1/jobs/{}/artifacts", job.id).into(),
                );
            }
            (JobState::Succeeded, None, Some(summary))
        }
    };
    let expire = time::OffsetDateTime::now_utc()
        + time::Duration::days(i64::from(ctx.settings.jobs.artifact_retention_days));
    let mut tx = ctx.db.begin().await?;
    let finished = db::jobs::finish(
        &mut tx,
        job.id,
        job.attempt,
        &db::jobs::Finish {
            state,
            error: error.as_deref(),
            summary: summary.as_ref(),
            artifacts_expire_at: (state == JobState::Succeeded).then_some(expire),
        },
    )
    .await?;
    if finished {
        queue::event(&mut tx, job.id, state, job.attempt, error.as_deref()).await?;
    }
    tx.commit().await?;
    tracing::info!(job_id = %job.id, state = %state, recorded = finished, "job finished");
    Ok(())
}

/// The engine's message with the dataset's own name for the platform's file name.
async fn user_words(ctx: &WorkerContext, job: &Job, message: &str) -> String {
    let dataset = match (job.dataset_id, ctx.db.acquire().await) {
        (Some(d), Ok(mut conn)) => db::datasets::by_id(&mut conn, job.customer_id, d)
            .await
            .ok()
            .flatten(),
        _ => None,
    };
    match dataset {
        Some(d) => message.replace(&super::data_file_name(d.format), &d.name),
        None => message.to_string(),
    }
}

/// Uploads the run directory; returns its files with size and SHA-256.
async fn upload_run(
    ctx: &WorkerContext,
    job: &Job,
    out: &Path,
) -> anyhow::Result<Vec<db::jobs::Artifact>> {
    let mut files = Vec::new();
    let mut stack = vec![out.to_path_buf()];
    while let Some(d) = stack.pop() {
        let mut rd = tokio::fs::read_dir(&d)
            .await
            .with_context(|| format!("reading {}", d.display()))?;
        while let Some(e) = rd.next_entry().await? {
            let p = e.path();
            if e.file_type().await?.is_dir() {
                stack.push(p);
            } else {
                let rel = p
                    .strip_prefix(out)
                    .context("artifact outside the run directory")?
                    .to_string_lossy()
                    .replace('\\', "/");
                files.push((rel, p));
            }
        }
    }
    files.sort();
    let mut out_files = Vec::with_capacity(files.len());
    for (rel, path) in files {
        let (size, sha256) = hash_file(&path).await?;
        ctx.store
            .put_file(&crate::storage::artifact_key(job.id, &rel), &path)
            .await?;
        out_files.push(db::jobs::Artifact {
            path: rel,
            size_bytes: size as i64,
            sha256,
        });
    }
    Ok(out_files)
}

async fn hash_file(path: &Path) -> anyhow::Result<(u64, Vec<u8>)> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || -> anyhow::Result<(u64, Vec<u8>)> {
        let mut f = std::fs::File::open(&path)?;
        let mut h = Sha256::new();
        let n = std::io::copy(&mut f, &mut h)?;
        Ok((n, h.finalize().to_vec()))
    })
    .await?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifact_paths_stay_inside() {
        let d = Path::new("/w");
        assert_eq!(
            safe_join(d, "models/a.json"),
            Some(PathBuf::from("/w/models/a.json"))
        );
        assert_eq!(safe_join(d, "../etc/passwd"), None);
        assert_eq!(safe_join(d, "/etc/passwd"), None);
    }
}

//! Jobs: an engine run a license holder asks for, on one of their datasets. This module holds
//! the rules (validation with the engine's own validator, idempotency, license and quota
//! checks, cancel, retry, delete); `queue` is how workers claim and finish jobs, `worker` runs
//! them in child processes, `runner` is the child's side, `events` feeds live followers,
//! `datasets` takes uploads.

pub mod datasets;
pub mod events;
pub mod limits;
pub mod queue;
pub mod runner;
pub mod worker;

use crate::db::{self, datasets::Dataset, jobs::Job};
use crate::domain::{DatasetFormat, EventKind, JobState};
use crate::routes::api::{ApiCode, ApiError};
use crate::state::AppState;
use axum::http::StatusCode;
use fox_engine::config::{ConfigIssue, ExperimentConfig};
use fox_engine::error::EngineError;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

/// RFC 3339 in UTC.
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// The file name the platform gives a job's dataset in the run's working directory.
pub fn data_file_name(format: DatasetFormat) -> String {
    format!("dataset.{format}")
}

/// Where a run writes, inside the job's working directory.
pub const OUTPUT_DIR: &str = "out";

/// A submitted experiment: the engine's config as a JSON object or as YAML text.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(untagged)]
pub enum ExperimentInput {
    /// YAML text.
    Yaml(String),
    /// A JSON object.
    #[schema(value_type = Object)]
    Json(serde_json::Map<String, Value>),
}

/// `POST /api/v1/jobs`.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitRequest {
    pub dataset_id: Uuid,
    pub experiment: ExperimentInput,
    /// An earlier succeeded job of the account to compare this run with (the engine's
    /// baseline comparison: STABLE / DRIFTING / DIVERGED per metric).
    #[serde(default)]
    pub baseline_job_id: Option<Uuid>,
}

/// Every problem of an experiment, with its path, as a 422.
fn invalid_experiment(issues: Vec<ConfigIssue>) -> ApiError {
    let n = issues.len();
    let details = json!({"problems": issues});
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        ApiCode::InvalidRequest,
        format!(
            "The experiment is not valid ({n} problem{}): {}",
            if n == 1 { "" } else { "s" },
            issues_text(&details)
        ),
    )
    .with_details(details)
}

fn issues_text(details: &Value) -> String {
    details["problems"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| {
                    format!(
                        "{}: {}",
                        p["path"]
                            .as_str()
                            .filter(|s| !s.is_empty())
                            .unwrap_or("(root)"),
                        p["message"].as_str().unwrap_or("")
                    )
                })
                .collect::<Vec<_>>()
                .join("; ")
        })
        .unwrap_or_default()
}

/// The experiment as the engine will run it on `dataset`: parsed, with `data.path`,
/// `data.format` and `output.dir` set by the platform, validated by the engine's validator
/// and against the dataset's columns. Returns the JSON to store.
pub fn prepare_experiment(
    input: &ExperimentInput,
    dataset: &Dataset,
    max_bytes: u64,
) -> Result<Value, ApiError> {
    let mut value: Value = match input {
        ExperimentInput::Json(m) => Value::Object(m.clone()),
        ExperimentInput::Yaml(text) => {
            if text.len() as u64 > max_bytes {
                return Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    ApiCode::PayloadTooLarge,
                    format!("The experiment is larger than {max_bytes} bytes."),
                ));
            }
            serde_yaml_ng::from_str(text).map_err(|e| {
                invalid_experiment(vec![ConfigIssue {
                    path: String::new(),
                    message: format!("not valid YAML: {e}"),
                }])
            })?
        }
    };
    let Some(obj) = value.as_object_mut() else {
        return Err(invalid_experiment(vec![ConfigIssue {
            path: String::new(),
            message: "expected a mapping of sections (data, targets, features, …)".into(),
        }]));
    };
    // The platform decides where the data is and where the run writes.
    let data = obj.entry("data").or_insert_with(|| json!({}));
    if let Some(d) = data.as_object_mut() {
        d.insert("path".into(), data_file_name(dataset.format).into());
        d.insert("format".into(), dataset.format.as_str().into());
    }
    let output = obj.entry("output").or_insert_with(|| json!({}));
    if let Some(o) = output.as_object_mut() {
        o.insert("dir".into(), OUTPUT_DIR.into());
    }
    let text = serde_json::to_string(&value).expect("JSON serializes");
    let cfg = match ExperimentConfig::from_yaml_str(&text) {
        Ok(cfg) => cfg,
        Err(EngineError::Config(issues)) => return Err(invalid_experiment(issues)),
        Err(e) => {
            return Err(invalid_experiment(vec![ConfigIssue {
                path: String::new(),
                message: e.to_string(),
            }]));
        }
    };
    check_columns(&cfg, dataset)?;
    Ok(value)
}

/// The experiment's column roles against the dataset's header, as the engine assigns them.
fn check_columns(cfg: &ExperimentConfig, dataset: &Dataset) -> Result<(), ApiError> {
    let header = dataset.column_names();
    let file = std::path::Path::new(&dataset.name);
    match fox_engine::data::roles::assign(&header, file, &cfg.data, &cfg.targets, &cfg.features) {
        Ok(_) => Ok(()),
        Err(EngineError::Data {
            column, message, ..
        }) => {
            let path = if message.starts_with("timestamp") {
                "data.timestamp_col"
            } else if message.starts_with("entity") {
                "data.entity_col"
            } else if message.starts_with("listed target") {
                "targets.list"
            } else if message.starts_with("listed feature") {
                "features.list"
            } else if message.contains("target patterns") {
                "targets.include"
            } else {
                "features"
            };
            let message = match column {
                Some(c) => format!("column `{c}`: {message}"),
                None => message,
            };
            Err(invalid_experiment(vec![ConfigIssue {
                path: path.into(),
                message: format!("{message} (dataset {})", dataset.name),
            }]))
        }
        Err(e) => Err(invalid_experiment(vec![ConfigIssue {
            path: String::new(),
            message: e.to_string(),
        }])),
    }
}

/// The hash of a submission, for Idempotency-Key replays.
pub fn request_hash(req: &SubmitRequest) -> Vec<u8> {
    let canonical = serde_json::to_vec(&json!({
        "dataset_id": req.dataset_id,
        "experiment": req.experiment,
        "baseline_job_id": req.baseline_job_id,
    }))
    .expect("JSON serializes");
    Sha256::digest(canonical).to_vec()
}

/// Whether a submission made a new job or replayed an earlier one.
pub enum Submitted {
    Created(Job),
    Replayed(Job),
}

/// Queues a job for `user` of `customer_id` (or returns the job of an earlier request with the
/// same idempotency key and body).
pub async fn submit(
    state: &AppState,
    customer_id: Uuid,
    user_id: Uuid,
    req: &SubmitRequest,
    idempotency_key: Option<&str>,
    retry_of: Option<Uuid>,
) -> Result<Submitted, ApiError> {
    let hash = request_hash(req);
    if let Some(key) = idempotency_key {
        if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ApiError::invalid(
                "Idempotency-Key must be 1 to 255 printable ASCII characters.",
            ));
        }
    }
    let mut tx = state.db.begin().await?;
    // One submission of an account at a time: the monthly count and the idempotency key
    // cannot be raced by parallel requests.
    db::jobs::lock_customer(&mut tx, customer_id).await?;
    if let Some(key) = idempotency_key {
        if let Some(existing) = db::jobs::by_idempotency_key(&mut tx, customer_id, key).await? {
            return if existing.request_hash.as_deref() == Some(hash.as_slice()) {
                Ok(Submitted::Replayed(existing))
            } else {
                Err(ApiError::new(
                    StatusCode::CONFLICT,
                    ApiCode::IdempotencyConflict,
                    "This Idempotency-Key was used for a different request; use a new key for a new job.",
                ))
            };
        }
    }
    let license = limits::usable_license(&mut tx, customer_id).await?;
    let lim = limits::Limits::of(&license, &state.settings);
    if let Some(max) = lim.jobs_per_month {
        let (start, next) = limits::month_bounds(OffsetDateTime::now_utc());
        let used = db::jobs::count_created_since(&mut tx, customer_id, start).await?;
        if used >= i64::from(max) {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                ApiCode::QuotaExceeded,
                format!(
                    "Your license allows {max} jobs a month and this month's are used up; the count starts again on {}.",
                    next.date()
                ),
            )
            .with_details(json!({"limit": max, "used": used, "resets_at": rfc3339(next)})));
        }
    }
    let dataset = db::datasets::by_id(&mut tx, customer_id, req.dataset_id)
        .await?
        .ok_or_else(|| ApiError::not_found("dataset"))?;
    if let Some(b) = req.baseline_job_id {
        let base = db::jobs::by_id(&mut tx, customer_id, b)
            .await?
            .ok_or_else(|| ApiError::not_found("baseline job"))?;
        if base.state != JobState::Succeeded || base.artifacts_deleted_at.is_some() {
            return Err(ApiError::conflict(
                "The baseline job must have succeeded and still have its artifacts.",
            ));
        }
    }
    let mut experiment = prepare_experiment(
        &req.experiment,
        &dataset,
        state.settings.jobs.max_experiment_bytes,
    )?;
    if let (Some(b), Some(o)) = (req.baseline_job_id, experiment.as_object_mut()) {
        o.insert("x-fox-baseline-job".into(), b.to_string().into());
    }
    let job_id = Uuid::now_v7();
    db::jobs::insert(
        &mut tx,
        &db::jobs::NewJob {
            id: job_id,
            customer_id,
            created_by: user_id,
            license_id: license.id,
            dataset_id: dataset.id,
            retry_of,
            experiment: &experiment,
            idempotency: idempotency_key.map(|k| (k, hash.as_slice())),
            max_attempts: state.settings.worker.max_attempts as i32,
        },
    )
    .await?;
    db::jobs::add_event(
        &mut tx,
        job_id,
        EventKind::State,
        &json!({"state": JobState::Queued, "attempt": 0}),
    )
    .await?;
    let job = db::jobs::get(&mut tx, job_id)
        .await?
        .ok_or(sqlx::Error::RowNotFound)?;
    tx.commit().await?;
    tracing::info!(job_id = %job.id, dataset_id = %dataset.id, "job queued");
    Ok(Submitted::Created(job))
}

/// A `state` filter of a job list: none when absent or empty, else one of the JobState values.
pub fn state_filter(raw: Option<&str>) -> Result<Option<JobState>, ApiError> {
    match raw {
        None | Some("") => Ok(None),
        Some(s) => s.parse::<JobState>().map(Some).map_err(|_| {
            ApiError::invalid(format!(
                "state must be one of queued, running, succeeded, failed, cancelled; got {s:?}"
            ))
        }),
    }
}

/// The run's summary of a job, or a 409 saying why there is none yet.
pub fn summary_of(job: Job) -> Result<Value, ApiError> {
    job.summary.ok_or_else(|| {
        ApiError::conflict(format!(
            "The job {}; a summary exists once it succeeded.",
            match job.state {
                JobState::Queued => "is queued",
                JobState::Running => "is running",
                JobState::Failed => "failed",
                JobState::Cancelled => "was cancelled",
                JobState::Succeeded => "succeeded without a summary",
            }
        ))
    })
}

/// The experiment key that carries a baseline job id inside the stored experiment (removed
/// before the engine sees the config).
pub const BASELINE_KEY: &str = "x-fox-baseline-job";

/// The submission that made `job`, for a retry (same dataset, experiment and baseline).
pub fn resubmission(job: &Job) -> Result<SubmitRequest, ApiError> {
    let dataset_id = job
        .dataset_id
        .ok_or_else(|| ApiError::conflict("The job's dataset was deleted; upload it again."))?;
    let mut experiment = job.experiment.clone();
    let baseline_job_id = experiment
        .as_object_mut()
        .and_then(|o| o.remove(BASELINE_KEY))
        .and_then(|v| v.as_str().and_then(|s| s.parse().ok()));
    let Value::Object(map) = experiment else {
        return Err(ApiError::conflict("The job's experiment cannot be read."));
    };
    Ok(SubmitRequest {
        dataset_id,
        experiment: ExperimentInput::Json(map),
        baseline_job_id,
    })
}

/// Asks a job to stop (idempotent). Returns the job as it is afterwards.
pub async fn cancel(state: &AppState, customer_id: Uuid, id: Uuid) -> Result<Job, ApiError> {
    let mut tx = state.db.begin().await?;
    let before = db::jobs::by_id(&mut tx, customer_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("job"))?;
    if before.state.is_terminal() && before.state != JobState::Cancelled {
        return Err(ApiError::conflict(format!(
            "The job already {}; there is nothing to cancel.",
            before.state
        )));
    }
    let after = db::jobs::request_cancel(&mut tx, customer_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("job"))?;
    if before.state == JobState::Queued && after == JobState::Cancelled {
        db::jobs::add_event(
            &mut tx,
            id,
            EventKind::State,
            &json!({"state": JobState::Cancelled, "attempt": before.attempt}),
        )
        .await?;
    }
    let job = db::jobs::get(&mut tx, id)
        .await?
        .ok_or(sqlx::Error::RowNotFound)?;
    tx.commit().await?;
    tracing::info!(job_id = %id, state = %job.state, "job cancel requested");
    Ok(job)
}

/// Deletes a finished job and its artifacts.
pub async fn delete(state: &AppState, customer_id: Uuid, id: Uuid) -> Result<(), ApiError> {
    let mut conn = state.db.acquire().await?;
    let job = db::jobs::by_id(&mut conn, customer_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("job"))?;
    if !job.state.is_terminal() {
        return Err(ApiError::conflict(
            "The job is still queued or running; cancel it first.",
        ));
    }
    state
        .store
        .delete_prefix(&crate::storage::job_prefix(id))
        .await?;
    db::jobs::delete(&mut conn, id).await?;
    tracing::info!(job_id = %id, "job deleted");
    Ok(())
}

/// A job as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct JobView {
    pub id: Uuid,
    pub state: JobState,
    pub dataset_id: Option<Uuid>,
    pub license_id: Uuid,
    pub retry_of: Option<Uuid>,
    pub baseline_job_id: Option<Uuid>,
    pub attempt: i32,
    pub max_attempts: i32,
    pub stage: Option<String>,
    pub progress: Progress,
    pub cancel_requested: bool,
    /// Why the job failed, in words.
    pub error: Option<String>,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub duration_secs: Option<f64>,
    pub artifacts_expire_at: Option<String>,
    pub artifacts_deleted: bool,
    /// The run's summary (JSON) once it succeeded; left out of lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub summary: Option<Value>,
}

/// Progress of the current stage.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Progress {
    pub done: i64,
    pub total: i64,
    /// `done / total`, 0 without a total.
    pub fraction: f64,
}

impl JobView {
    pub fn of(j: &Job, with_summary: bool) -> Self {
        let duration = match (j.started_at, j.finished_at) {
            (Some(s), Some(f)) => Some((f - s).as_seconds_f64()),
            (Some(s), None) => Some((OffsetDateTime::now_utc() - s).as_seconds_f64()),
            _ => None,
        };
        Self {
            id: j.id,
            state: j.state,
            dataset_id: j.dataset_id,
            license_id: j.license_id,
            retry_of: j.retry_of,
            baseline_job_id: j
                .experiment
                .get(BASELINE_KEY)
                .and_then(|v| v.as_str())
                .and_then(|s| s.parse().ok()),
            attempt: j.attempt,
            max_attempts: j.max_attempts,
            stage: j.stage.clone(),
            progress: Progress {
                done: j.progress_done,
                total: j.progress_total,
                fraction: if j.progress_total > 0 {
                    (j.progress_done as f64 / j.progress_total as f64).clamp(0.0, 1.0)
                } else {
                    0.0
                },
            },
            cancel_requested: j.cancel_requested_at.is_some(),
            error: j.error.clone(),
            created_at: rfc3339(j.created_at),
            started_at: j.started_at.map(rfc3339),
            finished_at: j.finished_at.map(rfc3339),
            duration_secs: duration,
            artifacts_expire_at: j.artifacts_expire_at.map(rfc3339),
            artifacts_deleted: j.artifacts_deleted_at.is_some(),
            summary: if with_summary {
                j.summary.clone()
            } else {
                None
            },
        }
    }
}

//! `/api/v1/jobs` and `/api/v1/usage`: submit, list, show, cancel, retry, delete, follow
//! (Server-Sent Events or JSON), artifacts and the summary. Every object belongs to the
//! caller's account; another account's id is a 404. The rules live in `jobs`.

use super::{ApiError, ApiJson};
use crate::auth::api::ApiUser;
use crate::db;
use crate::domain::JobState;
use crate::jobs::limits::{self, Usage};
use crate::jobs::{self, JobView, SubmitRequest, Submitted};
use crate::state::AppState;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::convert::Infallible;
use std::time::Duration;
use uuid::Uuid;

fn job_response(status: StatusCode, j: &db::jobs::Job) -> Response {
    let mut res = (status, Json(JobView::of(j, true))).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/jobs/{}", j.id)) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

/// Queues a job: a dataset of the account and an experiment (the engine's experiment config
/// as a JSON object or YAML text; `data.path`, `data.format` and `output.dir` are set by the
/// platform). The experiment is checked with the engine's validator and against the
/// dataset's columns: 422 lists every problem with its path. With an `Idempotency-Key`
/// header a replay returns the same job (200); the same key with another body is a 409.
#[utoipa::path(post, path = "/api/v1/jobs", tag = "jobs",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried submission return the same job")),
    request_body = SubmitRequest,
    responses(
        (status = 201, description = "Queued", body = JobView),
        (status = 200, description = "Replay of an earlier request with the same Idempotency-Key", body = JobView),
        (status = 403, description = "No active license (`no_license`, `license_suspended`, `license_expired`, `license_revoked`)", body = super::openapi::ErrorBody),
        (status = 409, description = "`idempotency_conflict`, or the baseline job cannot be compared with", body = super::openapi::ErrorBody),
        (status = 422, description = "The experiment is not valid; `details.problems` lists each with its path", body = super::openapi::ErrorBody),
        (status = 429, description = "`quota_exceeded`: this month's jobs are used up (`details.resets_at`)", body = super::openapi::ErrorBody),
    ),
    security(("token" = [])))]
#[tracing::instrument(skip_all, fields(customer_id = %user.customer_id))]
pub async fn create_job(
    State(state): State<AppState>,
    user: ApiUser,
    headers: HeaderMap,
    ApiJson(req): ApiJson<SubmitRequest>,
) -> Result<Response, ApiError> {
    let key = headers
        .get("idempotency-key")
        .map(|v| {
            v.to_str()
                .map_err(|_| ApiError::invalid("Idempotency-Key must be printable ASCII."))
        })
        .transpose()?;
    Ok(
        match jobs::submit(&state, user.customer_id, user.user.id, &req, key, None).await? {
            Submitted::Created(j) => job_response(StatusCode::CREATED, &j),
            Submitted::Replayed(j) => job_response(StatusCode::OK, &j),
        },
    )
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only jobs in this state.
    pub state: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<Uuid>,
    /// Jobs per page (1 to 200, 50 by default).
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct JobList {
    pub jobs: Vec<JobView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<Uuid>,
}

/// The account's jobs, newest first, a page at a time.
#[utoipa::path(get, path = "/api/v1/jobs", tag = "jobs", params(ListQuery),
    responses((status = 200, description = "OK", body = JobList), (status = 422, description = "A parameter is not valid (`invalid_request`)", body = super::openapi::ErrorBody)),
    security(("token" = [])))]
pub async fn list_jobs(
    State(state): State<AppState>,
    user: ApiUser,
    Query(q): Query<ListQuery>,
) -> Result<Json<JobList>, ApiError> {
    let filter = jobs::state_filter(q.state.as_deref())?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::invalid("limit must be between 1 and 200."));
    }
    let mut conn = state.db.acquire().await?;
    let mut page = db::jobs::list(&mut conn, user.customer_id, filter, q.cursor, limit + 1).await?;
    let next_cursor = (page.len() as i64 > limit).then(|| {
        page.truncate(limit as usize);
        page.last().map(|j| j.id)
    });
    Ok(Json(JobList {
        jobs: page.iter().map(|j| JobView::of(j, false)).collect(),
        next_cursor: next_cursor.flatten(),
    }))
}

async fn owned_job(state: &AppState, user: &ApiUser, id: Uuid) -> Result<db::jobs::Job, ApiError> {
    let mut conn = state.db.acquire().await?;
    db::jobs::by_id(&mut conn, user.customer_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("job"))
}

/// One job: state, attempt, stage and progress, timestamps, the failure reason in words,
/// and the result summary once it succeeded.
#[utoipa::path(get, path = "/api/v1/jobs/{id}", tag = "jobs", params(("id" = Uuid, Path)),
    responses((status = 200, description = "OK", body = JobView), (status = 404, description = "No such object in your account (`not_found`)", body = super::openapi::ErrorBody)),
    security(("token" = [])))]
pub async fn show_job(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    Ok(job_response(
        StatusCode::OK,
        &owned_job(&state, &user, id).await?,
    ))
}

/// Cancels a job (idempotent): a queued job at once, a running one within seconds (its
/// process is stopped). 409 when it already succeeded or failed.
#[utoipa::path(post, path = "/api/v1/jobs/{id}/cancel", tag = "jobs", params(("id" = Uuid, Path)),
    responses((status = 200, description = "OK", body = JobView), (status = 404, description = "No such object in your account (`not_found`)", body = super::openapi::ErrorBody), (status = 409, description = "Conflicts with the object's state (`conflict`, `dataset_in_use`)", body = super::openapi::ErrorBody)),
    security(("token" = [])))]
pub async fn cancel_job(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let j = jobs::cancel(&state, user.customer_id, id).await?;
    Ok(job_response(StatusCode::OK, &j))
}

/// Queues a new job with the same dataset, experiment and baseline.
#[utoipa::path(post, path = "/api/v1/jobs/{id}/retry", tag = "jobs", params(("id" = Uuid, Path)),
    responses((status = 201, description = "Created", body = JobView), (status = 404, description = "No such object in your account (`not_found`)", body = super::openapi::ErrorBody), (status = 409, description = "Conflicts with the object's state (`conflict`, `dataset_in_use`)", body = super::openapi::ErrorBody), (status = 429, description = "`quota_exceeded`", body = super::openapi::ErrorBody)),
    security(("token" = [])))]
pub async fn retry_job(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let old = owned_job(&state, &user, id).await?;
    let req = jobs::resubmission(&old)?;
    match jobs::submit(
        &state,
        user.customer_id,
        user.user.id,
        &req,
        None,
        Some(old.id),
    )
    .await?
    {
        Submitted::Created(j) | Submitted::Replayed(j) => Ok(job_response(StatusCode::CREATED, &j)),
    }
}

/// Deletes a finished job and its artifacts (409 while it is queued or running).
#[utoipa::path(delete, path = "/api/v1/jobs/{id}", tag = "jobs", params(("id" = Uuid, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, description = "No such object in your account (`not_found`)", body = super::openapi::ErrorBody), (status = 409, description = "Conflicts with the object's state (`conflict`, `dataset_in_use`)", body = super::openapi::ErrorBody)),
    security(("token" = [])))]
pub async fn delete_job(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    jobs::delete(&state, user.customer_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Events after this id (the JSON form; SSE clients send `Last-Event-ID` instead).
    pub after: Option<i64>,
    /// `json` for the JSON form (also chosen by `Accept: application/json`).
    pub format: Option<String>,
}

/// One event of a job.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventView {
    pub id: i64,
    pub at: String,
    /// `state`, `stage`, `progress` or `log`.
    pub kind: String,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventList {
    pub events: Vec<EventView>,
    /// The job ended: no event will follow the last one.
    pub terminal: bool,
}

fn event_view(e: &db::jobs::Event) -> EventView {
    EventView {
        id: e.id,
        at: jobs::rfc3339(e.at),
        kind: e.kind.to_string(),
        data: e.data.clone(),
    }
}

/// Whether an event ends the job's story.
fn is_terminal(e: &db::jobs::Event) -> bool {
    e.kind == crate::domain::EventKind::State
        && e.data["state"]
            .as_str()
            .and_then(|s| s.parse::<JobState>().ok())
            .is_some_and(JobState::is_terminal)
}

/// The job's events: a Server-Sent Events stream (each event with its id, replay after
/// `Last-Event-ID`, ending after the terminal state event), or with `Accept:
/// application/json` / `?format=json` the events after `?after=` as a JSON page.
#[utoipa::path(get, path = "/api/v1/jobs/{id}/events", tag = "jobs",
    params(("id" = Uuid, Path), ("Last-Event-ID" = Option<i64>, Header), EventsQuery),
    responses(
        (status = 200, description = "text/event-stream: `event: <kind>`, `id: <id>`, `data: <JSON>`; or the JSON page", body = EventList),
        (status = 404, description = "No such object in your account (`not_found`)", body = super::openapi::ErrorBody)),
    security(("token" = [])))]
pub async fn job_events(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<Uuid>,
    Query(q): Query<EventsQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let job = owned_job(&state, &user, id).await?;
    let wants_json = q.format.as_deref() == Some("json")
        || headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("application/json") && !a.contains("text/event-stream"));
    let last_event_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok());
    // A reconnecting EventSource sends Last-Event-ID and keeps its URL's `after`: the
    // header is the newer position.
    let after = last_event_id.or(q.after).unwrap_or(0).max(0);
    if wants_json {
        let mut conn = state.db.acquire().await?;
        let events = db::jobs::events_after(&mut conn, job.id, after, 1000).await?;
        let terminal =
            events.iter().any(is_terminal) || (events.is_empty() && job.state.is_terminal());
        return Ok(Json(EventList {
            events: events.iter().map(event_view).collect(),
            terminal,
        })
        .into_response());
    }
    let stream = event_stream(state, job.id, after);
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

/// Events from the database as they come: a page read whenever the hub says the job has
/// news (or every two seconds, in case a notification was missed), until the terminal one.
fn event_stream(
    state: AppState,
    job: Uuid,
    after: i64,
) -> impl futures_util::Stream<Item = Result<SseEvent, Infallible>> {
    let rx = state.job_events.subscribe();
    futures_util::stream::unfold(
        (state, rx, after, false),
        move |(state, mut rx, mut after, done)| async move {
            if done {
                return None;
            }
            loop {
                let page = match state.db.acquire().await {
                    Ok(mut conn) => db::jobs::events_after(&mut conn, job, after, 500)
                        .await
                        .unwrap_or_default(),
                    Err(_) => Vec::new(),
                };
                if !page.is_empty() {
                    after = page.last().map_or(after, |e| e.id);
                    let terminal = page.iter().any(is_terminal);
                    let events: Vec<Result<SseEvent, Infallible>> = page
                        .iter()
                        .map(|e| {
                            Ok(SseEvent::default()
                                .id(e.id.to_string())
                                .event(e.kind.as_str())
                                .data(serde_json::to_string(&event_view(e)).unwrap_or_default()))
                        })
                        .collect();
                    return Some((
                        futures_util::stream::iter(events),
                        (state, rx, after, terminal),
                    ));
                }
                // Nothing new: wait for news of this job, or poll.
                let wait = async {
                    loop {
                        match rx.recv().await {
                            Ok(id) if id == job => return,
                            Ok(_) => continue,
                            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => return,
                            Err(_) => std::future::pending::<()>().await,
                        }
                    }
                };
                let _ = tokio::time::timeout(Duration::from_secs(2), wait).await;
            }
        },
    )
    .flatten()
}

/// The files of the job's run directory (manifest, ranking, leakage report, metrics,
/// models) with size and SHA-256.
#[utoipa::path(get, path = "/api/v1/jobs/{id}/artifacts", tag = "jobs", params(("id" = Uuid, Path)),
    responses((status = 200, description = "OK", body = ArtifactList), (status = 404, description = "No such object in your account (`not_found`)", body = super::openapi::ErrorBody)),
    security(("token" = [])))]
pub async fn list_artifacts(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<Uuid>,
) -> Result<Json<ArtifactList>, ApiError> {
    let job = owned_job(&state, &user, id).await?;
    let mut conn = state.db.acquire().await?;
    let files = db::jobs::artifacts(&mut conn, job.id).await?;
    Ok(Json(ArtifactList {
        artifacts: files
            .into_iter()
            .map(|a| ArtifactView {
                sha256: a.sha256.iter().map(|b| format!("{b:02x}")).collect(),
                path: a.path,
                size: a.size_bytes,
            })
            .collect(),
    }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ArtifactView {
    /// Path inside the run directory, `/`-separated.
    pub path: String,
    pub size: i64,
    /// SHA-256, hex.
    pub sha256: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ArtifactList {
    pub artifacts: Vec<ArtifactView>,
}

/// Downloads one file of the run directory.
#[utoipa::path(get, path = "/api/v1/jobs/{id}/artifacts/{path}", tag = "jobs",
    params(("id" = Uuid, Path), ("path" = String, Path, description = "Path inside the run directory, e.g. `models/fwd_ret_15m/gbdt/model.json`")),
    responses((status = 200, description = "The file", content_type = "application/octet-stream"), (status = 404, description = "No such object in your account (`not_found`)", body = super::openapi::ErrorBody)),
    security(("token" = [])))]
pub async fn download_artifact(
    State(state): State<AppState>,
    user: ApiUser,
    Path((id, path)): Path<(Uuid, String)>,
) -> Result<Response, ApiError> {
    let job = owned_job(&state, &user, id).await?;
    // Only paths recorded for this job are served: nothing else of the store is reachable.
    let a = {
        let mut conn = state.db.acquire().await?;
        db::jobs::artifact(&mut conn, job.id, &path).await?
    }
    .ok_or_else(|| ApiError::not_found("artifact"))?;
    let (size, stream) = state
        .store
        .get_stream(&crate::storage::artifact_key(job.id, &a.path))
        .await?;
    let name = a
        .path
        .rsplit('/')
        .next()
        .unwrap_or("artifact")
        .replace('"', "");
    let content_type = match name.rsplit('.').next() {
        Some("json") => "application/json",
        Some("csv") => "text/csv",
        Some("txt" | "toon") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    };
    let mut res = Body::from_stream(stream).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SummaryQuery {
    /// `toon` for TOON (also chosen by `Accept: application/toon`), else JSON.
    pub format: Option<String>,
}

/// The run's summary (ranking with uncertainty, leakage findings, selection, models, drift)
/// as JSON, or as TOON with `Accept: application/toon` or `?format=toon`.
#[utoipa::path(get, path = "/api/v1/jobs/{id}/summary", tag = "jobs", params(("id" = Uuid, Path), SummaryQuery),
    responses(
        (status = 200, description = "JSON (application/json) or TOON (application/toon)", content_type = "application/json", body = Object),
        (status = 404, description = "No such object in your account (`not_found`)", body = super::openapi::ErrorBody),
        (status = 409, description = "The job has not succeeded", body = super::openapi::ErrorBody)),
    security(("token" = [])))]
pub async fn job_summary(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<Uuid>,
    Query(q): Query<SummaryQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let summary = jobs::summary_of(owned_job(&state, &user, id).await?)?;
    let toon = q.format.as_deref() == Some("toon")
        || headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("application/toon"));
    if toon {
        let mut res = (fox_engine::toon::encode(&summary) + "\n").into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/toon; charset=utf-8"),
        );
        return Ok(res);
    }
    Ok(Json(summary).into_response())
}

/// What the account uses against its license's limits.
#[utoipa::path(get, path = "/api/v1/usage", tag = "jobs",
    responses((status = 200, description = "OK", body = Usage), (status = 403, description = "No active license", body = super::openapi::ErrorBody)),
    security(("token" = [])))]
pub async fn show_usage(
    State(state): State<AppState>,
    user: ApiUser,
) -> Result<Json<Usage>, ApiError> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(
        limits::usage(&mut conn, &state.settings, user.customer_id).await?,
    ))
}

//! Jobs in the dashboard: the list (filter, cancel, retry) and the new-job page (a template
//! in an editor, the dataset's columns to pick targets and features from, validation on the
//! server with each problem next to its path, the account's usage before submitting).

use super::pages::{ColumnChoice, JobRow, JobsPage, NewJobPage, ProblemView};
use super::{Customer, short, usage_view};
use crate::auth::forms::{self, CsrfForm, CsrfOnly, fmt_time};
use crate::auth::guard::see_other;
use crate::db;
use crate::domain::JobState;
use crate::error::{AppError, Result};
use crate::jobs::{self, ExperimentInput, SubmitRequest, Submitted};
use crate::routes::api::ApiError;
use crate::site::pages::SelectOption;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

/// The engine's example experiments, offered as starting points.
pub const TEMPLATES: [(&str, &str, &str); 3] = [
    (
        "quick",
        "Quick demo (fast settings)",
        include_str!("../../../engine/examples/quick-demo.yaml"),
    ),
    (
        "full",
        "Full research run",
        include_str!("../../../engine/examples/full-research.yaml"),
    ),
    (
        "canary",
        "Leakage canary",
        include_str!("../../../engine/examples/leakage-canary.yaml"),
    ),
];

/// A template as the editor shows it: without what the platform sets (data.path and
/// data.format, output, threads) and without the CLI's instructions.
pub fn template_yaml(id: &str) -> String {
    let text = TEMPLATES
        .iter()
        .find(|t| t.0 == id)
        .map_or(TEMPLATES[0].2, |t| t.2);
    let mut out = vec![
        "# data.path, data.format, output.dir and threads are set by the platform for the"
            .to_string(),
        "# dataset you run this on.".to_string(),
    ];
    let mut section = String::new();
    for line in text.lines() {
        let top = !line.starts_with(' ') && !line.starts_with('#') && !line.trim().is_empty();
        if top {
            section = line.split(':').next().unwrap_or("").to_string();
        }
        let key = line.trim_start().split(':').next().unwrap_or("");
        let drop = (line.starts_with('#')
            && (line.contains("cargo run") || line.contains("generate") || line.contains("--")))
            || section == "output"
            || section == "threads"
            || (section == "data" && line.starts_with("  ") && (key == "path" || key == "format"));
        if !drop {
            out.push(line.to_string());
        }
    }
    out.join("\n").trim_end().to_string() + "\n"
}

/// The 1-based line of the editor that `path` (`cv.n_splits`, `targets.list[1]`) points at.
pub fn line_of(yaml: &str, path: &str) -> Option<usize> {
    let keys: Vec<&str> = path
        .split('.')
        .map(|k| k.split('[').next().unwrap_or(k))
        .filter(|k| !k.is_empty())
        .collect();
    let mut from = 0usize;
    let mut indent: isize = -1;
    let mut found = None;
    let lines: Vec<&str> = yaml.lines().collect();
    for key in keys {
        let hit = lines.iter().enumerate().skip(from).find(|(_, l)| {
            let ind = l.len() - l.trim_start().len();
            ind as isize > indent
                && l.trim_start()
                    .strip_prefix(key)
                    .is_some_and(|r| r.trim_start().starts_with(':'))
        });
        match hit {
            Some((i, l)) => {
                indent = (l.len() - l.trim_start().len()) as isize;
                from = i + 1;
                found = Some(i + 1);
            }
            None => break,
        }
    }
    found
}

fn row(j: &db::jobs::Job, who: &str) -> JobRow {
    let v = jobs::JobView::of(j, false);
    JobRow {
        id: j.id.to_string(),
        short_id: short(j.id),
        state: j.state.to_string(),
        stage: j.stage.clone().unwrap_or_default(),
        progress_pct: (v.progress.fraction * 100.0).round() as u32,
        duration: v
            .duration_secs
            .map_or(String::new(), |s| format_duration(s)),
        submitted_by: who.to_string(),
        created: fmt_time(j.created_at),
        dataset: j.dataset_id.map_or("(deleted)".into(), short),
        can_cancel: matches!(j.state, JobState::Queued | JobState::Running)
            && j.cancel_requested_at.is_none(),
        can_retry: j.state.is_terminal() && j.dataset_id.is_some(),
    }
}

/// `2 min 05 s`, `41.2 s`.
pub fn format_duration(secs: f64) -> String {
    if secs < 60.0 {
        format!("{secs:.1} s")
    } else if secs < 3600.0 {
        format!("{} min {:02} s", (secs / 60.0) as u64, secs as u64 % 60)
    } else {
        format!(
            "{} h {:02} min",
            (secs / 3600.0) as u64,
            (secs as u64 % 3600) / 60
        )
    }
}

pub(super) async fn job_row(state: &AppState, j: &db::jobs::Job) -> Result<JobRow> {
    let who = match j.created_by {
        Some(u) => {
            let mut conn = state.db.acquire().await?;
            db::customers::user_by_id(&mut conn, u)
                .await?
                .map_or("(deleted user)".into(), |u| u.email)
        }
        None => "(deleted user)".into(),
    };
    Ok(row(j, &who))
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    state: String,
    #[serde(default)]
    notice: String,
}

async fn render_list(
    state: &AppState,
    headers: &HeaderMap,
    customer: &Customer,
    q: &ListQuery,
    status: StatusCode,
    error: Option<String>,
) -> Result<Response> {
    let filter = q.state.parse::<JobState>().ok();
    let mut conn = state.db.acquire().await?;
    let list = db::jobs::list(&mut conn, customer.id, filter, None, 200).await?;
    drop(conn);
    let mut rows = Vec::with_capacity(list.len());
    for j in &list {
        rows.push(job_row(state, j).await?);
    }
    let token = state.csrf.for_request(headers);
    let all: Vec<&str> = JobState::ALL.iter().map(|s| s.as_str()).collect();
    let page = JobsPage {
        layout: state
            .site
            .layout("Jobs", "Your engine jobs.", "account", "/account/jobs"),
        csrf_token: token.token.clone(),
        jobs: rows,
        state_options: crate::site::pages::status_filter(&all, filter.map(JobState::as_str)),
        notice: match q.notice.as_str() {
            "cancelled" => Some("Cancellation requested.".into()),
            _ => None,
        },
        error,
        usage: usage_view(state, customer.id).await?,
    };
    forms::render_with(&page, token, status)
}

#[tracing::instrument(skip_all, fields(user_id = %customer.user.id))]
pub async fn list_jobs(
    State(state): State<AppState>,
    headers: HeaderMap,
    customer: Customer,
    Query(q): Query<ListQuery>,
) -> Result<Response> {
    render_list(&state, &headers, &customer, &q, StatusCode::OK, None).await
}

/// A job-action error as the page shows it (404s stay 404s).
fn page_error(e: ApiError) -> std::result::Result<(StatusCode, String), AppError> {
    if e.status == StatusCode::NOT_FOUND {
        Err(AppError::NotFound)
    } else {
        Ok((e.status, e.message))
    }
}

#[tracing::instrument(skip_all, fields(user_id = %customer.user.id, job_id = %id))]
pub async fn cancel_job(
    State(state): State<AppState>,
    headers: HeaderMap,
    customer: Customer,
    Path(id): Path<Uuid>,
    _: CsrfForm<CsrfOnly>,
) -> Result<Response> {
    match jobs::cancel(&state, customer.id, id).await {
        Ok(_) => Ok(see_other(&format!("/account/jobs/{id}"))),
        Err(e) => {
            let (status, msg) = page_error(e)?;
            render_list(
                &state,
                &headers,
                &customer,
                &ListQuery::default(),
                status,
                Some(msg),
            )
            .await
        }
    }
}

#[tracing::instrument(skip_all, fields(user_id = %customer.user.id, job_id = %id))]
pub async fn retry_job(
    State(state): State<AppState>,
    headers: HeaderMap,
    customer: Customer,
    Path(id): Path<Uuid>,
    _: CsrfForm<CsrfOnly>,
) -> Result<Response> {
    let outcome = async {
        let old = {
            let mut conn = state.db.acquire().await?;
            db::jobs::by_id(&mut conn, customer.id, id)
                .await?
                .ok_or_else(|| ApiError::not_found("job"))?
        };
        let req = jobs::resubmission(&old)?;
        jobs::submit(&state, customer.id, customer.user.id, &req, None, Some(id)).await
    }
    .await;
    match outcome {
        Ok(Submitted::Created(j) | Submitted::Replayed(j)) => {
            Ok(see_other(&format!("/account/jobs/{}", j.id)))
        }
        Err(e) => {
            let (status, msg) = page_error(e)?;
            render_list(
                &state,
                &headers,
                &customer,
                &ListQuery::default(),
                status,
                Some(msg),
            )
            .await
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct NewQuery {
    #[serde(default)]
    dataset: Option<Uuid>,
    #[serde(default)]
    template: String,
}

/// What the new-job form sends.
#[derive(Debug, Default, Deserialize)]
pub struct NewJobForm {
    #[serde(default)]
    dataset_id: String,
    #[serde(default)]
    yaml: String,
    #[serde(default)]
    targets: Vec<String>,
    #[serde(default)]
    features: Vec<String>,
    /// `validate` or `submit`.
    #[serde(default)]
    action: String,
}

struct Editor {
    dataset_id: Option<Uuid>,
    yaml: String,
    targets: Vec<String>,
    features: Vec<String>,
}

async fn render_new(
    state: &AppState,
    headers: &HeaderMap,
    customer: &Customer,
    ed: Editor,
    status: StatusCode,
    problems: Vec<ProblemView>,
    error: Option<String>,
    notice: Option<String>,
) -> Result<Response> {
    let mut conn = state.db.acquire().await?;
    let all = db::datasets::for_customer(&mut conn, customer.id).await?;
    drop(conn);
    let chosen = ed
        .dataset_id
        .and_then(|id| all.iter().find(|d| d.id == id))
        .or(all.first());
    let columns = chosen.map_or_else(Vec::new, |d| {
        d.column_names()
            .into_iter()
            .map(|c| ColumnChoice {
                target: ed.targets.contains(&c),
                feature: ed.features.contains(&c),
                name: c,
            })
            .collect()
    });
    let token = state.csrf.for_request(headers);
    let page = NewJobPage {
        layout: state.site.layout(
            "New job",
            "Run the engine on a dataset.",
            "account",
            "/account/jobs/new",
        ),
        csrf_token: token.token.clone(),
        datasets: all
            .iter()
            .map(|d| SelectOption {
                value: d.id.to_string(),
                label: format!("{} ({} rows)", d.name, d.row_count),
                selected: chosen.is_some_and(|c| c.id == d.id),
            })
            .collect(),
        templates: TEMPLATES
            .iter()
            .map(|(id, label, _)| SelectOption {
                value: id.to_string(),
                label: label.to_string(),
                selected: false,
            })
            .collect(),
        dataset_id: chosen.map_or(String::new(), |d| d.id.to_string()),
        yaml: ed.yaml,
        columns,
        problems,
        error,
        notice,
        usage: usage_view(state, customer.id).await?,
    };
    forms::render_with(&page, token, status)
}

#[tracing::instrument(skip_all, fields(user_id = %customer.user.id))]
pub async fn show_new_job(
    State(state): State<AppState>,
    headers: HeaderMap,
    customer: Customer,
    Query(q): Query<NewQuery>,
) -> Result<Response> {
    let ed = Editor {
        dataset_id: q.dataset,
        yaml: template_yaml(if q.template.is_empty() {
            "quick"
        } else {
            &q.template
        }),
        targets: Vec::new(),
        features: Vec::new(),
    };
    render_new(
        &state,
        &headers,
        &customer,
        ed,
        StatusCode::OK,
        Vec::new(),
        None,
        None,
    )
    .await
}

/// The editor's YAML with the picked columns as `targets.list` / `features.list`.
fn experiment_of(f: &NewJobForm) -> std::result::Result<ExperimentInput, String> {
    if f.targets.is_empty() && f.features.is_empty() {
        return Ok(ExperimentInput::Yaml(f.yaml.clone()));
    }
    let mut v: Value =
        serde_yaml_ng::from_str(&f.yaml).map_err(|e| format!("not valid YAML: {e}"))?;
    let obj = v
        .as_object_mut()
        .ok_or("expected a mapping of sections (data, targets, features, …)")?;
    for (section, picked) in [("targets", &f.targets), ("features", &f.features)] {
        if picked.is_empty() {
            continue;
        }
        let s = obj.entry(section).or_insert_with(|| serde_json::json!({}));
        if let Some(m) = s.as_object_mut() {
            m.insert("list".into(), serde_json::json!(picked));
        }
    }
    match v {
        Value::Object(m) => Ok(ExperimentInput::Json(m)),
        _ => Err("expected a mapping of sections".into()),
    }
}

#[tracing::instrument(skip_all, fields(user_id = %customer.user.id))]
pub async fn create_job(
    State(state): State<AppState>,
    headers: HeaderMap,
    customer: Customer,
    CsrfForm(f): CsrfForm<NewJobForm>,
) -> Result<Response> {
    let ed = Editor {
        dataset_id: f.dataset_id.parse().ok(),
        yaml: f.yaml.clone(),
        targets: f.targets.clone(),
        features: f.features.clone(),
    };
    let Some(dataset_id) = ed.dataset_id else {
        let msg = Some("Upload a dataset first, then pick it here.".to_string());
        return render_new(
            &state,
            &headers,
            &customer,
            ed,
            StatusCode::UNPROCESSABLE_ENTITY,
            Vec::new(),
            msg,
            None,
        )
        .await;
    };
    let experiment = match experiment_of(&f) {
        Ok(e) => e,
        Err(m) => {
            let p = vec![ProblemView {
                path: String::new(),
                message: m,
                line: None,
            }];
            return render_new(
                &state,
                &headers,
                &customer,
                ed,
                StatusCode::UNPROCESSABLE_ENTITY,
                p,
                None,
                None,
            )
            .await;
        }
    };
    let result = if f.action == "validate" {
        let mut conn = state.db.acquire().await?;
        let dataset = db::datasets::by_id(&mut conn, customer.id, dataset_id)
            .await?
            .ok_or(AppError::NotFound)?;
        jobs::prepare_experiment(
            &experiment,
            &dataset,
            state.settings.jobs.max_experiment_bytes,
        )
        .map(|_| None)
    } else {
        let req = SubmitRequest {
            dataset_id,
            experiment,
            baseline_job_id: None,
        };
        jobs::submit(&state, customer.id, customer.user.id, &req, None, None)
            .await
            .map(|s| match s {
                Submitted::Created(j) | Submitted::Replayed(j) => Some(j.id),
            })
    };
    match result {
        Ok(Some(id)) => Ok(see_other(&format!("/account/jobs/{id}"))),
        Ok(None) => {
            let notice = Some("The experiment is valid for this dataset.".to_string());
            render_new(
                &state,
                &headers,
                &customer,
                ed,
                StatusCode::OK,
                Vec::new(),
                None,
                notice,
            )
            .await
        }
        Err(e) if e.status == StatusCode::NOT_FOUND => Err(AppError::NotFound),
        Err(e) => {
            let problems: Vec<ProblemView> = e.details["problems"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|p| {
                            let path = p["path"].as_str().unwrap_or("").to_string();
                            ProblemView {
                                line: line_of(&ed.yaml, &path),
                                path,
                                message: p["message"].as_str().unwrap_or("").to_string(),
                            }
                        })
                        .collect()
                })
                .unwrap_or_default();
            let error = problems.is_empty().then(|| e.message.clone());
            render_new(
                &state, &headers, &customer, ed, e.status, problems, error, None,
            )
            .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_lose_what_the_platform_sets_and_stay_valid_yaml() {
        for (id, _, _) in TEMPLATES {
            let y = template_yaml(id);
            let v: Value = serde_yaml_ng::from_str(&y).unwrap();
            assert!(
                v["data"].get("path").is_none() && v.get("output").is_none(),
                "{id}"
            );
            assert!(v.get("threads").is_none(), "{id}");
            assert!(v["data"]["timestamp_col"].is_string(), "{id}");
            assert!(!y.contains("cargo run"), "{id}");
        }
    }

    #[test]
    fn problems_point_at_their_line() {
        let y = "name: x\ndata:\n  timestamp_col: ts\ncv:\n  n_splits: 3\ntargets:\n  list: [a]\n";
        assert_eq!(line_of(y, "cv.n_splits"), Some(5));
        assert_eq!(line_of(y, "targets.list[0]"), Some(7));
        assert_eq!(line_of(y, "data"), Some(2));
        assert_eq!(line_of(y, "models.gbdt"), None);
        assert_eq!(format_duration(41.24), "41.2 s");
        assert_eq!(format_duration(125.0), "2 min 05 s");
    }
}

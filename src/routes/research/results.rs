//! A job's page: live state while it runs (Server-Sent Events in the browser, a refresh
//! without scripts), the failure reason in words, and once it succeeded the results as
//! charts with their tables — target ranking with uncertainty, per-fold skill, feature
//! importance per family, leakage findings with their evidence, model metrics, the
//! reproducibility fingerprint — and its downloads; the comparison with an earlier job; the
//! run directory as one archive.

use super::jobs::job_row;
use super::pages::{ArtifactRow, ComparePage, Figure, JobPage, StageRow, TableRow};
use super::{Customer, allow_own_scripts, short};
use crate::auth::forms::{self, fmt_time};
use crate::db::{self, jobs::Job};
use crate::domain::JobState;
use crate::error::{AppError, Result};
use crate::jobs::datasets::human_bytes;
use crate::site::charts::{self, Bar};
use crate::site::pages::SelectOption;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

async fn owned(state: &AppState, customer: Uuid, id: Uuid) -> Result<Job> {
    let mut conn = state.db.acquire().await?;
    db::jobs::by_id(&mut conn, customer, id)
        .await?
        .ok_or(AppError::NotFound)
}

/// A small JSON file of the job's run directory (`None` when it is not there).
async fn artifact_json(state: &AppState, job: Uuid, path: &str) -> Option<Value> {
    let (size, mut stream) = state
        .store
        .get_stream(&crate::storage::artifact_key(job, path))
        .await
        .ok()?;
    // Reports are small; a result page never reads large files whole.
    if size > 32 << 20 {
        return None;
    }
    let mut bytes = Vec::with_capacity(size as usize);
    while let Some(chunk) = futures_util::StreamExt::next(&mut stream).await {
        bytes.extend_from_slice(&chunk.ok()?);
    }
    serde_json::from_slice(&bytes).ok()
}

fn num(v: &Value) -> Option<f64> {
    v.as_f64()
}

fn f4(v: &Value) -> String {
    num(v).map_or("–".into(), |x| format!("{x:.4}"))
}

fn cell_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "–".into(),
        Value::Number(n) => n.as_f64().map_or(n.to_string(), |x| {
            if x.fract() == 0.0 && x.abs() < 1e12 {
                format!("{x}")
            } else {
                format!("{x:.4}")
            }
        }),
        other => other.to_string(),
    }
}

fn plain(cells: Vec<String>) -> TableRow {
    TableRow {
        cells,
        class: String::new(),
    }
}

/// The figures of a succeeded job.
async fn figures(state: &AppState, job: &Job) -> (Vec<Figure>, Vec<String>) {
    let mut figs = Vec::new();
    let mut notes = Vec::new();
    let summary = job.summary.clone().unwrap_or(Value::Null);
    let ranking = artifact_json(state, job.id, "ranking.json").await;
    if let Some(targets) = ranking.as_ref().and_then(|r| r["targets"].as_array()) {
        let bars: Vec<Bar> = targets
            .iter()
            .map(|t| Bar {
                label: t["target"].as_str().unwrap_or("").to_string(),
                value: num(&t["skill"]).unwrap_or(0.0),
                interval: num(&t["skill_lo"]).zip(num(&t["skill_hi"])),
                flag: (t["suspicious"] == true).then(|| "suspicious".to_string()),
            })
            .collect();
        figs.push(Figure {
            id: "ranking".into(),
            heading: "Target ranking".into(),
            note: "Out-of-sample skill (per-timestamp rank IC of the prediction against the label; binary targets on the same scale) with its 95 % interval, best first. Targets flagged suspicious are held back for leakage review.".into(),
            svg: charts::bars(
                "chart-ranking",
                "Skill of each target with its 95 % interval",
                &format!("{} targets ranked by the lower end of their interval.", bars.len()),
                &bars,
            ),
            headers: ["Rank", "Target", "Kind", "Skill", "95 % interval", "t", "FoxML composite", "Status"]
                .map(String::from)
                .to_vec(),
            rows: targets
                .iter()
                .map(|t| TableRow {
                    cells: vec![
                        cell_text(&t["rank"]),
                        cell_text(&t["target"]),
                        cell_text(&t["kind"]),
                        f4(&t["skill"]),
                        format!("{} to {}", f4(&t["skill_lo"]), f4(&t["skill_hi"])),
                        num(&t["skill_t"]).map_or("–".into(), |x| format!("{x:.2}")),
                        f4(&t["composite"]),
                        if t["suspicious"] == true {
                            "suspicious".into()
                        } else if t["eligible"] == false {
                            "not eligible".into()
                        } else {
                            "ok".into()
                        },
                    ],
                    class: if t["suspicious"] == true { "row-flag".into() } else { String::new() },
                })
                .collect(),
        });
        let series: Vec<(String, Vec<f64>)> = targets
            .iter()
            .map(|t| {
                (
                    t["target"].as_str().unwrap_or("").to_string(),
                    t["fold_skill"]
                        .as_array()
                        .map(|a| a.iter().filter_map(Value::as_f64).collect())
                        .unwrap_or_default(),
                )
            })
            .collect();
        let folds = series.iter().map(|(_, v)| v.len()).max().unwrap_or(0);
        figs.push(Figure {
            id: "folds".into(),
            heading: "Skill per fold".into(),
            note: "Out-of-sample skill of each target in each walk-forward fold (dots) and their mean (tick). Spread across folds is the stability of the signal over time.".into(),
            svg: charts::dots(
                "chart-folds",
                "Out-of-sample skill per fold and target",
                &format!("{} targets, up to {folds} folds each.", series.len()),
                &series,
            ),
            headers: std::iter::once("Target".to_string())
                .chain((1..=folds).map(|k| format!("Fold {k}")))
                .collect(),
            rows: series
                .iter()
                .map(|(t, v)| {
                    plain(
                        std::iter::once(t.clone())
                            .chain((0..folds).map(|k| v.get(k).map_or("–".into(), |x| format!("{x:.4}"))))
                            .collect(),
                    )
                })
                .collect(),
        });
        for pair in ranking
            .as_ref()
            .and_then(|r| r["indistinct"].as_array())
            .into_iter()
            .flatten()
        {
            let (a, b) = (
                pair["a"].as_str().unwrap_or(""),
                pair["b"].as_str().unwrap_or(""),
            );
            if !a.is_empty() && !b.is_empty() {
                notes.push(format!(
                    "{a} and {b} cannot be told apart: the difference of their skills is {} ± {} (one standard error), within its uncertainty.",
                    f4(&pair["diff"]),
                    f4(&pair["diff_se"])
                ));
            }
        }
    }
    if let Some(selections) = artifact_json(state, job.id, "selection.json")
        .await
        .and_then(|s| s.as_array().cloned())
    {
        let families = ["gbdt_gain", "linear_coef", "permutation"];
        let names = ["GBDT gain", "Linear |coefficient|", "Permutation"]
            .map(String::from)
            .to_vec();
        for (k, sel) in selections.iter().enumerate() {
            let target = sel["target"].as_str().unwrap_or("").to_string();
            let mut imps: Vec<&Value> = sel["importances"]
                .as_array()
                .map(|a| a.iter().collect())
                .unwrap_or_default();
            imps.sort_by(|a, b| {
                num(&b["combined"])
                    .partial_cmp(&num(&a["combined"]))
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
            imps.truncate(15);
            let rows: Vec<(String, Vec<f64>)> = imps
                .iter()
                .map(|i| {
                    (
                        i["feature"].as_str().unwrap_or("").to_string(),
                        families
                            .iter()
                            .map(|f| num(&i[*f]).unwrap_or(0.0))
                            .collect(),
                    )
                })
                .collect();
            figs.push(Figure {
                id: format!("importance-{k}"),
                heading: format!("Feature importance: {target}"),
                note: "Share of importance of the selected features in each model family (each family sums to 1), the features with the most combined importance first.".into(),
                svg: charts::grouped(
                    &format!("chart-importance-{k}"),
                    &format!("Feature importance per family for {target}"),
                    &format!("{} features, three families.", rows.len()),
                    &names,
                    &rows,
                ),
                headers: ["Feature", "GBDT gain", "Linear |coefficient|", "Permutation", "Combined"].map(String::from).to_vec(),
                rows: imps
                    .iter()
                    .map(|i| {
                        plain(vec![
                            cell_text(&i["feature"]),
                            f4(&i["gbdt_gain"]),
                            f4(&i["linear_coef"]),
                            f4(&i["permutation"]),
                            f4(&i["combined"]),
                        ])
                    })
                    .collect(),
            });
        }
    }
    let leakage = artifact_json(state, job.id, "leakage_report.json").await;
    let findings = leakage
        .as_ref()
        .and_then(|l| l["findings"].as_array().cloned())
        .unwrap_or_default();
    figs.push(Figure {
        id: "leakage".into(),
        heading: "Leakage findings".into(),
        note: if findings.is_empty() {
            "The leakage scan found nothing.".into()
        } else {
            format!(
                "What the leakage scan found, the evidence, and what was done (policy: {}).",
                leakage
                    .as_ref()
                    .map_or("–".into(), |l| cell_text(&l["policy"]))
            )
        },
        svg: String::new(),
        headers: ["Feature", "Target", "Check", "Evidence", "Reason", "Action"]
            .map(String::from)
            .to_vec(),
        rows: findings
            .iter()
            .map(|f| {
                let evidence = f["evidence"]
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| format!("{k} = {}", cell_text(v)))
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default();
                TableRow {
                    cells: vec![
                        cell_text(&f["feature"]),
                        cell_text(&f["target"]),
                        cell_text(&f["check"]),
                        evidence,
                        cell_text(&f["reason"]),
                        cell_text(&f["action"]),
                    ],
                    class: "row-flag".into(),
                }
            })
            .collect(),
    });
    if let Some(models) = summary["models"].as_array().filter(|m| !m.is_empty()) {
        let bars: Vec<Bar> = models
            .iter()
            .map(|m| Bar {
                label: format!(
                    "{} · {}",
                    m["target"].as_str().unwrap_or(""),
                    m["family"].as_str().unwrap_or("")
                ),
                value: num(&m["skill"]).unwrap_or(0.0),
                interval: num(&m["lo"]).zip(num(&m["hi"])),
                flag: None,
            })
            .collect();
        figs.push(Figure {
            id: "models".into(),
            heading: "Model metrics".into(),
            note: "Held-out skill of each trained model family on the selected features, with its 95 % interval.".into(),
            svg: charts::bars(
                "chart-models",
                "Held-out skill per target and model family",
                &format!("{} models.", bars.len()),
                &bars,
            ),
            headers: ["Target", "Family", "Features", "Skill", "95 % interval", "AUC", "FoxML composite"].map(String::from).to_vec(),
            rows: models
                .iter()
                .map(|m| {
                    plain(vec![
                        cell_text(&m["target"]),
                        cell_text(&m["family"]),
                        cell_text(&m["n_features"]),
                        f4(&m["skill"]),
                        format!("{} to {}", f4(&m["lo"]), f4(&m["hi"])),
                        f4(&m["auc"]),
                        f4(&m["composite"]),
                    ])
                })
                .collect(),
        });
    }
    if let Some(fp) = artifact_json(state, job.id, "manifest.json")
        .await
        .and_then(|m| m["fingerprints"].as_object().cloned())
    {
        figs.push(Figure {
            id: "fingerprint".into(),
            heading: "Reproducibility fingerprint".into(),
            note: "SHA-256 fingerprints of what determines the results. The same strict key means the same data, configuration, features, splits and hyperparameters; the replicate key groups runs across seeds.".into(),
            svg: String::new(),
            headers: vec!["Input".into(), "SHA-256".into()],
            rows: fp
                .iter()
                .map(|(k, v)| TableRow {
                    cells: vec![k.replace('_', " "), cell_text(v)],
                    class: "mono".into(),
                })
                .collect(),
        });
    }
    (figs, notes)
}

#[tracing::instrument(skip_all, fields(user_id = %customer.user.id, job_id = %id))]
pub async fn show_job(
    State(state): State<AppState>,
    headers: HeaderMap,
    customer: Customer,
    Path(id): Path<Uuid>,
) -> Result<Response> {
    let job = owned(&state, customer.id, id).await?;
    let row = job_row(&state, &job).await?;
    let (timeline, log, last_event_id) = {
        let mut conn = state.db.acquire().await?;
        let last_event_id = db::jobs::last_event_id(&mut conn, job.id).await?;
        let stages = db::jobs::stages(&mut conn, job.id).await?;
        let timeline = stages
            .iter()
            .enumerate()
            .map(|(i, e)| StageRow {
                name: e.data["stage"].as_str().unwrap_or("").to_string(),
                at: fmt_time(e.at),
                current: i + 1 == stages.len() && job.state == JobState::Running,
            })
            .collect();
        let log = db::jobs::log_tail(&mut conn, job.id, 40)
            .await?
            .into_iter()
            .map(|e| e.data["line"].as_str().unwrap_or("").to_string())
            .collect();
        (timeline, log, last_event_id)
    };
    let done = job.state == JobState::Succeeded && job.artifacts_deleted_at.is_none();
    let (figures, notes) = if done {
        figures(&state, &job).await
    } else {
        (Vec::new(), Vec::new())
    };
    let (artifacts, compare_options) = {
        let mut conn = state.db.acquire().await?;
        let arts = db::jobs::artifacts(&mut conn, job.id).await?;
        let others =
            db::jobs::list(&mut conn, customer.id, Some(JobState::Succeeded), None, 100).await?;
        (arts, others)
    };
    let page = JobPage {
        layout: state.site.layout(
            &format!("Job {}", short(job.id)),
            "An engine job.",
            "account",
            &format!("/account/jobs/{id}"),
        ),
        csrf_token: String::new(),
        error: job.error.clone(),
        live: !job.state.is_terminal(),
        timeline,
        log,
        figures,
        notes,
        artifacts_note: job.artifacts_deleted_at.map(|t| {
            format!(
                "The artifacts were deleted on {} after the retention period.",
                fmt_time(t)
            )
        }),
        artifacts: artifacts
            .into_iter()
            .map(|a| ArtifactRow {
                href: format!("/api/v1/jobs/{id}/artifacts/{}", a.path),
                size: human_bytes(a.size_bytes as u64),
                sha256: a.sha256.iter().map(|b| format!("{b:02x}")).collect(),
                path: a.path,
            })
            .collect(),
        compare_options: compare_options
            .iter()
            .filter(|o| o.id != job.id && o.artifacts_deleted_at.is_none())
            .map(|o| SelectOption {
                value: o.id.to_string(),
                label: format!("{} ({})", short(o.id), fmt_time(o.created_at)),
                selected: false,
            })
            .collect(),
        script_url: state.site.assets.url("job-live.js"),
        last_event_id,
        job: row,
    };
    let token = state.csrf.for_request(&headers);
    let page = JobPage {
        csrf_token: token.token.clone(),
        ..page
    };
    let mut res = forms::render_with(&page, token, StatusCode::OK)?;
    allow_own_scripts(&mut res, &state);
    Ok(res)
}

#[derive(Debug, Default, Deserialize)]
pub struct CompareQuery {
    #[serde(default)]
    with: Option<Uuid>,
}

/// The engine's baseline comparison of this job (current) against an earlier one (baseline):
/// STABLE / DRIFTING / DIVERGED per metric.
#[tracing::instrument(skip_all, fields(user_id = %customer.user.id, job_id = %id))]
pub async fn compare_jobs(
    State(state): State<AppState>,
    customer: Customer,
    Path(id): Path<Uuid>,
    Query(q): Query<CompareQuery>,
) -> Result<Response> {
    let job = owned(&state, customer.id, id).await?;
    let base_id = q
        .with
        .ok_or_else(|| AppError::BadRequest("Choose the job to compare with.".into()))?;
    let base = owned(&state, customer.id, base_id).await?;
    let metrics = |j: &Job| {
        let ok = j.state == JobState::Succeeded && j.artifacts_deleted_at.is_none();
        let (state, id) = (&state, j.id);
        async move {
            if !ok {
                return None;
            }
            artifact_json(state, id, "metrics.json")
                .await
                .and_then(|v| serde_json::from_value::<fox_engine::repro::RunMetrics>(v).ok())
        }
    };
    let (Some(cur), Some(old)) = (metrics(&job).await, metrics(&base).await) else {
        return Err(AppError::Conflict(
            "Both jobs must have succeeded and still have their artifacts to be compared.".into(),
        ));
    };
    let drift = fox_engine::repro::compare(&old, &cur);
    let count = |s: &str| {
        drift
            .iter()
            .filter(|d| {
                serde_json::to_value(d.status)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .as_deref()
                    == Some(s)
            })
            .count()
    };
    let rows = drift
        .iter()
        .map(|d| {
            let status = serde_json::to_value(d.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            TableRow {
                class: format!("drift-{}", status.to_ascii_lowercase()),
                cells: vec![
                    d.target.clone(),
                    d.family.clone(),
                    d.metric.clone(),
                    format!("{:.4}", d.baseline),
                    format!("{:.4}", d.current),
                    d.z.map_or("–".into(), |z| format!("{z:.2}")),
                    status,
                ],
            }
        })
        .collect();
    let page = ComparePage {
        layout: state.site.layout(
            "Compare jobs",
            "Compare two runs.",
            "account",
            &format!("/account/jobs/{id}/compare"),
        ),
        job_id: job.id.to_string(),
        job_short: short(job.id),
        base_id: base.id.to_string(),
        base_short: short(base.id),
        counts: format!(
            "{} stable, {} drifting, {} diverged, {} not comparable",
            count("STABLE"),
            count("DRIFTING"),
            count("DIVERGED"),
            count("INCOMPARABLE")
        ),
        rows,
    };
    crate::routes::render(&page)
}

/// The whole run directory as one `.tar.gz`, built from the store into a temporary file.
#[tracing::instrument(skip_all, fields(user_id = %customer.user.id, job_id = %id))]
pub async fn download_archive(
    State(state): State<AppState>,
    customer: Customer,
    Path(id): Path<Uuid>,
) -> Result<Response> {
    let job = owned(&state, customer.id, id).await?;
    let files = {
        let mut conn = state.db.acquire().await?;
        db::jobs::artifacts(&mut conn, job.id).await?
    };
    if files.is_empty() {
        return Err(AppError::NotFound);
    }
    let dir = std::path::Path::new(&state.settings.storage.spool_dir)
        .join(format!("archive-{}", Uuid::new_v4()));
    let result = async {
        for f in &files {
            let target = dir.join("run").join(&f.path);
            if !target.starts_with(dir.join("run")) || f.path.contains("..") {
                anyhow::bail!("artifact path {:?} leaves the run directory", f.path);
            }
            if let Some(p) = target.parent() {
                tokio::fs::create_dir_all(p).await?;
            }
            state
                .store
                .get_to_file(&crate::storage::artifact_key(job.id, &f.path), &target)
                .await?;
        }
        let (src, out) = (dir.join("run"), dir.join("run.tar.gz"));
        let name = format!("fox-job-{}", short(job.id));
        tokio::task::spawn_blocking(move || -> anyhow::Result<std::path::PathBuf> {
            let file = std::fs::File::create(&out)?;
            let gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
            let mut tar = tar::Builder::new(gz);
            tar.append_dir_all(&name, &src)?;
            tar.into_inner()?.finish()?;
            Ok(out)
        })
        .await?
    }
    .await;
    let archive = match result {
        Ok(p) => p,
        Err(e) => {
            let _ = tokio::fs::remove_dir_all(&dir).await;
            return Err(AppError::Internal(e.context("building a job archive")));
        }
    };
    let file = tokio::fs::File::open(&archive)
        .await
        .map_err(|e| AppError::Internal(anyhow::Error::new(e)))?;
    let len = file.metadata().await.map(|m| m.len()).unwrap_or(0);
    // The open file is read to the end; its directory entry can go now.
    let _ = tokio::fs::remove_dir_all(&dir).await;
    let mut res = super::file_body(file).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/gzip"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"fox-job-{}.tar.gz\"",
        short(job.id)
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

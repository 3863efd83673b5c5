//! Datasets in the dashboard: the list with an upload form (a progress bar when scripts run;
//! a plain form post when they do not) and deletion.

use super::pages::{DatasetRow, DatasetsPage};
use super::{Customer, allow_own_scripts, short, usage_view};
use crate::auth::forms::{self, CSRF_MESSAGE, CsrfForm, CsrfOnly, fmt_time};
use crate::auth::guard::see_other;
use crate::db;
use crate::error::{AppError, Result};
use crate::jobs::datasets::{self as uploads, UploadMeta, Uploaded, human_bytes};
use crate::routes::api::ApiError;
use crate::state::AppState;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use uuid::Uuid;

#[derive(Debug, Default, Deserialize)]
pub struct Notice {
    #[serde(default)]
    notice: String,
}

fn notice_text(n: &str) -> Option<String> {
    match n {
        "uploaded" => Some("Dataset uploaded.".into()),
        "existing" => {
            Some("You had uploaded these exact bytes already: here is that dataset.".into())
        }
        "deleted" => Some("Dataset deleted.".into()),
        _ => None,
    }
}

async fn render_page(
    state: &AppState,
    headers: &HeaderMap,
    customer: &Customer,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
) -> Result<Response> {
    let mut conn = state.db.acquire().await?;
    let all = db::datasets::for_customer(&mut conn, customer.id).await?;
    let mut rows = Vec::with_capacity(all.len());
    for d in all {
        let used: Vec<(String, String)> = db::jobs::ids_on_dataset(&mut conn, d.id)
            .await?
            .into_iter()
            .map(|id| (short(id), id.to_string()))
            .collect();
        let cols = d.column_names();
        let mut preview = cols.iter().take(8).cloned().collect::<Vec<_>>().join(", ");
        if cols.len() > 8 {
            preview.push_str(", …");
        }
        rows.push(DatasetRow {
            id: d.id.to_string(),
            name: d.name,
            format: d.format.to_string(),
            size: human_bytes(d.size_bytes as u64),
            rows: d.row_count.to_string(),
            columns: cols.len(),
            columns_preview: preview,
            uploaded: fmt_time(d.created_at),
            used_by: used,
        });
    }
    drop(conn);
    let usage = usage_view(state, customer.id).await?;
    let token = state.csrf.for_request(headers);
    let page = DatasetsPage {
        layout: state
            .site
            .layout("Datasets", "Your datasets.", "account", "/account/datasets"),
        csrf_token: token.token.clone(),
        datasets: rows,
        notice,
        error: error.or(usage.problem.clone()),
        limit_text: if usage.available {
            format!("Up to {} per dataset on your license.", usage.max_dataset)
        } else {
            String::new()
        },
        script_url: state.site.assets.url("upload.js"),
    };
    let mut res = forms::render_with(&page, token, status)?;
    allow_own_scripts(&mut res, state);
    Ok(res)
}

#[tracing::instrument(skip_all, fields(user_id = %customer.user.id))]
pub async fn show_datasets(
    State(state): State<AppState>,
    headers: HeaderMap,
    customer: Customer,
    Query(q): Query<Notice>,
) -> Result<Response> {
    render_page(
        &state,
        &headers,
        &customer,
        StatusCode::OK,
        notice_text(&q.notice),
        None,
    )
    .await
}

/// The upload form without scripts: `multipart/form-data` whose first part is the CSRF
/// token, then the file (streamed like the API's upload).
#[tracing::instrument(skip_all, fields(user_id = %customer.user.id))]
pub async fn upload_dataset(
    State(state): State<AppState>,
    customer: Customer,
    req: Request,
) -> Result<Response> {
    let headers = req.headers().clone();
    let mut form = Multipart::from_request(req, &state).await.map_err(|e| {
        AppError::BadRequest(format!("The form could not be read: {}", e.body_text()))
    })?;
    let outcome: std::result::Result<Uploaded, ApiError> = async {
        let first = form
            .next_field()
            .await
            .map_err(|e| ApiError::bad_request(format!("The form could not be read: {e}")))?
            .ok_or_else(|| ApiError::invalid("The form is empty."))?;
        let token = if first.name() == Some("csrf_token") {
            first.text().await.unwrap_or_default()
        } else {
            String::new()
        };
        if !state.csrf.verify_request(&headers, &token) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                crate::routes::api::ApiCode::Forbidden,
                CSRF_MESSAGE,
            ));
        }
        while let Some(field) = form
            .next_field()
            .await
            .map_err(|e| ApiError::bad_request(format!("The form could not be read: {e}")))?
        {
            if field.name() != Some("file") {
                continue;
            }
            let raw = field.file_name().map(str::to_string);
            if raw.as_deref().is_none_or(str::is_empty) {
                return Err(ApiError::invalid("Choose a CSV or Parquet file to upload."));
            }
            let format = uploads::format_of(field.content_type(), raw.as_deref().unwrap_or(""))
                .ok_or_else(|| ApiError::invalid("Choose a .csv or .parquet file."))?;
            let meta = UploadMeta {
                name: uploads::clean_name(raw.as_deref(), format),
                format,
            };
            return uploads::upload(
                &state,
                customer.id,
                customer.user.id,
                meta,
                None,
                Box::pin(field),
            )
            .await;
        }
        Err(ApiError::invalid("Choose a CSV or Parquet file to upload."))
    }
    .await;
    match outcome {
        Ok(Uploaded::Created(_)) => Ok(see_other("/account/datasets?notice=uploaded")),
        Ok(Uploaded::Existing(_)) => Ok(see_other("/account/datasets?notice=existing")),
        Err(e) => render_page(&state, &headers, &customer, e.status, None, Some(e.message)).await,
    }
}

#[tracing::instrument(skip_all, fields(user_id = %customer.user.id, dataset_id = %id))]
pub async fn delete_dataset(
    State(state): State<AppState>,
    headers: HeaderMap,
    customer: Customer,
    Path(id): Path<Uuid>,
    _: CsrfForm<CsrfOnly>,
) -> Result<Response> {
    match uploads::delete(&state, customer.id, id).await {
        Ok(()) => Ok(see_other("/account/datasets?notice=deleted")),
        Err(e) if e.status == StatusCode::NOT_FOUND => Err(AppError::NotFound),
        Err(e) => render_page(&state, &headers, &customer, e.status, None, Some(e.message)).await,
    }
}

//! `/api/v1/datasets`: upload (raw body or `multipart/form-data`, streamed), list, show,
//! delete. Every object belongs to the caller's account; another account's id is a 404.

use super::{ApiCode, ApiError};
use crate::auth::api::ApiUser;
use crate::db::{self, datasets::Dataset};
use crate::jobs::datasets::{self as uploads, UploadMeta, Uploaded};
use crate::jobs::rfc3339;
use crate::state::AppState;
use axum::Json;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A dataset as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DatasetView {
    pub id: Uuid,
    pub name: String,
    /// `csv` or `parquet`.
    pub format: String,
    pub size_bytes: i64,
    /// SHA-256 of the bytes, hex.
    pub sha256: String,
    /// Column names in file order.
    pub columns: Vec<String>,
    pub row_count: i64,
    pub created_at: String,
    /// Jobs that used it, newest first (on `GET /datasets/{id}` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub used_by: Option<Vec<Uuid>>,
}

impl DatasetView {
    pub fn of(d: &Dataset, used_by: Option<Vec<Uuid>>) -> Self {
        Self {
            id: d.id,
            name: d.name.clone(),
            format: d.format.to_string(),
            size_bytes: d.size_bytes,
            sha256: d.sha256.iter().map(|b| format!("{b:02x}")).collect(),
            columns: d.column_names(),
            row_count: d.row_count,
            created_at: rfc3339(d.created_at),
            used_by,
        }
    }
}

/// The raw bytes of a data file.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct DataFile(#[allow(dead_code)] Vec<u8>);

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// The file's name (e.g. `panel.csv`); also tells the format when the content type does not.
    pub name: Option<String>,
}

/// Uploads a dataset: the raw file as the body (`Content-Type: text/csv` or
/// `application/vnd.apache.parquet`, `?name=panel.csv`), or a `multipart/form-data` form
/// with a `file` part. 201 with the new dataset; 200 with the existing one when the account
/// already uploaded the same bytes.
#[utoipa::path(post, path = "/api/v1/datasets", tag = "datasets",
    params(UploadQuery),
    request_body(content = DataFile, description = "The CSV (`text/csv`) or Parquet (`application/vnd.apache.parquet`) file as the body, or a `multipart/form-data` form with a `file` part", content_type = "text/csv"),
    responses(
        (status = 201, description = "Dataset created", body = DatasetView),
        (status = 200, description = "The same bytes were uploaded before", body = DatasetView),
        (status = 413, description = "Larger than the license allows (`dataset_too_large`)", body = super::openapi::ErrorBody),
        (status = 422, description = "Not a readable CSV or Parquet file", body = super::openapi::ErrorBody),
    ),
    security(("token" = [])))]
#[tracing::instrument(skip_all, fields(customer_id = %user.customer_id))]
pub async fn create_dataset(
    State(state): State<AppState>,
    user: ApiUser,
    Query(q): Query<UploadQuery>,
    req: Request,
) -> Result<Response, ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let uploaded = if content_type
        .as_deref()
        .is_some_and(|c| c.starts_with("multipart/form-data"))
    {
        let mut form = Multipart::from_request(req, &state).await.map_err(|e| {
            ApiError::bad_request(format!("The form could not be read: {}", e.body_text()))
        })?;
        loop {
            let field = form
                .next_field()
                .await
                .map_err(|e| ApiError::bad_request(format!("The form could not be read: {e}")))?
                .ok_or_else(|| ApiError::invalid("The form has no `file` part."))?;
            if field.name() != Some("file") {
                continue;
            }
            let raw_name = field.file_name().map(str::to_string).or(q.name.clone());
            let format =
                uploads::format_of(field.content_type(), raw_name.as_deref().unwrap_or(""))
                    .ok_or_else(unknown_format)?;
            let meta = UploadMeta {
                name: uploads::clean_name(raw_name.as_deref(), format),
                format,
            };
            break uploads::upload(
                &state,
                user.customer_id,
                user.user.id,
                meta,
                None,
                Box::pin(field),
            )
            .await?;
        }
    } else {
        let format = uploads::format_of(content_type.as_deref(), q.name.as_deref().unwrap_or(""))
            .ok_or_else(unknown_format)?;
        let meta = UploadMeta {
            name: uploads::clean_name(q.name.as_deref(), format),
            format,
        };
        let length = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let body = req.into_body().into_data_stream();
        uploads::upload(&state, user.customer_id, user.user.id, meta, length, body).await?
    };
    Ok(match uploaded {
        Uploaded::Created(d) => {
            (StatusCode::CREATED, Json(DatasetView::of(&d, None))).into_response()
        }
        Uploaded::Existing(d) => (StatusCode::OK, Json(DatasetView::of(&d, None))).into_response(),
    })
}

fn unknown_format() -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ApiCode::UnsupportedMediaType,
        "Send a CSV (Content-Type: text/csv) or Parquet (application/vnd.apache.parquet) file, or name it *.csv or *.parquet.",
    )
}

/// The account's datasets, newest first.
#[utoipa::path(get, path = "/api/v1/datasets", tag = "datasets",
    responses((status = 200, description = "OK", body = DatasetList)), security(("token" = [])))]
pub async fn list_datasets(
    State(state): State<AppState>,
    user: ApiUser,
) -> Result<Json<DatasetList>, ApiError> {
    let mut conn = state.db.acquire().await?;
    let all = db::datasets::for_customer(&mut conn, user.customer_id).await?;
    Ok(Json(DatasetList {
        datasets: all.iter().map(|d| DatasetView::of(d, None)).collect(),
    }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DatasetList {
    pub datasets: Vec<DatasetView>,
}

/// One dataset, with the jobs that used it.
#[utoipa::path(get, path = "/api/v1/datasets/{id}", tag = "datasets",
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "OK", body = DatasetView), (status = 404, description = "No such object in your account (`not_found`)", body = super::openapi::ErrorBody)),
    security(("token" = [])))]
pub async fn show_dataset(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<Uuid>,
) -> Result<Json<DatasetView>, ApiError> {
    let mut conn = state.db.acquire().await?;
    let d = db::datasets::by_id(&mut conn, user.customer_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("dataset"))?;
    let used = db::jobs::ids_on_dataset(&mut conn, d.id).await?;
    Ok(Json(DatasetView::of(&d, Some(used))))
}

/// Deletes a dataset (refused with 409 `dataset_in_use` while a queued or running job uses it).
#[utoipa::path(delete, path = "/api/v1/datasets/{id}", tag = "datasets",
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, description = "No such object in your account (`not_found`)", body = super::openapi::ErrorBody), (status = 409, description = "Conflicts with the object's state (`conflict`, `dataset_in_use`)", body = super::openapi::ErrorBody)),
    security(("token" = [])))]
pub async fn delete_dataset(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    uploads::delete(&state, user.customer_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

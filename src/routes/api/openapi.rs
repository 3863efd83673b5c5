//! The OpenAPI 3.1 description of `/api/v1`, generated from the handlers' `#[utoipa::path]`
//! annotations as they are registered (utoipa-axum), served at `/api/v1/openapi.json`,
//! committed at `content/openapi.json` (a test fails when it drifts) and rendered into the API
//! reference page of the docs (`reference.rs`).

use super::{datasets, jobs, licenses};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::routing::get;
use serde::Serialize;
use utoipa::Modify;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Where the committed copy lives.
pub const COMMITTED: &str = "content/openapi.json";

/// The error document every error answer carries (see the API overview).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `rate_limited`, `quota_exceeded`, `invalid_request`.
    pub code: String,
    /// A sentence for people; do not parse it.
    pub message: String,
    /// The request's id (also in the `x-request-id` header and the server's logs).
    pub request_id: String,
    /// Structured details (e.g. `problems` with `path` and `message`), or null.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

struct TokenAuth;

impl Modify for TokenAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API token from the dashboard: `Authorization: Bearer fox_…`. The dashboard itself uses its login session (with an `X-CSRF-Token` header on changes).",
                    ))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Fox ML Infrastructure API",
        description = "Datasets, engine jobs, their events, artifacts and summaries, usage, and the license API. Every error is `{\"error\": {\"code\", \"message\", \"request_id\", \"details\"}}` with a stable code.",
    ),
    modifiers(&TokenAuth),
    components(schemas(ErrorBody, ErrorDetail)),
    paths(jobs::download_artifact),
    tags(
        (name = "datasets", description = "Upload and manage datasets"),
        (name = "jobs", description = "Run the engine on a dataset and follow it"),
        (name = "licenses", description = "Online license checks and machine activation"),
    )
)]
struct ApiDoc;

/// The API's routes, split by the limits they need, and their description.
pub struct ApiRoutes {
    /// The upload route: no body-size limit or timeout of the site (it streams and enforces
    /// the license's own limit).
    pub upload: axum::Router<AppState>,
    /// Every other `/api/v1` route (the site's body limit and timeout apply).
    pub rest: axum::Router<AppState>,
    pub openapi: utoipa::openapi::OpenApi,
}

/// Builds the routes and the OpenAPI document from the same registrations.
pub fn api_routes() -> ApiRoutes {
    let (upload, upload_doc) = OpenApiRouter::<AppState>::new()
        .routes(routes!(datasets::create_dataset, datasets::list_datasets))
        .split_for_parts();
    let (rest, mut doc) = OpenApiRouter::<AppState>::with_openapi(ApiDoc::openapi())
        .routes(routes!(datasets::show_dataset, datasets::delete_dataset))
        .routes(routes!(jobs::create_job, jobs::list_jobs))
        .routes(routes!(jobs::show_job, jobs::delete_job))
        .routes(routes!(jobs::cancel_job))
        .routes(routes!(jobs::retry_job))
        .routes(routes!(jobs::job_events))
        .routes(routes!(jobs::list_artifacts))
        .routes(routes!(jobs::job_summary))
        .routes(routes!(jobs::show_usage))
        .routes(routes!(licenses::validate_license))
        .routes(routes!(licenses::activate_machine))
        .routes(routes!(licenses::deactivate_machine))
        .split_for_parts();
    doc.merge(upload_doc);
    // Axum's catch-all segment; the document names it `{path}` (OpenAPI has no wildcards).
    let rest = rest
        .route(
            "/api/v1/jobs/{id}/artifacts/{*path}",
            get(jobs::download_artifact),
        )
        .route("/api/v1/openapi.json", get(serve_openapi));
    ApiRoutes {
        upload,
        rest,
        openapi: doc,
    }
}

/// The document as committed and served (stable key order, pretty-printed).
pub fn document_text(doc: &utoipa::openapi::OpenApi) -> String {
    doc.to_pretty_json()
        .expect("the OpenAPI document serializes")
        + "\n"
}

async fn serve_openapi(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(state.openapi.as_ref().clone())
}

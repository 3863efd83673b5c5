//! `/mcp`: the job API for LLM-driven research assistants, as a Model Context Protocol server
//! (the official SDK's streamable-HTTP transport, stateless, JSON answers). Callers send the
//! same API tokens as the job API (`Authorization: Bearer fox_…`); a browser session is not
//! enough here. Every tool works on the caller's own account through the rules the job API
//! uses (`jobs::submit`, `jobs::prepare_experiment`, …), and answers in TOON, the compact
//! format the engine's reports use for machines.

use crate::auth::api::{ApiUser, AuthVia};
use crate::db;
use crate::jobs::{self, ExperimentInput, JobView, SubmitRequest, Submitted};
use crate::routes::api::{ApiCode, ApiError, datasets::DatasetView};
use crate::routes::research::jobs::{TEMPLATES, template_yaml};
use crate::state::AppState;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, Implementation, ServerCapabilities, ServerConfig};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::never::NeverSessionManager,
};
use rmcp::{ErrorData, RoleServer, ServerHandler, schemars, tool, tool_handler, tool_router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use uuid::Uuid;

/// Where the server is mounted.
pub const PATH: &str = "/mcp";

/// The `/mcp` routes: the MCP service behind the API-token check.
pub fn router(state: &AppState) -> axum::Router<AppState> {
    let mut hosts = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    // Requests must name this platform in `Host` (no DNS rebinding onto it).
    if let Ok(u) = url::Url::parse(&state.settings.server.public_url) {
        if let Some(h) = u.host_str() {
            hosts.push(h.trim_matches(['[', ']']).to_string());
        }
    }
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None)
        .with_allowed_hosts(hosts)
        .with_max_request_body_bytes(state.settings.server.body_limit_bytes as usize);
    let st = state.clone();
    let service = StreamableHttpService::new(
        move || Ok(FoxMcp::new(st.clone())),
        Arc::new(NeverSessionManager::default()),
        config,
    );
    axum::Router::new()
        .nest_service(PATH, service)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            authenticate,
        ))
}

/// Lets through requests with a valid API token (the caller goes into the request's
/// extensions, where the tools find it); everything else is a 401 in the API's error format.
async fn authenticate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let has_bearer = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Bearer "));
    if !has_bearer {
        let mut e = ApiError::new(
            StatusCode::UNAUTHORIZED,
            ApiCode::Unauthorized,
            "The MCP server needs an API token: send Authorization: Bearer fox_… (create one under API tokens on your dashboard).",
        );
        e.headers.push((
            header::WWW_AUTHENTICATE,
            axum::http::HeaderValue::from_static("Bearer"),
        ));
        return e.into_response();
    }
    match ApiUser::from_request_parts(&mut parts, &state).await {
        Ok(user) if user.via == AuthVia::Token => {
            parts.extensions.insert(user);
            next.run(Request::from_parts(parts, body)).await
        }
        Ok(_) => StatusCode::UNAUTHORIZED.into_response(),
        Err(e) => e.into_response(),
    }
}

/// One MCP server per request (stateless); cheap: a state handle.
#[derive(Clone)]
pub struct FoxMcp {
    state: AppState,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct DatasetArgs {
    /// The dataset's id (from list_datasets).
    pub dataset_id: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ExperimentArgs {
    /// The dataset to run on (from list_datasets).
    pub dataset_id: String,
    /// The experiment: the engine's YAML config (JSON works too). Start from
    /// experiment_template; data.path, data.format and output.dir are set by the platform.
    pub experiment: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct SubmitArgs {
    /// The dataset to run on (from list_datasets).
    pub dataset_id: String,
    /// The experiment: the engine's YAML config (JSON works too).
    pub experiment: String,
    /// Any string you choose (1 to 255 printable ASCII characters): submitting again with
    /// the same key and experiment returns the same job instead of a second one.
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// An earlier succeeded job to compare this run with.
    #[serde(default)]
    pub baseline_job_id: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct JobArgs {
    /// The job's id (from submit_experiment or list_jobs).
    pub job_id: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ListJobsArgs {
    /// Only jobs in this state: queued, running, succeeded, failed or cancelled.
    #[serde(default)]
    pub state: Option<String>,
    /// How many of the newest jobs (1 to 100, 20 by default).
    #[serde(default)]
    pub limit: Option<i64>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct TemplateArgs {
    /// `quick` (a fast demo), `full` (a full research run) or `canary` (a leakage canary);
    /// `quick` when absent.
    #[serde(default)]
    pub name: Option<String>,
}

/// A tool's answer: TOON text.
fn toon(v: &Value) -> CallToolResult {
    CallToolResult::success(vec![ContentBlock::text(fox_engine::toon::encode(v))])
}

/// A refusal of the API as a tool error the model can read and act on: the code, the
/// sentence, and every problem with its path.
fn refused(e: ApiError) -> CallToolResult {
    let code = serde_json::to_value(e.code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let mut text = format!("{code}: {}", e.message);
    if let Some(problems) = e.details.get("problems").and_then(Value::as_array) {
        for p in problems {
            let path = p["path"]
                .as_str()
                .filter(|s| !s.is_empty())
                .unwrap_or("(root)");
            text.push_str(&format!(
                "\n- {path}: {}",
                p["message"].as_str().unwrap_or("")
            ));
        }
    }
    CallToolResult::error(vec![ContentBlock::text(text)])
}

fn parse_id(what: &str, raw: &str) -> Result<Uuid, ApiError> {
    raw.trim()
        .parse()
        .map_err(|_| ApiError::invalid(format!("{what} must be an id (a UUID); got {raw:?}")))
}

fn caller(ctx: &RequestContext<RoleServer>) -> Result<ApiUser, ErrorData> {
    ctx.extensions
        .get::<axum::http::request::Parts>()
        .and_then(|p| p.extensions.get::<ApiUser>())
        .cloned()
        .ok_or_else(|| ErrorData::internal_error("the request carries no caller", None))
}

/// Runs a tool body: API refusals become tool errors, the rest a TOON answer.
fn answer(r: Result<Value, ApiError>) -> Result<CallToolResult, ErrorData> {
    Ok(match r {
        Ok(v) => toon(&v),
        Err(e) if e.status.is_server_error() => {
            return Err(ErrorData::internal_error(
                "the platform could not answer; try again",
                None,
            ));
        }
        Err(e) => refused(e),
    })
}

#[tool_router]
impl FoxMcp {
    pub fn new(state: AppState) -> Self {
        Self { state }
    }

    #[tool(
        description = "The datasets of your account (id, name, format, rows, size, columns). Upload new ones on the dashboard or with the job API.",
        annotations(read_only_hint = true)
    )]
    async fn list_datasets(
        &self,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let user = caller(&ctx)?;
        answer(self.datasets(&user).await)
    }

    #[tool(
        description = "An example experiment (the engine's YAML config) to start from: quick, full or canary.",
        annotations(read_only_hint = true)
    )]
    async fn experiment_template(
        &self,
        Parameters(args): Parameters<TemplateArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let name = args.name.as_deref().unwrap_or("quick");
        if !TEMPLATES.iter().any(|t| t.0 == name) {
            return Ok(refused(ApiError::invalid(format!(
                "name must be one of quick, full, canary; got {name:?}"
            ))));
        }
        Ok(CallToolResult::success(vec![ContentBlock::text(
            template_yaml(name),
        )]))
    }

    #[tool(
        description = "Checks an experiment against a dataset without running it: the engine's validation and the dataset's columns. Answers `valid` or every problem with its path (e.g. cv.n_splits).",
        annotations(read_only_hint = true)
    )]
    async fn validate_experiment(
        &self,
        Parameters(args): Parameters<ExperimentArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let user = caller(&ctx)?;
        answer(self.validate(&user, &args).await)
    }

    #[tool(
        description = "Queues an experiment on a dataset as a job (checked first, as validate_experiment does; counts toward your license's monthly jobs). Returns the job with its id and state.",
        annotations(destructive_hint = false, idempotent_hint = false)
    )]
    async fn submit_experiment(
        &self,
        Parameters(args): Parameters<SubmitArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let user = caller(&ctx)?;
        answer(self.submit(&user, &args).await)
    }

    #[tool(
        description = "A job's state (queued, running, succeeded, failed, cancelled), stage, progress, timestamps and, when it failed, why.",
        annotations(read_only_hint = true)
    )]
    async fn job_status(
        &self,
        Parameters(args): Parameters<JobArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let user = caller(&ctx)?;
        answer(
            self.job(&user, &args.job_id)
                .await
                .map(|j| json!(JobView::of(&j, false))),
        )
    }

    #[tool(
        description = "Your newest jobs, optionally only those in one state.",
        annotations(read_only_hint = true)
    )]
    async fn list_jobs(
        &self,
        Parameters(args): Parameters<ListJobsArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let user = caller(&ctx)?;
        answer(self.jobs(&user, &args).await)
    }

    #[tool(
        description = "The result of a succeeded job in TOON: target ranking with uncertainty and pairs that cannot be told apart, leakage findings, selected features, models, drift against a baseline.",
        annotations(read_only_hint = true)
    )]
    async fn job_summary(
        &self,
        Parameters(args): Parameters<JobArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let user = caller(&ctx)?;
        answer(match self.job(&user, &args.job_id).await {
            Ok(job) => jobs::summary_of(job),
            Err(e) => Err(e),
        })
    }
}

impl FoxMcp {
    async fn datasets(&self, user: &ApiUser) -> Result<Value, ApiError> {
        let mut conn = self.state.db.acquire().await?;
        let all = db::datasets::for_customer(&mut conn, user.customer_id).await?;
        Ok(json!({"datasets": all.iter().map(|d| DatasetView::of(d, None)).collect::<Vec<_>>()}))
    }

    async fn dataset(&self, user: &ApiUser, raw: &str) -> Result<db::datasets::Dataset, ApiError> {
        let id = parse_id("dataset_id", raw)?;
        let mut conn = self.state.db.acquire().await?;
        db::datasets::by_id(&mut conn, user.customer_id, id)
            .await?
            .ok_or_else(|| ApiError::not_found("dataset"))
    }

    async fn job(&self, user: &ApiUser, raw: &str) -> Result<db::jobs::Job, ApiError> {
        let id = parse_id("job_id", raw)?;
        let mut conn = self.state.db.acquire().await?;
        db::jobs::by_id(&mut conn, user.customer_id, id)
            .await?
            .ok_or_else(|| ApiError::not_found("job"))
    }

    async fn validate(&self, user: &ApiUser, args: &ExperimentArgs) -> Result<Value, ApiError> {
        let dataset = self.dataset(user, &args.dataset_id).await?;
        let experiment = jobs::prepare_experiment(
            &ExperimentInput::Yaml(args.experiment.clone()),
            &dataset,
            self.state.settings.jobs.max_experiment_bytes,
        )?;
        Ok(json!({"valid": true, "dataset": dataset.name, "experiment": experiment}))
    }

    async fn submit(&self, user: &ApiUser, args: &SubmitArgs) -> Result<Value, ApiError> {
        let req = SubmitRequest {
            dataset_id: parse_id("dataset_id", &args.dataset_id)?,
            experiment: ExperimentInput::Yaml(args.experiment.clone()),
            baseline_job_id: args
                .baseline_job_id
                .as_deref()
                .filter(|s| !s.trim().is_empty())
                .map(|s| parse_id("baseline_job_id", s))
                .transpose()?,
        };
        let key = args.idempotency_key.as_deref();
        let (job, replayed) =
            match jobs::submit(&self.state, user.customer_id, user.user.id, &req, key, None).await?
            {
                Submitted::Created(j) => (j, false),
                Submitted::Replayed(j) => (j, true),
            };
        let mut v = json!(JobView::of(&job, false));
        v["replayed"] = replayed.into();
        Ok(v)
    }

    async fn jobs(&self, user: &ApiUser, args: &ListJobsArgs) -> Result<Value, ApiError> {
        let filter = jobs::state_filter(args.state.as_deref())?;
        let limit = args.limit.unwrap_or(20);
        if !(1..=100).contains(&limit) {
            return Err(ApiError::invalid("limit must be between 1 and 100."));
        }
        let mut conn = self.state.db.acquire().await?;
        let page = db::jobs::list(&mut conn, user.customer_id, filter, None, limit).await?;
        Ok(json!({"jobs": page.iter().map(|j| JobView::of(j, false)).collect::<Vec<_>>()}))
    }
}

#[tool_handler]
impl ServerHandler for FoxMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("fox-ml", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Fox ML runs leakage-safe target ranking, feature selection and model training on \
                 your uploaded panel datasets. Typical flow: list_datasets → experiment_template → \
                 validate_experiment (fix each path it names) → submit_experiment (with an \
                 idempotency_key) → job_status until succeeded/failed → job_summary (TOON).",
            )
    }
}

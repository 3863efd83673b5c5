//! The research pages of the dashboard (one askama struct per page) and their row types.

use crate::site::pages::{Layout, SelectOption};
use askama::Template;

/// A dataset in the list.
pub struct DatasetRow {
    pub id: String,
    pub name: String,
    pub format: String,
    pub size: String,
    pub rows: String,
    pub columns: usize,
    pub columns_preview: String,
    pub uploaded: String,
    /// Jobs that used it (short ids, full ids).
    pub used_by: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "research_datasets.html")]
pub struct DatasetsPage {
    pub layout: Layout,
    pub csrf_token: String,
    pub datasets: Vec<DatasetRow>,
    pub notice: Option<String>,
    pub error: Option<String>,
    /// "Up to 5 GB per dataset" (or no limit).
    pub limit_text: String,
    /// The URL of the upload script (fingerprinted).
    pub script_url: String,
}

/// A job in a list.
pub struct JobRow {
    pub id: String,
    pub short_id: String,
    pub state: String,
    pub stage: String,
    pub progress_pct: u32,
    pub duration: String,
    pub submitted_by: String,
    pub created: String,
    pub dataset: String,
    pub can_cancel: bool,
    pub can_retry: bool,
}

#[derive(Template)]
#[template(path = "research_jobs.html")]
pub struct JobsPage {
    pub layout: Layout,
    pub csrf_token: String,
    pub jobs: Vec<JobRow>,
    pub state_options: Vec<SelectOption>,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub usage: UsageView,
}

/// What the account uses against its license.
#[derive(Default)]
pub struct UsageView {
    pub available: bool,
    pub tier: String,
    pub running: String,
    pub month: String,
    pub resets: String,
    pub max_dataset: String,
    /// Why jobs cannot run (no or inactive license), when they cannot.
    pub problem: Option<String>,
}

/// A column of the chosen dataset, offered as a target or a feature.
pub struct ColumnChoice {
    pub name: String,
    pub target: bool,
    pub feature: bool,
}

/// One problem of an experiment, with where it is.
pub struct ProblemView {
    pub path: String,
    pub message: String,
    /// The line of the editor the path points at, when it can be found.
    pub line: Option<usize>,
}

#[derive(Template)]
#[template(path = "research_new_job.html")]
pub struct NewJobPage {
    pub layout: Layout,
    pub csrf_token: String,
    pub datasets: Vec<SelectOption>,
    pub templates: Vec<SelectOption>,
    pub dataset_id: String,
    pub yaml: String,
    pub columns: Vec<ColumnChoice>,
    pub problems: Vec<ProblemView>,
    pub error: Option<String>,
    pub notice: Option<String>,
    pub usage: UsageView,
}

/// A stage the job went through.
pub struct StageRow {
    pub name: String,
    pub at: String,
    pub current: bool,
}

/// A file of the run directory.
pub struct ArtifactRow {
    pub path: String,
    pub href: String,
    pub size: String,
    pub sha256: String,
}

/// A row of a plain table (cells already formatted).
pub struct TableRow {
    pub cells: Vec<String>,
    pub class: String,
}

/// A chart with the table that says the same in numbers.
pub struct Figure {
    pub id: String,
    pub heading: String,
    pub note: String,
    pub svg: String,
    pub headers: Vec<String>,
    pub rows: Vec<TableRow>,
}

#[derive(Template)]
#[template(path = "research_job.html")]
pub struct JobPage {
    pub layout: Layout,
    pub csrf_token: String,
    pub job: JobRow,
    pub error: Option<String>,
    pub live: bool,
    pub timeline: Vec<StageRow>,
    pub log: Vec<String>,
    pub figures: Vec<Figure>,
    /// Plain-language notes on the ranking (targets that cannot be told apart).
    pub notes: Vec<String>,
    pub artifacts: Vec<ArtifactRow>,
    pub artifacts_note: Option<String>,
    pub compare_options: Vec<SelectOption>,
    pub script_url: String,
    /// The id of the last event the page shows (the live stream continues after it).
    pub last_event_id: i64,
}

#[derive(Template)]
#[template(path = "research_compare.html")]
pub struct ComparePage {
    pub layout: Layout,
    pub job_id: String,
    pub job_short: String,
    pub base_id: String,
    pub base_short: String,
    pub counts: String,
    pub rows: Vec<TableRow>,
}

/// One engine build offered for download.
pub struct BuildRow {
    pub name: String,
    pub platform: String,
    pub size: String,
    pub sha256: String,
}

#[derive(Template)]
#[template(path = "research_downloads.html")]
pub struct DownloadsPage {
    pub layout: Layout,
    pub artifacts: Vec<BuildRow>,
    /// Why nothing is offered (no active license), when nothing is.
    pub problem: Option<String>,
    pub public_url: String,
}

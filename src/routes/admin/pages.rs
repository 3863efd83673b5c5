//! The sales and admin pages (one askama struct per page).

use crate::db::admin::Overview;
use crate::site::pages::{Layout, SelectOption};
use askama::Template;

/// The staff header: who is signed in, which section is open, admin-only links.
pub struct StaffNav {
    pub email: String,
    pub is_admin: bool,
    pub current: &'static str,
    pub csrf_token: String,
}

#[derive(Template)]
#[template(path = "admin_overview.html")]
pub struct OverviewPage {
    pub layout: Layout,
    pub nav: StaffNav,
    pub overview: Overview,
    /// Job usage per customer (formatted cells).
    pub usage: Vec<Vec<String>>,
}

/// A lead row.
pub struct LeadRow {
    pub id: String,
    pub created: String,
    pub name: String,
    pub email: String,
    pub company: String,
    pub tier_name: String,
    pub team_size: String,
    pub status: String,
}

#[derive(Template)]
#[template(path = "admin_leads.html")]
pub struct LeadsPage {
    pub layout: Layout,
    pub nav: StaffNav,
    pub status_options: Vec<SelectOption>,
    pub q: String,
    pub leads: Vec<LeadRow>,
}

/// A note on a lead.
pub struct NoteView {
    pub author: String,
    pub at: String,
    pub body: String,
}

#[derive(Template)]
#[template(path = "admin_lead.html")]
pub struct LeadPage {
    pub layout: Layout,
    pub nav: StaffNav,
    pub lead: LeadRow,
    pub role: String,
    pub use_case: String,
    /// Statuses the lead may move to next.
    pub transitions: Vec<&'static str>,
    pub notes: Vec<NoteView>,
    pub note_body: String,
    pub note_error: Option<String>,
    pub notice: Option<&'static str>,
}

/// The issue-license form as typed.
#[derive(Debug, Default, serde::Deserialize)]
pub struct IssueInput {
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub company: String,
    #[serde(default)]
    pub tier: String,
    #[serde(default)]
    pub days: String,
}

/// Per-field errors of the issue-license form.
#[derive(Debug, Default)]
pub struct IssueErrors {
    pub email: Option<String>,
    pub name: Option<String>,
    pub company: Option<String>,
    pub tier: Option<String>,
    pub days: Option<String>,
    pub form: Option<String>,
}

impl IssueErrors {
    pub fn any(&self) -> bool {
        self.email.is_some()
            || self.name.is_some()
            || self.company.is_some()
            || self.tier.is_some()
            || self.days.is_some()
            || self.form.is_some()
    }
}

/// A license just issued: the key is shown this once.
pub struct IssuedView {
    pub license_id: String,
    pub email: String,
    pub tier_name: String,
    pub expires: String,
    pub key: String,
}

#[derive(Template)]
#[template(path = "admin_license_new.html")]
pub struct IssuePage {
    pub layout: Layout,
    pub nav: StaffNav,
    pub form: IssueInput,
    pub errors: IssueErrors,
    pub tier_options: Vec<SelectOption>,
    pub issued: Option<IssuedView>,
}

/// A license row of the admin list.
pub struct LicenseRow {
    pub id: String,
    pub email: String,
    pub company: String,
    pub tier_name: String,
    pub status: String,
    pub status_class: String,
    pub seats: String,
    pub expires: String,
    pub source: String,
}

#[derive(Template)]
#[template(path = "admin_licenses.html")]
pub struct LicensesPage {
    pub layout: Layout,
    pub nav: StaffNav,
    pub status_options: Vec<SelectOption>,
    pub q: String,
    pub licenses: Vec<LicenseRow>,
}

#[derive(Template)]
#[template(path = "admin_license.html")]
pub struct LicensePage {
    pub layout: Layout,
    pub nav: StaffNav,
    pub license: LicenseRow,
    pub reason: String,
    pub created: String,
    pub keys: String,
    pub can_suspend: bool,
    pub can_reinstate: bool,
    pub can_revoke: bool,
    pub can_extend: bool,
    pub notice: Option<&'static str>,
}

/// An audit log row.
pub struct AuditRow {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub details: String,
}

#[derive(Template)]
#[template(path = "admin_audit.html")]
pub struct AuditPage {
    pub layout: Layout,
    pub nav: StaffNav,
    pub entries: Vec<AuditRow>,
}

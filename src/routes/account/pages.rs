//! The account pages (one askama struct per page).

use crate::site::pages::Layout;
use askama::Template;

#[derive(Template)]
#[template(path = "account_login.html")]
pub struct LoginPage {
    pub layout: Layout,
    pub email: String,
    pub next: String,
    pub error: Option<String>,
    pub notice: Option<&'static str>,
    pub csrf_token: String,
}

/// Per-field errors of the password forms.
#[derive(Debug, Default)]
pub struct PasswordErrors {
    pub password: Option<String>,
    pub confirm: Option<String>,
    pub form: Option<String>,
}

/// Choosing a password from an emailed link (first password or reset).
#[derive(Template)]
#[template(path = "account_password.html")]
pub struct PasswordPage {
    pub layout: Layout,
    pub heading: &'static str,
    pub action: &'static str,
    pub token: String,
    /// `false` when the link is unknown, used or expired: the page says so instead.
    pub link_valid: bool,
    pub errors: PasswordErrors,
    pub csrf_token: String,
}

#[derive(Template)]
#[template(path = "account_reset.html")]
pub struct ResetPage {
    pub layout: Layout,
    pub email: String,
    pub email_error: Option<String>,
    pub form_error: Option<String>,
    /// The request was taken: the same confirmation whether or not the account exists.
    pub sent: bool,
    pub csrf_token: String,
}

/// A machine using a seat.
pub struct MachineView {
    pub id: String,
    pub name: String,
    pub fingerprint: String,
    pub activated: String,
    pub last_seen: String,
}

/// A license on the dashboard.
pub struct LicenseView {
    pub id: String,
    pub tier_name: String,
    pub status: String,
    pub status_class: String,
    pub reason: String,
    pub expires: String,
    pub seats_used: usize,
    pub seats: i32,
    pub machines: Vec<MachineView>,
    /// How many keys were issued (each stays valid), and when the latest was.
    pub keys: String,
    pub can_resend: bool,
}

/// An API token on the dashboard (never the token itself).
pub struct TokenView {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub created: String,
    pub last_used: String,
    pub revoked: Option<String>,
}

/// A token just created: the only time it is shown.
pub struct NewTokenView {
    pub name: String,
    pub token: String,
}

#[derive(Template)]
#[template(path = "account_dashboard.html")]
pub struct DashboardPage {
    pub layout: Layout,
    pub email: String,
    pub is_customer: bool,
    pub is_staff: bool,
    pub notice: Option<&'static str>,
    pub licenses: Vec<LicenseView>,
    pub tokens: Vec<TokenView>,
    pub new_token: Option<NewTokenView>,
    pub token_name: String,
    pub token_error: Option<String>,
    pub csrf_token: String,
}

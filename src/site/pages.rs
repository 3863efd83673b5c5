//! One askama struct per page; templates live in `templates/` and extend `base.html`.

use crate::domain::{LeadErrors, LeadInput};
use askama::Template;

/// Data every page's layout needs.
pub struct Layout {
    pub title: String,
    pub description: String,
    /// The active navigation item: `home`, `pricing`, `docs`, `request-access` or empty.
    pub nav: &'static str,
    pub css_url: String,
    pub favicon_url: String,
    pub canonical_url: String,
    pub year: i32,
}

#[derive(Template)]
#[template(path = "home.html")]
pub struct HomePage {
    pub layout: Layout,
}

/// A pricing card.
pub struct TierCard {
    pub id: String,
    pub name: String,
    pub tagline: String,
    pub price_label: String,
    pub interval_label: String,
    pub seats_label: String,
    pub features: Vec<String>,
    pub cta_label: String,
    pub cta_href: String,
    /// The button posts a CSRF-protected form to start Stripe Checkout.
    pub checkout: bool,
    pub highlighted: bool,
}

/// A row of the comparison table: a label and one value per tier.
pub struct ComparisonRow {
    pub label: String,
    pub values: Vec<String>,
}

#[derive(Template)]
#[template(path = "pricing.html")]
pub struct PricingPage {
    pub layout: Layout,
    pub tiers: Vec<TierCard>,
    pub comparison: Vec<ComparisonRow>,
    pub checkout_available: bool,
    /// The visitor's CSRF token (a placeholder in the pre-rendered page, filled per request).
    pub csrf_token: String,
}

/// An `<option>` of a select.
pub struct SelectOption {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "request_access.html")]
pub struct RequestAccessPage {
    pub layout: Layout,
    pub form: LeadInput,
    pub errors: LeadErrors,
    pub csrf_token: String,
    pub tier_options: Vec<SelectOption>,
    pub team_size_options: Vec<SelectOption>,
}

#[derive(Template)]
#[template(path = "request_access_done.html")]
pub struct RequestAccessDonePage {
    pub layout: Layout,
    pub first_name: String,
}

/// A link in the docs sidebar.
pub struct SidebarLink {
    pub href: String,
    pub title: String,
    pub current: bool,
}

/// A group of links in the docs sidebar.
pub struct SidebarSection {
    pub title: String,
    pub pages: Vec<SidebarLink>,
}

/// A prev/next link.
pub struct PageLink {
    pub href: String,
    pub title: String,
}

#[derive(Template)]
#[template(path = "docs.html")]
pub struct DocsPage {
    pub layout: Layout,
    pub title: String,
    pub section: String,
    pub body_html: String,
    pub toc: Vec<super::docs::TocEntry>,
    pub sidebar: Vec<SidebarSection>,
    pub prev: Option<PageLink>,
    pub next: Option<PageLink>,
}

#[derive(Template)]
#[template(path = "docs_index.html")]
pub struct DocsIndexPage {
    pub layout: Layout,
    pub sidebar: Vec<SidebarSection>,
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub layout: Layout,
    pub status: u16,
    pub heading: String,
    pub message: String,
}

/// What the checkout success page shows.
#[derive(Template)]
#[template(path = "checkout_success.html")]
pub struct CheckoutSuccessPage {
    pub layout: Layout,
    /// `issued` (key shown now, new account), `sent` (issued now for an existing account: key
    /// and sign-in link only emailed), `active` (fulfilled before: key was emailed) or `pending`.
    pub outcome: &'static str,
    /// The address the key went to (as typed at checkout), for `sent`.
    pub email: String,
    pub tier_name: String,
    pub license_id: String,
    pub expires: String,
    pub key: String,
    pub set_password_url: String,
}

/// The options of a status filter: "Any status" then each status, `selected` marked.
pub fn status_filter(all: &[&str], selected: Option<&str>) -> Vec<SelectOption> {
    let mut options = vec![SelectOption {
        value: String::new(),
        label: "Any status".into(),
        selected: selected.is_none(),
    }];
    options.extend(all.iter().map(|s| SelectOption {
        value: s.to_string(),
        label: s.to_string(),
        selected: Some(*s) == selected,
    }));
    options
}

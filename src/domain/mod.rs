//! Validated domain types: once constructed, a value is known to be well-formed.

mod email;
mod lead;
mod status;

pub use email::{AccountEmail, EmailAddress};
pub use status::{
    DatasetFormat, EventKind, IssueSource, JobState, LeadStatus, LicenseStatus, Role,
};

pub use lead::{LeadErrors, LeadInput, NewLead, TEAM_SIZES};

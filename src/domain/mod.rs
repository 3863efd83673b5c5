//! Validated domain types: once constructed, a value is known to be well-formed.

mod email;
mod lead;

pub use email::EmailAddress;
pub use lead::{LeadErrors, LeadInput, NewLead, TEAM_SIZES};

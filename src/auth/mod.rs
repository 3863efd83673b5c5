//! Authentication and authorisation: password hashing and policy, login sessions, and the
//! extractors that guard pages by login and role.

pub mod api;
pub mod forms;
pub mod guard;
pub mod password;
pub mod session;

pub use guard::{AdminUser, CurrentUser, MaybeUser, RequireRole, StaffUser};

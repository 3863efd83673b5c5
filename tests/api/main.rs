//! The integration tests, in one binary (the crate is linked once, not once per file), one
//! module per area. Each test starts the real application on a fresh PostgreSQL database
//! (`helpers::spawn_app`). `tests/logging.rs` is the only other binary: it installs the
//! process-wide log subscriber.

mod helpers;

mod accounts;
mod admin;
mod browser;
mod checkout;
mod cli;
mod clients;
mod config;
mod docs_examples;
mod jobs;
mod leads;
mod license_api;
mod lifecycle;
mod mcp;
mod packaging;
mod research;
mod site;
mod webhooks;
mod workers;

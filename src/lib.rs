//! Fox ML Infrastructure: the web platform around the `fox-engine`.

pub mod auth;
pub mod cli;
pub mod commerce;
pub mod config;
pub mod db;
pub mod domain;
pub mod email;
pub mod error;
pub mod jobs;
pub mod license;
pub mod middleware;
pub mod routes;
pub mod security;
pub mod site;
pub mod startup;
pub mod state;
pub mod storage;
pub mod telemetry;

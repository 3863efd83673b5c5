//! The state shared by all handlers.

use crate::config::{Environment, Settings};
use crate::email::Mailer;
use crate::jobs::events::EventHub;
use crate::license::Signer;
use crate::security::TrustedProxies;
use crate::security::csrf::Csrf;
use crate::security::rate_limit::Limiters;
use crate::site::Site;
use crate::site::render::Prerendered;
use crate::storage::Store;
use sqlx::PgPool;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use tokio::sync::Notify;

/// Cheap to clone: everything is behind one `Arc`.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub db: PgPool,
    pub settings: Settings,
    pub environment: Environment,
    pub site: Site,
    /// Pages rendered at start-up.
    pub pages: Prerendered,
    pub csrf: Csrf,
    pub mailer: Arc<Mailer>,
    /// Every rate limiter (leads, sign-ins, the license API).
    pub limits: Arc<Limiters>,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: TrustedProxies,
    /// Set on SIGTERM: `/readyz` answers 503 and responses close their connections.
    pub draining: AtomicBool,
    /// Datasets and job artifacts.
    pub store: Store,
    /// Live job events for followers.
    pub job_events: EventHub,
    /// Dataset uploads in progress per account.
    pub uploads: crate::jobs::datasets::UploadSlots,
    /// The OpenAPI description of `/api/v1` (served at `/api/v1/openapi.json`).
    pub openapi: Arc<serde_json::Value>,
    /// Issues and verifies license keys.
    pub signer: Signer,
    /// License lookups for the validation API, dropped on every license change.
    pub license_cache: Arc<crate::license::cache::LicenseCache>,
    /// The Stripe client; `None` when Stripe is not configured (checkout unavailable).
    pub stripe: Option<stripe::Client>,
    /// Wakes the outbox worker after a message is queued.
    pub outbox_wake: Arc<Notify>,
}

impl AppState {
    pub fn new(inner: Inner) -> Self {
        Self(Arc::new(inner))
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

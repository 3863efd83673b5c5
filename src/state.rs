//! The state shared by all handlers.

use crate::config::{Environment, Settings};
use crate::email::Mailer;
use crate::license::Signer;
use crate::routes::Prerendered;
use crate::security::csrf::Csrf;
use crate::security::rate_limit::RateLimiter;
use crate::site::Site;
use sqlx::PgPool;
use std::sync::Arc;
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
    pub lead_limiter: RateLimiter,
    /// Login and password-reset attempts.
    pub login_limiter: RateLimiter,
    /// License API calls per client address and per key.
    pub license_ip_limiter: RateLimiter,
    pub license_key_limiter: RateLimiter,
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

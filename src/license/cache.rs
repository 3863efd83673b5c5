//! A cache of license lookups for the validation API (keyed by the key's lookup hash), so
//! that a validation is usually answered without a database round trip or a signature check.
//!
//! Correctness: PostgreSQL triggers NOTIFY `fox_license_changed` after every change to
//! licenses, keys or machines; each server LISTENs and drops its cache ([`listen`]). A
//! generation counter keeps a lookup that raced with a change from storing a stale answer,
//! and entries expire after a short TTL in case notifications were missed while reconnecting.

use crate::db::licenses::{License, Machine};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most entries kept; past that the cache starts over.
const MAX_ENTRIES: usize = 100_000;
/// Channel the database notifies on.
pub const CHANNEL: &str = "fox_license_changed";

/// What a key resolved to.
#[derive(Debug, Clone)]
pub enum Cached {
    /// Not a usable key (bad signature, malformed, unregistered): why.
    Invalid(super::validate::Problem),
    /// The key's license and its active machines.
    Found(License, Vec<Machine>),
}

struct Inner {
    generation: u64,
    entries: HashMap<Vec<u8>, (Instant, Cached)>,
}

pub struct LicenseCache {
    ttl: Duration,
    inner: Mutex<Inner>,
}

impl LicenseCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            inner: Mutex::new(Inner {
                generation: 0,
                entries: HashMap::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached answer, if fresh, and the generation to pass to [`Self::put`] otherwise.
    pub fn get(&self, key_hash: &[u8]) -> Result<Cached, u64> {
        let g = self.lock();
        match g.entries.get(key_hash) {
            Some((at, v)) if at.elapsed() < self.ttl => Ok(v.clone()),
            _ => Err(g.generation),
        }
    }

    /// Stores an answer read at `generation`; ignored if the cache was cleared since.
    pub fn put(&self, key_hash: Vec<u8>, generation: u64, value: Cached) {
        let mut g = self.lock();
        if g.generation != generation {
            return;
        }
        if g.entries.len() >= MAX_ENTRIES {
            g.entries.clear();
        }
        g.entries.insert(key_hash, (Instant::now(), value));
    }

    /// Drops everything (a license, key or machine changed somewhere).
    pub fn clear(&self) {
        let mut g = self.lock();
        g.generation += 1;
        g.entries.clear();
    }
}

/// Listens for change notifications and clears `cache` on each; reconnects on errors.
pub async fn listen(pool: sqlx::PgPool, cache: std::sync::Arc<LicenseCache>) {
    loop {
        match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(mut listener) => {
                if let Err(e) = listener.listen(CHANNEL).await {
                    tracing::warn!(error = %e, "cannot listen for license changes; retrying");
                } else {
                    // Anything may have changed while we were not listening.
                    cache.clear();
                    loop {
                        match listener.recv().await {
                            Ok(_) => cache.clear(),
                            Err(e) => {
                                tracing::warn!(error = %e, "license change listener lost; reconnecting");
                                break;
                            }
                        }
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot connect the license change listener; retrying")
            }
        }
        cache.clear();
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::license::validate::{Code, Problem};

    fn not_found() -> Problem {
        Problem {
            code: Code::NotFound,
            detail: String::new(),
        }
    }

    #[test]
    fn a_put_that_raced_with_a_clear_is_dropped() {
        let c = LicenseCache::new(Duration::from_secs(60));
        let g = c.get(b"k").unwrap_err();
        c.clear();
        c.put(b"k".to_vec(), g, Cached::Invalid(not_found()));
        assert!(c.get(b"k").is_err(), "stale answer not stored");
        let g = c.get(b"k").unwrap_err();
        c.put(b"k".to_vec(), g, Cached::Invalid(not_found()));
        assert!(matches!(c.get(b"k"), Ok(Cached::Invalid(p)) if p.code == Code::NotFound));
    }

    #[test]
    fn entries_expire() {
        let c = LicenseCache::new(Duration::from_millis(0));
        let g = c.get(b"k").unwrap_err();
        c.put(b"k".to_vec(), g, Cached::Invalid(not_found()));
        assert!(c.get(b"k").is_err());
    }
}

//! An in-memory fixed-window rate limiter keyed by client (e.g. an IP address).

use crate::config::RateLimitRule;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Windows are forgotten once this many keys are tracked and theirs have ended.
const SWEEP_AT: usize = 10_000;

pub struct RateLimiter {
    rule: RateLimitRule,
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

impl RateLimiter {
    pub fn new(rule: RateLimitRule) -> Self {
        Self {
            rule,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one request for `key`; `Err(seconds)` tells how long until it may retry.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        let q = self.check_at(key, Instant::now());
        if q.allowed { Ok(()) } else { Err(q.reset_secs) }
    }

    /// Counts one request for `key` and reports the quota (for `X-RateLimit-*` headers).
    pub fn quota(&self, key: &str) -> Quota {
        self.check_at(key, Instant::now())
    }

    fn check_at(&self, key: &str, now: Instant) -> Quota {
        let window = Duration::from_secs(self.rule.window_secs);
        let mut map = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= SWEEP_AT {
            map.retain(|_, (start, _)| now.duration_since(*start) < window);
        }
        let entry = map.entry(key.to_string()).or_insert((now, 0));
        if now.duration_since(entry.0) >= window {
            *entry = (now, 0);
        }
        let reset_secs = window
            .saturating_sub(now.duration_since(entry.0))
            .as_secs()
            .max(1);
        let allowed = entry.1 < self.rule.max_requests;
        if allowed {
            entry.1 += 1;
        }
        Quota {
            allowed,
            limit: self.rule.max_requests,
            remaining: self.rule.max_requests - entry.1,
            reset_secs,
        }
    }
}

/// The state of one client's window after counting a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the window resets.
    pub reset_secs: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_key_and_resets_after_the_window() {
        let rl = RateLimiter::new(RateLimitRule {
            max_requests: 2,
            window_secs: 60,
        });
        let t0 = Instant::now();
        assert!(rl.check_at("a", t0).allowed);
        let q = rl.check_at("a", t0);
        assert!(q.allowed && q.remaining == 0 && q.limit == 2);
        let denied = rl.check_at("a", t0 + Duration::from_secs(10));
        assert!(!denied.allowed && denied.reset_secs == 50 && denied.remaining == 0);
        assert!(rl.check_at("b", t0).allowed);
        assert!(rl.check_at("a", t0 + Duration::from_secs(60)).allowed);
    }
}

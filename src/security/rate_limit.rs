//! In-memory fixed-window rate limiters keyed by client (an IP address, a key's hash, an
//! (address, account) pair), whose cost does not grow with what an attacker sends:
//!
//! - Windows live in two generations of one window length each. A key is looked up in the
//!   current generation, then the previous one (moved forward when its window is still open).
//!   When a generation ends, the previous map is dropped whole: every window in it started at
//!   least one window length ago, so nothing live is lost, and no request ever scans a map.
//! - Each generation holds at most `max_keys` keys. Past that, new keys are not tracked
//!   (their requests pass this limiter; the overflow is counted and logged in aggregate), so
//!   a flood of distinct keys costs bounded memory and O(1) per request.
//! - Callers check the cheap, coarse limiter first and do not record requests it refused.
//! - Refusals are counted, not logged one by one: [`report_refusals`] writes one line per
//!   limiter and period.

use crate::config::{RateLimitRule, RateLimitSettings};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Keys tracked per generation by default.
pub const MAX_KEYS: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    count: u32,
}

struct Generations {
    /// When the current generation started.
    started: Instant,
    current: HashMap<Box<str>, Window>,
    previous: HashMap<Box<str>, Window>,
}

pub struct RateLimiter {
    /// Names the limiter in the aggregated log line.
    name: &'static str,
    rule: RateLimitRule,
    max_keys: usize,
    inner: Mutex<Generations>,
    refused: AtomicU64,
    untracked: AtomicU64,
}

/// Every limiter of the server.
pub struct Limiters {
    /// Request Access submissions per client address.
    pub leads: RateLimiter,
    /// Failed sign-ins per (client address, account); reset requests per client address.
    pub login_pair: RateLimiter,
    /// Failed sign-ins per client address.
    pub login_ip: RateLimiter,
    /// Failed sign-ins per account (slows sign-ins down); reset emails per account.
    pub login_account: RateLimiter,
    /// License API calls per client address, then per key.
    pub license_ip: RateLimiter,
    pub license_key: RateLimiter,
}

impl Limiters {
    pub fn new(r: &RateLimitSettings) -> Self {
        Self {
            leads: RateLimiter::new("leads", r.leads),
            login_pair: RateLimiter::new("login", r.login),
            login_ip: RateLimiter::new("login_per_ip", r.login_per_ip),
            login_account: RateLimiter::new("login_per_account", r.login_per_account),
            license_ip: RateLimiter::new("license_api_per_ip", r.license_api_per_ip),
            license_key: RateLimiter::new("license_api_per_key", r.license_api_per_key),
        }
    }

    fn all(&self) -> [&RateLimiter; 6] {
        [
            &self.leads,
            &self.login_pair,
            &self.login_ip,
            &self.login_account,
            &self.license_ip,
            &self.license_key,
        ]
    }
}

/// The state of one client's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub allowed: bool,
    pub limit: u32,
    /// Requests (or events) counted in the window.
    pub used: u32,
    pub remaining: u32,
    /// Seconds until the window resets.
    pub reset_secs: u64,
}

impl RateLimiter {
    pub fn new(name: &'static str, rule: RateLimitRule) -> Self {
        Self::with_capacity(name, rule, MAX_KEYS)
    }

    pub fn with_capacity(name: &'static str, rule: RateLimitRule, max_keys: usize) -> Self {
        Self {
            name,
            rule,
            max_keys,
            inner: Mutex::new(Generations {
                started: Instant::now(),
                current: HashMap::new(),
                previous: HashMap::new(),
            }),
            refused: AtomicU64::new(0),
            untracked: AtomicU64::new(0),
        }
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Counts one request for `key` if it is allowed; `Err(seconds)` tells how long until
    /// it may retry.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        let q = self.hit_at(key, Instant::now());
        if q.allowed { Ok(()) } else { Err(q.reset_secs) }
    }

    /// Counts one request for `key` if it is allowed and reports the quota (for
    /// `X-RateLimit-*` headers). A refused request is not counted.
    pub fn hit(&self, key: &str) -> Quota {
        self.hit_at(key, Instant::now())
    }

    /// The quota of `key` without counting anything (e.g. before checking a password).
    pub fn peek(&self, key: &str) -> Quota {
        self.peek_at(key, Instant::now())
    }

    /// Counts one event for `key` whatever its state (e.g. a failed login).
    pub fn record(&self, key: &str) {
        self.record_at(key, Instant::now());
    }

    /// Forgets `key` (e.g. after a successful login from that address for that account).
    pub fn forget(&self, key: &str) {
        let mut g = self.lock();
        g.current.remove(key);
        g.previous.remove(key);
    }

    /// Counts a request refused by the caller on this limiter's account (for the aggregate).
    pub fn note_refusal(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }

    /// Refused and untracked requests since the last call, resetting both counters.
    pub fn take_counts(&self) -> (u64, u64) {
        (
            self.refused.swap(0, Ordering::Relaxed),
            self.untracked.swap(0, Ordering::Relaxed),
        )
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Generations> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn window(&self) -> Duration {
        Duration::from_secs(self.rule.window_secs)
    }

    fn quota(&self, w: Option<Window>, now: Instant, allowed: bool) -> Quota {
        let count = w.map_or(0, |w| w.count);
        let reset = w.map_or(self.window(), |w| {
            self.window().saturating_sub(now.duration_since(w.start))
        });
        Quota {
            allowed,
            limit: self.rule.max_requests,
            used: count,
            remaining: self.rule.max_requests.saturating_sub(count),
            reset_secs: reset.as_secs().max(1),
        }
    }

    /// The live window of `key`, moved into the current generation; `None` when it has none.
    /// Rotates generations first; the map that falls out is returned to be dropped after the
    /// lock is released.
    fn live(
        &self,
        g: &mut Generations,
        key: &str,
        now: Instant,
        dropped: &mut Vec<HashMap<Box<str>, Window>>,
    ) -> Option<Window> {
        let window = self.window();
        let age = now.saturating_duration_since(g.started);
        if age >= window {
            // Every window in the previous generation started before the current one did,
            // so all have ended now; after two lengths the current one's have too.
            let current = std::mem::take(&mut g.current);
            dropped.push(std::mem::take(&mut g.previous));
            if age < window * 2 {
                g.previous = current;
            } else {
                dropped.push(current);
            }
            g.started = now;
        }
        let live = |w: &Window| now.saturating_duration_since(w.start) < window;
        if let Some(w) = g.current.get(key) {
            return live(w).then_some(*w);
        }
        let w = g.previous.remove(key).filter(live)?;
        g.current.insert(key.into(), w);
        Some(w)
    }

    fn peek_at(&self, key: &str, now: Instant) -> Quota {
        let mut dropped = Vec::new();
        let mut g = self.lock();
        let w = self.live(&mut g, key, now, &mut dropped);
        drop(g);
        let allowed = w.is_none_or(|w| w.count < self.rule.max_requests);
        self.quota(w, now, allowed)
    }

    fn hit_at(&self, key: &str, now: Instant) -> Quota {
        let mut dropped = Vec::new();
        let mut g = self.lock();
        let w = self.live(&mut g, key, now, &mut dropped);
        let allowed = w.is_none_or(|w| w.count < self.rule.max_requests);
        let after = if allowed {
            self.count_one(&mut g, key, w, now)
        } else {
            w
        };
        drop(g);
        if !allowed {
            self.refused.fetch_add(1, Ordering::Relaxed);
        }
        self.quota(after, now, allowed)
    }

    fn record_at(&self, key: &str, now: Instant) {
        let mut dropped = Vec::new();
        let mut g = self.lock();
        let w = self.live(&mut g, key, now, &mut dropped);
        self.count_one(&mut g, key, w, now);
    }

    /// Adds one to `key`'s window (opening one when it has none live); the new window.
    fn count_one(
        &self,
        g: &mut Generations,
        key: &str,
        w: Option<Window>,
        now: Instant,
    ) -> Option<Window> {
        let next = match w {
            Some(w) => Window {
                count: w.count.saturating_add(1),
                ..w
            },
            None if g.current.len() >= self.max_keys => {
                self.untracked.fetch_add(1, Ordering::Relaxed);
                return None;
            }
            None => Window {
                start: now,
                count: 1,
            },
        };
        g.current.insert(key.into(), next);
        Some(next)
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        let g = self.lock();
        g.current.len() + g.previous.len()
    }
}

/// Writes one log line per limiter every `period` with the number of requests it refused
/// (and could not track), instead of one line per refusal. Runs forever.
pub async fn report_refusals(limits: std::sync::Arc<Limiters>, period: Duration) {
    let mut tick = tokio::time::interval(period);
    tick.tick().await;
    loop {
        tick.tick().await;
        log_refusals(&limits, period);
    }
}

/// One aggregate line per limiter that refused or could not track requests since the last
/// call.
pub fn log_refusals(limits: &Limiters, period: Duration) {
    for l in limits.all() {
        let (refused, untracked) = l.take_counts();
        if refused > 0 || untracked > 0 {
            tracing::warn!(
                limiter = l.name(),
                refused,
                untracked,
                period_secs = period.as_secs(),
                "requests refused by rate limits"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rule(max_requests: u32, window_secs: u64) -> RateLimitRule {
        RateLimitRule {
            max_requests,
            window_secs,
        }
    }

    #[test]
    fn limits_per_key_and_resets_after_the_window() {
        let rl = RateLimiter::new("t", rule(2, 60));
        let t0 = Instant::now();
        assert!(rl.hit_at("a", t0).allowed);
        let q = rl.hit_at("a", t0);
        assert!(q.allowed && q.remaining == 0 && q.limit == 2);
        let denied = rl.hit_at("a", t0 + Duration::from_secs(10));
        assert!(!denied.allowed && denied.reset_secs == 50 && denied.remaining == 0);
        assert!(rl.hit_at("b", t0).allowed);
        assert!(rl.hit_at("a", t0 + Duration::from_secs(60)).allowed);
        assert_eq!(rl.take_counts(), (1, 0));
    }

    #[test]
    fn peek_counts_nothing_and_record_counts_regardless() {
        let rl = RateLimiter::new("t", rule(2, 60));
        let t0 = Instant::now();
        for _ in 0..5 {
            assert!(rl.peek_at("a", t0).allowed);
        }
        rl.record_at("a", t0);
        rl.record_at("a", t0);
        rl.record_at("a", t0);
        let q = rl.peek_at("a", t0);
        assert!(!q.allowed && q.remaining == 0);
        rl.forget("a");
        assert!(rl.peek_at("a", t0).allowed);
    }

    #[test]
    fn keys_past_the_bound_are_not_tracked_and_generations_expire_whole() {
        let rl = RateLimiter::with_capacity("t", rule(1, 60), 100);
        let t0 = Instant::now();
        for i in 0..1000 {
            assert!(rl.hit_at(&format!("k{i}"), t0).allowed);
        }
        assert_eq!(rl.tracked(), 100, "bounded");
        assert_eq!(rl.take_counts(), (0, 900));
        // A tracked key is still limited.
        assert!(!rl.hit_at("k1", t0).allowed);
        // Two window lengths later both generations are gone.
        assert!(rl.hit_at("fresh", t0 + Duration::from_secs(121)).allowed);
        assert_eq!(rl.tracked(), 1);
    }

    /// The plain limiter this one must behave like: one window per key in one map that is
    /// never pruned.
    struct Plain {
        rule: RateLimitRule,
        map: HashMap<String, Window>,
    }

    impl Plain {
        fn hit(&mut self, key: &str, now: Instant) -> bool {
            let window = Duration::from_secs(self.rule.window_secs);
            let w = self.map.entry(key.into()).or_insert(Window {
                start: now,
                count: 0,
            });
            if now.duration_since(w.start) >= window {
                *w = Window {
                    start: now,
                    count: 0,
                };
            }
            let allowed = w.count < self.rule.max_requests;
            if allowed {
                w.count += 1;
            }
            allowed
        }
    }

    proptest! {
        /// Under the key bound, the generational limiter answers exactly like the plain one
        /// for any sequence of keys and (non-decreasing) times.
        #[test]
        fn generations_equal_one_unpruned_map(
            steps in proptest::collection::vec((0u8..6, 0u64..40_000), 1..300),
            max in 1u32..5,
            window_secs in 1u64..20,
        ) {
            let r = rule(max, window_secs);
            let fast = RateLimiter::new("t", r);
            let mut plain = Plain { rule: r, map: HashMap::new() };
            let t0 = Instant::now();
            let mut now = t0;
            for (key, dt_ms) in steps {
                now += Duration::from_millis(dt_ms);
                let k = format!("k{key}");
                prop_assert_eq!(fast.hit_at(&k, now).allowed, plain.hit(&k, now));
            }
        }
    }
}

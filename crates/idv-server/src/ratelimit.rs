//! Rate limits (`rateLimit`, Regula's keys and defaults): three profiles, `s` (10 a minute) for
//! logins and minting credentials, `m` (100) for other writes and `l` (1000) for reads, each a
//! fixed window per key. A request must pass both the limit of its credential (principal id)
//! and that of its client address (the TCP peer; `X-Forwarded-For` is not trusted); public
//! routes count per address only. Each route's profile (or its exemption: health, readiness,
//! the OpenAPI document and asset content) is declared in its row of the route table
//! ([`crate::routes::table`]).
//!
//! Answers carry `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (seconds; the
//! IETF draft's names) for the tighter of the two limits; over a limit the answer is 429
//! `rate_limited` with `Retry-After`.
//!
//! Counting is in memory, per process: with several `idv serve` instances behind a load
//! balancer each counts on its own, so a client may get up to the limit from each. Memory is
//! bounded: a table that grows past [`MAX_KEYS`] first drops idle keys (whose window ended);
//! if every key is still active it is emptied (those keys start counting afresh) rather than
//! grow without end.

pub use crate::config::ratelimit::{ProfileConfig, Profiles, RateLimitConfig};
use crate::config::scheduler::Period;
use crate::error::ApiError;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use idv_core::ErrorCode;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

/// A rate-limit profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    S,
    M,
    L,
}

impl Profile {
    pub fn name(self) -> &'static str {
        match self {
            Profile::S => "s",
            Profile::M => "m",
            Profile::L => "l",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Keys per table before idle ones are dropped (one table per profile and kind of key, in
/// [`SHARDS`] shards).
pub(crate) const MAX_KEYS: usize = 100_000;
const SHARDS: usize = 8;

#[derive(Clone, Copy)]
struct Counter {
    /// Milliseconds since the limiter started.
    start: u64,
    count: u64,
}

struct Table<K> {
    hasher: RandomState,
    shards: Vec<Mutex<HashMap<K, Counter>>>,
}

impl<K: Hash + Eq> Table<K> {
    fn new() -> Self {
        Self {
            hasher: RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    fn shard<Q: Hash + ?Sized>(&self, key: &Q) -> &Mutex<HashMap<K, Counter>> {
        &self.shards[(self.hasher.hash_one(key) as usize) % SHARDS]
    }
}

/// The state of one limit after counting a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub limit: u64,
    pub remaining: u64,
    /// Seconds until the window ends (at least 1).
    pub reset: u64,
    pub(crate) exceeded: bool,
}

/// What was limited, for the message of a 429.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Subject {
    Credential,
    Address,
}

/// The limiter of one process.
pub(crate) struct RateLimiter {
    enabled: bool,
    /// (window ms, limit) by profile.
    profiles: [(u64, u64); 3],
    started: Instant,
    by_addr: [Table<IpAddr>; 3],
    by_principal: [Table<String>; 3],
}

impl RateLimiter {
    pub fn new(config: &RateLimitConfig) -> Self {
        let p = |c: &ProfileConfig| (c.window.seconds().max(1) * 1000, c.limit.max(1));
        Self {
            enabled: config.enabled,
            profiles: [
                p(&config.profiles.s),
                p(&config.profiles.m),
                p(&config.profiles.l),
            ],
            started: Instant::now(),
            by_addr: [Table::new(), Table::new(), Table::new()],
            by_principal: [Table::new(), Table::new(), Table::new()],
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    fn now(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Counts a request of `profile` from address `addr`.
    pub(crate) fn check_addr(&self, profile: Profile, addr: IpAddr) -> Quota {
        let table = &self.by_addr[profile.index()];
        let mut shard = table.shard(&addr).lock().expect("rate limit table");
        self.count(profile, &mut shard, &addr, || addr)
    }

    /// Counts a request of `profile` by the principal `id`.
    pub(crate) fn check_principal(&self, profile: Profile, id: &str) -> Quota {
        let table = &self.by_principal[profile.index()];
        let mut shard = table.shard(id).lock().expect("rate limit table");
        self.count(profile, &mut shard, id, || id.to_owned())
    }

    fn count<K, Q>(
        &self,
        profile: Profile,
        shard: &mut HashMap<K, Counter>,
        key: &Q,
        owned: impl FnOnce() -> K,
    ) -> Quota
    where
        K: Hash + Eq + std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (window, limit) = self.profiles[profile.index()];
        let now = self.now();
        if !shard.contains_key(key) {
            if shard.len() >= MAX_KEYS / SHARDS {
                shard.retain(|_, c| now.saturating_sub(c.start) < window);
                if shard.len() >= MAX_KEYS / SHARDS {
                    shard.clear();
                }
            }
            shard.insert(
                owned(),
                Counter {
                    start: now,
                    count: 0,
                },
            );
        }
        let Some(counter) = shard.get_mut(key) else {
            // Just inserted; a key whose Hash and Eq disagree would end up here: let it pass.
            return Quota {
                limit,
                remaining: limit,
                reset: window.div_ceil(1000),
                exceeded: false,
            };
        };
        if now.saturating_sub(counter.start) >= window {
            *counter = Counter {
                start: now,
                count: 0,
            };
        }
        let reset = (counter.start + window)
            .saturating_sub(now)
            .div_ceil(1000)
            .max(1);
        if counter.count >= limit {
            return Quota {
                limit,
                remaining: 0,
                reset,
                exceeded: true,
            };
        }
        counter.count += 1;
        Quota {
            limit,
            remaining: limit - counter.count,
            reset,
            exceeded: false,
        }
    }
}

/// The tighter of two quotas (fewer remaining; then the later reset).
pub fn tighter(a: Option<Quota>, b: Quota) -> Quota {
    match a {
        Some(a)
            if (a.remaining, std::cmp::Reverse(a.reset))
                < (b.remaining, std::cmp::Reverse(b.reset)) =>
        {
            a
        }
        _ => b,
    }
}

/// Sets the `RateLimit-*` headers of `quota`.
pub(crate) fn set_headers(headers: &mut HeaderMap, quota: &Quota) {
    headers.insert("ratelimit-limit", HeaderValue::from(quota.limit));
    headers.insert("ratelimit-remaining", HeaderValue::from(quota.remaining));
    headers.insert("ratelimit-reset", HeaderValue::from(quota.reset));
}

/// The 429 answer for an exceeded quota.
pub(crate) fn too_many(
    profile: Profile,
    subject: Subject,
    quota: &Quota,
    window: Period,
) -> Response {
    let who = match subject {
        Subject::Credential => "these credentials",
        Subject::Address => "this client address",
    };
    let mut resp = ApiError::new(
        ErrorCode::RateLimited,
        format!(
            "rate limit of profile `{}` ({} requests per {}) reached for {who}; retry after {} s",
            profile.name(),
            quota.limit,
            serde_json::to_value(window)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            quota.reset
        ),
    )
    .into_response();
    set_headers(resp.headers_mut(), quota);
    resp.headers_mut()
        .insert("retry-after", HeaderValue::from(quota.reset));
    resp
}

impl RateLimitConfig {
    /// The window of `profile`, for messages.
    pub fn window(&self, profile: Profile) -> Period {
        match profile {
            Profile::S => self.profiles.s.window,
            Profile::M => self.profiles.m.window,
            Profile::L => self.profiles.l.window,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(limit: u64) -> RateLimiter {
        let p = ProfileConfig {
            window: Period(60),
            limit,
        };
        RateLimiter::new(&RateLimitConfig {
            enabled: true,
            profiles: Profiles {
                s: p.clone(),
                m: p.clone(),
                l: p,
            },
        })
    }

    #[test]
    fn counts_down_then_refuses_per_key_and_profile() {
        let l = limiter(2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let q = l.check_addr(Profile::L, a);
        assert_eq!((q.remaining, q.exceeded, q.limit), (1, false, 2));
        assert!(q.reset >= 59 && q.reset <= 60, "{q:?}");
        assert_eq!(l.check_addr(Profile::L, a).remaining, 0);
        assert!(l.check_addr(Profile::L, a).exceeded);
        assert!(!l.check_addr(Profile::L, b).exceeded, "another address");
        assert!(!l.check_addr(Profile::M, a).exceeded, "another profile");
        assert!(!l.check_principal(Profile::L, "k1").exceeded);
        assert!(!l.check_principal(Profile::L, "k1").exceeded);
        assert!(l.check_principal(Profile::L, "k1").exceeded);
        assert!(!l.check_principal(Profile::L, "k2").exceeded);
    }

    #[test]
    fn tables_stay_bounded() {
        let l = limiter(5);
        for i in 0..(MAX_KEYS + 5_000) {
            l.check_principal(Profile::L, &format!("key-{i}"));
        }
        let total: usize = l.by_principal[Profile::L.index()]
            .shards
            .iter()
            .map(|s| s.lock().unwrap().len())
            .sum();
        assert!(total <= MAX_KEYS, "{total}");
    }
}

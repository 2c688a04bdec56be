//! Rate limits: how many publishes one disposable token may make, as Momento's service limits
//! its callers, on both front ends (gRPC `Publish` and HTTP `POST /topics/...`, which both go
//! through `topics::publish_as`).
//!
//! - A limit is a [`Rate`]: `count` per `per`, with bursts of up to `burst` at once (a token
//!   bucket, GCRA, from the `governor` crate). Written `10/s+20`: ten a second, twenty at once.
//! - Keyed by the caller's `token_id`, so every holder of one token shares its bucket. Callers
//!   with an API key (no `token_id`: the operator, an embedding program's own publishes) are
//!   never limited.
//! - Over the limit: refused before anything is written, [`crate::topics`]'s `RateLimited`:
//!   gRPC `RESOURCE_EXHAUSTED` (`err: operations_rate_limit_exceeded`, as Momento's), HTTP `429`
//!   `limit_exceeded` with `Retry-After` (whole seconds, at least 1).
//! - Memory: one bucket per token seen recently; buckets that are full again are dropped every
//!   [`SWEEP_EVERY`] checks, so a stream of fresh tokens cannot grow the map without bound.
//!
//! Separate from the webhook backpressure (`Backpressure::Refuse`), which refuses a topic's
//! publishes when its deliveries are behind, whoever publishes.

use std::fmt;
use std::num::NonZeroU32;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

/// How often (in checks) buckets that are full again are dropped.
const SWEEP_EVERY: u64 = 4096;

/// A rate: `count` per `per`, with bursts of up to `burst`. Written `COUNT/UNIT[+BURST]`, the
/// unit `s`, `min` or `h` (`10/s+20`, `1100/min+30`); without `+BURST` the burst is `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// How many in each `per`.
    pub count: NonZeroU32,
    /// The period `count` refers to.
    pub per: Duration,
    /// How many at once, from a full bucket.
    pub burst: NonZeroU32,
}

impl Rate {
    /// `governor`'s quota for this rate.
    pub fn quota(&self) -> Quota {
        let interval = self.per / self.count.get();
        Quota::with_period(interval.max(Duration::from_nanos(1)))
            .expect("a period above zero")
            .allow_burst(self.burst)
    }
}

impl FromStr for Rate {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad =
            || format!("expected COUNT/UNIT[+BURST] like 10/s+20 (unit s, min or h), got '{text}'");
        let (rate, burst) = match text.trim().split_once('+') {
            Some((rate, burst)) => (rate, Some(burst)),
            None => (text.trim(), None),
        };
        let (count, unit) = rate.split_once('/').ok_or_else(bad)?;
        let count: NonZeroU32 = count.trim().parse().map_err(|_| bad())?;
        let per = match unit.trim() {
            "s" => Duration::from_secs(1),
            "min" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            _ => return Err(bad()),
        };
        let burst = match burst {
            Some(burst) => burst.trim().parse().map_err(|_| bad())?,
            None => count,
        };
        Ok(Rate { count, per, burst })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.per.as_secs() {
            1 => "s",
            60 => "min",
            _ => "h",
        };
        write!(f, "{}/{unit}+{}", self.count, self.burst)
    }
}

/// A rate limiter per key, refusing with how long to wait.
pub struct KeyedLimit<K: std::hash::Hash + Eq + Clone> {
    limiter: RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock>,
    checks: AtomicU64,
}

impl<K: std::hash::Hash + Eq + Clone> KeyedLimit<K> {
    /// A limiter at `rate` per key.
    pub fn new(rate: Rate) -> Self {
        Self {
            limiter: RateLimiter::keyed(rate.quota()),
            checks: AtomicU64::new(0),
        }
    }

    /// Takes one from `key`'s bucket; `Err` with the wait until one is there again.
    pub fn check(&self, key: &K) -> Result<(), Duration> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.limiter.retain_recent();
        }
        self.limiter
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(self.limiter.clock().now()))
    }
}

/// The publish limit per token of a server (none: unlimited).
pub(crate) struct PublishLimits(Option<KeyedLimit<String>>);

impl PublishLimits {
    /// At most `rate` per token, or no limit.
    pub(crate) fn new(rate: Option<Rate>) -> Self {
        Self(rate.map(KeyedLimit::new))
    }

    /// Takes one publish of `token_id` (`""`: an API key, never limited); `Err` with the wait.
    pub(crate) fn check(&self, token_id: &str) -> Result<(), Duration> {
        match &self.0 {
            Some(limit) if !token_id.is_empty() => limit.check(&token_id.to_owned()),
            _ => Ok(()),
        }
    }
}

/// Whole seconds to wait for `wait` (at least 1), for a `Retry-After` header.
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0).max(u64::from(wait.is_zero()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_as_count_per_unit_and_burst() {
        let rate: Rate = "10/s+20".parse().unwrap();
        assert_eq!(
            (rate.count.get(), rate.per, rate.burst.get()),
            (10, Duration::from_secs(1), 20)
        );
        let rate: Rate = "1100/min".parse().unwrap();
        assert_eq!((rate.count.get(), rate.burst.get()), (1100, 1100));
        assert_eq!(rate.to_string(), "1100/min+1100");
        for bad in ["", "10", "10/day", "0/s", "10/s+0", "x/s", "10/s+y"] {
            assert!(bad.parse::<Rate>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_token_gets_its_burst_then_waits_and_api_keys_are_never_limited() {
        let limits = PublishLimits::new(Some("1/min+3".parse().unwrap()));
        for _ in 0..3 {
            assert_eq!(limits.check("p1:v1"), Ok(()));
        }
        let wait = limits.check("p1:v1").unwrap_err();
        assert!(wait > Duration::from_secs(50), "{wait:?}");
        assert_eq!(
            limits.check("p1:v2"),
            Ok(()),
            "another token has its own bucket"
        );
        for _ in 0..100 {
            assert_eq!(limits.check(""), Ok(()));
        }
        assert_eq!(PublishLimits::new(None).check("p1:v1"), Ok(()));
    }

    #[test]
    fn retry_after_is_whole_seconds_rounded_up_and_at_least_one() {
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(3)), 3);
    }
}

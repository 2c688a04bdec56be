//! Momento's per-namespace limits, enforced as its service enforces them, so a program that
//! must stay within them (pollcast's operations budget) can be tested against them here.
//!
//! Momento documents soft limits by support tier (default / basic / pro): operations per second
//! 100 / 1,000 / 10,000 and concurrent connections 100 / 1,000 / 10,000 per namespace. Here:
//! - **Operations**: every call (cache, topics, tokens, control; gRPC, HTTP or in process) is one
//!   operation, and so is every message delivered to a subscriber (as Momento bills them). A
//!   call over the rate is refused before it is served: `RESOURCE_EXHAUSTED` with `err`
//!   metadata `operations_rate_limit_exceeded` over gRPC (the SDKs' LimitExceededError), `429`
//!   with `Retry-After` over HTTP. A delivery is never refused (a published message reaches its
//!   subscribers), but it uses the rate up, so calls are refused sooner.
//! - **Connections** are counted as the subscriptions open at once (gRPC streams, HTTP long
//!   polls in progress, in-process subscriptions): what holds a connection open to a topic. One
//!   more is refused with `topic_subscriptions_limit_exceeded` (HTTP `429`).
//!
//! The rate is a token bucket ([`governor`]) that refills at the rate and holds one second of
//! it, so a quiet namespace may burst to a second's worth at once.

use std::num::NonZeroU32;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use governor::{DefaultDirectRateLimiter, Quota as Rate, RateLimiter};

/// Momento's support tiers, whose documented soft limits the local Momento can enforce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuotaTier {
    /// No support plan: 100 operations a second, 100 connections.
    Default,
    /// Basic support: 1,000 and 1,000.
    Basic,
    /// Pro support: 10,000 and 10,000.
    Pro,
}

impl QuotaTier {
    /// The tier's limits.
    pub fn quota(self) -> Quota {
        let n = match self {
            QuotaTier::Default => 100,
            QuotaTier::Basic => 1_000,
            QuotaTier::Pro => 10_000,
        };
        Quota {
            operations_per_second: n,
            subscriptions: n,
        }
    }
}

impl FromStr for QuotaTier {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "default" => Ok(QuotaTier::Default),
            "basic" => Ok(QuotaTier::Basic),
            "pro" => Ok(QuotaTier::Pro),
            other => Err(format!(
                "unknown quota tier '{other}': default, basic or pro"
            )),
        }
    }
}

/// Per-namespace limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    /// Operations a second (calls and deliveries).
    pub operations_per_second: u32,
    /// Subscriptions open at once.
    pub subscriptions: u32,
}

/// What the quota has counted so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct QuotaStats {
    /// Operations admitted (calls served and messages delivered).
    pub operations: u64,
    /// Calls refused over the operations rate.
    pub throttled: u64,
    /// Subscriptions refused over the connections limit.
    pub subscriptions_refused: u64,
    /// Subscriptions open now.
    pub subscriptions_open: u64,
    /// The most subscriptions open at once so far.
    pub subscriptions_peak: u64,
}

/// Which limit a refused call hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Exceeded {
    /// The operations rate (`operations_rate_limit_exceeded`).
    Operations,
    /// The subscriptions open at once (`topic_subscriptions_limit_exceeded`).
    Subscriptions,
}

impl Exceeded {
    /// The `err` metadata Momento sends with it.
    pub(crate) fn err(self) -> &'static str {
        match self {
            Exceeded::Operations => "operations_rate_limit_exceeded",
            Exceeded::Subscriptions => "topic_subscriptions_limit_exceeded",
        }
    }

    /// What went wrong, for the caller.
    pub(crate) fn message(self) -> &'static str {
        match self {
            Exceeded::Operations => "operations rate limit exceeded for this namespace",
            Exceeded::Subscriptions => "topic subscriptions limit exceeded for this namespace",
        }
    }
}

/// The quota of a running server (absent: no limits).
pub(crate) struct Gate {
    rate: DefaultDirectRateLimiter,
    max_subscriptions: usize,
    open: Arc<AtomicUsize>,
    operations: AtomicU64,
    throttled: AtomicU64,
    subscriptions_refused: AtomicU64,
    peak: AtomicUsize,
}

/// A subscription counted against the limit while it lives.
pub(crate) struct Slot(Option<Arc<AtomicUsize>>);

impl Slot {
    /// A slot of no quota (none is enforced).
    pub(crate) fn free() -> Self {
        Self(None)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(open) = &self.0 {
            open.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl Gate {
    pub(crate) fn new(quota: Quota) -> Self {
        let per_second = NonZeroU32::new(quota.operations_per_second.max(1)).expect("at least 1");
        Self {
            rate: RateLimiter::direct(Rate::per_second(per_second)),
            max_subscriptions: quota.subscriptions as usize,
            open: Arc::new(AtomicUsize::new(0)),
            operations: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            subscriptions_refused: AtomicU64::new(0),
            peak: AtomicUsize::new(0),
        }
    }

    /// One call: admitted, or refused over the rate.
    pub(crate) fn operation(&self) -> Result<(), Exceeded> {
        match self.rate.check() {
            Ok(()) => {
                self.operations.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(_) => {
                self.throttled.fetch_add(1, Ordering::Relaxed);
                Err(Exceeded::Operations)
            }
        }
    }

    /// A message delivered to a subscriber: uses the rate up when there is some left, never
    /// refused.
    pub(crate) fn delivered(&self) {
        if self.rate.check().is_ok() {
            self.operations.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A subscription opening: a slot held while it lives, or refused over the limit.
    pub(crate) fn subscription(&self) -> Result<Slot, Exceeded> {
        let open = self.open.fetch_add(1, Ordering::AcqRel) + 1;
        if open > self.max_subscriptions {
            self.open.fetch_sub(1, Ordering::AcqRel);
            self.subscriptions_refused.fetch_add(1, Ordering::Relaxed);
            return Err(Exceeded::Subscriptions);
        }
        self.peak.fetch_max(open, Ordering::Relaxed);
        Ok(Slot(Some(self.open.clone())))
    }

    /// The counters so far.
    pub(crate) fn stats(&self) -> QuotaStats {
        QuotaStats {
            operations: self.operations.load(Ordering::Relaxed),
            throttled: self.throttled.load(Ordering::Relaxed),
            subscriptions_refused: self.subscriptions_refused.load(Ordering::Relaxed),
            subscriptions_open: self.open.load(Ordering::Relaxed) as u64,
            subscriptions_peak: self.peak.load(Ordering::Relaxed) as u64,
        }
    }
}

/// The gate's checks where there may be no gate.
pub(crate) trait MaybeGate {
    /// [`Gate::operation`], or admitted.
    fn operation(&self) -> Result<(), Exceeded>;
    /// [`Gate::delivered`], or nothing.
    fn delivered(&self);
    /// [`Gate::subscription`], or a free slot.
    fn subscription(&self) -> Result<Slot, Exceeded>;
}

impl MaybeGate for Option<Gate> {
    fn operation(&self) -> Result<(), Exceeded> {
        self.as_ref().map_or(Ok(()), Gate::operation)
    }

    fn delivered(&self) {
        if let Some(gate) = self {
            gate.delivered();
        }
    }

    fn subscription(&self) -> Result<Slot, Exceeded> {
        self.as_ref().map_or(Ok(Slot::free()), Gate::subscription)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tiers_are_momentos_documented_limits() {
        assert_eq!(QuotaTier::Default.quota().operations_per_second, 100);
        assert_eq!(QuotaTier::Basic.quota().subscriptions, 1_000);
        assert_eq!(
            "pro"
                .parse::<QuotaTier>()
                .unwrap()
                .quota()
                .operations_per_second,
            10_000
        );
        assert!("gold".parse::<QuotaTier>().is_err());
    }

    #[test]
    fn calls_past_a_seconds_worth_are_refused_and_deliveries_use_the_rate_up() {
        let gate = Gate::new(Quota {
            operations_per_second: 10,
            subscriptions: 2,
        });
        for _ in 0..5 {
            gate.delivered();
        }
        let admitted = (0..20).filter(|_| gate.operation().is_ok()).count();
        assert_eq!(admitted, 5, "a second's worth, less what deliveries used");
        assert_eq!(gate.stats().throttled, 15);
    }

    #[test]
    fn subscriptions_past_the_limit_are_refused_until_one_closes() {
        let gate = Gate::new(Quota {
            operations_per_second: 10,
            subscriptions: 2,
        });
        let first = gate.subscription().unwrap();
        let _second = gate.subscription().unwrap();
        assert_eq!(gate.subscription().err(), Some(Exceeded::Subscriptions));
        drop(first);
        assert!(gate.subscription().is_ok());
        assert_eq!(gate.stats().subscriptions_peak, 2);
    }
}

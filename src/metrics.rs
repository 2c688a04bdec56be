//! Prometheus metrics (the `prometheus` crate), one registry per application so several
//! applications in one process (tests) do not share counters. Served at `/metrics`.

use prometheus::{Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, Opts, Registry};

use crate::domain::Rejection;

/// Every metric pollcast exports.
pub struct Metrics {
    registry: Registry,
    /// Votes that reached the pipeline, by source (`webhook`, `subscription`).
    pub votes_received: IntCounterVec,
    /// Ballots counted: first ballots and revotes (`kind` = `new` | `revote`).
    pub votes_accepted: IntCounterVec,
    /// Deliveries of a ballot already counted (redeliveries, both ingest paths, stale events).
    pub votes_duplicate: IntCounter,
    /// Votes refused, by reason (see `Rejection::reason`).
    pub votes_rejected: IntCounterVec,
    /// Webhook calls refused before the pipeline, by reason (`signature`, `stale`, `future`,
    /// `malformed`, `too_large`).
    pub webhook_refused: IntCounterVec,
    /// Votes the backend failed on (answered 5xx, nothing counted).
    pub backend_errors: IntCounter,
    /// Claims given back after a failed ledger write, and those that could not be (in doubt).
    pub ballots_released: IntCounterVec,
    /// Time from receipt to the vote's outcome in the pipeline.
    pub pipeline_seconds: Histogram,
    /// Results published on results topics.
    pub results_published: IntCounter,
    /// Gaps seen in the votes topic's sequence numbers by the subscription ingest.
    pub subscription_gaps: IntCounter,
}

impl Metrics {
    /// All metrics, registered; every rejection reason starts at zero so dashboards see it.
    pub fn new() -> Self {
        let registry =
            Registry::new_custom(Some("pollcast".into()), None).expect("a valid metrics prefix");
        let counter_vec = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
            registry
                .register(Box::new(c.clone()))
                .expect("unique metric");
            c
        };
        let counter = |name: &str, help: &str| {
            let c = IntCounter::new(name, help).expect("valid metric");
            registry
                .register(Box::new(c.clone()))
                .expect("unique metric");
            c
        };
        let votes_rejected = counter_vec(
            "votes_rejected_total",
            "Votes refused, by reason",
            &["reason"],
        );
        for reason in Rejection::REASONS {
            votes_rejected.with_label_values(&[reason]);
        }
        let pipeline_seconds = Histogram::with_opts(
            HistogramOpts::new("pipeline_seconds", "Time from receipt to a vote's outcome")
                .buckets(vec![
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                ]),
        )
        .expect("valid histogram");
        registry
            .register(Box::new(pipeline_seconds.clone()))
            .expect("unique metric");
        let metrics = Self {
            votes_received: counter_vec(
                "votes_received_total",
                "Votes that reached the pipeline, by source",
                &["source"],
            ),
            votes_accepted: counter_vec(
                "votes_accepted_total",
                "Ballots counted, by kind (new, revote)",
                &["kind"],
            ),
            votes_duplicate: counter(
                "votes_duplicate_total",
                "Deliveries of a ballot already counted",
            ),
            votes_rejected,
            webhook_refused: counter_vec(
                "webhook_refused_total",
                "Webhook calls refused before the pipeline, by reason",
                &["reason"],
            ),
            backend_errors: counter(
                "vote_backend_errors_total",
                "Votes the backend failed on (not counted, answered 5xx)",
            ),
            ballots_released: counter_vec(
                "ballots_released_total",
                "Ballot claims given back after a failed ledger write (outcome: released, in_doubt)",
                &["outcome"],
            ),
            pipeline_seconds,
            results_published: counter(
                "results_published_total",
                "Results published on results topics",
            ),
            subscription_gaps: counter(
                "subscription_gaps_total",
                "Gaps in the votes topic's sequence numbers seen by the subscription ingest",
            ),
            registry,
        };
        for reason in ["signature", "stale", "future", "malformed", "too_large"] {
            metrics.webhook_refused.with_label_values(&[reason]);
        }
        for source in ["webhook", "subscription"] {
            metrics.votes_received.with_label_values(&[source]);
        }
        for kind in ["new", "revote"] {
            metrics.votes_accepted.with_label_values(&[kind]);
        }
        metrics
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        prometheus::TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("encoding metrics to memory");
        String::from_utf8(out).expect("the text format is UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

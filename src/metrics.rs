//! Prometheus metrics (the `prometheus` crate), one registry per application so several
//! applications in one process (tests) do not share counters. Served at `/metrics`.

use local_momento::Observer;
use prometheus::{
    Encoder, Gauge, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
};

use crate::domain::Rejection;

/// The labels of `pollcast_limited_total`.
pub const LIMITS: [&str; 5] = [
    "token",
    "admin_key",
    "streams",
    "publish_per_token",
    "challenge",
];

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
    /// Voter requests refused before any work, by request (`token`, `publish`) and reason
    /// (`busy`: `--max-in-flight` reached, 503; `ingest_behind`: the pipeline is behind, 429).
    pub voter_refused: IntCounterVec,
    /// Momento calls this replica made, by `call` (`get`, `set_if`, `publish`, ...,
    /// `message_received` for each message a subscription delivered) and `outcome` (`ok`,
    /// `throttled`: refused over a rate limit, `error`).
    pub momento_calls: IntCounterVec,
    /// Votes shards (topics) this replica reads now (it holds their leases).
    pub ingest_shards_held: IntGauge,
    /// Changes of this replica's votes shard leases (`acquired`, `released`, `lost`).
    pub ingest_lease_changes: IntCounterVec,
    /// Requests refused by a limit against abuse (`429`, `api/limits`), by limit: `token`
    /// (tokens per address), `admin_key` (wrong admin keys per address), `streams` (streams and
    /// long polls per address), `publish_per_token` (the local Momento's per-token publishes),
    /// `challenge` (a proof of work missing or wrong).
    pub limited: IntCounterVec,
    /// Voter requests in progress now (admitted, not yet answered).
    pub voter_in_flight: IntGauge,
    /// The voter path's concurrency limit now (it follows the latency target).
    pub voter_limit: IntGauge,
    /// Votes the backend failed on (answered 5xx; a ballot left in doubt is counted later).
    pub backend_errors: IntCounter,
    /// Claims of capped polls given back without their seat (`released`), and those that
    /// could not be (`in_doubt`: the next copy of the vote, or the sweep, seats them).
    pub ballots_released: IntCounterVec,
    /// Ballots whose ledger write could not be confirmed, noted for the sweep.
    pub ballots_in_doubt: IntCounter,
    /// Ballots in doubt the sweep settled (wrote into the ledger, or found given back).
    pub ballots_reconciled: IntCounter,
    /// Time from receipt to the vote's outcome in the pipeline.
    pub pipeline_seconds: Histogram,
    /// Results published on results topics.
    pub results_published: IntCounter,
    /// Results streams (SSE) open now.
    pub results_streams: IntGauge,
    /// Reads of the poll index by the scheduler (at start, then every 5 s).
    pub scheduler_rescans: IntCounter,
    /// Refreshes of an open poll's TTLs this replica made (one replica per poll per quarter of
    /// the record TTL: the others find it claimed).
    pub keep_alive_refreshes: IntCounter,
    /// Gaps seen in the votes topic's sequence numbers by the subscription ingest.
    pub subscription_gaps: IntCounter,
    /// Votes-topic messages the subscription ingest could not read: the topic's history no
    /// longer reached back to where it resumed (each one logged with its range).
    pub subscription_lost: IntCounter,
    /// Times the votes topic's sequence page changed under the subscription ingest (a reset:
    /// what came between is unknown; logged).
    pub subscription_resets: IntCounter,
    /// Results subscriptions open to Momento for SSE streams (one per watched poll and
    /// audience, shared by its streams).
    pub results_subscriptions: IntGauge,
    /// Embedded: webhook events (votes) waiting in the local Momento's outbox.
    pub outbox_events: IntGauge,
    /// Embedded: age of the oldest event in the outbox, in seconds (0 when empty).
    pub outbox_oldest_seconds: Gauge,
    /// Embedded: journal bytes since the last snapshot (what a restart would replay).
    pub journal_bytes: IntGauge,
    /// Embedded: records appended to the journal (each durable change).
    pub journal_records: IntCounter,
    /// Embedded: journal commits (one write, and with `--fsync always` one fdatasync, each
    /// shared by every record waiting): records over commits is the group commit's batch.
    pub journal_commits: IntCounter,
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
        let gauge = |name: &str, help: &str| {
            let g = IntGauge::new(name, help).expect("valid metric");
            registry
                .register(Box::new(g.clone()))
                .expect("unique metric");
            g
        };
        let outbox_oldest_seconds = Gauge::new(
            "webhook_outbox_oldest_seconds",
            "Embedded local Momento: age of the oldest vote waiting in the webhook outbox",
        )
        .expect("valid metric");
        registry
            .register(Box::new(outbox_oldest_seconds.clone()))
            .expect("unique metric");
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
            voter_refused: counter_vec(
                "voter_requests_refused_total",
                "Voter requests refused before any work, by request and reason",
                &["request", "reason"],
            ),
            momento_calls: counter_vec(
                "momento_calls_total",
                "Momento calls by call and outcome (ok, throttled, error); message_received counts deliveries",
                &["call", "outcome"],
            ),
            ingest_shards_held: gauge(
                "ingest_shards_held",
                "Votes shards (topics) this replica reads now",
            ),
            ingest_lease_changes: counter_vec(
                "ingest_lease_changes_total",
                "Changes of this replica's votes shard leases (acquired, released, lost)",
                &["change"],
            ),
            limited: counter_vec(
                "limited_total",
                "Requests refused by a limit against abuse (429), by limit",
                &["limit"],
            ),
            voter_in_flight: gauge(
                "voter_requests_in_flight",
                "Voter requests (token, publish) in progress now",
            ),
            voter_limit: gauge(
                "voter_requests_limit",
                "The voter path's concurrency limit now (follows --voter-latency-target)",
            ),
            backend_errors: counter(
                "vote_backend_errors_total",
                "Votes the backend failed on (answered 5xx)",
            ),
            ballots_released: counter_vec(
                "ballots_released_total",
                "Claims of capped polls given back without their seat (outcome: released, in_doubt)",
                &["outcome"],
            ),
            ballots_in_doubt: counter(
                "ballots_in_doubt_total",
                "Ballots whose ledger write could not be confirmed, left to the sweep",
            ),
            ballots_reconciled: counter(
                "ballots_reconciled_total",
                "Ballots in doubt the sweep settled",
            ),
            pipeline_seconds,
            results_published: counter(
                "results_published_total",
                "Results published on results topics",
            ),
            results_streams: gauge("results_streams", "Results streams (SSE) open now"),
            scheduler_rescans: counter(
                "scheduler_rescans_total",
                "Reads of the poll index by the scheduler",
            ),
            keep_alive_refreshes: counter(
                "keep_alive_refreshes_total",
                "Refreshes of an open poll's TTLs this replica made",
            ),
            subscription_gaps: counter(
                "subscription_gaps_total",
                "Gaps in the votes topic's sequence numbers seen by the subscription ingest",
            ),
            subscription_lost: counter(
                "subscription_lost_messages_total",
                "Votes-topic messages the subscription ingest could not read (history too short)",
            ),
            subscription_resets: counter(
                "subscription_resets_total",
                "Sequence page changes of the votes topic seen by the subscription ingest",
            ),
            results_subscriptions: gauge(
                "results_subscriptions",
                "Results subscriptions open for SSE streams (one per watched poll and audience)",
            ),
            outbox_events: gauge(
                "webhook_outbox_events",
                "Embedded local Momento: votes waiting in the webhook outbox",
            ),
            outbox_oldest_seconds,
            journal_bytes: gauge(
                "journal_bytes_since_snapshot",
                "Embedded local Momento: journal bytes a restart would replay",
            ),
            journal_records: counter(
                "journal_records_total",
                "Embedded local Momento: records appended to the journal",
            ),
            journal_commits: counter(
                "journal_commits_total",
                "Embedded local Momento: journal commits (each one write and, with --fsync always, one fdatasync)",
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
        for change in ["acquired", "released", "lost"] {
            metrics.ingest_lease_changes.with_label_values(&[change]);
        }
        for limit in LIMITS {
            metrics.limited.with_label_values(&[limit]);
        }
        for request in ["token", "publish"] {
            for reason in ["busy", "ingest_behind"] {
                metrics.voter_refused.with_label_values(&[request, reason]);
            }
        }
        metrics
    }

    /// Reads the embedded local Momento's gauges (the outbox, the journal) into the metrics.
    pub fn observe(&self, embedded: &Observer) {
        let webhooks = embedded.webhook_stats();
        self.outbox_events.set(webhooks.outbox_depth as i64);
        let oldest = webhooks.oldest_published_at_ms.map_or(0.0, |at| {
            let now = chrono::Utc::now().timestamp_millis().max(0) as u64;
            now.saturating_sub(at) as f64 / 1000.0
        });
        self.outbox_oldest_seconds.set(oldest);
        if let Some(journal) = embedded.journal_stats() {
            self.journal_bytes.set(journal.bytes_since_snapshot as i64);
            // The journal counts from start; the counters catch up with it.
            let records = journal.records.saturating_sub(self.journal_records.get());
            self.journal_records.inc_by(records);
            let commits = journal.commits.saturating_sub(self.journal_commits.get());
            self.journal_commits.inc_by(commits);
        }
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

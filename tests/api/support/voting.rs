//! Typed helpers for the vote pipeline: voter tokens in bulk, votes published through Momento's
//! HTTP topics API, webhook events signed with an HMAC-SHA3-256 of the test's own (not
//! pollcast's `sign`), results read until they settle, and `/metrics` parsed.

use std::collections::HashMap;
use std::time::Duration;

use chrono::Utc;
use hmac::{Hmac, Mac};
use pollcast::config::{IngestMode, ServeArgs};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, Response};
use secrecy::SecretString;
use serde_json::{json, Value};
use sha3::Sha3_256;

use crate::support::app::{send, status_and_json, test_settings, Caller, TestApp};

/// The webhook signing secret of apps built with [`webhook_settings`].
pub const WEBHOOK_SECRET: &str = "whsec_test_secret_0123456789";

/// How long a test waits for results to show what it expects before it fails.
const SETTLE: Duration = Duration::from_secs(10);

/// [`test_settings`] with `ingest` and a known webhook secret.
pub fn settings_with(ingest: IngestMode) -> ServeArgs {
    ServeArgs {
        ingest: Some(ingest),
        webhook_secret: Some(SecretString::from(WEBHOOK_SECRET)),
        ..test_settings()
    }
}

/// Webhook ingest only, signed with [`WEBHOOK_SECRET`].
pub fn webhook_settings() -> ServeArgs {
    settings_with(IngestMode::Webhook)
}

/// The vote message a voter publishes.
pub fn vote(poll: &str, choices: &[&str]) -> String {
    json!({ "poll_id": poll, "choices": choices }).to_string()
}

/// Lowercase hex HMAC-SHA3-256 of `body` keyed with `secret`, as Momento signs webhooks.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha3_256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// A webhook event as Momento would deliver it for a message on `votes`.
#[derive(Debug, Clone)]
pub struct Event {
    /// The publisher's token id (`""`: published without a token).
    pub token_id: String,
    /// The message.
    pub text: String,
    /// Its topic sequence number.
    pub seq: u64,
    /// The cache of the topic.
    pub cache: String,
    /// The topic.
    pub topic: String,
    /// When the message was published (ms since the epoch).
    pub event_ms: i64,
    /// When the webhook call was made (ms since the epoch).
    pub publish_ms: i64,
}

impl Event {
    /// `text` published just now on `pollcast`/`votes` by `token_id`, numbered `seq`.
    pub fn new(token_id: &str, text: &str, seq: u64) -> Self {
        let now = Utc::now().timestamp_millis();
        Self {
            token_id: token_id.to_owned(),
            text: text.to_owned(),
            seq,
            cache: "pollcast".into(),
            topic: "votes".into(),
            event_ms: now,
            publish_ms: now,
        }
    }

    /// The JSON body Momento posts.
    pub fn body(&self) -> Vec<u8> {
        json!({
            "cache": self.cache,
            "topic": self.topic,
            "event_timestamp": self.event_ms,
            "publish_timestamp": self.publish_ms,
            "topic_sequence_number": self.seq,
            "token_id": self.token_id,
            "text": self.text,
        })
        .to_string()
        .into_bytes()
    }
}

/// The token id of `voter` in `poll`.
pub fn token_id(poll: &str, voter: &str) -> String {
    format!("{poll}:{voter}")
}

impl TestApp {
    /// Tokens for the named voters of `poll`, minted by the admin in batches.
    pub async fn tokens_for(&self, poll: &str, voters: &[String]) -> Vec<Value> {
        let mut tokens = Vec::with_capacity(voters.len());
        for chunk in voters.chunks(500) {
            let body = json!({ "voter_ids": chunk });
            let (status, batch) =
                status_and_json(self.mint_tokens(poll, &body, Caller::Admin).await).await;
            assert_eq!(status, 201, "minting tokens for {poll}: {batch}");
            tokens.extend(batch["tokens"].as_array().expect("tokens").iter().cloned());
        }
        tokens
    }

    /// Publishes `text` with a minted voter token through the HTTP topics API at the token's
    /// `http_endpoint`; returns the status.
    pub async fn publish_http(&self, token: &Value, text: &str) -> u16 {
        self.publish_http_response(token, text)
            .await
            .status()
            .as_u16()
    }

    /// [`TestApp::publish_http`], answering the whole response.
    pub async fn publish_http_response(&self, token: &Value, text: &str) -> Response {
        let url = format!(
            "{}/topics/{}/{}",
            token["http_endpoint"].as_str().expect("an http_endpoint"),
            token["cache"].as_str().expect("a cache"),
            token["votes_topic"].as_str().expect("a votes topic"),
        );
        let request = self
            .http
            .post(url)
            .header(AUTHORIZATION, token["token"].as_str().expect("a token"))
            .header(CONTENT_TYPE, "text/plain")
            .body(text.to_owned());
        send(request).await
    }

    /// Long-polls `topic` through Momento's HTTP topics API at the token's `http_endpoint`, with
    /// the voter's token, from `sequence_number` on `sequence_page` (0 and 0: live items only);
    /// returns the status and the body (`{"items": [...]}`).
    pub async fn long_poll_http(
        &self,
        token: &Value,
        topic: &str,
        sequence_number: u64,
        sequence_page: u64,
    ) -> (u16, Value) {
        let url = format!(
            "{}/topics/{}/{topic}?sequence_number={sequence_number}&sequence_page={sequence_page}",
            token["http_endpoint"].as_str().expect("an http_endpoint"),
            token["cache"].as_str().expect("a cache"),
        );
        let request = self
            .http
            .get(url)
            .header(AUTHORIZATION, token["token"].as_str().expect("a token"));
        status_and_json(send(request).await).await
    }

    /// `POST /v1/webhooks/momento` with `body` and the `momento-signature` header when given.
    pub async fn post_webhook(&self, body: Vec<u8>, signature: Option<&str>) -> Response {
        let mut request = self
            .request(Method::POST, "/v1/webhooks/momento", Caller::Anonymous)
            .header(CONTENT_TYPE, "application/json")
            .body(body);
        if let Some(signature) = signature {
            request = request.header("momento-signature", signature);
        }
        send(request).await
    }

    /// Delivers `event` signed with [`WEBHOOK_SECRET`]; returns the status and body.
    pub async fn deliver(&self, event: &Event) -> (u16, Value) {
        let body = event.body();
        let signature = sign(WEBHOOK_SECRET, &body);
        status_and_json(self.post_webhook(body, Some(&signature)).await).await
    }

    /// Delivers `event` and asserts it was handled with `outcome` (and `reason`, if any).
    pub async fn deliver_expecting(&self, event: &Event, outcome: &str, reason: Option<&str>) {
        let (status, body) = self.deliver(event).await;
        assert_eq!(status, 200, "{event:?}: {body}");
        assert_eq!(body["outcome"], outcome, "{event:?}: {body}");
        assert_eq!(body["reason"], json!(reason), "{event:?}: {body}");
    }

    /// `GET /v1/polls/{id}/results` as `caller`.
    pub async fn results_as(&self, id: &str, caller: Caller) -> Response {
        send(self.request(Method::GET, &format!("/v1/polls/{id}/results"), caller)).await
    }

    /// The results of `id` as the admin sees them now.
    pub async fn results(&self, id: &str) -> Value {
        let (status, results) = status_and_json(self.results_as(id, Caller::Admin).await).await;
        assert_eq!(status, 200, "results of {id}: {results}");
        results
    }

    /// The results of `id` once they count `ballots` ballots (polled until a deadline; the
    /// last reading is returned either way, for the caller's exact assertions).
    pub async fn results_with(&self, id: &str, ballots: u64) -> Value {
        self.results_when(id, |r| r["ballots"] == ballots).await
    }

    /// The results of `id` once `done` holds for them (or the last reading at the deadline).
    pub async fn results_when(&self, id: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + SETTLE;
        loop {
            let results = self.results(id).await;
            if done(&results) || tokio::time::Instant::now() >= deadline {
                return results;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Waits until every ingest path of `ingest` takes votes (the subscription starts a moment
    /// after the app, and reads every votes topic once it holds their leases), by publishing
    /// probes (`"probe"`, rejected as malformed) with the super-user key on every votes topic;
    /// returns the metrics once the probes are all decided, as the baseline.
    pub async fn ingest_ready(&self, ingest: IngestMode) -> Metrics {
        let operator = self.operator_topics();
        let deadline = tokio::time::Instant::now() + SETTLE;
        let topics: Vec<String> = match self.vote_shards {
            1 => vec!["votes".to_owned()],
            n => (0..n).map(|k| format!("votes.{k}")).collect(),
        };
        loop {
            for topic in &topics {
                operator
                    .publish("pollcast", topic.as_str(), "probe")
                    .await
                    .expect("the operator publishes");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            let metrics = self.metrics().await;
            let every_shard_read =
                metrics.get("ingest_shards_held", None) == u64::from(self.vote_shards);
            if (!ingest.webhook() || metrics.received("webhook") > 0)
                && (!ingest.subscription()
                    || (every_shard_read && metrics.received("subscription") > 0))
            {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "ingest never started"
            );
        }
        self.quiet_metrics().await
    }

    /// The metrics once every vote received has an outcome and nothing more comes for 100 ms.
    pub async fn quiet_metrics(&self) -> Metrics {
        let deadline = tokio::time::Instant::now() + SETTLE;
        loop {
            let metrics = self.metrics().await;
            let received = metrics.received("webhook") + metrics.received("subscription");
            tokio::time::sleep(Duration::from_millis(100)).await;
            let again = self.metrics().await;
            if metrics.handled() == received && again.handled() == metrics.handled() {
                return again;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the probes were never decided"
            );
        }
    }

    /// `/metrics`, parsed.
    pub async fn metrics(&self) -> Metrics {
        let response = self.get("/metrics").await;
        assert_eq!(response.status(), 200);
        Metrics::parse(&response.text().await.expect("a metrics body"))
    }

    /// Waits (10 s at most, else fails naming `what`) until the metric `name` reads `value`.
    pub async fn metric_reaches(&self, name: &str, value: u64, what: &str) {
        crate::support::app::within(10, what, async {
            while self.metrics().await.get(name, None) != value {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
    }

    /// The metrics once `handled` votes have an outcome (counted, duplicate, rejected or
    /// failed), polled until a deadline: the votes in flight have then been decided.
    pub async fn metrics_after(&self, handled: u64) -> Metrics {
        let deadline = tokio::time::Instant::now() + SETTLE;
        loop {
            let metrics = self.metrics().await;
            if metrics.handled() >= handled || tokio::time::Instant::now() >= deadline {
                assert_eq!(metrics.handled(), handled, "votes with an outcome");
                return metrics;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// A `/metrics` reading: series (`name{label="value"}`) to value.
#[derive(Debug, Clone)]
pub struct Metrics(HashMap<String, f64>);

impl Metrics {
    pub fn parse(text: &str) -> Self {
        let series = text
            .lines()
            .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
            .map(|line| {
                let (name, value) = line.rsplit_once(' ').expect("`series value`");
                (name.to_owned(), value.parse().expect("a number"))
            })
            .collect();
        Self(series)
    }

    /// The value of `name` (with the `pollcast_` prefix) and one label, 0 when absent.
    pub fn get(&self, name: &str, label: Option<(&str, &str)>) -> u64 {
        let key = match label {
            Some((label, value)) => format!("pollcast_{name}{{{label}=\"{value}\"}}"),
            None => format!("pollcast_{name}"),
        };
        self.0.get(&key).copied().unwrap_or(0.0) as u64
    }

    /// The value of a whole series (`name{label="value",...}`, without the `pollcast_`
    /// prefix), 0 when absent.
    pub fn series(&self, series: &str) -> u64 {
        self.0
            .get(&format!("pollcast_{series}"))
            .copied()
            .unwrap_or(0.0) as u64
    }

    /// What changed since `before`: each series' increase.
    pub fn since(&self, before: &Metrics) -> Metrics {
        let deltas = self
            .0
            .iter()
            .map(|(series, value)| {
                let base = before.0.get(series).copied().unwrap_or(0.0);
                (series.clone(), value - base)
            })
            .collect();
        Metrics(deltas)
    }

    /// Votes rejected for `reason`.
    pub fn rejected(&self, reason: &str) -> u64 {
        self.get("votes_rejected_total", Some(("reason", reason)))
    }

    /// Every rejection reason with a non-zero count.
    pub fn rejections(&self) -> HashMap<String, u64> {
        self.0
            .iter()
            .filter_map(|(series, &value)| {
                let reason = series
                    .strip_prefix("pollcast_votes_rejected_total{reason=\"")?
                    .strip_suffix("\"}")?;
                (value > 0.0).then(|| (reason.to_owned(), value as u64))
            })
            .collect()
    }

    /// Webhook calls refused before the pipeline for `reason`.
    pub fn refused(&self, reason: &str) -> u64 {
        self.get("webhook_refused_total", Some(("reason", reason)))
    }

    /// First ballots counted.
    pub fn accepted(&self) -> u64 {
        self.get("votes_accepted_total", Some(("kind", "new")))
    }

    /// Revotes counted.
    pub fn revoted(&self) -> u64 {
        self.get("votes_accepted_total", Some(("kind", "revote")))
    }

    /// Deliveries of ballots already counted.
    pub fn duplicates(&self) -> u64 {
        self.get("votes_duplicate_total", None)
    }

    /// Votes the backend failed on.
    pub fn backend_errors(&self) -> u64 {
        self.get("vote_backend_errors_total", None)
    }

    /// Votes received from `source` (`webhook`, `subscription`).
    pub fn received(&self, source: &str) -> u64 {
        self.get("votes_received_total", Some(("source", source)))
    }

    /// Votes with an outcome: counted, duplicate, rejected, or failed in the backend.
    pub fn handled(&self) -> u64 {
        self.accepted()
            + self.revoted()
            + self.duplicates()
            + self.rejections().values().sum::<u64>()
            + self.backend_errors()
    }
}

/// The option ids of a created poll, in the order listed.
pub fn option_ids(poll: &Value) -> Vec<String> {
    poll["options"]
        .as_array()
        .expect("options")
        .iter()
        .map(|o| o["id"].as_str().expect("an option id").to_owned())
        .collect()
}

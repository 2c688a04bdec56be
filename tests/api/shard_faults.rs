//! Sharded ingest under the faults issue 15 names ("Bad input and faults"), one module each:
//! a lease stolen by a clock-skewed replica (`lease_theft`), a replica paused past its lease
//! (`paused_replica`), a shard topic that resets its sequence (`topic_reset`), throttling
//! mid-batch (`throttling`), and a shard count changed between restarts (`shard_count`:
//! refused, not migrated). Each test checks that no acknowledged vote (a publish Momento
//! answered OK) is lost or counted twice: exact tallies and ballot counts on every replica,
//! one ballot key per voter, equal to the ledger. Where a fault does cost votes (a topic
//! reset takes the old page's unread ones with it) the test says exactly which.
//!
//! Replicas run against one local Momento as they would against Momento's service: in this
//! process (`spawn_app_with`, where the test needs the local Momento's faults) or as
//! `pollcast serve` processes (where a process must be paused or must exit).

mod lease_theft;
mod paused_replica;
mod shard_count;
mod throttling;
mod topic_reset;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use local_momento::{LocalMomento, LocalMomentoConfig};
use momento::cache::{configurations, DictionaryFetchResponse, GetResponse};
use momento::{CacheClient, CredentialProvider, MomentoError, MomentoErrorCode};
use pollcast::config::{IngestMode, ServeArgs};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::support::app::{spawn_app_with, status_and_json, test_settings, within, TestApp};
use crate::support::process::Server;
use crate::support::sdk::{topic_client, BallotMap};
use crate::support::voting::vote;

/// A local Momento with the cache `pollcast`, shared by the replicas of a test.
async fn shared_momento(config: LocalMomentoConfig) -> LocalMomento {
    let momento = LocalMomento::start(config)
        .await
        .expect("the shared local Momento starts");
    momento.ensure_cache("pollcast").await.expect("the cache");
    momento
}

/// The settings of a replica against `momento`: subscription ingest over `shards` votes topics.
fn replica_settings(momento: &LocalMomento, shards: u32) -> ServeArgs {
    let mut settings = test_settings();
    settings.momento_api_key = Some(SecretString::from(
        momento.super_user_key().expose_secret().to_owned(),
    ));
    settings.momento_endpoint = Some("localhost".into());
    settings.momento_endpoint_override = Some(momento.grpc_endpoint());
    // Replicas behind one load balancer share its URL (polls carry links under it).
    settings.public_url = Some("http://pollcast.test".into());
    settings.ingest = Some(IngestMode::Subscription);
    settings.vote_shards = Some(shards);
    settings
}

/// A replica in this process against `momento`, reading its share of `shards` votes topics.
async fn replica(momento: &LocalMomento, shards: u32) -> TestApp {
    spawn_app_with(replica_settings(momento, shards)).await
}

/// Stops `replicas` and waits until each has, readers included. Dropping a replica only asks
/// it to stop: one whose votes subscription is still open when the test's runtime goes away
/// can keep a runtime thread busy for good, since the SDK re-subscribes in a loop, without
/// yielding, once its connection's worker is gone.
async fn stop_all<const N: usize>(replicas: [TestApp; N]) {
    for replica in replicas {
        replica.stop().await;
    }
}

/// The environment that points a `pollcast serve` process at `momento` (the SDK engine).
fn serve_vars(momento: &LocalMomento) -> Vec<(&'static str, String)> {
    vec![
        (
            "MOMENTO_API_KEY",
            momento.super_user_key().expose_secret().to_owned(),
        ),
        ("MOMENTO_ENDPOINT", "localhost".to_owned()),
        (
            "POLLCAST_MOMENTO_ENDPOINT_OVERRIDE",
            momento.grpc_endpoint(),
        ),
    ]
}

/// The flags of a `pollcast serve` process reading `shards` votes topics by subscription.
fn serve_flags(shards: u32) -> Vec<std::ffi::OsString> {
    let shards = shards.to_string();
    [
        "--in-memory",
        "--ingest",
        "subscription",
        "--vote-shards",
        &shards,
    ]
    .map(std::ffi::OsString::from)
    .to_vec()
}

/// Sends `signal` (`STOP`, `CONT`, `TERM`) to a `pollcast serve` process.
fn signal(server: &Server, signal: &str) {
    let sent = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(server.child.id().to_string())
        .status()
        .expect("kill runs");
    assert!(sent.success(), "SIG{signal} sent");
}

/// Where the assertions reach a replica's admin API: its base URL and admin key.
fn admin_of(app: &TestApp) -> (&str, &str) {
    (&app.address, crate::support::app::ADMIN_KEY)
}

/// `prefix0`, `prefix1`, ...: voter ids.
fn names(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

/// The votes topic of a token (`votes.{shard}`).
fn votes_topic(token: &Value) -> String {
    token["votes_topic"]
        .as_str()
        .expect("a votes topic")
        .to_owned()
}

/// The shard of a votes topic (`votes.3` is shard 3).
fn shard_of(topic: &str) -> u32 {
    topic
        .strip_prefix("votes.")
        .and_then(|k| k.parse().ok())
        .unwrap_or_else(|| panic!("not a shard topic: {topic}"))
}

/// A vote Momento acknowledged.
#[derive(Debug, Clone)]
struct Vote {
    poll: String,
    voter: String,
    choice: &'static str,
}

impl Vote {
    fn new(poll: &str, voter: &str, choice: &'static str) -> Self {
        Self {
            poll: poll.to_owned(),
            voter: voter.to_owned(),
            choice,
        }
    }
}

/// Each voter's last acknowledged choice on `poll`, tallied as the results count it (both
/// options of a two-option poll present); and the voters.
fn tally(votes: &[Vote], poll: &str) -> (Value, Vec<String>) {
    let mut latest = std::collections::BTreeMap::new();
    for vote in votes.iter().filter(|v| v.poll == poll) {
        latest.insert(vote.voter.clone(), vote.choice);
    }
    let count = |option: &str| latest.values().filter(|c| **c == option).count();
    let counts = json!({ "o1": count("o1"), "o2": count("o2") });
    (counts, latest.into_keys().collect())
}

/// Publishes `choice` on `poll` with the voter's token to `momento` through the SDK (gRPC), as
/// a voter's app would; panics unless Momento acknowledges it.
async fn cast(momento: &LocalMomento, token: &Value, poll: &str, choice: &'static str) -> Vote {
    cast_to(&momento.grpc_endpoint(), token, poll, choice).await
}

/// [`cast`] to the Momento whose gRPC endpoint is `grpc`.
async fn cast_to(grpc: &str, token: &Value, poll: &str, choice: &'static str) -> Vote {
    let credentials =
        CredentialProvider::from_disposable_token(token["token"].as_str().expect("a token"))
            .expect("a minted token is an SDK auth token")
            .full_endpoint_override(grpc);
    topic_client(credentials)
        .publish("pollcast", votes_topic(token), vote(poll, &[choice]))
        .await
        .expect("Momento acknowledges the vote");
    Vote::new(
        poll,
        token["voter_id"].as_str().expect("a voter id"),
        choice,
    )
}

/// Votes published one after another in the background, one per token (its poll is in its
/// `token_id`), the `i`th choosing `o1` or `o2` by parity, until told to stop or out of tokens.
struct VoteStream {
    published: Arc<AtomicUsize>,
    stop: CancellationToken,
    task: JoinHandle<Vec<Vote>>,
}

impl VoteStream {
    /// Starts publishing with `tokens` to the Momento at `grpc`, one vote every `every`.
    fn start(grpc: String, tokens: &[Value], every: Duration) -> Self {
        let published = Arc::new(AtomicUsize::new(0));
        let stop = CancellationToken::new();
        let (count, stopped, tokens) = (published.clone(), stop.clone(), tokens.to_vec());
        let task = tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for (i, token) in tokens.iter().enumerate() {
                if stopped.is_cancelled() {
                    break;
                }
                let token_id = token["token_id"].as_str().expect("a token id");
                let (poll, _) = token_id.split_once(':').expect("{poll}:{voter}");
                acknowledged.push(cast_to(&grpc, token, poll, ["o1", "o2"][i % 2]).await);
                count.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(every).await;
            }
            acknowledged
        });
        Self {
            published,
            stop,
            task,
        }
    }

    /// How many votes Momento has acknowledged so far.
    fn published(&self) -> usize {
        self.published.load(Ordering::SeqCst)
    }

    /// Waits until `more` votes past the ones published now are acknowledged (at most 10 s).
    async fn until_more(&self, more: usize) {
        let from = self.published();
        until(10, "more votes to be published", || async {
            self.published() >= from + more
        })
        .await
    }

    /// Stops the stream; the acknowledged votes, in order.
    async fn finish(self) -> Vec<Vote> {
        self.stop.cancel();
        self.task.await.expect("the vote stream ends")
    }
}

/// Polls `check` every 50 ms until it holds, failing the test after `seconds`.
async fn until<F, Fut>(seconds: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    within(seconds, what, async {
        while !check().await {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
}

/// A cache client of `momento` with its super-user key, as an operator would read the cache.
fn operator_cache(momento: &LocalMomento) -> CacheClient {
    let key = momento.super_user_key().expose_secret().to_owned();
    let credentials = CredentialProvider::from_api_key_v2(key, "localhost")
        .expect("a v2 API key")
        .full_endpoint_override(&momento.grpc_endpoint());
    CacheClient::builder()
        .default_ttl(Duration::from_secs(60))
        .configuration(configurations::Laptop::latest())
        .credential_provider(credentials)
        .build()
        .expect("a cache client builds")
}

/// Runs the SDK call `call` until Momento does not refuse it over the rate (30 s at most).
async fn despite_throttling<T, F, Fut>(mut call: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, MomentoError>>,
{
    within(30, "a call Momento does not throttle", async {
        loop {
            match call().await {
                Ok(answer) => return answer,
                Err(e) if e.error_code == MomentoErrorCode::LimitExceededError => {
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                Err(e) => panic!("a cache call failed: {e:?}"),
            }
        }
    })
    .await
}

/// What the cache holds for `voters` of `poll` (as `TestApp::ballot_keys_and_ledger` reads
/// it, here through any cache client and while Momento may throttle the reads): each voter's
/// held ballot (`ballot:{poll}:{voter}` = `{position}|{choices}`; released and unseated claims
/// left out) and the poll's ledger (`ballots:{poll}:{shard}`, voter -> choices).
async fn ballots_in_cache(
    cache: &CacheClient,
    poll: &str,
    voters: &[String],
) -> (BallotMap, BallotMap) {
    let mut keys = BallotMap::new();
    for voter in voters {
        let key = format!("ballot:{poll}:{voter}");
        let read = despite_throttling(|| cache.get("pollcast", key.clone())).await;
        if let GetResponse::Hit { value } = read {
            let value = String::try_from(value).expect("UTF-8");
            if let Some((head, choices)) = value.split_once('|') {
                if !head.starts_with('~') {
                    keys.insert(voter.clone(), choices.to_owned());
                }
            }
        }
    }
    let mut ledger = BallotMap::new();
    for shard in 0..16 {
        let name = format!("ballots:{poll}:{shard}");
        let read = despite_throttling(|| cache.dictionary_fetch("pollcast", name.clone())).await;
        if let DictionaryFetchResponse::Hit { value } = read {
            let fields: std::collections::HashMap<String, String> =
                value.try_into().expect("UTF-8 fields");
            ledger.extend(fields);
        }
    }
    (keys, ledger)
}

/// The results of `poll` on the replica at `base` once they show `counts` (read again while
/// it answers 503, as when Momento throttles it), or the last reading after 30 s.
async fn results_showing(base: &str, admin_key: &str, poll: &str, counts: &Value) -> Value {
    let http = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut last = Value::Null;
    while tokio::time::Instant::now() < deadline {
        let answer = http
            .get(format!("{base}/v1/polls/{poll}/results"))
            .bearer_auth(admin_key)
            .send()
            .await
            .expect("the replica answers");
        if let (200, results) = status_and_json(answer).await {
            if results["counts"] == *counts {
                return results;
            }
            last = results;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    last
}

/// Asserts each replica (base URL, admin key) shows `counts` over `voters.len()` ballots for
/// `poll`, and the cache holds one ballot key per voter, equal to the ledger: every voter
/// counted once.
async fn assert_counted_once(
    replicas: &[(&str, &str)],
    cache: &CacheClient,
    poll: &str,
    voters: &[String],
    counts: &Value,
) {
    for (base, admin_key) in replicas {
        let results = results_showing(base, admin_key, poll, counts).await;
        assert_eq!(
            (&results["ballots"], &results["counts"]),
            (&json!(voters.len()), counts),
            "{results}"
        );
    }
    let (keys, ledger) = ballots_in_cache(cache, poll, voters).await;
    assert_eq!(keys.len(), voters.len(), "one ballot key per voter");
    assert_eq!(keys, ledger, "the ledger holds each ballot once");
}

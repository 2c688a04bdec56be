//! Throttling mid-batch. Momento refuses the calls of a namespace over its operations rate
//! (`RESOURCE_EXHAUSTED`, the SDKs' `LimitExceededError`); the local Momento enforces such a
//! quota as the service does, here one that a burst of votes exceeds at once. pollcast's
//! reader keeps what it read and tries each refused vote again with backoff, so once the
//! burst is over every acknowledged vote counts, once.

use std::time::Duration;

use futures::future::join_all;
use local_momento::quota::Quota;
use local_momento::LocalMomentoConfig;
use momento::{CredentialProvider, MomentoErrorCode};
use pollcast::config::IngestMode;
use serde_json::{json, Value};

use super::{
    admin_of, assert_counted_once, names, operator_cache, replica, shared_momento, stop_all, tally,
    votes_topic, Vote,
};
use crate::support::app::{a_poll_with, status_and_json, within, Caller, TestApp};
use crate::support::sdk::topic_client;
use crate::support::voting::vote;

/// Low enough that a burst of 90 votes (each a publish, a delivery and the pipeline's calls)
/// is refused in part; high enough for a replica's own upkeep.
const QUOTA: Quota = Quota {
    operations_per_second: 200,
    subscriptions: 50,
};

/// Momento calls of the replica refused over a rate limit so far (every kind of call).
async fn throttled_calls(app: &TestApp) -> u64 {
    let text = app.get("/metrics").await.text().await.expect("metrics");
    text.lines()
        .filter(|line| line.starts_with("pollcast_momento_calls_total{"))
        .filter(|line| line.contains("outcome=\"throttled\""))
        .filter_map(|line| line.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// Tokens for `voters` of `poll`, minted in small batches, each tried again while pollcast
/// answers that Momento throttles it (503).
async fn tokens_despite_throttling(app: &TestApp, poll: &str, voters: &[String]) -> Vec<Value> {
    let mut tokens = Vec::new();
    for chunk in voters.chunks(15) {
        let body = json!({ "voter_ids": chunk });
        let batch = within(30, "a batch of tokens", async {
            loop {
                let answer = app.mint_tokens(poll, &body, Caller::Admin).await;
                match status_and_json(answer).await {
                    (201, batch) => return batch,
                    (503, _) => tokio::time::sleep(Duration::from_millis(300)).await,
                    (status, body) => panic!("minting tokens: {status} {body}"),
                }
            }
        })
        .await;
        tokens.extend(batch["tokens"].as_array().expect("tokens").iter().cloned());
    }
    tokens
}

/// Publishes `choice` on `poll` with the voter's token, trying again while Momento refuses it
/// over the rate (as a voter's app must): returns once Momento acknowledges it.
async fn cast_until_acknowledged(
    grpc: &str,
    token: &Value,
    poll: &str,
    choice: &'static str,
) -> Vote {
    let text = vote(poll, &[choice]);
    let credentials =
        CredentialProvider::from_disposable_token(token["token"].as_str().expect("a token"))
            .expect("a minted token is an SDK auth token")
            .full_endpoint_override(grpc);
    let voter = topic_client(credentials);
    let mut wait = Duration::from_millis(50);
    within(30, "Momento to acknowledge a vote", async {
        loop {
            match voter
                .publish("pollcast", votes_topic(token), text.clone())
                .await
            {
                Ok(_) => {
                    return Vote::new(poll, token["voter_id"].as_str().expect("a voter"), choice)
                }
                Err(e) if e.error_code == MomentoErrorCode::LimitExceededError => {
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(1));
                }
                Err(e) => panic!("a vote refused: {e:?}"),
            }
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn votes_throttled_mid_batch_are_each_counted_once_when_the_throttling_passes() {
    // Arrange: a replica reading every shard of a local Momento with a low quota.
    let momento = shared_momento(LocalMomentoConfig {
        quota: Some(QUOTA),
        ..LocalMomentoConfig::default()
    })
    .await;
    let app = replica(&momento, 4).await;
    app.ingest_ready(IngestMode::Subscription).await;
    let poll = app
        .open_poll(&a_poll_with(json!({ "allow_revote": true })))
        .await;
    let tokens = tokens_despite_throttling(&app, &poll, &names("v", 60)).await;
    let (before, throttled_before) = (app.metrics().await, throttled_calls(&app).await);

    // Act: all at once, every voter votes o1 and every other one then changes to o2.
    let grpc = momento.grpc_endpoint();
    let acknowledged = join_all(tokens.iter().enumerate().map(|(i, token)| {
        let (grpc, poll) = (grpc.as_str(), poll.as_str());
        async move {
            let first = cast_until_acknowledged(grpc, token, poll, "o1").await;
            if i % 2 == 1 {
                return vec![first];
            }
            vec![
                first,
                cast_until_acknowledged(grpc, token, poll, "o2").await,
            ]
        }
    }))
    .await
    .concat();

    // Assert: pollcast's own calls were refused along the way (votes failed mid-batch and were
    // tried again), and every voter counts once, with their last vote.
    let (counts, voters) = tally(&acknowledged, &poll);
    assert_eq!(
        (&counts, voters.len()),
        (&json!({ "o1": 30, "o2": 30 }), 60)
    );
    let cache = operator_cache(&momento);
    assert_counted_once(&[admin_of(&app)], &cache, &poll, &voters, &counts).await;
    let throttled = throttled_calls(&app).await - throttled_before;
    assert!(throttled > 0, "pollcast's calls were throttled");
    let seen = app.metrics().await.since(&before);
    let retried = seen.backend_errors();
    assert!(retried > 0, "votes refused mid-batch were tried again");
    assert_eq!(seen.get("subscription_lost_messages_total", None), 0);
    let stats = momento.observer().quota_stats().expect("a quota");
    println!(
        "throttling: {throttled} of pollcast's calls refused ({} in all); {retried} tries of a \
         vote failed and were made again",
        stats.throttled
    );
    stop_all([app]).await;
    momento.shutdown().await;
}

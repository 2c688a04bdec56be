//! A shard topic that resets its sequence. Momento's service may reset a topic (after
//! inactivity, say): a new sequence page, numbering from 1 again, the old page's messages gone.
//! The local Momento does the same on `faults().reset_topic(..)`, at the topic's next publish
//! or subscribe, ending the subscriptions open on it.
//!
//! What a reset costs: the votes published on the old page after the last one a reader read
//! are gone with that page. No reader can read them, and none can tell how many there were
//! (the reader never saw the old page's last number), so they are not in
//! `pollcast_subscription_lost_messages_total`: the reset is counted instead, in
//! `pollcast_subscription_resets_total`, and logged. Everything published on the new page is
//! read, including what was published there before the reader came back (it is read from the
//! start of the new page once the reader sees the first item on it).

use std::time::Duration;

use local_momento::LocalMomentoConfig;
use pollcast::config::IngestMode;
use serde_json::json;

use super::{
    admin_of, assert_counted_once, ballots_in_cache, cast, names, operator_cache, replica,
    shared_momento, stop_all, tally, until, votes_topic,
};
use crate::support::app::a_poll_with;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn votes_before_and_after_a_shard_topic_reset_are_counted_once() {
    // Arrange: a replica reading every shard counts the first 10 voters of a poll.
    let momento = shared_momento(LocalMomentoConfig::default()).await;
    let app = replica(&momento, 4).await;
    let before = app.ingest_ready(IngestMode::Subscription).await;
    let poll = app
        .open_poll(&a_poll_with(json!({ "allow_revote": true })))
        .await;
    let tokens = app.tokens_for(&poll, &names("v", 30)).await;
    let topic = votes_topic(&tokens[0]);
    let mut acknowledged = Vec::new();
    for token in &tokens[..10] {
        acknowledged.push(cast(&momento, token, &poll, "o1").await);
    }
    app.results_with(&poll, 10).await;

    // Act: the topic resets at its next publish, which ends the reader's subscription. Its
    // re-subscription is held back a second, so the votes that follow land on the new page
    // before the reader is back: ten new voters, and five of the first changing their vote.
    momento
        .faults()
        .delay("Subscribe", 1, Duration::from_secs(1));
    momento.faults().reset_topic("pollcast", &topic);
    for i in (10..20).chain(0..5) {
        acknowledged.push(cast(&momento, &tokens[i], &poll, "o2").await);
    }
    until(10, "the reader to subscribe again", || async {
        momento.client().subscribers("pollcast", &topic) == 1
    })
    .await;
    for token in &tokens[20..] {
        acknowledged.push(cast(&momento, token, &poll, "o1").await);
    }

    // Assert: every voter once, with their last vote; one reset seen, nothing said lost.
    let (counts, voters) = tally(&acknowledged, &poll);
    assert_eq!(
        (&counts, voters.len()),
        (&json!({ "o1": 15, "o2": 15 }), 30)
    );
    let cache = operator_cache(&momento);
    assert_counted_once(&[admin_of(&app)], &cache, &poll, &voters, &counts).await;
    let seen = app.metrics().await.since(&before);
    assert_eq!(seen.get("subscription_resets_total", None), 1);
    assert_eq!(seen.get("subscription_lost_messages_total", None), 0);
    stop_all([app]).await;
    momento.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_loses_only_the_old_pages_unread_votes_and_is_counted_as_a_reset() {
    // Arrange: a replica counts 5 votes and stops (its position saved); 5 more are published
    // on the old page while no replica reads it.
    let momento = shared_momento(LocalMomentoConfig::default()).await;
    let app = replica(&momento, 4).await;
    app.ingest_ready(IngestMode::Subscription).await;
    let poll = app.open_poll(&a_poll_with(json!({}))).await;
    let tokens = app.tokens_for(&poll, &names("v", 20)).await;
    let topic = votes_topic(&tokens[0]);
    let mut counted = Vec::new();
    for token in &tokens[..5] {
        counted.push(cast(&momento, token, &poll, "o1").await);
    }
    app.results_with(&poll, 5).await;
    app.stop().await;
    let mut gone = Vec::new();
    for token in &tokens[5..10] {
        gone.push(cast(&momento, token, &poll, "o2").await.voter);
    }

    // Act: the topic resets; 5 vote on the new page; a replica starts; 5 more vote.
    momento.faults().reset_topic("pollcast", &topic);
    for token in &tokens[10..15] {
        counted.push(cast(&momento, token, &poll, "o1").await);
    }
    let back = replica(&momento, 4).await;
    until(10, "the new replica to read every shard", || async {
        back.metrics().await.get("ingest_shards_held", None) == 4
    })
    .await;
    for token in &tokens[15..] {
        counted.push(cast(&momento, token, &poll, "o2").await);
    }

    // Assert: the votes published on the old page after the last one read went with it;
    // every other voter counts once. The reset is counted; the votes it took are not counted
    // as lost messages (their number is unknown).
    let (counts, voters) = tally(&counted, &poll);
    assert_eq!((&counts, voters.len()), (&json!({ "o1": 10, "o2": 5 }), 15));
    let cache = operator_cache(&momento);
    assert_counted_once(&[admin_of(&back)], &cache, &poll, &voters, &counts).await;
    let (lost, _) = ballots_in_cache(&cache, &poll, &gone).await;
    assert!(lost.is_empty(), "{lost:?}");
    let seen = back.metrics().await;
    assert_eq!(seen.get("subscription_resets_total", None), 1);
    assert_eq!(seen.get("subscription_lost_messages_total", None), 0);
    stop_all([back]).await;
    momento.shutdown().await;
}

//! End to end: 300 voters of three polls (single, multi with revotes, ranked) take tokens and
//! publish through Momento's HTTP topics API on the app's port, some through the official
//! SDK; some vote twice, some spoof; the results endpoint, the results topic and `/metrics`
//! show exactly what was cast. The same test runs with webhook ingest, subscription ingest,
//! and both.

use std::collections::{BTreeMap, HashMap};

use futures::StreamExt;
use pollcast::config::IngestMode;
use serde_json::{json, Value};

use crate::support::app::{a_poll_with, id_of, spawn_app_with, status_and_json, TestApp};
use crate::support::runoff::{expected_runoff, runoff_of};
use crate::support::voting::{option_ids, settings_with, vote, Metrics};

const SINGLE_VOTERS: usize = 120;
const MULTI_VOTERS: usize = 90;
const RANKED_VOTERS: usize = 90;
/// Voters of each poll that publish through the official SDK rather than HTTP.
const SDK_VOTERS: usize = 10;
/// Publishes at once.
const CONCURRENCY: usize = 32;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_vote_is_counted_once_with_webhook_ingest() {
    every_vote_is_counted_exactly_once(IngestMode::Webhook).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_vote_is_counted_once_with_subscription_ingest() {
    every_vote_is_counted_exactly_once(IngestMode::Subscription).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_vote_is_counted_once_with_both_ingest_paths_on() {
    every_vote_is_counted_exactly_once(IngestMode::Both).await;
}

/// A poll of the test and the ballots it should end with.
struct TestPoll {
    id: String,
    options: Vec<String>,
    tokens: Vec<Value>,
    /// Voter index -> the choices that should count.
    ballots: BTreeMap<usize, Vec<String>>,
}

impl TestPoll {
    async fn open(app: &TestApp, body: Value, prefix: &str, voters: usize) -> Self {
        let poll = app.created_poll(&a_poll_with(body)).await;
        let id = id_of(&poll);
        let (status, opened) = status_and_json(app.transition(&id, "open").await).await;
        assert_eq!(status, 200, "{opened}");
        let names: Vec<String> = (0..voters).map(|i| format!("{prefix}{i:03}")).collect();
        let tokens = app.tokens_for(&id, &names).await;
        Self {
            id,
            options: option_ids(&poll),
            tokens,
            ballots: BTreeMap::new(),
        }
    }

    fn option(&self, n: usize) -> String {
        self.options[n - 1].clone()
    }

    fn choices(&self, numbers: &[usize]) -> Vec<String> {
        numbers.iter().map(|&n| self.option(n)).collect()
    }

    /// A message voting `choices` in this poll, from voter `i`.
    fn vote(&self, i: usize, choices: &[String]) -> Message {
        let choices: Vec<&str> = choices.iter().map(String::as_str).collect();
        Message {
            token: Some(self.tokens[i].clone()),
            text: vote(&self.id, &choices),
            sdk: false,
        }
    }

    /// Ballots and counts per option (first preferences for ranked polls) the results
    /// should show.
    fn expected_counts(&self, first_only: bool) -> (u64, Value) {
        let mut counts: BTreeMap<&str, u64> =
            self.options.iter().map(|o| (o.as_str(), 0)).collect();
        for choices in self.ballots.values() {
            let counted = if first_only { &choices[..1] } else { choices };
            for choice in counted {
                *counts.get_mut(choice.as_str()).unwrap() += 1;
            }
        }
        (self.ballots.len() as u64, json!(counts))
    }
}

/// One message to publish: with a voter token (HTTP topics API, or the SDK when `sdk`), or
/// with the super-user key when `token` is `None`.
struct Message {
    token: Option<Value>,
    text: String,
    sdk: bool,
}

async fn publish_all(app: &TestApp, messages: Vec<Message>) {
    let operator = app.operator_topics();
    futures::stream::iter(messages)
        .for_each_concurrent(CONCURRENCY, |message| {
            let operator = &operator;
            async move {
                match (&message.token, message.sdk) {
                    (Some(token), false) => {
                        assert_eq!(app.publish_http(token, &message.text).await, 204);
                    }
                    (Some(token), true) => {
                        app.voter_topics(token["token"].as_str().unwrap())
                            .publish("pollcast", "votes", message.text.clone())
                            .await
                            .expect("a voter publishes through the SDK");
                    }
                    (None, _) => {
                        operator
                            .publish("pollcast", "votes", message.text.clone())
                            .await
                            .expect("the operator publishes");
                    }
                }
            }
        })
        .await;
}

/// Single voter `i`'s choice: 50% the first option, 30% the second, 20% the third.
fn single_choice(i: usize) -> usize {
    match i % 10 {
        0..=4 => 1,
        5..=7 => 2,
        _ => 3,
    }
}

/// Multi ballots (up to 2 of 4), by voter `i`.
const MULTI: [&[usize]; 6] = [&[1], &[1, 2], &[2, 3], &[4], &[1, 4], &[3]];

/// Ranked ballots, by voter `i % 10`: first preferences tie twice for fewest and some
/// ballots run out, so the count takes three rounds.
fn ranking(i: usize) -> &'static [usize] {
    match i % 10 {
        0..=2 => &[1, 2, 3],
        3..=4 => &[2, 3],
        5..=6 => &[3, 2, 1],
        7..=8 => &[4, 3],
        _ => &[4],
    }
}

async fn every_vote_is_counted_exactly_once(ingest: IngestMode) {
    // Arrange
    let app = spawn_app_with(settings_with(ingest)).await;
    let before = app.ingest_ready(ingest).await;
    let mut single = TestPoll::open(
        &app,
        json!({ "options": ["Pizza", "Sushi", "Tacos"] }),
        "s",
        SINGLE_VOTERS,
    )
    .await;
    let mut multi = TestPoll::open(
        &app,
        json!({ "kind": "multi", "max_choices": 2, "allow_revote": true,
                "options": ["Red", "Green", "Blue", "Gold"] }),
        "m",
        MULTI_VOTERS,
    )
    .await;
    let mut ranked = TestPoll::open(
        &app,
        json!({ "kind": "ranked", "options": ["Ann", "Ben", "Cat", "Dan"] }),
        "r",
        RANKED_VOTERS,
    )
    .await;
    let feeds = [
        app.results_feed(&single.id).await,
        app.results_feed(&multi.id).await,
        app.results_feed(&ranked.id).await,
    ];

    // Act 1: every voter's first ballot; the first few of each poll through the SDK.
    let mut first = Vec::new();
    for (poll, choose) in [
        (
            &mut single,
            &(|i| vec![single_choice(i)]) as &dyn Fn(usize) -> Vec<usize>,
        ),
        (&mut multi, &|i| MULTI[i % MULTI.len()].to_vec()),
        (&mut ranked, &|i| ranking(i).to_vec()),
    ] {
        for i in 0..poll.tokens.len() {
            let choices = poll.choices(&choose(i));
            let mut message = poll.vote(i, &choices);
            message.sdk = i < SDK_VOTERS;
            first.push(message);
            poll.ballots.insert(i, choices);
        }
    }
    let first_votes = first.len() as u64;
    publish_all(&app, first).await;
    for poll in [&single, &multi, &ranked] {
        let results = app.results_with(&poll.id, poll.ballots.len() as u64).await;
        assert_eq!(results["ballots"], poll.ballots.len(), "{results}");
    }

    // Act 2: repeats, revotes and spoofs.
    let mut more = Vec::new();
    for i in 0..10 {
        // The same vote again, and another vote on a poll without revoting.
        more.push(single.vote(i, &single.ballots[&i]));
        let other = single.choices(&[single_choice(i) % 3 + 1]);
        more.push(single.vote(10 + i, &other));
    }
    let revotes = 15;
    for i in 0..revotes {
        let choices = multi.choices(MULTI[(i + 1) % MULTI.len()]);
        more.push(multi.vote(i, &choices));
        multi.ballots.insert(i, choices);
    }
    for i in 0..5 {
        more.push(ranked.vote(i, &ranked.ballots[&i]));
    }
    for i in 20..25 {
        // A token of the single poll voting in the multi poll.
        let mut spoof = multi.vote(0, &multi.choices(&[1]));
        spoof.token = Some(single.tokens[i].clone());
        more.push(spoof);
    }
    for _ in 0..2 {
        // No token at all: the super-user key publishes a well-formed vote.
        let mut anonymous = single.vote(0, &single.choices(&[1]));
        anonymous.token = None;
        more.push(anonymous);
    }
    for text in [
        "not json".to_owned(),
        json!({ "poll_id": ranked.id, "choices": "o1" }).to_string(),
        json!({ "choices": ["o1"] }).to_string(),
    ] {
        more.push(Message {
            token: Some(ranked.tokens[10].clone()),
            text,
            sdk: false,
        });
    }
    let published = first_votes + more.len() as u64;
    publish_all(&app, more).await;

    // Assert: every copy of every message decided, and counted by what it was.
    let paths = u64::from(ingest.webhook()) + u64::from(ingest.subscription());
    let metrics = app
        .metrics_after(before.handled() + paths * published)
        .await
        .since(&before);
    assert_counted(&metrics, ingest, published, first_votes, revotes as u64);

    // The results endpoint and the results topic show exactly the ballots cast.
    let polls = [(&single, false), (&multi, false), (&ranked, true)];
    for ((poll, ranked_poll), feed) in polls.into_iter().zip(&feeds) {
        let (ballots, counts) = poll.expected_counts(ranked_poll);
        let results = app
            .results_when(&poll.id, |r| {
                r["ballots"] == ballots && r["counts"] == counts
            })
            .await;
        assert_eq!(
            (&results["ballots"], &results["counts"]),
            (&json!(ballots), &counts),
            "{results}"
        );
        assert_eq!(results["state"], "open");
        if ranked_poll {
            let rankings: Vec<Vec<String>> = poll.ballots.values().cloned().collect();
            let expected = expected_runoff(&poll.options, &rankings);
            assert_eq!(runoff_of(&results), expected, "{results}");
            assert_eq!(expected.1, json!(poll.option(2)), "the test's own count");
            assert_eq!(results["rounds"].as_array().unwrap().len(), 3);
        } else {
            assert_eq!(results["rounds"], Value::Null, "{results}");
        }
        let messages = feed.messages_until(|m| m["seq"] == results["seq"]).await;
        let seqs: Vec<u64> = messages
            .iter()
            .map(|m| m["seq"].as_u64().unwrap())
            .collect();
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "seq increases strictly: {seqs:?}"
        );
        let last = messages.last().expect("results were published");
        assert_eq!(last["seq"], results["seq"]);
        assert_eq!(
            (&last["ballots"], &last["counts"], &last["poll_id"]),
            (&results["ballots"], &results["counts"], &json!(poll.id))
        );
        assert_eq!(runoff_of(last), runoff_of(&results));
    }
}

/// The metrics of the test's votes, delivered once per ingest path.
fn assert_counted(
    metrics: &Metrics,
    ingest: IngestMode,
    published: u64,
    first_votes: u64,
    revotes: u64,
) {
    let paths = u64::from(ingest.webhook()) + u64::from(ingest.subscription());
    let repeats = 10 + 5;
    assert_eq!(metrics.accepted(), first_votes, "first ballots");
    assert_eq!(metrics.revoted(), revotes, "revotes");
    assert_eq!(
        metrics.duplicates(),
        (paths - 1) * (first_votes + revotes) + paths * repeats,
        "duplicates: every extra copy, and the repeated votes"
    );
    let expected: HashMap<String, u64> = [
        ("already_voted", 10),
        ("wrong_poll", 5),
        ("missing_token", 2),
        ("malformed", 3),
    ]
    .into_iter()
    .map(|(reason, n)| (reason.to_owned(), paths * n))
    .collect();
    assert_eq!(metrics.rejections(), expected);
    assert_eq!(metrics.backend_errors(), 0);
    let received = |on: bool| if on { published } else { 0 };
    assert_eq!(metrics.received("webhook"), received(ingest.webhook()));
    assert_eq!(
        metrics.received("subscription"),
        received(ingest.subscription())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_momento_call_of_a_vote_and_its_results_is_counted_in_metrics() {
    // Arrange: one vote, counted and published.
    let app = spawn_app_with(settings_with(IngestMode::Webhook)).await;
    let poll = TestPoll::open(&app, json!({}), "c", 1).await;
    let before = app.metrics().await;
    let status = app
        .publish_http(&poll.tokens[0], &vote(&poll.id, &[&poll.options[0]]))
        .await;
    assert_eq!(status, 204);
    app.results_with(&poll.id, 1).await;

    // Assert: the results publish and the stores' reads and writes are counted, not only the
    // calls of the stores made after the metrics were attached (an operator checks the bill
    // against these).
    let published = "momento_calls_total{call=\"publish\",outcome=\"ok\"}";
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let metrics = loop {
        let metrics = app.metrics().await;
        if metrics.series(published) > before.series(published)
            || tokio::time::Instant::now() >= deadline
        {
            break metrics;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(
        metrics.series(published) > before.series(published),
        "the results publish is counted: {metrics:?}"
    );
    let gets = "momento_calls_total{call=\"get\",outcome=\"ok\"}";
    assert!(
        metrics.series(gets) > before.series(gets),
        "the poll and snapshot reads are counted: {metrics:?}"
    );
}

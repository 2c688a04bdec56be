//! Two application instances sharing one local Momento, as replicas behind a load balancer:
//! conflicting transitions raced on one poll (the compare-and-set on the poll record lets
//! exactly one win), a replica acting on a poll another replica created, and both replicas
//! ingesting the same votes.

use std::time::Duration;

use futures::future::join_all;
use local_momento::{LocalMomento, LocalMomentoConfig};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};

use crate::support::app::{
    a_poll, a_poll_with, assert_error, id_of, in_seconds, spawn_app_with, status_and_json,
    test_settings, within, TestApp,
};
use crate::support::voting::vote;

const ROUNDS: usize = 20;

/// A local Momento and two apps using it as if it were Momento's service.
async fn two_replicas() -> (LocalMomento, TestApp, TestApp) {
    two_replicas_with(|_| {}).await
}

/// [`two_replicas`], each replica's settings changed by `change`.
async fn two_replicas_with(
    change: impl Fn(&mut pollcast::config::ServeArgs),
) -> (LocalMomento, TestApp, TestApp) {
    let momento = LocalMomento::start(LocalMomentoConfig::default())
        .await
        .expect("the shared local Momento starts");
    momento.ensure_cache("pollcast").await.expect("the cache");
    let replica = || {
        let mut settings = test_settings();
        settings.momento_api_key = Some(SecretString::from(
            momento.super_user_key().expose_secret().to_owned(),
        ));
        settings.momento_endpoint = Some("localhost".into());
        settings.momento_endpoint_override = Some(momento.grpc_endpoint());
        // Replicas behind one load balancer share its URL (polls carry links under it).
        settings.public_url = Some("http://pollcast.test".into());
        change(&mut settings);
        spawn_app_with(settings)
    };
    let a = replica().await;
    let b = replica().await;
    (momento, a, b)
}

/// Fires `event_a` on replica `a` and `event_b` on replica `b` at the same time; returns each
/// answer's status and body.
async fn race(
    a: &TestApp,
    event_a: &str,
    b: &TestApp,
    event_b: &str,
    id: &str,
) -> [(u16, Value); 2] {
    let (from_a, from_b) = tokio::join!(a.transition(id, event_a), b.transition(id, event_b));
    [status_and_json(from_a).await, status_and_json(from_b).await]
}

/// Asserts exactly one answer is 200 and the other an illegal transition; returns the winner's
/// poll and which replica won (0 = a).
fn one_winner(answers: &[(u16, Value); 2]) -> (Value, usize) {
    let statuses = [answers[0].0, answers[1].0];
    let winner = match statuses {
        [200, 409] => 0,
        [409, 200] => 1,
        other => panic!("expected one 200 and one 409, got {other:?}: {answers:?}"),
    };
    let loser = &answers[1 - winner].1;
    assert_eq!(loser["error"], "illegal_transition", "{loser}");
    (answers[winner].1.clone(), winner)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_closing_one_poll_at_once_store_exactly_one_close() {
    let (momento, a, b) = two_replicas().await;
    for _ in 0..ROUNDS {
        // Arrange
        let id = a.open_poll(&a_poll()).await;

        // Act
        let answers = race(&a, "close", &b, "close", &id).await;

        // Assert
        let (winner, _) = one_winner(&answers);
        assert_eq!(winner["state"], "closed");
        assert_eq!(winner["version"], 3, "created, opened, closed once");
        assert_eq!(
            answers.iter().find(|(s, _)| *s == 409).unwrap().1["state"],
            "closed"
        );
        for replica in [&a, &b] {
            let stored = replica.listed_poll(&id).await;
            assert_eq!(stored, winner, "both replicas see the one stored close");
        }
    }
    drop((a, b));
    momento.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_on_one_replica_while_cancelling_on_another_leaves_the_winners_state() {
    let (momento, a, b) = two_replicas().await;
    let mut wins = [0, 0];
    for _ in 0..ROUNDS {
        // Arrange: a draft, created on b.
        let id = id_of(&b.created_poll(&a_poll()).await);

        // Act
        let answers = race(&a, "open", &b, "cancel", &id).await;

        // Assert
        let (winner, replica) = one_winner(&answers);
        wins[replica] += 1;
        let expected = ["open", "cancelled"][replica];
        assert_eq!(winner["state"], expected, "{answers:?}");
        assert_eq!(winner["version"], 2, "exactly one change was stored");
        let loser = &answers[1 - replica].1;
        assert_eq!(
            loser["state"], expected,
            "the loser saw the winner's state: {loser}"
        );
        for replica in [&a, &b] {
            assert_eq!(replica.listed_poll(&id).await, winner);
            let (_, public) = status_and_json(replica.get_poll(&id).await).await;
            assert_eq!(public["state"], expected);
        }
    }
    assert_eq!(wins[0] + wins[1], ROUNDS, "{wins:?}");
    drop((a, b));
    momento.shutdown().await;
}

#[tokio::test]
async fn admins_act_on_the_state_readers_see_before_any_scheduler_has_stored_it() {
    // Arrange: polls created on a replica that stops before their opening, so no scheduler
    // has stored them open when the other replica is asked to act on them.
    let (momento, a, b) = two_replicas().await;
    // b's scheduler reads the poll index at start, then every 5 s: let it read it empty.
    within(10, "b's scheduler to read the poll index", async {
        while b.metrics().await.get("scheduler_rescans_total", None) == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let times = || json!({ "opens_at": in_seconds(1), "closes_at": in_seconds(3600) });
    let to_close = id_of(&a.created_poll(&a_poll_with(times())).await);
    let to_cancel = id_of(&a.created_poll(&a_poll_with(times())).await);
    a.stop().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while status_and_json(b.get_poll(&to_cancel).await).await.1["state"] != "open" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the poll never looked open"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let unstored = b.listed_poll(&to_cancel).await;
    assert_eq!(
        (&unstored["state"], &unstored["version"]),
        (&json!("open"), &json!(1))
    );

    // Act
    let (closed_status, closed) = status_and_json(b.transition(&to_close, "close").await).await;
    let cancel = b.transition(&to_cancel, "cancel").await;

    // Assert: the poll readers saw open is closed, and is not cancelled as if it never opened.
    assert_eq!(closed_status, 200, "{closed}");
    assert_eq!(closed["state"], "closed");
    assert_eq!(closed["version"], 3, "opened by the clock, then closed");
    let refused = assert_error(cancel, 409, "illegal_transition").await;
    assert_eq!(refused["state"], "open", "{refused}");
    assert_eq!(b.listed_poll(&to_cancel).await["state"], "open");
    drop(b);
    momento.shutdown().await;
}

#[tokio::test]
async fn a_poll_whose_replica_stopped_is_still_opened_and_closed_by_another() {
    // Arrange: a poll created on a replica that stops before its deadlines. The other replica
    // learns of it from the poll index, which it reads every 5 s.
    let (momento, a, b) = two_replicas().await;
    let body = a_poll_with(json!({ "opens_at": in_seconds(1), "closes_at": in_seconds(6) }));
    let id = id_of(&a.created_poll(&body).await);
    a.stop().await;

    // Act: nobody acts on the poll.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let stored = loop {
        let poll = b.listed_poll(&id).await;
        if poll["version"] == 3 || tokio::time::Instant::now() >= deadline {
            break poll;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    // Assert: opened and closed, each change stored.
    assert_eq!(
        (&stored["state"], &stored["version"]),
        (&json!("closed"), &json!(3))
    );
    drop(b);
    momento.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_sharing_the_votes_shards_count_each_voter_once() {
    // Arrange: both replicas subscribe (the default against a Momento other than the embedded
    // one) and share the votes topics through leases: each reads only the shards it holds.
    let (momento, a, b) = two_replicas().await;
    let shards = u64::from(a.vote_shards);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    let held = loop {
        let held = [
            a.metrics().await.get("ingest_shards_held", None),
            b.metrics().await.get("ingest_shards_held", None),
        ];
        if held[0] + held[1] == shards && held[0] > 0 && held[1] > 0 {
            break held;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "shards never shared: {held:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(held, [shards / 2, shards / 2], "an even share each");
    let before = [a.quiet_metrics().await, b.quiet_metrics().await];
    let single = a
        .open_poll(&a_poll_with(json!({ "options": ["A", "B", "C"] })))
        .await;
    let capped = b.open_poll(&a_poll_with(json!({ "max_voters": 7 }))).await;
    let revote = a
        .open_poll(&a_poll_with(json!({ "allow_revote": true })))
        .await;
    let names = |prefix: &str, n: usize| -> Vec<String> {
        (0..n).map(|i| format!("{prefix}{i}")).collect()
    };
    let (single_voters, capped_voters, revoters) = (names("s", 30), names("c", 20), names("r", 10));
    let mut votes = Vec::new();
    for (i, token) in a
        .tokens_for(&single, &single_voters)
        .await
        .iter()
        .enumerate()
    {
        let choice = ["o1", "o2", "o3"][i % 3];
        votes.push((token.clone(), vote(&single, &[choice])));
        if i < 10 {
            votes.push((token.clone(), vote(&single, &[choice]))); // the same vote again
        }
    }
    for token in b.tokens_for(&capped, &capped_voters).await {
        votes.push((token, vote(&capped, &["o2"])));
    }
    let revote_tokens = a.tokens_for(&revote, &revoters).await;

    // Act: every vote is published once, on its poll's votes topic; revoters vote o1, then o2.
    let a_ref = &a;
    join_all(votes.iter().map(|(token, text)| async move {
        let voter = a_ref.voter_topics(token["token"].as_str().unwrap());
        let topic = token["votes_topic"].as_str().unwrap();
        voter
            .publish("pollcast", topic, text.clone())
            .await
            .expect("a vote");
    }))
    .await;
    join_all(revote_tokens.iter().map(|token| async {
        let voter = a.voter_topics(token["token"].as_str().unwrap());
        let topic = token["votes_topic"].as_str().unwrap();
        for choice in ["o1", "o2"] {
            let text = vote(&revote, &[choice]);
            voter
                .publish("pollcast", topic, text)
                .await
                .expect("a vote");
        }
    }))
    .await;

    // Assert: every vote was decided once, by the replica holding its shard...
    let published = (votes.len() + 2 * revote_tokens.len()) as u64;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let handled = [
            a.metrics().await.since(&before[0]).handled(),
            b.metrics().await.since(&before[1]).handled(),
        ];
        if handled[0] + handled[1] >= published {
            assert_eq!(
                handled[0] + handled[1],
                published,
                "each vote once: {handled:?}"
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "votes undecided: {handled:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // ... and each voter counts once, with their latest vote, as either replica shows.
    for (id, voters, ballots, counts) in [
        (
            &single,
            &single_voters,
            30,
            json!({ "o1": 10, "o2": 10, "o3": 10 }),
        ),
        (&capped, &capped_voters, 7, json!({ "o1": 0, "o2": 7 })),
        (&revote, &revoters, 10, json!({ "o1": 0, "o2": 10 })),
    ] {
        for replica in [&a, &b] {
            let results = replica.results_when(id, |r| r["counts"] == counts).await;
            assert_eq!(
                (&results["ballots"], &results["counts"]),
                (&json!(ballots), &counts)
            );
        }
        let (keys, ledger) = a.ballot_keys_and_ledger(id, voters).await;
        assert_eq!(keys, ledger);
    }
    drop((a, b));
    momento.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_replica_refreshes_an_open_polls_ttls_each_period_not_every_replica() {
    // Arrange: a record TTL of 2 s, so each replica's scheduler finds the poll due for a
    // refresh every 0.5 s. A refresh reads the ledger and touches every voter's ballot key:
    // done by every replica, it would cost Momento that many times over.
    let ttl = Duration::from_secs(2);
    let (_momento, a, b) = two_replicas_with(|s| s.record_ttl = Some(ttl)).await;
    let id = id_of(&a.created_poll(&a_poll()).await);
    let (status, _) = status_and_json(a.transition(&id, "open").await).await;
    assert_eq!(status, 200);
    let refreshes = || async {
        a.metrics().await.get("keep_alive_refreshes_total", None)
            + b.metrics().await.get("keep_alive_refreshes_total", None)
    };
    let before = refreshes().await;

    // Act: time passes (the refreshes are what it is about).
    let periods = 12;
    tokio::time::sleep(ttl / 4 * periods).await;

    // Assert: the poll's refreshes are shared out, a claim at a time: about one every other
    // period (a replica's scheduler looks every period and finds the poll due every other time),
    // where two replicas each refreshing make about one a period (12 here).
    let made = refreshes().await - before;
    assert!(
        (2..=u64::from(periods) * 3 / 4).contains(&made),
        "{made} refreshes in {periods} periods by two replicas"
    );
    let view = a.get(&format!("/v1/polls/{id}")).await;
    assert_eq!(view.status(), 200, "the poll outlived its TTL");
}

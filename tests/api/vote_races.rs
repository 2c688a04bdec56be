//! Votes racing each other: one event delivered many times at once, a voter revoting many times
//! at once, many voters at once, and the last seats of a capped poll. Whatever the interleaving,
//! each voter counts once, with their latest vote.

use std::time::Duration;

use futures::future::join_all;
use local_momento::{Faults, Remaining};
use pollcast::config::IngestMode;
use serde_json::json;

use crate::support::app::{a_poll_with, spawn_app_with, within, TestApp};
use crate::support::voting::{settings_with, token_id, vote, webhook_settings, Event};

/// Delivers every event at once; returns each answer's outcome.
async fn deliver_all(app: &TestApp, events: &[Event]) -> Vec<String> {
    join_all(events.iter().map(|event| app.deliver(event)))
        .await
        .into_iter()
        .map(|(status, body)| {
            assert_eq!(status, 200, "{body}");
            body["outcome"].as_str().unwrap().to_owned()
        })
        .collect()
}

fn count(outcomes: &[String], outcome: &str) -> usize {
    outcomes.iter().filter(|o| *o == outcome).count()
}

/// The results of `id` once every vote so far has settled: a new voter's ballot (for `o4`,
/// seq 1000) makes the publisher publish again; it is taken out of the counts returned, which
/// have `ballots` ballots besides it. The published results must equal a count of the ledger
/// from scratch (the running counts kept through the races are checked that way).
async fn recounted(app: &TestApp, id: &str, ballots: u64) -> serde_json::Value {
    let witness = Event::new(&token_id(id, "witness"), &vote(id, &["o4"]), 1000);
    app.deliver_expecting(&witness, "accepted", None).await;
    // Published (a `seq`): until the first publish, `GET results` counts on the spot, and the
    // recount would compare the ledger with nothing.
    let mut results = app
        .results_when(id, |r| {
            r["ballots"] == ballots + 1 && r["seq"].as_u64() > Some(0)
        })
        .await;
    assert_eq!(results["ballots"], ballots + 1, "{results}");
    let recount = app
        .request(
            reqwest::Method::POST,
            &format!("/v1/polls/{id}/recount"),
            crate::support::app::Caller::Admin,
        )
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(
        recount["matched"], true,
        "the published results equal the ledger: {recount}"
    );
    let o4 = results["counts"]["o4"].as_u64().unwrap();
    results["counts"]["o4"] = json!(o4 - 1);
    results["ballots"] = json!(ballots);
    results
}

/// Waits until a ledger write has taken the delay fault queued for it (it is then held up).
async fn held_up(faults: &Faults) {
    within(10, "a ledger write to be held up", async {
        while faults.remaining("DictionarySet") != Remaining::Calls(0) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

/// An open poll of four options that allows revoting, its results already read once (which
/// seeds the running counts: every vote after that is counted as it lands, and `recounted`
/// checks those counts against the ledger).
async fn revote_poll(app: &TestApp) -> String {
    let body = json!({ "allow_revote": true, "options": ["A", "B", "C", "D"] });
    let id = app.open_poll(&a_poll_with(body)).await;
    assert_eq!(app.results(&id).await["ballots"], 0);
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_deliveries_of_one_event_count_it_once() {
    // Arrange
    let app = spawn_app_with(webhook_settings()).await;
    let id = app.open_poll(&a_poll_with(json!({}))).await;
    let event = Event::new(&token_id(&id, "alice"), &vote(&id, &["o2"]), 7);

    // Act
    let outcomes = deliver_all(&app, &vec![event; 50]).await;

    // Assert
    assert_eq!(count(&outcomes, "accepted"), 1, "{outcomes:?}");
    assert_eq!(count(&outcomes, "duplicate"), 49, "{outcomes:?}");
    let results = app.results_with(&id, 1).await;
    assert_eq!(results["counts"], json!({ "o1": 0, "o2": 1 }), "{results}");
    let metrics = app.metrics().await;
    assert_eq!((metrics.accepted(), metrics.duplicates()), (1, 49));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vote_published_while_replayed_by_webhook_counts_once_on_both_paths() {
    // Arrange: both ingest paths, so the published vote arrives twice more.
    let app = spawn_app_with(settings_with(IngestMode::Both)).await;
    let before = app.ingest_ready(IngestMode::Both).await;
    let id = app.open_poll(&a_poll_with(json!({}))).await;
    let token = app.tokens_for(&id, &["bob".to_owned()]).await.remove(0);
    let text = vote(&id, &["o1"]);
    let replays = vec![Event::new(&token_id(&id, "bob"), &text, 1_000); 20];

    // Act
    let (status, outcomes) =
        tokio::join!(app.publish_http(&token, &text), deliver_all(&app, &replays));

    // Assert
    assert_eq!(status, 204);
    assert!(count(&outcomes, "accepted") <= 1, "{outcomes:?}");
    let metrics = app
        .metrics_after(before.handled() + 22)
        .await
        .since(&before);
    assert_eq!((metrics.accepted(), metrics.duplicates()), (1, 21));
    let results = app.results_with(&id, 1).await;
    assert_eq!(results["counts"], json!({ "o1": 1, "o2": 0 }), "{results}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_revotes_leave_each_voter_one_ballot_their_latest() {
    // Arrange: 5 voters each send 30 votes at once, several alike, in sequence order 1..=30;
    // the vote with the highest sequence number is the one that must count.
    let app = spawn_app_with(webhook_settings()).await;
    let id = revote_poll(&app).await;
    let voters = 5;
    let choice = |voter: u64, seq: u64| format!("o{}", (voter + seq * 3) % 4 + 1);
    let mut events = Vec::new();
    for voter in 0..voters {
        for seq in 1..=30 {
            let text = vote(&id, &[&choice(voter, seq)]);
            events.push(Event::new(&token_id(&id, &format!("v{voter}")), &text, seq));
        }
    }

    // Act
    let outcomes = deliver_all(&app, &events).await;

    // Assert
    assert_eq!(
        count(&outcomes, "accepted"),
        voters as usize,
        "{outcomes:?}"
    );
    let mut expected = json!({ "o1": 0, "o2": 0, "o3": 0, "o4": 0 });
    for voter in 0..voters {
        *expected.get_mut(choice(voter, 30)).unwrap() =
            json!(expected[choice(voter, 30)].as_u64().unwrap() + 1);
    }
    let results = recounted(&app, &id, voters).await;
    assert_eq!(results["counts"], expected, "{results}");
}

#[tokio::test]
async fn a_late_older_vote_does_not_undo_a_newer_vote_equal_to_the_ballot() {
    // Arrange: the voter voted A (1), then B (2), then A again (3): A is their latest.
    let app = spawn_app_with(webhook_settings()).await;
    let id = revote_poll(&app).await;
    let carol = token_id(&id, "carol");
    let a = vote(&id, &["o1"]);

    // Act: 1 and 3 arrive first, 2 last.
    app.deliver_expecting(&Event::new(&carol, &a, 1), "accepted", None)
        .await;
    app.deliver_expecting(&Event::new(&carol, &a, 3), "duplicate", None)
        .await;
    let (status, late) = app
        .deliver(&Event::new(&carol, &vote(&id, &["o2"]), 2))
        .await;

    // Assert
    assert_eq!(
        (status, &late["outcome"]),
        (200, &json!("duplicate")),
        "{late}"
    );
    let results = app.results_with(&id, 1).await;
    assert_eq!(results["counts"]["o1"], 1, "{results}");
}

#[tokio::test]
async fn a_revote_overtaking_the_first_ballots_slow_ledger_write_still_wins() {
    // Arrange: the first ballot's ledger write is held up by the backend.
    let app = spawn_app_with(webhook_settings()).await;
    let id = revote_poll(&app).await;
    let dave = token_id(&id, "dave");
    let faults = app.faults.clone().expect("the embedded local Momento");
    faults.delay("DictionarySet", 1, Duration::from_millis(800));

    // Act: the revote arrives and is counted while the first write is still on its way.
    let first = Event::new(&dave, &vote(&id, &["o1"]), 1);
    let revote = Event::new(&dave, &vote(&id, &["o2"]), 2);
    let (first, revote) = tokio::join!(app.deliver(&first), async {
        held_up(&faults).await;
        app.deliver(&revote).await
    });

    // Assert
    assert_eq!(first.1["outcome"], "accepted", "{first:?}");
    assert_eq!(revote.1["outcome"], "revoted", "{revote:?}");
    let results = recounted(&app, &id, 1).await;
    assert_eq!(
        results["counts"],
        json!({ "o1": 0, "o2": 1, "o3": 0, "o4": 0 }),
        "{results}"
    );
}

#[tokio::test]
async fn a_duplicates_slow_ledger_write_does_not_undo_a_revote() {
    // Arrange: a counted ballot, and a copy of it whose ledger rewrite is held up.
    let app = spawn_app_with(webhook_settings()).await;
    let id = revote_poll(&app).await;
    let erin = token_id(&id, "erin");
    let first = Event::new(&erin, &vote(&id, &["o1"]), 1);
    app.deliver_expecting(&first, "accepted", None).await;
    let faults = app.faults.clone().expect("the embedded local Momento");
    faults.delay("DictionarySet", 1, Duration::from_millis(800));

    // Act
    let revote = Event::new(&erin, &vote(&id, &["o3"]), 2);
    let (copy, revote) = tokio::join!(app.deliver(&first), async {
        held_up(&faults).await;
        app.deliver(&revote).await
    });

    // Assert
    assert_eq!(copy.1["outcome"], "duplicate", "{copy:?}");
    assert_eq!(revote.1["outcome"], "revoted", "{revote:?}");
    let results = recounted(&app, &id, 1).await;
    assert_eq!(
        results["counts"],
        json!({ "o1": 0, "o2": 0, "o3": 1, "o4": 0 }),
        "{results}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_voters_at_once_are_each_counted_once() {
    // Arrange
    let app = spawn_app_with(webhook_settings()).await;
    let id = app
        .open_poll(&a_poll_with(json!({ "options": ["A", "B", "C"] })))
        .await;
    let events: Vec<Event> = (0..200)
        .map(|i| {
            let text = vote(&id, &[&format!("o{}", i % 3 + 1)]);
            Event::new(&token_id(&id, &format!("voter{i}")), &text, i + 1)
        })
        .collect();

    // Act
    let outcomes = deliver_all(&app, &events).await;

    // Assert
    assert_eq!(count(&outcomes, "accepted"), 200, "{outcomes:?}");
    let results = app.results_with(&id, 200).await;
    assert_eq!(
        (&results["ballots"], &results["counts"]),
        (&json!(200), &json!({ "o1": 67, "o2": 67, "o3": 66 }))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capped_poll_counts_no_more_first_ballots_than_its_cap() {
    // Arrange: 40 voters race for 10 seats.
    let app = spawn_app_with(webhook_settings()).await;
    let body = json!({ "max_voters": 10, "allow_revote": true });
    let id = app.open_poll(&a_poll_with(body)).await;
    let events: Vec<Event> = (0..40)
        .map(|i| Event::new(&token_id(&id, &format!("v{i}")), &vote(&id, &["o1"]), i + 1))
        .collect();

    // Act
    let outcomes = deliver_all(&app, &events).await;

    // Assert
    assert_eq!(count(&outcomes, "accepted"), 10, "{outcomes:?}");
    assert_eq!(count(&outcomes, "rejected"), 30, "{outcomes:?}");
    assert_eq!(app.metrics().await.rejected("poll_full"), 30);
    let results = app.results_with(&id, 10).await;
    assert_eq!(results["counts"], json!({ "o1": 10, "o2": 0 }), "{results}");

    // A seated voter may still revote and repeat; a seatless one is still refused.
    let seated = events
        .iter()
        .zip(&outcomes)
        .find(|(_, o)| *o == "accepted")
        .unwrap()
        .0;
    let mut revote = Event::new(&seated.token_id, &vote(&id, &["o2"]), 100);
    app.deliver_expecting(&revote, "revoted", None).await;
    revote.seq = 101;
    app.deliver_expecting(&revote, "duplicate", None).await;
    let unseated = Event::new(&token_id(&id, "late"), &vote(&id, &["o2"]), 102);
    app.deliver_expecting(&unseated, "rejected", Some("poll_full"))
        .await;
    let expected = json!({ "o1": 9, "o2": 1 });
    let results = app.results_when(&id, |r| r["counts"] == expected).await;
    assert_eq!(
        (&results["ballots"], &results["counts"]),
        (&json!(10), &expected)
    );
}

/// Opens a poll capped at `seats` voters.
async fn capped_poll(app: &TestApp, seats: u32) -> String {
    app.open_poll(&a_poll_with(json!({ "max_voters": seats })))
        .await
}

/// Asserts `id` seats exactly `seats` of `voters`, each counted once: the ledger equals the
/// ballot keys, and the results count them.
async fn assert_seated(app: &TestApp, id: &str, voters: &[String], seats: u64) {
    let (keys, ledger) = app.ballot_keys_and_ledger(id, voters).await;
    assert_eq!(ledger.len() as u64, seats, "ledger: {ledger:?}");
    assert_eq!(keys, ledger, "the ledger equals the ballot keys");
    let results = app.results_with(id, seats).await;
    assert_eq!(results["ballots"], seats, "{results}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_deliveries_racing_on_a_capped_poll_seat_no_more_voters_than_its_cap() {
    let app = spawn_app_with(webhook_settings()).await;
    for _round in 0..5 {
        // Arrange: 40 voters race for 5 seats, each vote delivered three times at once.
        let id = capped_poll(&app, 5).await;
        let voters: Vec<String> = (0..40).map(|i| format!("v{i}")).collect();
        let mut events = Vec::new();
        for copy in 0..3 {
            for (i, voter) in voters.iter().enumerate() {
                let seq = i as u64 + 1;
                let event = Event::new(&token_id(&id, voter), &vote(&id, &["o1"]), seq);
                events.insert((i * (copy + 1)) % (events.len() + 1), event);
            }
        }

        // Act
        let outcomes = deliver_all(&app, &events).await;

        // Assert
        assert_eq!(count(&outcomes, "accepted"), 5, "{outcomes:?}");
        assert_seated(&app, &id, &voters, 5).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capped_poll_with_both_ingest_paths_on_seats_exactly_its_cap() {
    // Both paths deliver every vote: the copies race as a new user's setup would make them.
    let app = spawn_app_with(settings_with(IngestMode::Both)).await;
    let mut before = app.ingest_ready(IngestMode::Both).await;
    for _round in 0..5 {
        // Arrange
        let id = capped_poll(&app, 5).await;
        let voters: Vec<String> = (0..40).map(|i| format!("v{i}")).collect();
        let tokens = app.tokens_for(&id, &voters).await;

        // Act: 40 voters publish at once.
        let text = vote(&id, &["o2"]);
        let statuses = join_all(tokens.iter().map(|t| app.publish_http(t, &text))).await;

        // Assert
        assert!(statuses.iter().all(|&s| s == 204), "{statuses:?}");
        let after = app.metrics_after(before.handled() + 80).await;
        let metrics = after.since(&before);
        assert_eq!(metrics.accepted(), 5, "{:?}", metrics.rejections());
        assert_seated(&app, &id, &voters, 5).await;
        before = after;
    }
}

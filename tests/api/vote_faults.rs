//! The backend failing between the claim of a ballot and its ledger write (the local Momento's
//! fault switch): transient failures are absorbed; a persistent one answers 503, keeps the
//! claim (in doubt) and the vote counts exactly once when it comes again or when the sweep
//! settles it; a write that lands but reports failure counts; a caller that hangs up does not
//! stop its vote.

use local_momento::{FaultCode, Faults, Remaining};
use pollcast::config::IngestMode;
use serde_json::{json, Value};

use crate::support::app::{a_poll_with, spawn_app_with, TestApp};
use crate::support::voting::{settings_with, token_id, vote, webhook_settings, Event};

/// The ledger write of a ballot.
const LEDGER_WRITE: &str = "DictionarySet";
/// The claim of a ballot key (and the seat-awaiting claim's give-back).
const CLAIM: &str = "SetIf";

fn faults(app: &TestApp) -> Faults {
    app.faults.clone().expect("the embedded local Momento")
}

/// An app with webhook ingest and an open poll (options A, B, C; `extra` fields).
async fn app_and_poll(extra: Value) -> (TestApp, String) {
    let app = spawn_app_with(webhook_settings()).await;
    let mut body = json!({ "options": ["A", "B", "C"] });
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let id = app.open_poll(&a_poll_with(body)).await;
    (app, id)
}

/// `voter`'s vote for `choice`, numbered `seq`.
fn ballot(id: &str, voter: &str, choice: &str, seq: u64) -> Event {
    Event::new(&token_id(id, voter), &vote(id, &[choice]), seq)
}

/// Delivers `event` and asserts the backend failure answer.
async fn deliver_failing(app: &TestApp, event: &Event) {
    let (status, body) = app.deliver(event).await;
    assert_eq!(
        (status, &body["error"]),
        (503, &json!("unavailable")),
        "{body}"
    );
}

/// The counts of `id` once a fresh count of its ledger shows `ballots` ballots.
async fn counts_with(app: &TestApp, id: &str, ballots: u64) -> Value {
    let results = app.results_with(id, ballots).await;
    assert_eq!(results["ballots"], ballots, "{results}");
    results["counts"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_ledger_failures_are_retried_and_every_vote_counted_once() {
    // Arrange
    let (app, id) = app_and_poll(json!({})).await;
    faults(&app).fail(LEDGER_WRITE, 2, FaultCode::Unavailable);
    let events: Vec<Event> = (0..10)
        .map(|i| ballot(&id, &format!("v{i}"), "o1", i + 1))
        .collect();

    // Act
    let answers = futures::future::join_all(events.iter().map(|e| app.deliver(e))).await;

    // Assert
    for (status, body) in &answers {
        assert_eq!(
            (status, &body["outcome"]),
            (&200, &json!("accepted")),
            "{body}"
        );
    }
    assert_eq!(faults(&app).remaining(LEDGER_WRITE), Remaining::Calls(0));
    assert_eq!(
        counts_with(&app, &id, 10).await,
        json!({ "o1": 10, "o2": 0, "o3": 0 })
    );
    let metrics = app.metrics().await;
    assert_eq!((metrics.accepted(), metrics.backend_errors()), (10, 0));
    assert_eq!(
        metrics.get("ballots_released_total", Some(("outcome", "released"))),
        0
    );
}

#[tokio::test]
async fn a_persistent_ledger_failure_answers_503_and_the_same_event_later_counts_once() {
    // Arrange
    let (app, id) = app_and_poll(json!({})).await;
    app.deliver_expecting(&ballot(&id, "alice", "o1", 1), "accepted", None)
        .await;
    let bob = ballot(&id, "bob", "o2", 2);
    faults(&app).fail_always(LEDGER_WRITE, FaultCode::Unavailable);

    // Act: the vote fails, and fails again while the backend does.
    deliver_failing(&app, &bob).await;
    deliver_failing(&app, &bob).await;

    // Assert: nothing of bob's is counted; his claim is kept, in doubt (a copy of the vote
    // could have written the ledger from it), never given back.
    let metrics = app.metrics().await;
    assert_eq!(metrics.backend_errors(), 2);
    assert_eq!(metrics.get("ballots_in_doubt_total", None), 2);
    assert_eq!(
        metrics.get("ballots_released_total", Some(("outcome", "released"))),
        0
    );
    assert_eq!(faults(&app).remaining(LEDGER_WRITE), Remaining::Always);
    let (keys, ledger) = app.ballot_keys_and_ledger(&id, &["bob".to_owned()]).await;
    assert_eq!(
        (keys.get("bob").map(String::as_str), ledger.get("bob")),
        (Some("o2"), None)
    );

    // Act: the backend recovers and Momento (or a retrying sender) delivers the event again.
    faults(&app).clear();
    app.deliver_expecting(&bob, "accepted", None).await;
    app.deliver_expecting(&bob, "duplicate", None).await;

    // Assert
    assert_eq!(
        counts_with(&app, &id, 2).await,
        json!({ "o1": 1, "o2": 1, "o3": 0 })
    );
    assert_eq!(app.metrics().await.accepted(), 2);
}

#[tokio::test]
async fn a_failed_claim_answers_503_counts_nothing_and_the_same_event_later_counts_once() {
    // Arrange
    let (app, id) = app_and_poll(json!({})).await;
    let dan = ballot(&id, "dan", "o2", 1);
    faults(&app).fail(CLAIM, 1, FaultCode::Unavailable);

    // Act
    deliver_failing(&app, &dan).await;

    // Assert: no claim, so nothing to give back; the same event then counts once.
    let metrics = app.metrics().await;
    assert_eq!((metrics.accepted(), metrics.backend_errors()), (0, 1));
    assert_eq!(
        metrics.get("ballots_released_total", Some(("outcome", "released"))),
        0
    );
    app.deliver_expecting(&dan, "accepted", None).await;
    app.deliver_expecting(&dan, "duplicate", None).await;
    assert_eq!(
        counts_with(&app, &id, 1).await,
        json!({ "o1": 0, "o2": 1, "o3": 0 })
    );
}

#[tokio::test]
async fn a_revote_whose_ledger_write_fails_is_counted_once_the_backend_recovers() {
    // Arrange
    let (app, id) = app_and_poll(json!({ "allow_revote": true })).await;
    app.deliver_expecting(&ballot(&id, "erin", "o1", 1), "accepted", None)
        .await;
    let revote = ballot(&id, "erin", "o3", 2);
    faults(&app).fail_always(LEDGER_WRITE, FaultCode::Unavailable);

    // Act: the revote fails; the backend recovers; the revote is never delivered again.
    deliver_failing(&app, &revote).await;
    faults(&app).clear();

    // Assert: the revote, which the ballot key holds, is what the sweep counts.
    let expected = json!({ "o1": 0, "o2": 0, "o3": 1 });
    let results = app.results_when(&id, |r| r["counts"] == expected).await;
    assert_eq!(
        (&results["ballots"], &results["counts"]),
        (&json!(1), &expected)
    );
    let (keys, ledger) = app.ballot_keys_and_ledger(&id, &["erin".to_owned()]).await;
    assert_eq!(keys, ledger);
    app.deliver_expecting(&revote, "duplicate", None).await;
    assert_eq!(app.metrics().await.get("ballots_reconciled_total", None), 1);
}

#[tokio::test]
async fn the_local_momento_redelivers_a_vote_the_webhook_failed_on_and_it_counts_once() {
    // Arrange: the embedded local Momento retries a failed webhook delivery (3 attempts).
    let (app, id) = app_and_poll(json!({})).await;
    let token = app.tokens_for(&id, &["gina".to_owned()]).await.remove(0);
    // The pipeline tries the ledger 3 times per delivery: the first delivery fails.
    faults(&app).fail(LEDGER_WRITE, 3, FaultCode::Unavailable);

    // Act
    assert_eq!(app.publish_http(&token, &vote(&id, &["o3"])).await, 204);

    // Assert
    let metrics = app.metrics_after(2).await;
    assert_eq!((metrics.accepted(), metrics.backend_errors()), (1, 1));
    assert_eq!(
        counts_with(&app, &id, 1).await,
        json!({ "o1": 0, "o2": 0, "o3": 1 })
    );
}

#[tokio::test]
async fn subscription_ingest_retries_a_vote_the_backend_failed_on_and_counts_it_once() {
    // Arrange
    let app = spawn_app_with(settings_with(IngestMode::Subscription)).await;
    let before = app.ingest_ready(IngestMode::Subscription).await;
    let id = app
        .open_poll(&a_poll_with(json!({ "options": ["A", "B", "C"] })))
        .await;
    let token = app.tokens_for(&id, &["hana".to_owned()]).await.remove(0);
    // More failures than one pass of the pipeline absorbs.
    faults(&app).fail(LEDGER_WRITE, 4, FaultCode::Unavailable);

    // Act
    assert_eq!(app.publish_http(&token, &vote(&id, &["o2"])).await, 204);

    // Assert
    let metrics = app.metrics_after(before.handled() + 2).await.since(&before);
    assert_eq!((metrics.accepted(), metrics.backend_errors()), (1, 1));
    assert_eq!(metrics.received("subscription"), 2, "one vote, tried twice");
    assert_eq!(
        counts_with(&app, &id, 1).await,
        json!({ "o1": 0, "o2": 1, "o3": 0 })
    );
}

#[tokio::test]
async fn a_ballot_left_in_doubt_is_completed_and_shown_when_the_same_event_comes_again() {
    // Arrange: the ledger write fails (all three tries), and so does reading it back: the
    // ballot stays claimed, in doubt.
    let (app, id) = app_and_poll(json!({})).await;
    app.deliver_expecting(&ballot(&id, "alice", "o1", 1), "accepted", None)
        .await;
    let bob = ballot(&id, "bob", "o2", 2);
    faults(&app).fail(LEDGER_WRITE, 3, FaultCode::Unavailable);
    faults(&app).fail("DictionaryGet", 1, FaultCode::Unavailable);
    deliver_failing(&app, &bob).await;
    let metrics = app.metrics().await;
    assert_eq!(metrics.get("ballots_in_doubt_total", None), 1);

    // Act: the same event comes again (before the sweep's turn).
    app.deliver_expecting(&bob, "accepted", None).await;

    // Assert: bob counts once, in the results readers see without any other vote.
    let expected = json!({ "o1": 1, "o2": 1, "o3": 0 });
    let results = app.results_when(&id, |r| r["counts"] == expected).await;
    assert_eq!(
        (&results["ballots"], &results["counts"]),
        (&json!(2), &expected)
    );
    app.deliver_expecting(&bob, "duplicate", None).await;
}

#[tokio::test]
async fn a_failed_seat_count_counts_nothing_and_the_cap_still_holds_on_redelivery() {
    // Arrange: one seat; taking it (an Increment) fails once.
    let (app, id) = app_and_poll(json!({ "max_voters": 1 })).await;
    let ivy = ballot(&id, "ivy", "o1", 1);
    faults(&app).fail("Increment", 1, FaultCode::Unavailable);

    // Act
    deliver_failing(&app, &ivy).await;

    // Assert: the claim was given back, so the same event takes the seat, and nobody else can.
    let metrics = app.metrics().await;
    assert_eq!(
        metrics.get("ballots_released_total", Some(("outcome", "released"))),
        1
    );
    app.deliver_expecting(&ivy, "accepted", None).await;
    let jack = ballot(&id, "jack", "o2", 2);
    app.deliver_expecting(&jack, "rejected", Some("poll_full"))
        .await;
    assert_eq!(
        counts_with(&app, &id, 1).await,
        json!({ "o1": 1, "o2": 0, "o3": 0 })
    );
}

#[tokio::test]
async fn a_claim_left_awaiting_its_seat_is_seated_by_the_next_delivery_of_the_vote() {
    // Arrange: on a capped poll the seat cannot be taken, nor the claim given back (the claim
    // itself, the first SetIf, is let through): the key is left awaiting its seat.
    let (app, id) = app_and_poll(json!({ "max_voters": 2 })).await;
    let kim = ballot(&id, "kim", "o3", 1);
    faults(&app).fail("Increment", 1, FaultCode::Unavailable);
    faults(&app).delay(CLAIM, 1, std::time::Duration::ZERO);
    faults(&app).fail(CLAIM, 1, FaultCode::Unavailable);
    deliver_failing(&app, &kim).await;
    let voters = ["kim".to_owned()];
    let (keys, ledger) = app.ballot_keys_and_ledger(&id, &voters).await;
    assert!(keys.is_empty() && ledger.is_empty(), "{keys:?} {ledger:?}");

    // Act: the vote comes again; it finds the claim awaiting its seat and seats it.
    let (status, body) = app.deliver(&kim).await;

    // Assert
    assert_eq!(status, 200, "{body}");
    let (keys, ledger) = app.ballot_keys_and_ledger(&id, &voters).await;
    assert_eq!(ledger.get("kim").map(String::as_str), Some("o3"));
    assert_eq!(keys, ledger);
    assert_eq!(
        counts_with(&app, &id, 1).await,
        json!({ "o1": 0, "o2": 0, "o3": 1 })
    );
}

#[tokio::test]
async fn a_ledger_write_that_lands_but_reports_failure_is_answered_counted_and_keeps_its_ballot() {
    // Arrange: every ledger write of the vote lands, then is answered with a failure.
    let (app, id) = app_and_poll(json!({})).await;
    let bob = ballot(&id, "bob", "o2", 1);
    faults(&app).fail_after_applying(LEDGER_WRITE, 3, FaultCode::Unavailable);

    // Act
    let (status, body) = app.deliver(&bob).await;

    // Assert: the answer says what happened (counted), the ledger equals the ballot key, and
    // the voter of this poll without revoting cannot change the ballot.
    assert_eq!(
        (status, &body["outcome"]),
        (200, &json!("accepted")),
        "{body}"
    );
    let (keys, ledger) = app.ballot_keys_and_ledger(&id, &["bob".to_owned()]).await;
    assert_eq!(ledger.get("bob").map(String::as_str), Some("o2"));
    assert_eq!(keys, ledger);
    app.deliver_expecting(
        &ballot(&id, "bob", "o1", 2),
        "rejected",
        Some("already_voted"),
    )
    .await;
    assert_eq!(
        counts_with(&app, &id, 1).await,
        json!({ "o1": 0, "o2": 1, "o3": 0 })
    );
}

#[tokio::test]
async fn a_vote_whose_webhook_caller_hangs_up_before_the_answer_is_still_counted() {
    // Arrange: the ledger write is slow; the caller gives up long before it ends (as Momento
    // does after 5 s, or a client that disconnects).
    let (app, id) = app_and_poll(json!({})).await;
    let cleo = ballot(&id, "cleo", "o1", 1);
    faults(&app).delay(LEDGER_WRITE, 1, std::time::Duration::from_millis(800));
    let body = cleo.body();
    let signature = crate::support::voting::sign(crate::support::voting::WEBHOOK_SECRET, &body);

    // Act: over HTTP/2, where a caller that gives up resets its stream at once.
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let hung_up = client
        .post(format!("{}/v1/webhooks/momento", app.address))
        .header("content-type", "application/json")
        .header("momento-signature", signature)
        .timeout(std::time::Duration::from_millis(200))
        .body(body)
        .send()
        .await;

    // Assert: the vote is run to completion anyway.
    assert!(
        hung_up.as_ref().is_err_and(reqwest::Error::is_timeout),
        "{hung_up:?}"
    );
    assert_eq!(
        counts_with(&app, &id, 1).await,
        json!({ "o1": 1, "o2": 0, "o3": 0 })
    );
    app.deliver_expecting(&cleo, "duplicate", None).await;
}

#[tokio::test]
async fn a_ballot_left_in_doubt_is_counted_once_the_backend_recovers_without_a_redelivery() {
    // Arrange: the ledger cannot be written, nor read back to see whether a write landed.
    let (app, id) = app_and_poll(json!({})).await;
    app.deliver_expecting(&ballot(&id, "alice", "o1", 1), "accepted", None)
        .await;
    let dora = ballot(&id, "dora", "o3", 2);
    faults(&app).fail_always(LEDGER_WRITE, FaultCode::Unavailable);
    faults(&app).fail_always("DictionaryGet", FaultCode::Unavailable);
    deliver_failing(&app, &dora).await;

    // Act: the backend recovers; the vote is never delivered again (Momento delivers once).
    faults(&app).clear();

    // Assert: the sweep counts it, once.
    let expected = json!({ "o1": 1, "o2": 0, "o3": 1 });
    let results = app.results_when(&id, |r| r["counts"] == expected).await;
    assert_eq!(
        (&results["ballots"], &results["counts"]),
        (&json!(2), &expected)
    );
    let voters = ["alice".to_owned(), "dora".to_owned()];
    let (keys, ledger) = app.ballot_keys_and_ledger(&id, &voters).await;
    assert_eq!((keys.len(), &keys), (2, &ledger));
    app.deliver_expecting(&dora, "duplicate", None).await;
}

/// An open poll (options A, B, C; `extra` fields) whose results were read once, which seeds
/// the running counts: from then on every vote is counted as it lands (not by a count of the
/// ledger from scratch), which is what these tests check.
async fn app_and_counted_poll(extra: Value) -> (TestApp, String) {
    let (app, id) = app_and_poll(extra).await;
    assert_eq!(app.results(&id).await["ballots"], 0);
    (app, id)
}

#[tokio::test]
async fn a_claim_that_lands_but_reports_failure_is_counted_when_the_vote_comes_again() {
    // A poll without a cap (the claim is the ballot) and a capped one (the claim awaits its
    // seat, and is left awaiting it with no delivery to seat it).
    for extra in [json!({}), json!({ "max_voters": 5 })] {
        // Arrange: the claim of the ballot key is made, then answered with a failure (as when
        // the connection breaks under load after the cache applied it).
        let (app, id) = app_and_counted_poll(extra.clone()).await;
        let dan = ballot(&id, "dan", "o2", 1);
        faults(&app).fail_after_applying(CLAIM, 1, FaultCode::Unavailable);

        // Act
        deliver_failing(&app, &dan).await;
        let (status, again) = app.deliver(&dan).await;

        // Assert: the delivery that completes the vote says it counted it, and the published
        // results show it (the running counts did not see the claim land).
        assert_eq!(
            (status, &again["outcome"]),
            (200, &json!("accepted")),
            "{extra}: {again}"
        );
        assert_eq!(
            counts_with(&app, &id, 1).await,
            json!({ "o1": 0, "o2": 1, "o3": 0 }),
            "{extra}"
        );
        assert_eq!(app.metrics().await.accepted(), 1, "{extra}");
    }
}

#[tokio::test]
async fn a_claim_that_lands_but_reports_failure_is_counted_by_the_sweep_without_a_redelivery() {
    // Arrange
    let (app, id) = app_and_counted_poll(json!({})).await;
    faults(&app).fail_after_applying(CLAIM, 1, FaultCode::Unavailable);

    // Act: the vote never comes again.
    deliver_failing(&app, &ballot(&id, "eve", "o3", 1)).await;

    // Assert
    assert_eq!(
        counts_with(&app, &id, 1).await,
        json!({ "o1": 0, "o2": 0, "o3": 1 })
    );
}

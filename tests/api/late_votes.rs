//! Votes in flight when a poll closes: a vote published while the poll was open counts when it
//! is processed within the close grace window (`--close-grace`), on either ingest path, and is
//! refused after it. The pipeline's read of the poll is held up by the local Momento's fault
//! switch, so the close lands while the vote is in flight.

use std::time::Duration;

use local_momento::{Faults, Remaining};
use pollcast::config::{IngestMode, ServeArgs};
use serde_json::json;

use crate::support::app::{a_poll_with, spawn_app_with, within, TestApp};
use crate::support::voting::{settings_with, token_id, vote, webhook_settings, Event};

/// The read of a poll (and of every other plain key).
const GET: &str = "Get";

fn faults(app: &TestApp) -> Faults {
    app.faults.clone().expect("the embedded local Momento")
}

/// An open poll whose opening has been published, so nothing else is about to read it.
async fn open_poll(app: &TestApp) -> String {
    let id = app.open_poll(&a_poll_with(json!({}))).await;
    app.results_when(&id, |r| r["seq"].as_u64() > Some(0)).await;
    id
}

/// Waits until a vote's read of the poll has taken the delay fault queued for it.
async fn held_up(faults: &Faults) {
    within(10, "the vote's poll read to be held up", async {
        while faults.remaining(GET) != Remaining::Calls(0) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

/// Delivers `event` and closes the poll `id` once the vote's poll read has taken the fault
/// queued for it (the vote is then in flight); returns the vote's answer.
async fn deliver_while_closing(app: &TestApp, id: &str, event: &Event) -> (u16, serde_json::Value) {
    let faults = faults(app);
    let (answer, closed) = tokio::join!(app.deliver(event), async {
        held_up(&faults).await;
        app.transition(id, "close").await
    });
    assert_eq!(closed.status(), 200);
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_vote_published_before_the_close_counts_when_processed_after_it() {
    // Arrange: a vote published while the poll is open, whose processing is held up.
    let app = spawn_app_with(webhook_settings()).await;
    let id = open_poll(&app).await;
    let event = Event::new(&token_id(&id, "ada"), &vote(&id, &["o2"]), 1);
    faults(&app).delay(GET, 1, Duration::from_millis(800));

    // Act: the poll closes while the vote is in flight.
    let (status, body) = deliver_while_closing(&app, &id, &event).await;

    // Assert
    assert_eq!(
        (status, &body["outcome"]),
        (200, &json!("accepted")),
        "{body}"
    );
    let results = app.results_with(&id, 1).await;
    assert_eq!(
        (&results["state"], &results["counts"]),
        (&json!("closed"), &json!({ "o1": 0, "o2": 1 })),
        "{results}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_vote_read_before_the_close_counts_when_processed_after_it() {
    // Arrange
    let app = spawn_app_with(settings_with(IngestMode::Subscription)).await;
    let before = app.ingest_ready(IngestMode::Subscription).await;
    let id = open_poll(&app).await;
    let token = app.tokens_for(&id, &["bea".to_owned()]).await.remove(0);

    // Act: the vote is published and read; its processing is held up while the poll closes.
    let faults = faults(&app);
    faults.delay(GET, 1, Duration::from_millis(800));
    assert_eq!(app.publish_http(&token, &vote(&id, &["o1"])).await, 204);
    held_up(&faults).await;
    assert_eq!(app.transition(&id, "close").await.status(), 200);

    // Assert
    let metrics = app.metrics_after(before.handled() + 1).await.since(&before);
    assert_eq!(metrics.accepted(), 1, "{:?}", metrics.rejections());
    let results = app.results_with(&id, 1).await;
    assert_eq!(
        (&results["state"], &results["counts"]),
        (&json!("closed"), &json!({ "o1": 1, "o2": 0 })),
        "{results}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vote_processed_longer_than_the_grace_window_after_the_close_is_refused() {
    // Arrange: a grace window of 100 ms, and a vote held up far longer (the SDK gives up on a
    // call after a second, so 800 ms).
    let settings = ServeArgs {
        close_grace: Duration::from_millis(100),
        ..webhook_settings()
    };
    let app = spawn_app_with(settings).await;
    let id = open_poll(&app).await;
    let event = Event::new(&token_id(&id, "cy"), &vote(&id, &["o1"]), 1);
    faults(&app).delay(GET, 1, Duration::from_millis(800));

    // Act
    let (status, body) = deliver_while_closing(&app, &id, &event).await;

    // Assert: refused, and the results, final since the window ended, count nothing.
    assert_eq!(
        (status, &body["outcome"], &body["reason"]),
        (200, &json!("rejected"), &json!("poll_not_open")),
        "{body}"
    );
    let results = app.results_when(&id, |r| r["state"] == "closed").await;
    assert_eq!(results["ballots"], 0, "{results}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vote_cast_after_this_replica_closed_the_poll_is_refused_even_with_a_read_in_flight() {
    // Arrange: a vote's read of the open poll is served, but its answer is still on its way
    // when this replica closes the poll.
    let app = spawn_app_with(webhook_settings()).await;
    let id = open_poll(&app).await;
    let early = Event::new(&token_id(&id, "dee"), &vote(&id, &["o1"]), 1);
    faults(&app).delay_answer(GET, 1, Duration::from_millis(600));
    let (status, body) = deliver_while_closing(&app, &id, &early).await;
    assert_eq!(
        (status, &body["outcome"]),
        (200, &json!("accepted")),
        "{body}"
    );

    // Act: a vote cast now, after the close.
    let late = Event::new(&token_id(&id, "eve"), &vote(&id, &["o2"]), 2);
    let (status, body) = app.deliver(&late).await;

    // Assert: this replica's close took effect at once.
    assert_eq!(
        (status, &body["outcome"], &body["reason"]),
        (200, &json!("rejected"), &json!("poll_not_open")),
        "{body}"
    );
}

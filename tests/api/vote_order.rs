//! Which of a voter's votes is their latest when the votes topic resets (Momento's service
//! restarts a topic's numbering on a new sequence page after inactivity): the subscription
//! path orders votes by (page, sequence number); the webhook path, which carries no page, by
//! sequence number unless the publish times show a reset in between.
//!
//! A topic of the local Momento that keeps its state never resets, so the subscription's
//! deliveries are handed to the app's pipeline here as its reader hands them over.

use std::sync::Arc;

use chrono::Utc;
use pollcast::ingest::pipeline::{Delivery, Outcome, Source};
use pollcast::startup::Application;
use pollcast::state::AppState;
use serde_json::json;

use crate::support::app::{a_poll_with, serve, TestApp};
use crate::support::voting::{token_id, vote, webhook_settings, Event};

/// An app with webhook ingest, its shared state, and an open poll that allows revoting.
async fn app_and_revote_poll() -> (TestApp, Arc<AppState>, String) {
    let built = Application::build(webhook_settings())
        .await
        .expect("application builds");
    let state = built.state().clone();
    let app = serve(built);
    let id = app
        .open_poll(&a_poll_with(json!({ "allow_revote": true })))
        .await;
    (app, state, id)
}

/// `voter`'s vote for `choice` as the subscription reads it at (`page`, `seq`).
async fn read_from_topic(
    state: &AppState,
    id: &str,
    voter: &str,
    choice: &str,
    (page, seq): (u64, u64),
) -> Outcome {
    let delivery = Delivery {
        token_id: token_id(id, voter),
        text: vote(id, &[choice]),
        seq,
        page: Some(page),
        published_at: Some(Utc::now()),
        source: Source::Subscription,
    };
    state
        .pipeline
        .process(delivery)
        .await
        .expect("no backend failure")
}

#[tokio::test]
async fn a_revote_read_after_the_votes_topic_resets_replaces_the_ballot() {
    // Arrange: ann voted o1 at sequence number 50 of page 7.
    let (app, state, id) = app_and_revote_poll().await;
    let first = read_from_topic(&state, &id, "ann", "o1", (7, 50)).await;
    assert_eq!(first, Outcome::Accepted);

    // Act: the topic resets (page 8, numbering from 1) and ann revotes.
    let revote = read_from_topic(&state, &id, "ann", "o2", (8, 1)).await;
    let late_copy = read_from_topic(&state, &id, "ann", "o1", (7, 50)).await;

    // Assert
    assert_eq!(revote, Outcome::Revoted);
    assert_eq!(late_copy, Outcome::Duplicate);
    let expected = json!({ "o1": 0, "o2": 1 });
    let results = app.results_when(&id, |r| r["counts"] == expected).await;
    assert_eq!(results["counts"], expected, "{results}");
}

#[tokio::test]
async fn a_webhook_revote_published_after_a_topic_reset_replaces_the_ballot() {
    // Arrange: bo voted o1 at sequence number 50.
    let (app, _state, id) = app_and_revote_poll().await;
    let bo = token_id(&id, "bo");
    let first = Event::new(&bo, &vote(&id, &["o1"]), 50);
    app.deliver_expecting(&first, "accepted", None).await;

    // Act: two seconds later, after a reset, bo's revote is numbered 1.
    let mut revote = Event::new(&bo, &vote(&id, &["o2"]), 1);
    revote.event_ms = first.event_ms + 2_000;
    app.deliver_expecting(&revote, "revoted", None).await;

    // Assert: a late copy of the first vote changes nothing.
    app.deliver_expecting(&first, "duplicate", None).await;
    let expected = json!({ "o1": 0, "o2": 1 });
    let results = app.results_when(&id, |r| r["counts"] == expected).await;
    assert_eq!(results["counts"], expected, "{results}");
}

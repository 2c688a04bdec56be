//! `POST /v1/webhooks/momento`: events signed by the test itself (HMAC-SHA3-256 with the
//! app's known secret). Every well-signed event answers 200 with its outcome; every bad input
//! answers its status, is counted under its reason in `/metrics`, and changes no tally.

use serde_json::{json, Value};

use crate::support::app::{a_poll, a_poll_with, assert_error, id_of, spawn_app_with, TestApp};
use crate::support::voting::{
    settings_with, sign, token_id, vote, webhook_settings, Event, WEBHOOK_SECRET,
};

/// The app's answer to `event` signed with `signature` (`None`: no header).
async fn post_signed(app: &TestApp, body: Vec<u8>, signature: Option<String>) -> reqwest::Response {
    app.post_webhook(body, signature.as_deref()).await
}

/// Asserts `poll` counts exactly `ballots` ballots, `o1` having `o1` of them.
async fn assert_tally(app: &TestApp, poll: &str, ballots: u64, o1: u64) {
    let results = app.results(poll).await;
    assert_eq!(
        (&results["ballots"], &results["counts"]["o1"]),
        (&json!(ballots), &json!(o1)),
        "{results}"
    );
}

#[tokio::test]
async fn a_vote_is_accepted_its_copies_are_duplicates_and_a_newer_vote_is_a_revote() {
    // Arrange
    let app = spawn_app_with(webhook_settings()).await;
    let id = app
        .open_poll(&a_poll_with(json!({ "allow_revote": true })))
        .await;
    let alice = token_id(&id, "alice");
    let first = Event::new(&alice, &vote(&id, &["o1"]), 10);

    // Act and Assert
    app.deliver_expecting(&first, "accepted", None).await;
    app.deliver_expecting(&first, "duplicate", None).await;
    let again = Event::new(&alice, &vote(&id, &["o1"]), 11);
    app.deliver_expecting(&again, "duplicate", None).await;
    let change = Event::new(&alice, &vote(&id, &["o2"]), 12);
    app.deliver_expecting(&change, "revoted", None).await;
    // A late copy of the older vote does not undo the revote.
    app.deliver_expecting(&first, "duplicate", None).await;

    let results = app.results_with(&id, 1).await;
    assert_eq!(results["counts"], json!({ "o1": 0, "o2": 1 }), "{results}");
    let metrics = app.metrics().await;
    assert_eq!(
        (metrics.accepted(), metrics.revoted(), metrics.duplicates()),
        (1, 1, 3)
    );
    assert_eq!(metrics.received("webhook"), 5);
}

#[tokio::test]
async fn bad_or_missing_signatures_answer_401_are_counted_and_change_no_tally() {
    // Arrange
    let app = spawn_app_with(webhook_settings()).await;
    let id = app.open_poll(&a_poll()).await;
    let body = Event::new(&token_id(&id, "mallory"), &vote(&id, &["o1"]), 1).body();
    let mut tampered = body.clone();
    let at = tampered.len() - 3;
    tampered[at] ^= 1;
    let attempts = [
        ("no signature", body.clone(), None),
        (
            "another secret",
            body.clone(),
            Some(sign("not-the-secret", &body)),
        ),
        ("not hex", body.clone(), Some("zz-not-hex".to_owned())),
        ("empty", body.clone(), Some(String::new())),
        (
            "a tampered body",
            tampered,
            Some(sign(WEBHOOK_SECRET, &body)),
        ),
        (
            "truncated",
            body.clone(),
            Some(sign(WEBHOOK_SECRET, &body)[..32].to_owned()),
        ),
    ];

    for (what, body, signature) in attempts.clone() {
        // Act
        let response = post_signed(&app, body, signature).await;

        // Assert
        let error = assert_error(response, 401, "signature").await;
        assert!(
            error["message"].as_str().unwrap().contains("signature"),
            "{what}: {error}"
        );
    }
    let metrics = app.metrics().await;
    assert_eq!(metrics.refused("signature"), attempts.len() as u64);
    assert_eq!(metrics.received("webhook"), 0, "none reached the pipeline");
    assert_tally(&app, &id, 0, 0).await;
}

#[tokio::test]
async fn stale_and_future_events_answer_401_are_counted_and_change_no_tally() {
    // Arrange
    let app = spawn_app_with(webhook_settings()).await;
    let id = app.open_poll(&a_poll()).await;
    // The replay window reads `publish_timestamp` (when the call was made); the vote itself
    // (`event_timestamp`) stays within the poll's open time, which began a moment ago.
    let event = |voter: &str, age_ms: i64| {
        let mut event = Event::new(&token_id(&id, voter), &vote(&id, &["o1"]), 1);
        event.publish_ms -= age_ms;
        event
    };

    // Act and Assert
    let (status, body) = app.deliver(&event("old", 61_000)).await;
    assert_eq!((status, &body["error"]), (401, &json!("stale")), "{body}");
    let (status, body) = app.deliver(&event("ahead", -10_000)).await;
    assert_eq!((status, &body["error"]), (401, &json!("future")), "{body}");
    // Inside the window at both ends: counted.
    app.deliver_expecting(&event("late", 55_000), "accepted", None)
        .await;
    app.deliver_expecting(&event("skewed", -2_000), "accepted", None)
        .await;

    let metrics = app.metrics().await;
    assert_eq!(
        (metrics.refused("stale"), metrics.refused("future")),
        (1, 1)
    );
    assert_eq!(metrics.received("webhook"), 2);
    let results = app.results_with(&id, 2).await;
    assert_eq!(results["counts"], json!({ "o1": 2, "o2": 0 }), "{results}");
}

#[tokio::test]
async fn timestamps_at_the_ends_of_i64_are_refused_as_stale_or_future_and_change_no_tally() {
    // Arrange
    let app = spawn_app_with(webhook_settings()).await;
    let id = app.open_poll(&a_poll()).await;
    let at = |voter: &str, event_ms: Option<i64>, publish_ms: i64| {
        let mut event = Event::new(&token_id(&id, voter), &vote(&id, &["o1"]), 1);
        event.publish_ms = publish_ms;
        event.event_ms = event_ms.unwrap_or(event.event_ms);
        event
    };
    let now = chrono::Utc::now().timestamp_millis();

    // Act
    let distant_past = app.deliver(&at("a", None, i64::MIN)).await;
    let distant_future = app.deliver(&at("b", None, i64::MAX)).await;
    let no_such_time = app.deliver(&at("c", Some(i64::MIN), now)).await;

    // Assert
    assert_eq!(
        (distant_past.0, &distant_past.1["error"]),
        (401, &json!("stale"))
    );
    assert_eq!(
        (distant_future.0, &distant_future.1["error"]),
        (401, &json!("future"))
    );
    assert_eq!(
        (no_such_time.0, &no_such_time.1["error"]),
        (401, &json!("stale"))
    );
    let metrics = app.metrics().await;
    assert_eq!(
        (metrics.refused("stale"), metrics.refused("future")),
        (2, 1)
    );
    assert_eq!(metrics.received("webhook"), 0, "none reached the pipeline");
    assert_tally(&app, &id, 0, 0).await;
}

#[tokio::test]
async fn a_replay_window_can_be_configured() {
    // Arrange
    let mut settings = webhook_settings();
    settings.webhook_max_age = std::time::Duration::from_secs(5);
    let app = spawn_app_with(settings).await;
    let id = app.open_poll(&a_poll()).await;
    let mut event = Event::new(&token_id(&id, "old"), &vote(&id, &["o1"]), 1);
    event.publish_ms -= 6_000;

    // Act
    let (status, body) = app.deliver(&event).await;

    // Assert
    assert_eq!((status, &body["error"]), (401, &json!("stale")), "{body}");
}

#[tokio::test]
async fn signed_bodies_that_are_not_webhook_events_answer_400_and_are_counted() {
    // Arrange
    let app = spawn_app_with(webhook_settings()).await;
    let id = app.open_poll(&a_poll()).await;
    let mut missing = serde_json::from_slice::<Value>(
        &Event::new(&token_id(&id, "v"), &vote(&id, &["o1"]), 1).body(),
    )
    .unwrap();
    missing
        .as_object_mut()
        .unwrap()
        .remove("topic_sequence_number");
    let bodies = [
        "not json".to_owned(),
        "[]".to_owned(),
        r#"{"cache": 1}"#.to_owned(),
        missing.to_string(),
    ];

    for body in &bodies {
        // Act
        let body = body.clone().into_bytes();
        let signature = sign(WEBHOOK_SECRET, &body);
        let response = post_signed(&app, body, Some(signature)).await;

        // Assert
        assert_error(response, 400, "invalid_request").await;
    }
    let metrics = app.metrics().await;
    assert_eq!(metrics.refused("malformed"), bodies.len() as u64);
    assert_eq!(metrics.received("webhook"), 0);
    assert_tally(&app, &id, 0, 0).await;
}

#[tokio::test]
async fn an_oversize_body_answers_413_and_is_counted() {
    // Arrange
    let app = spawn_app_with(webhook_settings()).await;
    let id = app.open_poll(&a_poll()).await;
    let mut event = Event::new(&token_id(&id, "big"), &vote(&id, &["o1"]), 1);
    event.text = format!("{}{}", event.text, " ".repeat(64 * 1024));
    let body = event.body();
    let signature = sign(WEBHOOK_SECRET, &body);

    // Act
    let response = post_signed(&app, body, Some(signature)).await;

    // Assert
    assert_error(response, 413, "payload_too_large").await;
    let metrics = app.metrics().await;
    assert_eq!(metrics.refused("too_large"), 1);
    assert_eq!(metrics.received("webhook"), 0);
    assert_tally(&app, &id, 0, 0).await;
}

#[tokio::test]
async fn an_event_of_another_cache_or_topic_is_ignored() {
    // Arrange
    let app = spawn_app_with(webhook_settings()).await;
    let id = app.open_poll(&a_poll()).await;
    let mut other_cache = Event::new(&token_id(&id, "a"), &vote(&id, &["o1"]), 1);
    other_cache.cache = "other".into();
    let mut other_topic = Event::new(&token_id(&id, "b"), &vote(&id, &["o1"]), 2);
    other_topic.topic = "results.x".into();

    // Act and Assert
    app.deliver_expecting(&other_cache, "ignored", None).await;
    app.deliver_expecting(&other_topic, "ignored", None).await;
    assert_eq!(app.metrics().await.received("webhook"), 0);
    assert_tally(&app, &id, 0, 0).await;
}

#[tokio::test]
async fn with_webhook_ingest_off_the_endpoint_answers_404() {
    let app = spawn_app_with(settings_with(pollcast::config::IngestMode::Subscription)).await;
    let id = app.open_poll(&a_poll()).await;

    let event = Event::new(&token_id(&id, "a"), &vote(&id, &["o1"]), 1);
    let body = event.body();
    let response = post_signed(&app, body.clone(), Some(sign(WEBHOOK_SECRET, &body))).await;

    assert_error(response, 404, "not_found").await;
}

#[tokio::test]
async fn votes_that_break_a_rule_answer_200_rejected_with_their_reason_and_change_no_tally() {
    // Arrange: polls of each kind and state, the closed one with a ballot cast while open.
    let app = spawn_app_with(webhook_settings()).await;
    let options = json!(["A", "B", "C"]);
    let single = app
        .open_poll(&a_poll_with(json!({ "options": options })))
        .await;
    let multi = app
        .open_poll(&a_poll_with(
            json!({ "kind": "multi", "max_choices": 2, "options": options }),
        ))
        .await;
    let ranked = app
        .open_poll(&a_poll_with(
            json!({ "kind": "ranked", "options": options }),
        ))
        .await;
    let draft = id_of(&app.created_poll(&a_poll()).await);
    let closed = app.open_poll(&a_poll()).await;
    let archived = app.open_poll(&a_poll()).await;
    let cast = Event::new(&token_id(&closed, "early"), &vote(&closed, &["o1"]), 1);
    app.deliver_expecting(&cast, "accepted", None).await;
    for (id, events) in [
        (&closed, &["close"][..]),
        (&archived, &["close", "archive"]),
    ] {
        for event in events {
            assert_eq!(app.transition(id, event).await.status(), 200);
        }
    }
    let by = |poll: &str| token_id(poll, "voter");
    let cases = [
        (
            "unknown_poll",
            by("NoSuchPoll"),
            vote("NoSuchPoll", &["o1"]),
        ),
        ("wrong_poll", by(&multi), vote(&single, &["o1"])),
        ("unknown_option", by(&single), vote(&single, &["o4"])),
        ("unknown_option", by(&single), vote(&single, &["pizza"])),
        (
            "too_many_choices",
            by(&single),
            vote(&single, &["o1", "o2"]),
        ),
        (
            "too_many_choices",
            by(&multi),
            vote(&multi, &["o1", "o2", "o3"]),
        ),
        ("duplicate_choice", by(&multi), vote(&multi, &["o2", "o2"])),
        (
            "duplicate_choice",
            by(&ranked),
            vote(&ranked, &["o3", "o1", "o3"]),
        ),
        ("too_few_choices", by(&ranked), vote(&ranked, &[])),
        ("missing_token", String::new(), vote(&single, &["o1"])),
        ("invalid_token", "no-colon".into(), vote(&single, &["o1"])),
        ("malformed", by(&single), "not json".into()),
        (
            "malformed",
            by(&single),
            json!({ "poll_id": single }).to_string(),
        ),
        (
            "too_large",
            by(&single),
            format!("{}{}", vote(&single, &["o1"]), " ".repeat(4096)),
        ),
        ("poll_not_open", by(&draft), vote(&draft, &["o1"])),
        ("poll_not_open", by(&closed), vote(&closed, &["o1"])),
        ("poll_not_open", by(&archived), vote(&archived, &["o1"])),
    ];

    for (seq, (reason, token, text)) in cases.iter().enumerate() {
        // Act and Assert
        let event = Event::new(token, text, 100 + seq as u64);
        app.deliver_expecting(&event, "rejected", Some(reason))
            .await;
    }
    let metrics = app.metrics().await;
    let mut expected = std::collections::HashMap::new();
    for (reason, _, _) in &cases {
        *expected.entry(reason.to_string()).or_insert(0) += 1;
    }
    assert_eq!(metrics.rejections(), expected);
    assert_eq!(metrics.accepted(), 1, "only the vote cast while open");
    for poll in [&single, &multi, &ranked, &draft, &archived] {
        assert_tally(&app, poll, 0, 0).await;
    }
    assert_tally(&app, &closed, 1, 1).await;
}

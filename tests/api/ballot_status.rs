//! `GET /v1/polls/{id}/ballot`: a voter learns what counts and what their last vote did, told
//! apart in every case (every publish is answered 204 before the vote is processed),
//! authorised by their own token only. The cases: a first vote pending, counted, refused; a
//! revote counted or refused; a poll full; a poll closed.

use std::time::Duration;

use base64::Engine;
use serde_json::json;

use crate::support::app::{
    a_poll, a_poll_with, assert_error, spawn_app, spawn_app_with, test_settings, within, TestApp,
    ADMIN_KEY,
};
use crate::support::ballot::vote_with_ref;

/// A poll that takes changes, and a voter whose first ballot (`o1`, ref `r-1`) is counted.
async fn counted_on_a_revote_poll(app: &TestApp) -> (String, serde_json::Value) {
    let id = app
        .open_poll(&a_poll_with(json!({ "allow_revote": true })))
        .await;
    let token = app.minted_token(&id).await;
    app.publish_http(&token, &vote_with_ref(&id, &["o1"], "r-1"))
        .await;
    app.ballot_once(&id, &token, "counted").await;
    (id, token)
}

#[tokio::test]
async fn a_vote_is_pending_until_it_is_counted_with_its_choices() {
    // Arrange
    let app = spawn_app().await;
    let id = app.open_poll(&a_poll()).await;
    let token = app.minted_token(&id).await;

    // Act
    let before = app.ballot(&id, &token).await;
    let published = app
        .publish_http(&token, &vote_with_ref(&id, &["o2"], "r-1"))
        .await;
    let after = app.ballot_once(&id, &token, "counted").await;

    // Assert
    assert_eq!(before["status"], "pending", "{before}");
    assert_eq!(before["ballot"], json!({"state": "none"}), "{before}");
    assert_eq!(
        before["last_attempt"],
        json!({"result": "none"}),
        "{before}"
    );
    assert_eq!(published, 204);
    assert_eq!(after["status"], "counted", "{after}");
    assert_eq!(
        after["ballot"],
        json!({"state": "counted", "choices": ["o2"]}),
        "{after}"
    );
    assert_eq!(after["voter_id"], token["voter_id"], "{after}");
    assert_eq!(after["last_attempt"]["reason"], json!(null), "{after}");
}

#[tokio::test]
async fn a_vote_sent_after_the_close_is_rejected_with_its_reason_and_ref_and_not_counted() {
    // Arrange
    let app = spawn_app().await;
    let id = app.open_poll(&a_poll()).await;
    let token = app.minted_token(&id).await;
    assert_eq!(app.transition(&id, "close").await.status(), 200);

    // Act
    let published = app
        .publish_http(&token, &vote_with_ref(&id, &["o1"], "r-late"))
        .await;
    let ballot = app.ballot_once(&id, &token, "rejected").await;

    // Assert
    assert_eq!(published, 204, "publishing is answered before processing");
    assert_eq!(ballot["status"], "rejected", "{ballot}");
    let last = &ballot["last_attempt"];
    assert_eq!(last["reason"], "poll_not_open", "{ballot}");
    assert_eq!(last["ref"], "r-late", "{ballot}");
    assert!(
        last["message"].as_str().unwrap().contains("closed"),
        "{ballot}"
    );
    assert!(last["at"].is_string(), "{ballot}");
    assert_eq!(
        ballot["ballot"]["state"], "none",
        "nothing counted: {ballot}"
    );
    assert_eq!(app.results(&id).await["ballots"], 0);
}

#[tokio::test]
async fn a_vote_after_the_close_is_refused_while_the_ballot_cast_in_time_still_counts() {
    // Arrange: a poll that takes changes, so the late one is refused for its time alone.
    let app = spawn_app().await;
    let (id, token) = counted_on_a_revote_poll(&app).await;
    assert_eq!(app.transition(&id, "close").await.status(), 200);

    // Act
    app.publish_http(&token, &vote_with_ref(&id, &["o2"], "r-late"))
        .await;
    let ballot = app.ballot_once(&id, &token, "rejected").await;

    // Assert
    assert_eq!(ballot["status"], "counted", "{ballot}");
    assert_eq!(ballot["ballot"]["choices"], json!(["o1"]), "{ballot}");
    assert_eq!(
        ballot["last_attempt"]["reason"], "poll_not_open",
        "{ballot}"
    );
    assert_eq!(ballot["last_attempt"]["ref"], "r-late", "{ballot}");
}

#[tokio::test]
async fn a_second_vote_without_revoting_is_rejected_while_the_first_stays_counted() {
    // Arrange
    let app = spawn_app().await;
    let id = app.open_poll(&a_poll()).await;
    let token = app.minted_token(&id).await;
    app.publish_http(&token, &vote_with_ref(&id, &["o1"], "r-1"))
        .await;
    app.ballot_once(&id, &token, "counted").await;

    // Act
    app.publish_http(&token, &vote_with_ref(&id, &["o2"], "r-2"))
        .await;
    let ballot = app.ballot_once(&id, &token, "rejected").await;

    // Assert: what counts and what the last attempt did, separately (never "rejected" alone).
    assert_eq!(ballot["status"], "counted", "{ballot}");
    assert_eq!(
        ballot["ballot"],
        json!({"state": "counted", "choices": ["o1"]}),
        "the first ballot stands: {ballot}"
    );
    assert_eq!(ballot["last_attempt"]["result"], "rejected", "{ballot}");
    assert_eq!(
        ballot["last_attempt"]["reason"], "already_voted",
        "{ballot}"
    );
    assert_eq!(ballot["last_attempt"]["ref"], "r-2", "{ballot}");
    let results = app.results_with(&id, 1).await;
    assert_eq!(results["counts"], json!({"o1": 1, "o2": 0}), "{results}");
}

#[tokio::test]
async fn a_revote_is_counted_with_its_new_choices() {
    // Arrange
    let app = spawn_app().await;
    let (id, token) = counted_on_a_revote_poll(&app).await;

    // Act
    app.publish_http(&token, &vote_with_ref(&id, &["o2"], "r-2"))
        .await;
    let ballot = within(10, "the revote to be counted", async {
        loop {
            let ballot = app.ballot(&id, &token).await;
            if ballot["ballot"]["choices"] == json!(["o2"]) {
                return ballot;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;

    // Assert
    assert_eq!(ballot["status"], "counted", "{ballot}");
    assert_eq!(ballot["last_attempt"]["result"], "counted", "{ballot}");
}

#[tokio::test]
async fn a_refused_revote_leaves_the_earlier_ballot_counting_and_says_why() {
    // Arrange
    let app = spawn_app().await;
    let (id, token) = counted_on_a_revote_poll(&app).await;

    // Act
    app.publish_http(&token, &vote_with_ref(&id, &["o9"], "r-2"))
        .await;
    let ballot = app.ballot_once(&id, &token, "rejected").await;

    // Assert
    assert_eq!(ballot["status"], "counted", "{ballot}");
    assert_eq!(ballot["ballot"]["choices"], json!(["o1"]), "{ballot}");
    assert_eq!(
        ballot["last_attempt"]["reason"], "unknown_option",
        "{ballot}"
    );
    assert_eq!(ballot["last_attempt"]["ref"], "r-2", "{ballot}");
}

#[tokio::test]
async fn a_voter_past_a_full_polls_cap_reads_that_nothing_counts_and_why() {
    // Arrange
    let app = spawn_app().await;
    let id = app
        .open_poll(&a_poll_with(json!({ "max_voters": 1 })))
        .await;
    let first = app.minted_token(&id).await;
    let second = app.minted_token(&id).await;
    app.publish_http(&first, &vote_with_ref(&id, &["o1"], "r-1"))
        .await;
    app.ballot_once(&id, &first, "counted").await;

    // Act
    app.publish_http(&second, &vote_with_ref(&id, &["o2"], "r-2"))
        .await;
    let ballot = app.ballot_once(&id, &second, "rejected").await;

    // Assert
    assert_eq!(ballot["status"], "rejected", "{ballot}");
    assert_eq!(ballot["ballot"], json!({"state": "none"}), "{ballot}");
    assert_eq!(ballot["last_attempt"]["reason"], "poll_full", "{ballot}");
}

#[tokio::test]
async fn a_ballot_naming_an_unknown_option_is_rejected_as_such() {
    // Arrange
    let app = spawn_app().await;
    let id = app.open_poll(&a_poll()).await;
    let token = app.minted_token(&id).await;

    // Act
    app.publish_http(&token, &vote_with_ref(&id, &["o9"], "r-x"))
        .await;
    let ballot = app.ballot_once(&id, &token, "rejected").await;

    // Assert
    assert_eq!(ballot["status"], "rejected", "{ballot}");
    assert_eq!(
        ballot["last_attempt"]["reason"], "unknown_option",
        "{ballot}"
    );
    assert_eq!(ballot["ballot"]["state"], "none", "{ballot}");
}

#[tokio::test]
async fn a_vote_naming_another_poll_is_reported_on_the_poll_of_the_token() {
    // Arrange
    let app = spawn_app().await;
    let mine = app.open_poll(&a_poll()).await;
    let other = app.open_poll(&a_poll()).await;
    let token = app.minted_token(&mine).await;

    // Act
    app.publish_http(&token, &vote_with_ref(&other, &["o1"], "r-w"))
        .await;
    let ballot = app.ballot_once(&mine, &token, "rejected").await;

    // Assert
    assert_eq!(ballot["last_attempt"]["reason"], "wrong_poll", "{ballot}");
    assert_eq!(app.results(&other).await["ballots"], 0);
}

#[tokio::test]
async fn only_the_voters_own_token_for_this_poll_is_accepted() {
    // Arrange
    let app = spawn_app().await;
    let id = app.open_poll(&a_poll()).await;
    let other = app.open_poll(&a_poll()).await;
    let token = app.minted_token(&id).await;
    let other_token = app.minted_token(&other).await;
    let raw = token["token"].as_str().unwrap();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(raw)
        .expect("a token is base64");
    let key: serde_json::Value = serde_json::from_slice(&decoded).unwrap();
    let raw_key = key["api_key"].as_str().unwrap();

    // Act and Assert: the token as minted, its raw key, either after `Bearer `.
    for presented in [raw.to_owned(), raw_key.to_owned(), format!("Bearer {raw}")] {
        assert_eq!(app.ballot_as(&id, &presented).await.status(), 200);
    }
    let without = app
        .http
        .get(format!("{}/v1/polls/{id}/ballot", app.address))
        .send()
        .await
        .unwrap();
    assert_error(without, 401, "unauthorized").await;
    for wrong in [
        "not-a-token".to_owned(),
        format!("Bearer {ADMIN_KEY}"),
        format!("{}x", &raw_key[..raw_key.len() - 1]),
    ] {
        assert_error(app.ballot_as(&id, &wrong).await, 401, "unauthorized").await;
    }
    let foreign = other_token["token"].as_str().unwrap();
    assert_error(app.ballot_as(&id, foreign).await, 403, "wrong_poll").await;
}

#[tokio::test]
async fn an_expired_token_no_longer_opens_the_ballot_status() {
    // Arrange
    let app = spawn_app_with(pollcast::config::ServeArgs {
        token_ttl: Duration::from_secs(2),
        ..test_settings()
    })
    .await;
    let id = app.open_poll(&a_poll()).await;
    let token = app.minted_token(&id).await;
    let raw = token["token"].as_str().unwrap().to_owned();
    assert_eq!(app.ballot_as(&id, &raw).await.status(), 200);

    // Act: wait for the token's expiry to pass.
    let status = within(10, "the token to expire", async {
        loop {
            let status = app.ballot_as(&id, &raw).await.status().as_u16();
            if status != 200 {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;

    // Assert
    assert_eq!(status, 401);
}

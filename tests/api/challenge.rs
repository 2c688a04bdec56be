//! `"challenge": "pow"` polls: an anonymous voter token takes the answer to a fresh puzzle of
//! `GET /v1/polls/{id}/challenge` (ALTCHA's scheme), and each puzzle buys one token. The test
//! solves puzzles as ALTCHA's documentation describes, with its own SHA-256.

use base64::Engine;
use reqwest::Method;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::support::app::{
    a_poll_with, assert_error, assert_invalid, send, spawn_app, status_and_json, Caller, TestApp,
};

/// A pow poll that is cheap to solve in a test.
fn pow_poll() -> Value {
    a_poll_with(json!({ "challenge": "pow", "challenge_difficulty": 1_000 }))
}

async fn puzzle(app: &TestApp, id: &str) -> Value {
    let (status, puzzle) =
        status_and_json(app.get(&format!("/v1/polls/{id}/challenge")).await).await;
    assert_eq!(status, 200, "{puzzle}");
    puzzle
}

/// ALTCHA's client: the number whose SHA-256 after the salt is the challenge, and the payload.
fn solve(puzzle: &Value) -> String {
    let salt = puzzle["salt"].as_str().unwrap();
    let target = puzzle["challenge"].as_str().unwrap();
    let max = puzzle["maxnumber"].as_u64().unwrap();
    let number = (0..=max)
        .find(|n| hex::encode(Sha256::digest(format!("{salt}{n}"))) == target)
        .expect("a number within maxnumber solves it");
    answer(puzzle, number)
}

fn answer(puzzle: &Value, number: u64) -> String {
    let payload = json!({
        "algorithm": puzzle["algorithm"],
        "challenge": puzzle["challenge"],
        "number": number,
        "salt": puzzle["salt"],
        "signature": puzzle["signature"],
    });
    base64::engine::general_purpose::STANDARD.encode(payload.to_string())
}

async fn token_with_pow(app: &TestApp, id: &str, pow: Option<&str>) -> reqwest::Response {
    let body = match pow {
        Some(pow) => json!({ "pow": pow }),
        None => json!({}),
    };
    send(
        app.request(
            Method::POST,
            &format!("/v1/polls/{id}/tokens"),
            Caller::Anonymous,
        )
        .json(&body),
    )
    .await
}

#[tokio::test]
async fn a_pow_poll_gives_a_token_only_for_a_solved_fresh_puzzle_and_for_each_puzzle_once() {
    // Arrange
    let app = spawn_app().await;
    let id = app.open_poll(&pow_poll()).await;
    let other = app.open_poll(&pow_poll()).await;
    let puzzle = puzzle(&app, &id).await;
    let solved = solve(&puzzle);
    let number = serde_json::from_slice::<Value>(
        &base64::engine::general_purpose::STANDARD
            .decode(&solved)
            .unwrap(),
    )
    .unwrap()["number"]
        .as_u64()
        .unwrap();

    // Act
    let without = token_with_pow(&app, &id, None).await;
    let wrong = token_with_pow(&app, &id, Some(&answer(&puzzle, number + 1))).await;
    let elsewhere = token_with_pow(&app, &other, Some(&solved)).await;
    let first = token_with_pow(&app, &id, Some(&solved)).await;
    let again = token_with_pow(&app, &id, Some(&solved)).await;

    // Assert
    assert_eq!(puzzle["algorithm"], "SHA-256");
    assert_eq!(puzzle["maxnumber"], 1_000);
    assert!(puzzle["salt"]
        .as_str()
        .unwrap()
        .contains(&format!("poll={id}")));
    let body = assert_error(without, 403, "challenge_required").await;
    assert!(
        body["message"].as_str().unwrap().contains("/challenge"),
        "{body}"
    );
    assert_error(wrong, 403, "challenge_failed").await;
    let body = assert_error(elsewhere, 403, "challenge_failed").await;
    assert!(
        body["message"].as_str().unwrap().contains("another poll"),
        "{body}"
    );
    assert_eq!(first.status(), 201);
    let body = assert_error(again, 403, "challenge_failed").await;
    assert!(
        body["message"].as_str().unwrap().contains("already"),
        "{body}"
    );
    let metrics = app.metrics().await;
    assert_eq!(
        metrics.get("limited_total", Some(("limit", "challenge"))),
        4
    );
}

#[tokio::test]
async fn admins_need_no_proof_and_polls_without_a_challenge_have_no_puzzle() {
    // Arrange
    let app = spawn_app().await;
    let pow = app.open_poll(&pow_poll()).await;
    let plain = app.open_poll(&a_poll_with(json!({}))).await;

    // Act
    let admin = app.mint_token(&pow, None, Caller::Admin).await;
    let no_puzzle = app.get(&format!("/v1/polls/{plain}/challenge")).await;
    let public = app.get_poll(&pow).await.json::<Value>().await.unwrap();

    // Assert
    assert_eq!(admin.status(), 201);
    assert_error(no_puzzle, 409, "no_challenge").await;
    assert_eq!(
        (&public["challenge"], &public["challenge_difficulty"]),
        (&json!("pow"), &json!(1_000))
    );
}

#[tokio::test]
async fn the_event_token_of_a_pow_poll_takes_a_solved_puzzle_too() {
    // Arrange
    let app = spawn_app().await;
    let id = app.open_poll(&pow_poll()).await;
    let event = app
        .request(Method::POST, "/v1/events", Caller::Admin)
        .json(&json!({ "title": "Meetup", "poll_ids": [id] }));
    let (status, event) = status_and_json(send(event).await).await;
    assert_eq!(status, 201, "{event}");
    let path = format!("/v1/events/{}/tokens", event["id"].as_str().unwrap());
    let take = |pow: Option<String>| {
        let body = match pow {
            Some(pow) => json!({ "poll_id": id, "pow": pow }),
            None => json!({ "poll_id": id }),
        };
        send(
            app.request(Method::POST, &path, Caller::Anonymous)
                .json(&body),
        )
    };

    // Act
    let without = take(None).await;
    let with = take(Some(solve(&puzzle(&app, &id).await))).await;

    // Assert
    assert_error(without, 403, "challenge_required").await;
    assert_eq!(with.status(), 201);
}

#[tokio::test]
async fn pow_is_for_open_polls_only_with_a_difficulty_in_range() {
    let app = spawn_app().await;
    for (extra, field, rule) in [
        (
            json!({ "challenge": "pow", "access": "invite" }),
            "challenge",
            "open polls",
        ),
        (
            json!({ "challenge_difficulty": 5_000 }),
            "challenge_difficulty",
            "pow",
        ),
        (
            json!({ "challenge": "pow", "challenge_difficulty": 10 }),
            "challenge_difficulty",
            "must be from 1000",
        ),
        (
            json!({ "challenge": "sudoku" }),
            "challenge",
            "unknown variant",
        ),
    ] {
        let response = app.create_poll(&a_poll_with(extra.clone())).await;
        assert_invalid(response, field, rule).await;
    }
    let created = app
        .created_poll(&a_poll_with(json!({ "challenge": "pow" })))
        .await;
    assert_eq!(created["challenge_difficulty"], 50_000, "the default");
}

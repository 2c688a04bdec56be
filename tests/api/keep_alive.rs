//! Polls outlive the cache TTL while they are in use: the scheduler refreshes the TTL of every
//! poll that is not archived or cancelled: its record, its ballot ledger and its voters'
//! ballot keys (the dedupe decision), so a voter cannot vote twice once the TTL has passed.
//!
//! The tests wait out the TTL on the clock: time passing is what they are about.

use std::time::Duration;

use pollcast::config::ServeArgs;
use serde_json::json;

use crate::support::app::{spawn_app_with, TestApp};
use crate::support::voting::{token_id, vote, webhook_settings, Event};

/// The cache TTL of the tests' apps.
const TTL: Duration = Duration::from_secs(2);

async fn app_with_a_short_record_ttl() -> TestApp {
    spawn_app_with(ServeArgs {
        record_ttl: Some(TTL),
        ..webhook_settings()
    })
    .await
}

#[tokio::test]
async fn a_voter_cannot_vote_again_once_the_record_ttl_has_passed() {
    // Arrange: a capped poll without revoting, and a voter who voted.
    let app = app_with_a_short_record_ttl().await;
    let id = app
        .open_poll(&json!({ "title": "Lasting?", "options": ["yes", "no"], "max_voters": 2 }))
        .await;
    let ann = token_id(&id, "ann");
    app.deliver_expecting(&Event::new(&ann, &vote(&id, &["o1"]), 1), "accepted", None)
        .await;

    // Act: three TTLs pass.
    tokio::time::sleep(TTL * 3).await;

    // Assert: her ballot key and the ledger are both still there, and agree ...
    let voters = ["ann".to_owned()];
    let (keys, ledger) = app.ballot_keys_and_ledger(&id, &voters).await;
    assert_eq!(ledger.get("ann").map(String::as_str), Some("o1"));
    assert_eq!(keys, ledger);
    // ... so she can neither change her ballot nor take a second seat.
    let change = Event::new(&ann, &vote(&id, &["o2"]), 2);
    app.deliver_expecting(&change, "rejected", Some("already_voted"))
        .await;
    let again = Event::new(&ann, &vote(&id, &["o1"]), 3);
    app.deliver_expecting(&again, "duplicate", None).await;
    let bo = Event::new(&token_id(&id, "bo"), &vote(&id, &["o2"]), 4);
    app.deliver_expecting(&bo, "accepted", None).await;
    let results = app.results_with(&id, 2).await;
    assert_eq!(results["counts"], json!({ "o1": 1, "o2": 1 }), "{results}");
}

#[tokio::test]
async fn an_open_poll_and_its_ballots_outlive_the_record_ttl_and_an_archived_one_expires() {
    // Arrange
    let app = app_with_a_short_record_ttl().await;
    let id = app
        .open_poll(&json!({"title": "Lasting?", "options": ["yes", "no"]}))
        .await;
    let token = app.minted_token(&id).await;
    let voter = token["voter_id"].as_str().unwrap().to_owned();
    assert_eq!(app.publish_http(&token, &vote(&id, &["o1"])).await, 204);
    app.results_with(&id, 1).await;

    // Act: three TTLs pass.
    tokio::time::sleep(TTL * 3).await;

    // Assert: the poll is there, and so are its ledger and the ballot key.
    assert_eq!(app.get_poll(&id).await.status(), 200);
    let (keys, ledger) = app
        .ballot_keys_and_ledger(&id, std::slice::from_ref(&voter))
        .await;
    assert_eq!(ledger.get(&voter).map(String::as_str), Some("o1"));
    assert_eq!(keys, ledger);

    // Once archived, nothing keeps it alive.
    assert_eq!(app.transition(&id, "close").await.status(), 200);
    assert_eq!(app.transition(&id, "archive").await.status(), 200);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if app.get_poll(&id).await.status() == 404 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "archived poll never expired"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (keys, ledger) = app.ballot_keys_and_ledger(&id, &[voter]).await;
    assert!(keys.is_empty() && ledger.is_empty(), "{keys:?} {ledger:?}");
}

//! Polls outlive the cache TTL while they are in use: the scheduler refreshes the TTL of every
//! poll that is not archived or cancelled (its record and its ballot ledger).

use std::time::Duration;

use serde_json::json;

use crate::support::app::{serve, test_settings};

#[tokio::test]
async fn an_open_poll_and_its_ballots_outlive_the_record_ttl_and_an_archived_one_expires() {
    let mut settings = test_settings();
    settings.record_ttl = Some(Duration::from_secs(2));
    let app = serve(
        pollcast::startup::Application::build(settings)
            .await
            .unwrap(),
    );
    let id = app
        .open_poll(&json!({"title": "Lasting?", "options": ["yes", "no"]}))
        .await;
    let token = app.minted_token(&id).await;
    let vote = json!({"poll_id": id, "choices": ["o1"]}).to_string();
    let published = app
        .http
        .post(format!("{}/topics/pollcast/votes", app.address))
        .header("authorization", token["token"].as_str().unwrap())
        .header("content-type", "text/plain")
        .body(vote)
        .send()
        .await
        .unwrap();
    assert_eq!(published.status(), 204);

    // Three TTLs later the poll is still there, with its ballot.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(app.get_poll(&id).await.status(), 200);
    let results: serde_json::Value = app
        .get(&format!("/v1/polls/{id}/results"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(results["ballots"], 1, "{results}");

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
}

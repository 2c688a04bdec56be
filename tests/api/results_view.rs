//! Results for web and mobile clients: each option's label and share (percent of ballots)
//! besides its count, in the JSON results and in the Server-Sent Events stream alike.

use serde_json::{json, Value};

use crate::support::app::{a_poll_with, spawn_app_with, within};
use crate::support::voting::{token_id, vote, webhook_settings, Event};

#[tokio::test]
async fn results_give_each_options_label_votes_and_share_in_the_polls_order() {
    // Arrange: 2 votes for Pizza, 1 for Sushi, none for Tacos.
    let app = spawn_app_with(webhook_settings()).await;
    let id = app
        .open_poll(&a_poll_with(
            json!({ "options": ["Pizza", "Sushi", "Tacos"] }),
        ))
        .await;
    for (voter, choice) in [("ann", "o1"), ("bo", "o2"), ("cy", "o1")] {
        let event = Event::new(&token_id(&id, voter), &vote(&id, &[choice]), 1);
        app.deliver_expecting(&event, "accepted", None).await;
    }

    // Act
    let results = app.results_with(&id, 3).await;

    // Assert: 2 of 3 ballots is 66.7 %, 1 of 3 is 33.3 %.
    assert_eq!(
        results["options"],
        json!([
            { "id": "o1", "label": "Pizza", "votes": 2, "share": 66.7 },
            { "id": "o2", "label": "Sushi", "votes": 1, "share": 33.3 },
            { "id": "o3", "label": "Tacos", "votes": 0, "share": 0.0 },
        ]),
        "{results}"
    );
    assert_eq!(results["counts"], json!({ "o1": 2, "o2": 1, "o3": 0 }));
}

#[tokio::test]
async fn multi_choice_shares_are_of_ballots_and_may_add_up_past_100() {
    // Arrange: both voters choose Pizza; one also Sushi.
    let app = spawn_app_with(webhook_settings()).await;
    let id = app
        .open_poll(&a_poll_with(json!({ "kind": "multi" })))
        .await;
    for (voter, choices) in [("ann", vec!["o1", "o2"]), ("bo", vec!["o1"])] {
        let event = Event::new(&token_id(&id, voter), &vote(&id, &choices), 1);
        app.deliver_expecting(&event, "accepted", None).await;
    }

    // Act
    let results = app.results_with(&id, 2).await;

    // Assert
    let shares: Vec<f64> = results["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["share"].as_f64().unwrap())
        .collect();
    assert_eq!(shares, vec![100.0, 50.0], "{results}");
}

#[tokio::test]
async fn the_results_stream_carries_labels_and_shares_too() {
    // Arrange
    let app = spawn_app_with(webhook_settings()).await;
    let id = app.open_poll(&a_poll_with(json!({}))).await;
    let event = Event::new(&token_id(&id, "ann"), &vote(&id, &["o2"]), 1);
    app.deliver_expecting(&event, "accepted", None).await;
    app.results_with(&id, 1).await;

    // Act
    let mut stream = app.get(&format!("/v1/polls/{id}/results/stream")).await;
    let first = within(10, "the first SSE event", async {
        let mut text = String::new();
        loop {
            let chunk = stream
                .chunk()
                .await
                .unwrap()
                .expect("the stream stays open");
            text.push_str(std::str::from_utf8(&chunk).unwrap());
            if let Some(data) = text
                .lines()
                .find_map(|line| line.strip_prefix("data:"))
                .filter(|_| text.contains("\n\n"))
            {
                return serde_json::from_str::<Value>(data.trim()).unwrap();
            }
        }
    })
    .await;

    // Assert
    assert_eq!(
        first["options"][1],
        json!({ "id": "o2", "label": "Sushi", "votes": 1, "share": 100.0 }),
        "{first}"
    );
}

//! Open-text polls end to end: entries published through Momento's HTTP topics API with voter
//! tokens make a word list; the profanity filter and an admin hide entries, which leave the
//! public results, the stream and the word list at once and stay in the CSV, marked hidden;
//! pre-moderated entries show once approved.

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::answers::{open_with_voters, publish};
use crate::support::app::{assert_error, spawn_app, status_and_json, Caller};
use crate::support::sse::Events;

/// The entry of `results` whose text is `text`, if shown.
fn entry<'a>(results: &'a Value, text: &str) -> Option<&'a Value> {
    results["open_text"]["entries"]
        .as_array()?
        .iter()
        .find(|e| e["text"] == text)
}

/// The word list of `results` as (word, count) pairs.
fn words(results: &Value) -> Vec<(String, u64)> {
    results["open_text"]["words"]
        .as_array()
        .expect("a word list")
        .iter()
        .map(|w| {
            (
                w["word"].as_str().unwrap().to_owned(),
                w["count"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn open_text_entries_make_a_word_list_and_a_hidden_entry_leaves_every_public_channel() {
    // Arrange
    let app = spawn_app().await;
    let body = json!({
        "title": "Your favourite language?", "kind": "open_text", "max_length": 40,
        "max_entries": 2, "allow_revote": true, "profanity_filter": true
    });
    let (id, tokens) = open_with_voters(&app, &body, "t", 5).await;
    let mut stream = Events::new(app.results_stream(&id, Caller::Anonymous).await);

    // Act
    let ballots = [
        json!(["Rust", "Zig"]),
        json!(["rust!"]),
        json!(["the borrow checker"]),
        json!(["fuck this"]),
        json!(["Go"]),
    ];
    for (token, texts) in tokens.iter().zip(&ballots) {
        publish(&app, token, &id, json!({ "texts": texts })).await;
    }

    // Assert: the filter hid one entry; the words are case-folded and stripped.
    let (_, _, live) = stream.until(|r| r["ballots"] == 5).await;
    assert_eq!(live["open_text"]["entries_total"], 5, "{live}");
    assert!(entry(&live, "fuck this").is_none());
    assert_eq!(
        words(&live),
        [
            ("rust".into(), 2),
            ("borrow checker".into(), 1),
            ("go".into(), 1),
            ("zig".into(), 1)
        ]
    );
    let (status, admin) = app
        .admin_call(Method::GET, &format!("/v1/polls/{id}/entries"))
        .await;
    assert_eq!(status, 200, "{admin}");
    let filtered = admin["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["text"] == "fuck this")
        .unwrap();
    assert_eq!(
        (filtered["status"].as_str(), filtered["hidden"].as_bool()),
        (Some("hidden_by_filter"), Some(true))
    );

    // Act: an admin hides "Go".
    let go = entry(&live, "Go").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let hide = format!("/v1/polls/{id}/entries/{go}/hide");
    let (status, hidden) = app.admin_call(Method::POST, &hide).await;

    // Assert: gone from REST at once, and from the stream's next update.
    assert_eq!(
        (status, hidden["status"].as_str()),
        (200, Some("hidden_by_admin")),
        "{hidden}"
    );
    let (_, public) = status_and_json(app.results_as(&id, Caller::Anonymous).await).await;
    assert!(entry(&public, "Go").is_none(), "{public}");
    assert!(words(&public).iter().all(|(w, _)| w != "go"));
    let (_, _, streamed) = stream.until(|r| r["open_text"]["entries_total"] == 4).await;
    assert!(entry(&streamed, "Go").is_none());
    let csv = app.csv_of(&id).await;
    assert!(csv.starts_with("entry_id,text,hidden,status\r\n"), "{csv}");
    assert!(
        csv.contains(&format!("{go},\"Go\",true,hidden_by_admin\r\n")),
        "{csv}"
    );
    assert!(
        csv.contains(",\"fuck this\",true,hidden_by_filter\r\n"),
        "{csv}"
    );
    assert_eq!(csv.matches(",false,visible\r\n").count(), 4, "{csv}");

    // Act: the first voter revotes; their entries are replaced.
    publish(&app, &tokens[0], &id, json!({ "texts": ["Rust"] })).await;

    // Assert
    let (_, _, revoted) = stream.until(|r| r["open_text"]["entries_total"] == 3).await;
    assert!(entry(&revoted, "Zig").is_none());
    let status = app.ballot(&id, &tokens[0]).await;
    assert_eq!(status["ballot"]["texts"], json!(["Rust"]));
}

#[tokio::test]
async fn pre_moderated_entries_show_only_once_approved_and_stay_hidden_until_close_when_asked() {
    // Arrange
    let app = spawn_app().await;
    let body = json!({
        "title": "Questions for the speaker", "kind": "open_text", "moderation": "pre",
        "results_visibility": "on_close"
    });
    let (id, tokens) = open_with_voters(&app, &body, "q", 2).await;

    // Act
    publish(
        &app,
        &tokens[0],
        &id,
        json!({ "texts": ["What about async?"] }),
    )
    .await;
    publish(&app, &tokens[1], &id, json!({ "texts": ["Why Rust?"] })).await;

    // Assert: pending entries are not results; voters see no results before the close.
    let pending = app.results_with(&id, 2).await;
    assert_eq!(pending["open_text"]["entries_total"], 0, "{pending}");
    assert_error(
        app.results_as(&id, Caller::Anonymous).await,
        403,
        "results_hidden",
    )
    .await;
    let (_, admin) = app
        .admin_call(Method::GET, &format!("/v1/polls/{id}/entries"))
        .await;
    let entries = admin["entries"].as_array().unwrap();
    assert!(entries.iter().all(|e| e["status"] == "pending"), "{admin}");

    // Act: approve one, close the poll.
    let approve = entries.iter().find(|e| e["text"] == "Why Rust?").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/v1/polls/{id}/entries/{approve}/unhide");
    let (status, _) = app.admin_call(Method::POST, &path).await;
    assert_eq!(status, 200);
    assert_eq!(app.transition(&id, "close").await.status(), 200);

    // Assert
    let closed = app.results_when(&id, |r| r["state"] == "closed").await;
    let (status, public) = status_and_json(app.results_as(&id, Caller::Anonymous).await).await;
    assert_eq!(status, 200, "{public}");
    assert_eq!(public["open_text"]["entries_total"], 1);
    assert_eq!(public["open_text"]["entries"][0]["text"], "Why Rust?");
    assert_eq!(closed["ballots"], 2);
}

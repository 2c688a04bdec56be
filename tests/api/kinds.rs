//! Rating polls end to end, and what every kind beyond choice refuses: voters take tokens and
//! publish through Momento's HTTP topics API on the app's port; the results (REST and SSE), the
//! CSV export, the voter's ballot status and `/metrics` show what was cast. Open text and its
//! moderation: `open_text.rs`.

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::answers::{open_with_voters, publish};
use crate::support::app::{assert_error, id_of, spawn_app, status_and_json, Caller};
use crate::support::sse::Events;

/// A rating poll from 1 to 5 that allows revoting.
fn rating_poll() -> Value {
    json!({
        "title": "How was the talk?", "kind": "rating", "allow_revote": true,
        "scale": {"min": 1, "max": 5, "min_label": "Poor", "max_label": "Great"}
    })
}

#[tokio::test]
async fn a_rating_poll_counts_values_and_reports_mean_median_stream_and_csv() {
    // Arrange
    let app = spawn_app().await;
    let (id, tokens) = open_with_voters(&app, &rating_poll(), "r", 6).await;
    let mut stream = Events::new(app.results_stream(&id, Caller::Anonymous).await);
    let (_, _, first) = stream.next().await;
    assert_eq!(
        first["rating"]["counts"],
        json!({"1": 0, "2": 0, "3": 0, "4": 0, "5": 0})
    );
    assert_eq!(first["rating"]["mean"], Value::Null);

    // Act: 2, 4, 4, 5, 5, 5.
    for (token, value) in tokens.iter().zip([5, 4, 4, 2, 5, 5]) {
        publish(&app, token, &id, json!({ "value": value })).await;
    }

    // Assert: the mean is 25/6 = 4.17; the median of an even count is (4 + 5) / 2.
    let (_, _, live) = stream.until(|r| r["ballots"] == 6).await;
    assert_eq!(
        live["rating"]["counts"],
        json!({"1": 0, "2": 1, "3": 0, "4": 2, "5": 3})
    );
    assert_eq!(
        (
            live["rating"]["mean"].as_f64(),
            live["rating"]["median"].as_f64()
        ),
        (Some(4.17), Some(4.5))
    );
    assert_eq!(live["counts"], json!({}));
    let (status, public) = status_and_json(app.results_as(&id, Caller::Anonymous).await).await;
    assert_eq!(status, 200);
    assert_eq!(public["rating"], live["rating"]);
    let status = app.ballot_once(&id, &tokens[3], "counted").await;
    assert_eq!(
        (
            status["status"].as_str(),
            status["ballot"]["value"].as_i64()
        ),
        (Some("counted"), Some(2))
    );

    // Act: the first voter changes 5 to 1: 1, 2, 4, 4, 5, 5.
    publish(&app, &tokens[0], &id, json!({ "value": 1 })).await;

    // Assert
    let (_, _, revoted) = stream.until(|r| r["rating"]["counts"]["1"] == 1).await;
    assert_eq!(revoted["ballots"], 6);
    assert_eq!(
        (
            revoted["rating"]["mean"].as_f64(),
            revoted["rating"]["median"].as_f64()
        ),
        (Some(3.5), Some(4.0))
    );
    let csv = app.csv_of(&id).await;
    assert_eq!(csv, "value,votes\r\n1,1\r\n2,1\r\n3,0\r\n4,2\r\n5,2\r\n");
    let (status, recount) = app
        .admin_call(Method::POST, &format!("/v1/polls/{id}/recount"))
        .await;
    assert_eq!(
        (status, recount["matched"].as_bool()),
        (200, Some(true)),
        "{recount}"
    );
}

#[tokio::test]
async fn bad_ratings_and_entries_are_rejected_counted_by_reason_and_change_nothing() {
    // Arrange
    let app = spawn_app().await;
    let (rating, rating_tokens) = open_with_voters(&app, &rating_poll(), "r", 4).await;
    let text =
        json!({"title": "One word", "kind": "open_text", "max_length": 10, "max_entries": 2});
    let (texts, text_tokens) = open_with_voters(&app, &text, "t", 7).await;
    let before = app.metrics().await;

    // Act
    let cases = [
        (
            &rating_tokens[0],
            &rating,
            json!({ "value": 6 }),
            "out_of_scale",
        ),
        (
            &rating_tokens[1],
            &rating,
            json!({ "value": 3.5 }),
            "not_an_integer",
        ),
        (
            &rating_tokens[2],
            &rating,
            json!({ "texts": ["4"] }),
            "wrong_kind",
        ),
        (
            &rating_tokens[3],
            &rating,
            json!({ "value": 3, "texts": ["3"] }),
            "mixed_ballot",
        ),
        (
            &text_tokens[0],
            &texts,
            json!({ "texts": ["  "] }),
            "empty_entry",
        ),
        (
            &text_tokens[1],
            &texts,
            json!({ "texts": ["far too long"] }),
            "entry_too_long",
        ),
        (
            &text_tokens[2],
            &texts,
            json!({ "texts": ["a", "b", "c"] }),
            "too_many_entries",
        ),
        (
            &text_tokens[3],
            &texts,
            json!({ "texts": ["a\u{7}b"] }),
            "control_character",
        ),
        (&text_tokens[4], &texts, json!({ "value": 3 }), "wrong_kind"),
        (
            &text_tokens[5],
            &texts,
            json!({ "choices": ["o1"] }),
            "wrong_kind",
        ),
        (
            &text_tokens[6],
            &texts,
            json!({ "texts": ["Rust", "rust"] }),
            "duplicate_entry",
        ),
    ];
    for (token, id, message, _) in &cases {
        publish(&app, token, id, message.clone()).await;
    }

    // Assert
    let after = app
        .metrics_after(before.handled() + cases.len() as u64)
        .await
        .since(&before);
    for (token, id, _, reason) in &cases {
        let status = app.ballot_once(id, token, "rejected").await;
        assert_eq!(
            (
                status["status"].as_str(),
                status["last_attempt"]["reason"].as_str()
            ),
            (Some("rejected"), Some(*reason)),
            "{status}"
        );
    }
    assert_eq!(after.rejected("wrong_kind"), 3);
    for reason in [
        "out_of_scale",
        "not_an_integer",
        "mixed_ballot",
        "empty_entry",
        "entry_too_long",
        "too_many_entries",
        "control_character",
        "duplicate_entry",
    ] {
        assert_eq!(after.rejected(reason), 1, "{reason}");
    }
    assert_eq!(app.results(&rating).await["ballots"], 0);
    assert_eq!(app.results(&texts).await["ballots"], 0);
}

#[tokio::test]
async fn a_capped_rating_poll_refuses_the_voter_past_its_cap() {
    // Arrange
    let app = spawn_app().await;
    let mut body = rating_poll();
    body["max_voters"] = json!(1);
    let (id, tokens) = open_with_voters(&app, &body, "c", 2).await;

    // Act
    publish(&app, &tokens[0], &id, json!({ "value": 3 })).await;
    let first = app.results_with(&id, 1).await;
    publish(&app, &tokens[1], &id, json!({ "value": 5 })).await;

    // Assert
    let status = app.ballot_once(&id, &tokens[1], "rejected").await;
    assert_eq!(status["last_attempt"]["reason"], "poll_full", "{status}");
    assert_eq!(
        status["ballot"]["state"], "none",
        "nothing counts: {status}"
    );
    assert_eq!(first["rating"]["counts"]["3"], 1);
    assert_eq!(app.results(&id).await["ballots"], 1);
}

#[tokio::test]
async fn rating_and_open_text_polls_are_validated_on_creation() {
    let app = spawn_app().await;
    let cases = [
        (json!({"title": "t", "kind": "rating"}), "scale"),
        (
            json!({"title": "t", "kind": "rating", "scale": {"min": 1, "max": 12}}),
            "scale",
        ),
        (
            json!({"title": "t", "kind": "rating", "scale": {"min": 3, "max": 3}}),
            "scale.max",
        ),
        (
            json!({"title": "t", "kind": "rating", "scale": {"min": 1, "max": 5}, "options": ["a", "b"]}),
            "options",
        ),
        (
            json!({"title": "t", "kind": "open_text", "max_length": 281}),
            "max_length",
        ),
        (
            json!({"title": "t", "kind": "open_text", "max_entries": 4}),
            "max_entries",
        ),
        (
            json!({"title": "t", "options": ["a", "b"], "moderation": "pre"}),
            "moderation",
        ),
        (
            json!({"title": "t", "options": ["a", "b"], "scale": {"min": 1, "max": 5}}),
            "scale",
        ),
    ];
    for (body, field) in cases {
        let body = assert_error(app.create_poll(&body).await, 400, "invalid_request").await;
        assert!(
            body["message"].as_str().unwrap().contains(field),
            "{field}: {body}"
        );
    }
    let (status, scale) = status_and_json(
        app.create_poll(&json!({"title": "t", "kind": "rating", "scale": {"min": 0, "max": 10}}))
            .await,
    )
    .await;
    assert_eq!((status, scale["scale"]["max"].as_i64()), (201, Some(10)));
    let text = app
        .created_poll(&json!({"title": "t", "kind": "open_text"}))
        .await;
    assert_eq!(
        (text["max_length"].as_u64(), text["max_entries"].as_u64()),
        (Some(140), Some(1))
    );
    assert_eq!(text["options"], json!([]));
    let (_, public) = status_and_json(app.get_poll(&id_of(&text)).await).await;
    assert_eq!(public["moderation"], "post");
}

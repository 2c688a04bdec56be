//! `/v1/polls` refusing requests: invalid bodies (400, naming the field and the rule), unknown
//! polls (404), missing or wrong admin keys (401), bad paging (400), oversize bodies (413); and
//! after each, the polls are as they were.

use reqwest::header::CONTENT_TYPE;
use reqwest::Method;
use serde_json::{json, Value};

use crate::support::app::{
    a_poll, a_poll_with, assert_error, assert_invalid, id_of, in_seconds, send, spawn_app,
    spawn_app_with, status_and_json, test_settings, Caller, ADMIN_KEY, NOT_ADMIN,
};

/// Each case: what is wrong, the body, the field the answer must name, and words of the rule.
fn invalid_polls() -> Vec<(&'static str, Value, &'static str, &'static str)> {
    let labels = |n: usize| (1..=n).map(|i| format!("Option {i}")).collect::<Vec<_>>();
    vec![
        (
            "blank title",
            a_poll_with(json!({ "title": "   " })),
            "title",
            "blank",
        ),
        (
            "one option",
            a_poll_with(json!({ "options": ["Only"] })),
            "options",
            "fewer than 2",
        ),
        (
            "no options",
            a_poll_with(json!({ "options": [] })),
            "options",
            "fewer than 2",
        ),
        (
            "33 options",
            a_poll_with(json!({ "options": labels(33) })),
            "options",
            "more than 32",
        ),
        (
            "duplicate labels",
            a_poll_with(json!({ "options": ["Pizza", "Sushi", " pizza"] })),
            "options[2]",
            "repeats options[0]",
        ),
        (
            "blank label",
            a_poll_with(json!({ "options": ["Pizza", " "] })),
            "options[1]",
            "blank",
        ),
        (
            "max_choices on a single poll",
            a_poll_with(json!({ "max_choices": 1 })),
            "max_choices",
            "only for multi",
        ),
        (
            "max_choices 0",
            a_poll_with(json!({ "kind": "multi", "max_choices": 0 })),
            "max_choices",
            "must be from 1",
        ),
        (
            "max_choices above the options",
            a_poll_with(json!({ "kind": "multi", "max_choices": 3 })),
            "max_choices",
            "number of options",
        ),
        (
            "closes_at before opens_at",
            a_poll_with(json!({ "opens_at": in_seconds(600), "closes_at": in_seconds(300) })),
            "closes_at",
            "after opens_at",
        ),
        (
            "opens_at in the past",
            a_poll_with(json!({ "opens_at": in_seconds(-60) })),
            "opens_at",
            "in the future",
        ),
        (
            "closes_at in the past",
            a_poll_with(json!({ "closes_at": in_seconds(-60) })),
            "closes_at",
            "in the future",
        ),
        (
            "max_voters 0",
            a_poll_with(json!({ "max_voters": 0 })),
            "max_voters",
            "at least 1",
        ),
        (
            "title too long",
            a_poll_with(json!({ "title": "x".repeat(201) })),
            "title",
            "more than 200",
        ),
        (
            "description too long",
            a_poll_with(json!({ "description": "x".repeat(2001) })),
            "description",
            "more than 2000",
        ),
    ]
}

#[tokio::test]
async fn invalid_polls_answer_400_naming_the_field_and_the_rule_and_create_nothing() {
    // Arrange
    let app = spawn_app().await;
    app.created_poll(&a_poll()).await;
    let before = app.all_polls().await;

    for (case, body, field, rule) in invalid_polls() {
        // Act
        let response = app.create_poll(&body).await;

        // Assert
        let error = assert_invalid(response, field, rule).await;
        assert!(error.get("state").is_none(), "{case}: {error}");
    }
    assert_eq!(app.all_polls().await, before, "nothing was created");
}

#[tokio::test]
async fn every_broken_rule_is_reported_at_once() {
    let app = spawn_app().await;

    let body = json!({ "title": "", "options": ["a"], "max_voters": 0 });
    let error = assert_error(app.create_poll(&body).await, 400, "invalid_request").await;

    let message = error["message"].as_str().unwrap();
    for field in ["title", "options", "max_voters"] {
        assert!(message.contains(field), "{field} is not named: {message}");
    }
}

#[tokio::test]
async fn bodies_that_are_not_a_poll_answer_400_naming_the_field_and_create_nothing() {
    // Arrange
    let app = spawn_app().await;
    app.created_poll(&a_poll()).await;
    let before = app.all_polls().await;
    let cases = [
        (
            "unknown field",
            a_poll_with(json!({ "close_at": in_seconds(60) })),
            "close_at",
        ),
        (
            "title a number",
            a_poll_with(json!({ "title": 5 })),
            "title",
        ),
        (
            "options a string",
            a_poll_with(json!({ "options": "Pizza, Sushi" })),
            "options",
        ),
        (
            "option a number",
            a_poll_with(json!({ "options": ["a", 2] })),
            "options",
        ),
        (
            "negative max_voters",
            a_poll_with(json!({ "max_voters": -1 })),
            "max_voters",
        ),
        (
            "max_voters a string",
            a_poll_with(json!({ "max_voters": "ten" })),
            "max_voters",
        ),
        (
            "unknown kind",
            a_poll_with(json!({ "kind": "plural" })),
            "kind",
        ),
        (
            "allow_revote a string",
            a_poll_with(json!({ "allow_revote": "yes" })),
            "allow_revote",
        ),
        (
            "opens_at not a time",
            a_poll_with(json!({ "opens_at": "tomorrow" })),
            "opens_at",
        ),
        (
            "missing options",
            a_poll_with(json!({ "options": null })),
            "options",
        ),
        (
            "missing title",
            a_poll_with(json!({ "title": null })),
            "title",
        ),
    ];

    for (case, body, field) in cases {
        // Act
        let response = app.create_poll(&body).await;

        // Assert
        let error = assert_error(response, 400, "invalid_request").await;
        let message = error["message"].as_str().unwrap();
        assert!(
            message.contains(field),
            "{case}: `{field}` is not named: {message}"
        );
    }
    assert_eq!(app.all_polls().await, before, "nothing was created");
}

#[tokio::test]
async fn a_body_that_is_not_json_answers_400_and_creates_nothing() {
    let app = spawn_app().await;
    let post = |body: &'static str| {
        app.request(Method::POST, "/v1/polls", Caller::Admin)
            .header(CONTENT_TYPE, "application/json")
            .body(body)
    };

    for body in [
        "{\"title\": \"Lunch?\", \"options\": [",
        "title=Lunch",
        "",
        "[]",
        "null",
    ] {
        assert_error(send(post(body)).await, 400, "invalid_request").await;
    }
    let form = app
        .request(Method::POST, "/v1/polls", Caller::Admin)
        .header(CONTENT_TYPE, "text/plain")
        .body(a_poll().to_string());
    assert_error(send(form).await, 415, "unsupported_media_type").await;
    assert!(app.all_polls().await.is_empty(), "nothing was created");
}

#[tokio::test]
async fn unknown_and_impossible_poll_ids_answer_404() {
    let app = spawn_app().await;
    app.created_poll(&a_poll()).await;
    let before = app.all_polls().await;

    for id in [
        "Zz9Zz9Zz9Z",
        "no:such:poll",
        &"x".repeat(40),
        "%F0%9F%8D%95",
    ] {
        assert_error(app.get_poll(id).await, 404, "not_found").await;
        for event in ["open", "close", "schedule", "archive", "cancel"] {
            assert_error(app.transition(id, event).await, 404, "not_found").await;
        }
    }
    assert_eq!(app.all_polls().await, before, "nothing changed");
}

#[tokio::test]
async fn creating_or_listing_without_the_admin_key_answers_401_and_creates_nothing() {
    let app = spawn_app().await;
    app.created_poll(&a_poll()).await;
    let before = app.all_polls().await;

    for caller in NOT_ADMIN {
        assert_error(
            app.create_poll_as(&a_poll(), caller).await,
            401,
            "unauthorized",
        )
        .await;
        let invalid = json!({ "title": "" });
        assert_error(
            app.create_poll_as(&invalid, caller).await,
            401,
            "unauthorized",
        )
        .await;
        assert_error(app.list_polls_as("", caller).await, 401, "unauthorized").await;
    }
    let basic = app
        .request(Method::POST, "/v1/polls", Caller::Anonymous)
        .basic_auth("admin", Some(ADMIN_KEY))
        .json(&a_poll());
    assert_error(send(basic).await, 401, "unauthorized").await;
    assert_eq!(app.all_polls().await, before, "nothing was created");
}

#[tokio::test]
async fn transitions_without_the_admin_key_answer_401_and_change_nothing() {
    // More wrong keys than an address may send (`limits::wrong_admin_keys_...` tests that).
    let mut settings = test_settings();
    settings.limits.limit_wrong_admin_keys = pollcast::config::RateSetting(None);
    let app = spawn_app_with(settings).await;
    let draft = id_of(&app.created_poll(&a_poll()).await);
    let open = app.open_poll(&a_poll()).await;
    let before = app.all_polls().await;

    for caller in NOT_ADMIN {
        for id in [&draft, &open] {
            for event in ["open", "close", "schedule", "archive", "cancel"] {
                let response = app.transition_as(id, event, caller).await;
                assert_error(response, 401, "unauthorized").await;
            }
        }
        let unknown = app.transition_as("Zz9Zz9Zz9Z", "open", caller).await;
        assert_error(unknown, 401, "unauthorized").await;
    }
    assert_eq!(app.all_polls().await, before, "nothing changed");
}

#[tokio::test]
async fn a_limit_out_of_range_or_a_bad_cursor_answers_400() {
    let app = spawn_app().await;
    app.created_poll(&a_poll()).await;
    let before = app.all_polls().await;

    for (query, field) in [
        ("?limit=0", "limit"),
        ("?limit=201", "limit"),
        ("?limit=-1", "limit"),
        ("?limit=many", "limit"),
        ("?cursor=Zz9Zz9Zz9Z", "cursor"),
        ("?cursor=not:a:poll", "cursor"),
        ("?state=sleeping", "state"),
    ] {
        let error = assert_error(app.list_polls(query).await, 400, "invalid_request").await;
        let message = error["message"].as_str().unwrap();
        assert!(message.contains(field), "{query}: {message}");
    }
    for limit in [1, 200] {
        let (status, page) =
            status_and_json(app.list_polls(&format!("?limit={limit}")).await).await;
        assert_eq!(status, 200, "limit={limit}: {page}");
    }
    assert_eq!(app.all_polls().await, before, "nothing changed");
}

#[tokio::test]
async fn the_largest_valid_poll_is_taken_and_an_oversize_body_answers_413_creating_nothing() {
    // Arrange: every text at its longest, in two-byte characters.
    let app = spawn_app().await;
    let long = |n: usize, c: char| std::iter::repeat_n(c, n).collect::<String>();
    let labels: Vec<String> = (0..32)
        .map(|i| format!("{i:02}{}", long(198, 'é')))
        .collect();
    let largest =
        json!({ "title": long(200, 'é'), "description": long(2000, 'é'), "options": labels });
    let oversize = a_poll_with(json!({ "description": "x".repeat(100_000) }));

    // Act
    let (status, created) = status_and_json(app.create_poll(&largest).await).await;
    let before = app.all_polls().await;
    let refused = app.create_poll(&oversize).await;

    // Assert
    assert_eq!(status, 201, "{created}");
    assert_error(refused, 413, "payload_too_large").await;
    assert_eq!(app.all_polls().await, before, "nothing was created");
}

#[tokio::test]
async fn labels_that_differ_only_by_invisible_or_direction_changing_characters_are_refused() {
    let app = spawn_app().await;
    let cases = [
        // A zero-width space makes no visible difference.
        (json!(["a\u{200b}", "a"]), "options[1]", "repeats"),
        // Nor does composing an accent: NFC makes both the same text.
        (json!(["Caf\u{e9}", "Cafe\u{301}"]), "options[1]", "repeats"),
        // A right-to-left override changes how a label reads.
        (json!(["Pizza", "Piz\u{202e}za"]), "options[1]", "direction"),
        (
            json!(["Pizza", "\u{2067}Sushi\u{2069}"]),
            "options[1]",
            "direction",
        ),
    ];
    for (options, field, rule) in cases {
        let response = app
            .create_poll(&a_poll_with(json!({ "options": options })))
            .await;
        assert_invalid(response, field, rule).await;
    }
    assert!(app.all_polls().await.is_empty(), "nothing was created");

    // An invisible character is dropped from what is stored.
    let poll = app
        .created_poll(&a_poll_with(
            json!({ "title": "Lu\u{200b}nch?", "options": ["Pi\u{feff}zza", "Sushi"] }),
        ))
        .await;
    assert_eq!(poll["title"], "Lunch?");
    assert_eq!(poll["options"][0]["label"], "Pizza");
}

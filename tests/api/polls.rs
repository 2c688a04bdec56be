//! `/v1/polls`: create, read and list.

use chrono::Utc;
use serde_json::{json, Value};

use crate::support::app::{
    a_poll, a_poll_with, id_of, in_seconds, spawn_app, status_and_json, time,
};

#[tokio::test]
async fn creating_a_poll_answers_201_with_every_field_and_numbered_options() {
    // Arrange
    let app = spawn_app().await;
    let closes_at = in_seconds(3600);
    let body = json!({
        "title": "  Where shall we eat?  ",
        "description": "Team lunch on Friday",
        "kind": "multi",
        "options": ["Pizza", "Sushi", "Tacos"],
        "max_choices": 2,
        "results_visibility": "on_close",
        "allow_revote": true,
        "access": "invite",
        "closes_at": closes_at,
        "max_voters": 40,
    });
    let before = Utc::now();

    // Act
    let (status, poll) = status_and_json(app.create_poll(&body).await).await;

    // Assert
    assert_eq!(status, 201, "{poll}");
    let id = id_of(&poll);
    assert!(!id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(poll["title"], "Where shall we eat?", "the title is trimmed");
    assert_eq!(poll["description"], "Team lunch on Friday");
    assert_eq!(poll["kind"], "multi");
    assert_eq!(
        poll["options"],
        json!([
            {"id": "o1", "label": "Pizza"},
            {"id": "o2", "label": "Sushi"},
            {"id": "o3", "label": "Tacos"},
        ])
    );
    assert_eq!(poll["max_choices"], 2);
    assert_eq!(poll["results_visibility"], "on_close");
    assert_eq!(poll["allow_revote"], true);
    assert_eq!(poll["access"], "invite");
    assert!(poll["opens_at"].is_null(), "{poll}");
    assert_eq!(time(&poll["closes_at"]), time(&json!(closes_at)));
    assert_eq!(poll["max_voters"], 40);
    assert_eq!(poll["state"], "draft");
    assert_eq!(poll["version"], 1);
    let created_at = time(&poll["created_at"]);
    assert!(before <= created_at && created_at <= Utc::now(), "{poll}");
    assert_eq!(
        app.listed_poll(&id).await,
        poll,
        "the list shows what was created"
    );
}

#[tokio::test]
async fn a_poll_created_with_opens_at_starts_scheduled() {
    let app = spawn_app().await;
    let opens_at = in_seconds(600);

    let poll = app
        .created_poll(&a_poll_with(json!({ "opens_at": opens_at })))
        .await;

    assert_eq!(poll["state"], "scheduled");
    assert_eq!(time(&poll["opens_at"]), time(&json!(opens_at)));
    assert_eq!(poll["version"], 1);
}

#[tokio::test]
async fn fields_left_out_take_their_documented_defaults() {
    let app = spawn_app().await;

    let single = app.created_poll(&a_poll()).await;
    let multi = app
        .created_poll(&a_poll_with(
            json!({ "kind": "multi", "options": ["a", "b", "c"] }),
        ))
        .await;

    assert_eq!(single["kind"], "single");
    assert_eq!(single["results_visibility"], "live");
    assert_eq!(single["allow_revote"], false);
    assert_eq!(single["access"], "open");
    assert!(single["max_choices"].is_null(), "{single}");
    assert!(single["description"].is_null(), "{single}");
    assert!(single["max_voters"].is_null(), "{single}");
    assert!(single["closes_at"].is_null(), "{single}");
    assert_eq!(multi["max_choices"], 3, "a multi poll defaults to pick-any");
}

#[tokio::test]
async fn anyone_reads_the_public_view_without_admin_only_fields() {
    // Arrange
    let app = spawn_app().await;
    let created = app
        .created_poll(&a_poll_with(
            json!({ "max_voters": 10, "description": "d" }),
        ))
        .await;
    let id = id_of(&created);

    // Act
    let (status, public) = status_and_json(app.get_poll(&id).await).await;

    // Assert
    assert_eq!(status, 200, "{public}");
    for hidden in ["max_voters", "version", "created_at"] {
        assert!(public.get(hidden).is_none(), "{hidden} leaks: {public}");
    }
    for shown in [
        "id",
        "title",
        "description",
        "kind",
        "options",
        "results_visibility",
        "allow_revote",
        "access",
        "state",
    ] {
        assert_eq!(public[shown], created[shown], "{shown}");
    }
}

#[tokio::test]
async fn the_list_pages_newest_first_with_limit_and_next_cursor_missing_and_repeating_none() {
    // Arrange: seven polls, created one after the other.
    let app = spawn_app().await;
    let mut created = Vec::new();
    for n in 0..7 {
        let poll = app
            .created_poll(&a_poll_with(json!({ "title": format!("Poll {n}") })))
            .await;
        created.push(id_of(&poll));
    }

    // Act: pages of three.
    let mut pages = Vec::new();
    let mut query = "?limit=3".to_owned();
    loop {
        let (status, page) = status_and_json(app.list_polls(&query).await).await;
        assert_eq!(status, 200, "{page}");
        let ids: Vec<String> = ids_on(&page);
        pages.push(ids);
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("?limit=3&cursor={cursor}"),
            None => break,
        }
        assert!(pages.len() < 10, "the cursor never ends");
    }

    // Assert
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, [3, 3, 1]);
    let listed: Vec<String> = pages.concat();
    let newest_first: Vec<String> = created.iter().rev().cloned().collect();
    assert_eq!(listed, newest_first);
}

#[tokio::test]
async fn the_list_answers_only_polls_in_the_requested_state() {
    let app = spawn_app().await;
    let draft = id_of(&app.created_poll(&a_poll()).await);
    let open = app.open_poll(&a_poll()).await;
    let scheduled = id_of(
        &app.created_poll(&a_poll_with(json!({ "opens_at": in_seconds(600) })))
            .await,
    );

    for (state, expected) in [
        ("draft", vec![draft.clone()]),
        ("open", vec![open.clone()]),
        ("scheduled", vec![scheduled.clone()]),
        ("closed", vec![]),
    ] {
        let (status, page) =
            status_and_json(app.list_polls(&format!("?state={state}")).await).await;
        assert_eq!(status, 200, "{page}");
        let ids: Vec<String> = ids_on(&page);
        assert_eq!(ids, expected, "state={state}");
        assert!(page["next_cursor"].is_null(), "{page}");
    }
}

#[tokio::test]
async fn a_filtered_list_pages_through_every_match_once() {
    let app = spawn_app().await;
    let mut drafts = Vec::new();
    for _ in 0..5 {
        drafts.push(id_of(&app.created_poll(&a_poll()).await));
        app.open_poll(&a_poll()).await;
    }

    let mut listed = Vec::new();
    let mut query = "?state=draft&limit=2".to_owned();
    for _ in 0..10 {
        let (status, page) = status_and_json(app.list_polls(&query).await).await;
        assert_eq!(status, 200, "{page}");
        listed.extend(page["polls"].as_array().unwrap().iter().map(id_of));
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("?state=draft&limit=2&cursor={cursor}"),
            None => break,
        }
    }

    drafts.reverse();
    assert_eq!(listed, drafts);
}

#[tokio::test]
async fn a_filtered_page_that_holds_the_last_matches_has_no_next_cursor() {
    // Arrange: exactly two open polls among others, the oldest of all a draft.
    let app = spawn_app().await;
    app.created_poll(&a_poll()).await;
    let open: Vec<String> = vec![
        app.open_poll(&a_poll()).await,
        app.open_poll(&a_poll()).await,
    ];
    app.created_poll(&a_poll()).await;

    // Act
    let (status, page) = status_and_json(app.list_polls("?state=open&limit=2").await).await;

    // Assert: both, and no promise of a next page that would be empty.
    assert_eq!(status, 200, "{page}");
    let ids: Vec<String> = ids_on(&page);
    assert_eq!(ids, open.into_iter().rev().collect::<Vec<_>>());
    assert!(page["next_cursor"].is_null(), "{page}");
}

/// The ids of the polls on a page of the list, in order.
fn ids_on(page: &Value) -> Vec<String> {
    page["polls"]
        .as_array()
        .expect("polls is a list")
        .iter()
        .map(id_of)
        .collect()
}

//! Events: one join code for a session of polls. The presenter activates three polls in turn;
//! `GET /v1/join/{code}` and the event stream say which one every phone shows; a voter is one
//! voter across the event's polls; bad codes, foreign polls and archived polls are refused.

use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::{Method, Response};
use serde_json::{json, Value};

use crate::support::app::{
    a_poll, assert_error, id_of, send, spawn_app, status_and_json, Caller, TestApp,
};
use crate::support::sse::Events;

impl TestApp {
    /// `POST /v1/events` as `caller`.
    async fn create_event(&self, body: &Value, caller: Caller) -> Response {
        send(self.request(Method::POST, "/v1/events", caller).json(body)).await
    }

    /// `POST /v1/events/{id}/activate` as the admin.
    async fn activate(&self, event: &str, poll: Option<&str>) -> Response {
        let path = format!("/v1/events/{event}/activate");
        send(
            self.request(Method::POST, &path, Caller::Admin)
                .json(&json!({ "poll_id": poll })),
        )
        .await
    }

    /// `GET /v1/join/{code}` (anyone).
    async fn join(&self, code: &str) -> Response {
        self.get(&format!("/v1/join/{code}")).await
    }
}

/// Three draft polls: a single choice, a rating, an open text.
async fn three_polls(app: &TestApp) -> Vec<String> {
    let bodies = [
        a_poll(),
        json!({"title": "How was it?", "kind": "rating", "scale": {"min": 1, "max": 5}}),
        json!({"title": "One word for it", "kind": "open_text"}),
    ];
    let mut ids = Vec::new();
    for body in bodies {
        ids.push(id_of(&app.created_poll(&body).await));
    }
    ids
}

async fn created_event(app: &TestApp, polls: &[String]) -> Value {
    let body = json!({ "title": "Team meeting", "poll_ids": polls });
    let (status, event) = status_and_json(app.create_event(&body, Caller::Admin).await).await;
    assert_eq!(status, 201, "{event}");
    event
}

#[tokio::test]
async fn the_presenter_activates_three_polls_in_turn_and_join_and_the_stream_follow() {
    // Arrange
    let app = spawn_app().await;
    let polls = three_polls(&app).await;
    let event = created_event(&app, &polls).await;
    let (id, code) = (
        event["id"].as_str().unwrap(),
        event["code"].as_str().unwrap(),
    );
    assert_eq!(code.len(), 6);
    assert!(
        code.chars()
            .all(|c| "ABCDEFGHJKMNPQRSTUVWXYZ23456789".contains(c)),
        "{code}"
    );
    assert_eq!(event["join_url"], format!("{}/j/{code}", app.address));
    assert_eq!(
        event["present_url"],
        format!("{}/present/event/{id}", app.address)
    );
    assert_eq!(event["poll_ids"], json!(polls));
    assert_eq!(event["active_poll_id"], Value::Null);
    let mut stream = Events::new(app.get(&format!("/v1/events/{id}/stream")).await);
    let (kind, _, waiting) = stream.next().await;
    assert_eq!(
        (kind.as_str(), &waiting["active_poll_id"]),
        ("active", &Value::Null)
    );
    let (status, joined) = status_and_json(app.join(&code.to_lowercase()).await).await;
    assert_eq!(
        (status, joined["title"].as_str()),
        (200, Some("Team meeting"))
    );
    assert_eq!(
        (&joined["event_id"], &joined["poll"]),
        (&json!(id), &Value::Null)
    );

    for (poll, kind) in polls.iter().zip(["single", "rating", "open_text"]) {
        // Act
        let (status, activated) = status_and_json(app.activate(id, Some(poll)).await).await;

        // Assert: the poll was opened, and every channel names it.
        assert_eq!(
            (status, &activated["active_poll_id"]),
            (200, &json!(poll)),
            "{activated}"
        );
        let (_, _, streamed) = stream.until(|e| e["active_poll_id"] == json!(poll)).await;
        assert_eq!(
            (
                streamed["poll"]["kind"].as_str(),
                streamed["poll"]["state"].as_str()
            ),
            (Some(kind), Some("open"))
        );
        let (_, joined) = status_and_json(app.join(code).await).await;
        assert_eq!(joined["active_poll_id"], json!(poll));
        assert_eq!(joined["poll"]["id"], json!(poll));
        assert_eq!(joined["poll"]["title"], streamed["poll"]["title"]);
    }

    // Act: between questions.
    app.activate(id, None).await;

    // Assert
    let (_, _, waiting) = stream.until(|e| e["active_poll_id"].is_null()).await;
    assert_eq!(waiting["poll"], Value::Null);
    let (status, admin) = status_and_json(app.get_event(id).await).await;
    assert_eq!((status, &admin["active_poll_id"]), (200, &Value::Null));
    let (status, listed) = app.admin_call(Method::GET, "/v1/events").await;
    assert_eq!((status, &listed[0]["id"]), (200, &json!(id)), "{listed}");
}

impl TestApp {
    async fn get_event(&self, id: &str) -> Response {
        send(self.request(Method::GET, &format!("/v1/events/{id}"), Caller::Admin)).await
    }
}

/// `POST /v1/events/{id}/tokens` for `poll`, sending `cookie` when given; returns the voter id
/// and the cookie to send next.
async fn event_token(
    app: &TestApp,
    event: &str,
    poll: &str,
    cookie: Option<&str>,
) -> (String, String) {
    let path = format!("/v1/events/{event}/tokens");
    let mut request = app
        .request(Method::POST, &path, Caller::Anonymous)
        .json(&json!({ "poll_id": poll }));
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, cookie);
    }
    let response = send(request).await;
    let set = response
        .headers()
        .get(SET_COOKIE)
        .map(|v| v.to_str().unwrap().to_owned());
    let (status, token) = status_and_json(response).await;
    assert_eq!(status, 201, "{token}");
    let set = set.expect("the event cookie is set");
    assert!(set.contains(&format!("Path=/v1/events/{event}")), "{set}");
    (
        token["voter_id"].as_str().unwrap().to_owned(),
        set.split(';').next().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn a_voter_is_one_voter_across_the_polls_of_an_event() {
    // Arrange
    let app = spawn_app().await;
    let polls = three_polls(&app).await;
    let event = created_event(&app, &polls).await;
    let id = event["id"].as_str().unwrap();
    for poll in &polls {
        app.activate(id, Some(poll)).await;
    }

    // Act
    let (first, cookie) = event_token(&app, id, &polls[0], None).await;
    let (second, _) = event_token(&app, id, &polls[1], Some(&cookie)).await;
    let (third, _) = event_token(&app, id, &polls[2], Some(&cookie)).await;
    let (stranger, _) = event_token(&app, id, &polls[1], None).await;

    // Assert
    assert_eq!((&first, &second), (&first, &first));
    assert_eq!(third, first);
    assert_ne!(stranger, first);
    let other = app.open_poll(&a_poll()).await;
    let path = format!("/v1/events/{id}/tokens");
    let refused = send(
        app.request(Method::POST, &path, Caller::Anonymous)
            .json(&json!({ "poll_id": other })),
    )
    .await;
    assert_error(refused, 409, "not_in_event").await;
}

#[tokio::test]
async fn unknown_codes_foreign_polls_and_archived_polls_are_refused() {
    // Arrange
    let app = spawn_app().await;
    let polls = three_polls(&app).await;
    let event = created_event(&app, &polls[..2]).await;
    let id = event["id"].as_str().unwrap();
    let archived = app.open_poll(&a_poll()).await;
    app.transition(&archived, "close").await;
    app.transition(&archived, "archive").await;

    // Act and assert: codes that name no live event, whether well-formed or not.
    for code in ["ZZZZZZ", "abc", "0OIL10"] {
        let body = assert_error(app.join(code).await, 404, "not_found").await;
        assert_eq!(
            body["message"],
            "no event has this join code; check the code"
        );
    }
    // A poll of another event, a poll that does not exist.
    assert_error(app.activate(id, Some(&polls[2])).await, 409, "not_in_event").await;
    assert_error(app.activate(id, Some("nope")).await, 409, "not_in_event").await;
    // An archived poll, in a new event or added to this one.
    let with_archived = json!({ "title": "Old", "poll_ids": [archived] });
    assert_error(
        app.create_event(&with_archived, Caller::Admin).await,
        409,
        "poll_archived",
    )
    .await;
    let path = format!("/v1/events/{id}/polls");
    let put = send(
        app.request(Method::PUT, &path, Caller::Admin)
            .json(&json!({ "poll_ids": [polls[0], archived] })),
    )
    .await;
    assert_error(put, 409, "poll_archived").await;
    let missing = json!({ "title": "Ghost", "poll_ids": ["Nope123"] });
    assert_error(
        app.create_event(&missing, Caller::Admin).await,
        404,
        "not_found",
    )
    .await;
    let blank = json!({ "title": " ", "poll_ids": [] });
    assert_error(
        app.create_event(&blank, Caller::Admin).await,
        400,
        "invalid_request",
    )
    .await;
    // Admins only.
    assert_error(
        app.create_event(&json!({ "title": "x" }), Caller::Anonymous)
            .await,
        401,
        "unauthorized",
    )
    .await;
    assert_error(
        send(app.request(Method::GET, &format!("/v1/events/{id}"), Caller::Anonymous)).await,
        401,
        "unauthorized",
    )
    .await;

    // Nothing changed.
    let (_, unchanged) = status_and_json(app.get_event(id).await).await;
    assert_eq!(
        (unchanged["version"].as_u64(), &unchanged["active_poll_id"]),
        (Some(1), &Value::Null)
    );
    // Reordering and removing keep what is active when it stays.
    app.activate(id, Some(&polls[1])).await;
    let put = send(
        app.request(Method::PUT, &path, Caller::Admin)
            .json(&json!({ "poll_ids": [polls[1], polls[2]] })),
    )
    .await;
    let (status, reordered) = status_and_json(put).await;
    assert_eq!(
        (status, &reordered["active_poll_id"]),
        (200, &json!(polls[1]))
    );
    assert_eq!(reordered["poll_ids"], json!([polls[1], polls[2]]));
}

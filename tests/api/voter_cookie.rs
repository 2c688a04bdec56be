//! One browser, one voter on open polls: the token endpoint keeps an anonymous voter's id in a
//! signed, HttpOnly cookie scoped to the poll, so the same browser gets the same voter again.

use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::{Method, Response};
use serde_json::{json, Value};

use crate::support::app::{a_poll, a_poll_with, spawn_app, status_and_json, Caller, TestApp};
use crate::support::ballot::vote_with_ref;

/// `POST /v1/polls/{id}/tokens` anonymously, sending `cookie` when given.
async fn token_with_cookie(app: &TestApp, id: &str, cookie: Option<&str>) -> Response {
    let mut request = app.request(
        Method::POST,
        &format!("/v1/polls/{id}/tokens"),
        Caller::Anonymous,
    );
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, cookie);
    }
    request.send().await.expect("request sent")
}

/// The `Set-Cookie` header of `response`, if any.
fn set_cookie(response: &Response) -> Option<String> {
    response
        .headers()
        .get(SET_COOKIE)
        .map(|v| v.to_str().unwrap().to_owned())
}

/// `name=value` of a `Set-Cookie` header, as a browser sends it back.
fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().trim().to_owned()
}

async fn voter_of(response: Response) -> String {
    let (status, token): (u16, Value) = status_and_json(response).await;
    assert_eq!(status, 201, "{token}");
    token["voter_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_anonymous_token_sets_a_signed_httponly_cookie_scoped_to_the_poll() {
    // Arrange
    let app = spawn_app().await;
    let id = app.open_poll(&a_poll()).await;

    // Act
    let response = token_with_cookie(&app, &id, None).await;

    // Assert
    let header = set_cookie(&response).expect("a cookie is set");
    let voter = voter_of(response).await;
    assert!(header.starts_with("pollcast_voter="), "{header}");
    assert!(header.contains("HttpOnly"), "{header}");
    assert!(header.contains("SameSite=Lax"), "{header}");
    assert!(header.contains(&format!("Path=/v1/polls/{id}")), "{header}");
    assert!(
        header.contains("Max-Age=604800"),
        "7 days embedded: {header}"
    );
    assert!(!header.contains("Secure"), "plain http here: {header}");
    let unsigned = format!("pollcast_voter={id}%3A{voter}");
    assert!(
        pair(&header).ends_with(&unsigned["pollcast_voter=".len()..]) && pair(&header) != unsigned,
        "the token id, signed: {header}"
    );
}

#[tokio::test]
async fn the_cookie_brings_back_the_same_voter_and_its_ballot() {
    // Arrange
    let app = spawn_app().await;
    let id = app.open_poll(&a_poll()).await;
    let first = token_with_cookie(&app, &id, None).await;
    let cookie = pair(&set_cookie(&first).unwrap());
    let (_, first_token) = status_and_json(first).await;
    app.publish_http(&first_token, &vote_with_ref(&id, &["o1"], "r-1"))
        .await;
    app.ballot_once(&id, &first_token, "counted").await;

    // Act: a reload, or a second tab, of the same browser.
    let (status, second_token) =
        status_and_json(token_with_cookie(&app, &id, Some(&cookie)).await).await;
    let without_cookie = voter_of(token_with_cookie(&app, &id, None).await).await;

    // Assert
    assert_eq!(status, 201);
    assert_eq!(second_token["voter_id"], first_token["voter_id"]);
    assert_ne!(first_token["token"], second_token["token"], "a fresh token");
    let ballot = app.ballot(&id, &second_token).await;
    assert_eq!(ballot["status"], "counted", "the same ballot: {ballot}");
    assert_ne!(json!(without_cookie), first_token["voter_id"]);
    app.publish_http(&second_token, &vote_with_ref(&id, &["o2"], "r-2"))
        .await;
    let refused = app.ballot_once(&id, &second_token, "rejected").await;
    assert_eq!(
        refused["last_attempt"]["reason"], "already_voted",
        "{refused}"
    );
    assert_eq!(
        refused["status"], "counted",
        "the first ballot still counts: {refused}"
    );
    assert_eq!(app.results_with(&id, 1).await["counts"]["o2"], 0);
}

#[tokio::test]
async fn a_forged_cookie_or_one_of_another_poll_makes_a_new_voter() {
    // Arrange
    let app = spawn_app().await;
    let id = app.open_poll(&a_poll()).await;
    let other = app.open_poll(&a_poll()).await;
    let response = token_with_cookie(&app, &id, None).await;
    let cookie = pair(&set_cookie(&response).unwrap());
    let voter = voter_of(response).await;
    let (name, value) = cookie.split_once('=').unwrap();
    let forged_voter = format!("{name}={}", value.replace(&voter[..4], "AAAA"));
    let unsigned = format!("{name}={id}%3A{voter}");

    // Act
    let forged = voter_of(token_with_cookie(&app, &id, Some(&forged_voter)).await).await;
    let plain = voter_of(token_with_cookie(&app, &id, Some(&unsigned)).await).await;
    let elsewhere = voter_of(token_with_cookie(&app, &other, Some(&cookie)).await).await;

    // Assert
    for new in [&forged, &plain, &elsewhere] {
        assert_ne!(new, &voter);
    }
}

#[tokio::test]
async fn admins_and_invite_polls_get_no_cookie() {
    // Arrange
    let app = spawn_app().await;
    let open = app.open_poll(&a_poll()).await;
    let invite = app
        .open_poll(&a_poll_with(json!({ "access": "invite" })))
        .await;

    // Act
    let admin = app.mint_token(&open, None, Caller::Admin).await;
    let invited = app
        .mint_token(
            &invite,
            Some(&json!({ "voter_id": "alice" })),
            Caller::Admin,
        )
        .await;

    // Assert
    assert_eq!(admin.status(), 201);
    assert_eq!(set_cookie(&admin), None);
    assert_eq!(invited.status(), 201);
    assert_eq!(set_cookie(&invited), None);
}

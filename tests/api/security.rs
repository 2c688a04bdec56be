//! Security cases that had no test of their own (`docs/SECURITY.md` lists every case and the
//! test that shows it): tokens forged, from another server, in both places or used by a
//! second person; a voter token calling the cache; and secrets kept out of logs at `trace`,
//! out of error bodies and out of `Debug`.

use base64::Engine;
use momento::MomentoErrorCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use secrecy::SecretString;
use serde_json::{json, Value};

use crate::support::app::{
    a_poll, a_poll_with, assert_error, send, spawn_app, test_settings, Caller, TestApp, ADMIN_KEY,
};
use crate::support::ballot::vote_with_ref;
use crate::support::process::{self, Server};

/// The raw key (a JWT) inside a minted token.
fn raw_key(token: &Value) -> String {
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(token["token"].as_str().unwrap())
        .unwrap();
    let key: Value = serde_json::from_slice(&decoded).unwrap();
    key["api_key"].as_str().unwrap().to_owned()
}

/// `POST /topics/pollcast/votes` on the app's port with `authorization` (header) and `query`.
async fn publish_raw(
    app: &TestApp,
    authorization: Option<&str>,
    query: Option<&str>,
) -> reqwest::Response {
    let mut request = app
        .http
        .post(format!("{}/topics/pollcast/votes", app.address))
        .header(CONTENT_TYPE, "text/plain")
        .body("{}");
    if let Some(key) = authorization {
        request = request.header(AUTHORIZATION, key);
    }
    if let Some(token) = query {
        request = request.query(&[("token", token)]);
    }
    send(request).await
}

#[tokio::test]
async fn forged_tokens_and_tokens_of_another_server_are_refused_on_every_voter_endpoint() {
    // Arrange
    let app = spawn_app().await;
    let elsewhere = spawn_app().await;
    let id = app.open_poll(&a_poll()).await;
    let genuine = raw_key(&app.minted_token(&id).await);
    // Same claims, another signature: one character of the signature changed.
    let mut forged = genuine.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    let other_id = elsewhere.open_poll(&a_poll()).await;
    let foreign = raw_key(&elsewhere.minted_token(&other_id).await);

    // Act and Assert
    for (what, key) in [("forged", &forged), ("another server's", &foreign)] {
        let published = publish_raw(&app, Some(key), None).await;
        assert_error(published, 401, "unauthenticated").await;
        let ballot = app.ballot_as(&id, key).await;
        assert_eq!(
            ballot.status(),
            401,
            "{what} token opened the ballot status"
        );
    }
    assert_eq!(publish_raw(&app, Some(&genuine), None).await.status(), 204);
}

#[tokio::test]
async fn a_token_in_both_the_header_and_the_query_is_refused_and_publishes_nothing() {
    // Arrange
    let app = spawn_app().await;
    let id = app.open_poll(&a_poll()).await;
    let key = raw_key(&app.minted_token(&id).await);

    // Act
    let both = publish_raw(&app, Some(&key), Some(&key)).await;

    // Assert
    assert_error(both, 400, "invalid_argument").await;
    assert_eq!(app.metrics().await.handled(), 0);
}

#[tokio::test]
async fn a_voter_token_cannot_read_or_write_the_cache() {
    // Arrange
    let app = spawn_app().await;
    let id = app.open_poll(&a_poll()).await;
    let token = app.minted_token(&id).await;
    let cache = app.voter_cache(token["token"].as_str().unwrap());

    // Act
    let read = cache.get("pollcast", format!("poll:{id}")).await.err();
    let write = cache
        .set("pollcast", format!("poll:{id}"), "{}")
        .await
        .err();

    // Assert
    for (what, error) in [("read", read), ("write", write)] {
        let error = error.unwrap_or_else(|| panic!("a voter token could {what} the cache"));
        assert_eq!(
            error.error_code,
            MomentoErrorCode::PermissionError,
            "{what}: {error:?}"
        );
    }
    assert_eq!(app.get_poll(&id).await.status(), 200, "the poll is intact");
}

#[tokio::test]
async fn an_invite_token_used_by_a_second_person_still_counts_one_ballot() {
    // Arrange
    let app = spawn_app().await;
    let id = app
        .open_poll(&a_poll_with(json!({ "access": "invite" })))
        .await;
    let body = json!({ "voter_id": "alice" });
    let response = app.mint_token(&id, Some(&body), Caller::Admin).await;
    let token: Value = response.json().await.unwrap();

    // Act: alice votes, then someone she forwarded her link to votes with it too.
    app.publish_http(&token, &vote_with_ref(&id, &["o1"], "alice"))
        .await;
    app.ballot_once(&id, &token, "counted").await;
    app.publish_http(&token, &vote_with_ref(&id, &["o2"], "forwarded"))
        .await;
    let ballot = app.ballot_once(&id, &token, "rejected").await;

    // Assert
    assert_eq!(
        ballot["last_attempt"]["reason"], "already_voted",
        "{ballot}"
    );
    let results = app.results_with(&id, 1).await;
    assert_eq!(results["counts"], json!({ "o1": 1, "o2": 0 }), "{results}");
}

#[tokio::test]
async fn secrets_stay_out_of_error_bodies() {
    // Arrange
    let app = spawn_app().await;
    let id = app.open_poll(&a_poll()).await;
    let key = raw_key(&app.minted_token(&id).await);
    let guess = "guessed-admin-key-that-is-wrong-0123";

    // Act
    let wrong_admin = send(
        app.request(reqwest::Method::GET, "/v1/polls", Caller::Anonymous)
            .bearer_auth(guess),
    )
    .await;
    let both = publish_raw(&app, Some(&key), Some(&key)).await;
    let bad_signature = app
        .post_webhook(b"{}".to_vec(), Some("deadbeefdeadbeefdeadbeef"))
        .await;

    // Assert
    for response in [wrong_admin, both, bad_signature] {
        let body = response.text().await.unwrap();
        for secret in [guess, key.as_str(), "deadbeefdeadbeefdeadbeef", ADMIN_KEY] {
            assert!(
                !body.contains(secret),
                "an error body repeats a secret: {body}"
            );
        }
    }
}

#[test]
fn debug_output_of_the_settings_redacts_every_secret() {
    let secrets = [
        "admin-key-in-debug-0123456789",
        "whsec_in_debug_0123456789",
        "cookie-secret-in-debug-0123",
        "momento-api-key-in-debug-0123",
    ];
    let settings = pollcast::config::ServeArgs {
        admin_key: Some(SecretString::from(secrets[0])),
        webhook_secret: Some(SecretString::from(secrets[1])),
        voter_cookie_secret: Some(SecretString::from(secrets[2])),
        momento_api_key: Some(SecretString::from(secrets[3])),
        ..test_settings()
    };
    let debug = format!("{settings:?} {settings:#?}");
    for secret in secrets {
        assert!(!debug.contains(secret), "Debug shows {secret}");
    }
}

#[tokio::test]
async fn secrets_never_reach_the_logs_even_at_trace_level() {
    // Arrange: the binary at RUST_LOG=trace, every secret known to the test.
    let work = tempfile::tempdir().unwrap();
    let log = work.path().join("pollcast.log");
    let webhook_secret = "whsec_trace_secret_0123456789abcdef";
    let cookie_secret = "cookie-trace-secret-0123456789abcdef";
    let flags = vec![
        "--in-memory".into(),
        format!("--webhook-secret={webhook_secret}").into(),
        format!("--voter-cookie-secret={cookie_secret}").into(),
    ];
    let server =
        Server::start_with("127.0.0.1:0", &log, flags, &[("RUST_LOG", "trace".into())]).await;
    let http = reqwest::Client::new();
    let base = server.base.clone();

    // Act: everything that handles a secret.
    let poll = process::create(
        &http,
        &base,
        json!({ "title": "Trace?", "options": ["A", "B"] }),
    )
    .await;
    process::open(&http, &base, &poll).await;
    let token = process::token(&http, &base, &poll).await;
    let raw = raw_key(&token);
    let vote = json!({ "poll_id": poll.id, "choices": ["o1"] }).to_string();
    let published = http
        .post(format!("{base}/topics/pollcast/votes"))
        .header(AUTHORIZATION, token["token"].as_str().unwrap())
        .header(CONTENT_TYPE, "text/plain")
        .body(vote)
        .send()
        .await
        .unwrap();
    assert_eq!(published.status(), 204);
    let wrong = "wrong-admin-key-in-the-trace-0123";
    let ballot = http
        .get(format!("{base}/v1/polls/{}/ballot", poll.id))
        .header(AUTHORIZATION, &raw)
        .send()
        .await
        .unwrap();
    assert_eq!(ballot.status(), 200);
    let refused = http
        .get(format!("{base}/v1/polls"))
        .bearer_auth(wrong)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    server.kill();

    // Assert
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("DEBUG"),
        "the run logged below info: {logged:.2000}"
    );
    let token_text = token["token"].as_str().unwrap();
    for (what, secret) in [
        ("the admin key", process::ADMIN_KEY),
        ("a wrong admin key", wrong),
        ("the webhook secret", webhook_secret),
        ("the cookie secret", cookie_secret),
        ("the voter token", token_text),
        ("the voter token's key", raw.as_str()),
    ] {
        assert!(!logged.contains(secret), "{what} is in the trace log");
    }
}

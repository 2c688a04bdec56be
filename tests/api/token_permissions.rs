//! Voter tokens are real Momento tokens: through the official `momento` crate (and Momento's
//! HTTP topics API on the app's port) they publish votes carrying their `token_id`, hear their
//! own poll's results, and are refused everything else, and everything once expired.

use std::time::Duration;

use base64::Engine as _;
use chrono::Utc;
use momento::MomentoErrorCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};

use crate::support::app::{a_poll, send, spawn_app, spawn_app_with, test_settings, time};
use crate::support::sdk::{next_value, text};

#[tokio::test]
async fn a_token_publishes_votes_and_hears_its_own_polls_results_and_nothing_more() {
    // Arrange
    let app = spawn_app().await;
    let id = app.open_poll(&a_poll()).await;
    let other = app.open_poll(&a_poll()).await;
    let token = app.minted_token(&id).await;
    let voter = app.voter_topics(token["token"].as_str().unwrap());
    let operator = app.operator_topics();
    let results = format!("results.{id}");

    // Act and Assert: what the token may do.
    voter
        .publish("pollcast", "votes", r#"{"poll_id":"x","choices":["o1"]}"#)
        .await
        .expect("a token publishes on votes");
    let mut subscription = voter
        .subscribe("pollcast", results.clone())
        .await
        .expect("a token subscribes to its poll's results");
    operator
        .publish("pollcast", results.clone(), "live results")
        .await
        .expect("the operator publishes results");
    assert_eq!(text(&next_value(&mut subscription).await), "live results");

    // What it may not.
    let refusals = [
        (
            "publish on its results",
            voter.publish("pollcast", results.clone(), "x").await.err(),
        ),
        (
            "publish on another topic",
            voter.publish("pollcast", "votes2", "x").await.err(),
        ),
        (
            "publish in another cache",
            voter.publish("other", "votes", "x").await.err(),
        ),
        (
            "subscribe to another poll's results",
            voter
                .subscribe("pollcast", format!("results.{other}"))
                .await
                .err(),
        ),
        (
            "subscribe to votes",
            voter.subscribe("pollcast", "votes").await.err(),
        ),
    ];
    for (what, error) in refusals {
        let error = error.unwrap_or_else(|| panic!("{what} was allowed"));
        assert_eq!(
            error.error_code,
            MomentoErrorCode::PermissionError,
            "{what}: {error:?}"
        );
    }
}

#[tokio::test]
async fn a_vote_published_with_a_token_carries_the_token_id_to_subscribers() {
    // Arrange
    let app = spawn_app().await;
    let id = app.open_poll(&a_poll()).await;
    let token = app.minted_token(&id).await;
    let mut votes = app
        .operator_topics()
        .subscribe("pollcast", "votes")
        .await
        .expect("the operator subscribes to votes");
    let vote = format!(r#"{{"poll_id":"{id}","choices":["o1"]}}"#);

    // Act
    app.voter_topics(token["token"].as_str().unwrap())
        .publish("pollcast", "votes", vote.clone())
        .await
        .expect("the vote is published");

    // Assert
    let received = next_value(&mut votes).await;
    assert_eq!(text(&received), vote);
    assert_eq!(received.publisher_id, token["token_id"].as_str().unwrap());
}

#[tokio::test]
async fn a_token_is_refused_once_it_has_expired() {
    // Arrange: tokens that live two seconds.
    let mut settings = test_settings();
    settings.token_ttl = Duration::from_secs(2);
    let app = spawn_app_with(settings).await;
    let id = app.open_poll(&a_poll()).await;
    let token = app.minted_token(&id).await;
    let expires_at = time(&token["expires_at"]);
    let voter = app.voter_topics(token["token"].as_str().unwrap());
    voter
        .publish("pollcast", "votes", "while valid")
        .await
        .expect("a fresh token publishes");

    // Act: publish until refused (or give up well after the expiry).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let error = loop {
        match voter.publish("pollcast", "votes", "after expiry").await {
            Err(error) => break error,
            Ok(_) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            Ok(_) => panic!("the token still works long after {expires_at}"),
        }
    };

    // Assert
    assert_eq!(
        error.error_code,
        MomentoErrorCode::AuthenticationError,
        "{error:?}"
    );
    assert!(
        Utc::now() >= expires_at,
        "refused before its expiry: {error:?}"
    );
    let subscribe = voter.subscribe("pollcast", format!("results.{id}")).await;
    let error = subscribe.err().expect("an expired token cannot subscribe");
    assert_eq!(
        error.error_code,
        MomentoErrorCode::AuthenticationError,
        "{error:?}"
    );
}

#[tokio::test]
async fn the_http_topics_api_on_the_apps_port_takes_votes_and_refuses_results() {
    // Arrange
    let app = spawn_app().await;
    let id = app.open_poll(&a_poll()).await;
    let token = app.minted_token(&id).await;
    let mut votes = app
        .operator_topics()
        .subscribe("pollcast", "votes")
        .await
        .expect("the operator subscribes to votes");
    let post = |topic: String| {
        app.http
            .post(format!(
                "{}/topics/{}/{topic}",
                token["http_endpoint"].as_str().unwrap(),
                token["cache"].as_str().unwrap()
            ))
            .header(AUTHORIZATION, token["token"].as_str().unwrap())
            .header(CONTENT_TYPE, "text/plain")
            .body(format!(r#"{{"poll_id":"{id}","choices":["o2"]}}"#))
    };

    // Act
    let vote = send(post(token["votes_topic"].as_str().unwrap().to_owned())).await;
    let results = send(post(token["results_topic"].as_str().unwrap().to_owned())).await;

    // Assert
    assert_eq!(vote.status(), 204);
    assert_eq!(results.status(), 403);
    let received = next_value(&mut votes).await;
    assert_eq!(received.publisher_id, token["token_id"].as_str().unwrap());
}

#[tokio::test]
async fn an_sdk_reaches_the_embedded_momento_at_the_endpoint_a_token_names() {
    // Arrange: pollcast behind a public name, its gRPC for SDKs on a port of its own.
    let mut settings = test_settings();
    settings.public_url = Some("http://localhost:1".into());
    settings.grpc_listen = Some("127.0.0.1:0".parse().unwrap());
    let app = spawn_app_with(settings).await;
    let id = app.open_poll(&a_poll()).await;
    let token = app.minted_token(&id).await;
    let secret = token["token"].as_str().unwrap();

    // Act: an app reads the endpoint out of the token, as the SDKs do, and publishes a vote
    // there (plaintext: an endpoint override, as against any local Momento).
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE
            .decode(secret)
            .expect("a token is URL-safe base64"),
    )
    .expect("a token is JSON");
    let endpoint = claims["endpoint"]
        .as_str()
        .expect("a token names its endpoint");
    let credentials = momento::CredentialProvider::from_disposable_token(secret)
        .expect("a minted token is an SDK auth token")
        .full_endpoint_override(&format!("http://{endpoint}"));
    crate::support::sdk::topic_client(credentials)
        .publish(
            "pollcast",
            token["votes_topic"].as_str().unwrap(),
            format!(r#"{{"poll_id":"{id}","choices":["o1"]}}"#),
        )
        .await
        .expect("the SDK publishes at the token's endpoint");

    // Assert: the endpoint is the public host with the gRPC port, and the vote counts.
    let grpc_port = app
        .momento_grpc
        .as_deref()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap();
    assert_eq!(endpoint, format!("localhost:{grpc_port}"), "{claims}");
    assert_eq!(app.results_with(&id, 1).await["ballots"], 1);
}

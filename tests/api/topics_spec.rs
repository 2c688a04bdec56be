//! Momento's HTTP topics API, which voters publish to, is described in the spec (its own tag)
//! so Swagger UI shows how a vote is sent; and the voter endpoints work the same against a
//! Momento that is not embedded (here a separate local Momento standing in for the service).

use local_momento::{LocalMomento, LocalMomentoConfig};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use secrecy::{ExposeSecret, SecretString};

use crate::support::app::{a_poll, assert_error, spawn_app_with, test_settings};
use crate::support::ballot::vote_with_ref;

#[test]
fn the_spec_shows_how_a_vote_is_sent() {
    let spec: serde_yaml::Value = serde_yaml::from_str(&pollcast::api::spec_yaml()).unwrap();
    let tags: Vec<&str> = spec["tags"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(tags.contains(&"Momento topics"), "{tags:?}");
    let publish = &spec["paths"]["/topics/{cache}/{topic}"]["post"];
    assert_eq!(publish["tags"][0], "Momento topics");
    assert!(publish["requestBody"]["content"]["text/plain; charset=utf-8"].is_mapping());
    assert!(publish["responses"]["204"].is_mapping());
    assert!(
        publish["security"][0]["VoterToken"].is_sequence(),
        "{publish:?}"
    );
    let scheme = &spec["components"]["securitySchemes"]["VoterToken"];
    assert_eq!(scheme["type"], "apiKey");
    assert_eq!(scheme["name"], "Authorization");
    assert_eq!(scheme["in"], "header");
    assert!(spec["paths"]["/v1/polls/{id}/ballot"]["get"].is_mapping());
}

#[tokio::test]
async fn against_a_momento_elsewhere_the_topics_api_is_at_the_tokens_endpoint() {
    // Arrange: pollcast with a Momento of its own, as with Momento's service.
    let momento = LocalMomento::start(LocalMomentoConfig::default())
        .await
        .expect("the local Momento starts");
    momento.ensure_cache("pollcast").await.expect("the cache");
    let mut settings = test_settings();
    settings.momento_api_key = Some(SecretString::from(
        momento.super_user_key().expose_secret().to_owned(),
    ));
    settings.momento_endpoint = Some("localhost".into());
    settings.momento_endpoint_override = Some(momento.grpc_endpoint());
    let app = spawn_app_with(settings).await;
    let id = app.open_poll(&a_poll()).await;
    let token = app.minted_token(&id).await;

    // Act
    let here = app
        .http
        .post(format!("{}/topics/pollcast/votes", app.address))
        .header(AUTHORIZATION, token["token"].as_str().unwrap())
        .header(CONTENT_TYPE, "text/plain")
        .body(vote_with_ref(&id, &["o1"], "r-1"))
        .send()
        .await
        .unwrap();

    // Assert
    let endpoint = token["http_endpoint"].as_str().unwrap();
    assert_ne!(endpoint, app.address, "{token}");
    let body = assert_error(here, 404, "not_found").await;
    assert!(
        body["message"].as_str().unwrap().contains(endpoint),
        "{body}"
    );
    let ballot = app.ballot(&id, &token).await;
    assert_eq!(
        ballot["status"], "pending",
        "the registry needs no embedded Momento"
    );
}

//! The same code against Momento's service: runs only with `--ignored` and credentials, e.g.
//! `MOMENTO_API_KEY=... MOMENTO_ENDPOINT=... cargo test --test api -- --ignored service`.

use std::time::Duration;

use momento::cache::configurations;
use momento::{CacheClient, CredentialProvider};
use rand::Rng;
use secrecy::SecretString;

use crate::support::app::{a_poll, spawn_app_with, status_and_json, test_settings, within};
use crate::support::sdk::{next_value, text, topic_client};

#[tokio::test]
#[ignore = "needs MOMENTO_API_KEY and MOMENTO_ENDPOINT: runs against Momento's service"]
async fn service_a_poll_runs_end_to_end_against_momentos_service() {
    let (Ok(api_key), Ok(endpoint)) = (
        std::env::var("MOMENTO_API_KEY"),
        std::env::var("MOMENTO_ENDPOINT"),
    ) else {
        eprintln!("skipped: set MOMENTO_API_KEY and MOMENTO_ENDPOINT to run against Momento");
        return;
    };

    // Arrange: a cache of its own, and records short-lived within the service's TTL limit.
    let cache = format!("pollcast-test-{:08x}", rand::rng().random::<u32>());
    let mut settings = test_settings();
    settings.momento_api_key = Some(SecretString::from(api_key.clone()));
    settings.momento_endpoint = Some(endpoint.clone());
    settings.cache = cache.clone();
    settings.record_ttl = Some(Duration::from_secs(3600));
    let app = spawn_app_with(settings).await;
    let operator = CredentialProvider::from_api_key_v2(&api_key, &endpoint)
        .expect("MOMENTO_API_KEY is a v2 API key");

    // Act: create, open, take a token, vote with the SDK, close.
    let id = app.open_poll(&a_poll()).await;
    let token = app.minted_token(&id).await;
    let mut votes = topic_client(operator.clone())
        .subscribe(cache.clone(), "votes")
        .await
        .expect("the operator subscribes to votes");
    let voter = CredentialProvider::from_disposable_token(token["token"].as_str().unwrap())
        .expect("a minted token is an SDK auth token");
    let vote = format!(r#"{{"poll_id":"{id}","choices":["o1"]}}"#);
    within(
        30,
        "the vote to publish",
        topic_client(voter).publish(cache.clone(), "votes", vote.clone()),
    )
    .await
    .expect("the token publishes on votes");
    let received = next_value(&mut votes).await;
    let (status, closed) = status_and_json(app.transition(&id, "close").await).await;

    // Assert
    assert_eq!(text(&received), vote);
    assert_eq!(received.publisher_id, token["token_id"].as_str().unwrap());
    assert_eq!(status, 200, "{closed}");
    assert_eq!(closed["state"], "closed");

    // Clean up the test's cache.
    drop(app);
    let client = CacheClient::builder()
        .default_ttl(Duration::from_secs(60))
        .configuration(configurations::Laptop::latest())
        .credential_provider(operator)
        .build()
        .expect("a cache client builds");
    client
        .delete_cache(cache)
        .await
        .expect("the test cache is deleted");
}

//! The subscription ingest resumes where it stopped: votes published while pollcast was down
//! are read when it comes back, and what the topic no longer holds is counted as lost, not
//! passed over in silence. pollcast runs against a local Momento of its own (as against
//! Momento's service), so it can be stopped while voters keep publishing.

use local_momento::{LocalMomento, LocalMomentoConfig};
use pollcast::config::{IngestMode, ServeArgs};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::support::app::{a_poll, spawn_app_with, test_settings, TestApp};
use crate::support::voting::vote;

/// pollcast against `momento` with subscription ingest only.
fn settings(momento: &LocalMomento) -> ServeArgs {
    let mut settings = test_settings();
    settings.momento_api_key = Some(SecretString::from(
        momento.super_user_key().expose_secret().to_owned(),
    ));
    settings.momento_endpoint = Some("localhost".into());
    settings.momento_endpoint_override = Some(momento.grpc_endpoint());
    settings.ingest = Some(IngestMode::Subscription);
    settings
}

async fn shared_momento(topic_history: usize) -> LocalMomento {
    let momento = LocalMomento::start(LocalMomentoConfig {
        topic_history,
        ..LocalMomentoConfig::default()
    })
    .await
    .expect("the local Momento starts");
    momento.ensure_cache("pollcast").await.expect("the cache");
    momento
}

/// Publishes voter `i`'s vote (option 1 or 2 by parity) with its token, through the SDK.
async fn publish(app: &TestApp, poll: &str, options: &[String], token: &Value, i: usize) {
    let choice = options[i % 2].as_str();
    let topic = token["votes_topic"].as_str().unwrap();
    app.voter_topics(token["token"].as_str().unwrap())
        .publish("pollcast", topic, vote(poll, &[choice]))
        .await
        .expect("the voter publishes");
}

async fn ballots(app: &TestApp, poll: &str, expected: u64) -> Value {
    app.results_with(poll, expected).await
}

/// pollcast against `momento`: an open poll, `voters` tokens, the first `before` of them vote
/// and are counted; then pollcast stops (gracefully: the position is saved). Returns the poll,
/// its option ids and the tokens.
async fn vote_then_stop(
    momento: &LocalMomento,
    voters: usize,
    before: usize,
) -> (String, Vec<String>, Vec<Value>) {
    let app = spawn_app_with(settings(momento)).await;
    app.ingest_ready(IngestMode::Subscription).await;
    let poll = app.created_poll(&a_poll()).await;
    let id = poll["id"].as_str().unwrap().to_owned();
    app.transition(&id, "open").await;
    let options: Vec<String> = poll["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect();
    let mut tokens = Vec::new();
    for _ in 0..voters {
        tokens.push(app.minted_token(&id).await);
    }
    for (i, token) in tokens.iter().enumerate().take(before) {
        publish(&app, &id, &options, token, i).await;
    }
    ballots(&app, &id, before as u64).await;
    app.stop().await;
    (id, options, tokens)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn votes_published_while_pollcast_is_down_are_counted_when_it_comes_back() {
    let momento = shared_momento(4096).await;
    let (id, options, tokens) = vote_then_stop(&momento, 20, 5).await;

    // pollcast is down; voters keep voting.
    let publisher = spawn_voter_client(&momento);
    for (i, token) in tokens.iter().enumerate().skip(5) {
        publisher.publish(&id, &options, token, i).await;
    }

    let back = spawn_app_with(settings(&momento)).await;
    let results = ballots(&back, &id, 20).await;
    assert_eq!(results["ballots"], 20, "{results}");
    assert_eq!(results["counts"][&options[0]], 10, "{results}");
    assert_eq!(results["counts"][&options[1]], 10, "{results}");
    let metrics = back.metrics().await;
    assert_eq!(metrics.get("subscription_lost_messages_total", None), 0);
}

/// Publishes votes with voter tokens straight to the local Momento (no pollcast running).
struct VoterClient {
    grpc: String,
}

fn spawn_voter_client(momento: &LocalMomento) -> VoterClient {
    VoterClient {
        grpc: momento.grpc_endpoint(),
    }
}

impl VoterClient {
    async fn publish(&self, poll: &str, options: &[String], token: &Value, i: usize) {
        let credentials =
            momento::CredentialProvider::from_disposable_token(token["token"].as_str().unwrap())
                .unwrap()
                .full_endpoint_override(&self.grpc);
        let topics = momento::TopicClient::builder()
            .configuration(momento::topics::configurations::Laptop::latest())
            .credential_provider(credentials)
            .build()
            .unwrap();
        let choice = options[i % 2].as_str();
        let topic = token["votes_topic"].as_str().unwrap();
        topics
            .publish("pollcast", topic, vote(poll, &[choice]))
            .await
            .expect("the voter publishes while pollcast is down");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn votes_the_topic_no_longer_holds_are_counted_as_lost_when_pollcast_comes_back() {
    // The topic keeps only the last 4 messages for resuming subscribers.
    let momento = shared_momento(4).await;
    let (id, options, tokens) = vote_then_stop(&momento, 12, 2).await;

    let voters = spawn_voter_client(&momento);
    for (i, token) in tokens.iter().enumerate().skip(2) {
        voters.publish(&id, &options, token, i).await;
    }

    let back = spawn_app_with(settings(&momento)).await;
    // 10 published while down, the topic holds the last 4: 6 are lost, and said to be.
    let results = ballots(&back, &id, 6).await;
    assert_eq!(results["ballots"], 6, "{results}");
    let metrics = back.metrics().await;
    assert_eq!(metrics.get("subscription_lost_messages_total", None), 6);
}

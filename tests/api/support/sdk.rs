//! The official `momento` crate, as a voter (with a minted token) or an operator (with the
//! super-user key) would use it against the app's Momento.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use momento::cache::{
    configurations as cache_configurations, DictionaryFetchResponse, GetResponse,
};
use momento::topics::configurations;
use momento::topics::{Subscription, SubscriptionValue, ValueKind};
use momento::{CacheClient, CredentialProvider, TopicClient};
use serde_json::Value;

use crate::support::app::{within, TestApp};

impl TestApp {
    fn grpc(&self) -> &str {
        self.momento_grpc
            .as_deref()
            .expect("the app talks to a local Momento")
    }

    /// A topic client using a voter token as pollcast minted it.
    pub fn voter_topics(&self, token: &str) -> TopicClient {
        let credentials = CredentialProvider::from_disposable_token(token)
            .expect("a minted token is an SDK auth token")
            .full_endpoint_override(self.grpc());
        topic_client(credentials)
    }

    /// A cache client using a voter token as pollcast minted it.
    pub fn voter_cache(&self, token: &str) -> CacheClient {
        let credentials = CredentialProvider::from_disposable_token(token)
            .expect("a minted token is an SDK auth token")
            .full_endpoint_override(self.grpc());
        CacheClient::builder()
            .default_ttl(Duration::from_secs(60))
            .configuration(cache_configurations::Laptop::latest())
            .credential_provider(credentials)
            .build()
            .expect("a cache client builds")
    }

    /// A topic client with the super-user key of the app's Momento.
    pub fn operator_topics(&self) -> TopicClient {
        topic_client(self.operator_credentials())
    }

    fn operator_credentials(&self) -> CredentialProvider {
        let key = self.momento_key.as_deref().expect("a super-user key");
        CredentialProvider::from_api_key_v2(key, "localhost")
            .expect("a v2 API key")
            .full_endpoint_override(self.grpc())
    }

    /// A cache client with the super-user key of the app's Momento.
    pub fn operator_cache(&self) -> CacheClient {
        CacheClient::builder()
            .default_ttl(Duration::from_secs(60))
            .configuration(cache_configurations::Laptop::latest())
            .credential_provider(self.operator_credentials())
            .build()
            .expect("a cache client builds")
    }

    /// What the cache holds for `voters` of `poll`, read with the super-user key as
    /// `docs/DESIGN-NOTES.md` ("Keys and topics") lays it out: each voter's ballot key (the
    /// choices of a held ballot; absent, released and unseated claims are left out) and the
    /// poll's ballot ledger (voter id -> choices, every shard). The two must be equal.
    pub async fn ballot_keys_and_ledger(
        &self,
        poll: &str,
        voters: &[String],
    ) -> (BallotMap, BallotMap) {
        let cache = self.operator_cache();
        let mut keys = BTreeMap::new();
        for voter in voters {
            let key = format!("ballot:{poll}:{voter}");
            let value = match cache.get("pollcast", key).await.expect("a ballot key read") {
                GetResponse::Hit { value } => String::try_from(value).expect("UTF-8"),
                GetResponse::Miss => continue,
            };
            // "{position}|{choices}"; "-" is a released claim, "~..." a claim without its seat.
            if let Some((head, choices)) = value.split_once('|') {
                if !head.starts_with('~') {
                    keys.insert(voter.clone(), choices.to_owned());
                }
            }
        }
        let mut ledger = BTreeMap::new();
        for shard in 0..16 {
            let name = format!("ballots:{poll}:{shard}");
            let response = cache
                .dictionary_fetch("pollcast", name)
                .await
                .expect("a ledger read");
            if let DictionaryFetchResponse::Hit { value } = response {
                let fields: std::collections::HashMap<String, String> =
                    value.try_into().expect("UTF-8 fields");
                ledger.extend(fields);
            }
        }
        (keys, ledger)
    }
}

/// Voter id -> choices (`o1,o3`), as the cache holds them.
pub type BallotMap = BTreeMap<String, String>;

/// Every results message published for one poll, as a subscriber to `results.{poll_id}`
/// received them (in order).
pub struct ResultsFeed {
    messages: Arc<Mutex<Vec<Value>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ResultsFeed {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ResultsFeed {
    /// The messages so far.
    pub fn messages(&self) -> Vec<Value> {
        self.messages.lock().unwrap().clone()
    }

    /// The messages once the last one satisfies `done` (or as they are after 10 s).
    pub async fn messages_until(&self, done: impl Fn(&Value) -> bool) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let messages = self.messages();
            if messages.last().is_some_and(&done) || tokio::time::Instant::now() >= deadline {
                return messages;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl TestApp {
    /// Subscribes (with the super-user key) to the results topic of `poll` and collects every
    /// message in the background.
    pub async fn results_feed(&self, poll: &str) -> ResultsFeed {
        let client = self.operator_topics();
        let mut subscription = client
            .subscribe("pollcast", format!("results.{poll}"))
            .await
            .expect("the operator subscribes to results");
        let messages = Arc::new(Mutex::new(Vec::new()));
        let sink = messages.clone();
        let task = tokio::spawn(async move {
            let _client = client;
            while let Some(value) = subscription.next().await {
                let results = serde_json::from_str(text(&value)).expect("results are JSON");
                sink.lock().unwrap().push(results);
            }
        });
        ResultsFeed { messages, task }
    }
}

/// A topic client with `credentials`.
pub fn topic_client(credentials: CredentialProvider) -> TopicClient {
    TopicClient::builder()
        .configuration(configurations::Laptop::latest())
        .credential_provider(credentials)
        .build()
        .expect("a topic client builds")
}

/// The next value on `subscription`, within 10 s.
pub async fn next_value(subscription: &mut Subscription) -> SubscriptionValue {
    within(10, "a topic item", subscription.next())
        .await
        .expect("an SDK subscription does not end on its own")
}

/// The text of a topic value.
pub fn text(value: &SubscriptionValue) -> &str {
    match &value.kind {
        ValueKind::Text(text) => text,
        ValueKind::Binary(_) => panic!("expected text, got {value:?}"),
    }
}

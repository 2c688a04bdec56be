//! The official `momento` crate, as a voter (with a minted token) or an operator (with the
//! super-user key) would use it against the app's Momento.

use futures::StreamExt;
use momento::topics::configurations;
use momento::topics::{Subscription, SubscriptionValue, ValueKind};
use momento::{CredentialProvider, TopicClient};

use crate::helpers::{within, TestApp};

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

    /// A topic client with the super-user key of the app's Momento.
    pub fn operator_topics(&self) -> TopicClient {
        let key = self.momento_key.as_deref().expect("a super-user key");
        let credentials = CredentialProvider::from_api_key_v2(key, "localhost")
            .expect("a v2 API key")
            .full_endpoint_override(self.grpc());
        topic_client(credentials)
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

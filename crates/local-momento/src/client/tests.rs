use std::time::Duration;

use super::*;
use crate::{FaultCode, LocalMomento, LocalMomentoConfig};

const TTL: Duration = Duration::from_secs(60);

async fn started() -> (LocalMomento, Client) {
    let server = LocalMomento::start(LocalMomentoConfig::default())
        .await
        .expect("starts");
    let client = server.client();
    assert!(client.create_cache("c").await.expect("creates"));
    (server, client)
}

#[tokio::test]
async fn calls_answer_as_the_grpc_calls_they_stand_for() {
    let (server, client) = started().await;
    assert!(!client.create_cache("c").await.unwrap(), "exists already");
    assert_eq!(client.get("c", b"k").await.unwrap(), None);
    client.set("c", b"k", b"v", TTL).await.unwrap();
    assert_eq!(client.get("c", b"k").await.unwrap(), Some(b"v".to_vec()));
    let absent = SetCondition::Absent;
    assert!(!client.set_if("c", b"k", b"w", absent, TTL).await.unwrap());
    let equal = SetCondition::Equal(b"v");
    assert!(client.set_if("c", b"k", b"w", equal, TTL).await.unwrap());
    assert_eq!(client.increment("c", b"n", 2, TTL).await.unwrap(), 2);
    let wrong_type = client.increment("c", b"k", 1, TTL).await.unwrap_err();
    assert_eq!(wrong_type.code, FaultCode::FailedPrecondition);
    let missing_cache = client.get("nope", b"k").await.unwrap_err();
    assert_eq!(missing_cache.code, FaultCode::NotFound);
    let zero_ttl = client
        .set("c", b"k", b"v", Duration::ZERO)
        .await
        .unwrap_err();
    assert_eq!(zero_ttl.code, FaultCode::InvalidArgument);
    server.shutdown().await;
}

#[tokio::test]
async fn an_injected_failure_before_serving_changes_nothing_and_after_applying_lands() {
    let (server, client) = started().await;
    server.faults().fail("Set", 1, FaultCode::Unavailable);
    let refused = client.set("c", b"k", b"v", TTL).await.unwrap_err();
    assert_eq!(refused.code, FaultCode::Unavailable);
    assert_eq!(client.get("c", b"k").await.unwrap(), None);

    server
        .faults()
        .fail_after_applying("DictionarySet", 1, FaultCode::Internal);
    let fields = vec![(b"f".to_vec(), b"1".to_vec())];
    let lost_answer = client.dictionary_set("c", b"d", fields, TTL, true).await;
    assert_eq!(lost_answer.unwrap_err().code, FaultCode::Internal);
    assert_eq!(
        client.dictionary_get("c", b"d", b"f").await.unwrap(),
        Some(b"1".to_vec()),
        "the write landed though its caller saw a failure"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_publish_reaches_an_in_process_subscriber_with_its_sequence_number() {
    let (server, client) = started().await;
    let mut subscription = client.subscribe("c", "t", 0, 0).await.unwrap();
    let seq = client
        .publish("c", "t", TopicValue::Text("hello".into()))
        .await
        .unwrap();
    let Some(TopicEvent::Item(item)) = subscription.next().await else {
        panic!("an item");
    };
    assert_eq!(
        (item.sequence_number, item.value, item.publisher_id.as_str()),
        (seq, TopicValue::Text("hello".into()), "")
    );
    server.shutdown().await;
    assert_eq!(subscription.next().await, None, "ends at shutdown");
}

#[tokio::test]
async fn subscribers_count_the_subscriptions_waiting_on_a_topic() {
    let (server, client) = started().await;
    assert_eq!(client.subscribers("c", "t"), 0, "a topic never used");
    let first = client.subscribe("c", "t", 0, 0).await.unwrap();
    let second = client.subscribe("c", "t", 0, 0).await.unwrap();
    assert_eq!(client.subscribers("c", "t"), 2);
    drop(first);
    assert_eq!(client.subscribers("c", "t"), 1);
    drop(second);
    assert_eq!(client.subscribers("c", "t"), 0);
    server.shutdown().await;
}

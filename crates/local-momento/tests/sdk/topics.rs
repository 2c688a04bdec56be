//! Topics through the official SDK's TopicClient (raw streams are in `topic_streams`).

use futures::StreamExt;
use momento::auth::{ExpiresIn, PermissionScopes};
use momento::topics::{SubscribeRequest, Subscription, SubscriptionValue, ValueKind};
use momento::MomentoErrorCode;
use momento_protos::cache_client::pubsub::{topic_value, PublishRequest, TopicValue};

use crate::helpers::{authorized, raw_pubsub, within, TestMomento, CACHE};

/// The next value of an SDK subscription (failing the test rather than hanging).
pub async fn next_value(subscription: &mut Subscription) -> SubscriptionValue {
    within(10, "a topic item", subscription.next())
        .await
        .expect("an SDK subscription never ends on its own")
}

fn text(value: &SubscriptionValue) -> &str {
    match &value.kind {
        ValueKind::Text(text) => text,
        ValueKind::Binary(_) => panic!("expected text, got {value:?}"),
    }
}

#[tokio::test]
async fn published_messages_reach_sdk_subscribers_with_the_publishers_token_id() {
    let m = TestMomento::start().await;
    let mut subscription = m
        .topic_client(m.super_user())
        .subscribe(CACHE, "t")
        .await
        .expect("subscribed");
    let voter = m
        .mint(
            PermissionScopes::topic_publish_only(CACHE, "t"),
            ExpiresIn::minutes(5),
            "voter-7",
        )
        .await;

    m.topic_client(m.token(&voter))
        .publish(CACHE, "t", "yes")
        .await
        .expect("a publish-only token publishes");
    m.topic_client(m.super_user())
        .publish(CACHE, "t", vec![0u8, 255])
        .await
        .expect("the super user publishes");

    let first = next_value(&mut subscription).await;
    assert_eq!(text(&first), "yes");
    assert_eq!(first.publisher_id, "voter-7");
    assert_eq!(first.topic_sequence_number, 1);
    assert_ne!(first.topic_sequence_page, 0);
    let second = next_value(&mut subscription).await;
    assert_eq!(second.kind, ValueKind::Binary(vec![0, 255]));
    assert_eq!(second.publisher_id, "", "API keys have no token_id");
    assert_eq!(second.topic_sequence_number, 2);
    assert_eq!(second.topic_sequence_page, first.topic_sequence_page);
}

#[tokio::test]
async fn the_sdk_resumes_at_the_number_it_gives_so_it_sees_that_item_again() {
    let m = TestMomento::start().await;
    let client = m.topic_client(m.super_user());
    let mut live = client.subscribe(CACHE, "t").await.expect("subscribed");
    for n in 1..=3 {
        client.publish(CACHE, "t", format!("m{n}")).await.unwrap();
    }
    let page = next_value(&mut live).await.topic_sequence_page;

    let mut resumed = client
        .send_request(SubscribeRequest::new(CACHE, "t", Some(2), Some(page)))
        .await
        .expect("resumed");
    client.publish(CACHE, "t", "m4").await.unwrap();

    let mut seen = Vec::new();
    for _ in 0..3 {
        let value = next_value(&mut resumed).await;
        seen.push((value.topic_sequence_number, text(&value).to_owned()));
    }
    assert_eq!(seen, [(2, "m2".into()), (3, "m3".into()), (4, "m4".into())]);
}

#[tokio::test]
async fn messages_up_to_4096_bytes_are_published_and_larger_ones_are_limit_exceeded() {
    let m = TestMomento::start().await;
    let client = m.topic_client(m.super_user());
    let mut subscription = client.subscribe(CACHE, "t").await.unwrap();

    client
        .publish(CACHE, "t", "a".repeat(4096))
        .await
        .expect("4096 bytes");
    client
        .publish(CACHE, "t", "é".repeat(2048))
        .await
        .expect("2048 two-byte characters are 4096 bytes");
    for (what, result) in [
        ("text", client.publish(CACHE, "t", "a".repeat(4097)).await),
        (
            "multi-byte text",
            client
                .publish(CACHE, "t", format!("a{}", "é".repeat(2048)))
                .await,
        ),
        ("binary", client.publish(CACHE, "t", vec![7u8; 4097]).await),
    ] {
        let err = result.expect_err(what);
        assert_eq!(
            err.error_code,
            MomentoErrorCode::LimitExceededError,
            "{what}: {err:?}"
        );
    }
    client.publish(CACHE, "t", "end").await.unwrap();

    let sizes: Vec<_> = [
        next_value(&mut subscription).await,
        next_value(&mut subscription).await,
        next_value(&mut subscription).await,
    ]
    .iter()
    .map(|v| (v.topic_sequence_number, text(v).len()))
    .collect();
    assert_eq!(
        sizes,
        [(1, 4096), (2, 4096), (3, 3)],
        "refused messages are not published"
    );
}

#[tokio::test]
async fn publishing_or_subscribing_to_an_unknown_cache_is_cache_not_found() {
    let m = TestMomento::start().await;
    let client = m.topic_client(m.super_user());
    let err = client.publish("no-such-cache", "t", "x").await.unwrap_err();
    assert_eq!(
        err.error_code,
        MomentoErrorCode::CacheNotFoundError,
        "{err:?}"
    );
    let err = client.subscribe("no-such-cache", "t").await.err().unwrap();
    assert_eq!(
        err.error_code,
        MomentoErrorCode::CacheNotFoundError,
        "{err:?}"
    );
}

#[tokio::test]
async fn an_empty_topic_name_or_a_missing_value_is_invalid_argument() {
    let m = TestMomento::start().await;
    let mut raw = raw_pubsub(&m).await;
    let text = |t: &str| {
        Some(TopicValue {
            kind: Some(topic_value::Kind::Text(t.into())),
        })
    };
    for (topic, value) in [("", text("x")), ("t", None)] {
        let request = PublishRequest {
            cache_name: CACHE.into(),
            topic: topic.into(),
            value,
        };
        let status = raw.publish(authorized(request, &m.key)).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    }
}

#[tokio::test]
async fn ten_concurrent_subscribers_each_receive_every_message_of_a_burst_in_order() {
    let m = TestMomento::start().await;
    let client = m.topic_client(m.super_user());
    let mut subscriptions = Vec::new();
    for _ in 0..10 {
        subscriptions.push(client.subscribe(CACHE, "burst").await.unwrap());
    }

    const MESSAGES: u64 = 200;
    let publishes = (0..MESSAGES).map(|n| client.publish(CACHE, "burst", format!("m{n}")));
    for result in futures::future::join_all(publishes).await {
        result.expect("published");
    }

    let mut received = Vec::new();
    for subscription in &mut subscriptions {
        let mut seen = Vec::new();
        for _ in 0..MESSAGES {
            let value = next_value(subscription).await;
            seen.push((value.topic_sequence_number, text(&value).to_owned()));
        }
        let numbers: Vec<u64> = seen.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            numbers,
            (1..=MESSAGES).collect::<Vec<_>>(),
            "in order, no gaps"
        );
        received.push(seen);
    }
    assert!(
        received.windows(2).all(|w| w[0] == w[1]),
        "every subscriber sees the same messages under the same numbers"
    );
    let mut texts: Vec<_> = received[0].iter().map(|(_, t)| t.clone()).collect();
    texts.sort();
    let mut expected: Vec<_> = (0..MESSAGES).map(|n| format!("m{n}")).collect();
    expected.sort();
    assert_eq!(texts, expected, "every published message, once");
}

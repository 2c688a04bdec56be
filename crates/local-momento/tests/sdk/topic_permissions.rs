//! The topic permission matrix, through the SDK with disposable tokens.

use momento::auth::{ExpiresIn, PermissionScope, PermissionScopes};
use momento::MomentoErrorCode;

use crate::helpers::{TestMomento, CACHE};
use crate::topics::next_value;

struct Case {
    name: &'static str,
    scope: PermissionScope,
    may_publish: bool,
    may_subscribe: bool,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "publish-only",
            scope: PermissionScopes::topic_publish_only(CACHE, "t"),
            may_publish: true,
            may_subscribe: false,
        },
        Case {
            name: "subscribe-only",
            scope: PermissionScopes::topic_subscribe_only(CACHE, "t"),
            may_publish: false,
            may_subscribe: true,
        },
        Case {
            name: "publish-subscribe",
            scope: PermissionScopes::topic_publish_subscribe(CACHE, "t"),
            may_publish: true,
            may_subscribe: true,
        },
        Case {
            name: "wrong topic",
            scope: PermissionScopes::topic_publish_subscribe(CACHE, "other-topic"),
            may_publish: false,
            may_subscribe: false,
        },
        Case {
            name: "wrong cache",
            scope: PermissionScopes::topic_publish_subscribe("other-cache", "t"),
            may_publish: false,
            may_subscribe: false,
        },
        Case {
            name: "cache-only",
            scope: PermissionScopes::cache_read_write(CACHE),
            may_publish: false,
            may_subscribe: false,
        },
    ]
}

#[tokio::test]
async fn each_topic_grant_allows_exactly_its_calls_and_denied_publishes_reach_no_one() {
    let m = TestMomento::start().await;
    m.server.ensure_cache("other-cache").await.unwrap();
    let mut watcher = m
        .topic_client(m.super_user())
        .subscribe(CACHE, "t")
        .await
        .unwrap();

    let mut published = Vec::new();
    for case in cases() {
        let token = m.mint(case.scope, ExpiresIn::minutes(5), case.name).await;
        let client = m.topic_client(m.token(&token));

        let publish = client.publish(CACHE, "t", case.name).await;
        match (case.may_publish, publish) {
            (true, Ok(_)) => published.push(case.name),
            (false, Err(err)) => {
                assert_eq!(
                    err.error_code,
                    MomentoErrorCode::PermissionError,
                    "{}",
                    case.name
                )
            }
            (expected, outcome) => panic!(
                "{}: publish should be allowed={expected}, got {outcome:?}",
                case.name
            ),
        }

        let subscribe = client.subscribe(CACHE, "t").await;
        match (case.may_subscribe, subscribe) {
            (true, Ok(_)) => {}
            (false, Err(err)) => {
                assert_eq!(
                    err.error_code,
                    MomentoErrorCode::PermissionError,
                    "{}",
                    case.name
                )
            }
            (expected, Ok(_)) => panic!("{}: subscribe should be allowed={expected}", case.name),
            (expected, Err(err)) => panic!(
                "{}: subscribe should be allowed={expected}, got {err:?}",
                case.name
            ),
        }
    }
    m.topic_client(m.super_user())
        .publish(CACHE, "t", "end")
        .await
        .unwrap();

    let mut received = Vec::new();
    loop {
        let value = next_value(&mut watcher).await;
        let text: String = value.clone().try_into().unwrap();
        if text == "end" {
            break;
        }
        assert_eq!(
            value.publisher_id, text,
            "each token publishes its own name"
        );
        received.push(text);
    }
    assert_eq!(received, published);
    assert_eq!(received, ["publish-only", "publish-subscribe"]);
}

#[tokio::test]
async fn a_grant_on_all_topics_of_a_cache_covers_any_topic_there_only() {
    use momento::auth::{CacheSelector, TopicSelector};
    let m = TestMomento::start().await;
    m.server.ensure_cache("other-cache").await.unwrap();
    let scope = PermissionScopes::topic_publish_subscribe(CACHE, TopicSelector::AllTopics);
    let token = m.mint(scope, ExpiresIn::minutes(5), "any-topic").await;
    let client = m.topic_client(m.token(&token));
    client.publish(CACHE, "a", "x").await.expect("any topic");
    client.subscribe(CACHE, "b").await.expect("any topic");
    let err = client.publish("other-cache", "a", "x").await.unwrap_err();
    assert_eq!(err.error_code, MomentoErrorCode::PermissionError);

    let scope = PermissionScopes::topic_subscribe_only(CacheSelector::AllCaches, "t");
    let token = m.mint(scope, ExpiresIn::minutes(5), "any-cache").await;
    let client = m.topic_client(m.token(&token));
    client
        .subscribe("other-cache", "t")
        .await
        .expect("any cache");
    let err = client.publish("other-cache", "t", "x").await.unwrap_err();
    assert_eq!(err.error_code, MomentoErrorCode::PermissionError);
}

//! Momento's per-namespace limits, enforced when configured, answered as the service answers
//! them: the official SDK sees its LimitExceededError with the limit named, HTTP clients 429.

use std::time::Duration;

use local_momento::quota::Quota;
use local_momento::LocalMomentoConfig;
use momento::MomentoErrorCode;
use poem::http::StatusCode;

use crate::helpers::{TestMomento, CACHE};

async fn with_quota(operations_per_second: u32, subscriptions: u32) -> TestMomento {
    TestMomento::start_with(LocalMomentoConfig {
        quota: Some(Quota {
            operations_per_second,
            subscriptions,
        }),
        ..LocalMomentoConfig::default()
    })
    .await
}

#[tokio::test]
async fn calls_past_the_operations_rate_are_refused_as_momento_refuses_them() {
    let m = with_quota(40, 100).await;
    let cache = m.cache_client(m.super_user());
    let mut refused = Vec::new();
    for n in 0..80 {
        if let Err(error) = cache.get(CACHE, format!("k{n}")).await {
            refused.push(error);
        }
    }
    assert!(
        refused.len() >= 35,
        "about a second's worth passes: {} refused",
        refused.len()
    );
    let error = &refused[0];
    assert_eq!(error.error_code, MomentoErrorCode::LimitExceededError);
    assert!(
        error.message.contains("Request rate limit"),
        "{}",
        error.message
    );

    let base = m.serve_http_api().await;
    let http = reqwest::Client::new();
    let mut too_many = 0;
    for _ in 0..80 {
        let answer = http
            .post(format!("{base}/topics/{CACHE}/t"))
            .header("Authorization", &m.key)
            .header("Content-Type", "text/plain")
            .body("hi")
            .send()
            .await
            .unwrap();
        if answer.status() == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(answer.headers()["retry-after"], "1");
            too_many += 1;
        }
    }
    assert!(
        too_many >= 20,
        "HTTP publishes over the rate: {too_many} refused"
    );
    // A second later, the rate has room again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    cache
        .get(CACHE, "k")
        .await
        .expect("room again after a second");
}

#[tokio::test]
async fn subscriptions_past_the_connections_limit_are_refused_until_one_closes() {
    let m = with_quota(1_000, 2).await;
    let topics = m.topic_client(m.super_user());
    let first = topics.subscribe(CACHE, "t").await.unwrap();
    let _second = topics.subscribe(CACHE, "t").await.unwrap();
    let error = topics
        .subscribe(CACHE, "t")
        .await
        .err()
        .expect("a third is refused");
    assert_eq!(error.error_code, MomentoErrorCode::LimitExceededError);
    assert!(error.message.contains("subscriptions"), "{}", error.message);
    let stats = m.server.observer().quota_stats().unwrap();
    assert_eq!(
        (stats.subscriptions_open, stats.subscriptions_refused),
        (2, 1)
    );

    drop(first);
    // The server sees the stream close when the client's side of it goes.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while m
        .server
        .observer()
        .quota_stats()
        .unwrap()
        .subscriptions_open
        > 1
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the closed stream is never freed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    topics.subscribe(CACHE, "t").await.expect("room again");
}

//! The publish limit per token (`publish_limit_per_token`), on both front ends: over it a
//! publish is refused before anything is written (gRPC `RESOURCE_EXHAUSTED`, the SDKs'
//! LimitExceededError; HTTP `429` with `Retry-After`); other tokens and API keys go on.

use local_momento::LocalMomentoConfig;
use momento::auth::{ExpiresIn, PermissionScopes};
use momento::topics::ValueKind;
use momento::MomentoErrorCode;
use reqwest::header::RETRY_AFTER;

use crate::helpers::{raw_key, TestMomento, CACHE};
use crate::http_api::{call, post_text};
use crate::topics::next_value;

#[tokio::test]
async fn a_token_over_its_publish_rate_is_refused_on_grpc_and_http_and_nothing_is_published() {
    // Arrange: three publishes per token at once, then one a minute.
    let m = TestMomento::start_with(LocalMomentoConfig {
        publish_limit_per_token: Some("1/min+3".parse().unwrap()),
        ..LocalMomentoConfig::default()
    })
    .await;
    let base = m.serve_http_api().await;
    let scope = || PermissionScopes::topic_publish_only(CACHE, "votes");
    let voter = m.mint(scope(), ExpiresIn::minutes(5), "p1:v1").await;
    let other = m.mint(scope(), ExpiresIn::minutes(5), "p1:v2").await;
    let operator = m.topic_client(m.super_user());
    let mut seen = operator
        .subscribe(CACHE, "votes")
        .await
        .expect("the operator subscribes");
    let topics = m.topic_client(m.token(&voter));

    // Act
    let mut grpc = Vec::new();
    for i in 0..4 {
        grpc.push(topics.publish(CACHE, "votes", format!("v1-{i}")).await);
    }
    let http = reqwest::Client::new()
        .execute(
            post_text(&base, "votes", &raw_key(&voter), "v1-http")
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    let retry_after: u64 = http.headers()[RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let http_status = http.status().as_u16();
    let other_token = call(post_text(&base, "votes", &raw_key(&other), "v2")).await;
    for i in 0..10 {
        operator
            .publish(CACHE, "votes", format!("operator-{i}"))
            .await
            .expect("API keys are never limited");
    }

    // Assert
    assert!(grpc[..3].iter().all(Result::is_ok), "{grpc:?}");
    let refused = grpc[3].as_ref().expect_err("the fourth publish is refused");
    assert_eq!(
        refused.error_code,
        MomentoErrorCode::LimitExceededError,
        "{refused:?}"
    );
    assert_eq!(http_status, 429);
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(other_token.0, 204, "another token has its own bucket");
    let mut texts = Vec::new();
    for _ in 0..14 {
        let value = next_value(&mut seen).await;
        match value.kind {
            ValueKind::Text(text) => texts.push(text),
            ValueKind::Binary(_) => panic!("text was published"),
        }
    }
    let refused_ones: Vec<&String> = texts
        .iter()
        .filter(|t| *t == "v1-3" || *t == "v1-http")
        .collect();
    assert!(refused_ones.is_empty(), "{texts:?}");
    assert_eq!(texts.iter().filter(|t| t.starts_with("v1-")).count(), 3);
}

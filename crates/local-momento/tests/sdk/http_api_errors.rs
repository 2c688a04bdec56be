//! The HTTP topics API's answers to bad, unauthenticated and unauthorized calls, and the
//! token forms it accepts.

use std::time::Duration;

use momento::auth::{ExpiresIn, PermissionScopes};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};

use crate::helpers::{raw_key, TestMomento, CACHE};
use crate::http_api::{assert_error, call, page_of, poll, post_text};

#[tokio::test]
async fn the_token_is_accepted_raw_as_an_auth_token_with_bearer_and_as_a_query_parameter() {
    let m = TestMomento::start().await;
    let base = m.serve_http_api().await;
    let auth_token = m
        .mint(
            PermissionScopes::topic_publish_subscribe(CACHE, "t"),
            ExpiresIn::minutes(5),
            "t1",
        )
        .await;
    let raw = raw_key(&auth_token);
    for (form, key) in [
        ("raw", raw.clone()),
        ("base64 auth_token", auth_token.clone()),
        ("bearer", format!("Bearer {raw}")),
    ] {
        let outcome = call(post_text(&base, "t", &key, form)).await;
        assert_eq!(outcome.0, 204, "{form}: {}", outcome.1);
    }
    for key in [&raw, &auth_token] {
        let request = reqwest::Client::new()
            .post(format!("{base}/topics/{CACHE}/t"))
            .query(&[("token", key)])
            .header(CONTENT_TYPE, "text/plain")
            .body("query");
        assert_eq!(call(request).await.0, 204);
    }
}

#[tokio::test]
async fn missing_forged_and_expired_tokens_are_401() {
    let m = TestMomento::start().await;
    let other = TestMomento::start().await;
    let base = m.serve_http_api().await;

    let none = reqwest::Client::new()
        .post(format!("{base}/topics/{CACHE}/t"))
        .header(CONTENT_TYPE, "text/plain")
        .body("x");
    assert_error(&call(none).await, 401, "unauthenticated");
    assert_error(
        &call(post_text(&base, "t", &other.key, "x")).await,
        401,
        "unauthenticated",
    );
    assert_error(
        &call(poll(&base, "t", "garbage", 0, 0)).await,
        401,
        "unauthenticated",
    );

    let short = m
        .mint(
            PermissionScopes::topic_publish_subscribe(CACHE, "t"),
            ExpiresIn::seconds(1),
            "short",
        )
        .await;
    assert_eq!(
        call(post_text(&base, "t", &raw_key(&short), "x")).await.0,
        204
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_error(
        &call(post_text(&base, "t", &raw_key(&short), "x")).await,
        401,
        "unauthenticated",
    );
}

#[tokio::test]
async fn malformed_requests_are_400_and_publish_nothing() {
    let m = TestMomento::start().await;
    let base = m.serve_http_api().await;
    let client = reqwest::Client::new();
    let url = format!("{base}/topics/{CACHE}/t");
    let post = |content_type: &str, body: Vec<u8>| {
        client
            .post(&url)
            .header(AUTHORIZATION, &m.key)
            .header(CONTENT_TYPE, content_type)
            .body(body)
    };

    assert_eq!(call(post("text/plain", vec![b'a'; 4096])).await.0, 204);
    let both = post("text/plain", b"x".to_vec()).query(&[("token", &m.key)]);
    assert_error(&call(both).await, 400, "invalid_argument");
    assert_error(
        &call(post("text/plain", vec![b'a'; 4097])).await,
        400,
        "limit_exceeded",
    );
    assert_error(
        &call(post("application/octet-stream", vec![0; 4097])).await,
        400,
        "limit_exceeded",
    );
    assert_error(
        &call(post("text/plain", vec![b'a'; 100_000])).await,
        400,
        "limit_exceeded",
    );
    assert_error(
        &call(post("text/plain", vec![0xff, 0xfe])).await,
        400,
        "invalid_argument",
    );
    assert_error(
        &call(post("application/json", b"{}".to_vec())).await,
        400,
        "invalid_argument",
    );
    let no_type = client.post(&url).header(AUTHORIZATION, &m.key).body("x");
    assert_error(&call(no_type).await, 400, "invalid_argument");
    let blank = client
        .post(format!("{base}/topics/%20/t"))
        .header(AUTHORIZATION, &m.key)
        .header(CONTENT_TYPE, "text/plain")
        .body("x");
    assert_error(&call(blank).await, 400, "invalid_argument");
    for query in [
        "sequence_number=abc",
        "sequence_page=-1",
        "sequence_number=1.5",
    ] {
        let bad = client
            .get(format!("{url}?{query}"))
            .header(AUTHORIZATION, &m.key);
        assert_error(&call(bad).await, 400, "invalid_argument");
    }
    let put = client.put(&url).header(AUTHORIZATION, &m.key).body("x");
    assert_error(&call(put).await, 405, "method_not_allowed");

    let page = page_of(&base, "t", &m.key).await;
    let (_, body) = call(poll(&base, "t", &m.key, 1, page)).await;
    assert_eq!(body["items"].as_array().map(Vec::len), Some(1), "{body}");
}

#[tokio::test]
async fn a_token_without_the_topic_grant_is_403_and_an_unknown_cache_is_404() {
    let m = TestMomento::start().await;
    let base = m.serve_http_api().await;
    let subscriber = subscriber_of_t(&m).await;
    let publisher = m
        .mint(
            PermissionScopes::topic_publish_only(CACHE, "t"),
            ExpiresIn::minutes(5),
            "p",
        )
        .await;
    let denied = call(post_text(&base, "t", &raw_key(&subscriber), "x")).await;
    assert_error(&denied, 403, "permission_denied");
    assert_error(
        &call(poll(&base, "t", &raw_key(&publisher), 0, 0)).await,
        403,
        "permission_denied",
    );
    assert_error(
        &call(post_text(&base, "other", &raw_key(&publisher), "x")).await,
        403,
        "permission_denied",
    );

    let unknown = reqwest::Client::new()
        .post(format!("{base}/topics/no-such-cache/t"))
        .header(AUTHORIZATION, &m.key)
        .header(CONTENT_TYPE, "text/plain")
        .body("x");
    assert_error(&call(unknown).await, 404, "not_found");
    let unknown = reqwest::Client::new()
        .get(format!("{base}/topics/no-such-cache/t"))
        .header(AUTHORIZATION, &m.key);
    assert_error(&call(unknown).await, 404, "not_found");
}

#[tokio::test]
async fn head_answers_at_once_with_the_status_a_long_poll_would_have() {
    // Arrange: a long poll would wait its full 30 s for a message on this quiet topic.
    let m = TestMomento::start().await;
    let base = m.serve_http_api().await;
    let subscriber = subscriber_of_t(&m).await;
    let head = |topic: &str, key: Option<String>, cache: &str| {
        let request = reqwest::Client::new().head(format!("{base}/topics/{cache}/{topic}"));
        match key {
            Some(key) => request.header(AUTHORIZATION, key),
            None => request,
        }
    };

    // Act
    let answers = crate::helpers::within(5, "HEAD answers", async {
        let mut statuses = Vec::new();
        for request in [
            head("t", Some(raw_key(&subscriber)), CACHE),
            head("t", None, CACHE),
            head("other", Some(raw_key(&subscriber)), CACHE),
            head("t", Some(m.key.clone()), "no-such-cache"),
        ] {
            let response = request.send().await.expect("HEAD sent");
            let status = response.status().as_u16();
            let body = response.bytes().await.expect("a body");
            statuses.push((status, body.len()));
        }
        statuses
    })
    .await;

    // Assert
    assert_eq!(answers, vec![(200, 0), (401, 0), (403, 0), (404, 0)]);
}

/// A token that may only subscribe to the topic `t` of [`CACHE`].
async fn subscriber_of_t(m: &TestMomento) -> String {
    m.mint(
        PermissionScopes::topic_subscribe_only(CACHE, "t"),
        ExpiresIn::minutes(5),
        "s",
    )
    .await
}

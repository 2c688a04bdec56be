//! Momento's HTTP topics API, served by poem on a free port, called with reqwest, and checked
//! against the official SDK on the other end.

use std::time::Duration;

use local_momento::LocalMomentoConfig;
use momento::auth::{ExpiresIn, PermissionScopes};
use momento::topics::ValueKind;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use reqwest::RequestBuilder;
use serde_json::{json, Value};

use crate::helpers::{raw_key, within, TestMomento, CACHE};
use crate::topics::next_value;

/// Sends `request`; returns the status and the JSON body (`null` when empty).
async fn call(request: RequestBuilder) -> (u16, Value) {
    let response = request.send().await.expect("the HTTP API answers");
    let status = response.status().as_u16();
    let bytes = response.bytes().await.expect("a body");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).expect("a JSON body")
    };
    (status, body)
}

fn post_text(base: &str, topic: &str, key: &str, text: &str) -> RequestBuilder {
    reqwest::Client::new()
        .post(format!("{base}/topics/{CACHE}/{topic}"))
        .header(AUTHORIZATION, key)
        .header(CONTENT_TYPE, "text/plain")
        .body(text.to_owned())
}

fn poll(base: &str, topic: &str, key: &str, sequence_number: u64, page: u64) -> RequestBuilder {
    reqwest::Client::new()
        .get(format!(
            "{base}/topics/{CACHE}/{topic}?sequence_number={sequence_number}&sequence_page={page}"
        ))
        .header(AUTHORIZATION, key)
}

/// The topic's page, learnt from the discontinuity a wrong page provokes.
async fn page_of(base: &str, topic: &str, key: &str) -> u64 {
    let (status, body) = call(poll(base, topic, key, 1, 1)).await;
    assert_eq!(status, 200, "{body}");
    body["items"][0]["discontinuity"]["new_sequence_page"]
        .as_u64()
        .expect("a discontinuity naming the page")
}

fn assert_error(outcome: &(u16, Value), status: u16, code: &str) {
    assert_eq!(outcome.0, status, "{}", outcome.1);
    assert_eq!(outcome.1["error"], code, "{}", outcome.1);
    assert!(outcome.1["message"].is_string(), "{}", outcome.1);
}

#[tokio::test]
async fn publish_over_http_is_204_and_reaches_an_sdk_subscriber_with_the_token_id() {
    let m = TestMomento::start().await;
    let base = m.serve_http_api().await;
    let token = m
        .mint(
            PermissionScopes::topic_publish_only(CACHE, "t"),
            ExpiresIn::minutes(5),
            "browser-1",
        )
        .await;
    let mut subscription = m
        .topic_client(m.super_user())
        .subscribe(CACHE, "t")
        .await
        .unwrap();

    let text = call(post_text(&base, "t", &raw_key(&token), "yes")).await;
    assert_eq!(text, (204, Value::Null));
    let binary = reqwest::Client::new()
        .post(format!("{base}/topics/{CACHE}/t?token={}", raw_key(&token)))
        .header(CONTENT_TYPE, "application/octet-stream")
        .body(vec![0u8, 159, 255]);
    assert_eq!(call(binary).await, (204, Value::Null));

    let first = next_value(&mut subscription).await;
    assert_eq!(first.kind, ValueKind::Text("yes".into()));
    assert_eq!(first.publisher_id, "browser-1");
    let second = next_value(&mut subscription).await;
    assert_eq!(second.kind, ValueKind::Binary(vec![0, 159, 255]));
    assert_eq!(second.topic_sequence_number, 2);
}

#[tokio::test]
async fn a_long_poll_blocks_until_an_sdk_publish_arrives_then_returns_it() {
    let m = TestMomento::start().await;
    let base = m.serve_http_api().await;
    let page = page_of(&base, "t", &m.key).await;

    let waiting = tokio::spawn(call(poll(&base, "t", &m.key, 1, page)));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !waiting.is_finished(),
        "nothing published yet: the poll waits"
    );
    let voter = m
        .mint(
            PermissionScopes::topic_publish_only(CACHE, "t"),
            ExpiresIn::minutes(5),
            "voter-7",
        )
        .await;
    m.topic_client(m.token(&voter))
        .publish(CACHE, "t", "hello")
        .await
        .unwrap();

    let (status, body) = within(10, "the long poll", waiting).await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"items": [{"item": {
            "topic_sequence_number": 1,
            "sequence_page": page,
            "value": {"text": "hello"},
            "publisher_id": "voter-7",
        }}]})
    );
}

#[tokio::test]
async fn a_long_poll_from_zero_returns_only_what_is_published_after_it() {
    let m = TestMomento::start().await;
    let base = m.serve_http_api().await;
    call(post_text(&base, "t", &m.key, "old")).await;

    let waiting = tokio::spawn(call(poll(&base, "t", &m.key, 0, 0)));
    // Publish until the poll answers: it may reach the server after any of these.
    while !waiting.is_finished() {
        call(post_text(&base, "t", &m.key, "new")).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, body) = waiting.await.unwrap();
    assert_eq!(status, 200);
    let items = body["items"].as_array().expect("items");
    assert!(!items.is_empty(), "{body}");
    for item in items {
        assert_eq!(item["item"]["value"]["text"], "new", "{body}");
        assert!(item["item"]["topic_sequence_number"].as_u64() >= Some(2));
    }
}

#[tokio::test]
async fn a_long_poll_with_nothing_to_deliver_answers_an_empty_list_after_the_maximum_wait() {
    let m = TestMomento::start_with(LocalMomentoConfig {
        long_poll_max_wait: Duration::from_millis(200),
        ..LocalMomentoConfig::default()
    })
    .await;
    let base = m.serve_http_api().await;
    let outcome = within(10, "the long poll", call(poll(&base, "t", &m.key, 0, 0))).await;
    assert_eq!(outcome, (200, json!({"items": []})));
}

#[tokio::test]
async fn resuming_over_http_returns_everything_from_the_given_number_in_one_answer() {
    let m = TestMomento::start().await;
    let base = m.serve_http_api().await;
    call(post_text(&base, "t", &m.key, "m1")).await;
    call(post_text(&base, "t", &m.key, "m2")).await;
    m.topic_client(m.super_user())
        .publish(CACHE, "t", vec![1u8, 2, 3])
        .await
        .unwrap();
    let page = page_of(&base, "t", &m.key).await;

    let (status, body) = call(poll(&base, "t", &m.key, 2, page)).await;
    assert_eq!(status, 200);
    let item = |n: u64, value: Value| json!({"item": {"topic_sequence_number": n, "sequence_page": page, "value": value, "publisher_id": ""}});
    assert_eq!(
        body,
        json!({"items": [item(2, json!({"text": "m2"})), item(3, json!({"binary": "AQID"}))]})
    );
}

#[tokio::test]
async fn http_discontinuities_report_lost_history_and_a_changed_page() {
    let m = TestMomento::start_with(LocalMomentoConfig {
        topic_history: 2,
        ..LocalMomentoConfig::default()
    })
    .await;
    let base = m.serve_http_api().await;
    for n in 1..=4 {
        call(post_text(&base, "t", &m.key, &format!("m{n}"))).await;
    }
    let page = page_of(&base, "t", &m.key).await;

    let (_, body) = call(poll(&base, "t", &m.key, 1, page)).await;
    let items = body["items"].as_array().expect("items");
    assert_eq!(
        items[0],
        json!({"discontinuity": {"last_topic_sequence": 0, "new_topic_sequence": 3, "new_sequence_page": page}})
    );
    let numbers: Vec<_> = items[1..]
        .iter()
        .map(|i| i["item"]["topic_sequence_number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, [3, 4]);

    let (_, body) = call(poll(&base, "t", &m.key, 4, page + 1)).await;
    assert_eq!(
        body,
        json!({"items": [{"discontinuity": {"last_topic_sequence": 0, "new_topic_sequence": 5, "new_sequence_page": page}}]})
    );
}

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
    let subscriber = m
        .mint(
            PermissionScopes::topic_subscribe_only(CACHE, "t"),
            ExpiresIn::minutes(5),
            "s",
        )
        .await;
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
async fn cors_lets_a_page_on_another_origin_post_and_poll_with_an_authorization_header() {
    let m = TestMomento::start().await;
    let base = m.serve_http_api().await;
    let origin = "https://polls.example";
    let client = reqwest::Client::new();
    for method in ["POST", "GET"] {
        let preflight = client
            .request(reqwest::Method::OPTIONS, format!("{base}/topics/{CACHE}/t"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", method)
            .header(
                "Access-Control-Request-Headers",
                "authorization, content-type",
            )
            .send()
            .await
            .unwrap();
        assert!(preflight.status().is_success(), "{}", preflight.status());
        let header = |name: &str| {
            preflight
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_ascii_lowercase()
        };
        assert_eq!(header("access-control-allow-origin"), origin);
        assert!(header("access-control-allow-methods").contains(&method.to_ascii_lowercase()));
        assert!(header("access-control-allow-headers").contains("authorization"));
    }

    let post = post_text(&base, "t", &m.key, "from a browser").header("Origin", origin);
    let response = post.send().await.unwrap();
    assert_eq!(response.status().as_u16(), 204);
    assert_eq!(response.headers()["access-control-allow-origin"], origin);
}

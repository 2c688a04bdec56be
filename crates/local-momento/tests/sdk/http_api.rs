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
pub async fn call(request: RequestBuilder) -> (u16, Value) {
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

pub fn post_text(base: &str, topic: &str, key: &str, text: &str) -> RequestBuilder {
    reqwest::Client::new()
        .post(format!("{base}/topics/{CACHE}/{topic}"))
        .header(AUTHORIZATION, key)
        .header(CONTENT_TYPE, "text/plain")
        .body(text.to_owned())
}

pub fn poll(base: &str, topic: &str, key: &str, sequence_number: u64, page: u64) -> RequestBuilder {
    reqwest::Client::new()
        .get(format!(
            "{base}/topics/{CACHE}/{topic}?sequence_number={sequence_number}&sequence_page={page}"
        ))
        .header(AUTHORIZATION, key)
}

/// The topic's page, learnt from the discontinuity a wrong page provokes.
pub async fn page_of(base: &str, topic: &str, key: &str) -> u64 {
    let (status, body) = call(poll(base, topic, key, 1, 1)).await;
    assert_eq!(status, 200, "{body}");
    body["items"][0]["discontinuity"]["new_sequence_page"]
        .as_u64()
        .expect("a discontinuity naming the page")
}

pub fn assert_error(outcome: &(u16, Value), status: u16, code: &str) {
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

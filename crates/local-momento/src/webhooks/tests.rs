use std::time::Duration;

use bytes::Bytes;

use super::{payload, sign, RetryPolicy};
use crate::message::{Message, Value};

#[test]
fn sign_matches_the_test_vector_of_momentos_js_sdk() {
    let body = br#"{"text":"some text", "another_field": "another field" }"#;
    let signature = sign(b"1234567890", body);
    assert_eq!(signature.len(), 64, "{signature}");
    assert!(signature.starts_with("b43f7278"), "{signature}");
    assert!(signature.ends_with("eea3da"), "{signature}");
    assert_eq!(signature, signature.to_lowercase());
}

#[test]
fn sign_changes_with_the_secret_and_with_the_body() {
    let base = sign(b"secret", b"body");
    assert_ne!(base, sign(b"secret2", b"body"));
    assert_ne!(base, sign(b"secret", b"body "));
    assert_eq!(base, sign(b"secret", b"body"));
}

fn message(value: Value) -> Message {
    Message {
        sequence_number: 7,
        sequence_page: 99,
        value,
        publisher_id: "mo-the-squirrel".into(),
        published_at_ms: 1_704_296_470_564,
        http_item: Default::default(),
    }
}

#[test]
fn text_payload_has_the_documented_fields_in_the_documented_order() {
    let body = payload(
        "chat",
        "room-281",
        &message(Value::Text("Here I am!!".into())),
        1_704_296_470_565,
    );
    assert_eq!(
        String::from_utf8(body).unwrap(),
        r#"{"cache":"chat","topic":"room-281","event_timestamp":1704296470564,"publish_timestamp":1704296470565,"topic_sequence_number":7,"token_id":"mo-the-squirrel","text":"Here I am!!"}"#
    );
}

#[test]
fn binary_payload_carries_base64_in_place_of_text() {
    let body = payload(
        "c",
        "t",
        &message(Value::Binary(Bytes::from_static(&[0, 159, 255]))),
        1,
    );
    assert_eq!(
        String::from_utf8(body).unwrap(),
        r#"{"cache":"c","topic":"t","event_timestamp":1704296470564,"publish_timestamp":1,"topic_sequence_number":7,"token_id":"mo-the-squirrel","binary":"AJ//"}"#
    );
}

#[test]
fn backoff_doubles_from_the_initial_wait_up_to_the_cap() {
    let policy = RetryPolicy {
        max_attempts: 10,
        initial_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_millis(700),
    };
    let waits: Vec<_> = (1..=5).map(|a| policy.backoff(a).as_millis()).collect();
    assert_eq!(waits, [100, 200, 400, 700, 700]);
    assert_eq!(policy.backoff(u32::MAX), Duration::from_millis(700));
}

//! Verifying Momento webhook calls: the `momento-signature` header is the lowercase hex
//! HMAC-SHA3-256 of the exact body bytes, keyed with the webhook's signing secret. It is
//! checked (in constant time) **before** the body is parsed; then the event's
//! `publish_timestamp` must be within the replay window. Only [`Verifier::verify`] makes a
//! [`VerifiedEvent`], so nothing downstream can ingest unverified bytes.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha3::Sha3_256;

/// Why a webhook call was refused before reaching the pipeline.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refusal {
    /// No signature, not hex, or not the body's HMAC.
    #[error("the momento-signature header does not sign this body")]
    BadSignature,
    /// Signed, but not a webhook event.
    #[error("malformed webhook event: {0}")]
    Malformed(String),
    /// Signed, but `publish_timestamp` is older than the replay window.
    #[error("the event was published {age_ms} ms ago, outside the {window_ms} ms replay window")]
    Stale {
        /// How old it is.
        age_ms: i64,
        /// The window.
        window_ms: i64,
    },
    /// Signed, but `publish_timestamp` is too far ahead of this server's clock.
    #[error("the event's publish_timestamp is {ahead_ms} ms in the future")]
    Future {
        /// How far ahead.
        ahead_ms: i64,
    },
}

impl Refusal {
    /// The metrics label.
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::BadSignature => "signature",
            Refusal::Malformed(_) => "malformed",
            Refusal::Stale { .. } => "stale",
            Refusal::Future { .. } => "future",
        }
    }
}

/// The documented webhook payload.
#[derive(Debug, Clone, Deserialize)]
struct Payload {
    cache: String,
    topic: String,
    event_timestamp: i64,
    publish_timestamp: i64,
    topic_sequence_number: u64,
    #[serde(default)]
    token_id: String,
    text: Option<String>,
}

/// A webhook event whose signature and age were checked.
#[derive(Debug, Clone)]
pub struct VerifiedEvent {
    payload: Payload,
}

impl VerifiedEvent {
    /// The cache of the topic.
    pub fn cache(&self) -> &str {
        &self.payload.cache
    }
    /// The topic.
    pub fn topic(&self) -> &str {
        &self.payload.topic
    }
    /// The publisher's token_id (`""` when it had none).
    pub fn token_id(&self) -> &str {
        &self.payload.token_id
    }
    /// The message text (`None` for binary messages).
    pub fn text(&self) -> Option<&str> {
        self.payload.text.as_deref()
    }
    /// The topic sequence number.
    pub fn sequence_number(&self) -> u64 {
        self.payload.topic_sequence_number
    }
    /// When the message was published.
    pub fn published_at(&self) -> Option<DateTime<Utc>> {
        Utc.timestamp_millis_opt(self.payload.event_timestamp)
            .single()
    }
}

/// Checks webhook calls against one signing secret.
pub struct Verifier {
    secret: SecretString,
    window: Duration,
    future_tolerance: Duration,
}

impl Verifier {
    /// Events older than `window`, or more than `future_tolerance` ahead, are refused.
    pub fn new(secret: SecretString, window: Duration, future_tolerance: Duration) -> Self {
        Self {
            secret,
            window,
            future_tolerance,
        }
    }

    /// Verifies `body` against `signature` (the header), then its age at `now`.
    pub fn verify(
        &self,
        signature: Option<&str>,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<VerifiedEvent, Refusal> {
        let given = signature
            .and_then(|s| hex::decode(s.trim()).ok())
            .ok_or(Refusal::BadSignature)?;
        let mut mac = Hmac::<Sha3_256>::new_from_slice(self.secret.expose_secret().as_bytes())
            .expect("HMAC takes keys of any length");
        mac.update(body);
        mac.verify_slice(&given)
            .map_err(|_| Refusal::BadSignature)?;

        let payload: Payload =
            serde_json::from_slice(body).map_err(|e| Refusal::Malformed(e.to_string()))?;
        // Saturating: a timestamp at either end of i64 (i64::MIN is "the distant past", not
        // an overflow into "the future") is judged like any other, and refused.
        let age_ms = now
            .timestamp_millis()
            .saturating_sub(payload.publish_timestamp);
        let window_ms = millis(self.window);
        if age_ms > window_ms {
            return Err(Refusal::Stale { age_ms, window_ms });
        }
        let ahead_ms = age_ms.saturating_neg();
        if ahead_ms > millis(self.future_tolerance) {
            return Err(Refusal::Future { ahead_ms });
        }
        // A publish time no clock can show is as stale as one from before the window: the
        // pipeline judges a vote by when it was published, and this one says nothing.
        if Utc
            .timestamp_millis_opt(payload.event_timestamp)
            .single()
            .is_none()
        {
            let age_ms = now
                .timestamp_millis()
                .saturating_sub(payload.event_timestamp);
            return Err(Refusal::Stale { age_ms, window_ms });
        }
        Ok(VerifiedEvent { payload })
    }
}

/// `duration` in whole milliseconds, saturating at `i64::MAX`.
fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Signs `body` as Momento does (for tests and for registering with a local Momento).
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha3_256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verifier() -> Verifier {
        Verifier::new(
            SecretString::from("s3cret"),
            Duration::from_secs(60),
            Duration::from_secs(5),
        )
    }

    fn body(publish_ms: i64) -> Vec<u8> {
        body_at(publish_ms, publish_ms)
    }

    fn body_at(event_ms: i64, publish_ms: i64) -> Vec<u8> {
        format!(
            r#"{{"cache":"pollcast","topic":"votes","event_timestamp":{event_ms},"publish_timestamp":{publish_ms},"topic_sequence_number":7,"token_id":"p1:v1","text":"hi"}}"#
        )
        .into_bytes()
    }

    #[test]
    fn timestamps_at_the_ends_of_i64_are_refused_without_overflow() {
        let now = Utc::now();
        let v = verifier();
        let signed = |body: Vec<u8>| v.verify(Some(&sign("s3cret", &body)), &body, now);
        assert!(matches!(
            signed(body(i64::MIN)),
            Err(Refusal::Stale {
                age_ms: i64::MAX,
                ..
            })
        ));
        assert!(matches!(
            signed(body(i64::MAX)),
            Err(Refusal::Future { .. })
        ));
        assert!(matches!(signed(body(0)), Err(Refusal::Stale { .. })));
        let fresh = now.timestamp_millis();
        for event_ms in [i64::MIN, i64::MAX] {
            assert!(
                matches!(signed(body_at(event_ms, fresh)), Err(Refusal::Stale { .. })),
                "event_timestamp {event_ms}"
            );
        }
    }

    #[test]
    fn the_momento_sdk_test_vector_signs_as_documented() {
        let sig = sign(
            "1234567890",
            br#"{"text":"some text", "another_field": "another field" }"#,
        );
        assert!(
            sig.starts_with("b43f7278") && sig.ends_with("eea3da"),
            "{sig}"
        );
    }

    #[test]
    fn a_well_signed_fresh_event_is_verified() {
        let now = Utc::now();
        let body = body(now.timestamp_millis() - 1000);
        let event = verifier()
            .verify(Some(&sign("s3cret", &body)), &body, now)
            .unwrap();
        assert_eq!(event.token_id(), "p1:v1");
        assert_eq!(event.sequence_number(), 7);
        assert_eq!(event.text(), Some("hi"));
    }

    #[test]
    fn bad_missing_or_other_key_signatures_are_refused_before_parsing() {
        let now = Utc::now();
        let body = body(now.timestamp_millis());
        let v = verifier();
        assert_eq!(
            v.verify(None, &body, now).unwrap_err(),
            Refusal::BadSignature
        );
        assert_eq!(
            v.verify(Some("zz"), &body, now).unwrap_err(),
            Refusal::BadSignature
        );
        let other = sign("other", &body);
        assert_eq!(
            v.verify(Some(&other), &body, now).unwrap_err(),
            Refusal::BadSignature
        );
        // A garbage body with a bad signature is a signature failure, not a parse error.
        assert_eq!(
            v.verify(Some(&other), b"not json", now).unwrap_err(),
            Refusal::BadSignature
        );
        // One flipped byte of the body breaks the signature.
        let mut tampered = body.clone();
        tampered[10] ^= 1;
        let good = sign("s3cret", &body);
        assert_eq!(
            v.verify(Some(&good), &tampered, now).unwrap_err(),
            Refusal::BadSignature
        );
    }

    #[test]
    fn stale_and_future_events_are_refused() {
        let now = Utc::now();
        let v = verifier();
        let old = body(now.timestamp_millis() - 61_000);
        assert!(matches!(
            v.verify(Some(&sign("s3cret", &old)), &old, now),
            Err(Refusal::Stale { .. })
        ));
        let ahead = body(now.timestamp_millis() + 6_000);
        assert!(matches!(
            v.verify(Some(&sign("s3cret", &ahead)), &ahead, now),
            Err(Refusal::Future { .. })
        ));
        let signed_garbage = br#"{"cache": 1}"#.to_vec();
        assert!(matches!(
            v.verify(Some(&sign("s3cret", &signed_garbage)), &signed_garbage, now),
            Err(Refusal::Malformed(_))
        ));
    }
}

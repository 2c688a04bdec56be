//! Entry points for the fuzzer (`fuzz/` at the workspace root, cargo-fuzz) and their proptest
//! twins (the tests below, run by `scripts/test`): each takes arbitrary input and drives the
//! real code a hostile client reaches, which must answer without panicking.
//!
//! - [`voter_token`]: a presented key as the server reads it (raw, `Bearer`, base64 JSON), and
//!   a JWT **signed with the server's secret** around arbitrary claims, so the claims' parsing
//!   (token id, permissions, expiry) is reached, not only the signature check.
//! - [`http_topics`]: a request to the HTTP topics API, from method, path, query, headers and
//!   body (long polls answer at once: the server waits 1 ms).
//! - [`journal`]: a data dir whose journal segment holds arbitrary records (framed with valid
//!   checksums, so their decoding and application are reached) followed by arbitrary bytes,
//!   recovered as a start would.
//!
//! Not part of the API: hidden from the docs, kept stable only for `fuzz/`.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, Mac};
use secrecy::SecretBox;
use sha2::Sha256;

use crate::persist::record::{header, MAGIC_JOURNAL};
use crate::{LocalMomento, LocalMomentoConfig};

/// The secret of the fuzzed authenticator.
const SECRET: &[u8] = b"fuzzing secret, not a real one 0";

/// Reads `presented` as a key, then `claims` as the payload of a JWT signed with the secret.
pub fn voter_token(presented: &str, claims: &[u8]) {
    static AUTH: OnceLock<crate::auth::Authenticator> = OnceLock::new();
    let auth = AUTH.get_or_init(|| {
        crate::auth::Authenticator::new(&SecretBox::new(SECRET.to_vec().into_boxed_slice()))
    });
    let _ = auth.authenticate(presented);
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let signing_input = format!(
        "{}.{}",
        b64.encode(br#"{"alg":"HS256","typ":"JWT"}"#),
        b64.encode(claims)
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET).expect("any key length");
    mac.update(signing_input.as_bytes());
    let token = format!(
        "{signing_input}.{}",
        b64.encode(mac.finalize().into_bytes())
    );
    if let Ok(principal) = auth.authenticate(&token) {
        let _ =
            principal
                .grants()
                .allows_topic("pollcast", "votes", crate::auth::TopicAccess::Publish);
    }
}

/// A running server and its HTTP API, shared by every fuzzed request.
struct Server {
    runtime: tokio::runtime::Runtime,
    api: poem::Route,
    key: String,
    /// Kept running for the life of the fuzzing process, and reachable from this static (a
    /// `mem::forget` is a leak to LeakSanitizer, which fails the run).
    _momento: LocalMomento,
}

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime");
        let momento = runtime.block_on(async {
            // Long polls answer at once; a short history keeps memory flat however many
            // topics the fuzzer publishes to.
            let momento = LocalMomento::start(LocalMomentoConfig {
                long_poll_max_wait: Duration::from_millis(1),
                topic_history: 8,
                subscriber_buffer: 8,
                ..LocalMomentoConfig::default()
            })
            .await
            .expect("a local Momento starts");
            momento.ensure_cache("c").await.expect("a cache");
            momento
        });
        let key = secrecy::ExposeSecret::expose_secret(&momento.super_user_key()).to_owned();
        let api = momento.http_api();
        Server {
            runtime,
            api,
            key,
            _momento: momento,
        }
    })
}

/// One request to the HTTP topics API: `selector` picks the method and whether the request
/// carries the server's own key (so authorised paths are reached too).
pub fn http_topics(
    selector: u8,
    path: &str,
    query: &str,
    headers: &[(String, String)],
    body: &[u8],
) {
    use poem::Endpoint;
    let server = server();
    let method = match selector % 4 {
        0 => poem::http::Method::GET,
        1 => poem::http::Method::POST,
        2 => poem::http::Method::HEAD,
        _ => poem::http::Method::OPTIONS,
    };
    let uri = format!("/topics/{}?{}", path.trim_start_matches('/'), query);
    let Ok(uri) = uri.parse::<poem::http::Uri>() else {
        return;
    };
    let mut request = poem::Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    if selector & 4 != 0 {
        request = request.header("authorization", server.key.as_str());
    }
    let request = request.body(body.to_vec());
    let _ = server.runtime.block_on(server.api.call(request));
}

/// Recovers a data dir whose only journal segment holds `records` (each framed, with a valid
/// checksum) and then `tail` (raw bytes).
pub fn journal(records: &[Vec<u8>], tail: &[u8]) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static RUN: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "local-momento-fuzz-{}-{}",
        std::process::id(),
        RUN.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::create_dir_all(&dir);
    let mut segment = header(MAGIC_JOURNAL).to_vec();
    for payload in records {
        crate::persist::record::frame_payload(payload, &mut segment);
    }
    segment.extend_from_slice(tail);
    let written = std::fs::write(crate::persist::dir::segment_path(&dir, 1), &segment);
    if written.is_ok() {
        if let Ok(data) = crate::persist::dir::DataDir::open(&dir) {
            let shared = Arc::new(crate::Shared::for_recovery());
            let _ = crate::persist::recover::recover(&data, |record| {
                crate::durability::apply(&shared, record)
            });
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn any_key_and_any_signed_claims_are_read_without_panicking(
            presented in ".{0,300}",
            claims in proptest::collection::vec(any::<u8>(), 0..300),
            json_claims in r#"\{"t":"[dg]","tid":".{0,70}","exp":[0-9]{0,12},"p":"[A-Za-z0-9+/=]{0,60}"\}"#,
        ) {
            voter_token(&presented, &claims);
            voter_token(&presented, json_claims.as_bytes());
        }

        #[test]
        fn any_request_to_the_http_topics_api_is_answered_without_panicking(
            selector in any::<u8>(),
            path in "[a-z./%]{0,12}/?[a-z.%]{0,12}",
            query in "(token=[a-zA-Z0-9.]{0,20}&?)?(sequence_number=-?[0-9]{0,20}&?)?(sequence_page=[0-9a-z]{0,20})?",
            headers in proptest::collection::vec(
                ("(content-type|authorization|origin|x-a)", "[ -~]{0,40}"),
                0..4,
            ),
            body in proptest::collection::vec(any::<u8>(), 0..5000),
        ) {
            http_topics(selector, &path, &query, &headers, &body);
        }

        #[test]
        fn a_journal_of_any_records_is_recovered_or_refused_without_panicking(
            records in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 0..8),
            tail in proptest::collection::vec(any::<u8>(), 0..100),
        ) {
            journal(&records, &tail);
        }
    }
}

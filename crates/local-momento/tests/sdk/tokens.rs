//! GenerateDisposableToken through the official SDK's AuthClient, and how the server treats
//! the keys it hands out.

use std::time::Duration;

use momento::auth::{ExpiresIn, GenerateDisposableTokenRequest, PermissionScopes};
use momento::MomentoErrorCode;

use crate::helpers::{TestMomento, CACHE};

#[tokio::test]
async fn minted_token_reports_expiry_and_is_accepted_by_the_server() {
    let m = TestMomento::start().await;
    let before = now_secs();
    let response = m
        .auth_client()
        .send_request(
            GenerateDisposableTokenRequest::new(
                PermissionScopes::cache_read_write(CACHE).into(),
                ExpiresIn::minutes(30),
            )
            .token_id("voter-1".into()),
        )
        .await
        .expect("minted");
    let expires_at = response.clone().expires_at().epoch();
    assert!(
        (before + 1800..=before + 1802).contains(&expires_at),
        "expiry {expires_at} should be 30 minutes after {before}"
    );
    let cache = m.cache_client(m.token(&response.auth_token()));
    cache
        .set(CACHE, "k", "v")
        .await
        .expect("token may write its cache");
}

#[tokio::test]
async fn expiry_over_25_hours_is_refused_as_invalid_argument() {
    let m = TestMomento::start().await;
    let err = m
        .auth_client()
        .send_request(GenerateDisposableTokenRequest::new(
            PermissionScopes::cache_read_write(CACHE).into(),
            ExpiresIn::seconds(25 * 3600 + 1),
        ))
        .await
        .expect_err("over 25 h is refused");
    assert_eq!(
        err.error_code,
        MomentoErrorCode::InvalidArgumentError,
        "{err:?}"
    );

    // Exactly 25 hours is allowed.
    m.auth_client()
        .send_request(GenerateDisposableTokenRequest::new(
            PermissionScopes::cache_read_write(CACHE).into(),
            ExpiresIn::hours(25),
        ))
        .await
        .expect("25 h is the limit, inclusive");
}

#[tokio::test]
async fn a_disposable_token_cannot_mint_tokens() {
    let m = TestMomento::start().await;
    let token = m
        .mint(
            PermissionScopes::cache_read_write(CACHE),
            ExpiresIn::minutes(5),
            "t",
        )
        .await;
    let client = momento::AuthClient::builder()
        .credential_provider(m.token(&token))
        .build()
        .unwrap();
    let err = client
        .send_request(GenerateDisposableTokenRequest::new(
            PermissionScopes::cache_read_write(CACHE).into(),
            ExpiresIn::minutes(5),
        ))
        .await
        .expect_err("only super-user keys mint");
    assert_eq!(err.error_code, MomentoErrorCode::PermissionError, "{err:?}");
}

#[tokio::test]
async fn token_id_over_64_chars_is_refused_by_the_server() {
    // The SDK refuses such ids before sending, so this goes through the raw protocol.
    use momento_protos::token::generate_disposable_token_request::Expires;
    use momento_protos::token::token_client::TokenClient;
    use momento_protos::token::GenerateDisposableTokenRequest as Raw;
    let m = TestMomento::start().await;
    let mut client = TokenClient::connect(m.server.grpc_endpoint())
        .await
        .unwrap();
    let permissions = momento_protos::permission_messages::Permissions {
        kind: Some(momento_protos::permission_messages::permissions::Kind::SuperUser(0)),
    };
    let mut request = tonic::Request::new(Raw {
        expires: Some(Expires {
            valid_for_seconds: 60,
        }),
        auth_token: String::new(),
        permissions: Some(permissions),
        token_id: "x".repeat(65),
    });
    request
        .metadata_mut()
        .insert("authorization", m.key.parse().unwrap());
    let status = client
        .generate_disposable_token(request)
        .await
        .expect_err("65 chars is too long");
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(status.message().contains("64"), "{}", status.message());
}

#[tokio::test]
async fn forged_missing_and_expired_keys_are_unauthenticated() {
    let m = TestMomento::start().await;
    let other = TestMomento::start().await;

    // A key another server signed.
    let forged = m.cache_client(m.raw_v2_key(&other.key));
    let err = forged
        .get(crate::helpers::CACHE, "k")
        .await
        .expect_err("forged");
    assert_eq!(
        err.error_code,
        MomentoErrorCode::AuthenticationError,
        "{err:?}"
    );

    // A token that has expired.
    let token = m
        .mint(
            PermissionScopes::cache_read_write(CACHE),
            ExpiresIn::seconds(1),
            "short-lived",
        )
        .await;
    let client = m.cache_client(m.token(&token));
    client.set(CACHE, "k", "v").await.expect("valid at first");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let err = client.get(CACHE, "k").await.expect_err("expired");
    assert_eq!(
        err.error_code,
        MomentoErrorCode::AuthenticationError,
        "{err:?}"
    );

    // No key at all (raw protocol: the SDK insists on one).
    use momento_protos::cache_client::scs_client::ScsClient;
    let mut raw = ScsClient::connect(m.server.grpc_endpoint()).await.unwrap();
    let mut request = tonic::Request::new(momento_protos::cache_client::GetRequest {
        cache_key: b"k".to_vec(),
    });
    request
        .metadata_mut()
        .insert("cache", CACHE.parse().unwrap());
    let status = raw.get(request).await.expect_err("no key");
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

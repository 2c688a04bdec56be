//! The control plane (`ScsControl`) through the official SDK: create, list, delete and flush
//! caches, with a super-user key only.

use momento::auth::{ExpiresIn, PermissionScopes};
use momento::cache::CreateCacheResponse;
use momento::MomentoErrorCode;
use momento_protos::control_client::scs_control_client::ScsControlClient;
use momento_protos::control_client::ListSigningKeysRequest;

use crate::helpers::{status_message, TestMomento, CACHE};

#[tokio::test]
async fn a_created_cache_is_listed_and_creating_it_again_reports_already_exists() {
    let m = TestMomento::start().await;
    let cache = m.cache_client(m.super_user());
    let created = cache.create_cache("polls").await.unwrap();
    assert_eq!(created, CreateCacheResponse::Created);
    let again = cache.create_cache("polls").await.unwrap();
    assert_eq!(again, CreateCacheResponse::AlreadyExists);

    let caches = cache.list_caches().await.unwrap().caches;
    let names: Vec<&str> = caches.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, vec!["polls", CACHE], "sorted by name");
    assert!(caches.iter().all(|c| !c.cache_id.is_empty()));
    assert_eq!(caches[0].cache_limits.max_item_size_kb, 5 * 1024);
    assert_eq!(caches[0].topic_limits.max_publish_message_size_kb, 4);

    cache
        .set("polls", "k", "v")
        .await
        .expect("the new cache is usable");
}

#[tokio::test]
async fn a_deleted_cache_is_gone_with_its_items() {
    let m = TestMomento::start().await;
    let cache = m.cache_client(m.super_user());
    cache.create_cache("temp").await.unwrap();
    cache.set("temp", "k", "v").await.unwrap();
    cache.delete_cache("temp").await.unwrap();

    let err = cache.get("temp", "k").await.expect_err("deleted");
    assert_eq!(
        err.error_code,
        MomentoErrorCode::CacheNotFoundError,
        "{err:?}"
    );
    let err = cache
        .delete_cache("temp")
        .await
        .expect_err("already deleted");
    assert_eq!(
        err.error_code,
        MomentoErrorCode::CacheNotFoundError,
        "{err:?}"
    );

    cache.create_cache("temp").await.unwrap();
    let fresh = cache.get("temp", "k").await.unwrap();
    assert_eq!(
        fresh,
        momento::cache::GetResponse::Miss,
        "a new cache starts empty"
    );
}

#[tokio::test]
async fn flushing_a_cache_empties_it_and_keeps_it() {
    let m = TestMomento::start().await;
    let cache = m.cache_client(m.super_user());
    cache.set(CACHE, "k", "v").await.unwrap();
    cache
        .dictionary_set_field(CACHE, "d", "f", "v")
        .await
        .unwrap();
    cache.flush_cache(CACHE).await.unwrap();
    assert_eq!(m.get_text("k").await, None);
    let length = cache.dictionary_length(CACHE, "d").await.unwrap();
    assert_eq!(length, momento::cache::DictionaryLengthResponse::Miss);
    cache
        .set(CACHE, "k", "again")
        .await
        .expect("the cache still exists");

    let err = cache
        .flush_cache("no-such-cache")
        .await
        .expect_err("unknown");
    assert_eq!(
        err.error_code,
        MomentoErrorCode::CacheNotFoundError,
        "{err:?}"
    );
}

#[tokio::test]
async fn cache_names_outside_the_local_rules_are_invalid_arguments() {
    let m = TestMomento::start().await;
    let cache = m.cache_client(m.super_user());
    for name in ["has space", "a/b", "caf\u{e9}", &"x".repeat(256)] {
        let err = cache.create_cache(name).await.expect_err(name);
        assert_eq!(
            err.error_code,
            MomentoErrorCode::InvalidArgumentError,
            "{name:?}: {err:?}"
        );
    }
    let names: Vec<String> = cache
        .list_caches()
        .await
        .unwrap()
        .caches
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, vec![CACHE.to_owned()], "nothing was created");
}

#[tokio::test]
async fn a_disposable_token_may_not_create_list_flush_or_delete_caches() {
    let m = TestMomento::start().await;
    let token = m
        .mint(
            PermissionScopes::cache_read_write(CACHE),
            ExpiresIn::minutes(5),
            "t",
        )
        .await;
    let cache = m.cache_client(m.token(&token));
    let results = [
        cache.create_cache("mine").await.map(drop),
        cache.list_caches().await.map(drop),
        cache.flush_cache(CACHE).await.map(drop),
        cache.delete_cache(CACHE).await.map(drop),
    ];
    for result in results {
        let err = result.expect_err("control calls need a super-user key");
        assert_eq!(err.error_code, MomentoErrorCode::PermissionError, "{err:?}");
        assert!(status_message(&err).contains("super-user"), "{err:?}");
    }
    let admin = m.cache_client(m.super_user());
    let names: Vec<String> = admin
        .list_caches()
        .await
        .unwrap()
        .caches
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(
        names,
        vec![CACHE.to_owned()],
        "the cache is still there, and no other"
    );
}

#[tokio::test]
async fn signing_key_calls_answer_unimplemented_naming_the_rpc() {
    let m = TestMomento::start().await;
    let mut raw = ScsControlClient::connect(m.server.grpc_endpoint())
        .await
        .unwrap();
    let mut request = tonic::Request::new(ListSigningKeysRequest {
        next_token: String::new(),
    });
    request
        .metadata_mut()
        .insert("authorization", m.key.parse().unwrap());
    let status = raw
        .list_signing_keys(request)
        .await
        .expect_err("unimplemented");
    assert_eq!(status.code(), tonic::Code::Unimplemented);
    assert_eq!(
        status.message(),
        "local Momento does not implement ListSigningKeys"
    );
}

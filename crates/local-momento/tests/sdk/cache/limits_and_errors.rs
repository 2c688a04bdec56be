//! Size limits, unknown caches, type mismatches and unimplemented calls, as the SDK reports
//! them.

use momento::cache::{DictionaryFetchResponse, GetResponse};
use momento::MomentoErrorCode;
use momento_protos::cache_client::{GetBatchRequest, GetRequest, ItemGetTypeRequest};

use crate::helpers::{status_message, TestMomento, CACHE};

const FIVE_MB: usize = 5 * 1024 * 1024;

#[tokio::test]
async fn an_item_over_5_mb_is_refused_as_item_size_limit_exceeded_and_nothing_is_written() {
    let m = TestMomento::start().await;
    let cache = m.cache_client(m.super_user());
    cache.set(CACHE, "k", "small").await.unwrap();

    let err = cache
        .set(CACHE, "k", vec![b'x'; FIVE_MB + 1])
        .await
        .expect_err("over 5 MB");
    assert_eq!(
        err.error_code,
        MomentoErrorCode::LimitExceededError,
        "{err:?}"
    );
    assert_eq!(
        err.message, "Item size limit exceeded for this account",
        "read from `err` metadata"
    );
    assert_eq!(m.get_text("k").await.as_deref(), Some("small"));

    let err = cache
        .set_if_absent(CACHE, "new", vec![b'x'; FIVE_MB + 1])
        .await
        .expect_err("over 5 MB");
    assert_eq!(
        err.error_code,
        MomentoErrorCode::LimitExceededError,
        "{err:?}"
    );
    assert_eq!(m.get_text("new").await, None);

    // Key plus value exactly at the limit is fine.
    cache
        .set(CACHE, "k", vec![b'x'; FIVE_MB - 1])
        .await
        .unwrap();
}

#[tokio::test]
async fn a_dictionary_element_over_128_kb_is_refused_as_element_size_limit_exceeded() {
    let m = TestMomento::start().await;
    let cache = m.cache_client(m.super_user());
    cache
        .dictionary_set_field(CACHE, "d", "f", "1")
        .await
        .unwrap();
    let big = "x".repeat(128 * 1024);
    let elements = vec![("ok", "2"), ("big", big.as_str())];
    let err = cache
        .dictionary_set_fields(CACHE, "d", elements)
        .await
        .expect_err("element over 128 KB");
    assert_eq!(
        err.error_code,
        MomentoErrorCode::LimitExceededError,
        "{err:?}"
    );
    assert_eq!(err.message, "Element size limit exceeded for this account");

    let DictionaryFetchResponse::Hit { value } = cache.dictionary_fetch(CACHE, "d").await.unwrap()
    else {
        panic!("the dictionary still exists");
    };
    let fields: std::collections::HashMap<String, String> = value.try_into().unwrap();
    assert_eq!(
        fields.len(),
        1,
        "no element of the refused call was written: {fields:?}"
    );
}

#[tokio::test]
async fn calls_on_an_unknown_cache_are_cache_not_found() {
    let m = TestMomento::start().await;
    let cache = m.cache_client(m.super_user());
    let errors = [
        cache.get("no-such-cache", "k").await.map(drop),
        cache.set("no-such-cache", "k", "v").await.map(drop),
        cache.increment("no-such-cache", "k", 1).await.map(drop),
        cache.dictionary_fetch("no-such-cache", "d").await.map(drop),
        cache
            .dictionary_increment("no-such-cache", "d", "f", 1)
            .await
            .map(drop),
    ];
    for result in errors {
        let err = result.expect_err("unknown cache");
        assert_eq!(
            err.error_code,
            MomentoErrorCode::CacheNotFoundError,
            "{err:?}"
        );
        assert!(status_message(&err).contains("no-such-cache"), "{err:?}");
    }
}

/// Momento refuses a scalar call on a collection with FAILED_PRECONDITION (and the reverse);
/// Set and Delete replace or remove a key whatever it holds.
#[tokio::test]
async fn a_call_on_a_key_of_the_other_type_is_a_failed_precondition_and_changes_nothing() {
    let m = TestMomento::start().await;
    let cache = m.cache_client(m.super_user());
    cache
        .dictionary_set_field(CACHE, "d", "f", "1")
        .await
        .unwrap();
    cache.set(CACHE, "s", "1").await.unwrap();

    let mismatches = [
        cache.get(CACHE, "d").await.map(drop),
        cache.increment(CACHE, "d", 1).await.map(drop),
        cache.set_if_absent(CACHE, "d", "x").await.map(drop),
        cache.dictionary_fetch(CACHE, "s").await.map(drop),
        cache
            .dictionary_set_field(CACHE, "s", "f", "x")
            .await
            .map(drop),
        cache
            .dictionary_increment(CACHE, "s", "f", 1)
            .await
            .map(drop),
        cache
            .dictionary_remove_field(CACHE, "s", "f")
            .await
            .map(drop),
    ];
    for result in mismatches {
        let err = result.expect_err("type mismatch");
        assert_eq!(
            err.error_code,
            MomentoErrorCode::FailedPreconditionError,
            "{err:?}"
        );
        assert!(status_message(&err).contains("the key holds a"), "{err:?}");
    }
    assert_eq!(m.get_text("s").await.as_deref(), Some("1"));
    let d = cache.dictionary_get_field(CACHE, "d", "f").await.unwrap();
    assert_eq!(String::try_from(d).unwrap(), "1");

    cache.set(CACHE, "d", "now a scalar").await.unwrap();
    assert_eq!(m.get_text("d").await.as_deref(), Some("now a scalar"));
    cache.delete(CACHE, "d").await.unwrap();
    assert_eq!(cache.get(CACHE, "d").await.unwrap(), GetResponse::Miss);
}

#[tokio::test]
async fn calls_the_local_momento_lacks_answer_unimplemented_naming_the_rpc() {
    let m = TestMomento::start().await;
    let cache = m.cache_client(m.super_user());
    let err = cache
        .list_push_front(CACHE, "l", "v")
        .await
        .expect_err("lists are not implemented");
    // The SDK reports UNIMPLEMENTED as a bad request.
    assert_eq!(err.error_code, MomentoErrorCode::BadRequestError, "{err:?}");
    assert_eq!(
        status_message(&err),
        "local Momento does not implement ListPushFront"
    );

    let mut raw = m.raw_cache_client().await;
    let status = raw
        .item_get_type(m.raw_request(ItemGetTypeRequest {
            cache_key: b"k".to_vec(),
        }))
        .await
        .expect_err("not implemented");
    assert_eq!(status.code(), tonic::Code::Unimplemented);
    assert_eq!(
        status.message(),
        "local Momento does not implement ItemGetType"
    );

    // A streaming call too.
    let batch = GetBatchRequest {
        items: vec![GetRequest {
            cache_key: b"k".to_vec(),
        }],
    };
    let status = raw
        .get_batch(m.raw_request(batch))
        .await
        .expect_err("not implemented");
    assert_eq!(status.code(), tonic::Code::Unimplemented);
    assert_eq!(
        status.message(),
        "local Momento does not implement GetBatch"
    );
}

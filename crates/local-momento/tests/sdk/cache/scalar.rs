//! Get, Set, Delete, every SetIf condition, SetIfNotExists, KeysExist, Increment and the TTL
//! calls.

use std::time::Duration;

use momento::cache::{
    DecreaseTtlResponse, GetResponse, IncreaseTtlResponse, ItemGetTtlResponse,
    SetIfAbsentOrEqualResponse, SetIfAbsentResponse, SetIfEqualResponse, SetIfNotEqualResponse,
    SetIfPresentAndNotEqualResponse, SetIfPresentResponse, SetRequest, UpdateTtlResponse,
};
use momento::MomentoErrorCode;
use momento_protos::cache_client::{set_if_not_exists_response, SetIfNotExistsRequest};

use crate::helpers::{TestMomento, CACHE};

#[tokio::test]
async fn set_then_get_returns_the_value_and_delete_removes_it() {
    let m = TestMomento::start().await;
    let cache = m.cache_client(m.super_user());
    assert_eq!(cache.get(CACHE, "k").await.unwrap(), GetResponse::Miss);

    cache.set(CACHE, "k", "v1").await.unwrap();
    assert_eq!(m.get_text("k").await.as_deref(), Some("v1"));
    cache.set(CACHE, "k", "v2").await.unwrap();
    assert_eq!(m.get_text("k").await.as_deref(), Some("v2"));

    cache.delete(CACHE, "k").await.unwrap();
    assert_eq!(m.get_text("k").await, None);
    cache
        .delete(CACHE, "k")
        .await
        .expect("deleting a missing key is fine");
}

#[tokio::test]
async fn set_if_absent_stores_only_when_the_key_is_missing() {
    let m = TestMomento::start().await;
    let cache = m.cache_client(m.super_user());
    let first = cache.set_if_absent(CACHE, "k", "first").await.unwrap();
    let second = cache.set_if_absent(CACHE, "k", "second").await.unwrap();
    assert_eq!(first, SetIfAbsentResponse::Stored);
    assert_eq!(second, SetIfAbsentResponse::NotStored);
    assert_eq!(m.get_text("k").await.as_deref(), Some("first"));
}

#[tokio::test]
async fn set_if_present_stores_only_when_the_key_exists() {
    let m = TestMomento::start().await;
    let cache = m.cache_client(m.super_user());
    let missing = cache.set_if_present(CACHE, "k", "new").await.unwrap();
    assert_eq!(missing, SetIfPresentResponse::NotStored);
    assert_eq!(m.get_text("k").await, None);

    cache.set(CACHE, "k", "old").await.unwrap();
    let present = cache.set_if_present(CACHE, "k", "new").await.unwrap();
    assert_eq!(present, SetIfPresentResponse::Stored);
    assert_eq!(m.get_text("k").await.as_deref(), Some("new"));
}

#[tokio::test]
async fn set_if_equal_stores_only_when_the_value_matches() {
    let m = TestMomento::start().await;
    let cache = m.cache_client(m.super_user());
    let missing = cache.set_if_equal(CACHE, "k", "new", "old").await.unwrap();
    assert_eq!(missing, SetIfEqualResponse::NotStored);
    assert_eq!(m.get_text("k").await, None);

    cache.set(CACHE, "k", "old").await.unwrap();
    let different = cache
        .set_if_equal(CACHE, "k", "new", "other")
        .await
        .unwrap();
    assert_eq!(different, SetIfEqualResponse::NotStored);
    assert_eq!(m.get_text("k").await.as_deref(), Some("old"));

    let equal = cache.set_if_equal(CACHE, "k", "new", "old").await.unwrap();
    assert_eq!(equal, SetIfEqualResponse::Stored);
    assert_eq!(m.get_text("k").await.as_deref(), Some("new"));
}

#[tokio::test]
async fn set_if_not_equal_stores_when_the_key_is_missing_or_holds_another_value() {
    let m = TestMomento::start().await;
    let cache = m.cache_client(m.super_user());
    let missing = cache.set_if_not_equal(CACHE, "k", "a", "x").await.unwrap();
    assert_eq!(missing, SetIfNotEqualResponse::Stored);
    assert_eq!(m.get_text("k").await.as_deref(), Some("a"));

    let equal = cache.set_if_not_equal(CACHE, "k", "b", "a").await.unwrap();
    assert_eq!(equal, SetIfNotEqualResponse::NotStored);
    assert_eq!(m.get_text("k").await.as_deref(), Some("a"));

    let different = cache.set_if_not_equal(CACHE, "k", "b", "x").await.unwrap();
    assert_eq!(different, SetIfNotEqualResponse::Stored);
    assert_eq!(m.get_text("k").await.as_deref(), Some("b"));
}

#[tokio::test]
async fn set_if_present_and_not_equal_stores_only_over_another_value() {
    let m = TestMomento::start().await;
    let cache = m.cache_client(m.super_user());
    let missing = cache
        .set_if_present_and_not_equal(CACHE, "k", "a", "x")
        .await
        .unwrap();
    assert_eq!(missing, SetIfPresentAndNotEqualResponse::NotStored);
    assert_eq!(m.get_text("k").await, None);

    cache.set(CACHE, "k", "a").await.unwrap();
    let equal = cache
        .set_if_present_and_not_equal(CACHE, "k", "b", "a")
        .await
        .unwrap();
    assert_eq!(equal, SetIfPresentAndNotEqualResponse::NotStored);
    assert_eq!(m.get_text("k").await.as_deref(), Some("a"));

    let different = cache
        .set_if_present_and_not_equal(CACHE, "k", "b", "x")
        .await
        .unwrap();
    assert_eq!(different, SetIfPresentAndNotEqualResponse::Stored);
    assert_eq!(m.get_text("k").await.as_deref(), Some("b"));
}

#[tokio::test]
async fn set_if_absent_or_equal_stores_when_the_key_is_missing_or_matches() {
    let m = TestMomento::start().await;
    let cache = m.cache_client(m.super_user());
    let missing = cache
        .set_if_absent_or_equal(CACHE, "k", "a", "x")
        .await
        .unwrap();
    assert_eq!(missing, SetIfAbsentOrEqualResponse::Stored);
    assert_eq!(m.get_text("k").await.as_deref(), Some("a"));

    let different = cache
        .set_if_absent_or_equal(CACHE, "k", "b", "x")
        .await
        .unwrap();
    assert_eq!(different, SetIfAbsentOrEqualResponse::NotStored);
    assert_eq!(m.get_text("k").await.as_deref(), Some("a"));

    let equal = cache
        .set_if_absent_or_equal(CACHE, "k", "b", "a")
        .await
        .unwrap();
    assert_eq!(equal, SetIfAbsentOrEqualResponse::Stored);
    assert_eq!(m.get_text("k").await.as_deref(), Some("b"));
}

/// SetIfNotExists is what the Python SDK sends; the Rust SDK has no method for it.
#[tokio::test]
#[allow(deprecated)] // the RPC is deprecated in the protos, yet SDKs still send it
async fn set_if_not_exists_over_the_raw_protocol_stores_only_when_the_key_is_missing() {
    use set_if_not_exists_response::Result::{NotStored, Stored};
    let m = TestMomento::start().await;
    let mut raw = m.raw_cache_client().await;
    let request = |value: &str| {
        m.raw_request(SetIfNotExistsRequest {
            cache_key: b"k".to_vec(),
            cache_body: value.as_bytes().to_vec(),
            ttl_milliseconds: 60_000,
        })
    };
    let first = raw.set_if_not_exists(request("first")).await.unwrap();
    assert_eq!(first.into_inner().result, Some(Stored(Default::default())));
    let second = raw.set_if_not_exists(request("second")).await.unwrap();
    assert_eq!(
        second.into_inner().result,
        Some(NotStored(Default::default()))
    );
    assert_eq!(m.get_text("k").await.as_deref(), Some("first"));
}

#[tokio::test]
async fn keys_exist_reports_each_key_in_order() {
    let m = TestMomento::start().await;
    let cache = m.cache_client(m.super_user());
    cache.set(CACHE, "a", "1").await.unwrap();
    cache.set(CACHE, "c", "3").await.unwrap();
    let exist: Vec<bool> = cache
        .keys_exist(CACHE, vec!["a", "b", "c"])
        .await
        .unwrap()
        .into();
    assert_eq!(exist, vec![true, false, true]);
    assert!(cache.key_exists(CACHE, "a").await.unwrap().exists());
    assert!(!cache.key_exists(CACHE, "b").await.unwrap().exists());
}

#[tokio::test]
async fn increment_starts_a_missing_key_at_the_amount_and_adds_up() {
    let m = TestMomento::start().await;
    let cache = m.cache_client(m.super_user());
    assert_eq!(cache.increment(CACHE, "n", 5).await.unwrap().value, 5);
    assert_eq!(cache.increment(CACHE, "n", -7).await.unwrap().value, -2);
    assert_eq!(m.get_text("n").await.as_deref(), Some("-2"));

    cache.set(CACHE, "m", "40").await.unwrap();
    assert_eq!(cache.increment(CACHE, "m", 2).await.unwrap().value, 42);
}

#[tokio::test]
async fn increment_of_a_non_integer_is_a_failed_precondition_and_changes_nothing() {
    let m = TestMomento::start().await;
    let cache = m.cache_client(m.super_user());
    cache.set(CACHE, "n", "twelve").await.unwrap();
    let err = cache
        .increment(CACHE, "n", 1)
        .await
        .expect_err("not an integer");
    assert_eq!(
        err.error_code,
        MomentoErrorCode::FailedPreconditionError,
        "{err:?}"
    );
    assert_eq!(m.get_text("n").await.as_deref(), Some("twelve"));
}

#[tokio::test]
async fn increment_past_the_64_bit_range_is_refused_and_changes_nothing() {
    let m = TestMomento::start().await;
    let cache = m.cache_client(m.super_user());
    cache.set(CACHE, "n", i64::MAX.to_string()).await.unwrap();
    let err = cache.increment(CACHE, "n", 1).await.expect_err("overflow");
    assert_eq!(
        err.error_code,
        MomentoErrorCode::FailedPreconditionError,
        "{err:?}"
    );
    assert_eq!(m.get_text("n").await, Some(i64::MAX.to_string()));
}

#[tokio::test]
async fn an_item_is_gone_once_its_ttl_has_passed() {
    let m = TestMomento::start().await;
    let cache = m.cache_client(m.super_user());
    let short = SetRequest::new(CACHE, "short", "v").ttl(Duration::from_millis(500));
    cache.send_request(short).await.unwrap();
    cache.set(CACHE, "long", "v").await.unwrap();
    assert_eq!(m.get_text("short").await.as_deref(), Some("v"));

    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert_eq!(m.get_text("short").await, None);
    assert!(!cache.key_exists(CACHE, "short").await.unwrap().exists());
    assert_eq!(
        cache.item_get_ttl(CACHE, "short").await.unwrap(),
        ItemGetTtlResponse::Miss
    );
    assert_eq!(m.get_text("long").await.as_deref(), Some("v"));
}

#[tokio::test]
async fn item_get_ttl_reports_the_time_left() {
    let m = TestMomento::start().await;
    let cache = m.cache_client(m.super_user());
    let request = SetRequest::new(CACHE, "k", "v").ttl(Duration::from_secs(30));
    cache.send_request(request).await.unwrap();
    let ItemGetTtlResponse::Hit { remaining_ttl } = cache.item_get_ttl(CACHE, "k").await.unwrap()
    else {
        panic!("the key exists");
    };
    assert!(
        remaining_ttl <= Duration::from_secs(30),
        "{remaining_ttl:?}"
    );
    assert!(remaining_ttl > Duration::from_secs(20), "{remaining_ttl:?}");
}

#[tokio::test]
async fn update_ttl_increase_and_decrease_apply_only_in_their_direction() {
    let m = TestMomento::start().await;
    let cache = m.cache_client(m.super_user());
    let request = SetRequest::new(CACHE, "k", "v").ttl(Duration::from_secs(60));
    cache.send_request(request).await.unwrap();
    let remaining =
        || async { Duration::try_from(cache.item_get_ttl(CACHE, "k").await.unwrap()).unwrap() };

    let lower = cache
        .increase_ttl(CACHE, "k", Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(lower, IncreaseTtlResponse::NotSet);
    let higher = cache
        .increase_ttl(CACHE, "k", Duration::from_secs(600))
        .await
        .unwrap();
    assert_eq!(higher, IncreaseTtlResponse::Set);
    assert!(remaining().await > Duration::from_secs(500));

    let higher = cache
        .decrease_ttl(CACHE, "k", Duration::from_secs(900))
        .await
        .unwrap();
    assert_eq!(higher, DecreaseTtlResponse::NotSet);
    let lower = cache
        .decrease_ttl(CACHE, "k", Duration::from_secs(100))
        .await
        .unwrap();
    assert_eq!(lower, DecreaseTtlResponse::Set);
    assert!(remaining().await <= Duration::from_secs(100));

    let overwrite = cache
        .update_ttl(CACHE, "k", Duration::from_secs(300))
        .await
        .unwrap();
    assert_eq!(overwrite, UpdateTtlResponse::Set);
    assert!(remaining().await > Duration::from_secs(200));

    let missing = cache
        .update_ttl(CACHE, "nope", Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(missing, UpdateTtlResponse::Miss);
}

#[tokio::test]
async fn a_ttl_of_zero_is_refused_as_invalid_argument_and_nothing_is_written() {
    let m = TestMomento::start().await;
    let cache = m.cache_client(m.super_user());
    let request = SetRequest::new(CACHE, "k", "v").ttl(Duration::ZERO);
    let err = cache.send_request(request).await.expect_err("TTL 0");
    assert_eq!(
        err.error_code,
        MomentoErrorCode::InvalidArgumentError,
        "{err:?}"
    );
    assert_eq!(m.get_text("k").await, None);
}

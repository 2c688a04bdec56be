//! DictionaryGet, DictionaryFetch, DictionarySet, DictionaryIncrement, DictionaryDelete,
//! DictionaryLength, and collection TTLs.

use std::collections::HashMap;
use std::time::Duration;

use momento::cache::{
    CollectionTtl, DictionaryFetchResponse, DictionaryGetFieldResponse, DictionaryIncrementRequest,
    DictionaryLengthResponse, DictionarySetFieldsRequest,
};
use momento::{CacheClient, MomentoErrorCode};

use crate::helpers::{TestMomento, CACHE};

/// The whole dictionary as text, `None` if it does not exist.
async fn fetch(cache: &CacheClient, name: &str) -> Option<HashMap<String, String>> {
    match cache.dictionary_fetch(CACHE, name).await.unwrap() {
        DictionaryFetchResponse::Hit { value } => Some(value.try_into().unwrap()),
        DictionaryFetchResponse::Miss => None,
    }
}

fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(f, v)| (f.to_string(), v.to_string()))
        .collect()
}

#[tokio::test]
async fn dictionary_fields_set_are_returned_by_fetch_and_get() {
    let m = TestMomento::start().await;
    let cache = m.cache_client(m.super_user());
    assert_eq!(fetch(&cache, "d").await, None);

    let elements = vec![("a", "1"), ("b", "2")];
    cache
        .dictionary_set_fields(CACHE, "d", elements)
        .await
        .unwrap();
    cache
        .dictionary_set_field(CACHE, "d", "a", "one")
        .await
        .unwrap();
    assert_eq!(
        fetch(&cache, "d").await,
        Some(map(&[("a", "one"), ("b", "2")]))
    );

    let hit = cache.dictionary_get_field(CACHE, "d", "b").await.unwrap();
    assert_eq!(String::try_from(hit).unwrap(), "2");
    let field_miss = cache.dictionary_get_field(CACHE, "d", "zz").await.unwrap();
    assert_eq!(field_miss, DictionaryGetFieldResponse::Miss);
    let dictionary_miss = cache
        .dictionary_get_field(CACHE, "nope", "a")
        .await
        .unwrap();
    assert_eq!(dictionary_miss, DictionaryGetFieldResponse::Miss);

    let some = cache
        .dictionary_get_fields(CACHE, "d", vec!["a", "zz", "b"])
        .await
        .unwrap();
    let some: HashMap<String, String> = some.try_into().unwrap();
    assert_eq!(
        some,
        map(&[("a", "one"), ("b", "2")]),
        "the missing field is left out"
    );
}

#[tokio::test]
async fn dictionary_increment_adds_up_per_field_and_returns_the_new_value() {
    let m = TestMomento::start().await;
    let cache = m.cache_client(m.super_user());
    let incr = |field: &'static str, amount| {
        let cache = cache.clone();
        async move {
            cache
                .dictionary_increment(CACHE, "tally", field, amount)
                .await
                .unwrap()
                .value
        }
    };
    assert_eq!(incr("o1", 1).await, 1);
    assert_eq!(incr("o1", 1).await, 2);
    assert_eq!(incr("o2", 5).await, 5);
    assert_eq!(incr("o2", -6).await, -1);
    assert_eq!(
        fetch(&cache, "tally").await,
        Some(map(&[("o1", "2"), ("o2", "-1")]))
    );
}

#[tokio::test]
async fn dictionary_increment_of_a_non_integer_field_is_a_failed_precondition() {
    let m = TestMomento::start().await;
    let cache = m.cache_client(m.super_user());
    cache
        .dictionary_set_field(CACHE, "d", "f", "abc")
        .await
        .unwrap();
    let err = cache
        .dictionary_increment(CACHE, "d", "f", 1)
        .await
        .expect_err("not an integer");
    assert_eq!(
        err.error_code,
        MomentoErrorCode::FailedPreconditionError,
        "{err:?}"
    );
    assert_eq!(fetch(&cache, "d").await, Some(map(&[("f", "abc")])));
}

#[tokio::test]
async fn removing_fields_shrinks_the_dictionary_and_removing_the_last_removes_it() {
    let m = TestMomento::start().await;
    let cache = m.cache_client(m.super_user());
    let elements = vec![("a", "1"), ("b", "2"), ("c", "3")];
    cache
        .dictionary_set_fields(CACHE, "d", elements)
        .await
        .unwrap();
    let length = cache.dictionary_length(CACHE, "d").await.unwrap();
    assert_eq!(length, DictionaryLengthResponse::Hit { length: 3 });

    cache
        .dictionary_remove_field(CACHE, "d", "a")
        .await
        .unwrap();
    cache
        .dictionary_remove_fields(CACHE, "d", vec!["b", "missing"])
        .await
        .unwrap();
    assert_eq!(fetch(&cache, "d").await, Some(map(&[("c", "3")])));

    cache
        .dictionary_remove_field(CACHE, "d", "c")
        .await
        .unwrap();
    assert_eq!(fetch(&cache, "d").await, None);
    let length = cache.dictionary_length(CACHE, "d").await.unwrap();
    assert_eq!(length, DictionaryLengthResponse::Miss);
    cache
        .dictionary_remove_field(CACHE, "nope", "a")
        .await
        .expect("removing from a missing dictionary is fine");
}

#[tokio::test]
async fn collection_ttl_is_refreshed_on_update_only_when_asked() {
    let m = TestMomento::start().await;
    let cache = m.cache_client(m.super_user());
    let remaining = |name: &'static str| {
        let cache = cache.clone();
        async move { Duration::try_from(cache.item_get_ttl(CACHE, name).await.unwrap()).unwrap() }
    };
    let set =
        |ttl: CollectionTtl| DictionarySetFieldsRequest::new(CACHE, "d", vec![("f", "v")]).ttl(ttl);
    let short = Duration::from_secs(60);
    let long = Duration::from_secs(3600);

    cache
        .send_request(set(CollectionTtl::new(Some(short), false)))
        .await
        .unwrap();
    cache
        .send_request(set(CollectionTtl::initialize_only(Some(long))))
        .await
        .unwrap();
    assert!(
        remaining("d").await <= short,
        "initialize_only keeps the TTL"
    );

    cache
        .send_request(set(CollectionTtl::refresh_on_update(Some(long))))
        .await
        .unwrap();
    assert!(
        remaining("d").await > short,
        "refresh_on_update resets the TTL"
    );

    let increment = DictionaryIncrementRequest::new(CACHE, "d", "n", 1)
        .ttl(CollectionTtl::refresh_on_update(Some(short)));
    cache.send_request(increment).await.unwrap();
    assert!(
        remaining("d").await <= short,
        "an increment refreshes it too"
    );
}

#[tokio::test]
async fn a_dictionary_is_gone_once_its_ttl_has_passed() {
    let m = TestMomento::start().await;
    let cache = m.cache_client(m.super_user());
    let ttl = CollectionTtl::refresh_on_update(Duration::from_millis(500));
    let request = DictionarySetFieldsRequest::new(CACHE, "d", vec![("f", "v")]).ttl(ttl);
    cache.send_request(request).await.unwrap();
    assert!(fetch(&cache, "d").await.is_some());

    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert_eq!(fetch(&cache, "d").await, None);
    let incremented = cache
        .dictionary_increment(CACHE, "d", "n", 3)
        .await
        .unwrap();
    assert_eq!(incremented.value, 3, "an expired dictionary starts afresh");
}

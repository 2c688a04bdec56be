//! The cache permission matrix: disposable tokens minted through the SDK, each cache call
//! tried with each scope. An allowed call succeeds; a denied one fails with PermissionError
//! and leaves the data as it was.

use std::time::Duration;

use momento::auth::{DisposableTokenScope, DisposableTokenScopes, ExpiresIn, PermissionScopes};
use momento::cache::{ItemGetTtlResponse, SetRequest};
use momento::{CacheClient, MomentoErrorCode, MomentoResult};

use crate::helpers::{TestMomento, CACHE};

/// A scalar item, a counter and a dictionary; each call below touches one of them.
const ITEM: &str = "item";
const COUNTER: &str = "counter";
const DICT: &str = "dict";

/// Every cache call, by the key it touches and the access it needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    // Reads.
    Get,
    KeysExist,
    ItemGetTtl,
    DictionaryFetch,
    DictionaryGetField,
    DictionaryLength,
    // Writes that return no state.
    Set,
    UpdateTtl,
    DictionarySetField,
    DictionaryRemoveField,
    // Writes that return or depend on state: read-write only.
    SetIfAbsent,
    Increment,
    DictionaryIncrement,
    // Last, since it removes the item the other calls use.
    Delete,
}

const ALL: [Op; 14] = [
    Op::Get,
    Op::KeysExist,
    Op::ItemGetTtl,
    Op::DictionaryFetch,
    Op::DictionaryGetField,
    Op::DictionaryLength,
    Op::Set,
    Op::UpdateTtl,
    Op::DictionarySetField,
    Op::DictionaryRemoveField,
    Op::SetIfAbsent,
    Op::Increment,
    Op::DictionaryIncrement,
    Op::Delete,
];
const READS: [Op; 6] = [
    Op::Get,
    Op::KeysExist,
    Op::ItemGetTtl,
    Op::DictionaryFetch,
    Op::DictionaryGetField,
    Op::DictionaryLength,
];
const WRITES: [Op; 5] = [
    Op::Set,
    Op::UpdateTtl,
    Op::DictionarySetField,
    Op::DictionaryRemoveField,
    Op::Delete,
];

impl Op {
    async fn run(self, cache: &CacheClient) -> MomentoResult<()> {
        match self {
            Op::Get => cache.get(CACHE, ITEM).await.map(drop),
            Op::KeysExist => cache.keys_exist(CACHE, vec![ITEM]).await.map(drop),
            Op::ItemGetTtl => cache.item_get_ttl(CACHE, ITEM).await.map(drop),
            Op::DictionaryFetch => cache.dictionary_fetch(CACHE, DICT).await.map(drop),
            Op::DictionaryGetField => cache.dictionary_get_field(CACHE, DICT, "f").await.map(drop),
            Op::DictionaryLength => cache.dictionary_length(CACHE, DICT).await.map(drop),
            Op::Set => cache.set(CACHE, ITEM, "written").await.map(drop),
            Op::UpdateTtl => {
                let ttl = Duration::from_secs(60);
                cache.update_ttl(CACHE, ITEM, ttl).await.map(drop)
            }
            Op::DictionarySetField => cache
                .dictionary_set_field(CACHE, DICT, "g", "written")
                .await
                .map(drop),
            Op::DictionaryRemoveField => cache
                .dictionary_remove_field(CACHE, DICT, "f")
                .await
                .map(drop),
            Op::SetIfAbsent => cache.set_if_absent(CACHE, ITEM, "written").await.map(drop),
            Op::Increment => cache.increment(CACHE, COUNTER, 1).await.map(drop),
            Op::DictionaryIncrement => cache
                .dictionary_increment(CACHE, DICT, "n", 1)
                .await
                .map(drop),
            Op::Delete => cache.delete(CACHE, ITEM).await.map(drop),
        }
    }
}

/// What a user could observe of the data (read with the super-user key).
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    item: Option<String>,
    item_lives_over_10_minutes: bool,
    counter: Option<String>,
    dict: Option<Vec<(String, String)>>,
}

async fn snapshot(m: &TestMomento) -> Snapshot {
    let admin = m.cache_client(m.super_user());
    let ttl = match admin.item_get_ttl(CACHE, ITEM).await.unwrap() {
        ItemGetTtlResponse::Hit { remaining_ttl } => remaining_ttl,
        ItemGetTtlResponse::Miss => Duration::ZERO,
    };
    let dict = match admin.dictionary_fetch(CACHE, DICT).await.unwrap() {
        momento::cache::DictionaryFetchResponse::Hit { value } => {
            let map: std::collections::HashMap<String, String> = value.try_into().unwrap();
            let mut pairs: Vec<_> = map.into_iter().collect();
            pairs.sort();
            Some(pairs)
        }
        momento::cache::DictionaryFetchResponse::Miss => None,
    };
    Snapshot {
        item: m.get_text(ITEM).await,
        item_lives_over_10_minutes: ttl > Duration::from_secs(600),
        counter: m.get_text(COUNTER).await,
        dict,
    }
}

/// Mints a token for `scope`, resets the data, then runs every call with the token: those in
/// `allowed` must succeed, every other must be denied and change nothing.
async fn check(scope: impl Into<DisposableTokenScope>, allowed: &[Op]) {
    let m = TestMomento::start().await;
    let token = m.mint(scope, ExpiresIn::minutes(5), "matrix").await;
    let client = m.cache_client(m.token(&token));

    let admin = m.cache_client(m.super_user());
    let item = SetRequest::new(CACHE, ITEM, "original").ttl(Duration::from_secs(3600));
    admin.send_request(item).await.unwrap();
    admin.set(CACHE, COUNTER, "5").await.unwrap();
    admin
        .dictionary_set_field(CACHE, DICT, "f", "1")
        .await
        .unwrap();

    for op in ALL {
        if allowed.contains(&op) {
            op.run(&client)
                .await
                .unwrap_or_else(|err| panic!("{op:?} should be allowed: {err:?}"));
        } else {
            let before = snapshot(&m).await;
            let err = op
                .run(&client)
                .await
                .expect_err(&format!("{op:?} should be denied"));
            assert_eq!(
                err.error_code,
                MomentoErrorCode::PermissionError,
                "{op:?}: {err:?}"
            );
            assert_eq!(snapshot(&m).await, before, "denied {op:?} changed the data");
        }
    }
}

#[tokio::test]
async fn a_read_only_token_may_read_but_not_write() {
    check(PermissionScopes::cache_read_only(CACHE), &READS).await;
}

#[tokio::test]
async fn a_write_only_token_may_write_but_not_read_or_read_modify_write() {
    check(PermissionScopes::cache_write_only(CACHE), &WRITES).await;
}

#[tokio::test]
async fn a_read_write_token_may_make_every_cache_call() {
    check(PermissionScopes::cache_read_write(CACHE), &ALL).await;
}

#[tokio::test]
async fn a_token_for_another_cache_may_make_no_call_on_this_one() {
    check(PermissionScopes::cache_read_write("other-cache"), &[]).await;
}

#[tokio::test]
async fn a_topic_token_may_make_no_cache_call() {
    check(PermissionScopes::topic_publish_subscribe(CACHE, "t"), &[]).await;
}

#[tokio::test]
async fn a_key_read_write_token_may_touch_only_its_key() {
    let on_item = [
        Op::Get,
        Op::KeysExist,
        Op::ItemGetTtl,
        Op::Set,
        Op::UpdateTtl,
        Op::SetIfAbsent,
        Op::Delete,
    ];
    check(
        DisposableTokenScopes::cache_key_read_write(CACHE, ITEM),
        &on_item,
    )
    .await;
}

#[tokio::test]
async fn a_key_write_only_token_may_only_write_its_key() {
    let writes_on_item = [Op::Set, Op::UpdateTtl, Op::Delete];
    check(
        DisposableTokenScopes::cache_key_write_only(CACHE, ITEM),
        &writes_on_item,
    )
    .await;
}

#[tokio::test]
async fn a_key_prefix_read_only_token_may_only_read_keys_with_the_prefix() {
    let reads_on_dict = [
        Op::DictionaryFetch,
        Op::DictionaryGetField,
        Op::DictionaryLength,
    ];
    check(
        DisposableTokenScopes::cache_key_prefix_read_only(CACHE, "di"),
        &reads_on_dict,
    )
    .await;
}

#[tokio::test]
async fn a_key_prefix_read_write_token_may_use_keys_with_the_prefix_only() {
    check(
        DisposableTokenScopes::cache_key_prefix_read_write(CACHE, "count"),
        &[Op::Increment],
    )
    .await;
}

#[tokio::test]
async fn a_key_prefix_write_only_token_may_not_increment_even_under_its_prefix() {
    let writes_on_dict = [Op::DictionarySetField, Op::DictionaryRemoveField];
    check(
        DisposableTokenScopes::cache_key_prefix_write_only(CACHE, "dict"),
        &writes_on_dict,
    )
    .await;
}

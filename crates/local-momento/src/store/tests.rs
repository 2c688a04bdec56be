//! Unit tests of the store's subtle parts: expiry, conditions, TTL updates, dictionary size
//! accounting, and refusals that must leave data unchanged. Time is passed in, not slept.

use super::*;

const MINUTE: u64 = 60_000;

/// Drops the LSN a store call returns (these tests run without a journal).
trait NoLsn {
    type Out;
    fn v(self) -> Self::Out;
}

impl<T> NoLsn for (T, Lsn) {
    type Out = T;
    fn v(self) -> T {
        self.0
    }
}

impl<T> NoLsn for Result<(T, Lsn), StoreError> {
    type Out = Result<T, StoreError>;
    fn v(self) -> Result<T, StoreError> {
        self.map(|(value, _)| value)
    }
}

fn cache() -> Arc<Cache> {
    let store = Store::new(Log::default());
    store.create_cache("c").unwrap();
    store.cache("c").unwrap()
}

fn ttl(ttl_ms: u64, refresh: bool) -> CollectionTtl {
    CollectionTtl { ttl_ms, refresh }
}

#[test]
fn an_item_is_visible_until_its_ttl_and_gone_from_then_on() {
    let c = cache();
    c.set(b"k".to_vec(), b"v".to_vec(), 100, 1_000).unwrap();
    assert_eq!(c.get(b"k", 1_099).v().unwrap(), Some(b"v".to_vec()));
    assert_eq!(c.remaining_ttl(b"k", 1_099).v(), Some(1));
    assert_eq!(c.get(b"k", 1_100).v().unwrap(), None);
    assert_eq!(c.keys_exist(&[b"k".to_vec()], 1_100).v(), vec![false]);
    assert_eq!(c.len(), 0, "the expired item is removed on access");
}

#[test]
fn the_sweep_removes_expired_items_and_keeps_live_ones() {
    let store = Store::new(Log::default());
    store.create_cache("c").unwrap();
    let c = store.cache("c").unwrap();
    c.set(b"short".to_vec(), b"v".to_vec(), 10, 0).unwrap();
    c.set(b"long".to_vec(), b"v".to_vec(), MINUTE, 0).unwrap();
    assert_eq!(store.sweep(10), 1);
    assert_eq!(c.len(), 1);
    assert_eq!(c.get(b"long", 10).v().unwrap(), Some(b"v".to_vec()));
}

#[test]
fn an_expired_key_counts_as_absent_for_conditions_and_increments() {
    let c = cache();
    c.set(b"k".to_vec(), b"41".to_vec(), 10, 0).unwrap();
    assert!(c
        .set_if(
            b"k".to_vec(),
            b"new".to_vec(),
            MINUTE,
            Condition::Absent,
            10
        )
        .v()
        .unwrap());
    c.set(b"n".to_vec(), b"41".to_vec(), 10, 0).unwrap();
    assert_eq!(c.increment(b"n".to_vec(), 1, MINUTE, 10).v().unwrap(), 1);
}

#[test]
fn every_set_if_condition_follows_its_truth_table() {
    use Condition::*;
    let (missing, held, other): (Option<&[u8]>, &[u8], &[u8]) = (None, b"held", b"other");
    let cases: [(Condition, [bool; 3]); 6] = [
        // (condition, [missing, equal to held, holding other])
        (Absent, [true, false, false]),
        (Present, [false, true, true]),
        (Equal(held), [false, true, false]),
        (NotEqual(held), [true, false, true]),
        (PresentAndNotEqual(held), [false, false, true]),
        (AbsentOrEqual(held), [true, true, false]),
    ];
    for (condition, expected) in cases {
        let got = [
            condition.holds(missing),
            condition.holds(Some(held)),
            condition.holds(Some(other)),
        ];
        assert_eq!(got, expected, "{condition:?}");
    }
}

#[test]
fn set_if_not_stored_leaves_value_and_ttl_unchanged() {
    let c = cache();
    c.set(b"k".to_vec(), b"old".to_vec(), MINUTE, 0).unwrap();
    let stored = c
        .set_if(b"k".to_vec(), b"new".to_vec(), 5, Condition::Absent, 0)
        .v()
        .unwrap();
    assert!(!stored);
    assert_eq!(c.get(b"k", 10).v().unwrap(), Some(b"old".to_vec()));
    assert_eq!(c.remaining_ttl(b"k", 0).v(), Some(MINUTE));
}

#[test]
fn increment_refuses_non_integers_and_overflow_without_writing() {
    let c = cache();
    c.set(b"text".to_vec(), b"12a".to_vec(), MINUTE, 0).unwrap();
    assert_eq!(
        c.increment(b"text".to_vec(), 1, MINUTE, 0).v(),
        Err(StoreError::NotAnInteger)
    );
    assert_eq!(c.get(b"text", 0).v().unwrap(), Some(b"12a".to_vec()));

    c.set(
        b"max".to_vec(),
        i64::MAX.to_string().into_bytes(),
        MINUTE,
        0,
    )
    .unwrap();
    assert!(matches!(
        c.increment(b"max".to_vec(), 1, MINUTE, 0).v(),
        Err(StoreError::Overflow { .. })
    ));
    assert_eq!(
        c.get(b"max", 0).v().unwrap(),
        Some(i64::MAX.to_string().into_bytes())
    );
    assert_eq!(
        c.increment(b"max".to_vec(), -1, MINUTE, 0).v().unwrap(),
        i64::MAX - 1
    );
}

#[test]
fn update_ttl_increases_or_decreases_only_in_its_direction() {
    let c = cache();
    c.set(b"k".to_vec(), b"v".to_vec(), 1_000, 0).unwrap();
    assert_eq!(
        c.update_ttl(b"k".to_vec(), TtlUpdate::Increase(500), 0).v(),
        Ok(TtlUpdated::NotSet)
    );
    assert_eq!(
        c.update_ttl(b"k".to_vec(), TtlUpdate::Increase(2_000), 0)
            .v(),
        Ok(TtlUpdated::Set)
    );
    assert_eq!(c.remaining_ttl(b"k", 0).v(), Some(2_000));
    assert_eq!(
        c.update_ttl(b"k".to_vec(), TtlUpdate::Decrease(3_000), 0)
            .v(),
        Ok(TtlUpdated::NotSet)
    );
    assert_eq!(
        c.update_ttl(b"k".to_vec(), TtlUpdate::Decrease(100), 0).v(),
        Ok(TtlUpdated::Set)
    );
    assert_eq!(
        c.update_ttl(b"k".to_vec(), TtlUpdate::Overwrite(700), 0)
            .v(),
        Ok(TtlUpdated::Set)
    );
    assert_eq!(c.remaining_ttl(b"k", 0).v(), Some(700));
    assert_eq!(
        c.update_ttl(b"gone".to_vec(), TtlUpdate::Overwrite(1), 0)
            .v(),
        Ok(TtlUpdated::Missing)
    );
}

#[test]
fn a_key_holding_a_dictionary_refuses_scalar_reads_and_conditions() {
    let c = cache();
    let elements = vec![(b"f".to_vec(), b"1".to_vec())];
    c.dictionary_set(b"d".to_vec(), elements, ttl(MINUTE, true), 0)
        .unwrap();
    let mismatch = StoreError::WrongType {
        found: Kind::Dictionary,
        expected: Kind::Scalar,
    };
    assert_eq!(c.get(b"d", 0).v(), Err(mismatch.clone()));
    assert_eq!(
        c.increment(b"d".to_vec(), 1, MINUTE, 0).v(),
        Err(mismatch.clone())
    );
    let absent = c
        .set_if(b"d".to_vec(), b"x".to_vec(), MINUTE, Condition::Absent, 0)
        .v();
    assert_eq!(absent, Err(mismatch));
    assert_eq!(c.dictionary_length(b"d", 0).v().unwrap(), Some(1));

    c.set(b"s".to_vec(), b"1".to_vec(), MINUTE, 0).unwrap();
    let mismatch = StoreError::WrongType {
        found: Kind::Scalar,
        expected: Kind::Dictionary,
    };
    let increment = c
        .dictionary_increment(b"s".to_vec(), b"f".to_vec(), 1, ttl(MINUTE, true), 0)
        .v();
    assert_eq!(increment, Err(mismatch.clone()));
    let delete = c.dictionary_delete(b"s".to_vec(), FieldsToDelete::All, 0);
    assert_eq!(delete, Err(mismatch));
    assert_eq!(c.get(b"s", 0).v().unwrap(), Some(b"1".to_vec()));
}

#[test]
fn collection_ttl_is_set_on_creation_and_refreshed_only_when_asked() {
    let c = cache();
    let one = |v: &str| vec![(b"f".to_vec(), v.as_bytes().to_vec())];
    c.dictionary_set(b"d".to_vec(), one("1"), ttl(1_000, false), 0)
        .unwrap();
    c.dictionary_set(b"d".to_vec(), one("2"), ttl(9_000, false), 500)
        .unwrap();
    assert_eq!(c.remaining_ttl(b"d", 500).v(), Some(500), "not refreshed");
    c.dictionary_increment(b"d".to_vec(), b"n".to_vec(), 1, ttl(9_000, true), 500)
        .v()
        .unwrap();
    assert_eq!(c.remaining_ttl(b"d", 500).v(), Some(9_000), "refreshed");
}

#[test]
fn dictionary_size_accounting_follows_overwrites_deletes_and_repeated_fields() {
    let c = cache();
    let elements = vec![
        (b"a".to_vec(), b"123".to_vec()),
        (b"a".to_vec(), b"12".to_vec()),
        (b"bb".to_vec(), b"1".to_vec()),
    ];
    c.dictionary_set(b"d".to_vec(), elements, ttl(MINUTE, true), 0)
        .unwrap();
    let bytes = |c: &Cache| {
        c.read(b"d", 0, |item| item.dictionary().unwrap().bytes)
            .0
            .unwrap()
    };
    assert_eq!(bytes(&c), 3 + 3, "a=12 and bb=1");
    let fields = FieldsToDelete::Some(vec![b"a".to_vec(), b"missing".to_vec()]);
    c.dictionary_delete(b"d".to_vec(), fields, 0).unwrap();
    assert_eq!(bytes(&c), 3);
    let fields = FieldsToDelete::Some(vec![b"bb".to_vec()]);
    c.dictionary_delete(b"d".to_vec(), fields, 0).unwrap();
    assert_eq!(
        c.dictionary_fetch(b"d", 0).v().unwrap(),
        None,
        "an empty dictionary is gone"
    );
}

#[test]
fn a_dictionary_write_over_a_limit_changes_nothing() {
    let c = cache();
    c.dictionary_set(
        b"d".to_vec(),
        vec![(b"f".to_vec(), b"1".to_vec())],
        ttl(10, false),
        0,
    )
    .unwrap();
    let too_big = vec![0u8; MAX_ELEMENT_BYTES];
    let elements = vec![(b"ok".to_vec(), b"2".to_vec()), (b"f".to_vec(), too_big)];
    let refused = c.dictionary_set(b"d".to_vec(), elements, ttl(MINUTE, true), 0);
    assert!(matches!(refused, Err(StoreError::ElementTooLarge { .. })));

    // Many elements under 128 KB each, over 5 MB together.
    let element = vec![0u8; 100 * 1024];
    let elements: Vec<_> = (0..60u8).map(|i| (vec![i], element.clone())).collect();
    let refused = c.dictionary_set(b"d".to_vec(), elements, ttl(MINUTE, true), 0);
    assert!(matches!(refused, Err(StoreError::ItemTooLarge { .. })));

    let fetched = c.dictionary_fetch(b"d", 0).v().unwrap().unwrap();
    assert_eq!(fetched, vec![(b"f".to_vec(), b"1".to_vec())]);
    assert_eq!(c.remaining_ttl(b"d", 0).v(), Some(10), "TTL untouched");
}

#[test]
fn an_item_over_5_mb_is_refused_and_one_at_the_limit_is_stored() {
    let c = cache();
    let key = b"k".to_vec();
    let at_limit = vec![0u8; MAX_ITEM_BYTES - key.len()];
    c.set(key.clone(), at_limit, MINUTE, 0).unwrap();
    let over = vec![1u8; MAX_ITEM_BYTES - key.len() + 1];
    let refused = c.set(key.clone(), over, MINUTE, 0);
    assert!(matches!(refused, Err(StoreError::ItemTooLarge { .. })));
    assert_eq!(
        c.get(&key, 0).v().unwrap().unwrap()[0],
        0,
        "the old value stays"
    );
}

#[test]
fn deleting_and_recreating_a_cache_starts_empty() {
    let store = Store::new(Log::default());
    store.create_cache("c").unwrap();
    store
        .cache("c")
        .unwrap()
        .set(b"k".to_vec(), b"v".to_vec(), MINUTE, 0)
        .unwrap();
    assert!(store.create_cache("c").is_err());
    store.delete_cache("c").unwrap();
    assert!(store.cache("c").is_err());
    store.create_cache("c").unwrap();
    assert_eq!(store.cache("c").unwrap().get(b"k", 0).v().unwrap(), None);
}

//! Property test of recovery: random sequences of changes are journaled; the journal is then
//! cut at random byte offsets (what a crash in the middle of a write leaves); a server started
//! on each cut must hold exactly the state after the last complete record before the cut.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use proptest::prelude::*;

use super::record::{frames, Record, HEADER_BYTES};
use super::snapshot::RecordSink;
use super::{FsyncPolicy, Persistence};
use crate::clock::monotonic_ms;
use crate::message::Value;
use crate::store::{CollectionTtl, Condition, FieldsToDelete, TtlUpdate};
use crate::{durability, LocalMomento, LocalMomentoConfig};

/// One change a client could make.
#[derive(Clone, Debug)]
enum Op {
    Set(u8, u16),
    SetIfAbsent(u8, u16),
    SetIfEqual(u8, u16, u16),
    Delete(u8),
    Increment(u8, i8),
    DictSet(u8, u8, u16),
    DictIncrement(u8, u8, i8),
    DictDelete(u8, Option<u8>),
    UpdateTtl(u8),
    Publish(u8, u16),
    CreateCache,
    FlushCache,
    DeleteCache,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..6u8, any::<u16>()).prop_map(|(k, v)| Op::Set(k, v)),
        (0..6u8, any::<u16>()).prop_map(|(k, v)| Op::SetIfAbsent(k, v)),
        (0..6u8, 0..4u16, any::<u16>()).prop_map(|(k, e, v)| Op::SetIfEqual(k, e, v)),
        (0..6u8).prop_map(Op::Delete),
        (6..9u8, any::<i8>()).prop_map(|(k, n)| Op::Increment(k, n)),
        (0..3u8, 0..4u8, any::<u16>()).prop_map(|(d, f, v)| Op::DictSet(d, f, v)),
        (0..3u8, 4..6u8, any::<i8>()).prop_map(|(d, f, n)| Op::DictIncrement(d, f, n)),
        (0..3u8, proptest::option::of(0..6u8)).prop_map(|(d, f)| Op::DictDelete(d, f)),
        (0..9u8).prop_map(Op::UpdateTtl),
        (0..2u8, any::<u16>()).prop_map(|(t, v)| Op::Publish(t, v)),
        Just(Op::CreateCache),
        Just(Op::FlushCache),
        Just(Op::DeleteCache),
    ]
}

const MINUTE: u64 = 60_000;

/// Applies `op` through the server's internals (the gRPC layer adds nothing to durability but
/// the wait, done here too). Refused calls (wrong type, missing cache) are part of the game.
async fn apply(m: &LocalMomento, op: &Op) {
    let shared = &m.shared;
    let now = monotonic_ms();
    let cache_of = |name: &str| shared.store.cache(name).ok();
    let lsn = match op {
        Op::CreateCache => shared.store.create_cache("c2").ok(),
        Op::FlushCache => shared.store.flush_cache("c2").ok(),
        Op::DeleteCache => shared.store.delete_cache("c2").ok(),
        Op::Publish(t, v) => {
            let topic = format!("t{t}");
            shared
                .topics
                .publish("c", &topic, Value::Text(v.to_string()), "p")
                .await
                .unwrap();
            None
        }
        other => {
            // Keys 0..=2 go to cache c, the others to c2 (which comes and goes).
            let key_cache = |k: u8| if k < 3 { "c" } else { "c2" };
            let key = |k: u8| format!("k{k}").into_bytes();
            let dict = |d: u8| format!("d{d}").into_bytes();
            match other {
                Op::Set(k, v) => cache_of(key_cache(*k)).and_then(|c| {
                    c.set(key(*k), v.to_string().into_bytes(), 10 * MINUTE, now)
                        .ok()
                }),
                Op::SetIfAbsent(k, v) => cache_of(key_cache(*k)).and_then(|c| {
                    c.set_if(
                        key(*k),
                        v.to_string().into_bytes(),
                        MINUTE,
                        Condition::Absent,
                        now,
                    )
                    .ok()
                    .map(|(_, lsn)| lsn)
                }),
                Op::SetIfEqual(k, e, v) => cache_of(key_cache(*k)).and_then(|c| {
                    let expected = e.to_string().into_bytes();
                    c.set_if(
                        key(*k),
                        v.to_string().into_bytes(),
                        MINUTE,
                        Condition::Equal(&expected),
                        now,
                    )
                    .ok()
                    .map(|(_, lsn)| lsn)
                }),
                Op::Delete(k) => cache_of(key_cache(*k)).and_then(|c| c.delete(key(*k), now).ok()),
                Op::Increment(k, n) => cache_of("c").and_then(|c| {
                    c.increment(key(*k), i64::from(*n), MINUTE, now)
                        .ok()
                        .map(|(_, lsn)| lsn)
                }),
                Op::DictSet(d, f, v) => cache_of("c").and_then(|c| {
                    c.dictionary_set(
                        dict(*d),
                        vec![(vec![b'f', b'0' + f], v.to_string().into_bytes())],
                        CollectionTtl {
                            ttl_ms: MINUTE,
                            refresh: v % 2 == 0,
                        },
                        now,
                    )
                    .ok()
                }),
                Op::DictIncrement(d, f, n) => cache_of("c").and_then(|c| {
                    c.dictionary_increment(
                        dict(*d),
                        vec![b'f', b'0' + f],
                        i64::from(*n),
                        CollectionTtl {
                            ttl_ms: MINUTE,
                            refresh: true,
                        },
                        now,
                    )
                    .ok()
                    .map(|(_, lsn)| lsn)
                }),
                Op::DictDelete(d, f) => cache_of("c").and_then(|c| {
                    let fields = match f {
                        Some(f) => FieldsToDelete::Some(vec![vec![b'f', b'0' + f]]),
                        None => FieldsToDelete::All,
                    };
                    c.dictionary_delete(dict(*d), fields, now).ok()
                }),
                Op::UpdateTtl(k) => cache_of(key_cache(*k)).and_then(|c| {
                    c.update_ttl(key(*k), TtlUpdate::Overwrite(20 * MINUTE), now)
                        .ok()
                        .map(|(_, lsn)| lsn)
                }),
                _ => unreachable!(),
            }
        }
    };
    if let Some(lsn) = lsn {
        shared.log.wait(lsn).await.unwrap();
    }
}

/// The state as sorted snapshot records (the snapshot writes everything there is).
fn dump(m: &LocalMomento) -> Vec<String> {
    struct Lines(BTreeSet<String>);
    impl RecordSink for Lines {
        fn write(&mut self, record: &Record<'_>) -> anyhow::Result<()> {
            let line = match record {
                // A dictionary's fields come in hash order: sort them.
                Record::Fields {
                    cache,
                    name,
                    fresh,
                    expires_at,
                    fields,
                } => {
                    let mut fields = fields.clone();
                    fields.sort();
                    format!("Fields {cache} {name:?} {fresh} {expires_at} {fields:?}")
                }
                other => format!("{other:?}"),
            };
            self.0.insert(line);
            Ok(())
        }
    }
    let mut lines = Lines(BTreeSet::new());
    durability::write_state(&m.shared, &mut lines).unwrap();
    lines.0.into_iter().collect()
}

fn config(dir: &Path) -> LocalMomentoConfig {
    LocalMomentoConfig {
        persistence: Persistence::Durable {
            dir: dir.to_owned(),
            fsync: FsyncPolicy::Never, // durability against a process crash is the same
        },
        ..LocalMomentoConfig::default()
    }
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name() != "LOCK" {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// Runs `ops`; then, for each cut, recovers a copy of the data dir whose journal is cut there.
async fn check(ops: Vec<Op>, cuts: Vec<prop::sample::Index>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let m = LocalMomento::start(config(dir.path())).await.unwrap();
    // States after 0, 1, 2, ... records (an op that changes nothing adds no record).
    let mut states = vec![dump(&m)];
    m.ensure_cache("c").await.unwrap();
    states.push(dump(&m));
    for op in &ops {
        apply(&m, op).await;
        let records = m.journal_stats().unwrap().records as usize;
        while states.len() <= records {
            states.push(dump(&m));
        }
        prop_assert_eq!(states.len(), records + 1, "one record per change at most");
    }
    m.stop_without_snapshot().await;

    let segment = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "log"))
        .unwrap();
    let bytes = std::fs::read(&segment).unwrap();
    // Where each record ends.
    let mut ends = Vec::new();
    frames::<()>(&bytes[HEADER_BYTES..], |offset, payload| {
        ends.push(offset + 8 + payload.len());
        Ok(())
    })
    .unwrap();
    prop_assert_eq!(ends.len() + 1, states.len());
    for cut in cuts {
        let at = cut.index(bytes.len() + 1);
        let complete = ends.iter().filter(|&&end| end <= at).count();
        let copy = tempfile::tempdir().unwrap();
        copy_dir(dir.path(), copy.path());
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(copy.path().join(segment.file_name().unwrap()))
            .unwrap();
        file.set_len(at as u64).unwrap();
        drop(file);
        let recovered = LocalMomento::start(config(copy.path())).await.unwrap();
        let state = dump(&recovered);
        recovered.shutdown_within(Duration::from_secs(5)).await;
        prop_assert_eq!(
            &state,
            &states[complete],
            "cut at byte {} of {}: {} complete records",
            at,
            bytes.len(),
            complete
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    #[test]
    fn recovery_after_a_cut_journal_gives_the_state_after_the_last_complete_record(
        ops in proptest::collection::vec(op(), 1..40),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 1..6),
    ) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(check(ops, cuts))?;
    }
}

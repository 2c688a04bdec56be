use proptest::prelude::*;

use super::*;
use crate::domain::words::terms;

fn poll() -> PollId {
    PollId::parse("p7Kx2").unwrap()
}

fn key() -> EntryKey {
    EntryKey::new(b"test key".to_vec())
}

#[test]
fn an_admin_decision_wins_then_the_filter_then_the_poll_setting() {
    use Decision::*;
    use EntryStatus::*;
    for moderation in [Moderation::Pre, Moderation::Post] {
        assert_eq!(status(moderation, Some(Hidden), false), HiddenByAdmin);
        assert_eq!(status(moderation, Some(Approved), true), Visible);
        assert_eq!(status(moderation, None, true), HiddenByFilter);
    }
    assert_eq!(status(Moderation::Pre, None, false), Pending);
    assert_eq!(status(Moderation::Post, None, false), Visible);
}

#[test]
fn entry_ids_are_stable_keyed_and_depend_on_voter_and_text() {
    let id = key().entry_id(&poll(), "alice", "Rust");
    assert_eq!(id.len(), 12);
    assert_eq!(id, key().entry_id(&poll(), "alice", "Rust"));
    assert_ne!(id, key().entry_id(&poll(), "bob", "Rust"));
    assert_ne!(id, key().entry_id(&poll(), "alice", "Zig"));
    assert_ne!(
        id,
        EntryKey::new(b"other".to_vec()).entry_id(&poll(), "alice", "Rust")
    );
    // Parts are length-prefixed: moving a character from one part to the next changes the id.
    assert_ne!(
        key().entry_id(&poll(), "ab", "c"),
        key().entry_id(&poll(), "a", "bc")
    );
}

#[test]
fn the_public_sees_visible_entries_and_their_words_only() {
    let texts = [
        vec!["Rust".to_owned()],
        vec!["darn it".to_owned()],
        vec!["Zig".to_owned()],
    ];
    let ledger = [
        ("a", &texts[0][..]),
        ("b", &texts[1][..]),
        ("c", &texts[2][..]),
    ];
    let zig = key().entry_id(&poll(), "c", "Zig");
    let decisions = HashMap::from([(zig, Decision::Hidden)]);
    let filter = |t: &str| t.contains("darn");
    let all = entries(
        &poll(),
        Moderation::Post,
        &key(),
        ledger,
        &decisions,
        Some(&filter),
    );
    let statuses: Vec<(&str, EntryStatus)> =
        all.iter().map(|e| (e.text.as_str(), e.status)).collect();
    assert_eq!(
        statuses,
        [
            ("darn it", EntryStatus::HiddenByFilter),
            ("Rust", EntryStatus::Visible),
            ("Zig", EntryStatus::HiddenByAdmin)
        ]
    );
    let public = OpenTextResults::public(&all);
    assert_eq!(public.entries_total, 1);
    assert_eq!(public.entries[0].text, "Rust");
    assert_eq!(
        public.words,
        [WordCount {
            word: "rust".into(),
            count: 1
        }]
    );
}

#[test]
fn a_large_poll_is_cut_to_fit_a_results_message() {
    let texts: Vec<Vec<String>> = (0..200)
        .map(|i| vec![format!("entry number {i:03} {}", "x".repeat(100))])
        .collect();
    let voters: Vec<String> = (0..200).map(|i| format!("v{i}")).collect();
    let ledger = voters
        .iter()
        .map(String::as_str)
        .zip(texts.iter().map(Vec::as_slice));
    let all = entries(
        &poll(),
        Moderation::Post,
        &key(),
        ledger,
        &HashMap::new(),
        None,
    );
    let public = OpenTextResults::public(&all);
    assert_eq!(public.entries_total, 200);
    assert!(public.entries.len() < 200 && !public.entries.is_empty());
    let json = serde_json::to_string(&public).unwrap();
    assert!(json.len() < 3400, "{} bytes", json.len());
}

/// A ledger of up to 12 voters with up to 3 entries each, from a small vocabulary (so texts
/// and words repeat across entries of different statuses).
fn ledgers() -> impl Strategy<Value = Vec<Vec<String>>> {
    let word = prop::sample::select(vec![
        "rust",
        "Rust!",
        "go",
        "zig",
        "the",
        "borrow checker",
        "darn",
        "a b c d",
    ]);
    let entry = prop::collection::vec(word, 1..=5).prop_map(|w| w.join(" "));
    prop::collection::vec(prop::collection::vec(entry, 1..=3), 0..12)
}

proptest! {
    #[test]
    fn moderation_never_shows_a_hidden_or_pending_entry(
        ledger in ledgers(),
        hide in prop::collection::vec(any::<Option<bool>>(), 36),
        pre in any::<bool>(),
        filter_on in any::<bool>(),
    ) {
        let voters: Vec<String> = (0..ledger.len()).map(|i| format!("v{i}")).collect();
        let pairs = || voters.iter().map(String::as_str).zip(ledger.iter().map(Vec::as_slice));
        let moderation = if pre { Moderation::Pre } else { Moderation::Post };
        let flag = |t: &str| t.contains("darn");
        let filter: Option<&dyn Fn(&str) -> bool> = if filter_on { Some(&flag) } else { None };
        // Decisions on some entries, by their ids.
        let first = entries(&poll(), moderation, &key(), pairs(), &HashMap::new(), filter);
        let decisions: HashMap<String, Decision> = first
            .iter()
            .zip(&hide)
            .filter_map(|(e, h)| h.map(|h| (e.id.clone(), if h { Decision::Hidden } else { Decision::Approved })))
            .collect();
        let all = entries(&poll(), moderation, &key(), pairs(), &decisions, filter);
        let public = OpenTextResults::public(&all);

        let visible: Vec<&Entry> = all.iter().filter(|e| e.status.is_visible()).collect();
        for shown in &public.entries {
            let entry = all.iter().find(|e| e.id == shown.id).expect("a known entry");
            prop_assert!(entry.status.is_visible(), "{entry:?} shown");
        }
        prop_assert_eq!(public.entries_total, visible.len() as u64);
        // The word list is the visible entries' alone.
        let (expected, total) = word_list(visible.iter().map(|e| e.text.as_str()));
        prop_assert_eq!(public.words_total, total);
        prop_assert_eq!(&public.words[..], &expected[..public.words.len()]);
        // A hidden entry's terms appear only as far as visible entries give them too.
        for entry in all.iter().filter(|e| !e.status.is_visible()) {
            for term in terms(&entry.text) {
                let from_visible = visible.iter().any(|v| terms(&v.text).contains(&term));
                prop_assert!(from_visible || public.words.iter().all(|w| w.word != term));
            }
            prop_assert_eq!(
                entry.status == EntryStatus::HiddenByAdmin,
                decisions.get(&entry.id) == Some(&Decision::Hidden)
            );
        }
    }
}

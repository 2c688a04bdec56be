//! Every cache key and topic name pollcast uses, in one place: the table in
//! `docs/DESIGN-NOTES.md` ("Keys and topics"), spelled out. Nothing else formats a key.
//!
//! | what | name |
//! |---|---|
//! | poll record | `poll:{poll_id}` |
//! | poll index | dictionary `polls` |
//! | voter's ballot (the dedupe decision) | `ballot:{poll_id}:{voter_id}` |
//! | ballot ledger | dictionaries `ballots:{poll_id}:{0..15}` |
//! | seats of a capped poll | `seats:{poll_id}` |
//! | results seq | `results_seq:{poll_id}` |
//! | results snapshot | `results:{poll_id}` |
//! | which replica refreshes a poll's TTLs this period | `keep_alive:{poll_id}` (`SetIf` Absent, TTL a quarter of the record TTL) |
//! | ballots in doubt (the sweep's work list) | dictionary `in_doubt` |
//! | readiness probe (read, never written) | `pollcast:readiness` |
//! | where the subscription ingest is in a votes topic | `ingest_cursor:{topic}` = `"{page}:{seq}"` (`ingest_cursor:votes` with one shard) |
//! | how many votes topics the cache's votes use (set once) | `ingest_shards` |
//! | who ingests a votes shard (a lease: compare-and-set with a TTL) | `ingest_lease:{shard}` = the replica id |
//! | replicas ingesting by subscription | dictionary `ingest_replicas` (field = replica id); each alive while `ingest_replica:{id}` is |
//! | a voter's last rejected vote | `vote_status:{poll_id}:{voter_id}` |
//! | a voter token pollcast minted | `voter_token:{sha3-256 of the token's key, hex}` |
//! | a proof-of-work puzzle already answered | `pow:{challenge, hex}` |
//! | moderation decisions of an open-text poll | dictionary `moderation:{poll_id}` |
//! | event record | `event:{event_id}` |
//! | an event's join code | `join_code:{CODE}` = the event id |
//! | event index | dictionary `events` |
//! | votes topics (sharded by poll) | `votes` (one shard, the embedded default), else `votes.{shard}` |
//! | results topic (what voters may see) | `results.{poll_id}` |
//! | admins' results topic (results voters may not see yet) | `results-admin.{poll_id}` |

use crate::domain::session::{EventId, JoinCode};
use crate::domain::{PollId, VoterId};

/// The votes topic of a single-shard deployment (the embedded default), and the stem of the
/// sharded ones' names.
pub const VOTES_TOPIC: &str = "votes";

/// How many votes topics the cache's votes use: written by the first replica to ingest, and
/// checked by every later start (a replica with another count would leave topics unread).
pub const INGEST_SHARDS: &str = "ingest_shards";

/// Replicas ingesting votes by subscription (field = replica id): how many share the shards
/// (those whose [`ingest_replica`] key has not expired).
pub const INGEST_REPLICAS: &str = "ingest_replicas";

/// How a cache's votes are spread over topics: each poll's votes go to one of `count` topics,
/// chosen from its id, so one poll's votes stay in order in one topic, and replicas share the
/// topics (see `ingest/shards.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VoteShards(u32);

impl VoteShards {
    /// `count` topics (at least 1).
    pub fn new(count: u32) -> Self {
        Self(count.max(1))
    }

    /// How many topics.
    pub fn count(self) -> u32 {
        self.0
    }

    /// The shard of `poll`'s votes (FNV-1a of its id: stable across replicas and releases).
    pub fn of(self, poll: &PollId) -> u32 {
        (fnv1a(poll.as_str()) % u64::from(self.0)) as u32
    }

    /// The topic of shard `shard`: `votes` when there is one shard (as before sharding, so data
    /// dirs and tokens of earlier releases keep working), else `votes.{shard}`.
    pub fn topic(self, shard: u32) -> String {
        match self.0 {
            1 => VOTES_TOPIC.to_owned(),
            _ => format!("{VOTES_TOPIC}.{shard}"),
        }
    }

    /// The topic `poll`'s votes are published on.
    pub fn topic_of(self, poll: &PollId) -> String {
        self.topic(self.of(poll))
    }

    /// Every shard.
    pub fn all(self) -> impl Iterator<Item = u32> {
        0..self.0
    }
}

/// Whether `topic` carries votes (of any shard count): `votes` or `votes.{n}`.
pub fn is_votes_topic(topic: &str) -> bool {
    match topic.strip_prefix(VOTES_TOPIC) {
        Some("") => true,
        Some(rest) => rest
            .strip_prefix('.')
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())),
        None => false,
    }
}

/// Where the subscription ingest has processed the votes topic `topic` up to (written by the
/// replica holding its lease; a new holder resumes from it).
pub fn votes_cursor(topic: &str) -> String {
    format!("ingest_cursor:{topic}")
}

/// The lease on votes shard `shard`: the id of the replica that ingests it.
pub fn ingest_lease(shard: u32) -> String {
    format!("ingest_lease:{shard}")
}

/// The heartbeat of an ingesting replica (present while it is alive).
pub fn ingest_replica(replica: &str) -> String {
    format!("ingest_replica:{replica}")
}

/// FNV-1a: a stable hash (std's hasher is seeded at random per process).
fn fnv1a(text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// The dictionary indexing every poll (field = poll id).
pub const POLL_INDEX: &str = "polls";

/// The dictionary of ballots in doubt (field = `{poll_id}:{voter_id}`): claimed, but whether
/// the ledger has them is unknown; the sweep settles and removes them.
pub const IN_DOUBT: &str = "in_doubt";

/// The key `/readyz` reads to see that Momento answers; never written.
pub const READINESS_PROBE: &str = "pollcast:readiness";

/// How many ledger dictionaries a poll's ballots are spread over (each stays far below
/// Momento's 5 MB item limit: about 100,000 ballots per shard).
pub const LEDGER_SHARDS: u64 = 16;

/// The results topic of a poll: voter tokens may subscribe to it, so only results voters may
/// see are published there.
pub fn results_topic(poll: &PollId) -> String {
    format!("results.{}", poll.as_str())
}

/// The admins' results topic of a poll: results voters may not see yet (an `on_close` poll
/// before it closes) are published there instead. No voter token can subscribe to it (theirs
/// name `results.{poll_id}` exactly).
pub fn admin_results_topic(poll: &PollId) -> String {
    format!("results-admin.{}", poll.as_str())
}

/// The poll record.
pub fn poll(poll: &PollId) -> String {
    format!("poll:{}", poll.as_str())
}

/// The voter's ballot key: the one that decides whether a vote is a voter's first.
pub fn ballot(poll: &PollId, voter: &VoterId) -> String {
    format!("ballot:{}:{}", poll.as_str(), voter.as_str())
}

/// Ledger shard `shard` (`0..LEDGER_SHARDS`) of a poll.
pub fn ledger_shard(poll: &PollId, shard: u64) -> String {
    format!("ballots:{}:{shard}", poll.as_str())
}

/// Every ledger shard of a poll.
pub fn ledger_shards(poll: &PollId) -> impl Iterator<Item = String> + '_ {
    (0..LEDGER_SHARDS).map(move |shard| ledger_shard(poll, shard))
}

/// The ledger shard a voter's ballot lives in (FNV-1a of the voter id: stable across
/// replicas and releases, unlike std's randomly seeded hasher).
pub fn ledger_shard_of(poll: &PollId, voter: &VoterId) -> String {
    ledger_shard(poll, fnv1a(voter.as_str()) % LEDGER_SHARDS)
}

/// The seat counter of a poll with `max_voters`.
pub fn seats(poll: &PollId) -> String {
    format!("seats:{}", poll.as_str())
}

/// The claim of the replica that refreshes a poll's TTLs in this period: one replica does it,
/// not every one (a refresh reads the ledger and touches every voter's ballot key).
pub fn keep_alive_claim(poll: &PollId) -> String {
    format!("keep_alive:{}", poll.as_str())
}

/// The counter results `seq` numbers are taken from.
pub fn results_seq(poll: &PollId) -> String {
    format!("results_seq:{}", poll.as_str())
}

/// The last published results of a poll.
pub fn results(poll: &PollId) -> String {
    format!("results:{}", poll.as_str())
}

/// The last rejected vote of a voter (why, and which vote), for `GET /v1/polls/{id}/ballot`.
pub fn vote_status(poll: &PollId, voter: &VoterId) -> String {
    format!("vote_status:{}:{}", poll.as_str(), voter.as_str())
}

/// A voter token pollcast minted, by the hex SHA3-256 of its raw key: holds its `token_id`.
pub fn voter_token(key_hash_hex: &str) -> String {
    format!("voter_token:{key_hash_hex}")
}

/// A proof-of-work puzzle already answered (single use), by its challenge (hex SHA-256).
pub fn spent_challenge(challenge_hex: &str) -> String {
    format!("pow:{challenge_hex}")
}

/// The moderation decisions on an open-text poll's entries (field = entry id).
pub fn moderation(poll: &PollId) -> String {
    format!("moderation:{}", poll.as_str())
}

/// The dictionary indexing every event (field = event id).
pub const EVENT_INDEX: &str = "events";

/// An event's record.
pub fn event(event: &EventId) -> String {
    format!("event:{}", event.as_str())
}

/// The event a join code (upper case) belongs to.
pub fn join_code(code: &JoinCode) -> String {
    format!("join_code:{}", code.as_str())
}

/// Every key of a poll the scheduler keeps alive by name: the record, the ledger shards, the
/// seat counter, the results seq and snapshot, the moderation decisions. Voters' ballot keys cannot be listed; they are
/// kept alive from the ledger's fields (`BallotStore::keep_alive`).
pub fn kept_alive(poll: &PollId) -> Vec<String> {
    let mut keys = vec![self::poll(poll)];
    keys.extend(ledger_shards(poll));
    keys.extend([
        seats(poll),
        results_seq(poll),
        results(poll),
        moderation(poll),
    ]);
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_spelled_as_the_design_notes_table_says() {
        let poll = PollId::parse("p7Kx2").unwrap();
        let voter = VoterId::parse("alice").unwrap();
        assert_eq!(self::poll(&poll), "poll:p7Kx2");
        assert_eq!(ballot(&poll, &voter), "ballot:p7Kx2:alice");
        assert_eq!(ledger_shard(&poll, 15), "ballots:p7Kx2:15");
        assert_eq!(seats(&poll), "seats:p7Kx2");
        assert_eq!(results_seq(&poll), "results_seq:p7Kx2");
        assert_eq!(results(&poll), "results:p7Kx2");
        assert_eq!(results_topic(&poll), "results.p7Kx2");
        assert_eq!(votes_cursor("votes"), "ingest_cursor:votes");
        assert_eq!(votes_cursor("votes.3"), "ingest_cursor:votes.3");
        assert_eq!(ingest_lease(3), "ingest_lease:3");
        assert_eq!(VoteShards::new(1).topic_of(&poll), "votes");
        assert_eq!(VoteShards::new(4).topic(2), "votes.2");
        assert!(VoteShards::new(4).of(&poll) < 4);
        assert!(is_votes_topic("votes") && is_votes_topic("votes.12"));
        assert!(
            !is_votes_topic("votes.") && !is_votes_topic("votes.x") && !is_votes_topic("results.p")
        );
        assert_eq!(vote_status(&poll, &voter), "vote_status:p7Kx2:alice");
        assert_eq!(voter_token("ab12"), "voter_token:ab12");
        assert_eq!(admin_results_topic(&poll), "results-admin.p7Kx2");
        assert_eq!(kept_alive(&poll).len(), 1 + 16 + 4);
        assert_eq!(moderation(&poll), "moderation:p7Kx2");
        let event = EventId::parse("e7Kx2").unwrap();
        assert_eq!(self::event(&event), "event:e7Kx2");
        assert_eq!(
            join_code(&JoinCode::parse("abc234").unwrap()),
            "join_code:ABC234"
        );
        assert!(ledger_shards(&poll).any(|k| k == ledger_shard_of(&poll, &voter)));
    }

    #[test]
    fn polls_spread_over_the_votes_shards_and_each_stays_in_one() {
        let shards = VoteShards::new(4);
        let mut seen = [0u32; 4];
        for n in 0..400 {
            let poll = PollId::parse(&format!("p{n}x")).unwrap();
            let shard = shards.of(&poll);
            assert_eq!(shard, shards.of(&poll), "the same shard every time");
            seen[shard as usize] += 1;
        }
        assert!(seen.iter().all(|&n| n > 50), "roughly even: {seen:?}");
    }
}

//! Ballots in Momento cache.
//!
//! - `ballot:{poll_id}:{voter_id}`: the voter's current ballot, `"{seq}|{choices}"` where `seq`
//!   is the topic sequence number of the vote that set it. This key **decides**: the first
//!   ballot is claimed with `SetIf` (absent, or equal to [`RELEASED`]), a revote replaces it
//!   with `SetIf` Equal on the old value, so concurrent deliveries and revotes of one voter are
//!   serialised by Momento.
//! - `ballots:{poll_id}:{shard}` ([`LEDGER_SHARDS`] dictionaries, the shard chosen by a hash of
//!   the voter id): field = voter id, value = choices. The **ledger** every tally is counted
//!   from. Writing a field is idempotent, so writing it again after an in-doubt failure can
//!   never count a ballot twice; sharding keeps each dictionary far below Momento's 5 MB item
//!   limit (about 100,000 ballots per shard).
//!
//! Tallies are derived from the ledger (see `results/`), never incremented per vote: that is
//! what makes "no vote counted twice" hold by construction, whatever fails in between.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context;
use futures::future::try_join_all;
use momento::cache::{
    CollectionTtl, DictionaryFetchResponse, DictionarySetFieldRequest, GetResponse,
    IncrementRequest, SetIfAbsentOrEqualRequest, SetIfAbsentOrEqualResponse, SetIfEqualRequest,
    SetIfEqualResponse,
};

use crate::domain::{PollId, VoterId};
use crate::momento::Momento;

/// How many ledger dictionaries a poll's ballots are spread over.
pub const LEDGER_SHARDS: u64 = 16;
/// The value of a ballot key whose claim was given back after a failed ledger write; a new
/// claim treats it as absent. Never a valid ballot.
pub const RELEASED: &[u8] = b"-";

/// A ballot key's value: which vote set it, and the choices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBallot {
    /// Topic sequence number of the vote that set it.
    pub seq: u64,
    /// The canonical choices (`Ballot::to_bytes`).
    pub choices: Vec<u8>,
}

impl StoredBallot {
    fn encode(&self) -> Vec<u8> {
        let mut out = format!("{}|", self.seq).into_bytes();
        out.extend_from_slice(&self.choices);
        out
    }

    fn decode(raw: &[u8]) -> Option<Self> {
        let bar = raw.iter().position(|&b| b == b'|')?;
        let seq = std::str::from_utf8(&raw[..bar]).ok()?.parse().ok()?;
        Some(Self {
            seq,
            choices: raw[bar + 1..].to_vec(),
        })
    }
}

/// What claiming a ballot key found.
#[derive(Debug)]
pub enum Claim {
    /// The key was free: this ballot is the voter's first (or first since a release).
    Won,
    /// The voter already has a ballot.
    Held(StoredBallot),
}

/// Ballot keys and the ledger, through the SDK.
#[derive(Clone)]
pub struct BallotStore {
    momento: Momento,
    ttl: Duration,
}

impl BallotStore {
    /// Items live `ttl` after their last write.
    pub fn new(momento: Momento, ttl: Duration) -> Self {
        Self { momento, ttl }
    }

    fn key(poll: &PollId, voter: &VoterId) -> String {
        format!("ballot:{}:{}", poll.as_str(), voter.as_str())
    }

    fn shard_name(poll: &PollId, shard: u64) -> String {
        format!("ballots:{}:{shard}", poll.as_str())
    }

    /// The ledger dictionary a voter's ballot lives in (FNV-1a of the voter id: stable across
    /// replicas and releases, unlike std's randomly seeded hasher).
    fn ledger(poll: &PollId, voter: &VoterId) -> String {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in voter.as_str().bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        Self::shard_name(poll, hash % LEDGER_SHARDS)
    }

    /// Claims the voter's ballot key for `ballot` if it is free.
    pub async fn claim(
        &self,
        poll: &PollId,
        voter: &VoterId,
        ballot: &StoredBallot,
    ) -> anyhow::Result<Claim> {
        loop {
            let request = SetIfAbsentOrEqualRequest::new(
                self.momento.cache_name(),
                Self::key(poll, voter),
                ballot.encode(),
                RELEASED,
            )
            .ttl(self.ttl);
            let response = self
                .momento
                .cache()
                .send_request(request)
                .await
                .context("claiming the ballot key")?;
            if matches!(response, SetIfAbsentOrEqualResponse::Stored) {
                return Ok(Claim::Won);
            }
            // Held by a ballot, or released/expired since: read and decide again.
            if let Some(current) = self.current(poll, voter).await? {
                return Ok(Claim::Held(current));
            }
        }
    }

    /// The voter's current ballot (`None` when absent or released).
    pub async fn current(
        &self,
        poll: &PollId,
        voter: &VoterId,
    ) -> anyhow::Result<Option<StoredBallot>> {
        let response = self
            .momento
            .cache()
            .get(self.momento.cache_name(), Self::key(poll, voter))
            .await
            .context("reading the ballot key")?;
        Ok(match response {
            GetResponse::Miss => None,
            GetResponse::Hit { value } => {
                let raw: Vec<u8> = value.into();
                if raw == RELEASED {
                    None
                } else {
                    Some(StoredBallot::decode(&raw).context("a ballot key holds garbage")?)
                }
            }
        })
    }

    /// Replaces `old` by `new` if `old` is still the voter's ballot; `false` if it is not.
    pub async fn replace(
        &self,
        poll: &PollId,
        voter: &VoterId,
        old: &StoredBallot,
        new: &StoredBallot,
    ) -> anyhow::Result<bool> {
        self.compare_and_set(poll, voter, &old.encode(), &new.encode())
            .await
    }

    /// Gives the key back after the ledger could not be written, so the vote can be cast again.
    pub async fn release(
        &self,
        poll: &PollId,
        voter: &VoterId,
        ballot: &StoredBallot,
    ) -> anyhow::Result<bool> {
        self.compare_and_set(poll, voter, &ballot.encode(), RELEASED)
            .await
    }

    /// Puts `old` back after a revote's ledger write failed.
    pub async fn restore(
        &self,
        poll: &PollId,
        voter: &VoterId,
        current: &StoredBallot,
        previous: &StoredBallot,
    ) -> anyhow::Result<bool> {
        self.replace(poll, voter, current, previous).await
    }

    async fn compare_and_set(
        &self,
        poll: &PollId,
        voter: &VoterId,
        expected: &[u8],
        value: &[u8],
    ) -> anyhow::Result<bool> {
        let request = SetIfEqualRequest::new(
            self.momento.cache_name(),
            Self::key(poll, voter),
            value,
            expected,
        )
        .ttl(self.ttl);
        let response = self
            .momento
            .cache()
            .send_request(request)
            .await
            .context("compare-and-set of the ballot key")?;
        Ok(matches!(response, SetIfEqualResponse::Stored))
    }

    /// Writes the voter's choices into the ledger (idempotent).
    pub async fn record(
        &self,
        poll: &PollId,
        voter: &VoterId,
        choices: &[u8],
    ) -> anyhow::Result<()> {
        let request = DictionarySetFieldRequest::new(
            self.momento.cache_name(),
            Self::ledger(poll, voter),
            voter.as_str(),
            choices,
        )
        .ttl(CollectionTtl::refresh_on_update(self.ttl));
        self.momento
            .cache()
            .send_request(request)
            .await
            .context("writing the ballot ledger")?;
        Ok(())
    }

    /// Takes the next seat of a capped poll; returns its number (1 for the first).
    pub async fn take_seat(&self, poll: &PollId) -> anyhow::Result<i64> {
        let request = IncrementRequest::new(
            self.momento.cache_name(),
            format!("seats:{}", poll.as_str()),
            1,
        )
        .ttl(self.ttl);
        let response = self
            .momento
            .cache()
            .send_request(request)
            .await
            .context("taking a seat of a capped poll")?;
        Ok(response.value)
    }

    /// The keys of a poll's ledger shards and seat counter (for TTL refreshes; voters' ballot
    /// keys cannot be listed and are not among them).
    pub fn keys_of(poll: &PollId) -> Vec<String> {
        let mut keys: Vec<String> = (0..LEDGER_SHARDS)
            .map(|shard| Self::shard_name(poll, shard))
            .collect();
        keys.push(format!("seats:{}", poll.as_str()));
        keys
    }

    /// Every ballot of the poll: voter id -> choices, from all ledger shards.
    pub async fn ledger_of(&self, poll: &PollId) -> anyhow::Result<HashMap<Vec<u8>, Vec<u8>>> {
        let fetches = (0..LEDGER_SHARDS).map(|shard| {
            let name = Self::shard_name(poll, shard);
            async move {
                self.momento
                    .cache()
                    .dictionary_fetch(self.momento.cache_name(), name)
                    .await
                    .context("reading the ballot ledger")
            }
        });
        let mut all = HashMap::new();
        for response in try_join_all(fetches).await? {
            if let DictionaryFetchResponse::Hit { value } = response {
                let shard: HashMap<Vec<u8>, Vec<u8>> = value.into();
                all.extend(shard);
            }
        }
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_ballots_round_trip_and_released_is_not_one() {
        let b = StoredBallot {
            seq: 42,
            choices: b"o1,o3".to_vec(),
        };
        assert_eq!(StoredBallot::decode(&b.encode()), Some(b));
        assert_eq!(StoredBallot::decode(RELEASED), None);
    }
}

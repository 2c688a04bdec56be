//! Ballots in Momento cache.
//!
//! - `ballot:{poll_id}:{voter_id}`: the voter's current ballot, `"{position}|{choices}"` where
//!   the position is that of the vote that set it in the votes topic: its sequence number, then
//!   `p{page}` when the page is known (subscription), `t{ms}` when Momento's publish time is
//!   (webhook); e.g. `42p1723456789|o1`. A first ballot of a capped poll is claimed as `~...`
//!   ("awaiting its seat") and rewritten without the `~` once it holds one; nobody counts a
//!   claim awaiting its seat. This key **decides**: the first
//!   ballot is claimed with `SetIf` (absent, or equal to [`RELEASED`]), a revote replaces it
//!   with `SetIf` Equal on the old value, so concurrent deliveries and revotes of one voter are
//!   serialised by Momento.
//! - `ballots:{poll_id}:{shard}` ([`keys::LEDGER_SHARDS`] dictionaries, the shard chosen by a
//!   hash of the voter id): field = voter id, value = choices. The **ledger** every tally is
//!   counted from. Writing a field is idempotent, so writing it again after an in-doubt failure can
//!   never count a ballot twice; sharding keeps each dictionary far below Momento's 5 MB item
//!   limit (about 100,000 ballots per shard).
//!
//! The key names are in [`keys`]. Tallies are derived from the ledger (see `results/`), never incremented per vote: that is
//! what makes "no vote counted twice" hold by construction, whatever fails in between.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use futures::future::try_join_all;
use futures::{StreamExt, TryStreamExt};

use std::fmt::Write;

use crate::domain::{PollId, TokenId, VotePosition, VoterId};
use crate::momento::ledger_writer::LedgerWriter;
use crate::momento::{keys, Condition, Momento, StoreResult};

/// Ballot keys refreshed at once by [`BallotStore::keep_alive`].
const KEEP_ALIVE_AT_ONCE: usize = 32;

/// The value of a ballot key whose claim was given back after a failed ledger write; a new
/// claim treats it as absent. Never a valid ballot.
pub const RELEASED: &[u8] = b"-";

/// A ballot key's value: which vote set it, and the choices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBallot {
    /// Where the vote that set it stands in the votes topic.
    pub position: VotePosition,
    /// The canonical choices (`Ballot::to_bytes`).
    pub choices: Vec<u8>,
    /// `false` for the first ballot of a capped poll that has not taken its seat yet (stored
    /// with a leading `~`): nobody may count it before it has one.
    pub seated: bool,
}

impl StoredBallot {
    /// The ballot `choices` of the vote at `position`, seated (any ballot of an uncapped poll).
    pub fn new(position: VotePosition, choices: Vec<u8>) -> Self {
        Self {
            position,
            choices,
            seated: true,
        }
    }

    /// This ballot as a claim that still has to take its seat.
    pub fn awaiting_seat(&self) -> Self {
        Self {
            seated: false,
            ..self.clone()
        }
    }

    /// This ballot once seated.
    pub fn with_seat(&self) -> Self {
        Self {
            seated: true,
            ..self.clone()
        }
    }

    fn encode(&self) -> Vec<u8> {
        let position = &self.position;
        let mut head = match self.seated {
            true => String::new(),
            false => "~".to_owned(),
        };
        let _ = write!(head, "{}", position.seq);
        if let Some(page) = position.page {
            let _ = write!(head, "p{page}");
        }
        if let Some(ms) = position.published_ms {
            let _ = write!(head, "t{ms}");
        }
        head.push('|');
        let mut out = head.into_bytes();
        out.extend_from_slice(&self.choices);
        out
    }

    /// Decodes what [`StoredBallot::encode`] wrote (and the plain `"{seq}|{choices}"` of
    /// earlier releases).
    fn decode(raw: &[u8]) -> Option<Self> {
        let bar = raw.iter().position(|&b| b == b'|')?;
        let head = std::str::from_utf8(&raw[..bar]).ok()?;
        let (head, seated) = match head.strip_prefix('~') {
            Some(head) => (head, false),
            None => (head, true),
        };
        let (head, published_ms) = match head.split_once('t') {
            Some((head, ms)) => (head, Some(ms.parse().ok()?)),
            None => (head, None),
        };
        let (seq, page) = match head.split_once('p') {
            Some((seq, page)) => (seq, Some(page.parse().ok()?)),
            None => (head, None),
        };
        Some(Self {
            position: VotePosition {
                seq: seq.parse().ok()?,
                page,
                published_ms,
            },
            choices: raw[bar + 1..].to_vec(),
            seated,
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

/// Ballot keys and the ledger.
#[derive(Clone)]
pub struct BallotStore {
    momento: Momento,
    ttl: Duration,
    /// Ledger writes, batched per shard (`ledger_writer.rs`).
    writer: Arc<LedgerWriter>,
}

impl BallotStore {
    /// Items live `ttl` after their last write.
    pub fn new(momento: Momento, ttl: Duration) -> Self {
        let writer = LedgerWriter::new(momento.clone(), ttl);
        Self {
            momento,
            ttl,
            writer,
        }
    }

    /// Claims the voter's ballot key for `ballot` if it is free.
    #[tracing::instrument(level = "debug", skip_all, fields(poll_id = %poll.as_str()))]
    pub async fn claim(
        &self,
        poll: &PollId,
        voter: &VoterId,
        ballot: &StoredBallot,
    ) -> StoreResult<Claim> {
        let key = keys::ballot(poll, voter);
        let encoded = ballot.encode();
        loop {
            if self
                .momento
                .set_if(
                    &key,
                    &encoded,
                    Condition::AbsentOrEqual(RELEASED),
                    self.ttl,
                    "claiming the ballot key",
                )
                .await?
            {
                return Ok(Claim::Won);
            }
            // Held by a ballot, or released/expired since: read and decide again.
            if let Some(current) = self.current(poll, voter).await? {
                return Ok(Claim::Held(current));
            }
        }
    }

    /// The voter's current ballot (`None` when absent or released).
    #[tracing::instrument(level = "debug", skip_all, fields(poll_id = %poll.as_str()))]
    pub async fn current(
        &self,
        poll: &PollId,
        voter: &VoterId,
    ) -> StoreResult<Option<StoredBallot>> {
        let key = keys::ballot(poll, voter);
        match self.momento.get(key, "reading the ballot key").await? {
            None => Ok(None),
            Some(raw) if raw == RELEASED => Ok(None),
            Some(raw) => {
                let ballot = StoredBallot::decode(&raw).context("a ballot key holds garbage")?;
                Ok(Some(ballot))
            }
        }
    }

    /// Replaces `old` by `new` if `old` is still the voter's ballot; `false` if it is not.
    #[tracing::instrument(level = "debug", skip_all, fields(poll_id = %poll.as_str()))]
    pub async fn replace(
        &self,
        poll: &PollId,
        voter: &VoterId,
        old: &StoredBallot,
        new: &StoredBallot,
    ) -> StoreResult<bool> {
        self.compare_and_set(poll, voter, &old.encode(), &new.encode())
            .await
    }

    /// Gives back a claim that could not take its seat, so the vote can be cast again.
    #[tracing::instrument(level = "debug", skip_all, fields(poll_id = %poll.as_str()))]
    pub async fn release(
        &self,
        poll: &PollId,
        voter: &VoterId,
        ballot: &StoredBallot,
    ) -> StoreResult<bool> {
        self.compare_and_set(poll, voter, &ballot.encode(), RELEASED)
            .await
    }

    async fn compare_and_set(
        &self,
        poll: &PollId,
        voter: &VoterId,
        expected: &[u8],
        value: &[u8],
    ) -> StoreResult<bool> {
        Ok(self
            .momento
            .set_if(
                &keys::ballot(poll, voter),
                value,
                Condition::Equal(expected),
                self.ttl,
                "compare-and-set of the ballot key",
            )
            .await?)
    }

    /// Writes the voter's choices into the ledger (idempotent). Over the network (the SDK
    /// engine) in one request with the other writes into the same shard waiting at the time;
    /// in process at once, since a call costs no round trip and the journal's group commit
    /// already makes concurrent writes share their sync (batching would only add a wait).
    #[tracing::instrument(level = "debug", skip_all, fields(poll_id = %poll.as_str()))]
    pub async fn record(&self, poll: &PollId, voter: &VoterId, choices: &[u8]) -> StoreResult<()> {
        let shard = keys::ledger_shard_of(poll, voter);
        if self.momento.engine.is_in_process() {
            let fields = vec![(voter.as_str().as_bytes().to_vec(), choices.to_vec())];
            let written =
                self.momento
                    .set_fields(&shard, fields, self.ttl, "writing the ballot ledger");
            return Ok(written.await?);
        }
        self.writer.write(shard, voter.as_str(), choices).await
    }

    /// Calls `each` with every ballot of the poll (voter id, choices), one ledger shard at a
    /// time, so a poll of a million ballots is never all in memory at once.
    #[tracing::instrument(level = "debug", skip_all, fields(poll_id = %poll.as_str()))]
    pub async fn for_each_ballot(
        &self,
        poll: &PollId,
        mut each: impl FnMut(&[u8], &[u8]),
    ) -> StoreResult<()> {
        for shard in keys::ledger_shards(poll) {
            let fields = self
                .momento
                .dictionary(shard, "reading the ballot ledger")
                .await?;
            for (voter, choices) in &fields {
                each(voter, choices);
            }
        }
        Ok(())
    }

    /// The voter's choices as the ledger holds them (`None` when it has none).
    #[tracing::instrument(level = "debug", skip_all, fields(poll_id = %poll.as_str()))]
    pub async fn ledger_entry(
        &self,
        poll: &PollId,
        voter: &VoterId,
    ) -> StoreResult<Option<Vec<u8>>> {
        Ok(self
            .momento
            .dictionary_field(
                &keys::ledger_shard_of(poll, voter),
                voter.as_str(),
                "reading the voter's ledger entry",
            )
            .await?)
    }

    /// Notes the voter's ballot as in doubt, for any replica's sweep to settle.
    #[tracing::instrument(level = "debug", skip_all, fields(poll_id = %poll.as_str()))]
    pub async fn note_in_doubt(&self, poll: &PollId, voter: &VoterId) -> StoreResult<()> {
        let field = TokenId::new(poll, voter).to_string().into_bytes();
        self.momento
            .set_fields(
                keys::IN_DOUBT,
                vec![(field, Vec::new())],
                self.ttl,
                "noting a ballot in doubt",
            )
            .await?;
        Ok(())
    }

    /// Every ballot noted in doubt (by any replica).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn in_doubt(&self) -> StoreResult<Vec<(PollId, VoterId)>> {
        let fields = (self.momento)
            .dictionary(keys::IN_DOUBT.to_owned(), "reading the ballots in doubt")
            .await?;
        Ok(fields
            .into_keys()
            .filter_map(|field| {
                let token = TokenId::parse(std::str::from_utf8(&field).ok()?).ok()?;
                Some(token.into_parts())
            })
            .collect())
    }

    /// Removes the voter's ballot from the ballots in doubt: it is settled.
    #[tracing::instrument(level = "debug", skip_all, fields(poll_id = %poll.as_str()))]
    pub async fn settled(&self, poll: &PollId, voter: &VoterId) -> StoreResult<()> {
        let field = TokenId::new(poll, voter).to_string();
        self.momento
            .remove_field(
                keys::IN_DOUBT,
                &field,
                "removing a settled ballot from those in doubt",
            )
            .await?;
        Ok(())
    }

    /// How many seats of a capped poll are taken (0 when none).
    #[tracing::instrument(level = "debug", skip_all, fields(poll_id = %poll.as_str()))]
    pub async fn seats_taken(&self, poll: &PollId) -> StoreResult<u64> {
        let raw = self
            .momento
            .get(keys::seats(poll), "reading the seats taken")
            .await?;
        let taken = match raw {
            None => 0,
            Some(raw) => std::str::from_utf8(&raw)
                .ok()
                .and_then(|n| n.parse().ok())
                .context("a seat counter holds garbage")?,
        };
        Ok(taken)
    }

    /// Takes the next seat of a capped poll; returns its number (1 for the first).
    #[tracing::instrument(level = "debug", skip_all, fields(poll_id = %poll.as_str()))]
    pub async fn take_seat(&self, poll: &PollId) -> StoreResult<i64> {
        Ok(self
            .momento
            .increment(
                &keys::seats(poll),
                1,
                self.ttl,
                "taking a seat of a capped poll",
            )
            .await?)
    }

    /// Gives every voter's ballot key of `poll` a fresh TTL, the voters being the ledger's
    /// fields (ballot keys cannot be listed); a key that is gone while the ledger still holds
    /// the voter is written again from the ledger (`SetIf` Absent, at position 0: any later
    /// vote of the voter is newer). Returns how many keys were written again.
    #[tracing::instrument(level = "debug", skip_all, fields(poll_id = %poll.as_str()))]
    pub async fn keep_alive(&self, poll: &PollId) -> StoreResult<usize> {
        let ledger = self.ledger_of(poll).await?;
        let refreshes = ledger.into_iter().map(|(voter, choices)| async move {
            let Some(voter) = std::str::from_utf8(&voter)
                .ok()
                .and_then(|v| VoterId::parse(v).ok())
            else {
                return Ok(false);
            };
            let key = keys::ballot(poll, &voter);
            let refreshed =
                self.momento
                    .update_ttl(&key, self.ttl, "refreshing a ballot key's TTL");
            if refreshed.await? {
                return Ok(false);
            }
            let ballot = StoredBallot::new(VotePosition::default(), choices);
            StoreResult::Ok(
                self.momento
                    .set_if(
                        &key,
                        &ballot.encode(),
                        Condition::Absent,
                        self.ttl,
                        "writing a ballot key again from the ledger",
                    )
                    .await?,
            )
        });
        let written = futures::stream::iter(refreshes)
            .buffer_unordered(KEEP_ALIVE_AT_ONCE)
            .try_fold(0, |n, written| async move { Ok(n + usize::from(written)) })
            .await?;
        Ok(written)
    }

    /// Every ballot of the poll: voter id -> choices, from all ledger shards.
    #[tracing::instrument(level = "debug", skip_all, fields(poll_id = %poll.as_str()))]
    pub async fn ledger_of(&self, poll: &PollId) -> StoreResult<HashMap<Vec<u8>, Vec<u8>>> {
        let fetches = keys::ledger_shards(poll)
            .map(|shard| self.momento.dictionary(shard, "reading the ballot ledger"));
        let mut all = HashMap::new();
        for shard in try_join_all(fetches).await? {
            all.extend(shard);
        }
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_ballots_round_trip_and_released_is_not_one() {
        for (page, published_ms) in [(None, None), (Some(1_723_456_789), None), (None, Some(-3))] {
            let b = StoredBallot::new(
                VotePosition {
                    seq: 42,
                    page,
                    published_ms,
                },
                b"o1,o3".to_vec(),
            );
            assert_eq!(StoredBallot::decode(&b.encode()), Some(b.clone()));
            let waiting = b.awaiting_seat();
            assert_eq!(StoredBallot::decode(&waiting.encode()), Some(waiting));
        }
        assert_eq!(StoredBallot::decode(RELEASED), None);
        let earlier_release = StoredBallot::decode(b"7|o2").unwrap();
        assert_eq!(
            (earlier_release.position.seq, earlier_release.position.page),
            (7, None)
        );
        assert_eq!(
            StoredBallot::new(
                VotePosition {
                    seq: 42,
                    page: Some(9),
                    published_ms: None
                },
                b"o1".to_vec()
            )
            .awaiting_seat()
            .encode(),
            b"~42p9|o1"
        );
    }
}

//! Open-text results: counted from the ledger (entries need their voter for their ids, so the
//! running counts do not serve them), moderated by the poll's decisions and the profanity
//! filter, cut to what the public sees (`domain/open_text.rs`).
//!
//! Entry ids are keyed with a key derived from the admin key (HMAC-SHA3-512 of a fixed label,
//! as the voter cookie's key is): replicas sharing the admin key agree on every id; rotating
//! the admin key gives every entry a new id, and decisions taken before then no longer apply.

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha3::Sha3_512;

use crate::domain::open_text::{entries, voter_of, OpenTextResults};
use crate::domain::profanity::is_profane;
use crate::domain::{Ballot, Entry, EntryKey, Poll, Results, Tally};
use crate::momento::StoreResult;
use crate::results::Publisher;

/// What the entry key is derived with.
const LABEL: &[u8] = b"pollcast entry ids v1";

/// The key entry ids are made with, derived from the admin key.
pub fn entry_key(admin_key: &SecretString) -> EntryKey {
    let mut mac =
        Hmac::<Sha3_512>::new_from_slice(admin_key.expose_secret().as_bytes()).expect("any key");
    mac.update(LABEL);
    EntryKey::new(mac.finalize().into_bytes().to_vec())
}

impl Publisher {
    /// Every entry of the open-text poll `poll` with its moderation status, and how many
    /// ballots hold them.
    pub async fn entries(&self, poll: &Poll) -> StoreResult<(u64, Vec<Entry>)> {
        let (ledger, decisions) = tokio::try_join!(self.ballots.ledger_of(poll.id()), async {
            match &self.moderation {
                Some(store) => store.decisions(poll.id()).await,
                None => Ok(Default::default()),
            }
        })?;
        let ballots: Vec<(String, Ballot)> = ledger
            .iter()
            .filter_map(|(voter, bytes)| {
                let ballot = Ballot::from_bytes(bytes).ok()?;
                Some((voter_of(voter)?.to_string(), ballot))
            })
            .collect();
        let filter: Option<&dyn Fn(&str) -> bool> = match poll.profanity_filter() {
            true => Some(&is_profane),
            false => None,
        };
        let all = entries(
            poll.id(),
            poll.moderation(),
            &self.entry_key,
            ballots.iter().map(|(voter, b)| (voter.as_str(), b.texts())),
            &decisions,
            filter,
        );
        Ok((ballots.len() as u64, all))
    }

    /// The results of the open-text poll `poll`, numbered `seq`, as the public sees them.
    pub(super) async fn count_open_text(&self, poll: &Poll, seq: u64) -> StoreResult<Results> {
        let (ballots, all) = self.entries(poll).await?;
        let tally = Tally {
            ballots,
            ..Tally::empty(poll)
        };
        let now = chrono::Utc::now();
        let mut results = Results::new(poll, &tally, seq, now);
        results.state = poll.state_at(now);
        Ok(results.with_open_text(OpenTextResults::public(&all)))
    }
}

//! Which of a voter's votes is the latest: a vote's place in the votes topic, and the order the
//! pipeline keeps a voter's ballot by (a late copy of an older vote never undoes a newer one).
//!
//! A topic numbers its messages 1, 2, ... within a **sequence page**; Momento's service may
//! reset a topic after inactivity, and numbering then restarts on a new page. So:
//! - both positions have a page (the subscription path): (page, sequence number), a later page
//!   being newer (the local Momento makes pages from the time; a reset is the only way to a
//!   new page);
//! - otherwise (the webhook path carries no page): the sequence number, unless both carry
//!   Momento's publish time (`event_timestamp`) and the lower-numbered vote was published at
//!   least [`RESET_EVIDENCE_MS`] later: within one page numbers grow with publish time, so
//!   that can only be a reset in between. A webhook vote compared with a ballot the
//!   subscription set (or the other way round) is ordered by sequence number alone.

/// How much later (ms) a lower-numbered vote must be published to count as newer when pages
/// are unknown: far beyond clock jitter between Momento's servers.
pub const RESET_EVIDENCE_MS: i64 = 1_000;

/// Where a vote stands in the votes topic, as far as its ingest path knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VotePosition {
    /// The topic sequence number.
    pub seq: u64,
    /// The sequence page, when known (the subscription path).
    pub page: Option<u64>,
    /// When Momento published it, ms since the epoch, when known (the webhook's
    /// `event_timestamp`; a time the subscription stamps on reading is not Momento's).
    pub published_ms: Option<i64>,
}

impl VotePosition {
    /// Whether this vote is newer than `other` (strictly: a copy of the same vote is not).
    pub fn supersedes(&self, other: &VotePosition) -> bool {
        if let (Some(mine), Some(theirs)) = (self.page, other.page) {
            return (mine, self.seq) > (theirs, other.seq);
        }
        if let (Some(mine), Some(theirs)) = (self.published_ms, other.published_ms) {
            if self.seq < other.seq && mine >= theirs + RESET_EVIDENCE_MS {
                return true;
            }
            if self.seq > other.seq && theirs >= mine + RESET_EVIDENCE_MS {
                return false;
            }
        }
        self.seq > other.seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on_page(page: u64, seq: u64) -> VotePosition {
        VotePosition {
            seq,
            page: Some(page),
            published_ms: None,
        }
    }

    fn published(seq: u64, ms: i64) -> VotePosition {
        VotePosition {
            seq,
            page: None,
            published_ms: Some(ms),
        }
    }

    #[test]
    fn on_one_page_the_higher_sequence_number_is_newer() {
        assert!(on_page(3, 8).supersedes(&on_page(3, 7)));
        assert!(!on_page(3, 7).supersedes(&on_page(3, 8)));
        assert!(!on_page(3, 7).supersedes(&on_page(3, 7)));
    }

    #[test]
    fn a_later_page_is_newer_whatever_its_numbers() {
        assert!(on_page(4, 1).supersedes(&on_page(3, 900)));
        assert!(!on_page(3, 900).supersedes(&on_page(4, 1)));
    }

    #[test]
    fn without_pages_a_lower_number_published_clearly_later_is_newer() {
        let t = 1_700_000_000_000;
        assert!(published(1, t + RESET_EVIDENCE_MS).supersedes(&published(50, t)));
        assert!(!published(50, t).supersedes(&published(1, t + RESET_EVIDENCE_MS)));
        // Within the jitter the numbers decide.
        assert!(!published(1, t + 10).supersedes(&published(50, t)));
        assert!(published(50, t).supersedes(&published(1, t + 10)));
        assert!(published(8, t).supersedes(&published(7, t)));
    }

    #[test]
    fn mixed_or_missing_information_falls_back_to_the_sequence_number() {
        let webhook = published(1, 1_700_000_000_000);
        assert!(!webhook.supersedes(&on_page(3, 50)));
        assert!(on_page(3, 50).supersedes(&webhook));
        let legacy = VotePosition {
            seq: 5,
            ..VotePosition::default()
        };
        assert!(legacy.supersedes(&VotePosition {
            seq: 4,
            ..VotePosition::default()
        }));
    }
}

//! The results views: what `GET /v1/polls/{id}/results`, its stream and a recount answer.

use chrono::{DateTime, Utc};
use poem_openapi::Object;

use super::PollState;
use crate::domain::{self, Poll};

/// One instant-runoff round.
#[derive(Debug, Clone, Object)]
pub struct RoundView {
    /// The round's number, from 1.
    pub round: u32,
    /// Votes of each continuing option.
    pub counts: std::collections::BTreeMap<String, u64>,
    /// Ballots with no continuing option left.
    pub exhausted: u64,
    /// Options eliminated at the end of this round.
    pub eliminated: Vec<String>,
}

/// One option's result.
#[derive(Debug, Clone, Object)]
pub struct OptionResult {
    /// The option id.
    pub id: String,
    /// What voters see.
    pub label: String,
    /// Its votes (first preferences for ranked polls), as in `counts`.
    pub votes: u64,
    /// Its votes as a percentage of the ballots counted, rounded to one decimal (0 when there
    /// are none). Single-choice shares add up to 100 (give or take the rounding); `multi`
    /// ballots name several options, so theirs can add up to more.
    pub share: f64,
}

/// A poll's results, as published on `results.{poll_id}`, with each option's label and share.
#[derive(Debug, Clone, Object)]
pub struct ResultsView {
    /// The poll.
    pub poll_id: String,
    /// The poll's state when counted.
    pub state: PollState,
    /// Strictly increasing per poll: drop an update whose `seq` is not above the last seen.
    /// 0 when nothing was published yet.
    pub seq: u64,
    /// Ballots counted.
    pub ballots: u64,
    /// Votes per option id, every option present; first preferences for ranked polls.
    pub counts: std::collections::BTreeMap<String, u64>,
    /// Every option in the poll's order, with its label, votes and share: what `counts` says,
    /// ready to show.
    pub options: Vec<OptionResult>,
    /// Ranked polls: the instant-runoff rounds.
    pub rounds: Option<Vec<RoundView>>,
    /// Ranked polls: the winner, if any.
    pub winner: Option<String>,
    /// Ranked polls: the options tied when the count ends in a tie.
    pub tie: Vec<String>,
    /// Rating polls: ballots per value, the mean and the median.
    pub rating: Option<RatingView>,
    /// Open-text polls: the visible entries and their word list (hidden and pending entries
    /// are in neither).
    pub open_text: Option<OpenTextView>,
    /// When the results were counted.
    pub at: DateTime<Utc>,
}

/// `votes` as a percentage of `ballots`, to one decimal.
pub fn share(votes: u64, ballots: u64) -> f64 {
    if ballots == 0 {
        return 0.0;
    }
    (votes as f64 * 1000.0 / ballots as f64).round() / 10.0
}

impl ResultsView {
    /// The view of `r`, the results of `poll` (which gives the labels).
    pub fn of(r: domain::Results, poll: &Poll) -> Self {
        let ids = |v: Vec<domain::OptionId>| v.into_iter().map(|o| o.to_string()).collect();
        let counts = |c: std::collections::BTreeMap<domain::OptionId, u64>| {
            c.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
        };
        let options = poll
            .options()
            .iter()
            .map(|option| {
                let votes = r.counts.get(&option.id).copied().unwrap_or(0);
                OptionResult {
                    id: option.id.to_string(),
                    label: option.label.clone(),
                    votes,
                    share: share(votes, r.ballots),
                }
            })
            .collect();
        Self {
            poll_id: r.poll_id.as_str().to_owned(),
            state: r.state.into(),
            seq: r.seq,
            ballots: r.ballots,
            counts: counts(r.counts),
            options,
            rounds: r.rounds.map(|rounds| {
                rounds
                    .into_iter()
                    .map(|round| RoundView {
                        round: round.round,
                        counts: counts(round.counts),
                        exhausted: round.exhausted,
                        eliminated: ids(round.eliminated),
                    })
                    .collect()
            }),
            winner: r.winner.map(|w| w.to_string()),
            tie: ids(r.tie),
            rating: r.rating.map(RatingView::of),
            open_text: r.open_text.map(OpenTextView::of),
            at: r.at,
        }
    }
}

/// A rating poll's results.
#[derive(Debug, Clone, Object)]
pub struct RatingView {
    /// Ballots per value of the scale (every value present), keyed by the value.
    pub counts: std::collections::BTreeMap<String, u64>,
    /// The mean of the values, two decimals; absent without ballots.
    pub mean: Option<f64>,
    /// The median (of an even number of ballots, the mean of the two middle values), two
    /// decimals; absent without ballots.
    pub median: Option<f64>,
}

impl RatingView {
    fn of(r: domain::rating::RatingResults) -> Self {
        Self {
            counts: r
                .counts
                .into_iter()
                .map(|(v, n)| (v.to_string(), n))
                .collect(),
            mean: r.mean,
            median: r.median,
        }
    }
}

/// An entry of an open-text poll, as the public sees it.
#[derive(Debug, Clone, Object)]
pub struct EntryView {
    /// The entry's id (admins hide and unhide entries by it).
    pub id: String,
    /// The text, as normalised (NFC, trimmed).
    pub text: String,
}

/// A term of a word cloud and how many times it was given.
#[derive(Debug, Clone, Object)]
pub struct WordView {
    /// The term: a word (case-folded, punctuation stripped, no stop words), or a short entry
    /// of up to three words as a whole.
    pub word: String,
    /// How many times it was given.
    pub count: u64,
}

/// An open-text poll's results: the visible entries and their word list.
#[derive(Debug, Clone, Object)]
pub struct OpenTextView {
    /// Visible entries (by text, ignoring case), as many as fit one results message.
    pub entries: Vec<EntryView>,
    /// How many entries are visible in all.
    pub entries_total: u64,
    /// The word list of the visible entries, most given first, as many as fit.
    pub words: Vec<WordView>,
    /// The sum of every term's count.
    pub words_total: u64,
}

impl OpenTextView {
    fn of(r: domain::OpenTextResults) -> Self {
        Self {
            entries: r
                .entries
                .into_iter()
                .map(|e| EntryView {
                    id: e.id,
                    text: e.text,
                })
                .collect(),
            entries_total: r.entries_total,
            words: r
                .words
                .into_iter()
                .map(|w| WordView {
                    word: w.word,
                    count: w.count,
                })
                .collect(),
            words_total: r.words_total,
        }
    }
}

/// What a recount found: the results counted from the stored ballots against those published.
#[derive(Debug, Clone, Object)]
pub struct RecountView {
    /// The poll.
    pub poll_id: String,
    /// Whether the published results matched the stored ballots.
    pub matched: bool,
    /// Whether the recount was published (it differed, or nothing had been published yet):
    /// every watcher then receives it with a new `seq`.
    pub republished: bool,
    /// The results published before the recount, if any.
    pub published: Option<ResultsView>,
    /// The results counted from the stored ballots.
    pub recounted: ResultsView,
    /// Each option whose count differed.
    pub differences: Vec<CountDifference>,
}

/// An option whose published count differs from its recount.
#[derive(Debug, Clone, Object)]
pub struct CountDifference {
    /// The option.
    pub option_id: String,
    /// Its published count.
    pub published: u64,
    /// Its count from the stored ballots.
    pub recounted: u64,
}

impl RecountView {
    /// The view of what a recount of `poll` found.
    pub fn of(recount: crate::results::recount::Recount, poll: &domain::Poll) -> Self {
        Self {
            poll_id: recount.recounted.poll_id.as_str().to_owned(),
            matched: recount.matched(),
            republished: recount.republished,
            published: recount.published.map(|r| ResultsView::of(r, poll)),
            differences: recount
                .differences
                .into_iter()
                .map(|(option, published, recounted)| CountDifference {
                    option_id: option.to_string(),
                    published,
                    recounted,
                })
                .collect(),
            recounted: ResultsView::of(recount.recounted, poll),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::share;

    #[test]
    fn shares_are_percentages_of_ballots_to_one_decimal() {
        assert_eq!(share(0, 0), 0.0);
        assert_eq!(share(1, 3), 33.3);
        assert_eq!(share(2, 3), 66.7);
        assert_eq!(share(3, 3), 100.0);
    }
}

//! What the REST API reads and writes: OpenAPI-documented mirrors of the domain types. The
//! domain stays free of HTTP concerns; conversions live here.

use chrono::{DateTime, Utc};
use poem_openapi::{Enum, Object};
use serde::Deserialize;

use crate::api::links;
use crate::domain::{self, Poll};

/// How voters answer a poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Deserialize)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum PollKind {
    /// Exactly one option per ballot.
    Single,
    /// 1..=`max_choices` distinct options per ballot.
    Multi,
    /// An ordering of some or all options, best first; tallied by instant-runoff.
    Ranked,
}

/// Who sees results while the poll is open (admins always do).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Deserialize)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum ResultsVisibility {
    /// Voters see results live.
    Live,
    /// Voters see results once the poll is closed.
    OnClose,
}

/// Who may take a voting token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Deserialize)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// Anyone; each token is one anonymous voter.
    Open,
    /// Only admins mint tokens, for named voter ids.
    Invite,
}

/// Where a poll is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum PollState {
    /// Being prepared; no votes.
    Draft,
    /// Opens at `opens_at`.
    Scheduled,
    /// Taking votes.
    Open,
    /// No longer taking votes; results final.
    Closed,
    /// Put away after closing.
    Archived,
    /// Abandoned before it opened.
    Cancelled,
}

/// A new poll, as an admin submits it.
#[derive(Debug, Clone, Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct NewPoll {
    /// The question; 1..=200 characters after trimming, one line.
    pub title: String,
    /// Longer text under the title; at most 2000 characters.
    pub description: Option<String>,
    /// How voters answer; `single` when omitted.
    pub kind: Option<PollKind>,
    /// The answers in display order: 2..=32 labels of 1..=200 characters, unique ignoring case.
    /// They become options `o1`, `o2`, ... in this order.
    pub options: Vec<String>,
    /// `multi` polls only: most options per ballot, 1..=number of options (default: all).
    pub max_choices: Option<u32>,
    /// Who sees results while the poll is open; `live` when omitted.
    pub results_visibility: Option<ResultsVisibility>,
    /// Whether a voter may replace their ballot while the poll is open; `false` when omitted.
    pub allow_revote: Option<bool>,
    /// Who may take a voting token; `open` when omitted.
    pub access: Option<Access>,
    /// When the clock opens the poll (in the future). Giving it creates the poll `scheduled`.
    pub opens_at: Option<DateTime<Utc>>,
    /// When the clock closes the poll (in the future, after `opens_at`).
    pub closes_at: Option<DateTime<Utc>>,
    /// Most ballots the poll takes, at least 1; no limit when omitted.
    pub max_voters: Option<u32>,
}

/// One answer of a poll.
#[derive(Debug, Clone, Object)]
pub struct PollOption {
    /// Server-assigned id (`o1`, `o2`, ...); ballots name options by it.
    pub id: String,
    /// What voters see.
    pub label: String,
}

/// A poll as admins see it.
#[derive(Debug, Clone, Object)]
pub struct AdminPoll {
    /// The poll's id.
    pub id: String,
    /// The question.
    pub title: String,
    /// Longer text, if any.
    pub description: Option<String>,
    /// How voters answer.
    pub kind: PollKind,
    /// The options.
    pub options: Vec<PollOption>,
    /// Most options a `multi` ballot may name.
    pub max_choices: Option<u32>,
    /// Who sees results while the poll is open.
    pub results_visibility: ResultsVisibility,
    /// Whether a voter may replace their ballot.
    pub allow_revote: bool,
    /// Who may take a voting token.
    pub access: Access,
    /// When the poll opens or opened.
    pub opens_at: Option<DateTime<Utc>>,
    /// When the poll closes or closed.
    pub closes_at: Option<DateTime<Utc>>,
    /// Most ballots the poll takes.
    pub max_voters: Option<u32>,
    /// The lifecycle state, with any deadline already passed applied.
    pub state: PollState,
    /// Increases by one with every stored change.
    pub version: u64,
    /// When the poll was created.
    pub created_at: DateTime<Utc>,
    /// The voter page: share it (a QR code of it is at `/v1/polls/{id}/qr.svg`).
    pub vote_url: String,
    /// The presenter screen: the question, live results and the QR code, for a projector.
    pub present_url: String,
}

/// What anyone may read of a poll.
#[derive(Debug, Clone, Object)]
pub struct PublicPoll {
    /// The poll's id.
    pub id: String,
    /// The question.
    pub title: String,
    /// Longer text, if any.
    pub description: Option<String>,
    /// How voters answer.
    pub kind: PollKind,
    /// The options, with the ids ballots name.
    pub options: Vec<PollOption>,
    /// Most options a `multi` ballot may name.
    pub max_choices: Option<u32>,
    /// Who sees results while the poll is open.
    pub results_visibility: ResultsVisibility,
    /// Whether a voter may replace their ballot.
    pub allow_revote: bool,
    /// Who may take a voting token.
    pub access: Access,
    /// When the poll opens or opened.
    pub opens_at: Option<DateTime<Utc>>,
    /// When the poll closes or closed.
    pub closes_at: Option<DateTime<Utc>>,
    /// The lifecycle state, with any deadline already passed applied.
    pub state: PollState,
    /// The voter page: share it (a QR code of it is at `/v1/polls/{id}/qr.svg`).
    pub vote_url: String,
    /// The presenter screen: the question, live results and the QR code, for a projector.
    pub present_url: String,
}

/// A page of polls, newest first.
#[derive(Debug, Clone, Object)]
pub struct PollPage {
    /// The polls of this page.
    pub polls: Vec<AdminPoll>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// When a scheduled poll should open.
#[derive(Debug, Clone, Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// When the clock opens the poll: in the future, before `closes_at`.
    pub opens_at: DateTime<Utc>,
}

impl From<NewPoll> for domain::NewPoll {
    fn from(p: NewPoll) -> Self {
        domain::NewPoll {
            title: p.title,
            description: p.description,
            kind: p.kind.map(Into::into).unwrap_or_default(),
            options: p.options,
            max_choices: p.max_choices,
            results_visibility: p.results_visibility.map(Into::into).unwrap_or_default(),
            allow_revote: p.allow_revote.unwrap_or(false),
            access: p.access.map(Into::into).unwrap_or_default(),
            opens_at: p.opens_at,
            closes_at: p.closes_at,
            max_voters: p.max_voters,
        }
    }
}

impl AdminPoll {
    /// The admin view of `poll` as of `now`, its links under `public_url`.
    pub fn of(poll: &Poll, now: DateTime<Utc>, public_url: &str) -> Self {
        Self {
            id: poll.id().as_str().to_owned(),
            title: poll.title().to_owned(),
            description: poll.description().map(str::to_owned),
            kind: poll.kind().into(),
            options: options(poll),
            max_choices: poll.max_choices(),
            results_visibility: poll.results_visibility().into(),
            allow_revote: poll.allow_revote(),
            access: poll.access().into(),
            opens_at: poll.opens_at(),
            closes_at: poll.closes_at(),
            max_voters: poll.max_voters(),
            state: poll.state_at(now).into(),
            version: poll.version(),
            created_at: poll.created_at(),
            vote_url: links::vote_url(public_url, poll.id()),
            present_url: links::present_url(public_url, poll.id()),
        }
    }
}

impl PublicPoll {
    /// The public view of `poll` as of `now`: the admin view without admin-only fields.
    pub fn of(poll: &Poll, now: DateTime<Utc>, public_url: &str) -> Self {
        let a = AdminPoll::of(poll, now, public_url);
        Self {
            id: a.id,
            title: a.title,
            description: a.description,
            kind: a.kind,
            options: a.options,
            max_choices: a.max_choices,
            results_visibility: a.results_visibility,
            allow_revote: a.allow_revote,
            access: a.access,
            opens_at: a.opens_at,
            closes_at: a.closes_at,
            state: a.state,
            vote_url: a.vote_url,
            present_url: a.present_url,
        }
    }
}

fn options(poll: &Poll) -> Vec<PollOption> {
    poll.options()
        .iter()
        .map(|o| PollOption {
            id: o.id.to_string(),
            label: o.label.clone(),
        })
        .collect()
}

macro_rules! mirror {
    ($api:ident <=> $domain:path { $($variant:ident),* }) => {
        impl From<$domain> for $api {
            fn from(v: $domain) -> Self {
                match v { $(<$domain>::$variant => $api::$variant),* }
            }
        }
        impl From<$api> for $domain {
            fn from(v: $api) -> Self {
                match v { $($api::$variant => <$domain>::$variant),* }
            }
        }
    };
}

mirror!(PollKind <=> domain::PollKind { Single, Multi, Ranked });
mirror!(ResultsVisibility <=> domain::ResultsVisibility { Live, OnClose });
mirror!(Access <=> domain::Access { Open, Invite });
mirror!(PollState <=> domain::PollState { Draft, Scheduled, Open, Closed, Archived, Cancelled });

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
            at: r.at,
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

//! What the REST API reads and writes: OpenAPI-documented mirrors of the domain types. The
//! domain stays free of HTTP concerns; conversions live here. The results views are in
//! `views/results.rs`.

mod events;
mod results;

pub use events::*;
pub use results::*;

use chrono::{DateTime, Utc};
use poem_openapi::{Enum, Object};
use serde::Deserialize;

use crate::api::challenge::Challenge;
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
    /// One value of the `scale` per ballot (`{"value": 4}`); results carry counts per value,
    /// the mean and the median.
    Rating,
    /// Up to `max_entries` short texts per ballot (`{"texts": ["..."]}`); results carry the
    /// entries and a word list.
    OpenText,
}

/// A rating poll's scale: the integers `min..=max` (at most 11 of them).
#[derive(Debug, Clone, Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct Scale {
    /// The lowest value, e.g. 1.
    pub min: i32,
    /// The highest value, e.g. 5; `max - min` is 1..=10.
    pub max: i32,
    /// What the lowest value means ("Not at all"), up to 60 characters.
    pub min_label: Option<String>,
    /// What the highest value means ("Absolutely"), up to 60 characters.
    pub max_label: Option<String>,
}

/// When an open-text poll's entries reach the public.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Deserialize)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Moderation {
    /// At once; an admin may hide an entry afterwards.
    Post,
    /// Only once an admin approves them (`POST .../entries/{entry_id}/unhide`).
    Pre,
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
    /// They become options `o1`, `o2`, ... in this order. None for `rating` and `open_text`.
    #[oai(default)]
    #[serde(default)]
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
    /// `rating` polls (required): the scale.
    pub scale: Option<Scale>,
    /// `open_text` polls: longest entry, 1..=280 characters (default 140).
    pub max_length: Option<u32>,
    /// `open_text` polls: most entries per voter, 1..=3 (default 1).
    pub max_entries: Option<u32>,
    /// `open_text` polls: `pre` shows entries only once approved; `post` (default) at once.
    pub moderation: Option<Moderation>,
    /// Open polls: `pow` asks for a proof of work (ALTCHA's scheme) before each anonymous
    /// voter token, so a script pays for every ballot; `none` (default).
    pub challenge: Option<Challenge>,
    /// `"challenge": "pow"` only: the puzzle's `maxnumber`, 1,000..=10,000,000 (default
    /// 50,000, about 0.3 s on a mid-range phone); a voter hashes half of it on average.
    pub challenge_difficulty: Option<u32>,
    /// `open_text` polls: hide entries the built-in profanity list matches (each such hide
    /// is listed for admins, who may unhide it). `false` when omitted.
    pub profanity_filter: Option<bool>,
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
    /// Rating polls: the scale.
    pub scale: Option<Scale>,
    /// Open-text polls: longest entry, in characters.
    pub max_length: Option<u32>,
    /// Open-text polls: most entries per voter.
    pub max_entries: Option<u32>,
    /// Open-text polls: when entries reach the public.
    pub moderation: Option<Moderation>,
    /// Open-text polls: whether the profanity filter hides matching entries.
    pub profanity_filter: Option<bool>,
    /// `pow`: each anonymous voter token takes a proof of work (`GET .../challenge`).
    pub challenge: Challenge,
    /// `pow` polls: the puzzle's `maxnumber`.
    pub challenge_difficulty: Option<u32>,
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
    /// Open-text polls: the moderation page (the entries as they arrive, a hide button each;
    /// it asks for the admin key).
    pub moderate_url: Option<String>,
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
    /// Rating polls: the scale.
    pub scale: Option<Scale>,
    /// Open-text polls: longest entry, in characters.
    pub max_length: Option<u32>,
    /// Open-text polls: most entries per voter.
    pub max_entries: Option<u32>,
    /// Open-text polls: when entries reach the public.
    pub moderation: Option<Moderation>,
    /// Open-text polls: whether the profanity filter hides matching entries.
    pub profanity_filter: Option<bool>,
    /// `pow`: each anonymous voter token takes a proof of work (`GET .../challenge`).
    pub challenge: Challenge,
    /// `pow` polls: the puzzle's `maxnumber`.
    pub challenge_difficulty: Option<u32>,
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
            scale: p.scale.map(|s| domain::Scale {
                min: s.min,
                max: s.max,
                min_label: s.min_label,
                max_label: s.max_label,
            }),
            max_length: p.max_length,
            max_entries: p.max_entries,
            moderation: p.moderation.map(Into::into).unwrap_or_default(),
            profanity_filter: p.profanity_filter.unwrap_or(false),
            challenge: p.challenge.map(Into::into).unwrap_or_default(),
            challenge_difficulty: p.challenge_difficulty,
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
            scale: poll.scale().map(|s| Scale {
                min: s.min,
                max: s.max,
                min_label: s.min_label.clone(),
                max_label: s.max_label.clone(),
            }),
            max_length: poll.max_length(),
            max_entries: poll.max_entries(),
            moderation: (poll.kind() == domain::PollKind::OpenText)
                .then(|| poll.moderation().into()),
            profanity_filter: (poll.kind() == domain::PollKind::OpenText)
                .then_some(poll.profanity_filter()),
            challenge: match poll.pow_difficulty() {
                Some(_) => Challenge::Pow,
                None => Challenge::None,
            },
            challenge_difficulty: poll.pow_difficulty(),
            state: poll.state_at(now).into(),
            version: poll.version(),
            created_at: poll.created_at(),
            vote_url: links::vote_url(public_url, poll.id()),
            present_url: links::present_url(public_url, poll.id()),
            moderate_url: (poll.kind() == domain::PollKind::OpenText)
                .then(|| format!("{public_url}/moderate/{}", poll.id().as_str())),
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
            scale: a.scale,
            max_length: a.max_length,
            max_entries: a.max_entries,
            moderation: a.moderation,
            profanity_filter: a.profanity_filter,
            challenge: a.challenge,
            challenge_difficulty: a.challenge_difficulty,
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

mirror!(PollKind <=> domain::PollKind { Single, Multi, Ranked, Rating, OpenText });
mirror!(Moderation <=> domain::Moderation { Post, Pre });
mirror!(ResultsVisibility <=> domain::ResultsVisibility { Live, OnClose });
mirror!(Access <=> domain::Access { Open, Invite });
mirror!(PollState <=> domain::PollState { Draft, Scheduled, Open, Closed, Archived, Cancelled });

//! The poll record.
//!
//! A [`Poll`] is only made by [`NewPoll::validate`](super::NewPoll::validate), changed only by
//! [`Poll::apply`] (the lifecycle), and loaded from storage only through the same field rules
//! (minus those about the future, since stored polls age), so a `Poll` in hand is always
//! well-formed: 2..=32 options with unique ids and labels, `max_choices` set exactly for
//! `multi` polls, `closes_at` after `opens_at`, and `opens_at` set whenever the poll is
//! `scheduled`.

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};

use super::challenge::{self, ChallengeKind};
use super::ids::{OptionId, PollId};
use super::kinds::{check_max_choices, check_max_voters, KindSettings, Moderation, Scale};
pub use super::kinds::{Access, PollKind, ResultsVisibility};
use super::lifecycle::{transition, Event, PollState, PollTimes, TransitionError};
use super::validation::{
    Collector, Rule, ValidationErrors, DESCRIPTION_MAX_CHARS, TITLE_MAX_CHARS,
};

/// One answer of a poll.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PollOption {
    /// Server-assigned id (`o1`, `o2`, ... in the order given); ballots name options by it.
    pub id: OptionId,
    /// What voters see, trimmed, 1..=200 characters.
    pub label: String,
}

/// A poll, as stored under `poll:{id}` and returned to admins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "PollRecord")]
pub struct Poll {
    pub(super) id: PollId,
    pub(super) title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) description: Option<String>,
    pub(super) kind: PollKind,
    pub(super) options: Vec<PollOption>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) max_choices: Option<u32>,
    pub(super) results_visibility: ResultsVisibility,
    pub(super) allow_revote: bool,
    pub(super) access: Access,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) opens_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) closes_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) max_voters: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) scale: Option<Scale>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) max_length: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) max_entries: Option<u32>,
    #[serde(skip_serializing_if = "is_post")]
    pub(super) moderation: Moderation,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(super) profanity_filter: bool,
    #[serde(skip_serializing_if = "challenge::is_none")]
    pub(super) challenge: ChallengeKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) challenge_difficulty: Option<u32>,
    pub(super) state: PollState,
    pub(super) version: u64,
    pub(super) created_at: DateTime<Utc>,
}

impl Poll {
    /// The poll's id.
    pub fn id(&self) -> &PollId {
        &self.id
    }
    /// The title, trimmed, 1..=200 characters.
    pub fn title(&self) -> &str {
        &self.title
    }
    /// The description, trimmed, at most 2000 characters; `None` when none was given.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }
    /// How voters answer.
    pub fn kind(&self) -> PollKind {
        self.kind
    }
    /// The options, in the order given, with ids `o1`, `o2`, ...
    pub fn options(&self) -> &[PollOption] {
        &self.options
    }
    /// The option with this id, if the poll has it.
    pub fn option(&self, id: OptionId) -> Option<&PollOption> {
        self.options.iter().find(|o| o.id == id)
    }
    /// The option ids, in the order given.
    pub fn option_ids(&self) -> Vec<OptionId> {
        self.options.iter().map(|o| o.id).collect()
    }
    /// Most options a `multi` ballot may name; `None` for other kinds.
    pub fn max_choices(&self) -> Option<u32> {
        self.max_choices
    }
    /// How many choices a ballot names: `single` 1..=1, `multi` 1..=`max_choices`,
    /// `ranked` 1..=number of options.
    pub fn choice_bounds(&self) -> (usize, usize) {
        match self.kind {
            PollKind::Single => (1, 1),
            PollKind::Multi => {
                let max = self.max_choices.map_or(self.options.len(), |m| m as usize);
                (1, max)
            }
            PollKind::Ranked => (1, self.options.len()),
            // No choices: their ballots are a value or texts.
            PollKind::Rating | PollKind::OpenText => (0, 0),
        }
    }
    /// A `rating` poll's scale.
    pub fn scale(&self) -> Option<&Scale> {
        self.scale.as_ref()
    }
    /// An `open_text` poll's longest entry, in characters.
    pub fn max_length(&self) -> Option<u32> {
        self.max_length
    }
    /// An `open_text` poll's most entries per ballot.
    pub fn max_entries(&self) -> Option<u32> {
        self.max_entries
    }
    /// When open-text entries reach the public (`post` for other kinds).
    pub fn moderation(&self) -> Moderation {
        self.moderation
    }
    /// Whether entries matching the built-in profanity list are hidden automatically.
    pub fn profanity_filter(&self) -> bool {
        self.profanity_filter
    }
    /// `"challenge": "pow"` polls: the proof of work's difficulty (`maxnumber`) a voter
    /// token takes; `None` for polls without a challenge.
    pub fn pow_difficulty(&self) -> Option<u32> {
        match self.challenge {
            ChallengeKind::Pow => self.challenge_difficulty,
            ChallengeKind::None => None,
        }
    }
    /// Who sees results while the poll is open.
    pub fn results_visibility(&self) -> ResultsVisibility {
        self.results_visibility
    }
    /// Whether a voter may replace their ballot while the poll is open.
    pub fn allow_revote(&self) -> bool {
        self.allow_revote
    }
    /// Who may take a voting token.
    pub fn access(&self) -> Access {
        self.access
    }
    /// When the poll opens (or opened: opening sets it to the actual time).
    pub fn opens_at(&self) -> Option<DateTime<Utc>> {
        self.opens_at
    }
    /// When the poll closes (or closed: closing early sets it to the actual time).
    pub fn closes_at(&self) -> Option<DateTime<Utc>> {
        self.closes_at
    }
    /// Most ballots the poll takes; `None` for no limit.
    pub fn max_voters(&self) -> Option<u32> {
        self.max_voters
    }
    /// The lifecycle state.
    pub fn state(&self) -> PollState {
        self.state
    }
    /// Starts at 1 and grows by one per transition; stored polls change by compare-and-set.
    pub fn version(&self) -> u64 {
        self.version
    }
    /// When the poll was created.
    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }

    /// Whether voters (not admins) may see results at `at` (any deadline passed by then
    /// applied): `live` polls once they are open, `on_close` polls once they are closed.
    /// Draft, scheduled and cancelled polls have no results to show.
    pub fn results_public_at(&self, at: DateTime<Utc>) -> bool {
        self.results_public_in(self.state_at(at))
    }

    /// Whether voters may see results while the poll is in `state`.
    pub fn results_public_in(&self, state: PollState) -> bool {
        matches!(
            (self.results_visibility, state),
            (_, PollState::Closed | PollState::Archived)
                | (ResultsVisibility::Live, PollState::Open)
        )
    }
}

/// When the scheduler should next send [`Event::Clock`]: `opens_at` of a scheduled poll,
/// `closes_at` of an open one, otherwise never.
pub fn next_clock_deadline(poll: &Poll) -> Option<DateTime<Utc>> {
    match poll.state() {
        PollState::Scheduled => poll.opens_at(),
        PollState::Open => poll.closes_at(),
        _ => None,
    }
}

/// The lifecycle ([`transition`]) applied to a whole poll.
impl Poll {
    /// The poll's lifecycle times.
    pub fn times(&self) -> PollTimes {
        PollTimes {
            opens_at: self.opens_at,
            closes_at: self.closes_at,
        }
    }

    /// The poll after `event` at `now`, with `version` one higher; `self` is untouched, so the
    /// caller can compare-and-set the stored record from the old bytes to the new ones.
    pub fn apply(&self, event: &Event, now: DateTime<Utc>) -> Result<Poll, TransitionError> {
        let (state, times) = transition(self.state, self.times(), event, now)?;
        Ok(Poll {
            state,
            opens_at: times.opens_at,
            closes_at: times.closes_at,
            version: self.version + 1,
            ..self.clone()
        })
    }

    /// Whether the poll counts a vote cast (published) at `cast_at` and judged at `judged_at`:
    /// the poll was open at `cast_at` (on or after `opens_at`, before `closes_at`), and at
    /// `judged_at` it is still open, or closed no more than `grace` ago. So a vote published in
    /// time counts however long a queue held it, within the grace window; `closes_at` is the
    /// actual close for polls closed early, so a manual close is judged the same way. Archived
    /// and cancelled polls count nothing more. `Err` names the state the vote meets.
    pub fn counts_vote(
        &self,
        cast_at: DateTime<Utc>,
        judged_at: DateTime<Utc>,
        grace: chrono::Duration,
    ) -> Result<(), PollState> {
        let now = self.state_at(judged_at);
        if !matches!(now, PollState::Open | PollState::Closed) {
            return Err(now);
        }
        // Open and closed polls have opened, so they have `opens_at`. Publish times come in
        // whole milliseconds (Momento's timestamps): a vote published in the millisecond the
        // poll opened counts.
        if self
            .opens_at
            .is_none_or(|opened| cast_at < opened.trunc_subsecs(3))
        {
            return Err(PollState::Scheduled);
        }
        // Likewise a vote published in the millisecond the poll closed is late: its time,
        // cut to the millisecond, would otherwise read as before a close later in that
        // millisecond (seen: a vote sent right after a manual close counted).
        match self.closes_at {
            Some(closed) if cast_at >= closed.trunc_subsecs(3) => Err(PollState::Closed),
            Some(closed) if now == PollState::Closed && judged_at > closed + grace => {
                Err(PollState::Closed)
            }
            _ => Ok(()),
        }
    }

    /// The state the poll is in at `at` once due deadlines are applied: what a clock event
    /// at `at` would make it, or its stored state when nothing is due (so a poll whose
    /// `closes_at` has passed reads closed before any scheduler has stored it closed).
    pub fn state_at(&self, at: DateTime<Utc>) -> PollState {
        transition(self.state, self.times(), &Event::Clock, at).map_or(self.state, |(s, _)| s)
    }
}

/// The stored form, checked on the way in by [`TryFrom`].
#[derive(Deserialize)]
struct PollRecord {
    id: PollId,
    title: String,
    description: Option<String>,
    kind: PollKind,
    options: Vec<PollOption>,
    max_choices: Option<u32>,
    results_visibility: ResultsVisibility,
    allow_revote: bool,
    access: Access,
    opens_at: Option<DateTime<Utc>>,
    closes_at: Option<DateTime<Utc>>,
    max_voters: Option<u32>,
    #[serde(default)]
    scale: Option<Scale>,
    #[serde(default)]
    max_length: Option<u32>,
    #[serde(default)]
    max_entries: Option<u32>,
    #[serde(default)]
    moderation: Moderation,
    #[serde(default)]
    profanity_filter: bool,
    #[serde(default)]
    challenge: ChallengeKind,
    #[serde(default)]
    challenge_difficulty: Option<u32>,
    state: PollState,
    version: u64,
    created_at: DateTime<Utc>,
}

fn is_post(moderation: &Moderation) -> bool {
    *moderation == Moderation::Post
}

impl TryFrom<PollRecord> for Poll {
    type Error = ValidationErrors;

    fn try_from(r: PollRecord) -> Result<Self, ValidationErrors> {
        let mut c = Collector::default();
        c.line("title", &r.title, TITLE_MAX_CHARS);
        if let Some(d) = &r.description {
            c.paragraph("description", d, DESCRIPTION_MAX_CHARS);
        }
        if r.kind.has_options() {
            c.labels(r.options.iter().map(|o| o.label.as_str()));
        }
        let settings = KindSettings {
            scale: r.scale.clone(),
            max_length: r.max_length,
            max_entries: r.max_entries,
            moderation: r.moderation,
            profanity_filter: r.profanity_filter,
        };
        settings.check(&mut c, r.kind, r.options.len(), true);
        let mut ids: Vec<OptionId> = r.options.iter().map(|o| o.id).collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.len() != r.options.len() {
            c.push("options", Rule::Duplicate, "option ids must be unique");
        }
        check_max_choices(&mut c, r.kind, r.max_choices, r.options.len());
        if r.kind == PollKind::Multi && r.max_choices.is_none() {
            c.push(
                "max_choices",
                Rule::Required,
                "a multi poll stores max_choices",
            );
        }
        if let (Some(open), Some(close)) = (r.opens_at, r.closes_at) {
            // Not strictly after: a poll closed the instant it opened is still a stored fact.
            if close < open {
                c.push(
                    "closes_at",
                    Rule::NotAfterOpensAt,
                    "must not be before opens_at",
                );
            }
        }
        if r.state == PollState::Scheduled && r.opens_at.is_none() {
            c.push("opens_at", Rule::Required, "a scheduled poll has opens_at");
        }
        check_max_voters(&mut c, r.max_voters);
        challenge::check(&mut c, r.challenge, r.challenge_difficulty, r.access, true);
        if r.version == 0 {
            c.push("version", Rule::OutOfRange, "starts at 1");
        }
        c.finish(|| Poll {
            id: r.id,
            title: r.title,
            description: r.description,
            kind: r.kind,
            options: r.options,
            max_choices: r.max_choices,
            results_visibility: r.results_visibility,
            allow_revote: r.allow_revote,
            access: r.access,
            opens_at: r.opens_at,
            closes_at: r.closes_at,
            max_voters: r.max_voters,
            scale: r.scale,
            max_length: r.max_length,
            max_entries: r.max_entries,
            moderation: r.moderation,
            profanity_filter: r.profanity_filter,
            challenge: r.challenge,
            challenge_difficulty: r.challenge_difficulty,
            state: r.state,
            version: r.version,
            created_at: r.created_at,
        })
    }
}

//! What an admin submits to create a poll, and its validation into a [`Poll`].
//!
//! Decisions (see also the [`validation`](super::validation) module doc):
//! - Text is normalised before it is checked and stored ([`normalise`]: NFC, invisible
//!   characters dropped, trimmed); a blank description counts as none.
//! - Labels must be unique ignoring case: "Pizza" and " pizza" are the same answer to a voter.
//! - `max_choices` is accepted for `multi` polls only (anything else is an error rather than
//!   silently ignored) and defaults to the number of options, i.e. "pick any".
//! - `opens_at` and `closes_at`, when given, must be strictly after `now`, and `closes_at`
//!   strictly after `opens_at`.
//! - A poll created with `opens_at` starts `scheduled` (the admin has said when it opens, so
//!   the clock opens it with no second call); without it, `draft`. Either way `version` is 1.
//! - Unknown JSON fields are refused, so a typo such as `close_at` is not silently dropped.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::challenge::{self, ChallengeKind};
use super::ids::{OptionId, PollId};
use super::kinds::{check_max_choices, check_max_voters};
use super::kinds::{KindSettings, Moderation, Scale};
use super::lifecycle::PollState;
use super::poll::{Access, Poll, PollKind, PollOption, ResultsVisibility};
use super::validation::{
    normalise, Collector, Rule, ValidationErrors, DESCRIPTION_MAX_CHARS, TITLE_MAX_CHARS,
};

/// A poll as an admin submits it: options are plain labels, ids are assigned on creation.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPoll {
    /// The question; 1..=200 characters after trimming, one line.
    pub title: String,
    /// Longer text under the title; at most 2000 characters, line breaks allowed.
    #[serde(default)]
    pub description: Option<String>,
    /// How voters answer; `single` when omitted.
    #[serde(default)]
    pub kind: PollKind,
    /// The answers, in display order: 2..=32 labels of 1..=200 characters, unique ignoring
    /// case. They become options `o1`, `o2`, ... in this order. None for `rating` and
    /// `open_text` polls.
    #[serde(default)]
    pub options: Vec<String>,
    /// For `multi` polls only: most options per ballot, 1..=number of options; defaults to
    /// the number of options.
    #[serde(default)]
    pub max_choices: Option<u32>,
    /// Who sees results while the poll is open; `live` when omitted.
    #[serde(default)]
    pub results_visibility: ResultsVisibility,
    /// Whether a voter may replace their ballot while the poll is open; `false` when omitted.
    #[serde(default)]
    pub allow_revote: bool,
    /// Who may take a voting token; `open` when omitted.
    #[serde(default)]
    pub access: Access,
    /// When the clock opens the poll; in the future. Giving it creates the poll `scheduled`.
    #[serde(default)]
    pub opens_at: Option<DateTime<Utc>>,
    /// When the clock closes the poll; in the future and after `opens_at`.
    #[serde(default)]
    pub closes_at: Option<DateTime<Utc>>,
    /// Most ballots the poll takes, at least 1; no limit when omitted.
    #[serde(default)]
    pub max_voters: Option<u32>,
    /// `rating` polls only (required): the scale.
    #[serde(default)]
    pub scale: Option<Scale>,
    /// `open_text` polls only: longest entry, 1..=280 characters (default 140).
    #[serde(default)]
    pub max_length: Option<u32>,
    /// `open_text` polls only: most entries per voter, 1..=3 (default 1).
    #[serde(default)]
    pub max_entries: Option<u32>,
    /// `open_text` polls only: `pre` shows entries only once an admin approves them; `post`
    /// (default) at once.
    #[serde(default)]
    pub moderation: Moderation,
    /// `open_text` polls only: hide entries the built-in profanity list matches.
    #[serde(default)]
    pub profanity_filter: bool,
    /// Open polls only: `pow` asks for a proof of work before each voter token.
    #[serde(default)]
    pub challenge: ChallengeKind,
    /// `"challenge": "pow"` only: the puzzle's `maxnumber` (hashes: half of it on average),
    /// within [`challenge::DIFFICULTY_RANGE`]; default [`challenge::DEFAULT_DIFFICULTY`].
    #[serde(default)]
    pub challenge_difficulty: Option<u32>,
}

impl NewPoll {
    /// Checks every rule and, if all hold, makes the poll `id` created at `now`. Reports every
    /// broken rule at once, in field order.
    pub fn validate(self, id: PollId, now: DateTime<Utc>) -> Result<Poll, ValidationErrors> {
        let mut c = Collector::default();

        let title = normalise(&self.title);
        c.line("title", &title, TITLE_MAX_CHARS);
        c.no_bidi("title", &title);

        let description = self
            .description
            .as_deref()
            .map(normalise)
            .filter(|d| !d.is_empty());
        if let Some(d) = &description {
            c.paragraph("description", d, DESCRIPTION_MAX_CHARS);
            c.no_bidi("description", d);
        }

        let labels: Vec<String> = self.options.iter().map(|l| normalise(l)).collect();
        if self.kind.has_options() {
            c.labels(labels.iter().map(String::as_str));
        }
        let settings = KindSettings {
            scale: self.scale.clone().map(Scale::normalised),
            max_length: self.max_length,
            max_entries: self.max_entries,
            moderation: self.moderation,
            profanity_filter: self.profanity_filter,
        };
        settings.check(&mut c, self.kind, labels.len(), false);
        let settings = settings.with_defaults(self.kind);
        for (i, label) in labels.iter().enumerate() {
            c.no_bidi(&format!("options[{i}]"), label);
        }

        check_max_choices(&mut c, self.kind, self.max_choices, labels.len());
        let max_choices = match self.kind {
            PollKind::Multi => Some(self.max_choices.unwrap_or(labels.len() as u32)),
            PollKind::Single | PollKind::Ranked | PollKind::Rating | PollKind::OpenText => None,
        };

        check_times(&mut c, self.opens_at, self.closes_at, now);
        check_max_voters(&mut c, self.max_voters);
        challenge::check(
            &mut c,
            self.challenge,
            self.challenge_difficulty,
            self.access,
            false,
        );
        let challenge_difficulty = match self.challenge {
            ChallengeKind::Pow => self
                .challenge_difficulty
                .or(Some(challenge::DEFAULT_DIFFICULTY)),
            ChallengeKind::None => None,
        };

        let state = if self.opens_at.is_some() {
            PollState::Scheduled
        } else {
            PollState::Draft
        };
        c.finish(|| Poll {
            id,
            title,
            description,
            kind: self.kind,
            options: number_options(labels),
            max_choices,
            results_visibility: self.results_visibility,
            allow_revote: self.allow_revote,
            access: self.access,
            opens_at: self.opens_at,
            closes_at: self.closes_at,
            max_voters: self.max_voters,
            scale: settings.scale,
            max_length: settings.max_length,
            max_entries: settings.max_entries,
            moderation: settings.moderation,
            profanity_filter: settings.profanity_filter,
            challenge: self.challenge,
            challenge_difficulty,
            state,
            version: 1,
            created_at: now,
        })
    }
}

fn check_times(
    c: &mut Collector,
    opens_at: Option<DateTime<Utc>>,
    closes_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) {
    if opens_at.is_some_and(|t| t <= now) {
        c.push("opens_at", Rule::NotInFuture, "must be in the future");
    }
    if closes_at.is_some_and(|t| t <= now) {
        c.push("closes_at", Rule::NotInFuture, "must be in the future");
    }
    if let (Some(open), Some(close)) = (opens_at, closes_at) {
        if close <= open {
            c.push("closes_at", Rule::NotAfterOpensAt, "must be after opens_at");
        }
    }
}

/// Gives the labels their ids `o1`, `o2`, ... Only called once the count is known to be at
/// most 32, so the numbers always fit.
fn number_options(labels: Vec<String>) -> Vec<PollOption> {
    (1u16..)
        .zip(labels)
        .map(|(n, label)| PollOption {
            id: OptionId::from_number(n).expect("option numbers start at 1"),
            label,
        })
        .collect()
}

#[cfg(test)]
mod tests;

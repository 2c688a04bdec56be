//! The kinds of poll ([`PollKind`]), the settings of the kinds beyond choice (a `rating` poll's
//! [`Scale`], an `open_text` poll's limits and [`Moderation`]), and the rules that say which
//! settings go with which kind; the settings every kind has ([`ResultsVisibility`],
//! [`Access`], `max_choices`, `max_voters`) and their rules.
//!
//! Decisions:
//! - A scale is integers `min..=max` with `min < max` and at most [`MAX_SCALE_STEPS`] values
//!   (0..=10, the usual NPS-like scale, is the largest), within ±[`SCALE_BOUND`].
//! - `max_length` is 1..=[`MAX_ENTRY_CHARS`] (default [`DEFAULT_ENTRY_CHARS`]); `max_entries`
//!   is 1..=[`MAX_ENTRIES`] (default 1). Both are stored, defaults filled in.
//! - `moderation: pre` and `profanity_filter` are for `open_text` polls only; refused on other
//!   kinds rather than silently ignored, like `max_choices` on a single poll.
//! - Rating and open-text polls have no options (an error when some are given).

use serde::{Deserialize, Serialize};

use super::validation::{normalise, Collector, Rule};

/// Who sees results while the poll is open. Admins always see them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResultsVisibility {
    /// Voters see results live while the poll is open.
    #[default]
    Live,
    /// Voters see results once the poll is closed.
    OnClose,
}

/// Who may take a voting token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// Anyone may take a token; each token is one anonymous voter.
    #[default]
    Open,
    /// Only an admin mints tokens, for named voter ids.
    Invite,
}

/// How voters answer a poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PollKind {
    /// Exactly one option per ballot.
    #[default]
    Single,
    /// 1..=`max_choices` distinct options per ballot.
    Multi,
    /// An ordering of some or all options, best first; tallied by instant-runoff.
    Ranked,
    /// One integer on the poll's scale per ballot; results are counts per value, the mean and
    /// the median.
    Rating,
    /// Up to `max_entries` short texts per ballot; results are the entries and a word list.
    OpenText,
}

impl PollKind {
    /// The kind as the API spells it (`open_text`).
    pub fn as_str(self) -> &'static str {
        match self {
            PollKind::Single => "single",
            PollKind::Multi => "multi",
            PollKind::Ranked => "ranked",
            PollKind::Rating => "rating",
            PollKind::OpenText => "open_text",
        }
    }

    /// Whether ballots name options (`single`, `multi`, `ranked`).
    pub fn has_options(self) -> bool {
        matches!(self, PollKind::Single | PollKind::Multi | PollKind::Ranked)
    }
}

impl std::fmt::Display for PollKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Most values a rating scale has (0..=10).
pub const MAX_SCALE_STEPS: i64 = 11;
/// Largest absolute value of a scale bound.
pub const SCALE_BOUND: i32 = 1000;
/// Longest scale end label, in characters.
pub const SCALE_LABEL_MAX_CHARS: usize = 60;
/// Longest open-text entry a poll may allow, in characters.
pub const MAX_ENTRY_CHARS: u32 = 280;
/// `max_length` when none is given.
pub const DEFAULT_ENTRY_CHARS: u32 = 140;
/// Most entries per voter a poll may allow.
pub const MAX_ENTRIES: u32 = 3;

/// A rating poll's scale: the integers `min..=max`, with optional words for its ends.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Scale {
    /// The lowest value.
    pub min: i32,
    /// The highest value.
    pub max: i32,
    /// What the lowest value means ("Not at all"), if said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_label: Option<String>,
    /// What the highest value means ("Very much"), if said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_label: Option<String>,
}

impl Scale {
    /// Whether `value` is on the scale.
    pub fn contains(&self, value: i64) -> bool {
        (i64::from(self.min)..=i64::from(self.max)).contains(&value)
    }

    /// Every value of the scale, lowest first.
    pub fn values(&self) -> impl Iterator<Item = i64> {
        i64::from(self.min)..=i64::from(self.max)
    }

    /// The scale with its labels normalised (blank ones dropped).
    pub(super) fn normalised(self) -> Scale {
        let label = |l: Option<String>| l.map(|l| normalise(&l)).filter(|l| !l.is_empty());
        Scale {
            min_label: label(self.min_label),
            max_label: label(self.max_label),
            ..self
        }
    }
}

/// When open-text entries reach the public.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Moderation {
    /// At once; an admin may hide an entry afterwards.
    #[default]
    Post,
    /// Only once an admin approves them.
    Pre,
}

/// The kind-specific settings of a poll, as submitted or stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct KindSettings {
    pub scale: Option<Scale>,
    pub max_length: Option<u32>,
    pub max_entries: Option<u32>,
    pub moderation: Moderation,
    pub profanity_filter: bool,
}

impl KindSettings {
    /// Checks the settings against `kind` (and the number of options given); `stored` polls
    /// must carry the open-text limits (creation fills in the defaults).
    pub fn check(&self, c: &mut Collector, kind: PollKind, options: usize, stored: bool) {
        let choice = matches!(kind, PollKind::Single | PollKind::Multi | PollKind::Ranked);
        if !choice && options > 0 {
            c.push(
                "options",
                Rule::NotAllowed,
                format!("a {kind} poll has no options"),
            );
        }
        match (&self.scale, kind) {
            (None, PollKind::Rating) => {
                c.push("scale", Rule::Required, "a rating poll has a scale")
            }
            (Some(scale), PollKind::Rating) => check_scale(c, scale),
            (Some(_), _) => c.push("scale", Rule::NotAllowed, "is only for rating polls"),
            (None, _) => {}
        }
        let text = kind == PollKind::OpenText;
        check_limit(
            c,
            "max_length",
            self.max_length,
            MAX_ENTRY_CHARS,
            text,
            stored,
        );
        check_limit(
            c,
            "max_entries",
            self.max_entries,
            MAX_ENTRIES,
            text,
            stored,
        );
        if !text && self.moderation == Moderation::Pre {
            c.push(
                "moderation",
                Rule::NotAllowed,
                "is only for open_text polls",
            );
        }
        if !text && self.profanity_filter {
            c.push(
                "profanity_filter",
                Rule::NotAllowed,
                "is only for open_text polls",
            );
        }
    }

    /// The settings as stored: the open-text defaults filled in.
    pub fn with_defaults(self, kind: PollKind) -> Self {
        match kind {
            PollKind::OpenText => Self {
                max_length: Some(self.max_length.unwrap_or(DEFAULT_ENTRY_CHARS)),
                max_entries: Some(self.max_entries.unwrap_or(1)),
                ..self
            },
            _ => self,
        }
    }
}

fn check_scale(c: &mut Collector, scale: &Scale) {
    let (min, max) = (i64::from(scale.min), i64::from(scale.max));
    if scale.min.abs() > SCALE_BOUND || scale.max.abs() > SCALE_BOUND {
        c.push(
            "scale",
            Rule::OutOfRange,
            format!("min and max must be within -{SCALE_BOUND}..={SCALE_BOUND}"),
        );
    } else if min >= max {
        c.push(
            "scale.max",
            Rule::OutOfRange,
            "must be greater than scale.min",
        );
    } else if max - min + 1 > MAX_SCALE_STEPS {
        c.push(
            "scale",
            Rule::TooMany,
            format!("has {} values, more than {MAX_SCALE_STEPS}", max - min + 1),
        );
    }
    for (field, label) in [
        ("scale.min_label", &scale.min_label),
        ("scale.max_label", &scale.max_label),
    ] {
        if let Some(label) = label {
            c.line(field, label, SCALE_LABEL_MAX_CHARS);
            c.no_bidi(field, label);
        }
    }
}

fn check_limit(
    c: &mut Collector,
    field: &str,
    value: Option<u32>,
    most: u32,
    allowed: bool,
    required: bool,
) {
    match value {
        Some(_) if !allowed => c.push(field, Rule::NotAllowed, "is only for open_text polls"),
        Some(n) if n == 0 || n > most => {
            c.push(field, Rule::OutOfRange, format!("must be from 1 to {most}"))
        }
        None if allowed && required => c.push(field, Rule::Required, "an open_text poll stores it"),
        _ => {}
    }
}

/// `max_choices` is for `multi` polls only, within 1..=number of options.
pub(super) fn check_max_choices(c: &mut Collector, kind: PollKind, max: Option<u32>, n: usize) {
    match (kind, max) {
        (PollKind::Multi, Some(m)) if m == 0 || m as usize > n => c.push(
            "max_choices",
            Rule::OutOfRange,
            format!("must be from 1 to the number of options ({n})"),
        ),
        (PollKind::Single | PollKind::Ranked | PollKind::Rating | PollKind::OpenText, Some(_)) => {
            c.push("max_choices", Rule::NotAllowed, "is only for multi polls")
        }
        _ => {}
    }
}

/// `max_voters`, when given, is at least 1.
pub(super) fn check_max_voters(c: &mut Collector, max: Option<u32>) {
    if max == Some(0) {
        c.push("max_voters", Rule::OutOfRange, "must be at least 1");
    }
}

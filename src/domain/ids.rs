//! Identifiers, parsed once at the edge so that an invalid one cannot exist.
//!
//! Every id is ASCII, so its length in characters is its length in bytes, and none contains
//! `:`, the separator of a [`TokenId`] and of the cache keys (`ballot:{poll_id}:{voter_id}`).
//!
//! The length budget of a token id (Momento allows at most 64 characters) is split statically:
//! a poll id has at most [`POLL_ID_MAX_LEN`] characters and a voter id at most
//! [`VOTER_ID_MAX_LEN`], so `poll_id + ":" + voter_id` always fits and [`TokenId::new`] cannot
//! fail.

use std::fmt;
use std::str::FromStr;

use rand::distr::Alphanumeric;
use rand::Rng;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Longest poll id accepted by [`PollId::parse`].
pub const POLL_ID_MAX_LEN: usize = 16;
/// Length of the ids made by [`PollId::generate`]: 62^10 is about 8e17, so collisions are
/// negligible (the store still creates polls with set-if-absent).
pub const POLL_ID_GENERATED_LEN: usize = 10;
/// Longest voter id: whatever a token id leaves after the longest poll id and the `:`.
pub const VOTER_ID_MAX_LEN: usize = TOKEN_ID_MAX_LEN - POLL_ID_MAX_LEN - 1;
/// Length of the anonymous voter ids made by [`VoterId::generate`].
pub const VOTER_ID_GENERATED_LEN: usize = 16;
/// Longest token id, Momento's own limit for a disposable token's `token_id`.
pub const TOKEN_ID_MAX_LEN: usize = 64;

/// Which kind of id an [`IdError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    /// A [`PollId`].
    Poll,
    /// An [`OptionId`].
    Option,
    /// A [`VoterId`].
    Voter,
    /// A [`TokenId`].
    Token,
}

impl fmt::Display for IdKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IdKind::Poll => "poll id",
            IdKind::Option => "option id",
            IdKind::Voter => "voter id",
            IdKind::Token => "token id",
        })
    }
}

/// Why a string is not a valid id.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdError {
    /// The string is empty.
    #[error("{kind} is empty")]
    Empty {
        /// The id being parsed.
        kind: IdKind,
    },
    /// The string is longer than the id allows.
    #[error("{kind} has {len} characters, more than {max}")]
    TooLong {
        /// The id being parsed.
        kind: IdKind,
        /// Its length in characters.
        len: usize,
        /// The most allowed.
        max: usize,
    },
    /// The string has a character outside the id's charset.
    #[error("{kind} contains {found:?}; allowed: {allowed}")]
    InvalidChar {
        /// The id being parsed.
        kind: IdKind,
        /// The first offending character.
        found: char,
        /// The allowed charset, for the message.
        allowed: &'static str,
    },
    /// An option id is not `o` followed by a number from 1 without leading zeros.
    #[error("option id {0:?} is not `o` followed by a number from 1 to 65535, like `o1`")]
    BadOptionId(String),
    /// A token id has no `:` between its poll id and its voter id.
    #[error("token id has no ':' between a poll id and a voter id")]
    MissingSeparator,
}

const POLL_ID_CHARSET: &str = "ASCII letters, digits, '-' and '_'";
const VOTER_ID_CHARSET: &str = "ASCII letters, digits, '-', '_', '.', '@' and '+'";

fn check_chars(
    kind: IdKind,
    s: &str,
    max: usize,
    allowed: &'static str,
    ok: impl Fn(char) -> bool,
) -> Result<(), IdError> {
    if s.is_empty() {
        return Err(IdError::Empty { kind });
    }
    if let Some(found) = s.chars().find(|&c| !ok(c)) {
        return Err(IdError::InvalidChar {
            kind,
            found,
            allowed,
        });
    }
    // Checked after the charset, so `len` is a character count: the string is ASCII here.
    if s.len() > max {
        return Err(IdError::TooLong {
            kind,
            len: s.len(),
            max,
        });
    }
    Ok(())
}

fn random_alphanumeric<R: Rng + ?Sized>(rng: &mut R, len: usize) -> String {
    (0..len)
        .map(|_| char::from(rng.sample(Alphanumeric)))
        .collect()
}

/// Implements `Display`, `FromStr`, `AsRef<str>`, `TryFrom<String>` and `From<Self> for String`
/// for a string newtype with a `parse` constructor, so serde can go through `parse`.
macro_rules! string_id {
    ($ty:ident) => {
        impl $ty {
            /// The id as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        impl FromStr for $ty {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }
        impl TryFrom<String> for $ty {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                Self::parse(&s)
            }
        }
        impl From<$ty> for String {
            fn from(id: $ty) -> String {
                id.to_string()
            }
        }
    };
}

/// A poll's id: 1 to [`POLL_ID_MAX_LEN`] URL-safe characters (ASCII letters, digits, `-`,
/// `_`), generated by the server as [`POLL_ID_GENERATED_LEN`] base62 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PollId(String);

impl PollId {
    /// Parses a poll id, as found in a URL, a vote message or a token id.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        check_chars(IdKind::Poll, s, POLL_ID_MAX_LEN, POLL_ID_CHARSET, |c| {
            c.is_ascii_alphanumeric() || c == '-' || c == '_'
        })?;
        Ok(Self(s.to_owned()))
    }

    /// A new random id of [`POLL_ID_GENERATED_LEN`] base62 characters.
    pub fn generate() -> Self {
        Self::generate_with(&mut rand::rng())
    }

    /// A new random id drawn from `rng`, for reproducible tests.
    pub fn generate_with<R: Rng + ?Sized>(rng: &mut R) -> Self {
        Self(random_alphanumeric(rng, POLL_ID_GENERATED_LEN))
    }
}
string_id!(PollId);

/// A voter's id: 1 to [`VOTER_ID_MAX_LEN`] ASCII letters, digits, `-`, `_`, `.`, `@` or `+`,
/// so an admin can mint invite tokens for e-mail-like names; never `:`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct VoterId(String);

impl VoterId {
    /// Parses a voter id, as named by an admin or found in a token id.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        check_chars(IdKind::Voter, s, VOTER_ID_MAX_LEN, VOTER_ID_CHARSET, |c| {
            c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@' | '+')
        })?;
        Ok(Self(s.to_owned()))
    }

    /// A new random anonymous voter id ([`VOTER_ID_GENERATED_LEN`] base62 characters), for
    /// tokens of `open` polls.
    pub fn generate() -> Self {
        Self::generate_with(&mut rand::rng())
    }

    /// A new random anonymous voter id drawn from `rng`.
    pub fn generate_with<R: Rng + ?Sized>(rng: &mut R) -> Self {
        Self(random_alphanumeric(rng, VOTER_ID_GENERATED_LEN))
    }
}
string_id!(VoterId);

/// An option's id within its poll: `o1`, `o2`, ... in the order the options were listed.
/// Assigned by the server at creation and never renumbered. Orders by number (`o2 < o10`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OptionId(u16);

impl OptionId {
    /// Parses `o` followed by a number from 1 to 65535 without leading zeros.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let bad = || IdError::BadOptionId(s.to_owned());
        let digits = s.strip_prefix('o').ok_or_else(bad)?;
        // `u16::from_str` alone would take "+1" and "01"; ids have one spelling only.
        if digits.is_empty()
            || digits.starts_with('0')
            || !digits.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        digits.parse().map(Self).map_err(|_| bad())
    }

    /// The id numbered `n` (`o{n}`); `n` starts at 1.
    pub fn from_number(n: u16) -> Result<Self, IdError> {
        if n == 0 {
            return Err(IdError::BadOptionId("o0".to_owned()));
        }
        Ok(Self(n))
    }

    /// The number in the id (`o3` is 3).
    pub fn number(self) -> u16 {
        self.0
    }
}

impl fmt::Display for OptionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "o{}", self.0)
    }
}

impl FromStr for OptionId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        Self::parse(s)
    }
}

impl TryFrom<String> for OptionId {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        Self::parse(&s)
    }
}

impl From<OptionId> for String {
    fn from(id: OptionId) -> String {
        id.to_string()
    }
}

/// The `token_id` of a voter's disposable token: `"{poll_id}:{voter_id}"`, at most
/// [`TOKEN_ID_MAX_LEN`] characters. Momento attaches it to every vote the voter publishes, so
/// it, not the message, says who voted and for which poll.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TokenId {
    poll: PollId,
    voter: VoterId,
}

impl TokenId {
    /// The token id of `voter` in `poll`. Cannot fail: the id lengths are bounded so that the
    /// result always fits in [`TOKEN_ID_MAX_LEN`] characters.
    pub fn new(poll: &PollId, voter: &VoterId) -> Self {
        Self {
            poll: poll.clone(),
            voter: voter.clone(),
        }
    }

    /// Parses `"{poll_id}:{voter_id}"`, such as the `token_id` Momento reports for a publisher.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        if s.is_empty() {
            return Err(IdError::Empty {
                kind: IdKind::Token,
            });
        }
        let len = s.chars().count();
        if len > TOKEN_ID_MAX_LEN {
            return Err(IdError::TooLong {
                kind: IdKind::Token,
                len,
                max: TOKEN_ID_MAX_LEN,
            });
        }
        let (poll, voter) = s.split_once(':').ok_or(IdError::MissingSeparator)?;
        Ok(Self {
            poll: PollId::parse(poll)?,
            voter: VoterId::parse(voter)?,
        })
    }

    /// The poll the token is for.
    pub fn poll_id(&self) -> &PollId {
        &self.poll
    }

    /// The voter the token was issued to.
    pub fn voter_id(&self) -> &VoterId {
        &self.voter
    }

    /// Both parts, by value.
    pub fn into_parts(self) -> (PollId, VoterId) {
        (self.poll, self.voter)
    }
}

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.poll, self.voter)
    }
}

impl FromStr for TokenId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        Self::parse(s)
    }
}

impl TryFrom<String> for TokenId {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        Self::parse(&s)
    }
}

impl From<TokenId> for String {
    fn from(id: TokenId) -> String {
        id.to_string()
    }
}

#[cfg(test)]
mod tests;

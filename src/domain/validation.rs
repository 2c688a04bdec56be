//! Field rules of a poll, shared by [`NewPoll::validate`](super::NewPoll::validate) (what an
//! admin submits) and by loading a stored [`Poll`](super::Poll) record.
//!
//! Validation collects every broken rule rather than stopping at the first, so an admin fixes a
//! form in one round trip. Each [`ValidationError`] names the field (`title`, `options[2]`, ...)
//! and a stable [`Rule`] code next to a human message.
//!
//! Lengths are counted in Unicode scalar values (`char`s) after trimming surrounding
//! whitespace, which is what a person counts, not in bytes.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::fmt;

use serde::Serialize;
use thiserror::Error;

/// Longest title, in characters.
pub const TITLE_MAX_CHARS: usize = 200;
/// Longest description, in characters.
pub const DESCRIPTION_MAX_CHARS: usize = 2000;
/// Longest option label, in characters.
pub const LABEL_MAX_CHARS: usize = 200;
/// Fewest options a poll has.
pub const MIN_OPTIONS: usize = 2;
/// Most options a poll has.
pub const MAX_OPTIONS: usize = 32;

/// Characters that take no room and change nothing a reader sees: the zero-width space, the
/// word joiner, the zero-width no-break space (BOM) and the soft hyphen. They are dropped, so
/// labels that differ only by them are the same label. (The zero-width joiner and non-joiner
/// stay: emoji sequences and some scripts need them.)
const INVISIBLE: [char; 4] = ['\u{200B}', '\u{2060}', '\u{FEFF}', '\u{00AD}'];

/// Whether `c` changes the direction text is shown in (Unicode bidi embeddings, overrides,
/// isolates and marks): refused in every text field, since it can make one text read as
/// another (a right-to-left override reverses what follows).
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}'
    )
}

/// Text as a poll stores it: in Unicode NFC (a composed and a decomposed accent are the same
/// text), without invisible characters ([`INVISIBLE`]), trimmed.
pub fn normalise(text: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let visible: String = text.chars().filter(|c| !INVISIBLE.contains(c)).collect();
    visible.trim().nfc().collect()
}

/// The rule a field broke; its `snake_case` name is a stable code for API clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// The field is missing or blank.
    Required,
    /// The text is longer than allowed.
    TooLong,
    /// The list has fewer items than allowed.
    TooFew,
    /// The list has more items than allowed.
    TooMany,
    /// The item repeats an earlier one.
    Duplicate,
    /// The text contains a control character (line breaks are allowed in descriptions only).
    ControlCharacter,
    /// The field is not allowed with the other fields' values.
    NotAllowed,
    /// The number is outside its allowed range.
    OutOfRange,
    /// The time is not in the future.
    NotInFuture,
    /// `closes_at` is not after `opens_at`.
    NotAfterOpensAt,
}

impl Rule {
    /// The stable `snake_case` code of the rule.
    pub fn code(self) -> &'static str {
        match self {
            Rule::Required => "required",
            Rule::TooLong => "too_long",
            Rule::TooFew => "too_few",
            Rule::TooMany => "too_many",
            Rule::Duplicate => "duplicate",
            Rule::ControlCharacter => "control_character",
            Rule::NotAllowed => "not_allowed",
            Rule::OutOfRange => "out_of_range",
            Rule::NotInFuture => "not_in_future",
            Rule::NotAfterOpensAt => "not_after_opens_at",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// One broken rule: which field, which rule, and a message for a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    /// The field, as named in the JSON (`title`, `options[2]`, `max_choices`, ...).
    pub field: String,
    /// The rule it broke.
    pub rule: Rule,
    /// What is wrong, in a sentence.
    pub message: String,
}

/// Every rule a poll broke, in field order; never empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Error)]
#[serde(transparent)]
pub struct ValidationErrors(Vec<ValidationError>);

impl ValidationErrors {
    /// The broken rules.
    pub fn errors(&self) -> &[ValidationError] {
        &self.0
    }

    /// Whether `field` broke `rule`; handy in tests and when mapping to API errors.
    pub fn has(&self, field: &str, rule: Rule) -> bool {
        self.0.iter().any(|e| e.field == field && e.rule == rule)
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid poll: ")?;
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl IntoIterator for ValidationErrors {
    type Item = ValidationError;
    type IntoIter = std::vec::IntoIter<ValidationError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// Collects broken rules while a poll is checked.
#[derive(Debug, Default)]
pub(super) struct Collector(Vec<ValidationError>);

impl Collector {
    pub(super) fn push(
        &mut self,
        field: impl Into<String>,
        rule: Rule,
        message: impl Into<String>,
    ) {
        self.0.push(ValidationError {
            field: field.into(),
            rule,
            message: message.into(),
        });
    }

    /// `Ok(value)` when no rule was broken.
    pub(super) fn finish<T>(self, value: impl FnOnce() -> T) -> Result<T, ValidationErrors> {
        if self.0.is_empty() {
            Ok(value())
        } else {
            Err(ValidationErrors(self.0))
        }
    }

    /// A required single-line text of 1..=`max` characters (expects it trimmed).
    pub(super) fn line(&mut self, field: &str, text: &str, max: usize) {
        let len = text.chars().count();
        if len == 0 {
            self.push(field, Rule::Required, "must not be blank");
        } else if len > max {
            self.push(
                field,
                Rule::TooLong,
                format!("has {len} characters, more than {max}"),
            );
        }
        if text.chars().any(char::is_control) {
            self.push(
                field,
                Rule::ControlCharacter,
                "must not contain control characters or line breaks",
            );
        }
    }

    /// Refuses direction-changing characters ([`is_bidi_control`]) in what an admin submits
    /// (not in stored polls, which were accepted before this rule).
    pub(super) fn no_bidi(&mut self, field: &str, text: &str) {
        if text.chars().any(is_bidi_control) {
            self.push(
                field,
                Rule::ControlCharacter,
                "must not contain direction-changing (bidi) control characters",
            );
        }
    }

    /// An optional multi-line text of at most `max` characters (expects it trimmed).
    pub(super) fn paragraph(&mut self, field: &str, text: &str, max: usize) {
        let len = text.chars().count();
        if len > max {
            self.push(
                field,
                Rule::TooLong,
                format!("has {len} characters, more than {max}"),
            );
        }
        if text
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            self.push(
                field,
                Rule::ControlCharacter,
                "must not contain control characters other than line breaks and tabs",
            );
        }
    }

    /// Option labels (expects them trimmed): 2..=32 of them, each a valid line, unique when
    /// compared case-insensitively (Unicode lowercase), so "Pizza" and "pizza " collide.
    pub(super) fn labels<'a>(&mut self, labels: impl ExactSizeIterator<Item = &'a str>) {
        let n = labels.len();
        if n < MIN_OPTIONS {
            self.push(
                "options",
                Rule::TooFew,
                format!("has {n} options, fewer than {MIN_OPTIONS}"),
            );
        } else if n > MAX_OPTIONS {
            self.push(
                "options",
                Rule::TooMany,
                format!("has {n} options, more than {MAX_OPTIONS}"),
            );
        }
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (i, label) in labels.enumerate() {
            let field = format!("options[{i}]");
            self.line(&field, label, LABEL_MAX_CHARS);
            if label.is_empty() {
                continue;
            }
            match seen.entry(label.to_lowercase()) {
                Entry::Occupied(first) => self.push(
                    field,
                    Rule::Duplicate,
                    format!(
                        "repeats options[{}] (labels are compared ignoring case)",
                        first.get()
                    ),
                ),
                Entry::Vacant(slot) => {
                    slot.insert(i);
                }
            }
        }
    }
}

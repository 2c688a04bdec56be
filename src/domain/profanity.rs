//! The optional profanity filter of open-text polls: the `rustrict` crate's word list (kept
//! up to date by its maintainers, and robust to the usual evasions: spacing, repeated or
//! substituted characters). An entry it finds inappropriate (profane, offensive, sexual or
//! mean, at its moderate severity or worse) is hidden unless an admin unhides it.

use rustrict::CensorStr;

/// Whether the filter hides `text`.
pub fn is_profane(text: &str) -> bool {
    text.is_inappropriate()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profanity_is_flagged_and_ordinary_words_are_not() {
        assert!(is_profane("fuck this"));
        assert!(is_profane("f u c k"));
        for clean in ["Rust", "machine learning", "Scunthorpe", "a great talk"] {
            assert!(!is_profane(clean), "{clean}");
        }
    }
}

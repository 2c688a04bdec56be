//! The word list of a word cloud: which terms an open-text entry gives, and how often each
//! term was given.
//!
//! An entry is split into words at whitespace and punctuation (apostrophes and hyphens inside
//! a word stay: `don't`, `e-mail`); each word is case-folded (Unicode lowercase) and stripped
//! of punctuation at its edges. Then:
//! - an entry of at most [`PHRASE_WORDS`] words is **one term**, the words joined by a space
//!   (`"machine learning"` stays a phrase), without stop words at its ends (`"the borrow
//!   checker"` is `borrow checker`), and none when every word is a stop word;
//! - a longer entry gives each word that is not a stop word as a term.
//!
//! Stop words are an English list built in ([`STOP_WORDS`], the usual function words). The
//! counts add up to the terms kept, which a property test checks.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// Most words an entry may have to count as one phrase.
pub const PHRASE_WORDS: usize = 3;

/// English function words left out of word clouds (sorted, for a binary search).
pub const STOP_WORDS: &[&str] = &[
    "a",
    "about",
    "above",
    "after",
    "again",
    "against",
    "all",
    "am",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "doing",
    "don't",
    "down",
    "during",
    "each",
    "few",
    "for",
    "from",
    "further",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "i",
    "i'm",
    "if",
    "in",
    "into",
    "is",
    "it",
    "it's",
    "its",
    "itself",
    "just",
    "me",
    "more",
    "most",
    "my",
    "myself",
    "no",
    "nor",
    "not",
    "now",
    "of",
    "off",
    "on",
    "once",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "same",
    "she",
    "should",
    "so",
    "some",
    "such",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "until",
    "up",
    "very",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "would",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
];

/// Whether `word` (case-folded) is a stop word.
pub fn is_stop_word(word: &str) -> bool {
    STOP_WORDS.binary_search(&word).is_ok()
}

/// The words of `entry`, case-folded, punctuation stripped.
pub fn words(entry: &str) -> Vec<String> {
    let inner = |c: char| c == '\'' || c == '’' || c == '-';
    entry
        .split(|c: char| !(c.is_alphanumeric() || inner(c)))
        .map(|w| w.trim_matches(inner).replace('’', "'").to_lowercase())
        .filter(|w| !w.is_empty())
        .collect()
}

/// The terms `entry` gives to a word cloud.
pub fn terms(entry: &str) -> Vec<String> {
    let words = words(entry);
    if words.len() <= PHRASE_WORDS {
        let start = words.iter().position(|w| !is_stop_word(w));
        let end = words.iter().rposition(|w| !is_stop_word(w));
        return match (start, end) {
            (Some(start), Some(end)) => vec![words[start..=end].join(" ")],
            _ => Vec::new(),
        };
    }
    words.into_iter().filter(|w| !is_stop_word(w)).collect()
}

/// A term and how many times it was given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WordCount {
    /// The term: a word, or a short phrase.
    pub word: String,
    /// How many times it was given.
    pub count: u64,
}

/// Every term of `entries`, most given first (ties alphabetical), and how many terms were kept
/// in all (the sum of the counts).
pub fn word_list<'a>(entries: impl IntoIterator<Item = &'a str>) -> (Vec<WordCount>, u64) {
    let mut counts: HashMap<String, u64> = HashMap::new();
    let mut kept = 0;
    for entry in entries {
        for term in terms(entry) {
            kept += 1;
            *counts.entry(term).or_default() += 1;
        }
    }
    let mut list: Vec<WordCount> = counts
        .into_iter()
        .map(|(word, count)| WordCount { word, count })
        .collect();
    list.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.word.cmp(&b.word)));
    (list, kept)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn the_stop_word_list_is_sorted_and_lowercase() {
        assert!(STOP_WORDS.windows(2).all(|w| w[0] < w[1]));
        assert!(STOP_WORDS.iter().all(|w| w.to_lowercase() == *w));
    }

    #[test]
    fn a_short_entry_is_one_term_and_a_long_one_its_words_without_stop_words() {
        assert_eq!(terms("Machine learning!"), ["machine learning"]);
        assert_eq!(terms("  RUST "), ["rust"]);
        assert_eq!(terms("the"), Vec::<String>::new());
        assert_eq!(terms("The borrow checker"), ["borrow checker"]);
        assert_eq!(terms("out of office"), ["office"]);
        assert_eq!(
            terms("I love the borrow checker, and don't care"),
            ["love", "borrow", "checker", "care"]
        );
        assert_eq!(terms("e-mail, 'quoted' Ünïcode"), ["e-mail quoted ünïcode"]);
    }

    #[test]
    fn the_list_counts_terms_most_given_first() {
        let (list, kept) = word_list(["Rust", "rust!", "Zig", "Go"]);
        assert_eq!(kept, 4);
        let words: Vec<(&str, u64)> = list.iter().map(|w| (w.word.as_str(), w.count)).collect();
        assert_eq!(words, [("rust", 2), ("go", 1), ("zig", 1)]);
    }

    proptest! {
        #[test]
        fn word_counts_sum_to_the_words_kept(
            entries in prop::collection::vec("[a-zA-Z ,.!'-]{0,40}|\\PC{0,20}", 0..20)
        ) {
            let (list, kept) = word_list(entries.iter().map(String::as_str));
            prop_assert_eq!(list.iter().map(|w| w.count).sum::<u64>(), kept);
            let expected: usize = entries.iter().map(|e| terms(e).len()).sum();
            prop_assert_eq!(kept, expected as u64);
            for w in &list {
                prop_assert!(!w.word.is_empty());
                prop_assert_eq!(w.word.to_lowercase(), w.word.clone());
                prop_assert!(!is_stop_word(&w.word));
                let ends = [w.word.split(' ').next(), w.word.split(' ').next_back()];
                prop_assert!(ends.iter().flatten().all(|e| !is_stop_word(e)));
            }
        }
    }
}

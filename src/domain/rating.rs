//! A rating poll's results: ballots per value of the scale, the mean and the median.
//!
//! The mean and the median are rounded to two decimals (half away from zero); a median of an
//! even number of ballots is the mean of the two middle values, as statistics texts define it.
//! With no ballots there is neither (`None`, `null` in JSON).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What a rating poll's results add.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RatingResults {
    /// Ballots per value, every value of the scale present (keys are the values as text, as
    /// JSON object keys must be).
    pub counts: BTreeMap<i64, u64>,
    /// The mean of the values, to two decimals; `None` without ballots.
    pub mean: Option<f64>,
    /// The median, to two decimals; `None` without ballots.
    pub median: Option<f64>,
}

impl RatingResults {
    /// The results of `counts` (ballots per value).
    pub fn of(counts: &BTreeMap<i64, u64>) -> Self {
        Self {
            counts: counts.clone(),
            mean: mean(counts),
            median: median(counts),
        }
    }
}

/// `x` rounded to two decimals.
fn two_decimals(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The mean of the values counted in `counts`.
pub fn mean(counts: &BTreeMap<i64, u64>) -> Option<f64> {
    let n: u64 = counts.values().sum();
    if n == 0 {
        return None;
    }
    // Exact in i128 whatever the count; one division at the end.
    let sum: i128 = counts
        .iter()
        .map(|(&v, &c)| i128::from(v) * i128::from(c))
        .sum();
    Some(two_decimals(sum as f64 / n as f64))
}

/// The median of the values counted in `counts`.
pub fn median(counts: &BTreeMap<i64, u64>) -> Option<f64> {
    let n: u64 = counts.values().sum();
    if n == 0 {
        return None;
    }
    // The values at 0-based positions (n-1)/2 and n/2 in sorted order (the same when n is odd).
    let at = |position: u64| {
        let mut seen = 0;
        for (&value, &count) in counts {
            seen += count;
            if position < seen {
                return value;
            }
        }
        unreachable!("position < n")
    };
    let (low, high) = (at((n - 1) / 2), at(n / 2));
    Some(two_decimals((low as f64 + high as f64) / 2.0))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn counts(pairs: &[(i64, u64)]) -> BTreeMap<i64, u64> {
        pairs.iter().copied().collect()
    }

    #[test]
    fn mean_and_median_of_a_worked_example() {
        // 1, 2, 2, 5, 5, 5: mean 20/6 = 3.33; median (2 + 5) / 2 = 3.5.
        let c = counts(&[(1, 1), (2, 2), (3, 0), (4, 0), (5, 3)]);
        assert_eq!(mean(&c), Some(3.33));
        assert_eq!(median(&c), Some(3.5));
        // 1, 4, 5: odd, the middle one.
        assert_eq!(median(&counts(&[(1, 1), (4, 1), (5, 1)])), Some(4.0));
        assert_eq!(mean(&counts(&[(1, 1), (2, 1)])), Some(1.5));
    }

    #[test]
    fn no_ballots_have_no_mean_nor_median() {
        let c = counts(&[(1, 0), (2, 0)]);
        assert_eq!((mean(&c), median(&c)), (None, None));
    }

    #[test]
    fn results_serialize_with_the_values_as_keys() {
        let results = RatingResults::of(&counts(&[(1, 1), (2, 0), (3, 2)]));
        assert_eq!(
            serde_json::to_value(&results).unwrap(),
            serde_json::json!({"counts": {"1": 1, "2": 0, "3": 2}, "mean": 2.33, "median": 3.0})
        );
    }

    proptest! {
        #[test]
        fn the_mean_and_the_median_lie_within_the_scale(
            min in -20i64..=10,
            steps in 1i64..=10,
            ballots in prop::collection::vec(0u64..50, 11),
        ) {
            let max = min + steps;
            let c: BTreeMap<i64, u64> = (min..=max).zip(ballots.iter().copied()).collect();
            let n: u64 = c.values().sum();
            prop_assert_eq!(mean(&c).is_some(), n > 0);
            if let (Some(mean), Some(median)) = (mean(&c), median(&c)) {
                prop_assert!(mean >= min as f64 && mean <= max as f64, "mean {mean}");
                prop_assert!(median >= min as f64 && median <= max as f64, "median {median}");
                // Two decimals at most.
                prop_assert!(((mean * 100.0).round() - mean * 100.0).abs() < 1e-6);
                // Between the lowest and highest value actually chosen.
                let chosen: Vec<i64> = c.iter().filter(|(_, &k)| k > 0).map(|(&v, _)| v).collect();
                let (lo, hi) = (chosen[0] as f64, chosen[chosen.len() - 1] as f64);
                prop_assert!(mean >= lo - 0.005 && mean <= hi + 0.005);
                prop_assert!(median >= lo && median <= hi);
            }
        }
    }
}

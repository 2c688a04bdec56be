//! Instant-runoff, counted by the tests on their own from the ballots they sent, with the rules
//! pollcast documents (`src/domain/irv.rs`). It follows those rules, so it cannot catch a rule
//! that is wrong: the published worked examples (Wikipedia's Tennessee capital and Lippman's
//! library in `results.rs`, Burlington 2009 with its exhausted ballots in `irv/tests.rs`) check
//! the count against numbers that do not come from this code. The rules: a strict majority of continuing ballots wins; all
//! level is a tie; zero-vote options go together; a tie for fewest is broken backwards through
//! earlier rounds, then the latest-listed option goes.

use std::collections::BTreeMap;

use serde_json::{json, Value};

/// The expected `rounds`, `winner` and `tie` of a ranked poll with `options` (in the poll's
/// order) and `ballots` (rankings, best first), as the results JSON shows them.
pub fn expected_runoff(options: &[String], ballots: &[Vec<String>]) -> (Value, Value, Value) {
    let mut continuing: Vec<String> = options.to_vec();
    let mut rounds: Vec<BTreeMap<String, u64>> = Vec::new();
    let mut report = Vec::new();
    loop {
        let mut counts: BTreeMap<String, u64> = continuing.iter().map(|o| (o.clone(), 0)).collect();
        for ranking in ballots {
            if let Some(top) = ranking.iter().find(|o| counts.contains_key(*o)) {
                *counts.get_mut(top).unwrap() += 1;
            }
        }
        let held: u64 = counts.values().sum();
        let exhausted = ballots.len() as u64 - held;
        let number = report.len() + 1;
        let round = |eliminated: Vec<String>, counts: &BTreeMap<String, u64>| {
            json!({
                "round": number,
                "counts": counts,
                "exhausted": exhausted,
                "eliminated": eliminated,
            })
        };
        if held == 0 {
            report.push(round(vec![], &counts));
            return (json!(report), Value::Null, json!([]));
        }
        if let Some((winner, _)) = counts.iter().find(|(_, &v)| 2 * v > held) {
            let winner = winner.clone();
            report.push(round(vec![], &counts));
            return (json!(report), json!(winner), json!([]));
        }
        let first = *counts.values().next().unwrap();
        if counts.values().all(|&v| v == first) {
            let tie: Vec<&String> = counts.keys().collect();
            let tie = json!(tie);
            report.push(round(vec![], &counts));
            return (json!(report), Value::Null, tie);
        }
        let zeros: Vec<String> = counts
            .iter()
            .filter(|(_, &v)| v == 0)
            .map(|(o, _)| o.clone())
            .collect();
        let eliminated = if zeros.is_empty() {
            let fewest = *counts.values().min().unwrap();
            let mut tied: Vec<String> = counts
                .iter()
                .filter(|(_, &v)| v == fewest)
                .map(|(o, _)| o.clone())
                .collect();
            for earlier in rounds.iter().rev() {
                let least = tied.iter().map(|o| earlier[o]).min().unwrap();
                tied.retain(|o| earlier[o] == least);
            }
            let last = tied
                .into_iter()
                .max_by_key(|o| options.iter().position(|x| x == o))
                .unwrap();
            vec![last]
        } else {
            zeros
        };
        report.push(round(eliminated.clone(), &counts));
        continuing.retain(|o| !eliminated.contains(o));
        rounds.push(counts);
    }
}

/// `rounds`, `winner` and `tie` of a results JSON, with an absent `tie` read as `[]`.
pub fn runoff_of(results: &Value) -> (Value, Value, Value) {
    let tie = match &results["tie"] {
        Value::Null => json!([]),
        tie => tie.clone(),
    };
    (results["rounds"].clone(), results["winner"].clone(), tie)
}

//! The CSV export of results.

use std::fmt::Write;

use crate::domain::{Poll, Results};

/// One row per option; for ranked polls one row per option per round, and the exhausted
/// ballots of each round. Labels are quoted as RFC 4180 says, and a label a spreadsheet would
/// run as a formula is neutralised (see [`quote`]).
pub fn render(poll: &Poll, results: &Results) -> String {
    let label =
        |id: &crate::domain::OptionId| poll.option(*id).map(|o| o.label.as_str()).unwrap_or("");
    let mut out = String::new();
    match &results.rounds {
        None => {
            out.push_str("option_id,label,votes\r\n");
            for (id, votes) in &results.counts {
                let _ = write!(out, "{id},{},{votes}\r\n", quote(label(id)));
            }
        }
        Some(rounds) => {
            out.push_str("round,option_id,label,votes,eliminated\r\n");
            for round in rounds {
                for (id, votes) in &round.counts {
                    let eliminated = round.eliminated.contains(id);
                    let _ = write!(
                        out,
                        "{},{id},{},{votes},{eliminated}\r\n",
                        round.round,
                        quote(label(id))
                    );
                }
                let _ = write!(
                    out,
                    "{},exhausted,,{},false\r\n",
                    round.round, round.exhausted
                );
            }
        }
    }
    out
}

/// `field` quoted (RFC 4180). A field that starts with `=`, `+`, `-`, `@`, a tab or a carriage
/// return is what spreadsheets evaluate as a formula, so it gets a leading `'`, which they show
/// as text (OWASP, "CSV Injection").
fn quote(field: &str) -> String {
    let neutral = match field.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        true => format!("'{field}"),
        false => field.to_owned(),
    };
    format!("\"{}\"", neutral.replace('"', "\"\""))
}

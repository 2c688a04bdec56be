//! The CSV export of results.

use std::fmt::Write;

use crate::domain::{Entry, EntryStatus, Poll, Results};

/// One row per option; for ranked polls one row per option per round, and the exhausted
/// ballots of each round; for rating polls one row per value (`value,votes`). Labels are
/// quoted as RFC 4180 says, and a label a spreadsheet would run as a formula is neutralised
/// (see [`quote`]).
pub fn render(poll: &Poll, results: &Results) -> String {
    let label =
        |id: &crate::domain::OptionId| poll.option(*id).map(|o| o.label.as_str()).unwrap_or("");
    let mut out = String::new();
    if let Some(rating) = &results.rating {
        out.push_str("value,votes\r\n");
        for (value, votes) in &rating.counts {
            let _ = write!(out, "{value},{votes}\r\n");
        }
        return out;
    }
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

/// An open-text poll's entries, one row each, hidden ones too: `entry_id,text,hidden,status`
/// (`status`: `visible`, `pending`, `hidden_by_admin`, `hidden_by_filter`). Texts are quoted
/// and neutralised as labels are.
pub fn render_entries(entries: &[Entry]) -> String {
    let mut out = String::from("entry_id,text,hidden,status\r\n");
    for entry in entries {
        let status = match entry.status {
            EntryStatus::Visible => "visible",
            EntryStatus::Pending => "pending",
            EntryStatus::HiddenByAdmin => "hidden_by_admin",
            EntryStatus::HiddenByFilter => "hidden_by_filter",
        };
        let hidden = !entry.status.is_visible();
        let _ = write!(
            out,
            "{},{},{hidden},{status}\r\n",
            entry.id,
            quote(&entry.text)
        );
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn statuses() -> impl Strategy<Value = EntryStatus> {
        prop_oneof![
            Just(EntryStatus::Visible),
            Just(EntryStatus::Pending),
            Just(EntryStatus::HiddenByAdmin),
            Just(EntryStatus::HiddenByFilter),
        ]
    }

    proptest! {
        #[test]
        fn every_entry_has_a_row_flagged_hidden_exactly_when_the_public_does_not_see_it(
            entries in prop::collection::vec(("[a-z \",=+-]{1,20}", statuses()), 0..20)
        ) {
            let entries: Vec<Entry> = entries
                .into_iter()
                .enumerate()
                .map(|(i, (text, status))| Entry { id: format!("e{i:02}"), text, status })
                .collect();
            let csv = render_entries(&entries);
            let rows: Vec<&str> = csv.split("\r\n").filter(|r| !r.is_empty()).collect();
            prop_assert_eq!(rows.len(), entries.len() + 1);
            for (entry, row) in entries.iter().zip(&rows[1..]) {
                let start = format!("{},", entry.id);
                prop_assert!(row.starts_with(&start));
                let hidden = row.rsplit(',').nth(1).unwrap();
                prop_assert_eq!(hidden == "true", !entry.status.is_visible());
            }
        }
    }
}

//! `pollcast recount POLL_ID`: asks a running server to recount a poll from its stored
//! ballots (`POST /v1/polls/{id}/recount`, admin) and prints what it found.

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::config::RecountArgs;
use crate::startup::admin_key::stored_key;

/// Whether the published results matched the stored ballots.
pub enum Verdict {
    /// They matched.
    Matched,
    /// They differed; the recount was published.
    Corrected,
}

/// Runs the recount and prints the report; the verdict decides the exit status.
pub async fn run(args: RecountArgs) -> anyhow::Result<Verdict> {
    let key = match args.admin_key {
        Some(key) => key,
        None => stored_key(&args.data_dir).context(
            "no --admin-key (POLLCAST_ADMIN_KEY) given, and none stored in the data dir",
        )?,
    };
    let report = request(&args.url, &args.poll_id, &key).await?;
    print!("{}", render(&report));
    Ok(if report["matched"] == Value::Bool(true) {
        Verdict::Matched
    } else {
        Verdict::Corrected
    })
}

async fn request(url: &str, poll_id: &str, key: &SecretString) -> anyhow::Result<Value> {
    let url = format!(
        "{}/v1/polls/{}/recount",
        url.trim_end_matches('/'),
        urlencode(poll_id)
    );
    let response = reqwest::Client::new()
        .post(&url)
        .bearer_auth(key.expose_secret())
        .send()
        .await
        .with_context(|| format!("asking {url} for a recount (is the server running?)"))?;
    let status = response.status();
    let body: Value = response
        .json()
        .await
        .with_context(|| format!("reading the answer of {url}"))?;
    if !status.is_success() {
        anyhow::bail!(
            "{url} answered {status}: {}",
            body["message"].as_str().unwrap_or("(no message)")
        );
    }
    Ok(body)
}

fn urlencode(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// The report, for people.
fn render(report: &Value) -> String {
    let recounted = &report["recounted"];
    let mut out = format!(
        "poll {}: {} ballots in the stored ballots\n",
        report["poll_id"].as_str().unwrap_or("?"),
        recounted["ballots"]
    );
    match report["published"].as_object() {
        Some(published) => out.push_str(&format!(
            "published: seq {}, {} ballots\n",
            published["seq"], published["ballots"]
        )),
        None => out.push_str("published: nothing yet\n"),
    }
    if report["matched"] == Value::Bool(true) {
        out.push_str("the published results match the stored ballots\n");
        return out;
    }
    for difference in report["differences"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "  option {}: published {}, recounted {}\n",
            difference["option_id"].as_str().unwrap_or("?"),
            difference["published"],
            difference["recounted"]
        ));
    }
    out.push_str(&format!(
        "the recount was published as seq {}\n",
        recounted["seq"]
    ));
    out
}

//! Polls opened with their voters' tokens, and answers of any kind published with them.

use serde_json::{json, Value};

use crate::support::app::TestApp;

/// Opens `body` and mints tokens for `n` voters named `{prefix}{i}`.
pub async fn open_with_voters(
    app: &TestApp,
    body: &Value,
    prefix: &str,
    n: usize,
) -> (String, Vec<Value>) {
    let id = app.open_poll(body).await;
    let names: Vec<String> = (0..n).map(|i| format!("{prefix}{i}")).collect();
    (id.clone(), app.tokens_for(&id, &names).await)
}

/// Publishes `message` (the poll id added) with `token`, asserting the publish was taken.
pub async fn publish(app: &TestApp, token: &Value, id: &str, mut message: Value) {
    message["poll_id"] = json!(id);
    assert_eq!(app.publish_http(token, &message.to_string()).await, 204);
}

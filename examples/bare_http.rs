//! The ceiling for `scripts/loadtest`: a bare poem server that answers the two calls of a k6
//! voter (`load/k6/vote.js`) without doing any of the work, so the same k6 profile run against
//! it measures the HTTP stack and the load generator alone.
//!
//! - `GET /v1/polls/{id}`: a `single` poll with options `o1`..`o4`, whatever the id (k6's
//!   setup reads the poll it is given);
//! - `POST /v1/polls/{id}/tokens`: `201` with a JSON body shaped and sized like a real voter
//!   token (the token is a fixed string of a real token's length; nothing is signed or stored),
//!   whose `http_endpoint` is this server;
//! - `POST /topics/{cache}/{topic}`: reads the body, answers `204`;
//! - `GET /readyz`: `200`.
//!
//! ```sh
//! cargo run --release --example bare_http -- --listen 127.0.0.1:0
//! ```
//!
//! prints `bare_http is serving on http://127.0.0.1:PORT` and serves until Ctrl-C or SIGTERM.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use poem::http::StatusCode;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::{Data, Json, Path};
use poem::{get, handler, post, EndpointExt, Route, Server};
use serde_json::{json, Value};

/// Length of a real voter token (a base64 disposable token) as pollcast mints them.
const TOKEN_LEN: usize = 548;

/// What every token answer shares.
struct Bare {
    /// `http://` + the bound address.
    url: String,
    /// Voters so far, for distinct `token_id`s.
    voters: AtomicU64,
}

#[handler]
fn token(Path(poll): Path<String>, bare: Data<&Arc<Bare>>) -> (StatusCode, Json<Value>) {
    let n = bare.voters.fetch_add(1, Ordering::Relaxed);
    let voter = format!("bare{n:012}");
    let body = json!({
        "token": "t".repeat(TOKEN_LEN),
        "token_id": format!("{poll}:{voter}"),
        "voter_id": voter,
        "expires_at": "2099-01-01T00:00:00Z",
        "cache": "pollcast",
        "votes_topic": "votes",
        "results_topic": format!("results.{poll}"),
        "http_endpoint": bare.url,
    });
    (StatusCode::CREATED, Json(body))
}

#[handler]
fn poll_view(Path(poll): Path<String>) -> Json<Value> {
    let options: Vec<Value> = (1..=4)
        .map(|n| json!({"id": format!("o{n}"), "label": format!("Option {n}")}))
        .collect();
    Json(
        json!({"id": poll, "title": "bare", "kind": "single", "state": "open", "options": options}),
    )
}

#[handler]
fn publish(_body: Vec<u8>) -> StatusCode {
    StatusCode::NO_CONTENT
}

#[handler]
fn ready() -> StatusCode {
    StatusCode::OK
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listen = listen_arg()?;
    let acceptor = TcpListener::bind(listen).into_acceptor().await?;
    let addr = acceptor.local_addr()[0]
        .as_socket_addr()
        .copied()
        .ok_or_else(|| std::io::Error::other("not a TCP address"))?;
    let bare = Arc::new(Bare {
        url: format!("http://{addr}"),
        voters: AtomicU64::new(0),
    });
    println!("bare_http is serving on {}", bare.url);
    let app = Route::new()
        .at("/v1/polls/:id", get(poll_view))
        .at("/v1/polls/:id/tokens", post(token))
        .at("/topics/:cache/:topic", post(publish))
        .at("/readyz", get(ready))
        .data(bare);
    Server::new_with_acceptor(acceptor)
        .run_with_graceful_shutdown(app, stopped(), None)
        .await
}

/// `--listen ADDR` (default `127.0.0.1:0`, a free port).
fn listen_arg() -> std::io::Result<String> {
    let mut args = std::env::args().skip(1);
    let mut listen = "127.0.0.1:0".to_owned();
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--listen", Some(value)) => listen = value,
            _ => {
                return Err(std::io::Error::other(
                    "usage: bare_http [--listen 127.0.0.1:0]",
                ))
            }
        }
    }
    Ok(listen)
}

/// Resolves on Ctrl-C or SIGTERM.
async fn stopped() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

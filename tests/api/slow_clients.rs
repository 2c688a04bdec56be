//! pollcast's HTTP port against slow and greedy clients: a request that is not sent in time
//! (a slow loris dripping its head, a connection that sends nothing) is cut off; a head over
//! hyper's limit is refused with 431; prompt clients are served all along. The gRPC port's
//! cases are in the local Momento's tests (`slow_clients.rs`).

use std::time::Duration;

use pollcast::config::ServeArgs;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::app::{spawn_app_with, test_settings, within, TestApp};

async fn quick() -> TestApp {
    let mut settings: ServeArgs = test_settings();
    settings.limits.request_read_timeout = Duration::from_secs(1);
    spawn_app_with(settings).await
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .unwrap()
}

/// Reads until the server closes the connection; what it sent.
async fn until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return seen,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test]
async fn a_slow_loris_dripping_its_head_is_cut_off_and_a_prompt_client_is_served() {
    // Arrange
    let app = quick().await;
    let mut loris = connect(&app).await;
    loris
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();

    // Act: a header line every 200 ms, never the blank line that ends the head.
    let dripping = async {
        for _ in 0..50 {
            if loris.write_all(b"X-Drip: 1\r\n").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    within(5, "the slow loris to be cut off", dripping).await;
    let answered = within(5, "the connection to close", until_closed(&mut loris)).await;

    // Assert
    assert!(answered.is_empty() || !answered.starts_with(b"HTTP/1.1 200"));
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_cut_off() {
    let app = quick().await;
    let mut silent = connect(&app).await;
    let answered = within(
        5,
        "the silent connection to close",
        until_closed(&mut silent),
    )
    .await;
    assert!(answered.is_empty() || !answered.starts_with(b"HTTP/1.1 200"));
}

#[tokio::test]
async fn a_request_with_a_body_and_a_kept_alive_connection_are_served() {
    // Arrange
    let app = quick().await;
    let mut client = connect(&app).await;

    // Act: two requests on one connection, the first with a body.
    client
        .write_all(
            b"POST /v1/webhooks/momento HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
        )
        .await
        .unwrap();
    client
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let answered = within(5, "both answers", until_closed(&mut client)).await;

    // Assert: the webhook refuses the unsigned body (401); the second request is answered.
    let text = String::from_utf8_lossy(&answered);
    assert!(text.starts_with("HTTP/1.1 401"), "{text}");
    assert_eq!(text.matches("HTTP/1.1 ").count(), 2, "{text}");
    assert!(text.contains("HTTP/1.1 200"), "{text}");
}

#[tokio::test]
async fn a_head_over_the_limit_is_refused_with_431() {
    let app = quick().await;
    let mut greedy = connect(&app).await;
    let big = "a".repeat(1024 * 1024);
    let request = format!("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n");
    let _ = greedy.write_all(request.as_bytes()).await;
    let answered = within(5, "an answer", until_closed(&mut greedy)).await;
    let text = String::from_utf8_lossy(&answered);
    assert!(text.starts_with("HTTP/1.1 431"), "{text:.200}");
}

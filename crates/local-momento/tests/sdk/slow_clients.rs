//! The gRPC listener against slow and greedy clients: a connection that does not send HTTP/2's
//! preface in time is cut off, and a call whose metadata is over 16 KiB is refused; a prompt,
//! ordinary call is served all along.

use std::time::Duration;

use local_momento::LocalMomentoConfig;
use momento_protos::cache_client::GetRequest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{within, TestMomento};

async fn quick() -> TestMomento {
    TestMomento::start_with(LocalMomentoConfig {
        slow_client_timeout: Duration::from_secs(1),
        ..LocalMomentoConfig::default()
    })
    .await
}

#[tokio::test]
async fn a_connection_that_never_finishes_the_http2_preface_is_cut_off() {
    // Arrange
    let m = quick().await;
    let mut slow = tokio::net::TcpStream::connect(m.server.grpc_addr())
        .await
        .unwrap();

    // Act: the first bytes of the preface, then nothing.
    slow.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
    let closed = within(5, "the server to cut the slow client off", async {
        let mut buf = [0u8; 64];
        loop {
            match slow.read(&mut buf).await {
                Ok(0) | Err(_) => return true,
                Ok(_) => continue,
            }
        }
    })
    .await;

    // Assert
    assert!(closed);
    let mut raw = m.raw_cache_client().await;
    let answer = raw
        .get(m.raw_request(GetRequest {
            cache_key: b"k".to_vec(),
        }))
        .await;
    assert!(answer.is_ok(), "a prompt client is served: {answer:?}");
}

#[tokio::test]
async fn metadata_over_16_kib_is_refused() {
    // Arrange
    let m = quick().await;
    let mut raw = m.raw_cache_client().await;
    let mut request = m.raw_request(GetRequest {
        cache_key: b"k".to_vec(),
    });
    let big = "x".repeat(32 * 1024);
    request.metadata_mut().insert("x-big", big.parse().unwrap());

    // Act
    let refused = raw.get(request).await;
    let ordinary = raw
        .get(m.raw_request(GetRequest {
            cache_key: b"k".to_vec(),
        }))
        .await;

    // Assert
    assert!(refused.is_err(), "{refused:?}");
    assert!(ordinary.is_ok(), "{ordinary:?}");
}

//! Slow clients cut off: a connection that takes longer than a deadline to send what it must
//! is closed (its reads fail with `TimedOut`), so a slow loris cannot hold connections open
//! with a request it never finishes.
//!
//! - **HTTP/1** ([`Mode::Http1`]): from the connection's first byte (or from its accept, for
//!   the first request), each request, its head and its body (`Content-Length`), must arrive
//!   within the deadline. Between requests a kept-alive connection waits without one. The
//!   head's end is found by its blank line; a chunked body, or an HTTP/2 preface (h2c), ends
//!   the watch for that connection (browsers send neither to this server). Oversized heads are
//!   hyper's to refuse (`431`, past about 400 KB).
//! - **HTTP/2** ([`Mode::Http2Preface`], the gRPC listener): the 24-byte client preface must
//!   arrive within the deadline of the accept; after it, h2's own limits apply (header lists
//!   over 16 KiB refused).
//!
//! The guard wraps the connection's stream and watches only what is read: nothing is parsed
//! twice, nothing is buffered but the head (at most [`HEAD_KEPT`] bytes, to find its
//! `Content-Length`).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// The most of a request head kept to look for `Content-Length` (longer heads: none found,
/// which only lets the connection go unwatched once its head is read).
pub const HEAD_KEPT: usize = 16 * 1024;
/// The HTTP/2 client preface's length.
const PREFACE: usize = 24;

/// What the guard watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Each HTTP/1 request, head and body, within the deadline.
    Http1,
    /// The HTTP/2 preface within the deadline of the accept.
    Http2Preface,
    /// Nothing (any more).
    Off,
}

/// A connection's stream with a deadline on what the client must send.
pub struct SlowGuard<IO> {
    inner: IO,
    timeout: Duration,
    mode: Mode,
    deadline: Option<Pin<Box<Sleep>>>,
    head: Vec<u8>,
    matched: u8,
    started: bool,
    body_left: u64,
    preface_read: usize,
}

impl<IO> SlowGuard<IO> {
    /// `inner`, just accepted, watched in `mode` with `timeout`.
    pub fn new(inner: IO, mode: Mode, timeout: Duration) -> Self {
        let deadline = (mode != Mode::Off).then(|| Box::pin(tokio::time::sleep(timeout)));
        Self {
            inner,
            timeout,
            mode,
            deadline,
            head: Vec::new(),
            matched: 0,
            started: true, // the first request is due from the accept on
            body_left: 0,
            preface_read: 0,
        }
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &IO {
        &self.inner
    }

    /// Whether a deadline runs now (for tests).
    pub fn watching(&self) -> bool {
        self.deadline.is_some()
    }

    /// Takes note of `bytes` the client sent.
    fn feed(&mut self, bytes: &[u8]) {
        match self.mode {
            Mode::Off => {}
            Mode::Http2Preface => {
                self.preface_read += bytes.len();
                if self.preface_read >= PREFACE {
                    self.stop();
                }
            }
            Mode::Http1 => {
                for &byte in bytes {
                    self.feed_http1(byte);
                    if self.mode == Mode::Off {
                        return;
                    }
                }
            }
        }
    }

    fn feed_http1(&mut self, byte: u8) {
        if self.body_left > 0 {
            self.body_left -= 1;
            if self.body_left == 0 {
                self.deadline = None;
                self.started = false;
            }
            return;
        }
        if !self.started {
            self.started = true;
            self.deadline = Some(Box::pin(tokio::time::sleep(self.timeout)));
        }
        if self.head.len() < HEAD_KEPT {
            self.head.push(byte);
        }
        self.matched = match (self.matched, byte) {
            (0 | 2, b'\r') => self.matched + 1,
            (1 | 3, b'\n') => self.matched + 1,
            (_, b'\r') => 1,
            _ => 0,
        };
        if self.matched == 4 {
            self.head_done();
        }
    }

    /// A request head ended: watch its body, or stop for what this guard cannot follow.
    fn head_done(&mut self) {
        let head = String::from_utf8_lossy(&self.head).to_ascii_lowercase();
        self.head.clear();
        self.matched = 0;
        let chunked = header_lines(&head)
            .any(|(name, value)| name == "transfer-encoding" && value.contains("chunked"));
        if head.starts_with("pri * http/2.0") || chunked {
            self.stop();
            return;
        }
        let length = header_lines(&head)
            .find(|(name, _)| *name == "content-length")
            .and_then(|(_, value)| value.parse::<u64>().ok())
            .unwrap_or(0);
        self.body_left = length;
        if length == 0 {
            self.deadline = None;
            self.started = false;
        }
    }

    fn stop(&mut self) {
        self.mode = Mode::Off;
        self.deadline = None;
        self.head = Vec::new();
    }

    /// `Err(TimedOut)` once the deadline has passed (registering the waker until then).
    fn check(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        let passed = match &mut self.deadline {
            Some(deadline) => deadline.as_mut().poll(cx).is_ready(),
            None => false,
        };
        if passed {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client did not send its request in time",
            ));
        }
        Ok(())
    }
}

/// `(name, value)` of each header line of a lowercased head, trimmed.
fn header_lines(head: &str) -> impl Iterator<Item = (&str, &str)> {
    head.split("\r\n")
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim(), value.trim()))
}

impl<IO: AsyncRead + Unpin> AsyncRead for SlowGuard<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let read = buf.filled()[before..].to_vec();
                self.feed(&read);
                Poll::Ready(self.check(cx))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => match self.check(cx) {
                Ok(()) => Poll::Pending,
                Err(error) => Poll::Ready(Err(error)),
            },
        }
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for SlowGuard<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// A poem acceptor whose connections are [`SlowGuard`]ed (HTTP/1 mode).
pub struct GuardedAcceptor<A> {
    inner: A,
    timeout: Duration,
}

impl<A> GuardedAcceptor<A> {
    /// `inner`'s connections, each request due within `timeout`.
    pub fn new(inner: A, timeout: Duration) -> Self {
        Self { inner, timeout }
    }
}

impl<A: poem::listener::Acceptor> poem::listener::Acceptor for GuardedAcceptor<A> {
    type Io = SlowGuard<A::Io>;

    fn local_addr(&self) -> Vec<poem::web::LocalAddr> {
        self.inner.local_addr()
    }

    async fn accept(
        &mut self,
    ) -> io::Result<(
        Self::Io,
        poem::web::LocalAddr,
        poem::web::RemoteAddr,
        poem::http::uri::Scheme,
    )> {
        let (io, local, remote, scheme) = self.inner.accept().await?;
        Ok((
            SlowGuard::new(io, Mode::Http1, self.timeout),
            local,
            remote,
            scheme,
        ))
    }
}

impl tonic::transport::server::Connected for SlowGuard<tokio::net::TcpStream> {
    type ConnectInfo = tonic::transport::server::TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.inner.connect_info()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard() -> SlowGuard<tokio::io::Empty> {
        SlowGuard::new(tokio::io::empty(), Mode::Http1, Duration::from_secs(10))
    }

    #[tokio::test]
    async fn a_request_is_watched_from_its_first_byte_to_its_bodys_last() {
        let mut g = guard();
        assert!(g.watching(), "the first request is due from the accept");
        g.feed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(!g.watching(), "a whole head without a body");
        g.feed(b"POST /v HTTP/1.1\r\nContent-Length: 5\r\n");
        assert!(g.watching(), "a head under way");
        g.feed(b"\r\nabc");
        assert!(g.watching(), "its body under way");
        g.feed(b"de");
        assert!(!g.watching(), "the body is in");
        g.feed(b"\r");
        assert!(g.watching(), "the next request started");
    }

    #[tokio::test]
    async fn a_head_split_anywhere_is_found_and_h2_or_chunked_ends_the_watch() {
        let mut g = guard();
        for byte in b"GET / HTTP/1.1\r\nA: b\r\n\r\n" {
            g.feed(std::slice::from_ref(byte));
        }
        assert!(!g.watching());
        let mut h2 = guard();
        h2.feed(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
        assert_eq!(h2.mode, Mode::Off);
        let mut chunked = guard();
        chunked.feed(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n");
        assert_eq!(chunked.mode, Mode::Off);
        let mut preface = SlowGuard::new(
            tokio::io::empty(),
            Mode::Http2Preface,
            Duration::from_secs(1),
        );
        preface.feed(&[0; 23]);
        assert!(preface.watching());
        preface.feed(&[0]);
        assert!(!preface.watching());
    }
}

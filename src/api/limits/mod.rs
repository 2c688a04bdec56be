//! Limits against abuse, per client address: a script on one address cannot take hundreds
//! of voter tokens in a few seconds, guess the admin key at speed, or hold thousands of
//! streams open. Each refusal is `429` with `Retry-After` and the `{error, message}` body, and
//! is counted in `pollcast_limited_total{limit}`. The settings are `LimitArgs` (`--limit-*`).
//!
//! - **Tokens** (`--limit-tokens`, default `1100/min+30`): anonymous `POST
//!   /v1/polls/{id}/tokens` and `POST /v1/events/{id}/tokens` per address (admins, who name
//!   their voters, are not limited). 1,000 voters behind one venue NAT all join within a
//!   minute (refused ones come back after `Retry-After`, as the voter page does); a script on
//!   one address gets 30 at once and about 18 a second after. The test
//!   `a_venue_nat_joins_within_a_minute_and_a_script_is_held_back` shows both.
//! - **Wrong admin keys** (`--limit-wrong-admin-keys`, default `10/min+10`): past it, every
//!   admin call from that address is refused until the wait is over, the right key too (else
//!   the one right guess would still be told apart), so guessing runs at 10 a minute.
//! - **Streams** (`--max-streams-per-address`, default 2,000): Server-Sent Event streams and
//!   long polls on the topics API held open at once; the count is given back when the answer's
//!   body ends (or its client goes away).
//! - `--unlimited-addresses`: addresses none of these apply to (a load generator on the same
//!   machine: `scripts/loadtest` passes `127.0.0.1`). Who the client is: [`address`].
//!
//! The other limits live elsewhere: the voter path's concurrency (`503`, [`super::overload`]),
//! the local Momento's publishes per token (`local_momento::limits`), and the proof of work of
//! `"challenge": "pow"` polls (`api/challenge.rs`).

pub mod address;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use futures::StreamExt;
use local_momento::limits::{retry_after_secs, KeyedLimit};
use poem::http::header::{AUTHORIZATION, RETRY_AFTER};
use poem::http::{Method, StatusCode};
use poem::{Body, Endpoint, IntoResponse, Middleware, Request, Response, Result};

use crate::api::ErrorBody;
use crate::config::LimitArgs;
use crate::metrics::Metrics;
use address::Cidr;

/// The limits of one server.
pub struct Limits {
    trusted: Vec<Cidr>,
    unlimited: Vec<Cidr>,
    tokens: Option<KeyedLimit<IpAddr>>,
    wrong_keys: Option<KeyedLimit<IpAddr>>,
    /// Addresses refused every admin call until the instant, after too many wrong keys.
    locked: DashMap<IpAddr, Instant>,
    max_streams: usize,
    streams: Arc<DashMap<IpAddr, usize>>,
    metrics: Arc<Metrics>,
}

impl Limits {
    /// The limits `args` set, counting refusals in `metrics`.
    pub fn new(args: &LimitArgs, metrics: Arc<Metrics>) -> Self {
        Self {
            trusted: args.trusted_proxies.clone(),
            unlimited: args.unlimited_addresses.clone(),
            tokens: args.limit_tokens.0.map(KeyedLimit::new),
            wrong_keys: args.limit_wrong_admin_keys.0.map(KeyedLimit::new),
            locked: DashMap::new(),
            max_streams: args.max_streams_per_address,
            streams: Arc::new(DashMap::new()),
            metrics,
        }
    }

    /// The key of `request`'s client, or `None` when no limit applies to it (an address in
    /// `--unlimited-addresses`, or a connection without an IP peer).
    pub fn client(&self, request: &Request) -> Option<IpAddr> {
        let client = address::client(request, &self.trusted)?;
        (!address::listed(&self.unlimited, client)).then(|| address::key(client))
    }

    /// `429` for `limit` with `Retry-After` of `wait`, counted.
    fn refuse(&self, limit: &str, wait: Duration, message: &str) -> Refusal {
        self.metrics.limited.with_label_values(&[limit]).inc();
        Box::new(too_many_requests(wait, message))
    }

    /// Takes one anonymous token from `client`'s allowance.
    fn take_token(&self, client: IpAddr) -> std::result::Result<(), Refusal> {
        let Some(limit) = &self.tokens else {
            return Ok(());
        };
        limit.check(&client).map_err(|wait| {
            let message = format!(
                "too many voter tokens from your address; try again in {} s (nothing was done)",
                retry_after_secs(wait)
            );
            self.refuse("token", wait, &message)
        })
    }

    /// Before an admin key is checked: `Err` (a `429` to answer) while `client` is locked out.
    pub fn admin_allowed(&self, client: Option<IpAddr>) -> std::result::Result<(), Refusal> {
        let Some(client) = client else {
            return Ok(());
        };
        let until = self.locked.get(&client).map(|entry| *entry);
        match until {
            Some(until) if until > Instant::now() => {
                Err(self.refuse("admin_key", until - Instant::now(), LOCKED))
            }
            Some(_) => {
                self.locked.remove(&client);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// After a wrong admin key from `client`: `Some` (a `429` to answer) once it is over its
    /// allowance, and the address is locked out for the wait.
    pub fn wrong_admin_key(&self, client: Option<IpAddr>) -> Option<Refusal> {
        let (Some(client), Some(limit)) = (client, &self.wrong_keys) else {
            return None;
        };
        let wait = limit.check(&client).err()?;
        self.locked.insert(client, Instant::now() + wait);
        if self.locked.len() > 100_000 {
            let now = Instant::now();
            self.locked.retain(|_, until| *until > now);
        }
        Some(self.refuse("admin_key", wait, LOCKED))
    }

    /// One more stream for `client`, given back when the guard drops.
    fn open_stream(&self, client: IpAddr) -> std::result::Result<StreamGuard, Refusal> {
        if self.max_streams == 0 {
            return Ok(StreamGuard(None));
        }
        let mut open = self.streams.entry(client).or_insert(0);
        if *open >= self.max_streams {
            drop(open);
            let message = format!(
                "too many streams open from your address (at most {}); close one or try again later",
                self.max_streams
            );
            return Err(self.refuse("streams", Duration::from_secs(5), &message));
        }
        *open += 1;
        Ok(StreamGuard(Some((self.streams.clone(), client))))
    }
}

/// A `429` to answer (boxed: a response is large, and refusals are the rare path).
pub type Refusal = Box<Response>;

/// What a locked-out address is told.
const LOCKED: &str = "too many wrong admin keys from your address; wait before trying again";

/// `429` with `Retry-After` (whole seconds) and the error body.
pub fn too_many_requests(wait: Duration, message: &str) -> Response {
    let seconds = retry_after_secs(wait);
    let mut response = ErrorBody::new("rate_limited", message).into_response();
    response.set_status(StatusCode::TOO_MANY_REQUESTS);
    response.headers_mut().insert(RETRY_AFTER, seconds.into());
    response
}

/// A stream counted against its address until dropped.
struct StreamGuard(Option<(Arc<DashMap<IpAddr, usize>>, IpAddr)>);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        if let Some((streams, client)) = self.0.take() {
            let mut gone = false;
            if let Some(mut open) = streams.get_mut(&client) {
                *open = open.saturating_sub(1);
                gone = *open == 0;
            }
            if gone {
                streams.remove_if(&client, |_, open| *open == 0);
            }
        }
    }
}

/// Which limited request a request is, if it is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Limited {
    /// An anonymous voter token.
    Token,
    /// An SSE stream or a long poll.
    Stream,
}

fn limited(request: &Request) -> Option<Limited> {
    let path = request.uri().path();
    let method = request.method();
    let tokens = |prefix: &str| {
        path.strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix("/tokens"))
            .is_some_and(|id| !id.is_empty() && !id.contains('/'))
    };
    // A poll's token with `Authorization` is an admin's (a wrong key is refused, and counted
    // as one); an event's token takes no key at all, so a header there changes nothing.
    let anonymous = !request.headers().contains_key(AUTHORIZATION);
    if method == Method::POST && (anonymous && tokens("/v1/polls/") || tokens("/v1/events/")) {
        return Some(Limited::Token);
    }
    let stream = path.starts_with("/topics/")
        || path.starts_with("/v1/polls/") && path.ends_with("/results/stream")
        || path.starts_with("/v1/events/") && path.ends_with("/stream");
    (method == Method::GET && stream).then_some(Limited::Stream)
}

/// The middleware: the per-address limits of the token and stream requests.
pub struct AddressLimits(pub Arc<Limits>);

impl<E: Endpoint> Middleware<E> for AddressLimits {
    type Output = AddressLimitsEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        AddressLimitsEndpoint {
            inner,
            limits: self.0.clone(),
        }
    }
}

/// The endpoint [`AddressLimits`] makes.
pub struct AddressLimitsEndpoint<E> {
    inner: E,
    limits: Arc<Limits>,
}

impl<E: Endpoint> Endpoint for AddressLimitsEndpoint<E> {
    type Output = Response;

    async fn call(&self, request: Request) -> Result<Self::Output> {
        let kind = limited(&request);
        let client = kind.and_then(|_| self.limits.client(&request));
        let (Some(kind), Some(client)) = (kind, client) else {
            return self
                .inner
                .call(request)
                .await
                .map(IntoResponse::into_response);
        };
        match kind {
            Limited::Token => {
                if let Err(refused) = self.limits.take_token(client) {
                    return Ok(*refused);
                }
                self.inner
                    .call(request)
                    .await
                    .map(IntoResponse::into_response)
            }
            Limited::Stream => {
                let guard = match self.limits.open_stream(client) {
                    Ok(guard) => guard,
                    Err(refused) => return Ok(*refused),
                };
                let response = self.inner.call(request).await?.into_response();
                Ok(hold_until_sent(response, guard))
            }
        }
    }
}

/// `response` with `guard` kept until its body has been sent (or dropped unsent).
fn hold_until_sent(response: Response, guard: StreamGuard) -> Response {
    let (parts, body) = response.into_parts();
    let stream = body.into_bytes_stream().map(move |chunk| {
        let _held = &guard;
        chunk
    });
    Response::from_parts(parts, Body::from_bytes_stream(stream))
}

#[cfg(test)]
mod tests;

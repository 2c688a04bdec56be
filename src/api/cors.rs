//! CORS on the public REST endpoints, so web clients on other origins can show a poll, take a
//! voter token, read results and ballot status: `GET /v1/polls/{id}`, `POST
//! /v1/polls/{id}/tokens`, `GET /v1/polls/{id}/results` (and `/results/stream`),
//! `GET /v1/polls/{id}/ballot`, `GET /v1/polls/{id}/qr.svg`; and an event's: `GET
//! /v1/join/{code}`, `GET /v1/events/{id}/stream`, `POST /v1/events/{id}/tokens`,
//! `GET /v1/events/{id}/qr.svg`. Admin endpoints get no CORS.
//!
//! `--cors-origins` (default `*`):
//! - `*`: any origin, without credentials. Safe: these endpoints are public, and the only
//!   credential a browser would add on its own, the voter cookie, is not sent.
//! - a list of origins: those, **with** credentials, so a web app of the **same site** keeps
//!   the voter cookie (one browser, one voter). The cookie is `SameSite=Lax`, so a browser
//!   never sends it with another site's `fetch`: a listed origin of another site may call, and
//!   each of its tokens is a new voter (`tests/browser/cors.test.mjs` shows both).
//! - empty: none.
//!
//! A request from an origin not allowed is served as if CORS were off (no CORS headers: the
//! browser keeps the answer from the script), never refused, so pollcast's own pages, whose
//! `POST`s carry an `Origin`, work whatever the setting.

use std::collections::HashSet;
use std::sync::Arc;

use poem::endpoint::BoxEndpoint;
use poem::http::header::ORIGIN;
use poem::http::Method;
use poem::middleware::Cors;
use poem::{Endpoint, EndpointExt, Request, Response};

/// Who may call the public endpoints from another origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedOrigins {
    /// Nobody.
    None,
    /// Any origin, without credentials.
    Any,
    /// These origins (`scheme://host[:port]`), with credentials.
    List(HashSet<String>),
}

impl AllowedOrigins {
    /// From `--cors-origins`: `*`, a list, or nothing (empty entries are ignored).
    pub fn parse(values: &[String]) -> Self {
        let origins: HashSet<String> = values
            .iter()
            .map(|v| v.trim().trim_end_matches('/').to_owned())
            .filter(|v| !v.is_empty())
            .collect();
        if origins.contains("*") {
            AllowedOrigins::Any
        } else if origins.is_empty() {
            AllowedOrigins::None
        } else {
            AllowedOrigins::List(origins)
        }
    }

    fn allows(&self, origin: &str) -> bool {
        match self {
            AllowedOrigins::None => false,
            AllowedOrigins::Any => true,
            AllowedOrigins::List(origins) => origins.contains(origin),
        }
    }
}

/// Whether `path` is one of the public endpoints CORS applies to.
pub fn is_public(path: &str) -> bool {
    if let Some(code) = path.strip_prefix("/v1/join/") {
        return !code.is_empty() && !code.contains('/');
    }
    if let Some(rest) = path.strip_prefix("/v1/events/") {
        let (id, tail) = rest.split_once('/').unwrap_or((rest, ""));
        return !id.is_empty() && matches!(tail, "stream" | "tokens" | "qr.svg");
    }
    let Some(rest) = path.strip_prefix("/v1/polls/") else {
        return false;
    };
    let (id, tail) = rest.split_once('/').unwrap_or((rest, ""));
    !id.is_empty()
        && matches!(
            tail,
            "" | "tokens" | "results" | "results/stream" | "ballot" | "qr.svg"
        )
}

/// `api` with CORS on its public endpoints for `allowed` origins.
pub fn public_cors<E>(api: E, allowed: AllowedOrigins) -> BoxEndpoint<'static>
where
    E: Endpoint<Output = Response> + 'static,
{
    if allowed == AllowedOrigins::None {
        return api.boxed();
    }
    let credentials = matches!(allowed, AllowedOrigins::List(_));
    let allowed = Arc::new(allowed);
    let plain = Arc::new(api.boxed());
    let cors = Cors::new()
        .allow_methods([Method::GET, Method::POST])
        .allow_credentials(credentials)
        .allow_origins_fn({
            let allowed = allowed.clone();
            move |origin| allowed.allows(origin)
        })
        .max_age(600);
    let with_cors = Arc::new(plain.clone().with(cors).boxed());
    poem::endpoint::make(move |request: Request| {
        let origin_allowed = request
            .headers()
            .get(ORIGIN)
            .and_then(|o| o.to_str().ok())
            .is_some_and(|origin| allowed.allows(origin));
        let target = if origin_allowed && is_public(request.uri().path()) {
            with_cors.clone()
        } else {
            plain.clone()
        };
        async move { target.call(request).await }
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_public_endpoints_are_public() {
        for path in [
            "/v1/polls/p1",
            "/v1/polls/p1/tokens",
            "/v1/polls/p1/results",
            "/v1/polls/p1/results/stream",
            "/v1/polls/p1/ballot",
            "/v1/polls/p1/qr.svg",
            "/v1/join/ABC234",
            "/v1/events/e1/stream",
            "/v1/events/e1/tokens",
            "/v1/events/e1/qr.svg",
        ] {
            assert!(is_public(path), "{path}");
        }
        for path in [
            "/v1/polls",
            "/v1/polls/",
            "/v1/polls/p1/open",
            "/v1/polls/p1/tokens/batch",
            "/v1/polls/p1/results.csv",
            "/v1/webhooks/momento",
            "/metrics",
            "/v1/events",
            "/v1/events/e1",
            "/v1/events/e1/activate",
            "/v1/polls/p1/entries",
        ] {
            assert!(!is_public(path), "{path}");
        }
    }

    #[test]
    fn origins_parse_as_any_a_list_or_none() {
        let parse = |v: &[&str]| {
            AllowedOrigins::parse(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        };
        assert_eq!(parse(&["*"]), AllowedOrigins::Any);
        assert_eq!(parse(&[""]), AllowedOrigins::None);
        assert_eq!(parse(&[]), AllowedOrigins::None);
        let list = parse(&["https://a.example/", " https://b.example"]);
        assert!(list.allows("https://a.example") && list.allows("https://b.example"));
        assert!(!list.allows("https://c.example"));
    }
}

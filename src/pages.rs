//! The voter page (`GET /p/{id}`) and the presenter screen (`GET /present/{id}`): plain HTML,
//! CSS and JavaScript from `web/`, compiled into the binary and served from it (no framework,
//! no CDN: they work offline on a local network). An event's pages (`GET /j/{code}`,
//! `GET /present/event/{id}`) and the moderation page (`GET /moderate/{id}`) are in
//! `pages/events.rs`.
//!
//! The server renders what needs no script: the page title and question (so the title names
//! the poll), the presenter's QR code (SVG, `qrcode` crate) and the link beside it, and where
//! the topics API is. Scripts do the rest against the public REST API. Every page carries a
//! Content-Security-Policy that lets it reach only pollcast's origin and the token's topics
//! endpoint (the same origin with the embedded local Momento). A poll that does not exist gets
//! a 404 page.

use std::sync::{Arc, OnceLock};

use poem::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS,
};
use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{get, handler, Request, Response, Route};
use sha3::{Digest, Sha3_256};

use crate::api::links::{qr_svg, vote_url};
use crate::api::{load_poll, ApiError};
use crate::domain::Poll;
use crate::state::AppState;

mod events;

const VOTER_HTML: &str = include_str!("../web/voter.html");
const PRESENT_HTML: &str = include_str!("../web/present.html");
const MESSAGE_HTML: &str = include_str!("../web/message.html");
const MODERATE_HTML: &str = include_str!("../web/moderate.html");

/// The static assets: name, content type, content.
const ASSETS: [(&str, &str, &str); 9] = [
    (
        "pollcast.css",
        "text/css; charset=utf-8",
        include_str!("../web/pollcast.css"),
    ),
    (
        "common.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/common.js"),
    ),
    (
        "voter.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/voter.js"),
    ),
    (
        "present.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/present.js"),
    ),
    (
        "answers.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/answers.js"),
    ),
    (
        "cloud.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/cloud.js"),
    ),
    (
        "event.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/event.js"),
    ),
    (
        "pow.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/pow.js"),
    ),
    (
        "moderate.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/moderate.js"),
    ),
];

/// `route` with the pages and their assets.
pub fn mount(route: Route) -> Route {
    route
        .at("/p/:id", get(voter_page))
        .at("/present/:id", get(presenter_page))
        .at("/assets/:name", get(asset))
        .at("/j/:code", get(events::join_page))
        .at("/present/event/:id", get(events::event_presenter_page))
        .at("/moderate/:id", get(events::moderation_page))
}

#[handler]
async fn voter_page(Path(id): Path<String>, state: Data<&Arc<AppState>>) -> Response {
    match load_poll(&state, &id).await {
        Ok(poll) => page(
            &state,
            StatusCode::OK,
            voter_html(&state, Some(&poll), None),
        ),
        Err(error) => error_page(&state, error),
    }
}

/// What the voter page of `poll` (none: waiting for the next question) shows, in the event
/// `event` (id and title) when it is one's.
fn voter_html(state: &AppState, poll: Option<&Poll>, event: Option<(&str, &str)>) -> String {
    let (event_id, event_title) = event.unwrap_or_default();
    let notice = match poll {
        Some(_) => "Loading the poll…",
        None => "Waiting for the next question…",
    };
    let votes_topic = poll.map_or_else(String::new, |p| state.vote_shards.topic_of(p.id()));
    render(
        VOTER_HTML,
        &[
            ("title", poll.map_or(event_title, Poll::title)),
            (
                "description",
                poll.and_then(Poll::description).unwrap_or_default(),
            ),
            ("poll_id", poll.map_or("", |p| p.id().as_str())),
            ("event_id", event_id),
            ("notice", notice),
            ("http_endpoint", &state.http_endpoint),
            ("cache", state.momento.cache_name()),
            ("votes_topic", &votes_topic),
        ],
    )
}

#[handler]
async fn presenter_page(Path(id): Path<String>, state: Data<&Arc<AppState>>) -> Response {
    let poll = match load_poll(&state, &id).await {
        Ok(poll) => poll,
        Err(error) => return error_page(&state, error),
    };
    let link = Link {
        url: vote_url(&state.public_url, poll.id()),
        tail: poll.id().as_str().to_owned(),
        code: None,
    };
    match presenter_html(Some(&poll), None, &link) {
        Ok(html) => page(&state, StatusCode::OK, html),
        Err(error) => error_page(&state, error),
    }
}

/// Where a presenter screen sends phones: the link, its last part (where a long link may
/// break), and an event's join code.
struct Link {
    url: String,
    tail: String,
    code: Option<String>,
}

/// What the presenter screen of `poll` (none: waiting for the next question) shows, in the
/// event `event` (id and title) when it is one's, with the QR code of `link`.
fn presenter_html(
    poll: Option<&Poll>,
    event: Option<(&str, &str)>,
    link: &Link,
) -> Result<String, ApiError> {
    let qr = inline_svg(&qr_svg(&link.url)?);
    let (event_id, event_title) = event.unwrap_or_default();
    let html = render(
        PRESENT_HTML,
        &[
            ("title", poll.map_or(event_title, Poll::title)),
            (
                "description",
                poll.and_then(Poll::description).unwrap_or_default(),
            ),
            ("poll_id", poll.map_or("", |p| p.id().as_str())),
            ("event_id", event_id),
            (
                "state_text",
                if poll.is_some() {
                    "Loading…"
                } else {
                    "Waiting for the next question"
                },
            ),
            ("vote_url", &link.url),
            // The link as people read it out, broken (if at all) before the last part.
            (
                "vote_url_text",
                display_url(&link.url).trim_end_matches(link.tail.as_str()),
            ),
            ("vote_url_tail", &link.tail),
            ("code", link.code.as_deref().unwrap_or_default()),
            (
                "code_hidden",
                if link.code.is_some() { "" } else { "hidden" },
            ),
        ],
    )
    // The QR code is markup of our own making, not text: put in after escaping the rest.
    .replace("{{{qr_svg}}}", &qr);
    Ok(html)
}

#[handler]
fn asset(Path(name): Path<String>, request: &Request) -> Response {
    let Some((_, content_type, body)) = ASSETS.iter().find(|(n, _, _)| *n == name) else {
        return Response::builder()
            .status(StatusCode::NOT_FOUND)
            .content_type("text/plain; charset=utf-8")
            .body("no such asset");
    };
    let etag = asset_etag(&name, body);
    let fresh = request
        .headers()
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    let response = Response::builder()
        .header(ETAG, etag.as_str())
        // Revalidate every time (a 304 when unchanged), so a new binary's assets apply at once.
        .header(CACHE_CONTROL, "no-cache")
        .header(X_CONTENT_TYPE_OPTIONS, "nosniff");
    if fresh {
        return response.status(StatusCode::NOT_MODIFIED).finish();
    }
    response.header(CONTENT_TYPE, *content_type).body(*body)
}

/// A strong ETag of an asset (the hash of its content), computed once per asset.
fn asset_etag(name: &str, body: &str) -> String {
    static TAGS: OnceLock<Vec<(String, String)>> = OnceLock::new();
    let tags = TAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|(n, _, b)| {
                let hash = hex::encode(Sha3_256::digest(b.as_bytes()));
                ((*n).to_owned(), format!("\"{}\"", &hash[..20]))
            })
            .collect()
    });
    tags.iter()
        .find(|(n, _)| n == name)
        .map(|(_, tag)| tag.clone())
        .unwrap_or_else(|| format!("\"{}\"", body.len()))
}

/// A page answer with the headers every page carries.
fn page(state: &AppState, status: StatusCode, html: String) -> Response {
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "text/html; charset=utf-8")
        .header(
            CONTENT_SECURITY_POLICY,
            csp(&state.http_endpoint, &state.public_url),
        )
        .header(REFERRER_POLICY, "no-referrer")
        .header(X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(CACHE_CONTROL, "no-store")
        .body(html)
}

/// The pages may load from and connect to pollcast only, and to the topics endpoint when it is
/// elsewhere.
fn csp(http_endpoint: &str, public_url: &str) -> String {
    let topics = origin_of(http_endpoint)
        .filter(|origin| Some(*origin) != origin_of(public_url))
        .map(|origin| format!(" {origin}"))
        .unwrap_or_default();
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'{topics}; base-uri 'none'; form-action 'none'; \
         frame-ancestors 'none'"
    )
}

/// `scheme://host[:port]` of `url`, if it has a scheme.
fn origin_of(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    let host_end = rest.find('/').unwrap_or(rest.len());
    Some(&url[..scheme.len() + 3 + host_end])
}

/// The page for a poll that cannot be shown: 404 when it does not exist, 503 when Momento does
/// not answer.
fn error_page(state: &AppState, error: ApiError) -> Response {
    let (status, title, text) = match error {
        ApiError::NotFound(_) => (
            StatusCode::NOT_FOUND,
            "Poll not found",
            "There is no poll at this address. Check the link you were given.",
        ),
        _ => (
            StatusCode::SERVICE_UNAVAILABLE,
            "Try again shortly",
            "The poll cannot be loaded right now. Reload the page in a moment.",
        ),
    };
    let html = render(MESSAGE_HTML, &[("title", title), ("text", text)]);
    page(state, status, html)
}

/// `template` with each `{{name}}` replaced by its value, HTML-escaped.
fn render(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.to_owned();
    for (name, value) in values {
        out = out.replace(&format!("{{{{{name}}}}}"), &escape(value));
    }
    out
}

/// `text` safe inside HTML text and quoted attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An SVG document made fit to sit inside HTML: no XML declaration, labelled as an image, and
/// sized by the page's CSS instead of its own width and height.
fn inline_svg(svg: &str) -> String {
    let start = svg.find("<svg").unwrap_or(0);
    svg[start..].replacen(
        "<svg ",
        "<svg class=\"qr\" role=\"img\" aria-label=\"QR code of the voting link\" ",
        1,
    )
}

/// `url` without its scheme, as people read it out (`127.0.0.1:8080/p/p7Kx2`).
fn display_url(url: &str) -> &str {
    url.split_once("://").map_or(url, |(_, rest)| rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_and_templates_filled() {
        let html = render(
            "<h1>{{title}}</h1><b data-x=\"{{x}}\">",
            &[("title", "<Tom & Jerry's>"), ("x", "\"q\"")],
        );
        assert_eq!(
            html,
            "<h1>&lt;Tom &amp; Jerry&#39;s&gt;</h1><b data-x=\"&quot;q&quot;\">"
        );
    }

    #[test]
    fn the_policy_names_the_topics_origin_when_it_is_elsewhere() {
        assert_eq!(
            origin_of("https://api.cache.cell-1.example.com"),
            Some("https://api.cache.cell-1.example.com")
        );
        assert_eq!(
            origin_of("http://127.0.0.1:8080/x"),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(origin_of("localhost"), None);
        assert!(csp("https://api.cache.x.example", "http://h:1")
            .contains("connect-src 'self' https://api.cache.x.example;"));
        assert!(csp("http://h:1", "http://h:1").contains("connect-src 'self';"));
    }

    #[test]
    fn an_inline_qr_code_is_a_labelled_image_without_xml_declaration() {
        let svg = inline_svg(&qr_svg("http://h/p/p1").unwrap());
        assert!(svg.starts_with("<svg class=\"qr\" role=\"img\""), "{svg}");
    }
}

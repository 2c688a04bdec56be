//! A poll's links: the voter page (`/p/{id}`), the presenter screen (`/present/{id}`), an
//! event's join page (`/j/{code}`) and presenter screen (`/present/event/{id}`), a
//! voter token's personal link (`/p/{id}#token=...`: the token in the fragment, which never
//! reaches a server log), and `GET /v1/polls/{id}/qr.svg`, the QR code of the voter link.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::PlainText;
use poem_openapi::{ApiResponse, OpenApi};
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

use crate::api::errors::ApiError;
use crate::api::path::load_poll;
use crate::api::tags::ApiTags;
use crate::domain::PollId;
use crate::state::AppState;

/// The voter page of `poll`.
pub fn vote_url(public_url: &str, poll: &PollId) -> String {
    format!("{public_url}/p/{}", poll.as_str())
}

/// The presenter screen of `poll`.
pub fn present_url(public_url: &str, poll: &PollId) -> String {
    format!("{public_url}/present/{}", poll.as_str())
}

/// Where phones join the event with `code`: `/j/{code}`.
pub fn join_url(public_url: &str, code: &crate::domain::session::JoinCode) -> String {
    format!("{public_url}/j/{}", code.as_str())
}

/// The presenter screen of the event `event`: `/present/event/{id}`.
pub fn event_present_url(public_url: &str, event: &crate::domain::session::EventId) -> String {
    format!("{public_url}/present/event/{}", event.as_str())
}

/// The voter page of `poll` with `token` in the URL fragment (an invite link).
pub fn token_vote_url(public_url: &str, poll: &PollId, token: &str) -> String {
    format!(
        "{}#token={}",
        vote_url(public_url, poll),
        fragment_encode(token)
    )
}

/// `text` with everything but RFC 3986's unreserved characters percent-encoded (a token's `+`,
/// `/` and `=` included, so `decodeURIComponent` gives it back whole).
fn fragment_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The QR code of `url` as an SVG document: one unit per module, a quiet zone, black on white
/// (scanners want dark on light whatever the page's colour scheme); sized by whoever shows it.
pub fn qr_svg(url: &str) -> Result<String, ApiError> {
    let code = QrCode::with_error_correction_level(url.as_bytes(), EcLevel::M)
        .map_err(|e| ApiError::internal(&anyhow::anyhow!("encoding a QR code: {e}")))?;
    Ok(code
        .render::<svg::Color>()
        .module_dimensions(1, 1)
        .quiet_zone(true)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build())
}

/// The links resource.
pub struct LinksApi;

/// Answer of `GET /v1/polls/{id}/qr.svg`.
#[derive(ApiResponse)]
pub enum QrResponse {
    /// The QR code of the link (a poll's `vote_url`, an event's `join_url`), as SVG.
    #[oai(status = 200, content_type = "image/svg+xml")]
    Ok(PlainText<String>),
}

#[OpenApi(prefix_path = "/v1/polls", tag = "ApiTags::Polls")]
impl LinksApi {
    /// The QR code of a poll's voter link (`vote_url`), as SVG (anyone).
    #[oai(path = "/:id/qr.svg", method = "get", operation_id = "get_poll_qr")]
    async fn qr(
        &self,
        state: Data<&Arc<AppState>>,
        /// The poll's id.
        id: Path<String>,
    ) -> Result<QrResponse, ApiError> {
        let poll = load_poll(&state, &id.0).await?;
        let url = vote_url(&state.public_url, poll.id());
        Ok(QrResponse::Ok(PlainText(qr_svg(&url)?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_link_keeps_the_token_in_the_fragment_and_whole() {
        let poll = PollId::parse("p7Kx2").unwrap();
        let url = token_vote_url("http://h:1", &poll, "eyJ+a/b=");
        assert_eq!(url, "http://h:1/p/p7Kx2#token=eyJ%2Ba%2Fb%3D");
        assert_eq!(present_url("http://h:1", &poll), "http://h:1/present/p7Kx2");
    }

    #[test]
    fn the_qr_code_is_an_svg_document() {
        let svg = qr_svg("http://127.0.0.1:8080/p/p7Kx2").unwrap();
        assert!(svg.contains("<svg"), "{svg}");
        assert!(svg.ends_with("</svg>"), "{svg}");
    }
}

//! Swagger UI at `/docs`, framed by nobody and under a Content-Security-Policy it works with,
//! and the headers every answer carries.
//!
//! poem-openapi's Swagger UI is one HTML page with its script, its stylesheet and the spec
//! inline. Its CSP allows exactly those inline scripts by their SHA-256 (computed from the page
//! at start, so no other script can run in it), styles inline and from the page, images from
//! the page and `data:` (the UI's icons), requests to pollcast's own origin only ("Try it
//! out"), and `frame-ancestors 'none'` (with `X-Frame-Options: DENY` for older browsers), as the
//! voter and presenter pages have. The OAuth receiver page of poem-openapi is not served:
//! the API's only schemes are bearer and API keys.
//!
//! [`nosniff`]: `X-Content-Type-Options: nosniff` on every answer (API JSON, CSV, SVG, the
//! topics API), so no browser runs an answer as a type it guessed.

use base64::Engine;
use poem::http::header::{
    CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use poem::http::HeaderValue;
use poem::web::Html;
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response};
use sha2::{Digest, Sha256};

/// The Swagger UI page `html` (poem-openapi's `swagger_ui_html`), served with its CSP.
pub fn swagger_ui(html: String) -> impl Endpoint<Output = Response> {
    let csp = HeaderValue::from_str(&swagger_csp(&html)).expect("a CSP is visible ASCII");
    poem::endpoint::make_sync(move |_| {
        let mut response = Html(html.clone()).into_response();
        let headers = response.headers_mut();
        headers.insert(CONTENT_SECURITY_POLICY, csp.clone());
        headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
        response
    })
}

/// The CSP of the Swagger UI page `html`: its inline scripts by hash, nothing else runs.
pub fn swagger_csp(html: &str) -> String {
    let hashes: Vec<String> = inline_scripts(html)
        .map(|script| {
            let digest = Sha256::digest(script.as_bytes());
            format!(
                "'sha256-{}'",
                base64::engine::general_purpose::STANDARD.encode(digest)
            )
        })
        .collect();
    format!(
        "default-src 'none'; script-src {}; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
         form-action 'none'",
        hashes.join(" ")
    )
}

/// The text of each inline `<script ...>...</script>` of `html` (those without `src`), read
/// from one script's end to the next one's start: the bundle's own text may contain `<script`.
fn inline_scripts(html: &str) -> impl Iterator<Item = &str> {
    let mut rest = html;
    std::iter::from_fn(move || loop {
        let start = rest.find("<script")?;
        let after = &rest[start..];
        let open_end = after.find('>')?;
        let attributes = &after[..open_end];
        let body = &after[open_end + 1..];
        let close = body.find("</script>")?;
        rest = &body[close + "</script>".len()..];
        if !attributes.contains("src=") {
            return Some(&body[..close]);
        }
    })
}

/// Every answer of `endpoint` with `X-Content-Type-Options: nosniff`.
pub fn nosniff<E: Endpoint + 'static>(endpoint: E) -> impl Endpoint<Output = Response> {
    endpoint.around(|next, request: Request| async move {
        let mut response = match next.call(request).await {
            Ok(response) => response.into_response(),
            Err(error) => error.into_response(),
        };
        response
            .headers_mut()
            .insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        Ok(response)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_inline_script_and_none_other_is_allowed_by_its_hash() {
        let html = "<script charset=\"UTF-8\">a()</script><script src=\"/x.js\"></script>\
                    <script>b('<script>')</script>";
        let scripts: Vec<&str> = inline_scripts(html).collect();
        assert_eq!(scripts, ["a()", "b('<script>')"]);
        let csp = swagger_csp(html);
        // echo -n 'a()' | openssl dgst -sha256 -binary | base64
        assert!(
            csp.contains("'sha256-qVpDBgj7bpq5hMAcGp3AOc79J3Y1Z4HvySTwKrWDoy4='"),
            "{csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(!csp.contains("'unsafe-eval'"), "{csp}");
    }
}

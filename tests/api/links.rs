//! A poll's links: `vote_url` and `present_url` on the poll, the token's personal `vote_url`
//! (the token in the fragment), and `GET /v1/polls/{id}/qr.svg`, read back by a QR decoder.

use reqwest::header::CONTENT_TYPE;
use serde_json::json;

use crate::support::app::{
    a_poll, a_poll_with, assert_error, id_of, spawn_app, status_and_json, Caller,
};

#[tokio::test]
async fn a_poll_carries_its_vote_and_present_urls_in_every_view() {
    // Arrange
    let app = spawn_app().await;

    // Act
    let created = app.created_poll(&a_poll()).await;
    let id = id_of(&created);
    let (_, public) = status_and_json(app.get_poll(&id).await).await;
    let listed = app.listed_poll(&id).await;

    // Assert
    for view in [&created, &public, &listed] {
        assert_eq!(
            view["vote_url"],
            format!("{}/p/{id}", app.address),
            "{view}"
        );
        assert_eq!(
            view["present_url"],
            format!("{}/present/{id}", app.address),
            "{view}"
        );
    }
}

#[tokio::test]
async fn a_tokens_vote_url_carries_the_token_in_the_fragment_only() {
    // Arrange
    let app = spawn_app().await;
    let id = app
        .open_poll(&a_poll_with(json!({ "access": "invite" })))
        .await;

    // Act
    let (status, token) = status_and_json(
        app.mint_token(&id, Some(&json!({ "voter_id": "alice" })), Caller::Admin)
            .await,
    )
    .await;

    // Assert
    assert_eq!(status, 201, "{token}");
    let url = token["vote_url"].as_str().unwrap();
    let (page, fragment) = url.split_once('#').expect("a fragment");
    assert_eq!(page, format!("{}/p/{id}", app.address));
    assert!(
        !page.contains('?'),
        "no query string a server would log: {url}"
    );
    let encoded = fragment.strip_prefix("token=").expect("token=...");
    assert_eq!(percent_decode(encoded), token["token"].as_str().unwrap());
}

#[tokio::test]
async fn the_qr_code_is_an_svg_that_scans_as_the_vote_url() {
    // Arrange
    let app = spawn_app().await;
    let id = id_of(&app.created_poll(&a_poll()).await);

    // Act
    let response = app.get(&format!("/v1/polls/{id}/qr.svg")).await;

    // Assert
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()[CONTENT_TYPE], "image/svg+xml");
    let svg = response.text().await.unwrap();
    assert_eq!(scan(&svg), format!("{}/p/{id}", app.address));
}

#[tokio::test]
async fn a_poll_that_does_not_exist_has_no_qr_code() {
    let app = spawn_app().await;
    assert_error(app.get("/v1/polls/nope42/qr.svg").await, 404, "not_found").await;
}

/// Decodes `%XX` escapes.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// What a QR decoder (`rqrr`) reads in `svg`: a square of `width` units whose dark modules are
/// the rectangles of one path (`M{x} {y}h{w}v{h}H{x}V{y}`), drawn 4 pixels per unit.
fn scan(svg: &str) -> String {
    let attribute = |name: &str| -> usize {
        let start = svg.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
        let end = start + svg[start..].find('"').unwrap();
        svg[start..end].parse().unwrap()
    };
    let (width, height) = (attribute("width"), attribute("height"));
    let mut dark = vec![vec![false; width]; height];
    let path_start = svg.find(" d=\"").unwrap() + 4;
    let path = &svg[path_start..path_start + svg[path_start..].find('"').unwrap()];
    for rect in path.split('M').filter(|r| !r.is_empty()) {
        let numbers: Vec<usize> = rect
            .split(|c: char| !c.is_ascii_digit())
            .filter(|n| !n.is_empty())
            .map(|n| n.parse().unwrap())
            .collect();
        let (x, y, w, h) = (numbers[0], numbers[1], numbers[2], numbers[3]);
        for row in dark.iter_mut().skip(y).take(h) {
            for cell in row.iter_mut().skip(x).take(w) {
                *cell = true;
            }
        }
    }
    const SCALE: usize = 4;
    let mut image =
        rqrr::PreparedImage::prepare_from_greyscale(width * SCALE, height * SCALE, |x, y| {
            if dark[y / SCALE][x / SCALE] {
                0
            } else {
                255
            }
        });
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the image");
    grids[0].decode().expect("the QR code decodes").1
}

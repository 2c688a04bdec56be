//! The voter page and the presenter screen as served: HTML from the binary, titled by the poll,
//! locked to pollcast's origin by a Content-Security-Policy; their assets; a 404 page for a
//! poll that does not exist. (What they do in a browser: `tests/browser`.)

use reqwest::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use serde_json::json;

use crate::support::app::{a_poll_with, id_of, spawn_app};

#[tokio::test]
async fn the_voter_page_is_titled_by_its_poll_and_locked_to_pollcasts_origin() {
    // Arrange
    let app = spawn_app().await;
    let id = id_of(
        &app.created_poll(&a_poll_with(json!({ "title": "Tea <or> \"coffee\"?" })))
            .await,
    );

    // Act
    let response = app.get(&format!("/p/{id}")).await;

    // Assert
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
    let csp = response.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("script-src 'self';"), "{csp}");
    assert!(
        csp.contains("connect-src 'self';"),
        "the topics API is on this origin: {csp}"
    );
    let html = response.text().await.unwrap();
    assert!(html.contains("<html lang=\"en\">"), "{html}");
    assert!(
        html.contains("<title>Tea &lt;or&gt; &quot;coffee&quot;? · Vote · pollcast</title>"),
        "{html}"
    );
    assert!(html.contains(&format!("data-poll-id=\"{id}\"")), "{html}");
    for attribute in ["src=\"", "href=\""] {
        for (at, _) in html.match_indices(attribute) {
            let value = &html[at + attribute.len()..];
            assert!(
                value.starts_with('/') || value.starts_with("data:"),
                "every asset comes from pollcast itself: {value:.40}"
            );
        }
    }
}

#[tokio::test]
async fn the_presenter_screen_shows_the_qr_code_and_the_link_beside_it() {
    // Arrange
    let app = spawn_app().await;
    let id = id_of(&app.created_poll(&a_poll_with(json!({}))).await);

    // Act
    let response = app.get(&format!("/present/{id}")).await;

    // Assert
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(
        html.contains("<title>Lunch? · Results · pollcast</title>"),
        "{html}"
    );
    assert!(html.contains("<svg class=\"qr\" role=\"img\""), "{html}");
    assert!(
        html.contains(&format!("href=\"{}/p/{id}\"", app.address)),
        "{html}"
    );
}

#[tokio::test]
async fn a_poll_that_does_not_exist_gets_a_not_found_page() {
    let app = spawn_app().await;
    for path in ["/p/nope42", "/present/nope42", "/p/not%20an%20id"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 404, "{path}");
        assert_eq!(response.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
        let html = response.text().await.unwrap();
        assert!(html.contains("<h1>Poll not found</h1>"), "{path}: {html}");
    }
}

#[tokio::test]
async fn assets_come_from_the_binary_and_are_revalidated() {
    // Arrange
    let app = spawn_app().await;

    // Act
    let first = app.get("/assets/voter.js").await;
    let etag = first.headers()[ETAG].clone();
    let again = app
        .http
        .get(format!("{}/assets/voter.js", app.address))
        .header(IF_NONE_MATCH, etag)
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()[CACHE_CONTROL], "no-cache");
    assert!(first.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    assert_eq!(again.status(), 304);
    for asset in ["pollcast.css", "common.js", "present.js"] {
        assert_eq!(
            app.get(&format!("/assets/{asset}")).await.status(),
            200,
            "{asset}"
        );
    }
    assert_eq!(app.get("/assets/nothing.js").await.status(), 404);
}

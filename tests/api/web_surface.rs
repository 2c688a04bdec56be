//! The web surface's small holes, closed: Swagger UI framed by nobody and under a CSP,
//! `nosniff` on API, CSV and SVG answers, ids in 404s capped, the CSV export saved as a file,
//! and `HEAD` on a long poll answered at once.

use reqwest::header::{
    CONTENT_DISPOSITION, CONTENT_SECURITY_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use reqwest::Method;

use crate::support::app::{a_poll, assert_error, send, spawn_app, within, Caller};

#[tokio::test]
async fn swagger_ui_cannot_be_framed_and_runs_only_its_own_inline_scripts() {
    // Arrange
    let app = spawn_app().await;

    // Act
    let docs = app.get("/docs").await;

    // Assert
    assert_eq!(docs.status(), 200);
    assert_eq!(docs.headers()[X_FRAME_OPTIONS], "DENY");
    let csp = docs.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap();
    for directive in [
        "default-src 'none'",
        "frame-ancestors 'none'",
        "connect-src 'self'",
        "script-src 'sha256-",
    ] {
        assert!(csp.contains(directive), "{directive} missing from {csp}");
    }
    assert!(!csp.contains("unsafe-eval"), "{csp}");
    let script_src = csp.split(';').find(|d| d.contains("script-src")).unwrap();
    assert!(!script_src.contains("unsafe-inline"), "{csp}");
}

#[tokio::test]
async fn api_csv_svg_and_topics_answers_say_nosniff() {
    // Arrange
    let app = spawn_app().await;
    let id = app.open_poll(&a_poll()).await;
    let token = app.minted_token(&id).await;

    // Act
    let answers = [
        app.get(&format!("/v1/polls/{id}")).await,
        app.get(&format!("/v1/polls/{id}/qr.svg")).await,
        app.results_csv(&id, Caller::Admin).await,
        app.get("/v1/polls/pNoSuchPoll").await,
        app.get("/metrics").await,
        app.publish_http_response(&token, "not a vote").await,
    ];

    // Assert
    for answer in answers {
        assert_eq!(
            answer
                .headers()
                .get(X_CONTENT_TYPE_OPTIONS)
                .map(|v| v.to_str().unwrap()),
            Some("nosniff"),
            "{}",
            answer.url()
        );
    }
}

#[tokio::test]
async fn a_404_repeats_at_most_64_characters_of_the_id_it_was_asked_for() {
    // Arrange
    let app = spawn_app().await;
    let long = "x".repeat(5_000);

    // Act
    let poll = app.get(&format!("/v1/polls/{long}")).await;
    let event = app.get(&format!("/v1/events/{long}/stream")).await;

    // Assert
    for answer in [poll, event] {
        let body = assert_error(answer, 404, "not_found").await;
        let message = body["message"].as_str().unwrap();
        assert!(message.len() < 200, "{message}");
        assert!(
            message.contains(&format!("{}…", "x".repeat(64))),
            "{message}"
        );
    }
}

#[tokio::test]
async fn the_csv_export_is_an_attachment_named_after_its_poll() {
    // Arrange
    let app = spawn_app().await;
    let id = app.open_poll(&a_poll()).await;

    // Act
    let csv = app.results_csv(&id, Caller::Admin).await;

    // Assert
    assert_eq!(csv.status(), 200);
    assert_eq!(
        csv.headers()[CONTENT_DISPOSITION],
        format!("attachment; filename=\"poll-{id}-results.csv\"").as_str()
    );
}

#[tokio::test]
async fn head_on_a_results_topic_answers_at_once_instead_of_long_polling() {
    // Arrange: a long poll on this quiet topic would wait 30 s.
    let app = spawn_app().await;
    let id = app.open_poll(&a_poll()).await;
    let token = app.minted_token(&id).await;
    let url = format!("/topics/pollcast/results.{id}");

    // Act
    let (allowed, refused) = within(5, "HEAD to be answered", async {
        let allowed = send(
            app.request(Method::HEAD, &url, Caller::Anonymous)
                .header("Authorization", token["token"].as_str().unwrap()),
        )
        .await;
        let refused = send(app.request(Method::HEAD, &url, Caller::Anonymous)).await;
        (allowed.status().as_u16(), refused.status().as_u16())
    })
    .await;

    // Assert
    assert_eq!((allowed, refused), (200, 401));
}

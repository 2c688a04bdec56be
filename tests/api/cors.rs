//! CORS on the public REST endpoints (`--cors-origins`, default `*`), for web clients on other
//! origins; none on admin endpoints.

use reqwest::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD, ORIGIN,
};
use reqwest::{Method, Response};

use crate::support::app::{a_poll, spawn_app, spawn_app_with, test_settings, Caller, TestApp};

const ELSEWHERE: &str = "https://app.example.org";

async fn from(app: &TestApp, method: Method, path: &str, origin: &str, caller: Caller) -> Response {
    app.request(method, path, caller)
        .header(ORIGIN, origin)
        .send()
        .await
        .expect("request sent")
}

async fn preflight(app: &TestApp, path: &str, method: &str, origin: &str) -> Response {
    app.request(Method::OPTIONS, path, Caller::Anonymous)
        .header(ORIGIN, origin)
        .header(ACCESS_CONTROL_REQUEST_METHOD, method)
        .header(ACCESS_CONTROL_REQUEST_HEADERS, "authorization")
        .send()
        .await
        .expect("request sent")
}

fn allowed_origin(response: &Response) -> Option<&str> {
    response
        .headers()
        .get(ACCESS_CONTROL_ALLOW_ORIGIN)
        .map(|v| v.to_str().unwrap())
}

#[tokio::test]
async fn public_endpoints_answer_any_origin_by_default_without_credentials() {
    // Arrange
    let app = spawn_app().await;
    let id = app.open_poll(&a_poll()).await;

    // Act and Assert
    for (method, path) in [
        (Method::GET, format!("/v1/polls/{id}")),
        (Method::POST, format!("/v1/polls/{id}/tokens")),
        (Method::GET, format!("/v1/polls/{id}/results")),
        (Method::GET, format!("/v1/polls/{id}/qr.svg")),
    ] {
        let response = from(&app, method.clone(), &path, ELSEWHERE, Caller::Anonymous).await;
        assert!(response.status().is_success(), "{method} {path}");
        assert_eq!(
            allowed_origin(&response),
            Some(ELSEWHERE),
            "{method} {path}"
        );
        assert_eq!(
            response.headers().get(ACCESS_CONTROL_ALLOW_CREDENTIALS),
            None,
            "{method} {path}"
        );
    }
    let ballot = preflight(&app, &format!("/v1/polls/{id}/ballot"), "GET", ELSEWHERE).await;
    assert!(ballot.status().is_success());
    assert_eq!(allowed_origin(&ballot), Some(ELSEWHERE));
    let allowed_headers = ballot.headers()[ACCESS_CONTROL_ALLOW_HEADERS]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        allowed_headers.contains("authorization"),
        "{allowed_headers}"
    );
}

#[tokio::test]
async fn admin_endpoints_get_no_cors() {
    // Arrange
    let app = spawn_app().await;
    let id = app.open_poll(&a_poll()).await;

    // Act
    let list = from(&app, Method::GET, "/v1/polls", ELSEWHERE, Caller::Admin).await;
    let close = from(
        &app,
        Method::POST,
        &format!("/v1/polls/{id}/close"),
        ELSEWHERE,
        Caller::Admin,
    )
    .await;
    let create_preflight = preflight(&app, "/v1/polls", "POST", ELSEWHERE).await;

    // Assert
    assert_eq!(list.status(), 200);
    assert_eq!(allowed_origin(&list), None);
    assert_eq!(close.status(), 200);
    assert_eq!(allowed_origin(&close), None);
    assert_eq!(allowed_origin(&create_preflight), None);
}

#[tokio::test]
async fn listed_origins_get_credentials_and_others_no_cors_headers() {
    // Arrange
    let app = spawn_app_with(pollcast::config::ServeArgs {
        cors_origins: vec![ELSEWHERE.to_owned()],
        ..test_settings()
    })
    .await;
    let id = app.open_poll(&a_poll()).await;
    let path = format!("/v1/polls/{id}/tokens");

    // Act
    let listed = from(&app, Method::POST, &path, ELSEWHERE, Caller::Anonymous).await;
    let other = from(
        &app,
        Method::POST,
        &path,
        "https://evil.example",
        Caller::Anonymous,
    )
    .await;
    let own = from(&app, Method::POST, &path, &app.address, Caller::Anonymous).await;

    // Assert
    assert_eq!(listed.status(), 201);
    assert_eq!(allowed_origin(&listed), Some(ELSEWHERE));
    assert_eq!(listed.headers()[ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
    assert_eq!(
        other.status(),
        201,
        "served, the browser keeps the answer from the script"
    );
    assert_eq!(allowed_origin(&other), None);
    assert_eq!(
        own.status(),
        201,
        "pollcast's own pages work whatever the setting"
    );
}

#[tokio::test]
async fn an_empty_list_turns_cors_off() {
    // Arrange
    let app = spawn_app_with(pollcast::config::ServeArgs {
        cors_origins: vec![],
        ..test_settings()
    })
    .await;
    let id = app.open_poll(&a_poll()).await;

    // Act
    let response = from(
        &app,
        Method::GET,
        &format!("/v1/polls/{id}"),
        ELSEWHERE,
        Caller::Anonymous,
    )
    .await;

    // Assert
    assert_eq!(response.status(), 200);
    assert_eq!(allowed_origin(&response), None);
}

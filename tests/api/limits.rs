//! Limits against abuse per client address and per token: each answered `429` with
//! `Retry-After` and the error body, counted in `pollcast_limited_total{limit}`, and nothing
//! done. Small limits here, so a test need not send hundreds of requests; the defaults are
//! checked against a venue's NAT and a script in `api::limits::tests`.

use std::time::Duration;

use pollcast::config::{RateSetting, ServeArgs};
use reqwest::header::RETRY_AFTER;
use reqwest::{Method, Response};
use serde_json::Value;

use crate::support::app::{
    a_poll, assert_error, send, spawn_app_with, test_settings, within, Caller, TestApp, ADMIN_KEY,
};

fn rate(text: &str) -> RateSetting {
    text.parse().expect("a rate")
}

/// An anonymous `POST /v1/polls/{id}/tokens` with extra headers.
async fn token_with(app: &TestApp, id: &str, headers: &[(&str, &str)]) -> Response {
    let mut request = app.request(
        Method::POST,
        &format!("/v1/polls/{id}/tokens"),
        Caller::Anonymous,
    );
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    send(request).await
}

/// Asserts `response` is a `429` with a `Retry-After` of 1 to 60 s.
async fn assert_limited(response: Response) -> Value {
    let retry_after: u64 = response.headers()[RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    assert_error(response, 429, "rate_limited").await
}

fn settings(change: impl FnOnce(&mut ServeArgs)) -> ServeArgs {
    let mut settings = test_settings();
    change(&mut settings);
    settings
}

#[tokio::test]
async fn an_address_past_its_token_allowance_gets_429_and_no_token_while_admins_go_on() {
    // Arrange: three tokens at once, then one a minute.
    let app = spawn_app_with(settings(|s| s.limits.limit_tokens = rate("1/min+3"))).await;
    let id = app.open_poll(&a_poll()).await;

    // Act
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(token_with(&app, &id, &[]).await.status().as_u16());
    }
    let refused = token_with(&app, &id, &[]).await;
    let admin = app.mint_token(&id, None, Caller::Admin).await;

    // Assert
    assert_eq!(statuses, [201, 201, 201]);
    let body = assert_limited(refused).await;
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("nothing was done"),
        "{body}"
    );
    assert_eq!(admin.status(), 201, "admins are not limited");
    assert_eq!(
        app.metrics()
            .await
            .get("limited_total", Some(("limit", "token"))),
        1
    );
}

#[tokio::test]
async fn a_forged_forwarded_header_changes_nothing_without_a_trusted_proxy() {
    // Arrange
    let app = spawn_app_with(settings(|s| s.limits.limit_tokens = rate("1/min+2"))).await;
    let id = app.open_poll(&a_poll()).await;

    // Act
    let mut statuses = Vec::new();
    for i in 0..4 {
        let forged = format!("203.0.113.{i}");
        let response = token_with(
            &app,
            &id,
            &[
                ("X-Forwarded-For", &forged),
                ("Forwarded", &format!("for={forged}")),
            ],
        )
        .await;
        statuses.push(response.status().as_u16());
    }

    // Assert
    assert_eq!(statuses, [201, 201, 429, 429]);
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_allowance() {
    // Arrange: the test is the proxy, on 127.0.0.1.
    let app = spawn_app_with(settings(|s| {
        s.limits.limit_tokens = rate("1/min+2");
        s.limits.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
    }))
    .await;
    let id = app.open_poll(&a_poll()).await;
    let from = |client: &'static str| [("X-Forwarded-For", client)];

    // Act
    let mut first = Vec::new();
    for _ in 0..3 {
        first.push(
            token_with(&app, &id, &from("198.51.100.1"))
                .await
                .status()
                .as_u16(),
        );
    }
    // What a client wrote before the proxy appended its address is never believed.
    let spoofed = token_with(&app, &id, &from("198.51.100.2, 198.51.100.1")).await;
    let second = token_with(&app, &id, &from("198.51.100.2")).await;
    let forwarded = token_with(&app, &id, &[("Forwarded", "for=\"[2001:db8::7]:4711\"")]).await;

    // Assert
    assert_eq!(first, [201, 201, 429]);
    assert_eq!(spoofed.status(), 429, "still 198.51.100.1");
    assert_eq!(second.status(), 201);
    assert_eq!(forwarded.status(), 201);
}

#[tokio::test]
async fn unlimited_addresses_are_let_through_as_a_load_test_is() {
    // Arrange
    let app = spawn_app_with(settings(|s| {
        s.limits.limit_tokens = rate("1/min+1");
        s.limits.unlimited_addresses = vec!["127.0.0.1".parse().unwrap()];
    }))
    .await;
    let id = app.open_poll(&a_poll()).await;

    // Act
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(token_with(&app, &id, &[]).await.status().as_u16());
    }

    // Assert
    assert_eq!(statuses, [201; 5]);
}

#[tokio::test]
async fn wrong_admin_keys_past_the_allowance_lock_the_address_out_even_with_the_right_key() {
    // Arrange: three wrong keys a minute; the test's requests come through a trusted proxy,
    // so another client can be shown to go on.
    let app = spawn_app_with(settings(|s| {
        s.limits.limit_wrong_admin_keys = rate("1/min+3");
        s.limits.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
    }))
    .await;
    let list = |key: &str, client: &str| {
        send(
            app.request(Method::GET, "/v1/polls", Caller::Anonymous)
                .bearer_auth(key)
                .header("X-Forwarded-For", client),
        )
    };
    let attacker = "192.0.2.66";

    // Act
    let mut wrong = Vec::new();
    for guess in 0..3 {
        wrong.push(
            list(&format!("guess-{guess}"), attacker)
                .await
                .status()
                .as_u16(),
        );
    }
    let over = list("guess-3", attacker).await;
    let right_but_locked = list(ADMIN_KEY, attacker).await;
    let someone_else = list(ADMIN_KEY, "192.0.2.1").await;
    let anonymous = app.get("/v1/polls/pNoSuchPoll").await;

    // Assert
    assert_eq!(wrong, [401, 401, 401]);
    assert_limited(over).await;
    assert_limited(right_but_locked).await;
    assert_eq!(
        someone_else.status(),
        200,
        "only the guessing address is locked"
    );
    assert_eq!(anonymous.status(), 404, "public endpoints are not affected");
    let metrics = app.metrics().await;
    assert_eq!(
        metrics.get("limited_total", Some(("limit", "admin_key"))),
        2
    );
}

#[tokio::test]
async fn streams_past_the_cap_of_an_address_get_429_and_a_closed_one_frees_its_place() {
    // Arrange
    let app = spawn_app_with(settings(|s| s.limits.max_streams_per_address = 2)).await;
    let id = app.open_poll(&a_poll()).await;
    let token = app.minted_token(&id).await;

    // Act
    let first = app.results_stream(&id, Caller::Anonymous).await;
    let second = app.results_stream(&id, Caller::Anonymous).await;
    let third = app.results_stream(&id, Caller::Anonymous).await;
    let long_poll = send(
        app.request(
            Method::GET,
            &format!("/topics/pollcast/results.{id}"),
            Caller::Anonymous,
        )
        .header("Authorization", token["token"].as_str().unwrap()),
    )
    .await;
    drop(first);
    // The server notices the closed stream at its next write (a keep-alive every 2 s).
    let reopened = within(10, "a place to free up", async {
        loop {
            let response = app.results_stream(&id, Caller::Anonymous).await;
            if response.status() == 200 {
                return response;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;

    // Assert
    assert_eq!(second.status(), 200);
    assert_limited(third).await;
    assert_limited(long_poll).await;
    assert_eq!(reopened.status(), 200);
    assert!(
        app.metrics()
            .await
            .get("limited_total", Some(("limit", "streams")))
            >= 2
    );
}

#[tokio::test]
async fn a_token_past_its_publish_rate_gets_429_and_the_vote_is_not_taken() {
    // Arrange
    let app = spawn_app_with(settings(|s| {
        s.limits.limit_publish_per_token = rate("1/min+2")
    }))
    .await;
    let id = app.open_poll(&a_poll()).await;
    let token = app.minted_token(&id).await;
    let vote = format!(r#"{{"poll_id":"{id}","choices":["o1"]}}"#);

    // Act
    let first = app.publish_http(&token, &vote).await;
    let second = app.publish_http(&token, &vote).await;
    let third = app.publish_http_response(&token, &vote).await;

    // Assert
    assert_eq!((first, second), (204, 204));
    assert_eq!(third.status(), 429);
    assert!(third.headers().contains_key(RETRY_AFTER));
    let metrics = app.metrics_after(2).await;
    assert_eq!(
        metrics.get("limited_total", Some(("limit", "publish_per_token"))),
        1
    );
    assert_eq!(
        metrics.handled(),
        2,
        "the refused publish never reached the pipeline"
    );
}

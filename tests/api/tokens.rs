//! `/v1/polls/{id}/tokens` and `/tokens/batch`: who gets a voter token, for which polls, in
//! which shape and for how long (`token_permissions` proves the tokens work).

use std::collections::HashSet;

use chrono::Utc;
use reqwest::header::CONTENT_TYPE;
use serde_json::json;

use crate::support::app::{
    a_poll, a_poll_with, assert_error, assert_invalid, id_of, in_seconds, send, spawn_app,
    spawn_app_with, status_and_json, time, Caller, TestApp, NOT_ADMIN,
};
use crate::support::voting::{token_id, vote, webhook_settings, Event};

/// An invite-only poll, opened; returns its id.
async fn open_invite_poll(app: &TestApp) -> String {
    app.open_poll(&a_poll_with(json!({ "access": "invite" })))
        .await
}

#[tokio::test]
async fn anyone_gets_a_token_for_an_open_poll_with_a_fresh_random_voter_id() {
    // Arrange
    let app = spawn_app().await;
    let id = app.open_poll(&a_poll()).await;

    // Act
    let first = app.minted_token(&id).await;
    let second = app.minted_token(&id).await;

    // Assert
    for token in [&first, &second] {
        let voter = token["voter_id"].as_str().expect("a voter id");
        assert!(voter.len() >= 8, "{token}");
        assert_eq!(token["token_id"], format!("{id}:{voter}"));
        assert!(!token["token"].as_str().unwrap().is_empty());
        assert_eq!(token["cache"], "pollcast");
        assert_eq!(token["votes_topic"], "votes");
        assert_eq!(token["results_topic"], format!("results.{id}"));
        assert_eq!(token["http_endpoint"], app.address);
        let lifetime = time(&token["expires_at"]) - Utc::now();
        assert!(
            (3590..=3600).contains(&lifetime.num_seconds()),
            "the default lifetime is 1 h: {token}"
        );
        let fields: HashSet<&str> = token
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        let expected = [
            "token",
            "token_id",
            "voter_id",
            "expires_at",
            "cache",
            "votes_topic",
            "results_topic",
            "http_endpoint",
            "vote_url",
        ];
        assert_eq!(fields, expected.into_iter().collect());
    }
    assert_ne!(first["token_id"], second["token_id"]);
    assert_ne!(first["token"], second["token"]);
}

#[tokio::test]
async fn a_scheduled_poll_hands_out_tokens_and_an_empty_json_body_counts_as_none() {
    let app = spawn_app().await;
    let body = a_poll_with(json!({ "opens_at": in_seconds(600) }));
    let id = id_of(&app.created_poll(&body).await);

    let (status, token) = status_and_json(
        app.mint_token(&id, Some(&json!({})), Caller::Anonymous)
            .await,
    )
    .await;

    assert_eq!(status, 201, "{token}");
    assert!(token["voter_id"].is_string());
}

#[tokio::test]
async fn an_admin_may_name_the_voter_of_an_open_poll_but_nobody_else_may() {
    // Arrange
    let app = spawn_app().await;
    let id = app.open_poll(&a_poll()).await;
    let before = app.listed_poll(&id).await;
    let named = json!({ "voter_id": "alice@example.com" });

    // Act
    let (status, token) =
        status_and_json(app.mint_token(&id, Some(&named), Caller::Admin).await).await;
    let anonymous = app.mint_token(&id, Some(&named), Caller::Anonymous).await;

    // Assert
    assert_eq!(status, 201, "{token}");
    assert_eq!(token["voter_id"], "alice@example.com");
    assert_eq!(token["token_id"], format!("{id}:alice@example.com"));
    assert_invalid(anonymous, "voter_id", "admin").await;
    assert_eq!(app.listed_poll(&id).await, before, "nothing changed");
}

#[tokio::test]
async fn malformed_voter_ids_and_token_bodies_answer_400() {
    let app = spawn_app().await;
    let id = open_invite_poll(&app).await;

    for voter in ["", "has space", "a:b", "ünïcode", &"v".repeat(48)] {
        let body = json!({ "voter_id": voter });
        let response = app.mint_token(&id, Some(&body), Caller::Admin).await;
        assert_invalid(response, "voter_id", "").await;
    }
    let longest = "v".repeat(47);
    let response = app
        .mint_token(&id, Some(&json!({ "voter_id": longest })), Caller::Admin)
        .await;
    assert_eq!(response.status(), 201, "47 characters fit in a token id");
    for (body, field) in [
        (json!({ "voter": "alice" }), "voter"),
        (json!({ "voter_id": 7 }), "voter_id"),
        (json!(["alice"]), ""),
    ] {
        let response = app.mint_token(&id, Some(&body), Caller::Admin).await;
        assert_invalid(response, field, "").await;
    }
    let garbage = app
        .request(
            reqwest::Method::POST,
            &format!("/v1/polls/{id}/tokens"),
            Caller::Admin,
        )
        .header(CONTENT_TYPE, "application/json")
        .body("{\"voter_id\":");
    assert_error(send(garbage).await, 400, "invalid_request").await;
    let huge = json!({ "voter_id": "v".repeat(100_000) });
    let response = app.mint_token(&id, Some(&huge), Caller::Admin).await;
    assert_error(response, 413, "payload_too_large").await;
}

#[tokio::test]
async fn invite_polls_mint_tokens_only_for_an_admin_who_names_the_voter() {
    // Arrange
    let app = spawn_app().await;
    let id = open_invite_poll(&app).await;
    let before = app.listed_poll(&id).await;
    let bob = json!({ "voter_id": "bob" });

    // Act and Assert
    for caller in NOT_ADMIN {
        assert_error(app.mint_token(&id, None, caller).await, 401, "unauthorized").await;
        let named = app.mint_token(&id, Some(&bob), caller).await;
        assert_error(named, 401, "unauthorized").await;
    }
    let unnamed = app.mint_token(&id, None, Caller::Admin).await;
    assert_invalid(unnamed, "voter_id", "required").await;
    let (status, token) =
        status_and_json(app.mint_token(&id, Some(&bob), Caller::Admin).await).await;
    assert_eq!(status, 201, "{token}");
    assert_eq!(token["token_id"], format!("{id}:bob"));
    assert_eq!(token["voter_id"], "bob");
    assert_eq!(app.listed_poll(&id).await, before, "nothing changed");
}

#[tokio::test]
async fn a_wrong_admin_key_is_refused_even_where_no_key_is_needed() {
    let app = spawn_app().await;
    let id = app.open_poll(&a_poll()).await;

    let response = app.mint_token(&id, None, Caller::WrongKey).await;

    assert_error(response, 401, "unauthorized").await;
}

#[tokio::test]
async fn batches_of_tokens_come_in_the_order_of_the_voter_ids() {
    // Arrange
    let app = spawn_app().await;
    let id = open_invite_poll(&app).await;
    let voters = ["carol", "alice", "bob"];

    // Act
    let body = json!({ "voter_ids": voters });
    let (status, batch) = status_and_json(app.mint_tokens(&id, &body, Caller::Admin).await).await;

    // Assert
    assert_eq!(status, 201, "{batch}");
    let tokens = batch["tokens"].as_array().unwrap();
    let token_ids: Vec<&str> = tokens
        .iter()
        .map(|t| t["token_id"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = voters.iter().map(|v| format!("{id}:{v}")).collect();
    assert_eq!(token_ids, expected);
    for (token, voter) in tokens.iter().zip(voters) {
        assert_eq!(token["voter_id"], voter);
        assert_eq!(token["results_topic"], format!("results.{id}"));
        assert!(!token["token"].as_str().unwrap().is_empty());
    }
}

#[tokio::test]
async fn bad_batches_are_refused_and_mint_nothing() {
    let app = spawn_app().await;
    let id = open_invite_poll(&app).await;
    let closed = app.open_poll(&a_poll()).await;
    app.transition(&closed, "close").await;

    fn ids(list: &[&str]) -> serde_json::Value {
        json!({ "voter_ids": list })
    }
    for caller in NOT_ADMIN {
        let response = app.mint_tokens(&id, &ids(&["alice"]), caller).await;
        assert_error(response, 401, "unauthorized").await;
    }
    let duplicate = app
        .mint_tokens(&id, &ids(&["alice", "bob", "alice"]), Caller::Admin)
        .await;
    assert_invalid(duplicate, "voter_ids", "twice").await;
    let empty = app.mint_tokens(&id, &ids(&[]), Caller::Admin).await;
    assert_invalid(empty, "voter_ids", "between 1 and").await;
    let too_many: Vec<String> = (0..501).map(|n| format!("v{n}")).collect();
    let response = app
        .mint_tokens(&id, &json!({ "voter_ids": too_many }), Caller::Admin)
        .await;
    assert_invalid(response, "voter_ids", "between 1 and").await;
    let malformed = app
        .mint_tokens(&id, &ids(&["alice", "no spaces"]), Caller::Admin)
        .await;
    assert_invalid(malformed, "voter_id", "").await;
    let missing = app.mint_tokens(&id, &json!({}), Caller::Admin).await;
    assert_invalid(missing, "voter_ids", "").await;
    let unknown = app
        .mint_tokens("Zz9Zz9Zz9Z", &ids(&["alice"]), Caller::Admin)
        .await;
    assert_error(unknown, 404, "not_found").await;
    let late = app
        .mint_tokens(&closed, &ids(&["alice"]), Caller::Admin)
        .await;
    assert_error(late, 409, "conflict").await;
}

#[tokio::test]
async fn tokens_are_issued_only_while_a_poll_is_scheduled_or_open() {
    let app = spawn_app().await;
    let draft = id_of(&app.created_poll(&a_poll()).await);
    let closed = app.open_poll(&a_poll()).await;
    app.transition(&closed, "close").await;
    let archived = app.open_poll(&a_poll()).await;
    app.transition(&archived, "close").await;
    app.transition(&archived, "archive").await;
    let cancelled = id_of(&app.created_poll(&a_poll()).await);
    app.transition(&cancelled, "cancel").await;

    for (id, state) in [
        (&draft, "draft"),
        (&closed, "closed"),
        (&archived, "archived"),
        (&cancelled, "cancelled"),
    ] {
        let before = app.listed_poll(id).await;
        assert_eq!(before["state"], state);
        for caller in [Caller::Anonymous, Caller::Admin] {
            let error = assert_error(app.mint_token(id, None, caller).await, 409, "conflict").await;
            assert!(
                error["message"].as_str().unwrap().contains(state),
                "{error}"
            );
        }
        assert_eq!(app.listed_poll(id).await, before, "nothing changed");
    }
}

#[tokio::test]
async fn tokens_for_unknown_polls_answer_404() {
    let app = spawn_app().await;

    for id in ["Zz9Zz9Zz9Z", "not:a:poll"] {
        let response = app.mint_token(id, None, Caller::Anonymous).await;
        assert_error(response, 404, "not_found").await;
    }
}

#[tokio::test]
async fn a_token_expires_a_minute_after_its_poll_closes_at_the_latest() {
    let app = spawn_app().await;
    let body = a_poll_with(json!({ "closes_at": in_seconds(120) }));
    let poll = app.created_poll(&body).await;
    let id = id_of(&poll);
    app.transition(&id, "open").await;

    let token = app.minted_token(&id).await;

    let cap = time(&poll["closes_at"]) + chrono::Duration::seconds(60);
    let expires_at = time(&token["expires_at"]);
    assert!(expires_at <= cap, "{expires_at} is after {cap}");
    assert!(
        cap - expires_at <= chrono::Duration::seconds(2),
        "{expires_at} is much earlier than {cap}"
    );
}

#[tokio::test]
async fn a_full_capped_poll_mints_no_token_that_could_never_vote() {
    // Arrange: a poll of one seat, taken.
    let app = spawn_app_with(webhook_settings()).await;
    let id = app
        .open_poll(&a_poll_with(json!({ "max_voters": 1 })))
        .await;
    let seated = Event::new(&token_id(&id, "sol"), &vote(&id, &["o1"]), 1);
    app.deliver_expecting(&seated, "accepted", None).await;

    // Act
    let anyone = app.mint_token(&id, None, Caller::Anonymous).await;
    let named = app
        .mint_token(&id, Some(&json!({ "voter_id": "tam" })), Caller::Admin)
        .await;
    let batch = app
        .mint_tokens(&id, &json!({ "voter_ids": ["sol", "tam"] }), Caller::Admin)
        .await;

    // Assert: 409 for anyone who could not vote; the seated voter still gets a token.
    let body = assert_error(anyone, 409, "poll_full").await;
    assert!(
        body["message"].as_str().unwrap().contains("max_voters"),
        "{body}"
    );
    assert_error(named, 409, "poll_full").await;
    assert_error(batch, 409, "poll_full").await;
    let seated_again = app
        .mint_token(&id, Some(&json!({ "voter_id": "sol" })), Caller::Admin)
        .await;
    assert_eq!(seated_again.status(), 201);
}

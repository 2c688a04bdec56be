//! `/v1/polls/{id}/results`, its Server-Sent Events stream and its CSV export: who sees what
//! and when, publishes on state changes, and a ranked poll whose instant-runoff result is
//! known.

use pollcast::domain::PollId;
use pollcast::momento::results::ResultsStore;
use pollcast::momento::{Location, Momento};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{json, Value};

use crate::support::app::{
    a_poll, a_poll_with, assert_error, id_of, send, spawn_app_with, status_and_json, within,
    Caller, TestApp, NOT_ADMIN,
};
use crate::support::runoff::{expected_runoff, runoff_of};
use crate::support::sdk::{next_value, text};
use crate::support::sse::Events;
use crate::support::voting::{token_id, vote, webhook_settings, Event};

/// Casts `choices` for `voter` by webhook and asserts it was counted.
async fn cast(app: &TestApp, id: &str, voter: &str, choices: &[&str]) {
    let event = Event::new(&token_id(id, voter), &vote(id, choices), 1);
    app.deliver_expecting(&event, "accepted", None).await;
}

#[tokio::test]
async fn live_results_are_public_while_open_but_not_before() {
    // Arrange
    let app = spawn_app_with(webhook_settings()).await;
    let draft = id_of(&app.created_poll(&a_poll()).await);
    let open = app.open_poll(&a_poll()).await;
    cast(&app, &open, "ann", &["o2"]).await;
    // Until the first publish, results are a fresh count numbered 0.
    app.results_when(&open, |r| r["ballots"] == 1 && r["seq"].as_u64() > Some(0))
        .await;

    // Act
    let (status, results) = status_and_json(app.results_as(&open, Caller::Anonymous).await).await;

    // Assert
    assert_eq!(status, 200, "{results}");
    assert_eq!(results["poll_id"], open);
    assert_eq!(results["state"], "open");
    assert_eq!(results["ballots"], 1);
    assert_eq!(results["counts"], json!({ "o1": 0, "o2": 1 }));
    assert!(results["seq"].as_u64().unwrap() >= 1, "{results}");
    assert_error(
        app.results_as(&draft, Caller::Anonymous).await,
        403,
        "results_hidden",
    )
    .await;
    let (status, hidden) = status_and_json(app.results_as(&draft, Caller::Admin).await).await;
    assert_eq!(
        (status, &hidden["state"]),
        (200, &json!("draft")),
        "{hidden}"
    );
    assert_error(
        app.results_as(&open, Caller::WrongKey).await,
        401,
        "unauthorized",
    )
    .await;
}

#[tokio::test]
async fn on_close_results_are_hidden_from_voters_until_the_poll_closes() {
    // Arrange: a voter of an on_close poll holds a token (open polls give one to anyone) and
    // listens on the poll's results topic with it, as a voter page would; an admin watches the
    // results stream.
    let app = spawn_app_with(webhook_settings()).await;
    let id = app
        .open_poll(&a_poll_with(json!({ "results_visibility": "on_close" })))
        .await;
    let token = app.minted_token(&id).await;
    let topic = token["results_topic"].as_str().unwrap().to_owned();
    let mut voter_feed = app
        .voter_topics(token["token"].as_str().unwrap())
        .subscribe("pollcast", topic.clone())
        .await
        .expect("a voter token subscribes to its poll's results topic");
    let mut admin = Events::new(app.results_stream(&id, Caller::Admin).await);
    admin.next().await;

    // Act: a vote is counted and published while the poll is open.
    cast(&app, &id, "bo", &["o1"]).await;

    // Assert: admins see the count live (REST and SSE) ...
    let (_, _, update) = admin.until(|r| r["ballots"] == 1).await;
    assert_eq!(update["state"], "open");
    assert_eq!(app.results(&id).await["ballots"], 1);
    // ... voters get no count over REST or SSE ...
    assert_error(
        app.results_as(&id, Caller::Anonymous).await,
        403,
        "results_hidden",
    )
    .await;
    assert_error(
        app.results_stream(&id, Caller::Anonymous).await,
        403,
        "results_hidden",
    )
    .await;

    // ... nor on the results topic: the first message a voter receives there is the closed one.
    assert_eq!(app.transition(&id, "close").await.status(), 200);
    let first = next_value(&mut voter_feed).await;
    let results: Value = serde_json::from_str(text(&first)).unwrap();
    assert_eq!(
        (&results["state"], &results["ballots"]),
        (&json!("closed"), &json!(1)),
        "{results}"
    );
    // The topic's whole history, read with the voter's token over the HTTP long poll, holds
    // nothing published before the close either.
    let (status, history) = app
        .long_poll_http(&token, &topic, 1, first.topic_sequence_page)
        .await;
    assert_eq!(status, 200, "{history}");
    let states: Vec<Value> = history["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| {
            let text = item["item"]["value"]["text"].as_str().expect("a text item");
            serde_json::from_str::<Value>(text).unwrap()["state"].clone()
        })
        .collect();
    assert!(!states.is_empty(), "{history}");
    assert!(states.iter().all(|s| s == "closed"), "{history}");
    let (status, results) = status_and_json(app.results_as(&id, Caller::Anonymous).await).await;
    assert_eq!(status, 200, "{results}");
    assert_eq!(
        (&results["state"], &results["ballots"]),
        (&json!("closed"), &json!(1))
    );
}

#[tokio::test]
async fn closing_a_poll_publishes_its_results_with_the_closed_state() {
    // Arrange
    let app = spawn_app_with(webhook_settings()).await;
    let id = app.open_poll(&a_poll()).await;
    let feed = app.results_feed(&id).await;
    cast(&app, &id, "cy", &["o2"]).await;
    let counted = feed.messages_until(|m| m["ballots"] == 1).await;
    let before = counted.last().expect("the vote was published").clone();

    // Act: no new vote, only the state changes.
    assert_eq!(app.transition(&id, "close").await.status(), 200);

    // Assert
    let messages = feed.messages_until(|m| m["state"] == "closed").await;
    let closed = messages.last().unwrap();
    assert_eq!(closed["state"], "closed", "{messages:?}");
    assert!(
        closed["seq"].as_u64() > before["seq"].as_u64(),
        "{messages:?}"
    );
    assert_eq!(
        (&closed["ballots"], &closed["counts"]),
        (&before["ballots"], &before["counts"])
    );
    assert_eq!(app.results(&id).await["state"], "closed");
}

#[tokio::test]
async fn the_results_stream_sends_the_current_results_then_each_update() {
    // Arrange
    let app = spawn_app_with(webhook_settings()).await;
    let id = app.open_poll(&a_poll()).await;
    cast(&app, &id, "di", &["o1"]).await;
    let now = app.results_with(&id, 1).await;
    let response = app.results_stream(&id, Caller::Anonymous).await;
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("text/event-stream"),
        "{content_type}"
    );
    let mut events = Events::new(response);

    // Act and Assert: first the current results.
    let (kind, first_id, first) = events.next().await;
    assert_eq!(kind, "results");
    assert_eq!(first_id, first["seq"].as_u64().unwrap());
    assert_eq!(
        (&first["ballots"], &first["counts"]),
        (&now["ballots"], &now["counts"])
    );

    // Then an update after each vote, with a higher id.
    let mut last_id = first_id;
    for (ballots, voter) in [(2, "ed"), (3, "flo")] {
        cast(&app, &id, voter, &["o2"]).await;
        let (kind, id, update) = loop {
            let event = events.next().await;
            if event.2["ballots"] == ballots {
                break event;
            }
        };
        assert_eq!(kind, "results");
        assert!(id > last_id, "{id} after {last_id}");
        assert_eq!(id, update["seq"].as_u64().unwrap());
        last_id = id;
    }
}

#[tokio::test]
async fn the_csv_export_is_for_admins_with_a_row_per_option() {
    // Arrange
    let app = spawn_app_with(webhook_settings()).await;
    let body = a_poll_with(json!({ "options": ["Pizza", "Sushi, \"fresh\"", "Tacos"] }));
    let id = app.open_poll(&body).await;
    for (voter, choice) in [("a", "o1"), ("b", "o2"), ("c", "o2")] {
        cast(&app, &id, voter, &[choice]).await;
    }
    app.results_with(&id, 3).await;

    // Act
    let response = app.results_csv(&id, Caller::Admin).await;

    // Assert
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    let csv = response.text().await.unwrap();
    assert_eq!(
        csv,
        "option_id,label,votes\r\no1,\"Pizza\",1\r\no2,\"Sushi, \"\"fresh\"\"\",2\r\no3,\"Tacos\",0\r\n"
    );
    for caller in NOT_ADMIN {
        assert_error(app.results_csv(&id, caller).await, 401, "unauthorized").await;
    }
}

#[tokio::test]
async fn results_of_an_unknown_poll_answer_404_in_every_form() {
    let app = spawn_app_with(webhook_settings()).await;

    assert_error(
        app.results_as("NoSuchPoll", Caller::Anonymous).await,
        404,
        "not_found",
    )
    .await;
    assert_error(
        app.results_as("NoSuchPoll", Caller::Admin).await,
        404,
        "not_found",
    )
    .await;
    assert_error(
        app.results_stream("NoSuchPoll", Caller::Anonymous).await,
        404,
        "not_found",
    )
    .await;
    assert_error(
        app.results_csv("NoSuchPoll", Caller::Admin).await,
        404,
        "not_found",
    )
    .await;
}

/// Ranked ballots, each cast `n` times, by fresh voters.
async fn cast_rankings(app: &TestApp, id: &str, ballots: &[(&[&str], usize)]) -> Vec<Vec<String>> {
    let mut cast_ballots = Vec::new();
    for (b, (ranking, n)) in ballots.iter().enumerate() {
        for i in 0..*n {
            cast(app, id, &format!("b{b}v{i}"), ranking).await;
            cast_ballots.push(ranking.iter().map(|o| o.to_string()).collect());
        }
    }
    cast_ballots
}

#[tokio::test]
async fn a_ranked_poll_is_counted_by_instant_runoff_as_the_textbook_example_says() {
    // Arrange: Wikipedia's Tennessee capital example, 100 voters: Memphis leads the first
    // preferences (42%), Knoxville wins the runoff.
    let app = spawn_app_with(webhook_settings()).await;
    let cities = ["Memphis", "Nashville", "Chattanooga", "Knoxville"];
    let id = app
        .open_poll(&a_poll_with(json!({ "kind": "ranked", "options": cities })))
        .await;
    let (m, n, c, k) = ("o1", "o2", "o3", "o4");
    let ballots = cast_rankings(
        &app,
        &id,
        &[
            (&[m, n, c, k], 42),
            (&[n, c, k, m], 26),
            (&[c, k, n, m], 15),
            (&[k, c, n, m], 17),
        ],
    )
    .await;

    // Act
    let results = app.results_with(&id, 100).await;

    // Assert
    assert_eq!(
        results["counts"],
        json!({ "o1": 42, "o2": 26, "o3": 15, "o4": 17 })
    );
    assert_eq!(
        results["rounds"],
        json!([
            { "round": 1, "counts": { "o1": 42, "o2": 26, "o3": 15, "o4": 17 },
              "exhausted": 0, "eliminated": ["o3"] },
            { "round": 2, "counts": { "o1": 42, "o2": 26, "o4": 32 },
              "exhausted": 0, "eliminated": ["o2"] },
            { "round": 3, "counts": { "o1": 42, "o4": 58 }, "exhausted": 0, "eliminated": [] },
        ])
    );
    assert_eq!(results["winner"], "o4", "Knoxville");
    let options: Vec<String> = ["o1", "o2", "o3", "o4"].map(String::from).to_vec();
    assert_eq!(runoff_of(&results), expected_runoff(&options, &ballots));

    // The CSV export has a row per option per round, and the exhausted ballots.
    let csv = app
        .results_csv(&id, Caller::Admin)
        .await
        .text()
        .await
        .unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows[0], "round,option_id,label,votes,eliminated");
    assert_eq!(rows.len(), 1 + (4 + 1) + (3 + 1) + (2 + 1), "{csv}");
    assert!(rows.contains(&"1,o3,\"Chattanooga\",15,true"), "{csv}");
    assert!(rows.contains(&"3,o4,\"Knoxville\",58,false"), "{csv}");
    assert!(rows.contains(&"3,exhausted,,0,false"), "{csv}");
}

#[tokio::test]
async fn a_ranked_poll_level_to_the_end_is_a_tie_without_a_winner() {
    // Arrange: Ann 2, Ben 2, Cat 1 whose voter ranks Ann second.
    let app = spawn_app_with(webhook_settings()).await;
    let body = json!({ "kind": "ranked", "options": ["Ann", "Ben", "Cat"] });
    let id = app.open_poll(&a_poll_with(body)).await;
    let ballots = cast_rankings(&app, &id, &[(&["o1"], 2), (&["o2"], 2), (&["o3", "o1"], 1)]).await;

    // Act
    let results = app.results_with(&id, 5).await;

    // Assert: Cat goes first and her ballot moves to Ann: 3 to 2, Ann wins.
    let options: Vec<String> = ["o1", "o2", "o3"].map(String::from).to_vec();
    assert_eq!(runoff_of(&results), expected_runoff(&options, &ballots));
    assert_eq!(results["winner"], "o1", "{results}");

    // Now Ben's side gets one more: 3 to 3 after Cat is eliminated, a tie.
    cast(&app, &id, "extra", &["o2"]).await;
    let results = app.results_with(&id, 6).await;
    let mut all = ballots.clone();
    all.push(vec!["o2".to_owned()]);
    let expected = expected_runoff(&options, &all);
    assert_eq!(runoff_of(&results), expected);
    assert_eq!(results["winner"], Value::Null, "{results}");
    assert_eq!(expected.2, json!(["o1", "o2"]));
}

/// The results store of another replica on the app's Momento (a publisher of its own).
fn another_replicas_results(app: &TestApp) -> ResultsStore {
    // Through the SDK engine, over the embedded local Momento's gRPC port.
    let location = Location::Service {
        api_key: SecretString::from(app.momento_key.clone().expect("its key")),
        endpoint: "localhost".to_owned(),
        endpoint_override: app.momento_grpc.clone(),
    };
    let momento = Momento::connect(&location, "pollcast").expect("the SDK clients build");
    ResultsStore::new(momento, std::time::Duration::from_secs(3600))
}

#[tokio::test]
async fn an_older_count_landing_last_does_not_replace_newer_results() {
    // Arrange: results counted with one ballot, then newer ones with two.
    let app = spawn_app_with(webhook_settings()).await;
    let id = app.open_poll(&a_poll()).await;
    let poll = PollId::parse(&id).unwrap();
    let replica = another_replicas_results(&app);
    cast(&app, &id, "ann", &["o1"]).await;
    app.results_when(&id, |r| r["ballots"] == 1 && r["seq"].as_u64() > Some(0))
        .await;
    let older = replica.snapshot(&poll).await.unwrap().expect("a snapshot");
    cast(&app, &id, "ben", &["o2"]).await;
    let newer = app.results_with(&id, 2).await;
    assert!(newer["seq"].as_u64().unwrap() > older.seq, "{newer}");

    // Act: another replica's publish of the older count lands last.
    replica.publish(&older, true).await.unwrap();

    // Assert: readers keep the newer results, over REST and as the stream's first event.
    let results = app.results(&id).await;
    assert_eq!(
        (&results["seq"], &results["ballots"]),
        (&newer["seq"], &json!(2)),
        "{results}"
    );
    let mut stream = Events::new(app.results_stream(&id, Caller::Anonymous).await);
    let (_, first_id, first) = stream.next().await;
    assert_eq!(
        (first_id, &first["ballots"]),
        (newer["seq"].as_u64().unwrap(), &json!(2))
    );
}

#[tokio::test]
async fn a_label_a_spreadsheet_would_run_as_a_formula_is_exported_as_text() {
    // Arrange: labels starting with what spreadsheets read as a formula (OWASP CSV injection).
    let app = spawn_app_with(webhook_settings()).await;
    let labels = ["=cmd|'/C calc'!A0", "+1+1", "-2", "@SUM(A1)", "Plain"];
    let id = app
        .open_poll(&a_poll_with(json!({ "options": labels })))
        .await;

    // Act
    let csv = app
        .results_csv(&id, Caller::Admin)
        .await
        .text()
        .await
        .unwrap();

    // Assert: each such cell starts with a quote mark, which spreadsheets show as text.
    assert_eq!(
        csv,
        "option_id,label,votes\r\n\
         o1,\"'=cmd|'/C calc'!A0\",0\r\n\
         o2,\"'+1+1\",0\r\n\
         o3,\"'-2\",0\r\n\
         o4,\"'@SUM(A1)\",0\r\n\
         o5,\"Plain\",0\r\n"
    );
}

#[tokio::test]
async fn the_results_stream_ends_once_its_poll_is_archived() {
    // Arrange
    let app = spawn_app_with(webhook_settings()).await;
    let id = app.open_poll(&a_poll()).await;
    let mut stream = Events::new(app.results_stream(&id, Caller::Anonymous).await);
    stream.next().await;

    // Act
    assert_eq!(app.transition(&id, "close").await.status(), 200);
    assert_eq!(app.transition(&id, "archive").await.status(), 200);

    // Assert: the archived results are the last event, then the stream ends.
    let (_, _, last) = stream.until(|r| r["state"] == "archived").await;
    assert_eq!(last["ballots"], 0);
    let rest = stream.end().await;
    assert!(!rest.contains("data:"), "{rest}");

    // A stream opened on an archived poll sends its results and ends too.
    let mut stream = Events::new(app.results_stream(&id, Caller::Anonymous).await);
    let (_, _, results) = stream.next().await;
    assert_eq!(results["state"], "archived");
    stream.end().await;
}

#[tokio::test]
async fn a_results_stream_whose_client_went_away_is_closed_without_waiting_for_a_publish() {
    // Arrange: a client reads the results stream of a poll nobody votes in.
    let app = spawn_app_with(webhook_settings()).await;
    let id = app.open_poll(&a_poll()).await;
    let mut stream = Events::new(app.results_stream(&id, Caller::Anonymous).await);
    stream.next().await;
    assert_eq!(app.metrics().await.get("results_streams", None), 1);

    // Act: the client goes away.
    drop(stream);

    // Assert: the server notices and closes its end.
    app.metric_reaches("results_streams", 0, "the server to close the stream")
        .await;
}

#[tokio::test]
async fn results_hidden_from_voters_say_why() {
    // Arrange: a live poll that has not opened, and an on_close poll that is open.
    let app = spawn_app_with(webhook_settings()).await;
    let scheduled = id_of(
        &app.created_poll(&a_poll_with(
            json!({ "opens_at": crate::support::app::in_seconds(600) }),
        ))
        .await,
    );
    let on_close = app
        .open_poll(&a_poll_with(json!({ "results_visibility": "on_close" })))
        .await;

    // Act
    let not_open = assert_error(
        app.results_as(&scheduled, Caller::Anonymous).await,
        403,
        "results_hidden",
    )
    .await;
    let until_close = assert_error(
        app.results_as(&on_close, Caller::Anonymous).await,
        403,
        "results_hidden",
    )
    .await;

    // Assert
    let message = not_open["message"].as_str().unwrap();
    assert!(message.contains("not opened yet"), "{message}");
    assert!(!message.contains("results_visibility"), "{message}");
    let message = until_close["message"].as_str().unwrap();
    assert!(message.contains("once it closes"), "{message}");
}

#[tokio::test]
async fn a_ranked_poll_is_counted_as_the_textbook_library_example_says() {
    // Arrange: Lippman, "Math in Society", Voting Theory, instant runoff: 150 votes on where to
    // build (Library, Fire station, Cafeteria): 41 L>F>C, 25 L>C>F, 13 F>L>C, 26 F>C>L,
    // 30 C>F>L, 15 C>L>F. Published: first round L 66, F 39, C 45; F is eliminated; then
    // L 79, C 71, and the library wins.
    let app = spawn_app_with(webhook_settings()).await;
    let id = app
        .open_poll(&a_poll_with(
            json!({ "kind": "ranked", "options": ["Library", "Fire station", "Cafeteria"] }),
        ))
        .await;
    let (l, f, c) = ("o1", "o2", "o3");
    cast_rankings(
        &app,
        &id,
        &[
            (&[l, f, c], 41),
            (&[l, c, f], 25),
            (&[f, l, c], 13),
            (&[f, c, l], 26),
            (&[c, f, l], 30),
            (&[c, l, f], 15),
        ],
    )
    .await;

    // Act
    let results = app.results_with(&id, 150).await;

    // Assert
    assert_eq!(
        results["rounds"],
        json!([
            { "round": 1, "counts": { "o1": 66, "o2": 39, "o3": 45 },
              "exhausted": 0, "eliminated": ["o2"] },
            { "round": 2, "counts": { "o1": 79, "o3": 71 }, "exhausted": 0, "eliminated": [] },
        ])
    );
    assert_eq!(results["winner"], "o1", "the library");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_streams_of_a_poll_share_one_results_subscription_which_ends_with_the_last() {
    // Arrange: twenty clients stream one poll's results.
    let app = spawn_app_with(webhook_settings()).await;
    let id = app.open_poll(&a_poll()).await;
    let mut streams = Vec::new();
    for _ in 0..20 {
        let mut stream = Events::new(app.results_stream(&id, Caller::Anonymous).await);
        stream.next().await;
        streams.push(stream);
    }

    // Act: a vote.
    cast(&app, &id, "gus", &["o2"]).await;

    // Assert: every stream gets it, through one subscription.
    for stream in &mut streams {
        loop {
            let (_, _, results) = stream.next().await;
            if results["ballots"] == 1 {
                break;
            }
        }
    }
    let metrics = app.metrics().await;
    assert_eq!(metrics.get("results_streams", None), 20);
    assert_eq!(metrics.get("results_subscriptions", None), 1);
    drop(streams);
    app.metric_reaches(
        "results_subscriptions",
        0,
        "the shared subscription to end with its last stream",
    )
    .await;
}

#[tokio::test]
async fn a_results_stream_with_max_events_ends_after_that_many() {
    let app = spawn_app_with(webhook_settings()).await;
    let id = app.open_poll(&a_poll()).await;
    let path = format!("/v1/polls/{id}/results/stream?max_events=2");
    let streaming = send(app.request(Method::GET, &path, Caller::Anonymous));
    let voting = async {
        cast(&app, &id, "hal", &["o1"]).await;
    };
    let (response, ()) = tokio::join!(streaming, voting);
    // The whole body: it ends after the current results and one update.
    let body = within(10, "the stream to end", response.text())
        .await
        .unwrap();
    assert_eq!(body.matches("event: results").count(), 2, "{body}");

    let zero = format!("/v1/polls/{id}/results/stream?max_events=0");
    assert_error(
        send(app.request(Method::GET, &zero, Caller::Anonymous)).await,
        400,
        "invalid_request",
    )
    .await;
}

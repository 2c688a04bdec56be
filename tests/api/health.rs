use crate::support::app::spawn_app;

#[tokio::test]
async fn healthz_answers_ok() {
    let app = spawn_app().await;
    let response = app.get("/healthz").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "ok");
}

#[tokio::test]
async fn readyz_answers_ok_when_momento_answers() {
    let app = spawn_app().await;
    let response = app.get("/readyz").await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn unknown_routes_answer_404_in_the_error_shape() {
    let app = spawn_app().await;
    let response = app.get("/no/such/route").await;
    assert_eq!(response.status(), 404);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "not_found");
    assert!(body["message"].is_string());
}

#[tokio::test]
async fn swagger_ui_and_the_spec_are_served() {
    let app = spawn_app().await;
    let docs = app.get("/docs").await;
    assert_eq!(docs.status(), 200);
    assert!(docs.text().await.unwrap().contains("swagger"));
    let spec: serde_json::Value = app.get("/openapi.json").await.json().await.unwrap();
    assert_eq!(spec["info"]["title"], "pollcast");
    let yaml = app.get("/openapi.yaml").await;
    assert_eq!(yaml.status(), 200);
}

#[tokio::test]
async fn readyz_answers_ok_with_subscription_ingest_once_the_subscription_is_live() {
    let mut settings = crate::support::app::test_settings();
    settings.ingest = Some(pollcast::config::IngestMode::Subscription);
    let app = crate::support::app::spawn_app_with(settings).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let status = app.get("/readyz").await.status();
        if status == 200 {
            break;
        }
        assert_eq!(status, 503, "not ready yet must be 503");
        assert!(std::time::Instant::now() < deadline, "never became ready");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

//! `Application::build`: the admin key, generated once and kept in the data dir, or configured;
//! settings that cannot work are refused at start.

use std::time::Duration;

use pollcast::config::ServeArgs;
use secrecy::SecretString;

use crate::support::app::{init_test_logging, serve, status_and_json, test_settings, Caller};
use pollcast::startup::Application;

/// A fresh directory under the system's temporary directory, removed on drop.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new() -> Self {
        let name = format!("pollcast-test-{:016x}", rand::random::<u64>());
        Self(std::env::temp_dir().join(name))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test]
async fn a_generated_admin_key_is_stored_once_in_the_data_dir_and_reused_on_the_next_start() {
    // Arrange
    init_test_logging();
    let dir = TempDir::new();
    let settings = || {
        let mut settings = test_settings();
        settings.admin_key = None;
        settings.in_memory = false;
        settings.data_dir = dir.0.join("state");
        settings
    };

    // Act: two starts with the same data dir.
    let first = Application::build(settings()).await.expect("first start");
    let first_banner = first.banner();
    // Stopped, not just dropped: the data dir stays locked until the first one is gone.
    serve(first).stop().await;
    let second = Application::build(settings()).await.expect("second start");
    let second_banner = second.banner();
    let app = serve(second);

    // Assert: the key is in the file (0600), shown by the first banner only, and it works.
    let path = dir.0.join("state").join("admin-key");
    let key = std::fs::read_to_string(&path).expect("the key is stored");
    let key = key.trim();
    assert!(key.len() >= 16, "{key}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    assert!(first_banner.contains(key), "{first_banner}");
    assert!(!second_banner.contains(key), "{second_banner}");
    assert!(
        second_banner.contains(&path.display().to_string()),
        "{second_banner}"
    );
    let listed = app
        .http
        .get(format!("{}/v1/polls", app.address))
        .bearer_auth(key);
    let (status, page) = status_and_json(listed.send().await.unwrap()).await;
    assert_eq!(status, 200, "the stored key is the admin key: {page}");
    let (status, _) = status_and_json(app.list_polls_as("", Caller::Admin).await).await;
    assert_eq!(status, 401, "the test key is not configured here");
}

#[tokio::test]
async fn in_memory_a_generated_admin_key_is_shown_once_and_not_stored() {
    init_test_logging();
    let mut settings = test_settings();
    settings.admin_key = None;

    let app = Application::build(settings).await.expect("it starts");

    let banner = app.banner();
    assert!(banner.contains("pca_"), "{banner}");
    assert!(banner.contains("--admin-key"), "{banner}");
    assert!(banner.contains("in memory (--in-memory)"), "{banner}");
    drop(serve(app));
}

#[tokio::test]
async fn a_configured_admin_key_shorter_than_16_characters_is_refused() {
    init_test_logging();
    let mut settings = test_settings();
    settings.admin_key = Some(SecretString::from("fifteen-chars!!"));

    let error = Application::build(settings)
        .await
        .err()
        .expect("a short admin key is refused");

    assert!(format!("{error:#}").contains("16 characters"), "{error:#}");
}

#[tokio::test]
async fn a_configured_admin_key_is_not_printed() {
    init_test_logging();
    let app = Application::build(test_settings())
        .await
        .expect("it starts");

    let banner = app.banner();

    assert!(!banner.contains(crate::support::app::ADMIN_KEY), "{banner}");
    assert!(banner.contains("/docs"), "{banner}");
    drop(serve(app));
}

#[tokio::test]
async fn a_stored_admin_key_shorter_than_16_characters_is_refused_too() {
    init_test_logging();
    let dir = TempDir::new();
    std::fs::create_dir_all(&dir.0).unwrap();
    let settings = || {
        let mut settings = test_settings();
        settings.admin_key = None;
        settings.in_memory = false;
        settings.data_dir = dir.0.clone();
        settings
    };

    for stored in ["", "\n", "short-key\n"] {
        std::fs::write(dir.0.join("admin-key"), stored).unwrap();
        let error = Application::build(settings())
            .await
            .err()
            .unwrap_or_else(|| panic!("{stored:?} is accepted as the admin key"));
        assert!(format!("{error:#}").contains("16 characters"), "{error:#}");
    }
}

#[tokio::test]
async fn settings_that_cannot_work_are_refused_at_start_naming_their_flag() {
    type Break = fn(&mut ServeArgs);
    let cases: [(&str, Break); 4] = [
        ("--token-ttl", |s| s.token_ttl = Duration::ZERO),
        ("--record-ttl", |s| {
            s.record_ttl = Some(Duration::from_millis(10))
        }),
        ("--results-interval", |s| {
            s.results_interval = Duration::ZERO
        }),
        ("--webhook-max-age", |s| s.webhook_max_age = Duration::ZERO),
    ];
    for (flag, break_it) in cases {
        let mut settings = test_settings();
        break_it(&mut settings);

        let refused = Application::build(settings)
            .await
            .err()
            .unwrap_or_else(|| panic!("a server with a broken {flag} started"));

        let message = format!("{refused:#}");
        assert!(message.contains(flag), "{flag}: {message}");
    }
}

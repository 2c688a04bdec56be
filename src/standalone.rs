//! `pollcast local-momento`: the local Momento as a server of its own.

use std::future::Future;

use anyhow::Context;
use local_momento::{LocalMomento, LocalMomentoConfig, RetryPolicy};
use poem::EndpointExt;
use secrecy::ExposeSecret;

use crate::config::{persistence, LocalMomentoArgs};
use crate::secret_file::{self, Existing};

/// Serves the local Momento until `shutdown` resolves (Ctrl-C or SIGTERM, from `main`).
pub async fn run(
    args: LocalMomentoArgs,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let state = state_line(&args);
    let config = LocalMomentoConfig {
        grpc_addr: args.grpc,
        endpoint: args.public_grpc_endpoint,
        persistence: persistence(&args.data_dir, args.in_memory, args.fsync),
        webhooks: args.webhooks.into_iter().map(|w| w.0).collect(),
        webhook_retry: RetryPolicy {
            max_attempts: args.webhook_attempts.max(1),
            ..RetryPolicy::default()
        },
        quota: args.quota.map(|tier| tier.quota()),
        publish_limit_per_token: args.limit_publish_per_token.0,
        ..LocalMomentoConfig::default()
    };
    let momento = LocalMomento::start(config).await?;
    for cache in &args.create_cache {
        momento.ensure_cache(cache).await?;
    }
    let key = momento.super_user_key();
    secret_file::write(&args.api_key_file, key.expose_secret(), Existing::Replace)
        .context("writing the API key")?;

    let http = tokio::net::TcpListener::bind(args.http)
        .await
        .with_context(|| format!("binding the HTTP topics API on {}", args.http))?;
    let http_addr = http.local_addr()?;
    println!("local Momento is serving");
    println!(
        "  gRPC (cache, control, topics, tokens): {}",
        momento.grpc_endpoint()
    );
    println!(
        "  tokens name (their endpoint):          {}",
        momento.token_endpoint()
    );
    println!(
        "  HTTP topics API:                       http://{http_addr}/topics/{{cache}}/{{topic}}"
    );
    println!(
        "  super-user API key written to:         {}",
        args.api_key_file.display()
    );
    println!("  state:                                 {state}");
    if let Some(tier) = args.quota {
        let quota = tier.quota();
        println!(
            "  quota ({tier:?}):                         {} operations/s, {} subscriptions",
            quota.operations_per_second, quota.subscriptions
        );
    }
    println!();
    println!("Rust SDK:");
    println!("  CredentialProvider::from_api_key_v2(key, \"localhost\")?");
    println!(
        "      .full_endpoint_override(\"{}\")",
        momento.grpc_endpoint()
    );
    println!("JavaScript SDK: see README.md, \"Pointing the SDKs at the local Momento\".");

    let observer = momento.observer();
    let api = momento
        .http_api()
        .at("/_local/stats", poem::get(stats).data(observer));
    let acceptor = poem::listener::TcpAcceptor::from_tokio(http)?;
    // As the gRPC port: a request due within the deadline, or the client is cut off.
    let acceptor = local_momento::guard::GuardedAcceptor::new(
        acceptor,
        LocalMomentoConfig::default().slow_client_timeout,
    );
    let server = poem::Server::new_with_acceptor(acceptor);
    server
        .run_with_graceful_shutdown(api, shutdown, Some(std::time::Duration::from_secs(5)))
        .await
        .context("serving the HTTP topics API")?;
    momento.shutdown().await;
    // Not on stdout: whoever read the banner may have closed it by now, and a print to a
    // closed pipe panics.
    tracing::info!("local Momento stopped");
    Ok(())
}

/// `GET /_local/stats`: what the quota counted (operations, throttled calls, subscriptions)
/// and webhook delivery, as JSON (not a Momento API: for tests and operators of this server).
#[poem::handler]
fn stats(
    observer: poem::web::Data<&local_momento::Observer>,
) -> poem::web::Json<serde_json::Value> {
    let webhooks = observer.webhook_stats();
    poem::web::Json(serde_json::json!({
        "quota": observer.quota_stats(),
        "webhooks": {
            "delivered": webhooks.delivered,
            "failed": webhooks.failed,
            "outbox_depth": webhooks.outbox_depth,
        },
    }))
}

/// Where the state lives, for the banner.
fn state_line(args: &LocalMomentoArgs) -> String {
    if args.in_memory {
        "in memory (--in-memory): nothing survives a restart".to_owned()
    } else {
        format!(
            "{} (durable, --fsync {})",
            args.data_dir.display(),
            args.fsync
        )
    }
}

//! `pollcast local-momento`: the local Momento as a server of its own.

use std::path::Path;

use anyhow::Context;
use local_momento::{LocalMomento, LocalMomentoConfig, RetryPolicy};
use secrecy::ExposeSecret;

use crate::config::LocalMomentoArgs;

/// Serves the local Momento until Ctrl-C or SIGTERM.
pub async fn run(args: LocalMomentoArgs) -> anyhow::Result<()> {
    let config = LocalMomentoConfig {
        grpc_addr: args.grpc,
        webhooks: args.webhooks.into_iter().map(|w| w.0).collect(),
        webhook_retry: RetryPolicy {
            max_attempts: args.webhook_attempts.max(1),
            ..RetryPolicy::default()
        },
        ..LocalMomentoConfig::default()
    };
    let momento = LocalMomento::start(config).await?;
    for cache in &args.create_cache {
        momento.ensure_cache(cache);
    }
    write_key(&args.api_key_file, momento.super_user_key().expose_secret())?;

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
        "  HTTP topics API:                       http://{http_addr}/topics/{{cache}}/{{topic}}"
    );
    println!(
        "  super-user API key written to:         {}",
        args.api_key_file.display()
    );
    println!();
    println!("Rust SDK:");
    println!("  CredentialProvider::from_api_key_v2(key, \"localhost\")?");
    println!(
        "      .full_endpoint_override(\"{}\")",
        momento.grpc_endpoint()
    );
    println!("JavaScript SDK: see README.md, \"Pointing the SDKs at the local Momento\".");

    let api = momento.http_api();
    let server = poem::Server::new_with_acceptor(poem::listener::TcpAcceptor::from_tokio(http)?);
    server
        .run_with_graceful_shutdown(
            api,
            shutdown_signal(),
            Some(std::time::Duration::from_secs(5)),
        )
        .await
        .context("serving the HTTP topics API")?;
    momento.shutdown().await;
    println!("local Momento stopped");
    Ok(())
}

fn write_key(path: &Path, key: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("writing the API key to {}", path.display()))?;
    file.write_all(key.as_bytes())?;
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}

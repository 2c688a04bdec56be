//! The `pollcast` binary: parse the command line, set up logging, run the chosen command until
//! Ctrl-C or SIGTERM ([`shutdown_signal`], handed to the command as mini-redis's `main` does).

use clap::Parser;
use pollcast::config::{Cli, Command};
use pollcast::startup::Application;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,poem::middleware::tracing_mw=warn".into()),
        )
        .init();
    match cli.command {
        Command::Serve(args) => {
            let app = Application::build(args).await?;
            print!("{}", app.banner());
            app.run_until_stopped(shutdown_signal()).await
        }
        Command::Openapi => {
            print!("{}", pollcast::api::spec_yaml());
            Ok(())
        }
        Command::LocalMomento(args) => pollcast::standalone::run(args, shutdown_signal()).await,
    }
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
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

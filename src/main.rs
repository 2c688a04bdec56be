//! The `pollcast` binary: parse the command line, set up logging, run the chosen command.

use clap::Parser;
use pollcast::config::{Cli, Command};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    match cli.command {
        Command::LocalMomento(args) => pollcast::standalone::run(args).await,
    }
}

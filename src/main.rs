//! The `pollcast` binary: parse the command line, set up logging, run the chosen command.

use clap::Parser;
use pollcast::config::{Cli, Command};
use pollcast::standalone::shutdown_signal;
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
        Command::LocalMomento(args) => pollcast::standalone::run(args).await,
    }
}

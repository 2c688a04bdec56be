//! The `pollcast` binary: parse the command line, set up logging, run the chosen command until
//! Ctrl-C or SIGTERM ([`shutdown_signal`], handed to the command as mini-redis's `main` does).

use std::io::IsTerminal;

/// mimalloc instead of the system allocator: the vote path allocates per request (HTTP, gRPC,
/// JSON), and glibc's malloc and free took about a fifth of the CPU in a profile of it
/// (docs/PERFORMANCE.md). Built without transparent huge pages (`no_thp`): with them, a heap
/// that grows under load (thousands of connections) had the kernel zero 2 MB pages on fault,
/// a fifth of the CPU of an overloaded server in a profile, and 50% more memory.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;
use pollcast::config::{Cli, Command, LogFormat};
use pollcast::recount::Verdict;
use pollcast::startup::Application;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    match cli.command {
        Command::Serve(args) => {
            let app = Application::build(*args).await?;
            print!("{}", app.banner());
            app.run_until_stopped(shutdown_signal()).await
        }
        Command::Openapi => {
            print!("{}", pollcast::api::spec_yaml());
            Ok(())
        }
        Command::LocalMomento(args) => pollcast::standalone::run(args, shutdown_signal()).await,
        Command::Recount(args) => match pollcast::recount::run(args).await? {
            Verdict::Matched => Ok(()),
            Verdict::Corrected => std::process::exit(2),
        },
    }
}

/// Logs go to stderr (stdout carries the banner and command output), filtered by `RUST_LOG`.
fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,poem::middleware::tracing_mw=warn".into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => logs.json().init(),
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

use clap::{Parser, Subcommand};
use optralis::{
    app::{self, AppState},
    config::Config,
    graphql, http, serve, telemetry,
};
use std::{net::SocketAddr, process::ExitCode};

/// Optralis fleet-monitoring server.
#[derive(Parser)]
#[command(name = "optralis", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (applies pending migrations first).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the GraphQL schema (SDL).
    Schema,
}

/// Exit code for configuration errors, distinct from runtime failures.
const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Schema = cli.command {
        print!("{}", graphql::sdl());
        return ExitCode::SUCCESS;
    }
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("optralis: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    telemetry::init(config.log_json);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("optralis: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve => run_server(config).await,
            Command::Migrate => app::migrate(&config).await.map(|_| ()).map_err(|e| e.to_string()),
            Command::Schema => unreachable!("handled before configuration"),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("optralis: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run_server(config: Config) -> Result<(), String> {
    let addr = SocketAddr::new(config.bind_addr, config.port);
    let state = AppState::build(config).await.map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    tracing::info!(%addr, "optralis listening (GraphQL at /graphql, health at /health)");
    serve::serve(listener, http::router(state), serve::shutdown_signal()).await;
    Ok(())
}

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use optralis::{
    app::{self, AppState},
    config::{self, Config, Settings},
    domain::analysis::detector::Params,
    gateway, graphql, http, replay, serve, telemetry,
};
use std::{net::SocketAddr, process::ExitCode, time::Duration};
use tokio_util::sync::CancellationToken;

/// How long shutdown waits for a job in the middle of a tick.
const WORKERS_GRACE: Duration = Duration::from_secs(10);

/// Optralis fleet-monitoring server.
#[derive(Parser)]
#[command(name = "optralis", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

const SETTINGS_HELP: &str = "Every setting is optional and read from its environment variable (a flag \
of the same name wins over it). A variable set but invalid stops the start with one line naming it, \
exit code 2.";

#[derive(Subcommand)]
enum Command {
    /// Run the server (applies pending migrations first).
    #[command(after_help = SETTINGS_HELP)]
    Serve(Settings),
    /// Apply pending database migrations and exit.
    #[command(after_help = SETTINGS_HELP)]
    Migrate(Settings),
    /// Print the GraphQL schema (SDL).
    Schema,
    /// Replay a `timestamp,value` CSV through the anomaly detector, as it
    /// scores samples live, and print `timestamp,value,anomaly_score`.
    Detect(DetectArgs),
}

#[derive(clap::Args)]
struct DetectArgs {
    /// CSV file with the header `timestamp,value`, oldest row first.
    #[arg(long)]
    input: std::path::PathBuf,
    /// The metric the series holds (cpu, ram, disk...), for its own settings.
    #[arg(long)]
    metric: Option<String>,
}

/// Exit code for configuration errors, distinct from runtime failures.
const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let command = Cli::command()
        .mut_subcommand("serve", config::ignore_blank_variables)
        .mut_subcommand("migrate", config::ignore_blank_variables);
    let cli = match Cli::from_arg_matches(&command.get_matches()) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let settings = match &cli.command {
        Command::Schema => {
            print!("{}", graphql::sdl());
            return ExitCode::SUCCESS;
        }
        Command::Detect(args) => return detect(args),
        Command::Serve(settings) | Command::Migrate(settings) => settings,
    };
    let config = match Config::from_settings(settings) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("optralis: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    telemetry::init(config.log_json);
    let caps = match cli.command {
        Command::Serve(_) => {
            let open_files = serve::raise_open_file_limit();
            match serve::connection_caps(&config, open_files) {
                Ok(caps) => {
                    tracing::info!(
                        open_files,
                        api = caps.api.max_connections,
                        agent = caps.agent.max_connections,
                        "connection caps"
                    );
                    Some(caps)
                }
                Err(e) => {
                    eprintln!("optralis: {e}");
                    return ExitCode::from(EXIT_CONFIG);
                }
            }
        }
        _ => None,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("optralis: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match (cli.command, caps) {
            (Command::Serve(_), Some(caps)) => run_server(config, caps).await,
            (Command::Serve(_), None) => unreachable!("caps are sized for serve"),
            (Command::Migrate(_), _) => app::migrate(&config).await.map(|_| ()).map_err(|e| e.to_string()),
            (Command::Schema | Command::Detect(_), _) => {
                unreachable!("handled before configuration")
            }
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

fn detect(args: &DetectArgs) -> ExitCode {
    let path = args.input.display().to_string();
    let file = match std::fs::File::open(&args.input) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("optralis: cannot read {path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let params = Params::for_metric(args.metric.as_deref());
    let out = std::io::BufWriter::new(std::io::stdout().lock());
    match replay::replay(&path, std::io::BufReader::new(file), out, params) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("optralis: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run_server(config: Config, caps: serve::ConnectionCaps) -> Result<(), String> {
    let anonymous_per_ip = config.agent_anonymous_connections_per_ip;
    let addr = SocketAddr::new(config.bind_addr, config.port);
    let agent_addr = SocketAddr::new(config.bind_addr, config.agent_port);
    let (state, workers) = AppState::build(config).await.map_err(|e| e.to_string())?;
    let tls = gateway::tls_config(&state)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let agent_listener = tokio::net::TcpListener::bind(agent_addr)
        .await
        .map_err(|e| format!("cannot listen on {agent_addr} (AGENT_PORT): {e}"))?;
    // The bound addresses, not the configured ones: with `PORT=0` the
    // system picks the port, and the line on stdout tells the caller which.
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let agent_addr = agent_listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(%addr, %agent_addr, "optralis listening (GraphQL at /graphql, agent gateway over mutual TLS)");
    println!("optralis listening api={addr} agent={agent_addr}");
    let workers = workers.start(CancellationToken::new());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let api = serve::serve_limited(
        listener,
        http::router(state.clone()),
        caps.api,
        stopped(stop_rx.clone()),
    );
    let agents = agent_gateway::tls::serve_limited(
        agent_listener,
        tls,
        gateway::router(state),
        caps.agent,
        anonymous_per_ip,
        stopped(stop_rx),
    );
    let signal = async move {
        serve::shutdown_signal().await;
        let _ = stop_tx.send(true);
    };
    tokio::join!(api, agents, signal);
    // Requests drained first: what they queued (emails) is still picked up
    // by a running worker, or by the next start.
    let stopped = workers.stop(WORKERS_GRACE).await;
    if stopped.aborted > 0 {
        tracing::warn!(
            aborted = stopped.aborted,
            "background jobs still busy at shutdown were aborted"
        );
    }
    Ok(())
}

//! Agent simulator and load generator: enrols N machines with one install
//! token, heartbeats them, then (with `--duration-secs`) posts realistic
//! collector payloads over mutual TLS at the agents' intervals, with
//! latency histograms, and can check afterwards that every acknowledged
//! sample is in the database exactly once.
//!
//!   agent-sim --gateway https://127.0.0.1:8443 --ca data/ca.crt \
//!             --token <install token> --machines 200 --heartbeats 1 \
//!             --duration-secs 60 --metrics-interval 10 \
//!             --verify-db sqlite://data/optralis.db

use clap::Parser;
use std::{io::Write, process::ExitCode, sync::Arc};

#[tokio::main]
async fn main() -> ExitCode {
    let args = agent_sim::Args::parse();
    // Line by line and flushed: harnesses read the report as it comes.
    let stdout: agent_sim::Output = Arc::new(|line: &str| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    });
    match agent_sim::run(args, stdout).await {
        Ok(report) if report.failed == 0 => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("agent-sim: {e}");
            ExitCode::from(2)
        }
    }
}

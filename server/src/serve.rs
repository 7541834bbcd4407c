//! The GraphQL port's listener: plain TCP through the shared serving loop
//! (header-read timeout, HTTP/1.1 and 2, upgrades, graceful drain), each
//! request carrying its peer address.

use axum::{extract::ConnectInfo, http::Extensions, Router};
use std::{future::Future, net::SocketAddr};
use tokio::net::TcpListener;

/// Serves `router` on `listener` until `shutdown` resolves, then stops
/// accepting and waits for in-flight requests (bounded by the drain timeout).
pub async fn serve(listener: TcpListener, router: Router, shutdown: impl Future<Output = ()>) {
    agent_gateway::listener::serve_with(listener, router, shutdown, |stream, remote| async move {
        let mut extensions = Extensions::new();
        extensions.insert(ConnectInfo(remote));
        Some((stream, extensions))
    })
    .await;
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

pub type RemoteAddr = ConnectInfo<SocketAddr>;

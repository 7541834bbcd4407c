//! One HTTP serving loop for both listeners (the GraphQL port over plain
//! TCP, the agent gateway over TLS): hyper with a header-read timeout
//! (axum::serve has none), HTTP/1.1 and HTTP/2, WebSocket upgrades, and a
//! graceful drain that also covers connections still in their handshake.

use axum::{extract::Request, http::Extensions, Router};
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::{conn::auto::Builder, graceful::GracefulShutdown},
    service::TowerToHyperService,
};
use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::{TcpListener, TcpStream},
};
use tower::ServiceExt;

/// A client must send its request headers within this time.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// In-flight requests get this long to finish after a shutdown signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves `router` on `listener` until `shutdown` resolves, then stops
/// accepting and drains in-flight requests (bounded by the drain timeout).
///
/// `accept` turns a TCP connection into the stream to serve (a TLS
/// handshake, say) plus extensions added to each of its requests; `None`
/// drops the connection.
pub async fn serve_with<A, Fut, IO>(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()>,
    accept: A,
) where
    A: Fn(TcpStream, SocketAddr) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Option<(IO, Extensions)>> + Send + 'static,
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Duration::from_secs(30))
        .max_concurrent_streams(256);
    let builder = Arc::new(builder);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);

    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let (accept, router, builder, watcher) = (
            accept.clone(),
            router.clone(),
            builder.clone(),
            graceful.watcher(),
        );
        tokio::spawn(async move {
            let Some((io, extensions)) = accept(stream, remote).await else {
                return;
            };
            let service = router.map_request(move |mut req: Request<_>| {
                req.extensions_mut().extend(extensions.clone());
                req
            });
            let conn = builder
                .serve_connection_with_upgrades(TokioIo::new(io), TowerToHyperService::new(service))
                .into_owned();
            if let Err(e) = watcher.watch(conn).await {
                tracing::debug!(error = %e, %remote, "connection ended with an error");
            }
        });
    }

    drop(listener);
    tracing::info!("shutting down: draining in-flight requests");
    match tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown()).await {
        Ok(()) => tracing::info!("all connections drained"),
        Err(_) => tracing::warn!("drain timeout reached; closing remaining connections"),
    }
}

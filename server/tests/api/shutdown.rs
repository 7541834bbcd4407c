use crate::helpers::TestServer;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A request already being received when shutdown starts is still served;
/// connections opened after it are refused.
#[tokio::test]
async fn shutdown_drains_in_flight_requests() {
    let server = TestServer::spawn().await;
    let addr = server.addr;
    let body = r#"{"query":"{ serverInfo { version } }"}"#;
    let (first, rest) = body.split_at(10);

    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /graphql HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{first}",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;

    let stopping = tokio::spawn(server.stop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !stopping.is_finished(),
        "shutdown waits for the in-flight request"
    );

    stream.write_all(rest.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains(env!("CARGO_PKG_VERSION")));

    tokio::time::timeout(Duration::from_secs(5), stopping)
        .await
        .expect("shutdown completes once drained")
        .unwrap();
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "listener closed"
    );
}

/// Shutdown cancels the background jobs and each returns at its next wait
/// (the cleanup job waits an hour between ticks): none has to be aborted.
#[tokio::test]
async fn shutdown_stops_the_background_jobs() {
    let server = TestServer::spawn().await;
    // Cleanup, offline detection, the outbox and rollups (which return
    // after their first refresh on TimescaleDB).
    assert!(server.running_workers() >= 3, "{}", server.running_workers());
    let started = tokio::time::Instant::now();
    let stopped = server.stop().await.expect("the test server started its workers");
    assert_eq!(stopped.aborted, 0, "{stopped:?}");
    assert!(stopped.finished >= 3, "{stopped:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

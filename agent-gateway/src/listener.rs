//! One HTTP serving loop for both listeners (the GraphQL port over plain
//! TCP, the agent gateway over TLS): hyper with a header-read timeout
//! (axum::serve has none), HTTP/1.1 and HTTP/2, WebSocket upgrades, and a
//! graceful drain that also covers connections still in their handshake.
//!
//! It also bounds what a listener holds, so that a flood on one port can
//! neither exhaust the process's file descriptors nor starve the other
//! port: a cap on open connections, a deadline for connections with no
//! request in flight, and limits on the request target and headers,
//! answered in JSON like every other error.

use crate::{error::json_body, GatewayError, GatewayErrorCode};
use axum::{
    body::{Body, Bytes, HttpBody},
    extract::Request,
    http::{Extensions, StatusCode},
    response::{IntoResponse, Response},
    BoxError, Router,
};
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::conn::auto::Builder,
    service::TowerToHyperService,
};
use std::{
    convert::Infallible,
    future::Future,
    io,
    net::SocketAddr,
    pin::Pin,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    task::{ready, Context, Poll},
    time::{Duration, Instant},
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{watch, Notify, OwnedSemaphorePermit, Semaphore},
    task::JoinSet,
};
use tower::ServiceExt;

/// A client must send its request headers within this time, and start its
/// first request within this time of connecting.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// In-flight requests get this long to finish after a shutdown signal, or
/// after their connection was found idle.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// A connection with no request in flight for this long is closed. hyper's
/// header-read timeout covers HTTP/1.1 between requests, but neither a
/// connection that never sends a byte (the auto builder is still sniffing
/// the protocol, outside hyper's timer) nor an idle HTTP/2 connection that
/// answers pings.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Longest accepted request target (path and query), in bytes.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Most header bytes (names, values and separators) in a request.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
/// Most header lines in a request.
pub const MAX_HEADERS: usize = 100;
// hyper's own ceilings sit well above ours, so that an oversized request
// normally reaches `check_head` and gets an answer naming the limit. Past
// them hyper answers by itself: over HTTP/1 `ConnIo` gives that answer a
// JSON body; over HTTP/2 h2 sends a bare 431 nothing can intercept.
const HYPER_MAX_BUF_BYTES: usize = 256 * 1024;
const HYPER_MAX_HEADERS: usize = 512;
const H2_MAX_HEADER_LIST_BYTES: u32 = 256 * 1024;

const URI_TOO_LONG: &str = "The request target is too long";
const HEADERS_TOO_LARGE: &str = "The request headers are too large";
const UNPARSABLE: &str = "The request could not be parsed";

/// What one listener may hold at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Open connections, those still in their TLS handshake and upgraded
    /// WebSockets included. Each is a file descriptor.
    pub max_connections: usize,
}

impl Default for Limits {
    /// For embedders that do not size it themselves (tests, benches); the
    /// `optralis` binary sizes it from the process's open-file limit.
    fn default() -> Self {
        Self {
            max_connections: 1024,
        }
    }
}

/// [`serve_with_limits`] with [`Limits::default`].
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
    serve_with_limits(listener, router, Limits::default(), shutdown, accept).await;
}

/// Serves `router` on `listener` until `shutdown` resolves, then stops
/// accepting and drains in-flight requests (bounded by the drain timeout).
///
/// `accept` turns a TCP connection into the stream to serve (a TLS
/// handshake, say) plus extensions added to each of its requests; `None`
/// drops the connection. At most `limits.max_connections` connections are
/// open at once, counted from `accept` until the socket closes.
pub async fn serve_with_limits<A, Fut, IO>(
    listener: TcpListener,
    router: Router,
    limits: Limits,
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
        .keep_alive(true)
        .max_buf_size(HYPER_MAX_BUF_BYTES)
        .max_headers(HYPER_MAX_HEADERS);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Duration::from_secs(30))
        .max_concurrent_streams(256)
        .max_header_list_size(H2_MAX_HEADER_LIST_BYTES);
    let builder = Arc::new(builder);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut last_cap_warning: Option<Instant> = None;
    tokio::pin!(shutdown);

    loop {
        let (stream, remote) = tokio::select! {
            // Finished connections are reaped as they end, so that their
            // task's memory goes with them.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
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
        // Past the cap a connection is closed at once rather than left
        // waiting in the kernel's backlog: its client learns straight away
        // and retries with its back-off (or another instance) instead of
        // sending a request nobody reads until it times out, and the loop
        // keeps the backlog drained for when slots free up.
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            drop(stream);
            if last_cap_warning.is_none_or(|at| at.elapsed() >= Duration::from_secs(10)) {
                tracing::warn!(max = limits.max_connections, %remote, "connection cap reached; refusing new connections");
                last_cap_warning = Some(Instant::now());
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (accept, router, builder, stop) =
            (accept.clone(), router.clone(), builder.clone(), stop_rx.clone());
        connections.spawn(async move {
            let Some((io, extensions)) = accept(stream, remote).await else {
                return;
            };
            let activity = Arc::new(Activity::default());
            let service = ConnService {
                router,
                extensions,
                activity: activity.clone(),
            };
            let conn = builder
                .serve_connection_with_upgrades(
                    TokioIo::new(ConnIo::new(io, slot)),
                    TowerToHyperService::new(service),
                )
                .into_owned();
            tokio::pin!(conn);
            let mut stop = stop;
            let finished = tokio::select! {
                result = conn.as_mut() => Some(result),
                _ = stop.wait_for(|stopping| *stopping) => None,
                () = activity.idle() => None,
            };
            let result = match finished {
                Some(result) => result,
                None => {
                    conn.as_mut().graceful_shutdown();
                    match tokio::time::timeout(DRAIN_TIMEOUT, conn).await {
                        Ok(result) => result,
                        Err(_) => return,
                    }
                }
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, %remote, "connection ended with an error");
            }
        });
    }

    drop(listener);
    let _ = stop_tx.send(true);
    tracing::info!("shutting down: draining in-flight requests");
    let drain = async { while connections.join_next().await.is_some() {} };
    match tokio::time::timeout(DRAIN_TIMEOUT, drain).await {
        Ok(()) => tracing::info!("all connections drained"),
        Err(_) => tracing::warn!("drain timeout reached; closing remaining connections"),
    }
}

/// Requests a connection has in flight, from their headers until their
/// answer's body is sent or dropped.
#[derive(Default)]
struct Activity {
    in_flight: AtomicUsize,
    changed: Notify,
}

impl Activity {
    fn begin(self: &Arc<Self>) -> Busy {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.changed.notify_waiters();
        Busy(self.clone())
    }

    /// Resolves once the connection has had no request in flight for the
    /// idle limit (the header-read timeout before its first request).
    async fn idle(&self) {
        let mut limit = HEADER_READ_TIMEOUT;
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            // Registered before the check, so a change in between wakes us.
            changed.as_mut().enable();
            if self.in_flight.load(Ordering::SeqCst) == 0 {
                if tokio::time::timeout(limit, changed).await.is_err() {
                    return;
                }
            } else {
                changed.await;
            }
            limit = IDLE_TIMEOUT;
        }
    }
}

struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.0.changed.notify_waiters();
    }
}

/// A response body that keeps its request counted as in flight until it
/// is sent (a long download is not an idle connection).
struct Tracked {
    body: Body,
    _busy: Busy,
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// The service of one connection: the connection's extensions on each
/// request, the head limits, and in-flight accounting.
#[derive(Clone)]
struct ConnService {
    router: Router,
    extensions: Extensions,
    activity: Arc<Activity>,
}

impl<B> tower::Service<Request<B>> for ConnService
where
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let busy = self.activity.begin();
        if let Some(refusal) = check_head(&req) {
            return Box::pin(async move { Ok(refusal) });
        }
        let mut req = req.map(Body::new);
        req.extensions_mut().extend(self.extensions.clone());
        let router = self.router.clone();
        Box::pin(async move {
            let response = router.oneshot(req).await?;
            Ok(response.map(|body| Body::new(Tracked { body, _busy: busy })))
        })
    }
}

/// Our limits on the request target and headers, checked before routing.
fn check_head<B>(req: &Request<B>) -> Option<Response> {
    let target = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if target > MAX_URI_BYTES {
        return Some(
            GatewayError::new(
                GatewayErrorCode::UriTooLong,
                format!("{URI_TOO_LONG} (at most {MAX_URI_BYTES} bytes)"),
            )
            .into_response(),
        );
    }
    let headers = req.headers();
    let bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if headers.len() > MAX_HEADERS || bytes > MAX_HEADER_BYTES {
        return Some(
            GatewayError::new(
                GatewayErrorCode::HeadersTooLarge,
                format!("{HEADERS_TOO_LARGE} (at most {MAX_HEADERS} headers, {MAX_HEADER_BYTES} bytes)"),
            )
            .into_response(),
        );
    }
    None
}

/// A stream that keeps `guard` alive exactly as long as itself, so that a
/// slot it stands for is held as long as the socket is open.
pub(crate) struct Holding<IO, G> {
    io: IO,
    _guard: G,
}

impl<IO, G> Holding<IO, G> {
    pub(crate) fn new(io: IO, guard: G) -> Self {
        Self { io, _guard: guard }
    }
}

impl<IO: AsyncRead + Unpin, G: Unpin> AsyncRead for Holding<IO, G> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin, G: Unpin> AsyncWrite for Holding<IO, G> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

enum Rewrite {
    /// Nothing written yet.
    Undecided,
    /// An HTTP/1 connection: watch for hyper's own error answers.
    Http1,
    /// HTTP/2, an upgraded WebSocket, or the rewrite already done.
    Off,
}

/// The stream hyper serves. It holds the connection's slot until the
/// socket closes (an upgraded WebSocket keeps it), and gives the answers
/// hyper writes by itself to HTTP/1 requests it cannot parse (a request
/// line or head past its ceilings, a malformed request) the JSON body every
/// other error has: hyper has no hook for these, and sends them empty.
///
/// Writes are never vectored, so each write is hyper's whole buffer and
/// such an answer, always the last thing hyper writes before closing, is
/// its tail.
struct ConnIo<IO> {
    io: IO,
    _slot: OwnedSemaphorePermit,
    rewrite: Rewrite,
    replacement: Vec<u8>,
    sent: usize,
    linger: Option<Linger>,
}

/// After hyper's own answer, the rest of the oversized request is read
/// and dropped for a moment before closing (at most `LINGER_TIME` and
/// `LINGER_BYTES`): closing with unread input makes the kernel reset the
/// connection, and a client still sending would lose the answer.
struct Linger {
    flushed: bool,
    drained: bool,
    deadline: Pin<Box<tokio::time::Sleep>>,
    discarded: usize,
}

const LINGER_TIME: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 1024 * 1024;

impl<IO: AsyncWrite + Unpin> ConnIo<IO> {
    fn new(io: IO, slot: OwnedSemaphorePermit) -> Self {
        Self {
            io,
            _slot: slot,
            rewrite: Rewrite::Undecided,
            replacement: Vec::new(),
            sent: 0,
            linger: None,
        }
    }

    fn poll_replacement(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.replacement.len() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &self.replacement[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for ConnIo<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncWrite for ConnIo<IO> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        ready!(this.poll_replacement(cx))?;
        if matches!(this.rewrite, Rewrite::Undecided) && !buf.is_empty() {
            this.rewrite = if buf.starts_with(b"HTTP/1.") {
                Rewrite::Http1
            } else {
                Rewrite::Off
            };
        }
        if matches!(this.rewrite, Rewrite::Http1) {
            if buf.starts_with(b"HTTP/1.1 101 ") {
                this.rewrite = Rewrite::Off;
            } else if let Some(start) = bare_error_head(buf) {
                if start > 0 {
                    return Pin::new(&mut this.io).poll_write(cx, &buf[..start]);
                }
                this.replacement = json_error_answer(buf);
                this.rewrite = Rewrite::Off;
                // Sent now if the socket takes it, else by the flush hyper
                // does next.
                if let Poll::Ready(Err(e)) = this.poll_replacement(cx) {
                    return Poll::Ready(Err(e));
                }
                return Poll::Ready(Ok(buf.len()));
            }
        }
        Pin::new(&mut this.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_replacement(cx))?;
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        ready!(this.poll_replacement(cx))?;
        if this.replacement.is_empty() {
            return Pin::new(&mut this.io).poll_shutdown(cx);
        }
        let linger = this.linger.get_or_insert_with(|| Linger {
            flushed: false,
            drained: false,
            deadline: Box::pin(tokio::time::sleep(LINGER_TIME)),
            discarded: 0,
        });
        if !linger.flushed {
            ready!(Pin::new(&mut this.io).poll_flush(cx))?;
            linger.flushed = true;
        }
        // The close comes once the client has stopped sending (or the
        // linger is over): some clients (curl over TLS) give up on an
        // answer whose close arrives while they are still sending.
        let mut scratch = [0u8; 8192];
        while !linger.drained {
            if linger.discarded >= LINGER_BYTES || linger.deadline.as_mut().poll(cx).is_ready() {
                linger.drained = true;
                break;
            }
            let mut buf = ReadBuf::new(&mut scratch);
            match ready!(Pin::new(&mut this.io).poll_read(cx, &mut buf)) {
                Ok(()) if !buf.filled().is_empty() => linger.discarded += buf.filled().len(),
                _ => linger.drained = true,
            }
        }
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

/// Where hyper's own answer to an unparsable request starts, if `buf` ends
/// with one: status 400, 414 or 431 and exactly the headers `connection:
/// close`, `content-length: 0` and `date`. None of our answers has that
/// shape: every error of ours carries a JSON body.
fn bare_error_head(buf: &[u8]) -> Option<usize> {
    if !buf.ends_with(b"\r\n\r\n") {
        return None;
    }
    let from = buf.len().saturating_sub(256);
    let start = (from..buf.len())
        .rev()
        .find(|&i| buf[i..].starts_with(b"HTTP/1."))?;
    let head = std::str::from_utf8(&buf[start..])
        .ok()?
        .strip_suffix("\r\n\r\n")?;
    let mut lines = head.split("\r\n");
    if !matches!(lines.next()?.get(9..13)?, "400 " | "414 " | "431 ") {
        return None;
    }
    let (mut close, mut empty) = (false, false);
    for line in lines {
        let (name, value) = line.split_once(':')?;
        let value = value.trim();
        match name.to_ascii_lowercase().as_str() {
            "connection" if value.eq_ignore_ascii_case("close") => close = true,
            "content-length" if value == "0" => empty = true,
            "date" => {}
            _ => return None,
        }
    }
    (close && empty).then_some(start)
}

/// The same answer as `head` (a [`bare_error_head`]) with a JSON body.
fn json_error_answer(head: &[u8]) -> Vec<u8> {
    let head = String::from_utf8_lossy(head);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("HTTP/1.1 400 Bad Request");
    let date = lines.find(|l| l.to_ascii_lowercase().starts_with("date:"));
    let status = status_line
        .get(9..12)
        .and_then(|code| StatusCode::from_bytes(code.as_bytes()).ok())
        .unwrap_or(StatusCode::BAD_REQUEST);
    let message = match status {
        StatusCode::URI_TOO_LONG => URI_TOO_LONG,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => HEADERS_TOO_LARGE,
        _ => UNPARSABLE,
    };
    let body = json_body(GatewayErrorCode::for_status(status), message);
    let mut answer = format!(
        "{status_line}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    if let Some(date) = date {
        answer.push_str(date);
        answer.push_str("\r\n");
    }
    answer.push_str("\r\n");
    let mut answer = answer.into_bytes();
    answer.extend_from_slice(&body);
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYPER_414: &[u8] =
        b"HTTP/1.1 414 URI Too Long\r\nconnection: close\r\ncontent-length: 0\r\ndate: Sun, 29 Nov 2026 05:44:10 GMT\r\n\r\n";

    #[test]
    fn hypers_bare_answers_are_found_at_the_tail_only() {
        assert_eq!(bare_error_head(HYPER_414), Some(0));
        let pipelined = [
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}".as_slice(),
            HYPER_414,
        ]
        .concat();
        assert_eq!(
            bare_error_head(&pipelined),
            Some(pipelined.len() - HYPER_414.len())
        );
        // Ours: a JSON body, or other headers.
        let ours = b"HTTP/1.1 414 URI Too Long\r\ncontent-type: application/json\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
        assert_eq!(bare_error_head(ours), None);
        let ok = b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(bare_error_head(ok), None);
        assert_eq!(bare_error_head(&HYPER_414[..HYPER_414.len() - 2]), None);
    }

    #[test]
    fn the_replacement_keeps_status_and_date_and_carries_json() {
        let answer = String::from_utf8(json_error_answer(HYPER_414)).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 414 URI Too Long\r\n"), "{head}");
        assert!(head.contains("\r\ncontent-type: application/json\r\n"));
        assert!(head.contains(&format!("\r\ncontent-length: {}\r\n", body.len())));
        assert!(head.contains("\r\ndate: Sun, 29 Nov 2026 05:44:10 GMT"));
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["code"], "URI_TOO_LONG");
        assert!(body["error"].is_string());
    }

    #[test]
    fn limits_on_target_and_headers() {
        let ok = Request::builder().uri("/x?q=1").body(()).unwrap();
        assert!(check_head(&ok).is_none());
        let long = Request::builder()
            .uri(format!("/x?q={}", "a".repeat(MAX_URI_BYTES)))
            .body(())
            .unwrap();
        assert_eq!(check_head(&long).unwrap().status(), StatusCode::URI_TOO_LONG);
        let mut many = Request::builder().uri("/");
        for i in 0..=MAX_HEADERS {
            many = many.header(format!("x-{i}"), "1");
        }
        assert_eq!(
            check_head(&many.body(()).unwrap()).unwrap().status(),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
        );
        let big = Request::builder()
            .uri("/")
            .header("x-big", "a".repeat(MAX_HEADER_BYTES))
            .body(())
            .unwrap();
        assert_eq!(
            check_head(&big).unwrap().status(),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
        );
    }
}

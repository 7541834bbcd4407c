//! GraphQL over HTTP and WebSocket, with the transport rules that protect
//! cookie sessions: one operation per request, JSON bodies only (a CSRF
//! guard: cross-site forms cannot send `application/json` without a CORS
//! preflight), and GET limited to queries.

use super::{errors::json_error, MAX_BODY_BYTES, REQUEST_ID_HEADER};
use crate::{
    app::AppState,
    config::{Cidr, Config, CorsOrigins},
    domain::{
        activity::RequestMeta,
        auth::{AuthFailure, Credential, Principal},
        crypto::constant_time_eq,
        DomainError,
    },
    graphql::{
        auth::{RequestAuth, ACCESS_COOKIE, CSRF_COOKIE, REFRESH_COOKIE},
        document, CookieSocket, RequestId,
    },
    serve::RemoteAddr,
};
use async_graphql::{
    http::{WebSocketProtocols, WsMessage},
    Data,
};
use async_graphql_axum::GraphQLRequest;
use axum::{
    body::{Body, Bytes},
    extract::{
        ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade},
        FromRequest, RawQuery, Request, State,
    },
    http::{self, header, HeaderMap, StatusCode, Uri},
    middleware::Next,
    response::{IntoResponse, Response},
    Json,
};
use futures::{SinkExt, StreamExt};
use std::{
    collections::HashSet,
    net::{IpAddr, SocketAddr},
    sync::{Arc, Mutex},
    time::Duration,
};

/// graphql-transport-ws, the protocol of the `graphql-ws` client.
const WS_PROTOCOL: &str = "graphql-transport-ws";
/// A client must send `connection_init` within this time (close 4408).
const WS_INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest message a WebSocket client may send.
const WS_MAX_MESSAGE: usize = 256 * 1024;

fn request_id(headers: &HeaderMap) -> RequestId {
    RequestId(
        headers
            .get(REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
    )
}

fn is_json_content_type(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

/// Cookies sent with the request, by name.
fn cookies(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| cookie::Cookie::split_parse(v.to_owned()))
        .filter_map(Result::ok)
        .map(|c| (c.name().to_owned(), c.value().to_owned()))
        .collect()
}

fn cookie_value<'a>(jar: &'a [(String, String)], name: &str) -> Option<&'a str> {
    jar.iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

pub(super) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// One `X-Forwarded-For` entry: an address, possibly with a port.
fn forwarded_ip(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| entry.strip_prefix('[')?.strip_suffix(']')?.parse().ok())
        .map(|ip| ip.to_canonical())
}

/// The client's address. Each proxy appends the address it received the
/// request from to `X-Forwarded-For`, and anything left of what our own
/// proxies wrote is the client's to choose: so, starting from the direct
/// peer, the chain is followed leftwards only while the hop is a trusted
/// proxy. The first untrusted address is the client; an entry that is not
/// an address stops at the hop that forwarded it.
fn client_ip<'a>(
    peer: Option<IpAddr>,
    forwarded_for: impl DoubleEndedIterator<Item = &'a str>,
    trusted_proxies: Option<&[Cidr]>,
) -> Option<IpAddr> {
    let mut client = peer?.to_canonical();
    let Some(trusted) = trusted_proxies else {
        return Some(client);
    };
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    for entry in forwarded_for.rev() {
        if !is_trusted(&client) {
            break;
        }
        match forwarded_ip(entry) {
            Some(ip) => client = ip,
            None => break,
        }
    }
    Some(client)
}

pub(super) fn request_meta(
    state: &AppState,
    headers: &HeaderMap,
    remote: Option<&RemoteAddr>,
) -> RequestMeta {
    let forwarded_for = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect::<Vec<_>>();
    let trusted = state
        .config
        .trust_proxy_headers
        .then_some(state.config.trusted_proxies.as_slice());
    let ip = client_ip(remote.map(|r| r.0.ip()), forwarded_for.into_iter(), trusted);
    RequestMeta {
        ip: ip.map(|ip| ip.to_string()),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(512).collect()),
    }
}

/// A Bearer token (JWT or API token) wins over the access cookie.
fn credential<'a>(headers: &'a HeaderMap, jar: &'a [(String, String)]) -> Option<Credential<'a>> {
    match (bearer(headers), cookie_value(jar, ACCESS_COOKIE)) {
        (Some(t), _) => Some(Credential::Bearer(t)),
        (None, Some(c)) => Some(Credential::Cookie(c)),
        (None, None) => None,
    }
}

/// Who is calling a plain HTTP route (read-only: no CSRF check needed).
pub async fn caller(state: &AppState, headers: &HeaderMap, remote: Option<&RemoteAddr>) -> RequestAuth {
    let jar = cookies(headers);
    let meta = request_meta(state, headers, remote);
    resolve_auth(state, credential(headers, &jar), meta, None).await
}

/// Resolves who is calling.
async fn resolve_auth(
    state: &AppState,
    token: Option<Credential<'_>>,
    meta: RequestMeta,
    refresh_cookie: Option<String>,
) -> RequestAuth {
    let mut auth = RequestAuth {
        meta,
        refresh_cookie,
        secure_cookies: !state.config.development,
        ..Default::default()
    };
    if let Some(credential) = token {
        match state.services.auth.authenticate(credential).await {
            Ok(Ok(principal)) => auth.principal = Some(principal),
            Ok(Err(failure)) => auth.failure = Some(failure),
            Err(DomainError::Unavailable { retry_after, .. }) => auth.unavailable = Some(retry_after),
            Err(e) => {
                tracing::error!(error = %e.report(), "authentication failed internally");
                auth.failure = Some(AuthFailure::Invalid);
            }
        }
    }
    auth
}

fn graphql_refusal(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(serde_json::json!({ "data": null, "errors": [{ "message": message, "extensions": { "code": code } }] })),
    )
        .into_response()
}

/// A document refused before execution, answered like any GraphQL error.
fn refused_document(err: async_graphql::ServerError) -> Response {
    Json(async_graphql::Response::from_errors(vec![err])).into_response()
}

/// Runs a request whose document [`document::prepare`] accepted.
async fn execute(
    state: &AppState,
    mut request: async_graphql::Request,
    headers: &HeaderMap,
    remote: Option<&RemoteAddr>,
) -> Response {
    let jar = cookies(headers);
    let bearer_token = bearer(headers);
    let credential = credential(headers, &jar);
    let non_query = request.parsed_query().is_ok_and(document::has_non_query);
    // CSRF: a cookie-carrying mutation must echo the CSRF cookie in a
    // header, which a cross-site page cannot read.
    let carries_session_cookie =
        cookie_value(&jar, ACCESS_COOKIE).is_some() || cookie_value(&jar, REFRESH_COOKIE).is_some();
    if bearer_token.is_none() && carries_session_cookie && non_query {
        let sent = headers.get("x-csrf-token").and_then(|v| v.to_str().ok());
        let expected = cookie_value(&jar, CSRF_COOKIE);
        let valid = matches!((sent, expected), (Some(s), Some(e)) if constant_time_eq(s, e));
        if !valid {
            return graphql_refusal(
                StatusCode::FORBIDDEN,
                "FORBIDDEN",
                "Missing or invalid X-CSRF-Token header",
            );
        }
    }
    let meta = request_meta(state, headers, remote);
    let auth = resolve_auth(
        state,
        credential,
        meta,
        cookie_value(&jar, REFRESH_COOKIE).map(str::to_owned),
    )
    .await;
    if auth.principal.as_ref().is_some_and(|p| !p.can_write()) && non_query {
        return graphql_refusal(StatusCode::FORBIDDEN, "FORBIDDEN", "This API token is read-only");
    }
    if auth.principal.is_none() {
        // The schema is documentation for integrators, not for strangers.
        request = request.disable_introspection();
    }
    let mut response = state
        .schema
        .execute(request.data(request_id(headers)).data(auth))
        .await;
    let extra_headers = std::mem::take(&mut response.http_headers);
    let mut http = Json(response).into_response();
    for (name, value) in extra_headers.iter() {
        http.headers_mut().append(name.clone(), value.clone());
    }
    http
}

/// In front of `POST /graphql`: JSON bodies only (a CSRF guard: cross-site
/// forms cannot send `application/json` without a CORS preflight) and one
/// operation per request, both refused before anything is decoded. The
/// body is taken in whole, bounded by [`MAX_BODY_BYTES`], so that the
/// extractor behind decodes from memory and never waits on a client.
pub async fn single_json_operation(request: Request, next: Next) -> Response {
    if !is_json_content_type(request.headers()) {
        return json_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "POST /graphql requires Content-Type: application/json",
        );
    }
    let (mut parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => {
            return json_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                format!("Request body exceeds {MAX_BODY_BYTES} bytes"),
            )
        }
    };
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return json_error(
            StatusCode::BAD_REQUEST,
            "BATCH_NOT_SUPPORTED",
            "Batched requests are not supported: send one operation per request",
        );
    }
    parts.extensions.insert(BufferedBody(bytes.len()));
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

/// Size of a body [`single_json_operation`] took in.
#[derive(Clone, Copy)]
struct BufferedBody(usize);

/// What the extractor refuses, answered like every transport error: JSON
/// `{error, code}`, the message bounded (serde quotes the input).
pub struct Refusal(async_graphql::ParseRequestError);

impl From<async_graphql::ParseRequestError> for Refusal {
    fn from(e: async_graphql::ParseRequestError) -> Self {
        Self(e)
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        use async_graphql::ParseRequestError;
        match self.0 {
            ParseRequestError::PayloadTooLarge => json_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                format!("Request body exceeds {MAX_BODY_BYTES} bytes"),
            ),
            ParseRequestError::UnsupportedBatch => json_error(
                StatusCode::BAD_REQUEST,
                "BATCH_NOT_SUPPORTED",
                "Batched requests are not supported: send one operation per request",
            ),
            other => {
                let mut message = format!("Body is not a GraphQL request: {other}");
                document::bound_message(&mut message);
                json_error(StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
            }
        }
    }
}

/// `POST /graphql`, behind [`single_json_operation`]: async-graphql-axum's
/// single-request extractor decodes the body, then the document is sized
/// before it is parsed, and [`execute`] applies CSRF, read-only tokens and
/// introspection rules.
pub async fn post(
    State(state): State<AppState>,
    remote: Option<axum::Extension<RemoteAddr>>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let large = parts
        .extensions
        .get::<BufferedBody>()
        .is_none_or(|b| b.0 > INLINE_BODY_BYTES);
    let request = match decode(body, large).await {
        Ok(r) => r,
        Err(refusal) => return refusal.into_response(),
    };
    let request = match document::prepare(request).await {
        Ok(r) => r,
        Err(err) => return refused_document(err),
    };
    execute(&state, request, &parts.headers, remote.as_deref()).await
}

/// Bodies past this size are decoded on the blocking pool: a 10 MB body of
/// variables takes a runtime worker for about 100 ms otherwise (release
/// build; docs/graphql-transport.md).
const INLINE_BODY_BYTES: usize = 256 * 1024;

/// Runs the extractor over a body already in memory: inline, or for a
/// `large` one on the blocking pool, where waiting on the runtime is free.
async fn decode(body: Body, large: bool) -> Result<async_graphql::Request, Refusal> {
    // What the extractor reads of a request: the layer checked the media
    // type, and the rest of the head is ours.
    let mut request = Request::new(body);
    *request.method_mut() = http::Method::POST;
    request.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    let extract = GraphQLRequest::<Refusal>::from_request(request, &());
    let extracted = if large {
        let runtime = tokio::runtime::Handle::current();
        match tokio::task::spawn_blocking(move || runtime.block_on(extract)).await {
            Ok(extracted) => extracted,
            Err(e) => Err(Refusal(async_graphql::ParseRequestError::Io(
                std::io::Error::other(e),
            ))),
        }
    } else {
        extract.await
    };
    extracted.map(GraphQLRequest::into_inner)
}

pub async fn get(
    State(state): State<AppState>,
    remote: Option<axum::Extension<RemoteAddr>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    if super::graphiql::wanted(state.config.graphiql, &headers, query.as_deref()) {
        return super::graphiql::page(&headers);
    }
    let request = match async_graphql::http::parse_query_string(query.as_deref().unwrap_or_default()) {
        Ok(r) => r,
        Err(e) => {
            let mut message = format!("Invalid GraphQL GET request: {e}");
            document::bound_message(&mut message);
            return json_error(StatusCode::BAD_REQUEST, "BAD_REQUEST", message);
        }
    };
    let mut request = match document::prepare(request).await {
        Ok(r) => r,
        Err(err) => return refused_document(err),
    };
    // GET must never change state.
    if request.parsed_query().is_ok_and(document::has_non_query) {
        let mut response = json_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            "Only queries may be sent with GET; use POST for mutations and WebSocket for subscriptions",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static("POST"));
        return response;
    }
    execute(&state, request, &headers, remote.as_deref()).await
}

/// Whether a browser page at the request's `Origin` may use the session
/// cookie: the server's own origin (the request's host, over http or
/// https), the dashboard's and those of `CORS_ALLOWED_ORIGINS`.
fn origin_allowed(config: &Config, headers: &HeaderMap, uri: &Uri) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let origin = origin.trim().trim_end_matches('/');
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()));
    let own = host.is_some_and(|host| {
        ["http://", "https://"].iter().any(|scheme| {
            origin
                .strip_prefix(scheme)
                .is_some_and(|rest| rest.eq_ignore_ascii_case(host))
        })
    });
    let dashboard = url::Url::parse(&config.dashboard_url)
        .is_ok_and(|url| url.origin().ascii_serialization().eq_ignore_ascii_case(origin));
    let listed = match &config.cors_origins {
        CorsOrigins::List(list) => list.iter().any(|o| o.eq_ignore_ascii_case(origin)),
        CorsOrigins::Any => false,
    };
    own || dashboard || listed
}

pub async fn websocket(
    State(state): State<AppState>,
    remote: Option<axum::Extension<RemoteAddr>>,
    headers: HeaderMap,
    uri: Uri,
    upgrade: WebSocketUpgrade,
) -> Response {
    let offered = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == WS_PROTOCOL);
    if !offered {
        return json_error(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            format!("WebSocket subprotocol {WS_PROTOCOL:?} is required"),
        );
    }
    let id = request_id(&headers);
    let meta = request_meta(&state, &headers, remote.as_deref());
    let cookie_token = cookie_value(&cookies(&headers), ACCESS_COOKIE).map(str::to_owned);
    // Browsers send the cookie with a WebSocket upgrade from any page of
    // the same site, and no CORS preflight or CSRF header guards it: only
    // the Origin tells a foreign page apart. Refused at the upgrade, even
    // if the client meant to authenticate with a Bearer token later.
    if cookie_token.is_some() && !origin_allowed(&state.config, &headers, &uri) {
        return json_error(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "A WebSocket carrying the session cookie must come from an allowed Origin",
        );
    }
    upgrade
        .protocols([WS_PROTOCOL])
        .max_message_size(WS_MAX_MESSAGE)
        .max_frame_size(WS_MAX_MESSAGE)
        // Dashboards send a few small frames and receive small ones; the
        // 128 KiB defaults would cost each idle socket far more than its
        // subscriptions do.
        .read_buffer_size(WS_READ_BUFFER)
        .write_buffer_size(WS_WRITE_BUFFER)
        .max_write_buffer_size(WS_MAX_WRITE_BUFFER)
        .on_upgrade(move |socket| serve_socket(socket, state, id, meta, cookie_token))
        .into_response()
}

/// Token from `connection_init`: `{"authorization": "Bearer …"}` or
/// `{"token": "…"}`.
fn init_token(payload: &serde_json::Value) -> Option<String> {
    let raw = payload
        .get("authorization")
        .or_else(|| payload.get("Authorization"))
        .or_else(|| payload.get("token"))?
        .as_str()?;
    let token = raw
        .strip_prefix("Bearer ")
        .or_else(|| raw.strip_prefix("bearer "))
        .unwrap_or(raw);
    Some(token.trim().to_owned()).filter(|t| !t.is_empty())
}

/// Marker for refused `connection_init`, mapped to close code 4403.
const WS_FORBIDDEN: &str = "Forbidden";
/// Marker for a `connection_init` whose token could not be checked because
/// storage was out of reach, mapped to 1013 (try again later): the client
/// reconnects instead of treating its token as bad.
const WS_UNAVAILABLE: &str = "Unavailable";
/// How often a live socket re-checks its token (expiry, logout).
const WS_RECHECK: Duration = Duration::from_secs(5);
/// A client that has not taken a frame for this long is dropped: its
/// subscriptions skip ahead meanwhile, and nothing piles up for it.
const WS_SEND_TIMEOUT: Duration = Duration::from_secs(30);
const WS_READ_BUFFER: usize = 4 * 1024;
const WS_WRITE_BUFFER: usize = 4 * 1024;
/// Frames wait here while the client reads slowly; beyond it the send
/// fails and the socket is closed.
const WS_MAX_WRITE_BUFFER: usize = 1024 * 1024;

/// Our own loop around async-graphql's protocol, not async-graphql-axum's
/// `GraphQLSubscription`: that service upgrades with tungstenite's default
/// buffers, and an idle subscriber costs the server 140 KiB against 12.8
/// KiB here (docs/graphql-transport.md). It also has no place for what
/// this loop adds: the 5 s token re-check (4403), the `connection_init`
/// deadline (4408), duplicate ids (4409), and dropping a client that stops
/// reading instead of buffering for it.
async fn serve_socket(
    socket: WebSocket,
    state: AppState,
    id: RequestId,
    meta: RequestMeta,
    cookie_token: Option<String>,
) {
    let _open = state.services.live.socket();
    let (mut sink, stream) = socket.split();

    // Operation ids in use, for graphql-transport-ws' 4409: async-graphql
    // would silently replace the running operation.
    let operations = Arc::new(Mutex::new(OperationIds::default()));
    let input = stream
        .take_while(|msg| std::future::ready(msg.is_ok()))
        .filter_map(|msg| {
            std::future::ready(match msg {
                Ok(Message::Text(text)) => Some(Bytes::from(text)),
                Ok(Message::Binary(bin)) => Some(bin),
                _ => None,
            })
        })
        .take_while({
            let operations = operations.clone();
            move |frame| {
                let accepted = lock(&operations).client_frame(frame);
                std::future::ready(accepted)
            }
        });
    let mut data = Data::default();
    data.insert(id);
    // The principal accepted at `connection_init`, re-checked while the
    // socket lives.
    let accepted: Arc<Mutex<Option<Principal>>> = Arc::default();
    let protocol =
        async_graphql::http::WebSocket::new(state.schema.clone(), input, WebSocketProtocols::GraphQLWS)
            .connection_data(data)
            .on_connection_init({
                let state = state.clone();
                let accepted = accepted.clone();
                move |payload| async move {
                    let token = init_token(&payload);
                    let credential = match (&token, &cookie_token) {
                        (Some(t), _) => Some(Credential::Bearer(t)),
                        (None, Some(c)) => Some(Credential::Cookie(c)),
                        (None, None) => None,
                    };
                    if credential.is_none() {
                        return Err(async_graphql::Error::new(format!(
                            "{WS_FORBIDDEN}: connection_init must carry a token"
                        )));
                    }
                    let by_cookie = matches!(credential, Some(Credential::Cookie(_)));
                    let auth = resolve_auth(&state, credential, meta, None).await;
                    if auth.unavailable.is_some() {
                        return Err(async_graphql::Error::new(format!(
                            "{WS_UNAVAILABLE}: storage is out of reach for a moment; reconnect"
                        )));
                    }
                    let Some(principal) = auth.principal.clone().filter(|_| auth.failure.is_none()) else {
                        return Err(async_graphql::Error::new(format!(
                            "{WS_FORBIDDEN}: invalid, expired or revoked token"
                        )));
                    };
                    *accepted.lock().unwrap_or_else(|p| p.into_inner()) = Some(principal);
                    let mut data = Data::default();
                    data.insert(auth);
                    if by_cookie {
                        data.insert(CookieSocket);
                    }
                    Ok(data)
                }
            });
    futures::pin_mut!(protocol);

    let init_deadline = tokio::time::sleep(WS_INIT_TIMEOUT);
    tokio::pin!(init_deadline);
    let mut acked = false;
    let mut recheck = tokio::time::interval(WS_RECHECK);
    recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);

    loop {
        let next = tokio::select! {
            msg = protocol.next() => msg,
            () = &mut init_deadline, if !acked => {
                let _ = sink.send(close(4408, "Connection initialisation timeout")).await;
                break;
            }
            _ = recheck.tick(), if acked => {
                let principal = accepted.lock().unwrap_or_else(|p| p.into_inner()).clone();
                let valid = match &principal {
                    // The database away for a moment is not a reason to
                    // drop every socket; the next tick checks again.
                    Some(p) => state.services.auth.still_valid(p).await.unwrap_or_else(|e| {
                        tracing::warn!(error = %e, "socket token re-check failed; kept until the next");
                        true
                    }),
                    None => false,
                };
                if !valid {
                    let _ = sink.send(close(4403, "Forbidden: token expired or revoked")).await;
                    break;
                }
                continue;
            }
        };
        let Some(msg) = next else {
            let duplicate = lock(&operations).duplicate.take();
            if let Some(id) = duplicate {
                let _ = sink
                    .send(close(4409, &format!("Subscriber for {id} already exists")))
                    .await;
            }
            break;
        };
        let frame = match msg {
            WsMessage::Text(text) => {
                acked = acked || text.contains("\"connection_ack\"");
                lock(&operations).server_frame(&text);
                Message::Text(text.into())
            }
            WsMessage::Close(code, reason) => {
                let code = if code == 1002 && reason.starts_with(WS_FORBIDDEN) {
                    4403
                } else if code == 1002 && reason.starts_with(WS_UNAVAILABLE) {
                    1013
                } else if code == 1011 && !acked {
                    // An operation before the connection was acknowledged.
                    4401
                } else {
                    code
                };
                let _ = sink.send(close(code, &reason)).await;
                break;
            }
        };
        match tokio::time::timeout(WS_SEND_TIMEOUT, sink.send(frame)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => break,
            Err(_) => {
                tracing::info!("dropping a WebSocket client that stopped reading");
                break;
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// The `type` and `id` of a graphql-transport-ws message.
#[derive(serde::Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "type", borrow)]
    kind: std::borrow::Cow<'a, str>,
    #[serde(default, borrow)]
    id: Option<std::borrow::Cow<'a, str>>,
}

/// Ids of the operations a socket is running.
#[derive(Default)]
struct OperationIds {
    running: HashSet<String>,
    /// A `subscribe` reused a running id: the socket closes with 4409.
    duplicate: Option<String>,
}

impl OperationIds {
    /// Records a client frame; false ends the socket's input.
    fn client_frame(&mut self, frame: &[u8]) -> bool {
        let Ok(Envelope { kind, id: Some(id) }) = serde_json::from_slice::<Envelope>(frame) else {
            // Malformed frames are async-graphql's to refuse.
            return true;
        };
        match kind.as_ref() {
            "subscribe" if !self.running.insert(id.clone().into_owned()) => {
                self.duplicate = Some(id.into_owned());
                false
            }
            "complete" => {
                self.running.remove(id.as_ref());
                true
            }
            _ => true,
        }
    }

    /// Records a server frame: `complete` ends an operation. async-graphql
    /// writes the type first, so `next` frames (nearly all of them) are
    /// passed over without decoding.
    fn server_frame(&mut self, text: &str) {
        if !text.starts_with("{\"type\":\"complete\"") {
            return;
        }
        if let Ok(Envelope { id: Some(id), .. }) = serde_json::from_str::<Envelope>(text) {
            self.running.remove(id.as_ref());
        }
    }
}

fn close(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.to_owned().into(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn resolve(peer: &str, xff: &str, trusted: Option<&str>) -> Option<IpAddr> {
        let nets: Option<Vec<Cidr>> =
            trusted.map(|t| t.split(',').map(|n| n.trim().parse().unwrap()).collect());
        client_ip(
            Some(ip(peer)),
            xff.split(',').filter(|e| !e.trim().is_empty()),
            nets.as_deref(),
        )
    }

    #[test]
    fn the_right_most_untrusted_address_is_the_client() {
        let local = Some("127.0.0.0/8, 10.0.0.0/8");
        // The client wrote the left-most entries; our proxy appended the
        // address it saw.
        assert_eq!(
            resolve("127.0.0.1", "6.6.6.6, 203.0.113.9", local),
            Some(ip("203.0.113.9"))
        );
        assert_eq!(
            resolve("127.0.0.1", "6.6.6.6, 203.0.113.9, 10.1.2.3", local),
            Some(ip("203.0.113.9"))
        );
        assert_eq!(resolve("127.0.0.1", "", local), Some(ip("127.0.0.1")));
        // Every hop trusted: the left-most address.
        assert_eq!(
            resolve("127.0.0.1", "10.0.0.5, 10.0.0.6", local),
            Some(ip("10.0.0.5"))
        );
        // Garbage stops at the proxy that forwarded it.
        assert_eq!(
            resolve("127.0.0.1", "203.0.113.9, unknown", local),
            Some(ip("127.0.0.1"))
        );
        assert_eq!(
            resolve("127.0.0.1", "[2001:db8::1]:443, 203.0.113.9:8080", local),
            Some(ip("203.0.113.9"))
        );
        assert_eq!(
            resolve("127.0.0.1", "::ffff:198.51.100.1", local),
            Some(ip("198.51.100.1"))
        );
    }

    #[test]
    fn forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy() {
        assert_eq!(
            resolve("198.51.100.7", "203.0.113.9", Some("127.0.0.1")),
            Some(ip("198.51.100.7"))
        );
        // TRUST_PROXY_HEADERS off.
        assert_eq!(resolve("127.0.0.1", "203.0.113.9", None), Some(ip("127.0.0.1")));
        assert_eq!(client_ip(None, ["203.0.113.9"].into_iter(), Some(&[])), None);
    }

    #[test]
    fn duplicate_operation_ids_are_caught_until_completed() {
        let mut ids = OperationIds::default();
        let subscribe = br#"{"id":"a","type":"subscribe","payload":{"query":"{ __typename }"}}"#;
        assert!(ids.client_frame(subscribe));
        assert!(ids.client_frame(br#"{"type":"ping"}"#));
        assert!(ids.client_frame(b"not json"));
        ids.server_frame(r#"{"type":"next","id":"a","payload":{"data":{}}}"#);
        assert!(!ids.client_frame(subscribe));
        assert_eq!(ids.duplicate.as_deref(), Some("a"));

        let mut ids = OperationIds::default();
        assert!(ids.client_frame(subscribe));
        ids.server_frame(r#"{"type":"complete","id":"a"}"#);
        assert!(ids.client_frame(subscribe));
        assert!(ids.client_frame(br#"{"id":"a","type":"complete"}"#));
        assert!(ids.client_frame(subscribe));
    }
}

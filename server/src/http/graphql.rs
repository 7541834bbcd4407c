//! GraphQL over HTTP and WebSocket, with the transport rules that protect
//! cookie sessions: one operation per request, JSON bodies only (a CSRF
//! guard: cross-site forms cannot send `application/json` without a CORS
//! preflight), and GET limited to queries.

use super::{errors::json_error, MAX_BODY_BYTES, REQUEST_ID_HEADER};
use crate::{
    app::AppState,
    domain::{
        activity::RequestMeta,
        auth::{AuthFailure, Credential, Principal},
        crypto::constant_time_eq,
    },
    graphql::{
        auth::{RequestAuth, ACCESS_COOKIE, CSRF_COOKIE, REFRESH_COOKIE},
        RequestId,
    },
    serve::RemoteAddr,
};
use async_graphql::{
    http::{WebSocketProtocols, WsMessage},
    parser::types::{DocumentOperations, OperationType},
    Data,
};
use axum::{
    body::{Body, Bytes},
    extract::{
        ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade},
        RawQuery, State,
    },
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use futures::{SinkExt, StreamExt};
use std::{
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

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

fn request_meta(state: &AppState, headers: &HeaderMap, remote: Option<&RemoteAddr>) -> RequestMeta {
    let forwarded = state
        .config
        .trust_proxy_headers
        .then(|| {
            headers
                .get("x-forwarded-for")?
                .to_str()
                .ok()?
                .split(',')
                .next()
                .map(|s| s.trim().to_owned())
        })
        .flatten()
        .filter(|ip| ip.parse::<std::net::IpAddr>().is_ok());
    RequestMeta {
        ip: forwarded.or_else(|| remote.map(|r| r.0.ip().to_string())),
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
            Err(e) => {
                tracing::error!(error = %e, "authentication failed internally");
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

async fn execute(
    state: &AppState,
    mut request: async_graphql::Request,
    headers: &HeaderMap,
    remote: Option<&RemoteAddr>,
) -> Response {
    let jar = cookies(headers);
    let bearer_token = bearer(headers);
    let credential = credential(headers, &jar);
    // CSRF: a cookie-carrying mutation must echo the CSRF cookie in a
    // header, which a cross-site page cannot read. The document is parsed
    // here (again) only for cookie sessions and read-only tokens.
    let carries_session_cookie =
        cookie_value(&jar, ACCESS_COOKIE).is_some() || cookie_value(&jar, REFRESH_COOKIE).is_some();
    if bearer_token.is_none() && carries_session_cookie && has_non_query_operation(&request.query) {
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
    if auth.principal.as_ref().is_some_and(|p| !p.can_write()) && has_non_query_operation(&request.query) {
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

pub async fn post(
    State(state): State<AppState>,
    remote: Option<axum::Extension<RemoteAddr>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if !is_json_content_type(&headers) {
        return json_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "POST /graphql requires Content-Type: application/json",
        );
    }
    let bytes: Bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
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
    let request: async_graphql::Request = match serde_json::from_slice(&bytes) {
        Ok(r) => r,
        Err(e) => {
            return json_error(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                format!("Body is not a GraphQL request: {e}"),
            )
        }
    };
    execute(&state, request, &headers, remote.as_deref()).await
}

/// Whether the document holds anything but queries. GET must never change
/// state, and an ambiguous document is refused rather than guessed.
fn has_non_query_operation(query: &str) -> bool {
    let Ok(doc) = async_graphql::parser::parse_query(query) else {
        // Let execution report the syntax error with its code.
        return false;
    };
    match &doc.operations {
        DocumentOperations::Single(op) => op.node.ty != OperationType::Query,
        DocumentOperations::Multiple(ops) => ops.values().any(|op| op.node.ty != OperationType::Query),
    }
}

pub async fn get(
    State(state): State<AppState>,
    remote: Option<axum::Extension<RemoteAddr>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let request = match async_graphql::http::parse_query_string(query.as_deref().unwrap_or_default()) {
        Ok(r) => r,
        Err(e) => {
            return json_error(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                format!("Invalid GraphQL GET request: {e}"),
            )
        }
    };
    if has_non_query_operation(&request.query) {
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

pub async fn websocket(
    State(state): State<AppState>,
    remote: Option<axum::Extension<RemoteAddr>>,
    headers: HeaderMap,
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

async fn serve_socket(
    socket: WebSocket,
    state: AppState,
    id: RequestId,
    meta: RequestMeta,
    cookie_token: Option<String>,
) {
    let _open = state.services.infra.fanout.socket();
    let (mut sink, stream) = socket.split();

    let input = stream
        .take_while(|msg| std::future::ready(msg.is_ok()))
        .filter_map(|msg| {
            std::future::ready(match msg {
                Ok(Message::Text(text)) => Some(Bytes::from(text)),
                Ok(Message::Binary(bin)) => Some(bin),
                _ => None,
            })
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
                    let auth = resolve_auth(&state, credential, meta, None).await;
                    let Some(principal) = auth.principal.clone().filter(|_| auth.failure.is_none()) else {
                        return Err(async_graphql::Error::new(format!(
                            "{WS_FORBIDDEN}: invalid, expired or revoked token"
                        )));
                    };
                    *accepted.lock().unwrap_or_else(|p| p.into_inner()) = Some(principal);
                    let mut data = Data::default();
                    data.insert(auth);
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
        let Some(msg) = next else { break };
        let frame = match msg {
            WsMessage::Text(text) => {
                acked = acked || text.contains("\"connection_ack\"");
                Message::Text(text.into())
            }
            WsMessage::Close(code, reason) => {
                let code = if code == 1002 && reason.starts_with(WS_FORBIDDEN) {
                    4403
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

fn close(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.to_owned().into(),
    }))
}

//! GraphQL over HTTP and WebSocket, with the transport rules that protect
//! cookie sessions: one operation per request, JSON bodies only (a CSRF
//! guard: cross-site forms cannot send `application/json` without a CORS
//! preflight), and GET limited to queries.

use super::{errors::json_error, MAX_BODY_BYTES, REQUEST_ID_HEADER};
use crate::{app::AppState, graphql::RequestId};
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
use std::time::Duration;

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

async fn execute(state: &AppState, request: async_graphql::Request, id: RequestId) -> Response {
    let response = state.schema.execute(request.data(id)).await;
    Json(response).into_response()
}

pub async fn post(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
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
    execute(&state, request, request_id(&headers)).await
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

pub async fn get(State(state): State<AppState>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
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
    execute(&state, request, request_id(&headers)).await
}

pub async fn websocket(
    State(state): State<AppState>,
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
    upgrade
        .protocols([WS_PROTOCOL])
        .max_message_size(WS_MAX_MESSAGE)
        .max_frame_size(WS_MAX_MESSAGE)
        .on_upgrade(move |socket| serve_socket(socket, state, id))
        .into_response()
}

async fn serve_socket(socket: WebSocket, state: AppState, id: RequestId) {
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
    let protocol =
        async_graphql::http::WebSocket::new(state.schema.clone(), input, WebSocketProtocols::GraphQLWS)
            .connection_data(data)
            .on_connection_init(|_payload| async move { Ok(Data::default()) });
    futures::pin_mut!(protocol);

    let init_deadline = tokio::time::sleep(WS_INIT_TIMEOUT);
    tokio::pin!(init_deadline);
    let mut acked = false;

    loop {
        let next = tokio::select! {
            msg = protocol.next() => msg,
            () = &mut init_deadline, if !acked => {
                let _ = sink.send(close(4408, "Connection initialisation timeout")).await;
                break;
            }
        };
        let Some(msg) = next else { break };
        let frame = match msg {
            WsMessage::Text(text) => {
                acked = acked || text.contains("\"connection_ack\"");
                Message::Text(text.into())
            }
            WsMessage::Close(code, reason) => {
                let _ = sink.send(close(code, &reason)).await;
                break;
            }
        };
        if sink.send(frame).await.is_err() {
            break;
        }
    }
}

fn close(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.to_owned().into(),
    }))
}

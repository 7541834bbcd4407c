//! Gives every error an `extensions.code` and keeps internals out of
//! messages: an error that carries a foreign source (a `?` on a database or
//! I/O error) is logged and replaced by a generic message with the request
//! id. Also the first gate of every document, whatever the transport: the
//! size limits of [`super::document`] before async-graphql parses and
//! validates it, and no mutation over a cookie-authenticated WebSocket.

use super::{
    document,
    error::{ErrorCode, INTERNAL_MESSAGE},
};
use async_graphql::{
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextPrepareRequest,
        NextRequest, NextSubscribe, NextValidation,
    },
    futures_util::stream::BoxStream,
    parser::types::{ExecutableDocument, OperationType},
    Request, Response, ServerError, ServerResult, ValidationResult, Value, Variables,
};
use futures::StreamExt;
use std::{any::TypeId, sync::Arc};

/// The `X-Request-ID` of the HTTP request (or WebSocket upgrade) being
/// served, echoed in internal errors so a report can be traced in logs.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// Connection data of a WebSocket authenticated by the session cookie.
/// Such a socket carries no CSRF token, so it only reads: mutations go over
/// HTTP with `X-CSRF-Token`.
#[derive(Clone, Copy, Debug)]
pub struct CookieSocket;

/// Validation errors kept in a response: one document can otherwise yield
/// one per unused variable or unknown field, megabytes of them.
const MAX_VALIDATION_ERRORS: usize = 20;

pub(super) struct ErrorPolicy;

impl ExtensionFactory for ErrorPolicy {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ErrorPolicyExtension)
    }
}

struct ErrorPolicyExtension;

fn has_code(err: &ServerError) -> bool {
    err.extensions
        .as_ref()
        .is_some_and(|ext| ext.get("code").is_some())
}

fn set_code(err: &mut ServerError, code: ErrorCode) {
    err.extensions
        .get_or_insert_with(Default::default)
        .set("code", code.as_str());
}

fn apply_policy(err: &mut ServerError, request_id: Option<&str>) {
    if !has_code(err) {
        if err.source.is_some() {
            tracing::error!(message = %err.message, path = ?err.path, "unhandled resolver error");
            err.message = INTERNAL_MESSAGE.to_owned();
            err.source = None;
            set_code(err, ErrorCode::InternalServerError);
        } else {
            // async-graphql's own argument/variable coercion errors.
            set_code(err, ErrorCode::BadUserInput);
        }
    }
    let internal = err
        .extensions
        .as_ref()
        .and_then(|ext| ext.get("code"))
        .is_some_and(|code| *code == Value::from(ErrorCode::InternalServerError.as_str()));
    if internal {
        if let Some(id) = request_id {
            err.message = format!("{INTERNAL_MESSAGE} (request id: {id})");
            err.extensions
                .get_or_insert_with(Default::default)
                .set("requestId", id);
        }
    }
}

fn police(mut response: Response, request_id: Option<&str>) -> Response {
    for err in &mut response.errors {
        apply_policy(err, request_id);
    }
    response
}

fn bound_messages(mut response: Response) -> Response {
    for err in &mut response.errors {
        document::bound_message(&mut err.message);
    }
    response
}

fn has_mutation(request: &mut Request) -> bool {
    request
        .parsed_query()
        .is_ok_and(|doc| document::has_operation(doc, OperationType::Mutation))
}

#[async_trait::async_trait]
impl Extension for ErrorPolicyExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        // Execution errors are policed at execute already; this catches
        // those raised after validation but before execution ("Operation
        // name required"), which would otherwise carry no code.
        bound_messages(police(next.run(ctx).await, None))
    }

    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        // The HTTP handler checks documents itself (it needs the operation
        // type before running anything); WebSocket operations arrive here
        // unchecked.
        let mut request = if request.data.contains_key(&TypeId::of::<document::Checked>()) {
            request
        } else {
            document::prepare(request).await?
        };
        if ctx.data_opt::<CookieSocket>().is_some() && has_mutation(&mut request) {
            let mut err = ServerError::new(
                "Mutations are not accepted over a WebSocket authenticated by cookie: \
                 send them over HTTP with X-CSRF-Token",
                None,
            );
            set_code(&mut err, ErrorCode::Forbidden);
            return Err(err);
        }
        next.run(ctx, request).await
    }

    // Policed at execute: request data (the request id) is only visible
    // once the request is prepared. Parse and validation errors, which
    // happen earlier, get their codes in their own hooks.
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let request_id = ctx.data_opt::<RequestId>().map(|r| r.0.clone());
        police(next.run(ctx, operation_name).await, request_id.as_deref())
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        let request_id = ctx.data_opt::<RequestId>().map(|r| r.0.clone());
        next.run(ctx, stream)
            .map(move |resp| bound_messages(police(resp, request_id.as_deref())))
            .boxed()
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        next.run(ctx, query, variables).await.map_err(|mut err| {
            set_code(&mut err, ErrorCode::GraphqlParseFailed);
            err
        })
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|mut errs| {
            let omitted = errs.len().saturating_sub(MAX_VALIDATION_ERRORS);
            if omitted > 0 {
                errs.truncate(MAX_VALIDATION_ERRORS);
                errs.push(ServerError::new(
                    format!("{omitted} more validation errors omitted"),
                    None,
                ));
            }
            for err in &mut errs {
                set_code(err, ErrorCode::GraphqlValidationFailed);
            }
            errs
        })
    }
}

//! Gives every error an `extensions.code` and keeps internals out of
//! messages: an error that carries a foreign source (a `?` on a database or
//! I/O error) is logged and replaced by a generic message with the request
//! id.

use super::error::{ErrorCode, INTERNAL_MESSAGE};
use async_graphql::{
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextSubscribe,
        NextValidation,
    },
    futures_util::stream::BoxStream,
    parser::types::ExecutableDocument,
    Response, ServerError, ServerResult, ValidationResult, Value, Variables,
};
use futures::StreamExt;
use std::sync::Arc;

/// The `X-Request-ID` of the HTTP request (or WebSocket upgrade) being
/// served, echoed in internal errors so a report can be traced in logs.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

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

#[async_trait::async_trait]
impl Extension for ErrorPolicyExtension {
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
            .map(move |resp| police(resp, request_id.as_deref()))
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
            for err in &mut errs {
                set_code(err, ErrorCode::GraphqlValidationFailed);
            }
            errs
        })
    }
}

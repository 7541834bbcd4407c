//! Counts GraphQL operations by name and type, and the errors they answer
//! by `extensions.code`, whatever the transport. Registered outside the
//! error policy so the codes it sees are the ones clients get.

use crate::infra::metrics;
use async_graphql::{
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextPrepareRequest, NextRequest,
        NextSubscribe, NextValidation,
    },
    futures_util::stream::BoxStream,
    parser::types::{ExecutableDocument, OperationType},
    Request, Response, ServerResult, ValidationResult, Value, Variables,
};
use futures::StreamExt;
use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex, PoisonError,
    },
    time::Instant,
};

pub(super) struct OperationMetrics;

impl ExtensionFactory for OperationMetrics {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Tracker(Arc::default()))
    }
}

/// One request's (or one WebSocket operation's) state across the hooks.
struct Tracker(Arc<Operation>);

#[derive(Default)]
struct Operation {
    /// The `operationName` the client sent.
    requested: Mutex<Option<String>>,
    /// The operation the document selects, once parsed.
    selected: Mutex<Option<(Option<String>, &'static str)>>,
    counted: AtomicBool,
}

const UNKNOWN: &str = "unknown";

fn kind_label(ty: OperationType) -> &'static str {
    match ty {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    }
}

/// The operation `requested` names in `doc`, or its only one.
fn select(doc: &ExecutableDocument, requested: Option<&str>) -> (Option<String>, &'static str) {
    let mut operations = doc.operations.iter();
    let found = match requested {
        Some(wanted) => operations.find(|(name, _)| name.is_some_and(|n| n.as_str() == wanted)),
        None => match (operations.next(), operations.next()) {
            (Some(only), None) => Some(only),
            _ => None,
        },
    };
    match found {
        Some((name, op)) => (name.map(|n| n.to_string()), kind_label(op.node.ty)),
        None => (None, UNKNOWN),
    }
}

impl Operation {
    fn label(&self) -> (Option<String>, &'static str) {
        self.selected
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .unwrap_or((None, UNKNOWN))
    }

    /// Counts the operation once, however many hooks see it.
    fn count(&self) {
        if !self.counted.swap(true, Ordering::Relaxed) {
            let (name, kind) = self.label();
            metrics::graphql_operation(name.as_deref(), kind);
        }
    }

    fn count_errors(&self, response: &Response) {
        if response.errors.is_empty() {
            return;
        }
        let (name, _) = self.label();
        for err in &response.errors {
            let code = match err.extensions.as_ref().and_then(|ext| ext.get("code")) {
                Some(Value::String(code)) => code.as_str(),
                Some(Value::Enum(code)) => code.as_str(),
                _ => "NONE",
            };
            metrics::graphql_error(name.as_deref(), code);
        }
    }
}

#[async_trait::async_trait]
impl Extension for Tracker {
    /// Queries and mutations over HTTP: the whole answer, timed.
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let started = Instant::now();
        let response = next.run(ctx).await;
        self.0.count();
        let (name, kind) = self.0.label();
        metrics::graphql_duration(name.as_deref(), kind, started.elapsed());
        self.0.count_errors(&response);
        response
    }

    /// Operations over the WebSocket: counted at their first answer (a
    /// subscription at validation already, as it may wait long for one).
    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        let operation = self.0.clone();
        next.run(ctx, stream)
            .map(move |response| {
                operation.count();
                operation.count_errors(&response);
                response
            })
            .boxed()
    }

    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        *self.0.requested.lock().unwrap_or_else(PoisonError::into_inner) = request.operation_name.clone();
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let parsed = next.run(ctx, query, variables).await;
        if let Ok(doc) = &parsed {
            let requested = self
                .0
                .requested
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            *self.0.selected.lock().unwrap_or_else(PoisonError::into_inner) =
                Some(select(doc, requested.as_deref()));
        }
        parsed
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<async_graphql::ServerError>> {
        let result = next.run(ctx).await;
        if result.is_ok() && self.0.label().1 == kind_label(OperationType::Subscription) {
            self.0.count();
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(query: &str, requested: Option<&str>) -> (Option<String>, &'static str) {
        select(&async_graphql::parser::parse_query(query).unwrap(), requested)
    }

    #[test]
    fn the_selected_operation_names_the_series() {
        assert_eq!(pick("{ a }", None), (None, "query"));
        assert_eq!(pick("query Probe { a }", None), (Some("Probe".into()), "query"));
        let two = "query A { a } mutation B { b }";
        assert_eq!(pick(two, Some("B")), (Some("B".into()), "mutation"));
        assert_eq!(pick(two, None), (None, UNKNOWN));
        assert_eq!(pick(two, Some("C")), (None, UNKNOWN));
        assert_eq!(
            pick("subscription S { t }", Some("S")),
            (Some("S".into()), "subscription")
        );
    }
}

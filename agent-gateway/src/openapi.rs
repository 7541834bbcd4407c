//! The agent contract as an OpenAPI 3.1 document, generated from the wire
//! types and the routes' `utoipa::path` descriptions. It is committed as
//! `agent-gateway/openapi.json` (a test fails when the two differ; run it
//! with `UPDATE_AGENT_OPENAPI=1` to rewrite the file) and served at
//! [`DOCUMENT_PATH`] on both ports.

use crate::{routes, wire::ErrorBody};
use std::sync::LazyLock;
use utoipa::{
    openapi::{
        header::HeaderBuilder, security::SecurityScheme, ContentBuilder, HttpMethod, ObjectBuilder, PathItem,
        Ref, RefOr, Response, ResponseBuilder, Type,
    },
    Modify, OpenApi,
};

/// Where both ports serve the document.
pub const DOCUMENT_PATH: &str = "/api/public/agent-openapi.json";

/// Name of the mutual-TLS security scheme the agent routes require.
const AGENT_CERTIFICATE: &str = "agent_certificate";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Optralis agent API",
        // The contract's own version: bump it when the contract changes,
        // not with each server release.
        version = "1.0.0",
        description = "What Optralis agents send to the agent gateway (`AGENT_PORT`, TLS) and what \
            they get back. Routes tagged `agent` need the machine's client certificate (CN \
            `client_id:machine_id`) issued at enrolment; a revoked, superseded, expired or foreign \
            certificate is refused from the next request on. Every error answers \
            `{\"error\", \"code\"}`. The public routes are served on the main port too.",
    ),
    paths(
        routes::bootstrap,
        routes::heartbeat,
        routes::collect,
        routes::renew,
        routes::config,
        routes::collectors,
        routes::agent_latest_version,
        routes::requirements,
        routes::public_latest_version,
        routes::crl,
        routes::agent_openapi,
    ),
    components(schemas(ErrorBody)),
    modifiers(&CommonAnswers),
    tags(
        (name = "agent", description = "Over mutual TLS, with the machine's certificate"),
        (name = "public", description = "Without a client certificate"),
    )
)]
struct AgentApi;

/// The document, as built from the code.
pub fn document() -> utoipa::openapi::OpenApi {
    AgentApi::openapi()
}

/// The document as served and committed: pretty JSON, ending in a newline.
pub fn document_json() -> &'static str {
    static JSON: LazyLock<String> = LazyLock::new(|| {
        let mut json = document()
            .to_pretty_json()
            .expect("the OpenAPI document serialises");
        json.push('\n');
        json
    });
    &JSON
}

/// Answers every route may give whatever it does, added here once instead
/// of on each route: the gateway's limits and failures, and for the
/// certificate-holding routes the refusals of the certificate check.
struct CommonAnswers;

impl Modify for CommonAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        openapi
            .components
            .get_or_insert_with(Default::default)
            .security_schemes
            .insert(
                AGENT_CERTIFICATE.to_owned(),
                SecurityScheme::MutualTls {
                    description: Some(
                        "The client certificate and key from `POST /api/public/bootstrap` or \
                         `POST /agent/certificate/renew`."
                            .to_owned(),
                    ),
                    extensions: None,
                },
            );
        for item in openapi.paths.paths.values_mut() {
            for method in [HttpMethod::Get, HttpMethod::Post] {
                let Some(operation) = operation_mut(item, method) else {
                    continue;
                };
                let with_body = operation.request_body.is_some();
                let with_certificate = operation.security.is_some();
                let responses = &mut operation.responses.responses;
                let mut add = |status: &str, response: Response| {
                    responses.entry(status.to_owned()).or_insert(RefOr::T(response));
                };
                if with_certificate {
                    add(
                        "401",
                        error("No client certificate, an expired one, or a common name that is not client_id:machine_id"),
                    );
                    add(
                        "403",
                        error("The certificate is revoked, superseded, unknown or issued to another machine"),
                    );
                    add(
                        "429",
                        error("This machine spent its request budget for the minute"),
                    );
                }
                add(
                    "408",
                    error("The request took longer than the server's time limit"),
                );
                if with_body {
                    add("413", error("The body is over 10 MiB (after decompression)"));
                    add(
                        "415",
                        error("A `Content-Encoding` other than gzip, or a body that is not JSON"),
                    );
                }
                add("500", error("Internal error (details are logged, never sent)"));
                add("503", retry_later());
            }
        }
    }
}

fn operation_mut(item: &mut PathItem, method: HttpMethod) -> Option<&mut utoipa::openapi::path::Operation> {
    match method {
        HttpMethod::Get => item.get.as_mut(),
        HttpMethod::Post => item.post.as_mut(),
        _ => None,
    }
}

fn error(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
}

fn retry_later() -> Response {
    let mut response =
        error("Storage is unavailable for a moment; nothing was kept, retry after `Retry-After` seconds");
    response.headers.insert(
        "Retry-After".to_owned(),
        HeaderBuilder::new()
            .schema(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1)))
            .description(Some("Seconds to wait before retrying"))
            .build(),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `agent-gateway/openapi.json` is the document the code generates.
    /// `UPDATE_AGENT_OPENAPI=1 cargo test -p agent-gateway openapi` rewrites
    /// it after an intended change.
    #[test]
    fn committed_openapi_document_matches_the_code() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
        if std::env::var_os("UPDATE_AGENT_OPENAPI").is_some() {
            std::fs::write(path, document_json()).unwrap();
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == document_json(),
            "agent-gateway/openapi.json is stale: run \
             `UPDATE_AGENT_OPENAPI=1 cargo test -p agent-gateway openapi` and commit the file"
        );
    }

    #[test]
    fn every_route_is_described() {
        let doc: serde_json::Value = serde_json::from_str(document_json()).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
        for (path, method) in [
            ("/api/public/bootstrap", "post"),
            ("/agent/heartbeat", "post"),
            ("/agent/collect", "post"),
            ("/agent/certificate/renew", "post"),
            ("/agent/config", "get"),
            ("/agent/config/collectors", "get"),
            ("/agent/latest-version", "get"),
            ("/agent/requirements", "get"),
            ("/api/public/latest-version", "get"),
            ("/api/public/crl", "get"),
            (DOCUMENT_PATH, "get"),
        ] {
            let operation = &doc["paths"][path][method];
            assert!(operation["responses"]["200"].is_object(), "{method} {path}");
            assert!(operation["responses"]["503"].is_object(), "{method} {path}");
        }
        assert_eq!(
            doc["components"]["securitySchemes"][AGENT_CERTIFICATE]["type"],
            "mutualTLS"
        );
    }
}

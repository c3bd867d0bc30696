//! The errors a group of routes answers through its shared machinery (authentication,
//! rate limits, the body and query extractors, id lookups), written into the OpenAPI
//! document of every operation they apply to, so that each handler documents only its own.

use crate::error::ErrorFormat;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa_axum::router::OpenApiRouter;

/// What a group of routes shares.
#[derive(Clone, Copy)]
pub struct Shared {
    /// The shape of its error bodies.
    pub format: ErrorFormat,
    /// Its credentials are rate limited (429 with `Retry-After`).
    pub rate_limited: bool,
}

/// Adds to every operation of `router` the shared errors it does not document itself:
/// 401 (and 429 when rate limited) where it declares a security requirement; 400, 413
/// and 415 where it takes a JSON body; 400 where it takes a query parameter that is not a
/// string; 404 where its path names something.
pub fn shared_errors<S>(mut router: OpenApiRouter<S>, shared: Shared) -> OpenApiRouter<S>
where
    S: Send + Sync + Clone + 'static,
{
    for item in router.get_openapi_mut().paths.paths.values_mut() {
        for op in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            add_errors(op, shared);
        }
    }
    router
}

fn add_errors(op: &mut Operation, shared: Shared) {
    let params = op.parameters.as_deref().unwrap_or_default();
    // A query string fails to parse only where a parameter is not a string.
    let parsed_query = params.iter().any(|p| {
        matches!(p.parameter_in, ParameterIn::Query)
            && !serde_json::to_value(&p.schema).is_ok_and(|s| {
                let t = &s["type"];
                t == "string"
                    || t.as_array()
                        .is_some_and(|a| a.iter().all(|t| t == "string" || t == "null"))
            })
    });
    let takes_path = params
        .iter()
        .any(|p| matches!(p.parameter_in, ParameterIn::Path));
    let takes_json = op
        .request_body
        .as_ref()
        .is_some_and(|b| b.content.keys().any(|k| k.ends_with("json")));
    let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
    let mut add = |status: &str, description: &str| {
        op.responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| error_response(shared.format, status, description));
    };
    if secured {
        add("401", "Missing, unknown, revoked or expired credential");
        if shared.rate_limited {
            add("429", "Rate limited: retry after `Retry-After` seconds");
        }
    }
    if takes_json {
        add("400", "Malformed JSON or an invalid body");
        add("413", "Request body too large");
        add("415", "Content-Type is not application/json");
    }
    if parsed_query {
        add("400", "Invalid query string");
    }
    if takes_path {
        add("404", "Not found");
    }
}

fn error_response(format: ErrorFormat, status: &str, description: &str) -> RefOr<Response> {
    let schema = match format {
        ErrorFormat::Standard => "ErrorBody",
        ErrorFormat::Prove => "ProveErrorBody",
        ErrorFormat::OAuth => "OAuthError",
    };
    let mut response = ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name(schema)))
            .build(),
    );
    if status == "429" {
        response = response.header(
            "retry-after",
            utoipa::openapi::header::HeaderBuilder::new()
                .schema(ObjectBuilder::new().schema_type(Type::Integer))
                .description(Some("Seconds until the next request is accepted"))
                .build(),
        );
    }
    RefOr::T(response.build())
}

//! The router: every route is registered through `utoipa-axum`, so the OpenAPI document
//! served at `/openapi.json` is generated from the same registrations and cannot miss one.

pub mod admin_auth;
pub mod api;
pub mod console;
pub mod digital_id;
mod doc;
pub mod hosted;
pub mod identity;
pub mod kyc;
pub mod mcp_sse;
pub mod meta;
pub mod oauth;
pub mod ory;
pub mod ory_prove;
pub mod page;
pub mod phone;
pub mod phone_sdk;
pub mod presence;
pub mod prove_client;

use crate::error::ErrorFormat;
use crate::{auth, middleware, AppState};
use axum::extract::DefaultBodyLimit;
use axum::http::HeaderName;
use axum::{Extension, Router};
use doc::{shared_errors, Shared};
use std::sync::Arc;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, ClientCredentials, Flow, HttpAuthScheme, HttpBuilder, OAuth2, Scopes,
    SecurityScheme,
};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(OpenApi)]
#[openapi(
    info(title = "vouch", description = "Self-hosted identity verification: KYC sessions, biometric identity, phone identity."),
    modifiers(&Security),
    components(schemas(crate::error::ErrorBody, crate::error::ProveErrorBody)),
    tags((name = "meta", description = "Health, readiness, metrics, this document"),
         (name = "auth", description = "Credentials"),
         (name = "kyc", description = "KYC verification sessions"),
         (name = "identity", description = "Biometric identity: enrol, 1:N verify, verification profiles"),
         (name = "presence", description = "Human Presence Tokens"),
         (name = "admin", description = "Console administrators: login, passkeys, face 2FA"),
         (name = "ory", description = "Ory Kratos web hooks: lookup, enroll, validate"),
         (name = "phone", description = "Phone identity (v3): possession, signals, prefill, identity manager"),
         (name = "webhooks", description = "Webhook deliveries"),
         (name = "audit", description = "Audit log"))
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = |what: &str| {
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(what))
                    .build(),
            )
        };
        // Each dialect has its own credential; one scheme each, so a client (or a fuzzer)
        // knows which to send where.
        components.add_security_scheme(
            "bearer",
            bearer("An API key (`vk_live_…`) as a Bearer token"),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "x-api-key",
                "An API key (`vk_live_…`)",
            ))),
        );
        components.add_security_scheme(
            "service_token",
            bearer("A service token (`vst_…`, scope presence)"),
        );
        components.add_security_scheme(
            "oauth",
            SecurityScheme::OAuth2(OAuth2::with_description(
                [Flow::ClientCredentials(ClientCredentials::new(
                    "/token",
                    Scopes::new(),
                ))],
                "An access token (`vat_…`) of an OAuth client, from `POST /token`",
            )),
        );
        components.add_security_scheme(
            "flow_token",
            bearer("A phone flow's `authToken` (the browser SDK's calls)"),
        );
        components.add_security_scheme(
            "admin_session",
            bearer("A console session token (or its cookie, with the CSRF header on changes)"),
        );
        components.add_security_scheme(
            "webhook_secret",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "x-webhook-secret",
                "The organisation's Kratos hook secret (also accepted as a Bearer token)",
            ))),
        );
    }
}

/// The routes and their OpenAPI document, before the cross-cutting layers.
pub fn routes(state: AppState) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let public = OpenApiRouter::new()
        .routes(routes!(meta::healthz))
        .routes(routes!(meta::readyz))
        .routes(routes!(meta::metrics))
        .routes(routes!(meta::openapi_json))
        .routes(routes!(oauth::token))
        .routes(routes!(page::hosted_page))
        .routes(routes!(page::script))
        .routes(routes!(page::style))
        .routes(routes!(page::review_page))
        .routes(routes!(page::review_script))
        .routes(routes!(page::presence_page))
        .routes(routes!(presence::scan))
        .routes(routes!(presence::complete))
        .routes(routes!(presence::jwks))
        .routes(routes!(hosted::selfie))
        .routes(routes!(hosted::document))
        .routes(routes!(hosted::complete))
        .routes(routes!(digital_id::start))
        .routes(routes!(digital_id::status))
        .routes(routes!(digital_id::dc_api))
        .routes(routes!(digital_id::request_uri))
        .routes(routes!(digital_id::response));
    // The client SDK's calls and the dev routes: small bodies.
    let phone_public = OpenApiRouter::new()
        .routes(routes!(phone_sdk::session))
        .routes(routes!(phone_sdk::otp_start))
        .routes(routes!(phone_sdk::otp_finish))
        .routes(routes!(phone_sdk::link_start))
        .routes(routes!(phone_sdk::cancel))
        .routes(routes!(phone_sdk::mobile_auth))
        .routes(routes!(phone_sdk::mobile_auth_callback))
        .routes(routes!(phone_sdk::events))
        .routes(routes!(phone_sdk::open_link))
        .routes(routes!(phone_sdk::sdk_script))
        .routes(routes!(phone_sdk::network_change_event))
        .routes(routes!(phone_sdk::dev_sms))
        .routes(routes!(phone_sdk::dev_phone_event))
        .routes(routes!(phone_sdk::dev_numbers))
        .routes(routes!(phone_sdk::dev_demo))
        .layer(DefaultBodyLimit::max(16 * 1024));
    // The vendor's browser SDK (`@prove-identity/prove-auth`): its device API, called
    // cross-origin with the flow's authToken.
    let vendor_client = OpenApiRouter::new()
        .routes(routes!(prove_client::otp_start))
        .routes(routes!(prove_client::otp_finish))
        .routes(routes!(prove_client::link_start))
        .routes(routes!(prove_client::instant_start))
        .routes(routes!(prove_client::step_error))
        .routes(routes!(prove_client::status))
        .layer(DefaultBodyLimit::max(4 * 1024));
    // Ory Kratos hooks: vouch's templates at /hooks/ory, the community integration's at
    // the spec's /prove (which also answers vouch's bodies); authenticated by their secret.
    let ory_hooks = OpenApiRouter::new()
        .routes(routes!(ory::lookup))
        .routes(routes!(ory::enroll_hook))
        .routes(routes!(ory::validate_hook))
        .routes(routes!(ory_prove::lookup))
        .routes(routes!(ory_prove::enroll_hook))
        .routes(routes!(ory_prove::validate_hook))
        .layer(DefaultBodyLimit::max(64 * 1024));
    // The phone API: 4 KB bodies (batch enrolment: 64 KB), errors in its own format.
    let phone_flows = OpenApiRouter::new()
        .routes(routes!(phone::start))
        .routes(routes!(phone::validate))
        .routes(routes!(phone::challenge))
        .routes(routes!(phone::complete))
        .routes(routes!(phone::verify))
        .routes(routes!(phone::verify_status))
        .routes(routes!(phone::unify))
        .routes(routes!(phone::unify_status))
        .routes(routes!(phone::unify_bind))
        .routes(routes!(phone::enroll_identity, phone::list_identities))
        .routes(routes!(phone::get_identity, phone::delete_identity))
        .routes(routes!(phone::lookup_identity))
        .routes(routes!(phone::activate_identity))
        .routes(routes!(phone::deactivate_identity))
        .layer(DefaultBodyLimit::max(phone::MAX_FLOW_BODY));
    let phone_batch = OpenApiRouter::new()
        .routes(routes!(phone::enroll_batch))
        .layer(DefaultBodyLimit::max(64 * 1024));
    let phone_api =
        phone_flows
            .merge(phone_batch)
            .route_layer(axum::middleware::from_fn_with_state(
                state.clone(),
                auth::require_phone_credential,
            ));
    let authenticated = OpenApiRouter::new()
        .routes(routes!(api::whoami))
        .routes(routes!(api::send_test_webhook))
        .routes(routes!(
            api::get_webhook_endpoint,
            api::set_webhook_endpoint
        ))
        .routes(routes!(api::list_deliveries))
        .routes(routes!(api::get_delivery))
        .routes(routes!(api::retry_delivery))
        .routes(routes!(api::list_audit))
        .routes(routes!(kyc::create_session, kyc::list_sessions))
        .routes(routes!(kyc::get_session))
        .routes(routes!(kyc::list_images))
        .routes(routes!(kyc::get_image))
        .routes(routes!(kyc::cancel_session))
        .routes(routes!(kyc::review_session))
        .routes(routes!(presence::create))
        .routes(routes!(presence::get))
        .routes(routes!(presence::token))
        .routes(routes!(presence::verify_token))
        .routes(routes!(
            identity::create_alert_rule,
            identity::list_alert_rules
        ))
        .routes(routes!(identity::delete_alert_rule))
        .routes(routes!(identity::enroll))
        .routes(routes!(identity::verify))
        .routes(routes!(identity::create_profile, identity::list_profiles))
        .routes(routes!(
            identity::get_profile,
            identity::update_profile,
            identity::delete_profile
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            state,
            auth::require_credential,
        ));
    let standard = Shared {
        format: ErrorFormat::Standard,
        rate_limited: false,
    };
    let credentialled = Shared {
        rate_limited: true,
        ..standard
    };
    let prove = Shared {
        format: ErrorFormat::Prove,
        ..credentialled
    };
    // The Ory hooks answer Kratos's interrupt payloads; their handlers document them.
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(shared_errors(public, standard))
        .merge(shared_errors(
            admin_auth::router().layer(DefaultBodyLimit::max(8 * 1024 * 1024)),
            standard,
        ))
        .merge(console::router())
        .merge(shared_errors(phone_public, standard))
        .merge(vendor_client)
        .merge(ory_hooks)
        .merge(shared_errors(phone_api, prove))
        .merge(shared_errors(authenticated, credentialled))
        .split_for_parts()
}

/// The whole application with its layers.
pub fn app(state: AppState) -> Router {
    app_with(state, Router::new())
}

/// The application with extra routes under the same layers (tests add routes that
/// panic or sleep, to prove the layers hold).
pub fn app_with(state: AppState, extra: Router<AppState>) -> Router {
    let (router, doc) = routes(state.clone());
    // MCP over streamable HTTP; each caller's own service token authenticates its calls.
    let mcp = vouch_mcp::http_service(state.config.base_url());
    // The older HTTP+SSE transport of the same server (sessions live on this node).
    let sse: Router<AppState> = Router::new()
        .route("/sse", axum::routing::get(mcp_sse::open))
        .route("/messages", axum::routing::post(mcp_sse::post));
    let router = router
        .merge(extra)
        .merge(meta::api_reference())
        .nest_service("/mcp", mcp)
        .merge(sse);
    let doc_json = Arc::new(doc.to_pretty_json().unwrap_or_else(|_| "{}".into()));
    let request_id = HeaderName::from_static("x-request-id");
    router
        .fallback(middleware::not_found)
        .method_not_allowed_fallback(middleware::method_not_allowed)
        .layer(axum::middleware::from_fn(prove_client::cors))
        .layer(DefaultBodyLimit::max(state.config.body_limit))
        .layer(Extension(meta::OpenApiJson(doc_json)))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
                        let id = req
                            .headers()
                            .get("x-request-id")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("");
                        tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
                    })
                    // 5xx answers are logged once by whoever made them (an internal error
                    // with its detail; a 503 outage at most once a second, `error.rs`), not
                    // again per response: a database outage would log thousands of lines a
                    // second.
                    .on_failure(
                        |class: tower_http::classify::ServerErrorsFailureClass,
                         latency: std::time::Duration,
                         _: &tracing::Span| {
                            use tower_http::classify::ServerErrorsFailureClass as C;
                            if let C::Error(e) = class {
                                tracing::error!(error = %e, latency_ms = latency.as_millis() as u64, "response failed");
                            }
                        },
                    ),
                )
                .layer(PropagateRequestIdLayer::new(request_id))
                .layer(CatchPanicLayer::custom(middleware::panic_response))
                .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::observe))
                .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::body_guard)),
        )
        .with_state(state)
}

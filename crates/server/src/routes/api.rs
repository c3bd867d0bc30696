//! Credential-scoped API routes of the foundation: who am I, webhook deliveries, audit.

use crate::auth::Caller;
use crate::error::{ApiError, ApiQuery, ApiResult};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use vouch_app::webhooks::NoWebhook;
use vouch_core::check::Check;
use vouch_core::ids::DeliveryId;
use vouch_store::tenancy::Principal;

/// The calling credential.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WhoAmI {
    /// Organisation id.
    pub org_id: String,
    /// Credential id (API key, service token or OAuth client).
    pub key_id: String,
    /// `api_key`, `service_token` or `oauth_client`.
    pub kind: &'static str,
    /// Credential name.
    pub name: String,
    /// Enabled checks (API keys).
    pub checks: Vec<Check>,
    /// Requests a minute.
    pub rate_limit: u32,
}

/// Describes the calling credential.
#[utoipa::path(get, path = "/api/v1/whoami", tag = "auth",
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, body = WhoAmI), (status = 401, body = crate::error::ErrorBody)))]
pub async fn whoami(State(state): State<AppState>, caller: Caller) -> Json<WhoAmI> {
    let limit = state.config.client_rate_limit;
    Json(match caller.principal {
        Principal::ApiKey(k) => WhoAmI {
            org_id: k.org_id.to_string(),
            key_id: k.id.to_string(),
            kind: "api_key",
            name: k.name,
            checks: k.settings.checks,
            rate_limit: k.settings.rate_limit,
        },
        Principal::ServiceToken(t) => WhoAmI {
            org_id: t.org_id.to_string(),
            key_id: t.id.to_string(),
            kind: "service_token",
            name: t.name,
            checks: Vec::new(),
            rate_limit: limit,
        },
        Principal::OAuth { client, .. } => WhoAmI {
            org_id: client.org_id.to_string(),
            key_id: client.id.to_string(),
            kind: "oauth_client",
            name: client.name,
            checks: Vec::new(),
            rate_limit: limit,
        },
    })
}

/// Sends a `webhook.test` event to the key's webhook URL through the outbox.
#[utoipa::path(post, path = "/api/v1/webhooks/test", tag = "webhooks",
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 202, description = "Queued"), (status = 409, body = crate::error::ErrorBody)))]
pub async fn send_test_webhook(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let key = caller.api_key()?;
    let sent = state
        .app
        .webhooks
        .send_test(key, caller.audit("webhook.test_sent"))
        .await?;
    match sent {
        Ok(event_id) => Ok((StatusCode::ACCEPTED, Json(json!({"eventId": event_id})))),
        Err(NoWebhook::Missing) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "no_webhook",
            "This API key has no webhook URL",
        )),
        Err(NoWebhook::Disabled) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "webhook_disabled",
            "This key's webhook endpoint was disabled after it answered 410 Gone; update the webhook URL to enable it",
        )),
    }
}

/// Paging of a listing.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Limit {
    /// How many, 1 to 1000 (default 50).
    pub limit: Option<i64>,
}

/// A listing's length when the request names none.
const DEFAULT_LIMIT: i64 = 50;

fn limit(q: &Limit) -> i64 {
    q.limit.unwrap_or(DEFAULT_LIMIT)
}

/// The organisation's newest webhook deliveries.
#[utoipa::path(get, path = "/api/v1/webhooks/deliveries", tag = "webhooks", params(Limit),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "Deliveries")))]
pub async fn list_deliveries(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<Limit>,
) -> ApiResult<Json<Value>> {
    let items = state
        .app
        .webhooks
        .deliveries(caller.principal.org_id(), limit(&q))
        .await?;
    Ok(Json(json!({"data": items})))
}

/// One delivery with its attempts.
#[utoipa::path(get, path = "/api/v1/webhooks/deliveries/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "Delivery id")),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "Delivery"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get_delivery(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = DeliveryId::from_string(id);
    let (delivery, attempts) = state
        .app
        .webhooks
        .delivery(caller.principal.org_id(), &id)
        .await?;
    Ok(Json(json!({"delivery": delivery, "attempts": attempts})))
}

/// Queues a dead or disabled delivery again.
#[utoipa::path(post, path = "/api/v1/webhooks/deliveries/{id}/retry", tag = "webhooks",
    params(("id" = String, Path, description = "Delivery id")),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 202, description = "Queued"), (status = 404, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody)))]
pub async fn retry_delivery(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let id = DeliveryId::from_string(id);
    state
        .app
        .webhooks
        .retry(
            caller.principal.org_id(),
            &id,
            caller.audit("webhook.retried"),
        )
        .await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"deliveryId": id}))))
}

/// The organisation's newest audit log entries.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(Limit),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "Audit entries")))]
pub async fn list_audit(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<Limit>,
) -> ApiResult<Json<Value>> {
    let items = state
        .app
        .webhooks
        .audit_log(caller.principal.org_id(), limit(&q))
        .await?;
    Ok(Json(json!({"data": items})))
}

/// The key's webhook endpoint.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookEndpoint {
    /// Where events are posted; null to stop webhooks.
    pub url: Option<String>,
    /// When the endpoint was disabled after a 410 Gone (read only).
    #[serde(default, skip_deserializing)]
    pub disabled_at: Option<String>,
}

/// The calling key's webhook endpoint.
#[utoipa::path(get, path = "/api/v1/webhooks/endpoint", tag = "webhooks",
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, body = WebhookEndpoint)))]
pub async fn get_webhook_endpoint(caller: Caller) -> ApiResult<Json<WebhookEndpoint>> {
    let key = caller.api_key()?;
    Ok(Json(WebhookEndpoint {
        url: key.settings.webhook_url.clone(),
        disabled_at: key.webhook_disabled_at.map(vouch_core::rfc3339),
    }))
}

/// Sets the calling key's webhook endpoint (and enables it again if it was disabled).
#[utoipa::path(put, path = "/api/v1/webhooks/endpoint", tag = "webhooks",
    request_body = WebhookEndpoint,
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, body = WebhookEndpoint), (status = 400, body = crate::error::ErrorBody),
              (status = 413, body = crate::error::ErrorBody), (status = 415, body = crate::error::ErrorBody)))]
pub async fn set_webhook_endpoint(
    State(state): State<AppState>,
    caller: Caller,
    crate::error::ApiJson(body): crate::error::ApiJson<WebhookEndpoint>,
) -> ApiResult<Json<WebhookEndpoint>> {
    let key = caller.api_key()?;
    let updated = state
        .app
        .keys
        .set_webhook(key, body.url, caller.audit("api_key.webhook_updated"))
        .await?;
    Ok(Json(WebhookEndpoint {
        url: updated.settings.webhook_url,
        disabled_at: None,
    }))
}

//! Operations: liveness, readiness, metrics and the OpenAPI document.

use crate::error::{ApiError, ApiResult};
use crate::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use serde_json::{json, Value};
use std::sync::Arc;

/// The generated OpenAPI document, serialised once at start.
#[derive(Clone)]
pub struct OpenApiJson(pub Arc<String>);

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "meta", responses((status = 200, description = "Up")))]
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// The process can serve: the database answers.
#[utoipa::path(get, path = "/readyz", tag = "meta", responses(
    (status = 200, description = "Ready"),
    (status = 503, description = "Not ready", body = crate::error::ErrorBody)))]
pub async fn readyz(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    state.app.health.database().await.map_err(ApiError::from)?;
    // Without models the node still serves every API but analysis (which answers 503
    // models_missing): ready for traffic, and it says which capability is down.
    let models = if state.engines.is_some() {
        "ok"
    } else {
        "missing"
    };
    let status = if state.engines.is_some() {
        "ready"
    } else {
        "degraded"
    };
    Ok(Json(
        json!({"status": status, "checks": {"database": "ok", "models": models}}),
    ))
}

/// Prometheus metrics (OpenMetrics text).
#[utoipa::path(get, path = "/metrics", tag = "meta", responses((status = 200, description = "Metrics", content_type = "application/openmetrics-text")))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    if let Ok(depth) = state.app.health.webhook_queue().await {
        state.metrics.webhook_queue_depth.set(depth);
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "meta", responses((status = 200, description = "OpenAPI 3.1 document")))]
pub async fn openapi_json(Extension(doc): Extension<OpenApiJson>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        doc.0.as_str().to_string(),
    )
}

/// The API reference at `/docs`: Swagger UI over `/openapi.json`, one section per tag (a
/// dialect, or the console and operations), with the security schemes under "Authorize".
/// Its files are inside the binary (the `vendored` Swagger UI of utoipa-swagger-ui), so
/// the page works offline and loads nothing from elsewhere.
pub fn api_reference() -> axum::Router<AppState> {
    use utoipa_swagger_ui::{Config, SwaggerUi};
    let config = Config::new(["/openapi.json"])
        .try_it_out_enabled(true)
        .display_request_duration(true)
        .filter(true)
        .doc_expansion("list")
        .persist_authorization(false)
        .validator_url("none");
    SwaggerUi::new("/docs").config(config).into()
}

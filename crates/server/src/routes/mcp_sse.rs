//! The MCP server over the older HTTP+SSE transport (MCP 2024-11-05), which the presence
//! spec names for hosted agents, beside streamable HTTP at `/mcp`: `GET /sse` opens
//! an event stream whose first event (`endpoint`) names where to post
//! (`/messages?sessionId=…`); each JSON-RPC message posted there is answered `202`
//! and its reply comes as a `message` event on the stream. The caller's
//! `Authorization: Bearer vst_…` on the stream is the tools' service token.
//!
//! A session lives as long as its stream, on the node that holds it: behind a load
//! balancer, route `/sse` and `/messages` to the same node (sticky by
//! `sessionId`), or use streamable HTTP, which has no such need.

use crate::error::{ApiError, ApiResult};
use crate::AppState;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::IntoResponse;
use axum::Json;
use futures::channel::mpsc;
use futures::{SinkExt as _, Stream, StreamExt as _};
use rmcp::model::ClientJsonRpcMessage;
use rmcp::ServiceExt as _;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// Open SSE sessions of this process: id → where its posted messages go.
type Sessions = Mutex<HashMap<String, mpsc::Sender<ClientJsonRpcMessage>>>;

/// The most SSE sessions one process keeps open.
pub const MAX_SESSIONS: usize = 1000;

fn sessions() -> &'static Sessions {
    static S: OnceLock<Sessions> = OnceLock::new();
    S.get_or_init(Default::default)
}

fn lock() -> std::sync::MutexGuard<'static, HashMap<String, mpsc::Sender<ClientJsonRpcMessage>>> {
    sessions().lock().unwrap_or_else(|e| e.into_inner())
}

/// Removes its session when the stream ends (the client went away).
struct Forget(String);

impl Drop for Forget {
    fn drop(&mut self) {
        lock().remove(&self.0);
    }
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// `GET /sse`: the event stream of a new session.
pub async fn open(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<impl IntoResponse> {
    let token = bearer(&headers).ok_or_else(|| {
        ApiError::unauthorized("Send the service token as Authorization: Bearer vst_…")
    })?;
    if lock().len() >= MAX_SESSIONS {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "too_many_sessions",
            "Too many MCP sessions are open on this node",
        ));
    }
    let id = uuid::Uuid::new_v4().simple().to_string();
    let (in_tx, in_rx) = mpsc::channel::<ClientJsonRpcMessage>(32);
    let (out_tx, out_rx) = mpsc::channel(32);
    lock().insert(id.clone(), in_tx);
    let server = vouch_mcp::VouchMcp::new(vouch_mcp::Config {
        base_url: state.config.base_url(),
        service_token: Some(token),
    });
    tokio::spawn(async move {
        match server.serve((out_tx, in_rx)).await {
            Ok(running) => {
                let _ = running.waiting().await;
            }
            Err(e) => tracing::debug!("MCP SSE session ended before it started: {e}"),
        }
    });
    let guard = Arc::new(Forget(id.clone()));
    let endpoint =
        futures::stream::once(futures::future::ready(Ok::<_, std::convert::Infallible>(
            Event::default()
                .event("endpoint")
                .data(format!("/messages?sessionId={id}")),
        )));
    let messages = out_rx.map(move |msg: rmcp::model::ServerJsonRpcMessage| {
        let _keep = &guard;
        Ok(Event::default()
            .event("message")
            .data(serde_json::to_string(&msg).unwrap_or_default()))
    });
    let stream: std::pin::Pin<
        Box<dyn Stream<Item = Result<Event, std::convert::Infallible>> + Send>,
    > = Box::pin(endpoint.chain(messages));
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// The query of `POST /messages`.
#[derive(Deserialize)]
pub struct SessionQuery {
    #[serde(rename = "sessionId")]
    session_id: String,
}

/// `POST /messages?sessionId=…`: one JSON-RPC message of a session; 202.
pub async fn post(
    Query(q): Query<SessionQuery>,
    body: axum::body::Bytes,
) -> ApiResult<impl IntoResponse> {
    let msg: ClientJsonRpcMessage = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("not a JSON-RPC message: {e}")))?;
    let sender = lock().get(&q.session_id).cloned();
    let Some(mut sender) = sender else {
        return Err(ApiError::not_found("Unknown or closed MCP session"));
    };
    sender
        .send(msg)
        .await
        .map_err(|_| ApiError::not_found("Unknown or closed MCP session"))?;
    Ok((StatusCode::ACCEPTED, Json(serde_json::json!({}))))
}

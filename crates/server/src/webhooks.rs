//! The webhook delivery worker and the housekeeping job.
//!
//! The worker claims due deliveries from the outbox (leases make it safe on many nodes),
//! signs and posts each one, and records the attempt: 2xx delivered; 410 Gone disables
//! the endpoint; anything else is retried on the policy's schedule (honouring
//! `Retry-After`) until 24 hours have passed, then dead-lettered.

use crate::metrics::WebhookLabels;
use crate::outbound;
use crate::AppState;
use rand::Rng;
use serde_json::{json, Value};
use std::time::Instant;
use tokio::sync::watch;
use vouch_core::event::Dialect;
use vouch_core::webhook::{hex_signature, phone_jwt, standard_signature};
use vouch_core::{now_millis, Millis};
use vouch_store::outbox::{Attempt, DueDelivery, Next};

/// Deliveries claimed at once.
const BATCH: i64 = 32;
/// Bytes of a response body kept with an attempt.
const EXCERPT: usize = 512;

/// Starts the delivery worker; it stops when `stop` turns true.
pub fn spawn_worker(
    state: AppState,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let client = outbound::client(
            state.config.webhook_timeout,
            state.config.allow_private_webhooks,
        );
        loop {
            if *stop.borrow() {
                break;
            }
            let claimed = match state
                .store
                .claim_due_deliveries(
                    now_millis(),
                    state.config.webhook_lease.as_millis() as Millis,
                    BATCH,
                )
                .await
            {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "webhook worker cannot claim deliveries");
                    Vec::new()
                }
            };
            let full = claimed.len() as i64 == BATCH;
            let mut set = tokio::task::JoinSet::new();
            for d in claimed {
                let state = state.clone();
                let client = client.clone();
                set.spawn(async move { deliver(&state, &client, d).await });
            }
            while set.join_next().await.is_some() {}
            if full {
                continue;
            }
            tokio::select! {
                _ = stop.changed() => {}
                _ = state.outbox_notify.notified() => {}
                _ = tokio::time::sleep(state.config.webhook_poll) => {}
            }
        }
    })
}

fn retry_after_ms(resp: &reqwest::Response) -> Option<Millis> {
    let v = resp.headers().get("retry-after")?.to_str().ok()?;
    let secs: i64 = v.trim().parse().ok()?;
    Some(secs.clamp(0, 24 * 3600) * 1000)
}

async fn deliver(state: &AppState, client: &reqwest::Client, d: DueDelivery) {
    let started = Instant::now();
    let attempted_at = now_millis();
    // Kratos admin URLs are set by the operator (CLI, environment), and are usually
    // internal: they are not subject to the private-address rule of customer webhooks.
    let kratos = d.dialect == Dialect::Kratos;
    if let Err(refused) = outbound::check_url(&d.url, state.config.allow_private_webhooks || kratos)
    {
        // A URL that policy refuses will not become acceptable by waiting.
        let attempt = Attempt {
            attempted_at,
            status_code: None,
            latency_ms: 0,
            response_excerpt: None,
            error: Some(format!("refused: {refused}")),
        };
        tracing::warn!(delivery = %d.id, error = %refused, "webhook URL refused");
        if let Err(e) = state.store.record_attempt(&d, &attempt, Next::Dead).await {
            tracing::error!(delivery = %d.id, error = %e, "cannot record webhook attempt");
        }
        return;
    }
    let result = if kratos {
        deliver_kratos_patch(state, client, &d).await
    } else {
        send(state, client, &d).await
    };
    let latency = started.elapsed();
    let attempts = d.attempts + 1;
    let jitter: f64 = rand::thread_rng().gen();
    let retry = |retry_after: Option<Millis>| match state.config.retry.next_attempt(
        attempts,
        d.created_at,
        now_millis(),
        jitter,
        retry_after,
    ) {
        Some(at) => Next::RetryAt(at),
        None => Next::Dead,
    };
    let (attempt, next) = match result {
        Ok((status, retry_after, excerpt)) => {
            let next = if (200..300).contains(&status) {
                Next::Delivered
            } else if kratos && (400..500).contains(&status) && status != 408 && status != 429 {
                // The identity is gone or the patch is refused: waiting will not help.
                Next::Dead
            } else if status == 410 {
                Next::Gone
            } else {
                retry(retry_after)
            };
            (
                Attempt {
                    attempted_at,
                    status_code: Some(i64::from(status)),
                    latency_ms: latency.as_millis() as i64,
                    response_excerpt: Some(excerpt),
                    error: None,
                },
                next,
            )
        }
        Err(error) => (
            Attempt {
                attempted_at,
                status_code: None,
                latency_ms: latency.as_millis() as i64,
                response_excerpt: None,
                error: Some(error),
            },
            retry(None),
        ),
    };
    let outcome = match next {
        Next::Delivered => "delivered",
        Next::RetryAt(_) => "retry",
        Next::Dead => "dead",
        Next::Gone => "gone",
    };
    state
        .metrics
        .webhook_attempts
        .get_or_create(&WebhookLabels {
            outcome: outcome.into(),
        })
        .inc();
    state.metrics.webhook_latency.observe(latency.as_secs_f64());
    tracing::info!(delivery = %d.id, webhook_id = %d.event_id, attempt = attempts, outcome, status = ?attempt.status_code, "webhook attempt");
    if let Err(e) = state.store.record_attempt(&d, &attempt, next).await {
        // The lease will expire and the delivery will be tried again: at-least-once.
        tracing::error!(delivery = %d.id, error = %e, "cannot record webhook attempt");
    }
}

async fn send(
    state: &AppState,
    client: &reqwest::Client,
    d: &DueDelivery,
) -> Result<(u16, Option<Millis>, String), String> {
    let url = outbound::check_url(&d.url, state.config.allow_private_webhooks)?;
    let secret = state
        .store
        .webhook_secret(&d.org_id, &d.key_id)
        .await
        .map_err(|e| format!("signing secret unavailable: {e}"))?;
    let ts = now_millis() / 1000;
    let signature =
        standard_signature(&secret, d.event_id.as_str(), ts, &d.body).map_err(|e| e.to_string())?;
    let mut req = client
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", d.event_id.as_str())
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", signature);
    match (d.dialect, d.dialect.signature_header()) {
        (Dialect::Phone, Some(name)) => {
            req = req
                .header(name, phone_jwt(&secret, d.event_id.as_str(), ts, &d.body))
                .header("x-correlation-id", uuid::Uuid::new_v4().to_string());
        }
        (_, Some(name)) => req = req.header(name, hex_signature(&secret, &d.body)),
        (_, None) => {}
    }
    let mut resp = req.body(d.body.clone()).send().await.map_err(describe)?;
    let status = resp.status().as_u16();
    let retry_after = retry_after_ms(&resp);
    let mut excerpt = Vec::new();
    while excerpt.len() < EXCERPT {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                excerpt.extend_from_slice(&chunk[..chunk.len().min(EXCERPT - excerpt.len())])
            }
            _ => break,
        }
    }
    Ok((
        status,
        retry_after,
        String::from_utf8_lossy(&excerpt).into_owned(),
    ))
}

fn describe(e: reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    let mut msg = format!("{kind}: {e}");
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        msg.push_str(&format!(": {s}"));
        src = s.source();
    }
    msg.chars().take(500).collect()
}

/// Starts the housekeeping job: expires verification sessions whose lifetime is over
/// (queueing their webhooks), purges old rate counters, expired access tokens and session
/// images past their retention.
pub fn spawn_housekeeping(
    state: AppState,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let now = now_millis();
            match state.store.expire_due_sessions(None, now).await {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!(expired = n, "verification sessions expired");
                    state.outbox_notify.notify_one();
                }
                Err(e) => tracing::warn!(error = %e, "cannot expire verification sessions"),
            }
            if let Err(e) = state.store.purge_rate_counters(now).await {
                tracing::warn!(error = %e, "cannot purge rate counters");
            }
            // Phone flows hold sealed personal data: kept a day past their 15 minutes
            // (for status calls and support), then deleted.
            match state.store.purge_phone_flows(24 * 3600 * 1000).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(purged = n, "ended phone flows deleted"),
                Err(e) => tracing::warn!(error = %e, "cannot purge phone flows"),
            }
            if let Err(e) = state.store.purge_expired_tokens(now).await {
                tracing::warn!(error = %e, "cannot purge expired tokens");
            }
            match state.store.purge_session_images(now).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, "session images past their retention deleted"),
                Err(e) => tracing::warn!(error = %e, "cannot purge session images"),
            }
            tokio::select! {
                _ = stop.changed() => break,
                _ = tokio::time::sleep(state.config.housekeeping_interval) => {}
            }
        }
    })
}

/// Applies a queued metadata patch to a Kratos identity (the outbox worker's Kratos
/// dialect): reads the identity, then sends a JSON Patch that adds the keys of each
/// section (`metadata_public`, `metadata_admin`), creating a section the identity does
/// not have yet. `add`, not `replace`: RFC 6902 refuses to replace a key that is not
/// there, which is every key the first time. Returns the HTTP status of the last call,
/// its `Retry-After`, and an excerpt.
async fn deliver_kratos_patch(
    state: &AppState,
    client: &reqwest::Client,
    d: &vouch_store::outbox::DueDelivery,
) -> Result<(u16, Option<i64>, String), String> {
    let config = state
        .store
        .ory_config(&d.org_id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the organisation has no Kratos configuration any more")?;
    let queued: Value =
        serde_json::from_slice(&d.body).map_err(|e| format!("queued patch unreadable: {e}"))?;
    let sections = vouch_store::ory::patch_sections(&queued)
        .ok_or("queued patch is not an object of metadata keys")?;
    let auth = |req: reqwest::RequestBuilder| match &config.api_key {
        Some(k) => req.bearer_auth(k),
        None => req,
    };
    let current = auth(client.get(&d.url))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = current.status().as_u16();
    if status != 200 {
        let text = current.text().await.unwrap_or_default();
        return Ok((status, None, text.chars().take(500).collect()));
    }
    let identity: Value = current
        .json()
        .await
        .map_err(|e| format!("identity unreadable: {e}"))?;
    let mut ops = Vec::new();
    for (section, keys) in sections {
        if keys.is_empty() {
            continue;
        }
        match identity.get(section) {
            Some(Value::Object(_)) => ops.extend(keys.iter().map(|(k, v)| {
                json!({"op": "add", "path": format!("/{section}/{}", k.replace('~', "~0").replace('/', "~1")), "value": v})
            })),
            _ => ops.push(json!({"op": "add", "path": format!("/{section}"), "value": Value::Object(keys.clone())})),
        }
    }
    let resp = auth(client.patch(&d.url))
        .header("content-type", "application/json")
        .body(Value::Array(ops).to_string())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .map(|s| s.clamp(0, 3600) * 1000);
    let text = resp.text().await.unwrap_or_default();
    Ok((status, retry_after, text.chars().take(500).collect()))
}

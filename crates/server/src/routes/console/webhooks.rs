//! Webhook deliveries: the newest ones with their last answer, and the retry of a dead or
//! disabled one.

use super::{filters, page, see_other, FormData, Nav, PageResult, Shell, Signed};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, RawQuery, State};
use vouch_core::ids::DeliveryId;
use vouch_store::outbox::Delivery;

/// `webhooks.html`.
#[derive(Template)]
#[template(path = "console/webhooks.html")]
struct WebhooksPage {
    shell: Shell,
    deliveries: Vec<Delivery>,
}

/// The newest webhook deliveries, with a retry button for dead or disabled ones.
pub(super) async fn webhooks(
    State(state): State<AppState>,
    Signed(caller): Signed,
    RawQuery(raw): RawQuery,
) -> PageResult {
    let deliveries = state
        .app
        .webhooks
        .deliveries(&caller.admin.org_id, 100)
        .await?;
    let shell = Shell::new(&state, &caller, Nav::Webhooks, "Webhook deliveries")
        .await?
        .with_notice(raw.as_deref());
    page(&WebhooksPage { shell, deliveries })
}

/// Queues a dead or disabled delivery again.
pub(super) async fn retry_delivery(
    State(state): State<AppState>,
    Signed(caller): Signed,
    Path(id): Path<String>,
    form: FormData,
) -> PageResult {
    form.check(&caller)?;
    state
        .app
        .webhooks
        .retry(
            &caller.admin.org_id,
            &DeliveryId::from_string(id),
            caller.audit("webhook.retried"),
        )
        .await?;
    Ok(see_other("/admin/webhooks?done=retried"))
}

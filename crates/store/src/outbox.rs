//! The webhook outbox. An event and its deliveries are written in the transaction of the
//! state change that caused them; workers on any node claim due deliveries with a lease
//! (`FOR UPDATE SKIP LOCKED` on PostgreSQL), post them, and record every attempt. A
//! worker killed mid-delivery leaves its lease to expire, and the delivery is claimed
//! again with the same `webhook-id`: at-least-once, never lost.

use crate::audit::append_in_tx;
use crate::crypto::Slot;
use crate::db::{db_err, Backend, Store};
use sqlx::any::AnyRow;
use sqlx::Row;
use vouch_core::event::Dialect;
use vouch_core::ids::{DeliveryId, EventId, KeyId, OrgId};
use vouch_core::model::AuditRecord;
use vouch_core::{now_millis, Error, Millis, Result};

/// A webhook to send for an event.
#[derive(Debug, Clone)]
pub struct Outbound {
    /// The key whose secret signs it.
    pub key_id: KeyId,
    /// Where it goes.
    pub url: String,
    /// Which extra signature header it carries.
    pub dialect: Dialect,
    /// The exact body bytes (sealed at rest).
    pub body: Vec<u8>,
}

/// A delivery claimed by a worker.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    /// Delivery id.
    pub id: DeliveryId,
    /// The event id, sent as `webhook-id`.
    pub event_id: EventId,
    /// The organisation.
    pub org_id: OrgId,
    /// The signing key.
    pub key_id: KeyId,
    /// Destination.
    pub url: String,
    /// Signature dialect.
    pub dialect: Dialect,
    /// Event type.
    pub event_type: String,
    /// Body bytes.
    pub body: Vec<u8>,
    /// Attempts made before this one.
    pub attempts: u32,
    /// When the event happened.
    pub created_at: Millis,
}

/// A delivery as listed.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    /// Delivery id.
    pub id: String,
    /// Event id (`webhook-id`).
    pub event_id: String,
    /// The signing key.
    pub key_id: String,
    /// Destination.
    pub url: String,
    /// Event type.
    pub event_type: String,
    /// pending, delivered, dead or disabled.
    pub status: String,
    /// Attempts made.
    pub attempts: i64,
    /// When the next attempt is due (pending only).
    pub next_attempt_at: Millis,
    /// HTTP status of the last attempt.
    pub last_status: Option<i64>,
    /// Error of the last attempt.
    pub last_error: Option<String>,
    /// When the event happened.
    pub created_at: Millis,
    /// When it was delivered or given up.
    pub finished_at: Option<Millis>,
}

/// One attempt as recorded.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    /// When.
    pub attempted_at: Millis,
    /// HTTP status, if a response came.
    pub status_code: Option<i64>,
    /// Time to the response or the failure.
    pub latency_ms: i64,
    /// The first bytes of the response body.
    pub response_excerpt: Option<String>,
    /// What failed, if no response came.
    pub error: Option<String>,
}

/// What to do with a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// A 2xx came back.
    Delivered,
    /// Try again at this time.
    RetryAt(Millis),
    /// Out of time: dead letter.
    Dead,
    /// The receiver answered 410 Gone: disable the endpoint.
    Gone,
}

const DELIVERY_COLUMNS: &str =
    "id, event_id, org_id, key_id, url, dialect, event_type, body, attempts, created_at";

fn body_slot(id: &str) -> Slot<'_> {
    Slot {
        table: "webhook_deliveries",
        column: "body",
        row: id,
    }
}

fn delivery_from_row(r: &AnyRow) -> Result<Delivery> {
    Ok(Delivery {
        id: r.try_get("id").map_err(db_err)?,
        event_id: r.try_get("event_id").map_err(db_err)?,
        key_id: r.try_get("key_id").map_err(db_err)?,
        url: r.try_get("url").map_err(db_err)?,
        event_type: r.try_get("event_type").map_err(db_err)?,
        status: r.try_get("status").map_err(db_err)?,
        attempts: r.try_get("attempts").map_err(db_err)?,
        next_attempt_at: r.try_get("next_attempt_at").map_err(db_err)?,
        last_status: r.try_get("last_status").map_err(db_err)?,
        last_error: r.try_get("last_error").map_err(db_err)?,
        created_at: r.try_get("created_at").map_err(db_err)?,
        finished_at: r.try_get("finished_at").map_err(db_err)?,
    })
}

impl Store {
    /// Writes an event and its deliveries inside `tx` (the transaction of the state
    /// change). Returns the event id.
    pub(crate) async fn enqueue_in_tx(
        &self,
        tx: &mut crate::db::WriteTx,
        org: &OrgId,
        event_type: &str,
        outbound: &[Outbound],
    ) -> Result<EventId> {
        let event_id = EventId::generate();
        let now = now_millis();
        sqlx::query(
            &self.sql("INSERT INTO events (id, org_id, type, created_at) VALUES ($1, $2, $3, $4)"),
        )
        .bind(event_id.as_str())
        .bind(org.as_str())
        .bind(event_type)
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
        for o in outbound {
            let id = DeliveryId::generate();
            let sealed = self.seal(body_slot(id.as_str()), &o.body)?;
            sqlx::query(&self.sql(
                "INSERT INTO webhook_deliveries (id, event_id, org_id, key_id, url, dialect, event_type, body, \
                 status, attempts, next_attempt_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', 0, $9, $10)",
            ))
            .bind(id.as_str())
            .bind(event_id.as_str())
            .bind(org.as_str())
            .bind(o.key_id.as_str())
            .bind(&o.url)
            .bind(o.dialect.as_str())
            .bind(event_type)
            .bind(sealed)
            .bind(now)
            .bind(now)
            .execute(&mut **tx)
            .await
            .map_err(db_err)?;
        }
        Ok(event_id)
    }

    /// Records an event with its deliveries and an audit entry, atomically.
    pub async fn emit_event(
        &self,
        org: &OrgId,
        event_type: &str,
        outbound: &[Outbound],
        audit: Option<AuditRecord>,
    ) -> Result<EventId> {
        let mut tx = self.begin_write().await?;
        let id = self
            .enqueue_in_tx(&mut tx, org, event_type, outbound)
            .await?;
        if let Some(a) = audit {
            append_in_tx(self, &mut tx, &a.in_org(org).target(&id)).await?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(id)
    }

    /// Claims up to `limit` due deliveries for `lease_ms`. Safe to call from many nodes at
    /// once: PostgreSQL skips rows another worker has locked; SQLite has one writer.
    pub async fn claim_due_deliveries(
        &self,
        now: Millis,
        lease_ms: Millis,
        limit: i64,
    ) -> Result<Vec<DueDelivery>> {
        let lock = match self.backend() {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let q = format!(
            "UPDATE webhook_deliveries SET lease_until = $1 WHERE id IN (\
               SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= $2 \
               AND (lease_until IS NULL OR lease_until < $3) ORDER BY next_attempt_at LIMIT $4 {lock}) \
             RETURNING {DELIVERY_COLUMNS}"
        );
        let rows = sqlx::query(&self.sql(&q))
            .bind(now + lease_ms)
            .bind(now)
            .bind(now)
            .bind(limit)
            .fetch_all(&mut *self.conn().await?)
            .await
            .map_err(db_err)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let id: String = r.try_get("id").map_err(db_err)?;
            let sealed: Vec<u8> = r.try_get("body").map_err(db_err)?;
            let body = self.open_sealed(body_slot(&id), &sealed).await?;
            let attempts: i64 = r.try_get("attempts").map_err(db_err)?;
            out.push(DueDelivery {
                id: DeliveryId::from_string(id),
                event_id: EventId::from_string(r.try_get::<String, _>("event_id").map_err(db_err)?),
                org_id: OrgId::from_string(r.try_get::<String, _>("org_id").map_err(db_err)?),
                key_id: KeyId::from_string(r.try_get::<String, _>("key_id").map_err(db_err)?),
                url: r.try_get("url").map_err(db_err)?,
                dialect: Dialect::parse(&r.try_get::<String, _>("dialect").map_err(db_err)?),
                event_type: r.try_get("event_type").map_err(db_err)?,
                body,
                attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                created_at: r.try_get("created_at").map_err(db_err)?,
            });
        }
        Ok(out)
    }

    /// Records an attempt and moves the delivery on, in one transaction. On `Gone` the
    /// key's endpoint is disabled and its other pending deliveries to the URL stop too.
    pub async fn record_attempt(
        &self,
        d: &DueDelivery,
        attempt: &Attempt,
        next: Next,
    ) -> Result<()> {
        let now = now_millis();
        let mut tx = self.begin_write().await?;
        sqlx::query(&self.sql(
            "INSERT INTO webhook_attempts (delivery_id, org_id, attempted_at, status_code, latency_ms, response_excerpt, error) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        ))
        .bind(d.id.as_str())
        .bind(d.org_id.as_str())
        .bind(attempt.attempted_at)
        .bind(attempt.status_code)
        .bind(attempt.latency_ms)
        .bind(attempt.response_excerpt.clone())
        .bind(attempt.error.clone())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        let (status, next_at, finished) = match next {
            Next::Delivered => ("delivered", now, Some(now)),
            Next::RetryAt(at) => ("pending", at, None),
            Next::Dead => ("dead", now, Some(now)),
            Next::Gone => ("disabled", now, Some(now)),
        };
        sqlx::query(&self.sql(
            "UPDATE webhook_deliveries SET status = $1, attempts = attempts + 1, next_attempt_at = $2, \
             lease_until = NULL, last_status = $3, last_error = $4, finished_at = $5 WHERE id = $6",
        ))
        .bind(status)
        .bind(next_at)
        .bind(attempt.status_code)
        .bind(attempt.error.clone())
        .bind(finished)
        .bind(d.id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if next == Next::Gone {
            sqlx::query(&self.sql(
                "UPDATE api_keys SET webhook_disabled_at = $1 WHERE id = $2 AND webhook_disabled_at IS NULL",
            ))
            .bind(now)
            .bind(d.key_id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            sqlx::query(&self.sql(
                "UPDATE webhook_deliveries SET status = 'disabled', finished_at = $1 \
                 WHERE key_id = $2 AND url = $3 AND status = 'pending'",
            ))
            .bind(now)
            .bind(d.key_id.as_str())
            .bind(&d.url)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)
    }

    /// A delivery of an organisation.
    pub async fn delivery(&self, org: &OrgId, id: &DeliveryId) -> Result<Delivery> {
        let row = sqlx::query(
            &self.sql("SELECT * FROM webhook_deliveries WHERE id = $1 AND org_id = $2"),
        )
        .bind(id.as_str())
        .bind(org.as_str())
        .fetch_optional(&mut *self.conn().await?)
        .await
        .map_err(db_err)?
        .ok_or(Error::NotFound("webhook delivery"))?;
        delivery_from_row(&row)
    }

    /// The newest deliveries of an organisation.
    pub async fn list_deliveries(&self, org: &OrgId, limit: i64) -> Result<Vec<Delivery>> {
        let rows = sqlx::query(&self.sql(
            "SELECT * FROM webhook_deliveries WHERE org_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
        ))
        .bind(org.as_str())
        .bind(limit.clamp(1, 1000))
        .fetch_all(&mut *self.conn().await?)
        .await
        .map_err(db_err)?;
        rows.iter().map(delivery_from_row).collect()
    }

    /// The attempts of a delivery of an organisation, oldest first.
    pub async fn delivery_attempts(&self, org: &OrgId, id: &DeliveryId) -> Result<Vec<Attempt>> {
        let rows = sqlx::query(&self.sql(
            "SELECT attempted_at, status_code, latency_ms, response_excerpt, error FROM webhook_attempts \
             WHERE delivery_id = $1 AND org_id = $2 ORDER BY id",
        ))
        .bind(id.as_str())
        .bind(org.as_str())
        .fetch_all(&mut *self.conn().await?)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(Attempt {
                    attempted_at: r.try_get("attempted_at").map_err(db_err)?,
                    status_code: r.try_get("status_code").map_err(db_err)?,
                    latency_ms: r.try_get("latency_ms").map_err(db_err)?,
                    response_excerpt: r.try_get("response_excerpt").map_err(db_err)?,
                    error: r.try_get("error").map_err(db_err)?,
                })
            })
            .collect()
    }

    /// Puts a dead or disabled delivery back in the queue, due now.
    pub async fn retry_delivery(
        &self,
        org: &OrgId,
        id: &DeliveryId,
        audit: AuditRecord,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(&self.sql(
            "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $1, lease_until = NULL, finished_at = NULL \
             WHERE id = $2 AND org_id = $3 AND status IN ('dead', 'disabled')",
        ))
        .bind(now_millis())
        .bind(id.as_str())
        .bind(org.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if done.rows_affected() == 0 {
            self.delivery(org, id).await?;
            return Err(Error::Conflict(
                "only dead or disabled deliveries can be retried".into(),
            ));
        }
        append_in_tx(self, &mut tx, &audit.in_org(org).target(id)).await?;
        tx.commit().await.map_err(db_err)
    }

    /// Deliveries waiting to be sent, across all organisations (for /metrics).
    pub async fn pending_deliveries(&self) -> Result<i64> {
        sqlx::query("SELECT COUNT(*) AS n FROM webhook_deliveries WHERE status = 'pending'")
            .fetch_one(&mut *self.conn().await?)
            .await
            .map_err(db_err)?
            .try_get("n")
            .map_err(db_err)
    }
}

//! The append-only audit log. Triggers in both databases refuse UPDATE and DELETE.

use crate::db::{db_err, Store};
use sqlx::Row;
use vouch_core::ids::OrgId;
use vouch_core::model::{AuditEntry, AuditRecord};
use vouch_core::{now_millis, Result};

/// Appends an entry inside the transaction of the change it records.
pub(crate) async fn append_in_tx(
    store: &Store,
    tx: &mut crate::db::WriteTx,
    rec: &AuditRecord,
) -> Result<()> {
    sqlx::query(&store.sql(
        "INSERT INTO audit_log (org_id, actor, action, target, request_id, details, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    ))
    .bind(rec.org_id.as_ref().map(|o| o.as_str().to_string()))
    .bind(rec.actor.to_string())
    .bind(&rec.action)
    .bind(rec.target.clone())
    .bind(rec.request_id.clone())
    .bind(rec.details.to_string())
    .bind(now_millis())
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    Ok(())
}

impl Store {
    /// Appends an entry on its own.
    pub async fn append_audit(&self, rec: &AuditRecord) -> Result<()> {
        let mut tx = self.begin_write().await?;
        append_in_tx(self, &mut tx, rec).await?;
        tx.commit().await.map_err(db_err)
    }

    /// The newest entries of an organisation, newest first.
    pub async fn list_audit(&self, org: &OrgId, limit: i64) -> Result<Vec<AuditEntry>> {
        let rows = sqlx::query(&self.sql(
            "SELECT id, org_id, actor, action, target, request_id, details, created_at FROM audit_log \
             WHERE org_id = $1 ORDER BY id DESC LIMIT $2",
        ))
        .bind(org.as_str())
        .bind(limit.clamp(1, 1000))
        .fetch_all(&mut *self.conn().await?)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                let details: String = r.try_get("details").map_err(db_err)?;
                Ok(AuditEntry {
                    id: r.try_get("id").map_err(db_err)?,
                    org_id: r.try_get("org_id").map_err(db_err)?,
                    actor: r.try_get("actor").map_err(db_err)?,
                    action: r.try_get("action").map_err(db_err)?,
                    target: r.try_get("target").map_err(db_err)?,
                    request_id: r.try_get("request_id").map_err(db_err)?,
                    details: serde_json::from_str(&details).unwrap_or(serde_json::Value::Null),
                    created_at: r.try_get("created_at").map_err(db_err)?,
                })
            })
            .collect()
    }
}

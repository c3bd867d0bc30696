//! Ory Kratos hooks: each organisation's configuration (the shared secret Kratos sends,
//! the Kratos admin API and its key, fail-open choices), and the queued `metadata_admin`
//! patches that the outbox worker applies to Kratos identities.

use crate::audit::append_in_tx;
use crate::crypto::Slot;
use crate::db::{db_err, Store};
use crate::outbox::Outbound;
use sqlx::Row;
use vouch_core::event::{Dialect, KRATOS_METADATA_PATCH};
use vouch_core::ids::{KeyId, OrgId};
use vouch_core::model::AuditRecord;
use vouch_core::{now_millis, Error, Result};

/// Blind-index purpose of hook secrets.
const SECRET_INDEX: &str = "ory.webhook-secret";

/// An organisation's Kratos settings.
#[derive(Clone)]
pub struct OryConfig {
    /// The organisation.
    pub org_id: OrgId,
    /// Kratos admin API base (`https://…/admin` is appended per call).
    pub kratos_admin_url: String,
    /// `Authorization: Bearer` for the admin API, when it needs one.
    pub api_key: Option<String>,
    /// Let registration through when the lookup cannot decide.
    pub fail_open_lookup: bool,
    /// Let sign-in through when the validation cannot decide.
    pub fail_open_validate: bool,
}

impl std::fmt::Debug for OryConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OryConfig")
            .field("org_id", &self.org_id)
            .field("kratos_admin_url", &self.kratos_admin_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<sealed>"))
            .field("fail_open_lookup", &self.fail_open_lookup)
            .field("fail_open_validate", &self.fail_open_validate)
            .finish()
    }
}

fn key_slot(org: &str) -> Slot<'_> {
    Slot {
        table: "ory_configs",
        column: "api_key",
        row: org,
    }
}

/// The pseudo key id of Kratos patches in the outbox (they are signed by nothing).
pub const KRATOS_KEY: &str = "kratos";

impl Store {
    /// Sets (or replaces) an organisation's Kratos hook configuration. The secret must
    /// be unique across organisations: it is how a hook call finds its organisation.
    pub async fn configure_ory(
        &self,
        org: &OrgId,
        secret: &str,
        kratos_admin_url: &str,
        api_key: Option<&str>,
        fail_open_lookup: bool,
        fail_open_validate: bool,
    ) -> Result<()> {
        if secret.len() < 16 {
            return Err(Error::Invalid(
                "the webhook secret must be at least 16 characters".into(),
            ));
        }
        let bidx = self.blind_index(SECRET_INDEX, secret);
        let sealed = match api_key {
            Some(k) => Some(self.seal(key_slot(org.as_str()), k.as_bytes())?),
            None => None,
        };
        let now = now_millis();
        let mut tx = self.begin_write().await?;
        let taken = sqlx::query(&self.sql("SELECT org_id FROM ory_configs WHERE secret_bidx = $1"))
            .bind(&bidx)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
        if let Some(row) = taken {
            let owner: String = row.try_get("org_id").map_err(db_err)?;
            if owner != org.as_str() {
                return Err(Error::Conflict(
                    "another organisation uses this webhook secret".into(),
                ));
            }
        }
        sqlx::query(&self.sql("DELETE FROM ory_configs WHERE org_id = $1"))
            .bind(org.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        sqlx::query(&self.sql(
            "INSERT INTO ory_configs (org_id, secret_bidx, kratos_admin_url, api_key, fail_open_lookup, \
             fail_open_validate, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        ))
        .bind(org.as_str())
        .bind(bidx)
        .bind(kratos_admin_url.trim_end_matches('/'))
        .bind(sealed)
        .bind(i64::from(fail_open_lookup))
        .bind(i64::from(fail_open_validate))
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        let audit = AuditRecord::new(
            Some(org),
            vouch_core::model::Actor::System,
            "ory.configured",
        );
        append_in_tx(self, &mut tx, &audit).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(())
    }

    async fn ory_from_row(&self, r: &sqlx::any::AnyRow) -> Result<OryConfig> {
        let org: String = r.try_get("org_id").map_err(db_err)?;
        let sealed: Option<Vec<u8>> = r.try_get("api_key").map_err(db_err)?;
        let api_key = match sealed {
            Some(b) => Some(
                String::from_utf8_lossy(&self.open_sealed(key_slot(&org), &b).await?).into_owned(),
            ),
            None => None,
        };
        Ok(OryConfig {
            kratos_admin_url: r.try_get("kratos_admin_url").map_err(db_err)?,
            api_key,
            fail_open_lookup: r.try_get::<i64, _>("fail_open_lookup").map_err(db_err)? != 0,
            fail_open_validate: r.try_get::<i64, _>("fail_open_validate").map_err(db_err)? != 0,
            org_id: OrgId::from_string(org),
        })
    }

    /// The configuration whose secret this is (the digest is keyed, so the lookup leaks
    /// nothing about other secrets); None for an unknown secret.
    pub async fn ory_config_by_secret(&self, secret: &str) -> Result<Option<OryConfig>> {
        let bidx = self.blind_index(SECRET_INDEX, secret);
        let row = sqlx::query(&self.sql("SELECT * FROM ory_configs WHERE secret_bidx = $1"))
            .bind(&bidx)
            .fetch_optional(&mut *self.conn().await?)
            .await
            .map_err(db_err)?;
        match row {
            Some(r) => {
                // The index is unique and keyed; compare once more in constant time.
                let stored: String = r.try_get("secret_bidx").map_err(db_err)?;
                if !bool::from(subtle::ConstantTimeEq::ct_eq(
                    stored.as_bytes(),
                    bidx.as_bytes(),
                )) {
                    return Ok(None);
                }
                Ok(Some(self.ory_from_row(&r).await?))
            }
            None => Ok(None),
        }
    }

    /// An organisation's configuration.
    pub async fn ory_config(&self, org: &OrgId) -> Result<Option<OryConfig>> {
        let row = sqlx::query(&self.sql("SELECT * FROM ory_configs WHERE org_id = $1"))
            .bind(org.as_str())
            .fetch_optional(&mut *self.conn().await?)
            .await
            .map_err(db_err)?;
        match row {
            Some(r) => Ok(Some(self.ory_from_row(&r).await?)),
            None => Ok(None),
        }
    }

    /// Queues the patch of a Kratos identity's metadata (the outbox worker applies it,
    /// retrying while Kratos is down). `body` is [`metadata_patch`]'s sections (or, as
    /// queued by older versions, the `metadata_admin` keys alone).
    pub async fn enqueue_kratos_patch(
        &self,
        config: &OryConfig,
        kratos_identity: &str,
        body: &serde_json::Value,
        audit: AuditRecord,
    ) -> Result<()> {
        let url = format!(
            "{}/admin/identities/{}",
            config.kratos_admin_url.trim_end_matches('/'),
            kratos_identity
        );
        let outbound = [Outbound {
            key_id: KeyId::from_string(KRATOS_KEY),
            url,
            dialect: Dialect::Kratos,
            body: body.to_string().into_bytes(),
        }];
        let mut tx = self.begin_write().await?;
        self.enqueue_in_tx(&mut tx, &config.org_id, KRATOS_METADATA_PATCH, &outbound)
            .await?;
        append_in_tx(self, &mut tx, &audit).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(())
    }
}

/// A queued Kratos patch: the keys to set in each metadata section.
pub fn metadata_patch(
    metadata_public: serde_json::Map<String, serde_json::Value>,
    metadata_admin: serde_json::Map<String, serde_json::Value>,
) -> serde_json::Value {
    serde_json::json!({"sections": {
        "metadata_public": metadata_public,
        "metadata_admin": metadata_admin,
    }})
}

/// The sections of a queued patch, in a fixed order: `metadata_public`, then
/// `metadata_admin`. A body without `sections` is the older form (the `metadata_admin`
/// keys alone). `None` when it is neither.
pub fn patch_sections(
    body: &serde_json::Value,
) -> Option<Vec<(&'static str, &serde_json::Map<String, serde_json::Value>)>> {
    match body.get("sections") {
        Some(sections) => {
            let mut out = Vec::new();
            for name in ["metadata_public", "metadata_admin"] {
                match sections.get(name) {
                    Some(serde_json::Value::Object(keys)) => out.push((name, keys)),
                    None => {}
                    Some(_) => return None,
                }
            }
            Some(out)
        }
        None => Some(vec![("metadata_admin", body.as_object()?)]),
    }
}

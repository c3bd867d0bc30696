//! Phone identity: possession flows (the v3 API's correlation ids) and enrolled phone
//! identities. The store keeps the state; the rules (what may follow what, attempt
//! limits, expiry) are the server's. Every flow update is a compare-and-set on
//! `version`, so two concurrent OTP attempts cannot both read "4 failures" and write 5.

use crate::audit::append_in_tx;
use crate::crypto::Slot;
use crate::db::{db_err, Store, WriteTx};
use crate::outbox::Outbound;
use crate::sessions::GroupRow;
use serde_json::Value;
use sqlx::Row;
use vouch_core::event::{Dialect, PHONE_IDENTITY_CHANGE};
use vouch_core::ids::{KeyId, OrgId};
use vouch_core::model::{AuditRecord, KeySettings};
use vouch_core::phone_flow::{FlowKind, Possession, Step};
use vouch_core::{now_millis, Error, Millis, Result};

/// A possession flow, decoded.
#[derive(Debug, Clone)]
pub struct PhoneFlow {
    /// The correlation id.
    pub id: String,
    /// The organisation.
    pub org_id: OrgId,
    /// The OAuth client (or credential) that started it.
    pub client_id: String,
    /// What the flow is for.
    pub kind: FlowKind,
    /// `desktop`, `mobile` or `none`.
    pub flow_type: String,
    /// Blind index of the number, when the flow has one.
    pub phone_bidx: Option<String>,
    /// The personal data of the flow (number, names, results), sealed at rest.
    pub data: Value,
    /// Where the flow is (transitions in [`vouch_core::phone_flow`]).
    pub step: Step,
    /// Whether possession was proved.
    pub possession: Possession,
    /// `otp`, `instant_link`, `mobile_auth`, `sandbox`.
    pub possession_method: Option<String>,
    /// Where the Instant Link lands.
    pub final_target_url: Option<String>,
    /// The customer's SMS template.
    pub sms_message: Option<String>,
    /// Whether a wrong OTP may be re-entered.
    pub allow_otp_retry: bool,
    /// The customer's id for the person.
    pub client_customer_id: Option<String>,
    /// The customer's id for the request.
    pub client_request_id: Option<String>,
    /// Digest of the current OTP.
    pub otp_hash: Option<String>,
    /// When the current OTP stops working.
    pub otp_expires_at: Option<Millis>,
    /// OTPs sent in this flow.
    pub otp_sends: i64,
    /// Wrong OTPs entered in this flow.
    pub otp_failures: i64,
    /// Digest of the current Instant Link token.
    pub link_hash: Option<String>,
    /// When the current link stops working.
    pub link_expires_at: Option<Millis>,
    /// Links sent in this flow.
    pub link_sends: i64,
    /// The phone identity the flow enrolled or matched.
    pub identity_id: Option<String>,
    /// Compare-and-set counter.
    pub version: i64,
    /// When the flow expires (15 minutes after start).
    pub expires_at: Millis,
    /// When it started.
    pub created_at: Millis,
}

impl PhoneFlow {
    /// Whether the flow is past its lifetime.
    pub fn expired(&self, now: Millis) -> bool {
        self.expires_at <= now
    }
}

/// An enrolled phone identity.
#[derive(Debug, Clone)]
pub struct PhoneIdentity {
    /// `identityId` / `proveId`.
    pub id: String,
    /// The organisation.
    pub org_id: OrgId,
    /// E.164.
    pub phone: String,
    /// The customer's id for the person.
    pub client_customer_id: Option<String>,
    /// The customer's id for the human (newer API).
    pub client_human_id: Option<String>,
    /// A bound device.
    pub device_id: Option<String>,
    /// Active (not deactivated).
    pub active: bool,
    /// Change events are still reported (an event ends monitoring).
    pub monitored: bool,
    /// Carrier name, when known.
    pub carrier: Option<String>,
    /// `mobile`, `landline`, …
    pub line_type: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country_code: Option<String>,
    /// When enrolled.
    pub created_at: Millis,
}

/// A flow insert or update for group commit.
#[derive(Clone)]
pub(crate) struct FlowWrite {
    insert: bool,
    flow: PhoneFlow,
    sealed: Vec<u8>,
    now: Millis,
}

fn flow_slot(id: &str) -> Slot<'_> {
    Slot {
        table: "phone_flows",
        column: "data",
        row: id,
    }
}

fn identity_slot(id: &str) -> Slot<'_> {
    Slot {
        table: "phone_identities",
        column: "phone",
        row: id,
    }
}

/// Blind-index purpose of phone numbers (shared by flows and identities).
pub const PHONE_INDEX: &str = "phone.e164";

impl Store {
    /// The blind index of an E.164 number.
    pub fn phone_index(&self, e164: &str) -> String {
        self.blind_index(PHONE_INDEX, e164)
    }

    /// Inserts a new flow (version 0), with group commit (see
    /// [`Store::write_grouped`]): run it in a task of its own.
    pub async fn create_phone_flow(&self, flow: &PhoneFlow) -> Result<()> {
        let sealed = self.seal(flow_slot(&flow.id), flow.data.to_string().as_bytes())?;
        let write = FlowWrite {
            insert: true,
            flow: flow.clone(),
            sealed,
            now: now_millis(),
        };
        self.write_grouped(GroupRow::Flow(Box::new(write))).await?;
        Ok(())
    }

    pub(crate) async fn write_flow_in_tx(&self, tx: &mut WriteTx, w: &FlowWrite) -> Result<bool> {
        let flow = &w.flow;
        if w.insert {
            sqlx::query(&self.sql(
                "INSERT INTO phone_flows (id, org_id, client_id, kind, flow_type, phone_bidx, data, step, possession, \
                 possession_method, final_target_url, sms_message, allow_otp_retry, client_customer_id, client_request_id, \
                 otp_hash, otp_expires_at, otp_sends, otp_failures, link_hash, link_expires_at, link_sends, identity_id, \
                 version, expires_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
                 $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, 0, $24, $25, $25)",
            ))
            .bind(&flow.id)
            .bind(flow.org_id.as_str())
            .bind(&flow.client_id)
            .bind(flow.kind.as_str())
            .bind(&flow.flow_type)
            .bind(&flow.phone_bidx)
            .bind(w.sealed.clone())
            .bind(flow.step.as_str())
            .bind(flow.possession.as_str())
            .bind(&flow.possession_method)
            .bind(&flow.final_target_url)
            .bind(&flow.sms_message)
            .bind(i64::from(flow.allow_otp_retry))
            .bind(&flow.client_customer_id)
            .bind(&flow.client_request_id)
            .bind(&flow.otp_hash)
            .bind(flow.otp_expires_at)
            .bind(flow.otp_sends)
            .bind(flow.otp_failures)
            .bind(&flow.link_hash)
            .bind(flow.link_expires_at)
            .bind(flow.link_sends)
            .bind(&flow.identity_id)
            .bind(flow.expires_at)
            .bind(w.now)
            .execute(&mut **tx)
            .await
            .map_err(db_err)?;
            return Ok(true);
        }
        let done = sqlx::query(&self.sql(
            "UPDATE phone_flows SET phone_bidx = $1, data = $2, step = $3, possession = $4, possession_method = $5, \
             otp_hash = $6, otp_expires_at = $7, otp_sends = $8, otp_failures = $9, link_hash = $10, \
             link_expires_at = $11, link_sends = $12, identity_id = $13, version = version + 1, updated_at = $14 \
             WHERE id = $15 AND org_id = $16 AND version = $17",
        ))
        .bind(&flow.phone_bidx)
        .bind(w.sealed.clone())
        .bind(flow.step.as_str())
        .bind(flow.possession.as_str())
        .bind(&flow.possession_method)
        .bind(&flow.otp_hash)
        .bind(flow.otp_expires_at)
        .bind(flow.otp_sends)
        .bind(flow.otp_failures)
        .bind(&flow.link_hash)
        .bind(flow.link_expires_at)
        .bind(flow.link_sends)
        .bind(&flow.identity_id)
        .bind(w.now)
        .bind(&flow.id)
        .bind(flow.org_id.as_str())
        .bind(flow.version)
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn flow_from_row(&self, r: &sqlx::any::AnyRow) -> Result<PhoneFlow> {
        let id: String = r.try_get("id").map_err(db_err)?;
        let sealed: Vec<u8> = r.try_get("data").map_err(db_err)?;
        let plain = self.open_sealed(flow_slot(&id), &sealed).await?;
        let data = serde_json::from_slice(&plain)
            .map_err(|e| Error::Internal(format!("phone flow data: {e}")))?;
        Ok(PhoneFlow {
            org_id: OrgId::from_string(r.try_get::<String, _>("org_id").map_err(db_err)?),
            client_id: r.try_get("client_id").map_err(db_err)?,
            kind: FlowKind::parse(r.try_get("kind").map_err(db_err)?)?,
            flow_type: r.try_get("flow_type").map_err(db_err)?,
            phone_bidx: r.try_get("phone_bidx").map_err(db_err)?,
            data,
            step: Step::parse(r.try_get("step").map_err(db_err)?)?,
            possession: Possession::parse(r.try_get("possession").map_err(db_err)?)?,
            possession_method: r.try_get("possession_method").map_err(db_err)?,
            final_target_url: r.try_get("final_target_url").map_err(db_err)?,
            sms_message: r.try_get("sms_message").map_err(db_err)?,
            allow_otp_retry: r.try_get::<i64, _>("allow_otp_retry").map_err(db_err)? != 0,
            client_customer_id: r.try_get("client_customer_id").map_err(db_err)?,
            client_request_id: r.try_get("client_request_id").map_err(db_err)?,
            otp_hash: r.try_get("otp_hash").map_err(db_err)?,
            otp_expires_at: r.try_get("otp_expires_at").map_err(db_err)?,
            otp_sends: r.try_get("otp_sends").map_err(db_err)?,
            otp_failures: r.try_get("otp_failures").map_err(db_err)?,
            link_hash: r.try_get("link_hash").map_err(db_err)?,
            link_expires_at: r.try_get("link_expires_at").map_err(db_err)?,
            link_sends: r.try_get("link_sends").map_err(db_err)?,
            identity_id: r.try_get("identity_id").map_err(db_err)?,
            version: r.try_get("version").map_err(db_err)?,
            expires_at: r.try_get("expires_at").map_err(db_err)?,
            created_at: r.try_get("created_at").map_err(db_err)?,
            id,
        })
    }

    /// A flow of an organisation.
    pub async fn phone_flow(&self, org: &OrgId, id: &str) -> Result<PhoneFlow> {
        let row = sqlx::query(&self.sql("SELECT * FROM phone_flows WHERE id = $1 AND org_id = $2"))
            .bind(id)
            .bind(org.as_str())
            .fetch_optional(&mut *self.conn().await?)
            .await
            .map_err(db_err)?
            .ok_or(Error::NotFound("flow"))?;
        self.flow_from_row(&row).await
    }

    /// The newest flow of an organisation with this client request id.
    pub async fn phone_flow_by_request(&self, org: &OrgId, request_id: &str) -> Result<PhoneFlow> {
        let row = sqlx::query(&self.sql(
            "SELECT * FROM phone_flows WHERE org_id = $1 AND client_request_id = $2 ORDER BY created_at DESC LIMIT 1",
        ))
        .bind(org.as_str())
        .bind(request_id)
        .fetch_optional(&mut *self.conn().await?)
        .await
        .map_err(db_err)?
        .ok_or(Error::NotFound("flow"))?;
        self.flow_from_row(&row).await
    }

    /// A flow by its id alone (the client SDK's token names it; the token is the
    /// credential).
    pub async fn phone_flow_any_org(&self, id: &str) -> Result<PhoneFlow> {
        let row = sqlx::query(&self.sql("SELECT * FROM phone_flows WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut *self.conn().await?)
            .await
            .map_err(db_err)?
            .ok_or(Error::NotFound("flow"))?;
        self.flow_from_row(&row).await
    }

    /// The flow whose current Instant Link has this digest.
    pub async fn phone_flow_by_link(&self, link_hash: &str) -> Result<PhoneFlow> {
        let row = sqlx::query(&self.sql("SELECT * FROM phone_flows WHERE link_hash = $1"))
            .bind(link_hash)
            .fetch_optional(&mut *self.conn().await?)
            .await
            .map_err(db_err)?
            .ok_or(Error::NotFound("link"))?;
        self.flow_from_row(&row).await
    }

    /// Writes `flow` if nobody changed it since it was read (its `version`), with group
    /// commit; bumps the version. Conflict when someone did: read again and retry. Run
    /// it in a task of its own (see [`Store::write_grouped`]).
    pub async fn save_phone_flow(&self, flow: &mut PhoneFlow) -> Result<()> {
        let sealed = self.seal(flow_slot(&flow.id), flow.data.to_string().as_bytes())?;
        let write = FlowWrite {
            insert: false,
            flow: flow.clone(),
            sealed,
            now: now_millis(),
        };
        if !self.write_grouped(GroupRow::Flow(Box::new(write))).await? {
            return Err(Error::Conflict("the flow changed meanwhile".into()));
        }
        flow.version += 1;
        Ok(())
    }

    /// Deletes flows that ended (expired) more than `grace_ms` ago; returns how many.
    pub async fn purge_phone_flows(&self, grace_ms: i64) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(&self.sql("DELETE FROM phone_flows WHERE expires_at < $1"))
            .bind(now_millis() - grace_ms)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(done.rows_affected())
    }

    /// Enrolls a phone identity.
    pub async fn create_phone_identity(&self, identity: &PhoneIdentity) -> Result<()> {
        let sealed = self.seal(identity_slot(&identity.id), identity.phone.as_bytes())?;
        let now = now_millis();
        let mut tx = self.begin_write().await?;
        sqlx::query(&self.sql(
            "INSERT INTO phone_identities (id, org_id, phone, phone_bidx, client_customer_id, client_human_id, \
             device_id, active, monitored, carrier, line_type, country_code, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)",
        ))
        .bind(&identity.id)
        .bind(identity.org_id.as_str())
        .bind(sealed)
        .bind(self.phone_index(&identity.phone))
        .bind(&identity.client_customer_id)
        .bind(&identity.client_human_id)
        .bind(&identity.device_id)
        .bind(i64::from(identity.active))
        .bind(i64::from(identity.monitored))
        .bind(&identity.carrier)
        .bind(&identity.line_type)
        .bind(&identity.country_code)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(())
    }

    async fn identities_from_rows(&self, rows: &[sqlx::any::AnyRow]) -> Result<Vec<PhoneIdentity>> {
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(self.identity_from_row(r).await?);
        }
        Ok(out)
    }

    async fn identity_from_row(&self, r: &sqlx::any::AnyRow) -> Result<PhoneIdentity> {
        let id: String = r.try_get("id").map_err(db_err)?;
        let sealed: Vec<u8> = r.try_get("phone").map_err(db_err)?;
        let phone = String::from_utf8_lossy(&self.open_sealed(identity_slot(&id), &sealed).await?)
            .into_owned();
        Ok(PhoneIdentity {
            org_id: OrgId::from_string(r.try_get::<String, _>("org_id").map_err(db_err)?),
            phone,
            client_customer_id: r.try_get("client_customer_id").map_err(db_err)?,
            client_human_id: r.try_get("client_human_id").map_err(db_err)?,
            device_id: r.try_get("device_id").map_err(db_err)?,
            active: r.try_get::<i64, _>("active").map_err(db_err)? != 0,
            monitored: r.try_get::<i64, _>("monitored").map_err(db_err)? != 0,
            carrier: r.try_get("carrier").map_err(db_err)?,
            line_type: r.try_get("line_type").map_err(db_err)?,
            country_code: r.try_get("country_code").map_err(db_err)?,
            created_at: r.try_get("created_at").map_err(db_err)?,
            id,
        })
    }

    /// A phone identity of an organisation.
    pub async fn phone_identity(&self, org: &OrgId, id: &str) -> Result<PhoneIdentity> {
        let row =
            sqlx::query(&self.sql("SELECT * FROM phone_identities WHERE id = $1 AND org_id = $2"))
                .bind(id)
                .bind(org.as_str())
                .fetch_optional(&mut *self.conn().await?)
                .await
                .map_err(db_err)?
                .ok_or(Error::NotFound("identity"))?;
        self.identity_from_row(&row).await
    }

    /// Identities of an organisation with this number (active or not), oldest first.
    pub async fn phone_identities_by_number(
        &self,
        org: &OrgId,
        e164: &str,
    ) -> Result<Vec<PhoneIdentity>> {
        let rows = sqlx::query(&self.sql(
            "SELECT * FROM phone_identities WHERE org_id = $1 AND phone_bidx = $2 ORDER BY created_at, id",
        ))
        .bind(org.as_str())
        .bind(self.phone_index(e164))
        .fetch_all(&mut *self.conn().await?)
        .await
        .map_err(db_err)?;
        self.identities_from_rows(&rows).await
    }

    /// Identities of an organisation enrolled for this customer id, newest first.
    pub async fn phone_identities_by_customer(
        &self,
        org: &OrgId,
        customer: &str,
    ) -> Result<Vec<PhoneIdentity>> {
        let rows = sqlx::query(&self.sql(
            "SELECT * FROM phone_identities WHERE org_id = $1 AND client_customer_id = $2 ORDER BY created_at DESC, id",
        ))
        .bind(org.as_str())
        .bind(customer)
        .fetch_all(&mut *self.conn().await?)
        .await
        .map_err(db_err)?;
        self.identities_from_rows(&rows).await
    }

    /// Monitored identities with this number, in every organisation (change events come
    /// from the network per number).
    pub async fn monitored_identities(&self, e164: &str) -> Result<Vec<PhoneIdentity>> {
        let rows = sqlx::query(&self.sql(
            "SELECT * FROM phone_identities WHERE phone_bidx = $1 AND monitored = 1 AND active = 1 ORDER BY created_at",
        ))
        .bind(self.phone_index(e164))
        .fetch_all(&mut *self.conn().await?)
        .await
        .map_err(db_err)?;
        self.identities_from_rows(&rows).await
    }

    /// Records the network's change subscription of an identity.
    pub async fn set_phone_subscription(
        &self,
        org: &OrgId,
        id: &str,
        subscription: &str,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(&self.sql(
            "UPDATE phone_identities SET subscription_id = $1, updated_at = $2 WHERE id = $3 AND org_id = $4",
        ))
        .bind(subscription)
        .bind(now_millis())
        .bind(id)
        .bind(org.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(())
    }

    /// Monitored identities of a network change subscription.
    pub async fn identities_by_subscription(
        &self,
        subscription: &str,
    ) -> Result<Vec<PhoneIdentity>> {
        let rows = sqlx::query(&self.sql(
            "SELECT * FROM phone_identities WHERE subscription_id = $1 AND monitored = 1 AND active = 1",
        ))
        .bind(subscription)
        .fetch_all(&mut *self.conn().await?)
        .await
        .map_err(db_err)?;
        self.identities_from_rows(&rows).await
    }

    /// A page of an organisation's identities after `start_key` (ids ascending).
    pub async fn list_phone_identities(
        &self,
        org: &OrgId,
        start_key: Option<&str>,
        show_inactive: bool,
        limit: i64,
    ) -> Result<Vec<PhoneIdentity>> {
        let rows = sqlx::query(&self.sql(
            "SELECT * FROM phone_identities WHERE org_id = $1 AND id > $2 AND (active = 1 OR $3 = 1) \
             ORDER BY id LIMIT $4",
        ))
        .bind(org.as_str())
        .bind(start_key.unwrap_or(""))
        .bind(i64::from(show_inactive))
        .bind(limit)
        .fetch_all(&mut *self.conn().await?)
        .await
        .map_err(db_err)?;
        self.identities_from_rows(&rows).await
    }

    /// Sets `active` (activate / deactivate); NotFound for another org's id.
    pub async fn set_phone_identity_active(
        &self,
        org: &OrgId,
        id: &str,
        active: bool,
    ) -> Result<()> {
        self.update_identity(org, id, "active", active).await
    }

    /// Ends monitoring after a change event.
    pub async fn end_phone_monitoring(&self, org: &OrgId, id: &str) -> Result<()> {
        self.update_identity(org, id, "monitored", false).await
    }

    /// Monitors an identity again (the number was enrolled again after an event).
    pub async fn resume_phone_monitoring(&self, org: &OrgId, id: &str) -> Result<()> {
        self.update_identity(org, id, "monitored", true).await
    }

    async fn update_identity(
        &self,
        org: &OrgId,
        id: &str,
        column: &str,
        value: bool,
    ) -> Result<()> {
        let column = match column {
            "active" => "active",
            _ => "monitored",
        };
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(&self.sql(&format!(
            "UPDATE phone_identities SET {column} = $1, updated_at = $2 WHERE id = $3 AND org_id = $4"
        )))
        .bind(i64::from(value))
        .bind(now_millis())
        .bind(id)
        .bind(org.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound("identity"));
        }
        tx.commit().await.map_err(db_err)?;
        Ok(())
    }

    /// Records a change event for an identity: ends its monitoring and queues the
    /// `{"notifications": [...]}` body (signed with `X-Prove-Authorization`) to every
    /// webhook of the organisation's keys, in one transaction. False when the identity
    /// was no longer monitored (someone else recorded an event first): nothing is sent.
    pub async fn record_phone_change(
        &self,
        org: &OrgId,
        identity_id: &str,
        body: &Value,
        audit: AuditRecord,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(&self.sql(
            "UPDATE phone_identities SET monitored = 0, updated_at = $1 WHERE id = $2 AND org_id = $3 AND monitored = 1",
        ))
        .bind(now_millis())
        .bind(identity_id)
        .bind(org.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        let rows = sqlx::query(&self.sql(
            "SELECT id, settings FROM api_keys WHERE org_id = $1 AND revoked_at IS NULL AND webhook_disabled_at IS NULL ORDER BY created_at",
        ))
        .bind(org.as_str())
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        let bytes = vouch_core::webhook::wire_json(body).into_bytes();
        let mut outbound = Vec::new();
        for row in rows {
            let settings: KeySettings =
                serde_json::from_str(&row.try_get::<String, _>("settings").map_err(db_err)?)
                    .map_err(|e| Error::Internal(format!("key settings: {e}")))?;
            if let Some(url) = settings.webhook_url {
                outbound.push(Outbound {
                    key_id: KeyId::from_string(row.try_get::<String, _>("id").map_err(db_err)?),
                    url,
                    dialect: Dialect::Phone,
                    body: bytes.clone(),
                });
            }
        }
        self.enqueue_in_tx(&mut tx, org, PHONE_IDENTITY_CHANGE, &outbound)
            .await?;
        append_in_tx(self, &mut tx, &audit).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(true)
    }

    /// Deletes an identity; NotFound for another org's id.
    pub async fn delete_phone_identity(&self, org: &OrgId, id: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let done =
            sqlx::query(&self.sql("DELETE FROM phone_identities WHERE id = $1 AND org_id = $2"))
                .bind(id)
                .bind(org.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound("identity"));
        }
        tx.commit().await.map_err(db_err)?;
        Ok(())
    }
}

//! Digital ID: each organisation's trust list of credential issuers (certificates as PEM,
//! public data; the server parses and checks them) and the OpenID4VP presentation
//! requests of the hosted flow (the response encryption key sealed, answered once).

use crate::audit::append_in_tx;
use crate::crypto::Slot;
use crate::db::{db_err, Store};
use sqlx::any::AnyRow;
use sqlx::Row;
use vouch_core::ids::{OrgId, SessionId};
use vouch_core::model::AuditRecord;
use vouch_core::{now_millis, Error, Millis, Result};

/// The most certificates one organisation's trust list holds.
pub const MAX_TRUST_ANCHORS: usize = 500;

/// A trusted certificate of a credential issuer (an IACA root, a PID issuer's CA, or a
/// pinned signer).
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrustAnchor {
    /// Its id (`ta_…`).
    pub id: String,
    /// The organisation.
    pub org_id: OrgId,
    /// The operator's label (the bundle it came from).
    pub name: String,
    /// The certificate's subject.
    pub subject: String,
    /// SHA-256 of its DER, hex.
    pub fingerprint: String,
    /// The certificate, PEM.
    pub pem: String,
    /// notAfter, milliseconds.
    pub not_after: Millis,
    /// When it was added.
    pub created_at: Millis,
}

/// A certificate to add (parsed and checked by the caller).
pub struct NewTrustAnchor<'a> {
    /// The operator's label.
    pub name: &'a str,
    /// The subject.
    pub subject: &'a str,
    /// SHA-256 of the DER, hex.
    pub fingerprint: &'a str,
    /// PEM.
    pub pem: &'a str,
    /// notAfter, milliseconds.
    pub not_after: Millis,
}

/// An OpenID4VP presentation request of a session.
#[derive(Debug, Clone)]
pub struct PresentationRequest {
    /// The id: also the `state`, and the last segment of its request and response URIs.
    pub id: String,
    /// The organisation.
    pub org_id: OrgId,
    /// The session it belongs to.
    pub session_id: SessionId,
    /// The nonce the key-binding must carry.
    pub nonce: String,
    /// The client id it was issued under (the key-binding audience).
    pub client_id: String,
    /// The claims asked for (vouch's names).
    pub claims: Vec<String>,
    /// The response encryption key (opened).
    pub enc_key: Vec<u8>,
    /// When it was made.
    pub created_at: Millis,
    /// After this the wallet's fetch and answer are refused.
    pub expires_at: Millis,
    /// When it was answered (once).
    pub answered_at: Option<Millis>,
}

fn enc_key_slot(id: &str) -> Slot<'_> {
    Slot {
        table: "presentation_requests",
        column: "enc_key",
        row: id,
    }
}

fn anchor_from_row(r: &AnyRow) -> Result<TrustAnchor> {
    Ok(TrustAnchor {
        id: r.try_get("id").map_err(db_err)?,
        org_id: OrgId::from_string(r.try_get::<String, _>("org_id").map_err(db_err)?),
        name: r.try_get("name").map_err(db_err)?,
        subject: r.try_get("subject").map_err(db_err)?,
        fingerprint: r.try_get("fingerprint").map_err(db_err)?,
        pem: r.try_get("pem").map_err(db_err)?,
        not_after: r.try_get("not_after").map_err(db_err)?,
        created_at: r.try_get("created_at").map_err(db_err)?,
    })
}

impl Store {
    /// Adds a certificate to an organisation's trust list; a certificate already there
    /// (same fingerprint) is a conflict.
    pub async fn add_trust_anchor(
        &self,
        org: &OrgId,
        new: &NewTrustAnchor<'_>,
        audit: AuditRecord,
    ) -> Result<TrustAnchor> {
        let name = new.name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(Error::Invalid("name must be 1 to 200 characters".into()));
        }
        if new.pem.len() > 64 * 1024 {
            return Err(Error::Invalid(
                "a certificate is at most 64 KiB of PEM".into(),
            ));
        }
        let id = format!("ta_{}", uuid::Uuid::new_v4().simple());
        let now = now_millis();
        let mut tx = self.begin_write().await?;
        let count: i64 =
            sqlx::query(&self.sql("SELECT COUNT(*) AS n FROM trust_anchors WHERE org_id = $1"))
                .bind(org.as_str())
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?
                .try_get("n")
                .map_err(db_err)?;
        if count as usize >= MAX_TRUST_ANCHORS {
            return Err(Error::Invalid(format!(
                "a trust list holds at most {MAX_TRUST_ANCHORS} certificates"
            )));
        }
        let exists = sqlx::query(
            &self.sql("SELECT id FROM trust_anchors WHERE org_id = $1 AND fingerprint = $2"),
        )
        .bind(org.as_str())
        .bind(new.fingerprint)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        if exists.is_some() {
            return Err(Error::Conflict(format!(
                "{} is already in the trust list",
                new.subject
            )));
        }
        sqlx::query(&self.sql(
            "INSERT INTO trust_anchors (id, org_id, name, subject, fingerprint, pem, not_after, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        ))
        .bind(&id)
        .bind(org.as_str())
        .bind(name)
        .bind(new.subject)
        .bind(new.fingerprint)
        .bind(new.pem)
        .bind(new.not_after)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        let audit = audit
            .in_org(org)
            .target(&id)
            .details(serde_json::json!({"subject": new.subject, "fingerprint": new.fingerprint}));
        append_in_tx(self, &mut tx, &audit).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(TrustAnchor {
            id,
            org_id: org.clone(),
            name: name.to_string(),
            subject: new.subject.to_string(),
            fingerprint: new.fingerprint.to_string(),
            pem: new.pem.to_string(),
            not_after: new.not_after,
            created_at: now,
        })
    }

    /// An organisation's trust list, oldest first.
    pub async fn list_trust_anchors(&self, org: &OrgId) -> Result<Vec<TrustAnchor>> {
        let rows = sqlx::query(
            &self.sql("SELECT * FROM trust_anchors WHERE org_id = $1 ORDER BY created_at, id"),
        )
        .bind(org.as_str())
        .fetch_all(&mut *self.conn().await?)
        .await
        .map_err(db_err)?;
        rows.iter().map(anchor_from_row).collect()
    }

    /// Removes a certificate from an organisation's trust list.
    pub async fn remove_trust_anchor(
        &self,
        org: &OrgId,
        id: &str,
        audit: AuditRecord,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let done =
            sqlx::query(&self.sql("DELETE FROM trust_anchors WHERE id = $1 AND org_id = $2"))
                .bind(id)
                .bind(org.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound("trust anchor"));
        }
        append_in_tx(self, &mut tx, &audit.in_org(org).target(id)).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(())
    }

    /// Stores a new presentation request (its encryption key sealed).
    pub async fn create_presentation_request(&self, r: &PresentationRequest) -> Result<()> {
        let sealed = self.seal(enc_key_slot(&r.id), &r.enc_key)?;
        let claims = serde_json::to_string(&r.claims)
            .map_err(|e| Error::Internal(format!("claims: {e}")))?;
        let mut tx = self.begin_write().await?;
        sqlx::query(&self.sql(
            "INSERT INTO presentation_requests (id, org_id, session_id, nonce, client_id, claims, enc_key, \
             created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        ))
        .bind(&r.id)
        .bind(r.org_id.as_str())
        .bind(r.session_id.as_str())
        .bind(&r.nonce)
        .bind(&r.client_id)
        .bind(claims)
        .bind(sealed)
        .bind(r.created_at)
        .bind(r.expires_at)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(())
    }

    /// A presentation request by its id (any organisation: the id is an unguessable
    /// bearer value, like a session token).
    pub async fn presentation_request(&self, id: &str) -> Result<Option<PresentationRequest>> {
        let row = sqlx::query(&self.sql("SELECT * FROM presentation_requests WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut *self.conn().await?)
            .await
            .map_err(db_err)?;
        let Some(r) = row else {
            return Ok(None);
        };
        let sealed: Vec<u8> = r.try_get("enc_key").map_err(db_err)?;
        let claims: String = r.try_get("claims").map_err(db_err)?;
        Ok(Some(PresentationRequest {
            enc_key: self.open_sealed(enc_key_slot(id), &sealed).await?,
            id: r.try_get("id").map_err(db_err)?,
            org_id: OrgId::from_string(r.try_get::<String, _>("org_id").map_err(db_err)?),
            session_id: SessionId::from_string(
                r.try_get::<String, _>("session_id").map_err(db_err)?,
            ),
            nonce: r.try_get("nonce").map_err(db_err)?,
            client_id: r.try_get("client_id").map_err(db_err)?,
            claims: serde_json::from_str(&claims)
                .map_err(|e| Error::Internal(format!("claims: {e}")))?,
            created_at: r.try_get("created_at").map_err(db_err)?,
            expires_at: r.try_get("expires_at").map_err(db_err)?,
            answered_at: r.try_get("answered_at").map_err(db_err)?,
        }))
    }

    /// Marks a request answered; false when it already was (a replayed response) or has
    /// expired. Exactly one caller gets true.
    pub async fn answer_presentation_request(&self, id: &str, now: Millis) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(&self.sql(
            "UPDATE presentation_requests SET answered_at = $1 \
             WHERE id = $2 AND answered_at IS NULL AND expires_at > $1",
        ))
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    /// The newest presentation request of a session, if any.
    pub async fn latest_presentation_request(
        &self,
        org: &OrgId,
        session: &SessionId,
    ) -> Result<Option<PresentationRequest>> {
        let row = sqlx::query(&self.sql(
            "SELECT id FROM presentation_requests WHERE org_id = $1 AND session_id = $2 \
             ORDER BY created_at DESC LIMIT 1",
        ))
        .bind(org.as_str())
        .bind(session.as_str())
        .fetch_optional(&mut *self.conn().await?)
        .await
        .map_err(db_err)?;
        match row {
            Some(r) => {
                self.presentation_request(&r.try_get::<String, _>("id").map_err(db_err)?)
                    .await
            }
            None => Ok(None),
        }
    }
}

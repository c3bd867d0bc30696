//! Human presence sessions and the ES256 keys that sign Human Presence Tokens.
//!
//! An agent (service token) opens a session; the person scans their face on the page at
//! its URL; the session becomes VERIFIED with who was seen; the agent fetches a signed
//! token (JWT, ES256, `kid` in the header, public keys at `/.well-known/jwks.json`) that
//! anyone can verify offline, and that vouch redeems at most once when asked to.

use crate::crypto::Slot;
use crate::db::{db_err, Store};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::Value;
use sqlx::Row;
use vouch_core::ids::{OrgId, PersonId, PresenceId, TokenId};
use vouch_core::{now_millis, Error, Millis, Result};

/// Where a presence session is (states and transitions in `vouch_core::presence`).
pub use vouch_core::presence::PresenceStatus;

/// A presence session, opened.
#[derive(Debug, Clone)]
pub struct PresenceSession {
    /// Its id.
    pub id: PresenceId,
    /// The organisation.
    pub org_id: OrgId,
    /// The service token that opened it.
    pub token_id: TokenId,
    /// Why the agent asks.
    pub purpose: String,
    /// Only this e-mail's person may answer.
    pub email_lock: Option<String>,
    /// Bound into the token.
    pub nonce: Option<String>,
    /// The token's lifetime after verification.
    pub ttl_seconds: i64,
    /// Where it is.
    pub status: PresenceStatus,
    /// Who was seen.
    pub person_id: Option<PersonId>,
    /// Their e-mail.
    pub verified_email: Option<String>,
    /// When.
    pub verified_at: Option<Millis>,
    /// Scores of the scan.
    pub composite: Option<f64>,
    /// Passive liveness of the scan.
    pub liveness: Option<f64>,
    /// The token's id once issued.
    pub jti: Option<String>,
    /// When the session stops accepting a scan.
    pub expires_at: Millis,
    /// When it was opened.
    pub created_at: Millis,
}

fn slot<'a>(id: &'a str, column: &'a str) -> Slot<'a> {
    Slot {
        table: "presence_sessions",
        column,
        row: id,
    }
}

/// A signing key's public half, as a JWK.
#[derive(Debug, Clone)]
pub struct PublicKey {
    /// Key id.
    pub kid: String,
    /// Uncompressed P-256 point (0x04 ‖ x ‖ y).
    pub point: Vec<u8>,
}

impl PublicKey {
    /// The JWK of the key.
    pub fn jwk(&self) -> Value {
        let (x, y) = self.point[1..].split_at(32);
        serde_json::json!({
            "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": self.kid,
            "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y),
        })
    }
}

impl Store {
    /// Opens a presence session.
    #[allow(clippy::too_many_arguments)]
    pub async fn create_presence(
        &self,
        org: &OrgId,
        token: &TokenId,
        purpose: &str,
        email_lock: Option<&str>,
        nonce: Option<&str>,
        ttl_seconds: i64,
        page_hash: &str,
        expires_at: Millis,
    ) -> Result<PresenceSession> {
        let id = PresenceId::generate();
        let now = now_millis();
        let email = email_lock.map(|e| e.trim().to_lowercase());
        let sealed = match &email {
            Some(e) => Some(self.seal(slot(id.as_str(), "email_lock"), e.as_bytes())?),
            None => None,
        };
        let bidx = email
            .as_deref()
            .map(|e| self.blind_index("persons.email", e));
        let mut tx = self.begin_write().await?;
        sqlx::query(&self.sql(
            "INSERT INTO presence_sessions (id, org_id, token_id, purpose, email_lock, email_lock_bidx, nonce, \
             ttl_seconds, status, page_hash, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'PENDING', $9, $10, $11)",
        ))
        .bind(id.as_str())
        .bind(org.as_str())
        .bind(token.as_str())
        .bind(purpose)
        .bind(sealed)
        .bind(bidx)
        .bind(nonce)
        .bind(ttl_seconds)
        .bind(page_hash)
        .bind(expires_at)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        self.presence(org, &id).await
    }

    async fn presence_from_row(&self, r: &sqlx::any::AnyRow) -> Result<PresenceSession> {
        let id: String = r.try_get("id").map_err(db_err)?;
        let open = |col: &'static str, v: Option<Vec<u8>>| {
            let id = id.clone();
            async move {
                match v {
                    Some(b) => {
                        let plain = self.open_sealed(slot(&id, col), &b).await?;
                        Ok::<_, Error>(Some(String::from_utf8_lossy(&plain).into_owned()))
                    }
                    None => Ok(None),
                }
            }
        };
        let status: String = r.try_get("status").map_err(db_err)?;
        let expires_at: Millis = r.try_get("expires_at").map_err(db_err)?;
        let status = PresenceStatus::parse(&status)?.at(expires_at, now_millis());
        Ok(PresenceSession {
            email_lock: open("email_lock", r.try_get("email_lock").map_err(db_err)?).await?,
            verified_email: open(
                "verified_email",
                r.try_get("verified_email").map_err(db_err)?,
            )
            .await?,
            id: PresenceId::from_string(id.clone()),
            org_id: OrgId::from_string(r.try_get::<String, _>("org_id").map_err(db_err)?),
            token_id: TokenId::from_string(r.try_get::<String, _>("token_id").map_err(db_err)?),
            purpose: r.try_get("purpose").map_err(db_err)?,
            nonce: r.try_get("nonce").map_err(db_err)?,
            ttl_seconds: r.try_get("ttl_seconds").map_err(db_err)?,
            status,
            person_id: r
                .try_get::<Option<String>, _>("person_id")
                .map_err(db_err)?
                .map(PersonId::from_string),
            verified_at: r.try_get("verified_at").map_err(db_err)?,
            composite: r.try_get("composite").map_err(db_err)?,
            liveness: r.try_get("liveness").map_err(db_err)?,
            jti: r.try_get("jti").map_err(db_err)?,
            expires_at,
            created_at: r.try_get("created_at").map_err(db_err)?,
        })
    }

    /// A presence session of an organisation (a due PENDING one reads as EXPIRED).
    pub async fn presence(&self, org: &OrgId, id: &PresenceId) -> Result<PresenceSession> {
        let row =
            sqlx::query(&self.sql("SELECT * FROM presence_sessions WHERE id = $1 AND org_id = $2"))
                .bind(id.as_str())
                .bind(org.as_str())
                .fetch_optional(&mut *self.conn().await?)
                .await
                .map_err(db_err)?
                .ok_or(Error::NotFound("presence session"))?;
        self.presence_from_row(&row).await
    }

    /// The presence session of a page token digest.
    pub async fn presence_by_page(&self, page_hash: &str) -> Result<PresenceSession> {
        let row = sqlx::query(&self.sql("SELECT * FROM presence_sessions WHERE page_hash = $1"))
            .bind(page_hash)
            .fetch_optional(&mut *self.conn().await?)
            .await
            .map_err(db_err)?
            .ok_or(Error::NotFound("presence session"))?;
        self.presence_from_row(&row).await
    }

    /// Marks a PENDING, unexpired session VERIFIED by `person`; Conflict otherwise.
    pub async fn verify_presence(
        &self,
        org: &OrgId,
        id: &PresenceId,
        person: &PersonId,
        email: &str,
        composite: f64,
        liveness: f64,
    ) -> Result<PresenceSession> {
        let now = now_millis();
        let sealed = self.seal(slot(id.as_str(), "verified_email"), email.as_bytes())?;
        let jti = uuid::Uuid::new_v4().to_string();
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(&self.sql(
            "UPDATE presence_sessions SET status = 'VERIFIED', person_id = $1, verified_email = $2, \
             verified_at = $3, composite = $4, liveness = $5, jti = $6 \
             WHERE id = $7 AND org_id = $8 AND status = 'PENDING' AND expires_at > $3",
        ))
        .bind(person.as_str())
        .bind(sealed)
        .bind(now)
        .bind(composite)
        .bind(liveness)
        .bind(jti)
        .bind(id.as_str())
        .bind(org.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(Error::Conflict(
                "the presence session is no longer waiting for a scan".into(),
            ));
        }
        tx.commit().await.map_err(db_err)?;
        self.presence(org, id).await
    }

    /// Redeems a token id once: true the first time, false after.
    pub async fn redeem_presence_token(&self, org: &OrgId, jti: &str) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(&self.sql(
            "UPDATE presence_sessions SET redeemed_at = $1 WHERE jti = $2 AND org_id = $3 AND redeemed_at IS NULL",
        ))
        .bind(now_millis())
        .bind(jti)
        .bind(org.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    /// The current ES256 signing key (kid, PKCS#8 DER), created (sealed) on first use.
    /// The store keeps key material; signing and verification are `vouch_app::tokens`'.
    pub async fn es256_signing_key(&self) -> Result<(String, Vec<u8>)> {
        let rng = SystemRandom::new();
        if let Some(row) = sqlx::query(
            &self.sql("SELECT kid, private_sealed FROM signing_keys WHERE alg = 'ES256' ORDER BY created_at DESC LIMIT 1"),
        )
        .fetch_optional(&mut *self.conn().await?)
        .await
        .map_err(db_err)?
        {
            let kid: String = row.try_get("kid").map_err(db_err)?;
            let sealed: Vec<u8> = row.try_get("private_sealed").map_err(db_err)?;
            let pkcs8 = self
                .open_sealed(
                    Slot {
                        table: "signing_keys",
                        column: "private_sealed",
                        row: &kid,
                    },
                    &sealed,
                )
                .await?;
            return Ok((kid, pkcs8));
        }
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|e| Error::Internal(format!("signing key: {e}")))?;
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .map_err(|e| Error::Internal(format!("signing key: {e}")))?;
        let kid = format!("hpt-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let sealed = self.seal(
            Slot {
                table: "signing_keys",
                column: "private_sealed",
                row: &kid,
            },
            pkcs8.as_ref(),
        )?;
        let mut tx = self.begin_write().await?;
        sqlx::query(&self.sql(
            "INSERT INTO signing_keys (kid, alg, private_sealed, public_key, created_at) VALUES ($1, 'ES256', $2, $3, $4)",
        ))
        .bind(&kid)
        .bind(sealed)
        .bind(pair.public_key().as_ref().to_vec())
        .bind(now_millis())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok((kid, pkcs8.as_ref().to_vec()))
    }

    /// The HS256 secret (32 random bytes, sealed), created on first use; cached.
    pub async fn hs256_secret(&self) -> Result<(String, Vec<u8>)> {
        if let Ok(guard) = self.hs256_cache.read() {
            if let Some(cached) = guard.as_ref() {
                return Ok(cached.clone());
            }
        }
        let fresh = self.hs256_secret_uncached().await?;
        if let Ok(mut guard) = self.hs256_cache.write() {
            *guard = Some(fresh.clone());
        }
        Ok(fresh)
    }

    async fn hs256_secret_uncached(&self) -> Result<(String, Vec<u8>)> {
        if let Some(row) = sqlx::query(&self.sql(
            "SELECT kid, private_sealed FROM signing_keys WHERE alg = 'HS256' ORDER BY created_at, kid LIMIT 1",
        ))
        .fetch_optional(&mut *self.conn().await?)
        .await
        .map_err(db_err)?
        {
            let kid: String = row.try_get("kid").map_err(db_err)?;
            let sealed: Vec<u8> = row.try_get("private_sealed").map_err(db_err)?;
            let secret = self
                .open_sealed(
                    Slot {
                        table: "signing_keys",
                        column: "private_sealed",
                        row: &kid,
                    },
                    &sealed,
                )
                .await?;
            return Ok((kid, secret));
        }
        let mut secret = vec![0u8; 32];
        ring::rand::SecureRandom::fill(&SystemRandom::new(), &mut secret)
            .map_err(|_| Error::Internal("no randomness".into()))?;
        let kid = format!("hs-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let sealed = self.seal(
            Slot {
                table: "signing_keys",
                column: "private_sealed",
                row: &kid,
            },
            &secret,
        )?;
        let mut tx = self.begin_write().await?;
        sqlx::query(&self.sql(
            "INSERT INTO signing_keys (kid, alg, private_sealed, public_key, created_at) VALUES ($1, 'HS256', $2, $3, $4)",
        ))
        .bind(&kid)
        .bind(sealed)
        .bind(Vec::<u8>::new())
        .bind(now_millis())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        // Two nodes (or two requests) may create one at once: everyone uses the oldest,
        // so all converge on one secret.
        Box::pin(self.hs256_secret_uncached()).await
    }

    /// Every public signing key (for the JWKS document and verification).
    pub async fn public_keys(&self) -> Result<Vec<PublicKey>> {
        let rows = sqlx::query(&self.sql(
            "SELECT kid, public_key FROM signing_keys WHERE alg = 'ES256' ORDER BY created_at",
        ))
        .fetch_all(&mut *self.conn().await?)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(PublicKey {
                    kid: r.try_get("kid").map_err(db_err)?,
                    point: r.try_get("public_key").map_err(db_err)?,
                })
            })
            .collect()
    }
}

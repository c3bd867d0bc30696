//! Console administrators: accounts (sealed e-mail, argon2id password set through a
//! one-time link), sessions (the token is stored as its SHA-256; a session is at stage
//! `password` while 2FA is pending and `full` after), passkeys and the face template for
//! 2FA. Hashing and verification of passwords happen in the server; the store keeps the
//! PHC strings.

use crate::crypto::Slot;
use crate::db::{db_err, Store};
use sha2::{Digest, Sha256};
use sqlx::Row;
use vouch_core::admin_login::LoginStage;
use vouch_core::ids::OrgId;
use vouch_core::{now_millis, Error, Millis, Result};

/// Days a new admin has to enrol a second factor.
pub const ENROLL_DAYS: i64 = 7;
/// Lifetime of a setup link.
pub const SETUP_TTL_MS: Millis = 72 * 3600 * 1000;

/// An admin account.
#[derive(Debug, Clone)]
pub struct Admin {
    /// `adm_…`.
    pub id: String,
    /// The organisation it administers.
    pub org_id: OrgId,
    /// E-mail (opened).
    pub email: String,
    /// argon2id PHC string, once set.
    pub password_hash: Option<String>,
    /// Sealed face template for face 2FA (L2-normalised embedding), when enrolled.
    pub face_template: Option<Vec<f32>>,
    /// When biometric consent was given.
    pub face_consent_at: Option<Millis>,
    /// The 2FA enrolment deadline.
    pub enroll_by: Millis,
    /// When created.
    pub created_at: Millis,
}

/// A console session.
#[derive(Debug, Clone)]
pub struct AdminSession {
    /// Session id.
    pub id: String,
    /// The admin.
    pub admin_id: String,
    /// The organisation.
    pub org_id: OrgId,
    /// Where the sign-in is (`vouch_core::admin_login`).
    pub stage: LoginStage,
    /// The CSRF token of the session's forms.
    pub csrf: String,
    /// A pending WebAuthn ceremony's state (serialised), if any.
    pub challenge: Option<Vec<u8>>,
    /// When created.
    pub created_at: Millis,
    /// Last request.
    pub last_seen_at: Millis,
    /// Absolute end.
    pub expires_at: Millis,
}

/// A registered passkey.
#[derive(Debug, Clone)]
pub struct AdminPasskey {
    /// `cred_…`.
    pub id: String,
    /// The admin.
    pub admin_id: String,
    /// The WebAuthn credential id (base64url).
    pub credential_id: String,
    /// The serialised credential (webauthn-rs `Passkey`, JSON), opened.
    pub passkey: Vec<u8>,
    /// Friendly name.
    pub name: String,
    /// When registered.
    pub created_at: Millis,
    /// Last login with it.
    pub last_used_at: Option<Millis>,
}

/// SHA-256 hex of a secret token.
pub fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

const EMAIL_INDEX: &str = "admins.email";

fn slot<'a>(id: &'a str, column: &'a str) -> Slot<'a> {
    Slot {
        table: "admins",
        column,
        row: id,
    }
}

fn passkey_slot(id: &str) -> Slot<'_> {
    Slot {
        table: "admin_passkeys",
        column: "passkey",
        row: id,
    }
}

fn normalise(email: &str) -> String {
    email.trim().to_lowercase()
}

impl Store {
    /// Creates an admin with a one-time setup token digest (or a password hash).
    pub async fn create_admin(
        &self,
        org: &OrgId,
        email: &str,
        password_hash: Option<&str>,
        setup_hash: Option<&str>,
    ) -> Result<Admin> {
        let email = normalise(email);
        let id = format!("adm_{}", uuid::Uuid::new_v4().simple());
        let now = now_millis();
        let sealed = self.seal(slot(&id, "email"), email.as_bytes())?;
        let bidx = self.blind_index(EMAIL_INDEX, &email);
        let mut tx = self.begin_write().await?;
        let exists = sqlx::query(&self.sql("SELECT id FROM admins WHERE email_bidx = $1"))
            .bind(&bidx)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
        if exists.is_some() {
            return Err(Error::Conflict("an admin with this e-mail exists".into()));
        }
        sqlx::query(&self.sql(
            "INSERT INTO admins (id, org_id, email, email_bidx, password_hash, setup_hash, setup_expires_at, \
             enroll_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
        ))
        .bind(&id)
        .bind(org.as_str())
        .bind(sealed)
        .bind(bidx)
        .bind(password_hash)
        .bind(setup_hash)
        .bind(setup_hash.map(|_| now + SETUP_TTL_MS))
        .bind(now + ENROLL_DAYS * 24 * 3600 * 1000)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        self.admin(&id).await
    }

    async fn admin_from_row(&self, r: &sqlx::any::AnyRow) -> Result<Admin> {
        let id: String = r.try_get("id").map_err(db_err)?;
        let sealed: Vec<u8> = r.try_get("email").map_err(db_err)?;
        let email = String::from_utf8_lossy(&self.open_sealed(slot(&id, "email"), &sealed).await?)
            .into_owned();
        let face: Option<Vec<u8>> = r.try_get("face_template").map_err(db_err)?;
        let face_template = match face {
            Some(b) => {
                let plain = self.open_sealed(slot(&id, "face_template"), &b).await?;
                Some(
                    plain
                        .chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect(),
                )
            }
            None => None,
        };
        Ok(Admin {
            org_id: OrgId::from_string(r.try_get::<String, _>("org_id").map_err(db_err)?),
            email,
            password_hash: r.try_get("password_hash").map_err(db_err)?,
            face_template,
            face_consent_at: r.try_get("face_consent_at").map_err(db_err)?,
            enroll_by: r.try_get("enroll_by").map_err(db_err)?,
            created_at: r.try_get("created_at").map_err(db_err)?,
            id,
        })
    }

    /// An admin by id.
    pub async fn admin(&self, id: &str) -> Result<Admin> {
        let row = sqlx::query(&self.sql("SELECT * FROM admins WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut *self.conn().await?)
            .await
            .map_err(db_err)?
            .ok_or(Error::NotFound("admin"))?;
        self.admin_from_row(&row).await
    }

    /// An admin by e-mail (any organisation: e-mails are unique).
    pub async fn admin_by_email(&self, email: &str) -> Result<Option<Admin>> {
        let bidx = self.blind_index(EMAIL_INDEX, &normalise(email));
        let row = sqlx::query(&self.sql("SELECT * FROM admins WHERE email_bidx = $1"))
            .bind(bidx)
            .fetch_optional(&mut *self.conn().await?)
            .await
            .map_err(db_err)?;
        match row {
            Some(r) => Ok(Some(self.admin_from_row(&r).await?)),
            None => Ok(None),
        }
    }

    /// Whether any organisation has an admin (a fresh install has none: `vouch serve`
    /// then offers a one-time link that creates the first one).
    pub async fn has_admins(&self) -> Result<bool> {
        let row = sqlx::query(&self.sql("SELECT id FROM admins LIMIT 1"))
            .fetch_optional(&mut *self.conn().await?)
            .await
            .map_err(db_err)?;
        Ok(row.is_some())
    }

    /// The admins of an organisation.
    pub async fn list_admins(&self, org: &OrgId) -> Result<Vec<Admin>> {
        let rows =
            sqlx::query(&self.sql("SELECT * FROM admins WHERE org_id = $1 ORDER BY created_at"))
                .bind(org.as_str())
                .fetch_all(&mut *self.conn().await?)
                .await
                .map_err(db_err)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push(self.admin_from_row(r).await?);
        }
        Ok(out)
    }

    /// Redeems a setup token: sets the password hash once, if the token is valid.
    /// Returns the admin, or None for an unknown, used or expired token.
    pub async fn complete_admin_setup(
        &self,
        setup_hash: &str,
        password_hash: &str,
    ) -> Result<Option<Admin>> {
        let now = now_millis();
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            &self.sql("SELECT id FROM admins WHERE setup_hash = $1 AND setup_expires_at > $2"),
        )
        .bind(setup_hash)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let id: String = row.try_get("id").map_err(db_err)?;
        sqlx::query(&self.sql(
            "UPDATE admins SET password_hash = $1, setup_hash = NULL, setup_expires_at = NULL, updated_at = $2 WHERE id = $3",
        ))
        .bind(password_hash)
        .bind(now)
        .bind(&id)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(Some(self.admin(&id).await?))
    }

    /// Sets an admin's password hash.
    pub async fn set_admin_password(&self, id: &str, password_hash: &str) -> Result<()> {
        self.update_admin(id, "password_hash", Some(password_hash.to_string()))
            .await
    }

    /// Moves the 2FA enrolment deadline (operators unblock an admin who missed it).
    pub async fn set_admin_enroll_by(&self, id: &str, enroll_by: Millis) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(&self.sql("UPDATE admins SET enroll_by = $1, updated_at = $2 WHERE id = $3"))
            .bind(enroll_by)
            .bind(now_millis())
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(())
    }

    async fn update_admin(&self, id: &str, column: &str, value: Option<String>) -> Result<()> {
        let column = match column {
            "password_hash" => "password_hash",
            _ => return Err(Error::Internal("unknown admin column".into())),
        };
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(&self.sql(&format!(
            "UPDATE admins SET {column} = $1, updated_at = $2 WHERE id = $3"
        )))
        .bind(value)
        .bind(now_millis())
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound("admin"));
        }
        tx.commit().await.map_err(db_err)?;
        Ok(())
    }

    /// Records biometric consent and the face template (sealed), or removes both.
    pub async fn set_admin_face(&self, id: &str, template: Option<&[f32]>) -> Result<()> {
        let sealed = match template {
            Some(t) => {
                let bytes: Vec<u8> = t.iter().flat_map(|v| v.to_le_bytes()).collect();
                Some(self.seal(slot(id, "face_template"), &bytes)?)
            }
            None => None,
        };
        let now = now_millis();
        let mut tx = self.begin_write().await?;
        sqlx::query(&self.sql(
            "UPDATE admins SET face_template = $1, face_consent_at = $2, updated_at = $3 WHERE id = $4",
        ))
        .bind(sealed)
        .bind(template.map(|_| now))
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(())
    }

    /// Opens a session; `token_hash` is the digest of the token given to the browser.
    pub async fn create_admin_session(
        &self,
        admin: &Admin,
        token_hash: &str,
        stage: LoginStage,
        csrf: &str,
        expires_at: Millis,
    ) -> Result<AdminSession> {
        let id = format!("as_{}", uuid::Uuid::new_v4().simple());
        let now = now_millis();
        let mut tx = self.begin_write().await?;
        sqlx::query(&self.sql(
            "INSERT INTO admin_sessions (id, token_hash, admin_id, org_id, stage, csrf, created_at, last_seen_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)",
        ))
        .bind(&id)
        .bind(token_hash)
        .bind(&admin.id)
        .bind(admin.org_id.as_str())
        .bind(stage.as_str())
        .bind(csrf)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(AdminSession {
            id,
            admin_id: admin.id.clone(),
            org_id: admin.org_id.clone(),
            stage,
            csrf: csrf.into(),
            challenge: None,
            created_at: now,
            last_seen_at: now,
            expires_at,
        })
    }

    /// A live session by token digest (not expired; the caller checks idleness).
    pub async fn admin_session(&self, token_hash: &str) -> Result<Option<AdminSession>> {
        let row = sqlx::query(
            &self.sql("SELECT * FROM admin_sessions WHERE token_hash = $1 AND expires_at > $2"),
        )
        .bind(token_hash)
        .bind(now_millis())
        .fetch_optional(&mut *self.conn().await?)
        .await
        .map_err(db_err)?;
        let Some(r) = row else {
            return Ok(None);
        };
        Ok(Some(AdminSession {
            id: r.try_get("id").map_err(db_err)?,
            admin_id: r.try_get("admin_id").map_err(db_err)?,
            org_id: OrgId::from_string(r.try_get::<String, _>("org_id").map_err(db_err)?),
            stage: LoginStage::parse(r.try_get("stage").map_err(db_err)?)?,
            csrf: r.try_get("csrf").map_err(db_err)?,
            challenge: r.try_get("challenge").map_err(db_err)?,
            created_at: r.try_get("created_at").map_err(db_err)?,
            last_seen_at: r.try_get("last_seen_at").map_err(db_err)?,
            expires_at: r.try_get("expires_at").map_err(db_err)?,
        }))
    }

    /// Marks a session used now (idle timeout).
    pub async fn touch_admin_session(&self, id: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(&self.sql("UPDATE admin_sessions SET last_seen_at = $1 WHERE id = $2"))
            .bind(now_millis())
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(())
    }

    /// Stores (or clears) a session's pending WebAuthn ceremony state.
    pub async fn set_admin_challenge(&self, id: &str, state: Option<&[u8]>) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(&self.sql("UPDATE admin_sessions SET challenge = $1 WHERE id = $2"))
            .bind(state.map(<[u8]>::to_vec))
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(())
    }

    /// Ends a session.
    pub async fn delete_admin_session(&self, id: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(&self.sql("DELETE FROM admin_sessions WHERE id = $1"))
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(())
    }

    /// Stores a passkey (the credential sealed).
    pub async fn add_admin_passkey(
        &self,
        admin: &Admin,
        credential_id: &str,
        passkey: &[u8],
        name: &str,
    ) -> Result<AdminPasskey> {
        let id = format!("cred_{}", uuid::Uuid::new_v4().simple());
        let now = now_millis();
        let sealed = self.seal(passkey_slot(&id), passkey)?;
        let mut tx = self.begin_write().await?;
        sqlx::query(&self.sql(
            "INSERT INTO admin_passkeys (id, admin_id, org_id, credential_id, passkey, name, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        ))
        .bind(&id)
        .bind(&admin.id)
        .bind(admin.org_id.as_str())
        .bind(credential_id)
        .bind(sealed)
        .bind(name)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(AdminPasskey {
            id,
            admin_id: admin.id.clone(),
            credential_id: credential_id.into(),
            passkey: passkey.to_vec(),
            name: name.into(),
            created_at: now,
            last_used_at: None,
        })
    }

    /// An admin's passkeys, oldest first.
    pub async fn admin_passkeys(&self, admin_id: &str) -> Result<Vec<AdminPasskey>> {
        let rows = sqlx::query(
            &self.sql("SELECT * FROM admin_passkeys WHERE admin_id = $1 ORDER BY created_at, id"),
        )
        .bind(admin_id)
        .fetch_all(&mut *self.conn().await?)
        .await
        .map_err(db_err)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let id: String = r.try_get("id").map_err(db_err)?;
            let sealed: Vec<u8> = r.try_get("passkey").map_err(db_err)?;
            out.push(AdminPasskey {
                passkey: self.open_sealed(passkey_slot(&id), &sealed).await?,
                admin_id: r.try_get("admin_id").map_err(db_err)?,
                credential_id: r.try_get("credential_id").map_err(db_err)?,
                name: r.try_get("name").map_err(db_err)?,
                created_at: r.try_get("created_at").map_err(db_err)?,
                last_used_at: r.try_get("last_used_at").map_err(db_err)?,
                id,
            });
        }
        Ok(out)
    }

    /// Replaces a passkey's stored credential after a login (its counter moved) and
    /// records the use.
    pub async fn update_admin_passkey(&self, id: &str, passkey: &[u8]) -> Result<()> {
        let sealed = self.seal(passkey_slot(id), passkey)?;
        let mut tx = self.begin_write().await?;
        sqlx::query(
            &self.sql("UPDATE admin_passkeys SET passkey = $1, last_used_at = $2 WHERE id = $3"),
        )
        .bind(sealed)
        .bind(now_millis())
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(())
    }

    /// Removes a second factor of an admin, a passkey (`Some(id)`) or face 2FA (`None`),
    /// unless it is their last one: the count and the delete happen in one write
    /// transaction, so two concurrent removals cannot take both factors. NotFound for a
    /// factor the admin does not have; Conflict for the last one.
    pub async fn remove_admin_factor(&self, admin_id: &str, passkey: Option<&str>) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let passkeys: i64 =
            sqlx::query(&self.sql("SELECT COUNT(*) AS n FROM admin_passkeys WHERE admin_id = $1"))
                .bind(admin_id)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?
                .try_get("n")
                .map_err(db_err)?;
        let face: i64 =
            sqlx::query(&self.sql(
                "SELECT COUNT(*) AS n FROM admins WHERE id = $1 AND face_template IS NOT NULL",
            ))
            .bind(admin_id)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?
            .try_get("n")
            .map_err(db_err)?;
        let done = match passkey {
            Some(id) => {
                sqlx::query(&self.sql("DELETE FROM admin_passkeys WHERE id = $1 AND admin_id = $2"))
                    .bind(id)
                    .bind(admin_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?
            }
            None => sqlx::query(&self.sql(
                "UPDATE admins SET face_template = NULL, face_consent_at = NULL, updated_at = $1 \
                 WHERE id = $2 AND face_template IS NOT NULL",
            ))
            .bind(now_millis())
            .bind(admin_id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?,
        };
        if done.rows_affected() == 0 {
            return Err(Error::NotFound(if passkey.is_some() {
                "passkey"
            } else {
                "face 2FA"
            }));
        }
        if passkeys + face <= 1 {
            // Dropping the transaction rolls the delete back.
            return Err(Error::Conflict(
                "at least one 2FA method (passkey or face) must remain active".into(),
            ));
        }
        tx.commit().await.map_err(db_err)?;
        Ok(())
    }
}

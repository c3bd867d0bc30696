//! Organisations and credentials: API keys, service tokens, OAuth clients and their
//! access tokens. Every lookup by id takes the organisation.

use crate::audit::append_in_tx;
use crate::crypto::Slot;
use crate::db::{db_err, Store};
use sqlx::any::AnyRow;
use sqlx::Row;
use vouch_core::credential::{self, SecretKind};
use vouch_core::ids::{ClientId, KeyId, OrgId, TokenId};
use vouch_core::model::{ApiKey, AuditRecord, KeySettings, OAuthClient, Org, ServiceToken};
use vouch_core::{now_millis, Error, Millis, Result};

/// A new API key with its secrets, shown once.
pub struct NewApiKey {
    /// The stored record.
    pub key: ApiKey,
    /// The key itself.
    pub secret: String,
    /// The webhook signing secret (`whsec_…`).
    pub webhook_secret: String,
}

/// What a bearer credential resolved to.
#[derive(Debug, Clone)]
pub enum Principal {
    /// An API key.
    ApiKey(ApiKey),
    /// A service token.
    ServiceToken(ServiceToken),
    /// An OAuth access token of a client.
    OAuth {
        /// The client.
        client: OAuthClient,
        /// When the access token expires.
        expires_at: Millis,
    },
}

impl Principal {
    /// The organisation the credential acts for.
    pub fn org_id(&self) -> &OrgId {
        match self {
            Principal::ApiKey(k) => &k.org_id,
            Principal::ServiceToken(t) => &t.org_id,
            Principal::OAuth { client, .. } => &client.org_id,
        }
    }
}

/// Why a credential was refused; each reason is a distinct, clear client error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not a credential vouch issued.
    Unknown,
    /// Revoked.
    Revoked,
    /// Past its expiry.
    Expired,
}

const KEY_COLUMNS: &str =
    "id, org_id, name, prefix, settings, created_at, revoked_at, webhook_disabled_at";

fn key_from_row(row: &AnyRow) -> Result<ApiKey> {
    let settings: String = row.try_get("settings").map_err(db_err)?;
    Ok(ApiKey {
        id: KeyId::from_string(row.try_get::<String, _>("id").map_err(db_err)?),
        org_id: OrgId::from_string(row.try_get::<String, _>("org_id").map_err(db_err)?),
        name: row.try_get("name").map_err(db_err)?,
        prefix: row.try_get("prefix").map_err(db_err)?,
        settings: serde_json::from_str(&settings)
            .map_err(|e| Error::Internal(format!("key settings: {e}")))?,
        created_at: row.try_get("created_at").map_err(db_err)?,
        revoked_at: row.try_get("revoked_at").map_err(db_err)?,
        webhook_disabled_at: row.try_get("webhook_disabled_at").map_err(db_err)?,
    })
}

fn token_from_row(row: &AnyRow) -> Result<ServiceToken> {
    Ok(ServiceToken {
        id: TokenId::from_string(row.try_get::<String, _>("id").map_err(db_err)?),
        org_id: OrgId::from_string(row.try_get::<String, _>("org_id").map_err(db_err)?),
        name: row.try_get("name").map_err(db_err)?,
        scope: row.try_get("scope").map_err(db_err)?,
        prefix: row.try_get("prefix").map_err(db_err)?,
        created_at: row.try_get("created_at").map_err(db_err)?,
        revoked_at: row.try_get("revoked_at").map_err(db_err)?,
    })
}

fn client_from_row(row: &AnyRow) -> Result<OAuthClient> {
    Ok(OAuthClient {
        id: ClientId::from_string(row.try_get::<String, _>("id").map_err(db_err)?),
        org_id: OrgId::from_string(row.try_get::<String, _>("org_id").map_err(db_err)?),
        name: row.try_get("name").map_err(db_err)?,
        secret_prefix: row.try_get("secret_prefix").map_err(db_err)?,
        created_at: row.try_get("created_at").map_err(db_err)?,
        revoked_at: row.try_get("revoked_at").map_err(db_err)?,
    })
}

fn webhook_secret_slot(key_id: &KeyId) -> Slot<'_> {
    Slot {
        table: "api_keys",
        column: "webhook_secret",
        row: key_id.as_str(),
    }
}

fn validate_name(name: &str) -> Result<()> {
    let n = name.trim().chars().count();
    if n == 0 || n > 200 {
        return Err(Error::Invalid("name must be 1 to 200 characters".into()));
    }
    Ok(())
}

impl Store {
    /// Creates an organisation.
    pub async fn create_org(&self, name: &str, audit: AuditRecord) -> Result<Org> {
        validate_name(name)?;
        let org = Org {
            id: OrgId::generate(),
            name: name.trim().to_string(),
            created_at: now_millis(),
        };
        let mut tx = self.begin_write().await?;
        sqlx::query(&self.sql("INSERT INTO orgs (id, name, created_at) VALUES ($1, $2, $3)"))
            .bind(org.id.as_str())
            .bind(&org.name)
            .bind(org.created_at)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        let audit = AuditRecord {
            org_id: Some(org.id.clone()),
            ..audit
        }
        .target(&org.id);
        append_in_tx(self, &mut tx, &audit).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(org)
    }

    /// An organisation by id.
    pub async fn org(&self, id: &OrgId) -> Result<Org> {
        let row = sqlx::query(&self.sql("SELECT id, name, created_at FROM orgs WHERE id = $1"))
            .bind(id.as_str())
            .fetch_optional(&mut *self.conn().await?)
            .await
            .map_err(db_err)?
            .ok_or(Error::NotFound("organisation"))?;
        Ok(Org {
            id: OrgId::from_string(row.try_get::<String, _>("id").map_err(db_err)?),
            name: row.try_get("name").map_err(db_err)?,
            created_at: row.try_get("created_at").map_err(db_err)?,
        })
    }

    /// All organisations.
    pub async fn list_orgs(&self) -> Result<Vec<Org>> {
        let rows = sqlx::query("SELECT id, name, created_at FROM orgs ORDER BY created_at")
            .fetch_all(&mut *self.conn().await?)
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(|row| {
                Ok(Org {
                    id: OrgId::from_string(row.try_get::<String, _>("id").map_err(db_err)?),
                    name: row.try_get("name").map_err(db_err)?,
                    created_at: row.try_get("created_at").map_err(db_err)?,
                })
            })
            .collect()
    }

    /// Creates an API key for an organisation, with a fresh webhook secret.
    pub async fn create_api_key(
        &self,
        org: &OrgId,
        name: &str,
        settings: KeySettings,
        audit: AuditRecord,
    ) -> Result<NewApiKey> {
        validate_name(name)?;
        settings.validate()?;
        self.org(org).await?;
        let issued = credential::issue(SecretKind::ApiKey);
        let webhook_secret = credential::webhook_secret();
        let key = ApiKey {
            id: KeyId::generate(),
            org_id: org.clone(),
            name: name.trim().to_string(),
            prefix: issued.display_prefix,
            settings,
            created_at: now_millis(),
            revoked_at: None,
            webhook_disabled_at: None,
        };
        let sealed = self.seal(webhook_secret_slot(&key.id), webhook_secret.as_bytes())?;
        let settings_json =
            serde_json::to_string(&key.settings).map_err(|e| Error::Internal(e.to_string()))?;
        let mut tx = self.begin_write().await?;
        sqlx::query(&self.sql(
            "INSERT INTO api_keys (id, org_id, name, prefix, secret_hash, settings, webhook_secret, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        ))
        .bind(key.id.as_str())
        .bind(org.as_str())
        .bind(&key.name)
        .bind(&key.prefix)
        .bind(&issued.hash)
        .bind(settings_json)
        .bind(sealed)
        .bind(key.created_at)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        append_in_tx(self, &mut tx, &audit.in_org(org).target(&key.id)).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(NewApiKey {
            key,
            secret: issued.secret,
            webhook_secret,
        })
    }

    /// An API key of an organisation.
    pub async fn api_key(&self, org: &OrgId, id: &KeyId) -> Result<ApiKey> {
        let q = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1 AND org_id = $2");
        let row = sqlx::query(&self.sql(&q))
            .bind(id.as_str())
            .bind(org.as_str())
            .fetch_optional(&mut *self.conn().await?)
            .await
            .map_err(db_err)?
            .ok_or(Error::NotFound("API key"))?;
        key_from_row(&row)
    }

    /// The API keys of an organisation, newest first.
    pub async fn list_api_keys(&self, org: &OrgId) -> Result<Vec<ApiKey>> {
        let q = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE org_id = $1 ORDER BY created_at DESC, id DESC");
        let rows = sqlx::query(&self.sql(&q))
            .bind(org.as_str())
            .fetch_all(&mut *self.conn().await?)
            .await
            .map_err(db_err)?;
        rows.iter().map(key_from_row).collect()
    }

    /// Replaces a key's settings.
    pub async fn update_api_key_settings(
        &self,
        org: &OrgId,
        id: &KeyId,
        settings: KeySettings,
        audit: AuditRecord,
    ) -> Result<ApiKey> {
        settings.validate()?;
        let json = serde_json::to_string(&settings).map_err(|e| Error::Internal(e.to_string()))?;
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(&self.sql(
            "UPDATE api_keys SET settings = $1, webhook_disabled_at = NULL WHERE id = $2 AND org_id = $3",
        ))
        .bind(json)
        .bind(id.as_str())
        .bind(org.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound("API key"));
        }
        append_in_tx(self, &mut tx, &audit.in_org(org).target(id)).await?;
        tx.commit().await.map_err(db_err)?;
        self.api_key(org, id).await
    }

    /// Revokes a key; revoking twice is a conflict.
    pub async fn revoke_api_key(
        &self,
        org: &OrgId,
        id: &KeyId,
        audit: AuditRecord,
    ) -> Result<ApiKey> {
        self.revoke("api_keys", org, id.as_str(), "API key", audit)
            .await?;
        self.api_key(org, id).await
    }

    async fn revoke(
        &self,
        table: &str,
        org: &OrgId,
        id: &str,
        what: &'static str,
        audit: AuditRecord,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let q = format!("SELECT revoked_at FROM {table} WHERE id = $1 AND org_id = $2");
        let row = sqlx::query(&self.sql(&q))
            .bind(id)
            .bind(org.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?
            .ok_or(Error::NotFound(what))?;
        if row
            .try_get::<Option<i64>, _>("revoked_at")
            .map_err(db_err)?
            .is_some()
        {
            return Err(Error::Conflict(format!("{what} is already revoked")));
        }
        let q = format!("UPDATE {table} SET revoked_at = $1 WHERE id = $2 AND org_id = $3");
        sqlx::query(&self.sql(&q))
            .bind(now_millis())
            .bind(id)
            .bind(org.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        if table == "oauth_clients" {
            sqlx::query(&self.sql("DELETE FROM oauth_tokens WHERE client_id = $1"))
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        append_in_tx(self, &mut tx, &audit.in_org(org).target(id)).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(())
    }

    /// The webhook secret of a key (`whsec_…`).
    pub async fn webhook_secret(&self, org: &OrgId, id: &KeyId) -> Result<String> {
        let row = sqlx::query(
            &self.sql("SELECT webhook_secret FROM api_keys WHERE id = $1 AND org_id = $2"),
        )
        .bind(id.as_str())
        .bind(org.as_str())
        .fetch_optional(&mut *self.conn().await?)
        .await
        .map_err(db_err)?
        .ok_or(Error::NotFound("API key"))?;
        let blob: Vec<u8> = row.try_get("webhook_secret").map_err(db_err)?;
        self.open_text(webhook_secret_slot(id), Some(blob))
            .await?
            .ok_or(Error::NotFound("webhook secret"))
    }

    /// Marks a key's webhook endpoint disabled (its receiver answered 410 Gone).
    pub async fn disable_webhook(&self, org: &OrgId, id: &KeyId) -> Result<()> {
        sqlx::query(&self.sql(
            "UPDATE api_keys SET webhook_disabled_at = $1 WHERE id = $2 AND org_id = $3 AND webhook_disabled_at IS NULL",
        ))
        .bind(now_millis())
        .bind(id.as_str())
        .bind(org.as_str())
        .execute(&mut *self.conn().await?)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    /// Creates a service token with scope `scope`.
    pub async fn create_service_token(
        &self,
        org: &OrgId,
        name: &str,
        scope: &str,
        audit: AuditRecord,
    ) -> Result<(ServiceToken, String)> {
        validate_name(name)?;
        if scope != vouch_core::model::SCOPE_PRESENCE {
            return Err(Error::Invalid(format!(
                "unknown scope '{scope}' (known: presence)"
            )));
        }
        self.org(org).await?;
        let issued = credential::issue(SecretKind::ServiceToken);
        let token = ServiceToken {
            id: TokenId::generate(),
            org_id: org.clone(),
            name: name.trim().to_string(),
            scope: scope.to_string(),
            prefix: issued.display_prefix,
            created_at: now_millis(),
            revoked_at: None,
        };
        let mut tx = self.begin_write().await?;
        sqlx::query(&self.sql(
            "INSERT INTO service_tokens (id, org_id, name, scope, prefix, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        ))
        .bind(token.id.as_str())
        .bind(org.as_str())
        .bind(&token.name)
        .bind(&token.scope)
        .bind(&token.prefix)
        .bind(&issued.hash)
        .bind(token.created_at)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        append_in_tx(self, &mut tx, &audit.in_org(org).target(&token.id)).await?;
        tx.commit().await.map_err(db_err)?;
        Ok((token, issued.secret))
    }

    /// The service tokens of an organisation.
    pub async fn list_service_tokens(&self, org: &OrgId) -> Result<Vec<ServiceToken>> {
        let rows = sqlx::query(&self.sql(
            "SELECT id, org_id, name, scope, prefix, created_at, revoked_at FROM service_tokens WHERE org_id = $1 ORDER BY created_at DESC, id DESC",
        ))
        .bind(org.as_str())
        .fetch_all(&mut *self.conn().await?)
        .await
        .map_err(db_err)?;
        rows.iter().map(token_from_row).collect()
    }

    /// Revokes a service token.
    pub async fn revoke_service_token(
        &self,
        org: &OrgId,
        id: &TokenId,
        audit: AuditRecord,
    ) -> Result<()> {
        self.revoke("service_tokens", org, id.as_str(), "service token", audit)
            .await
    }

    /// Creates an OAuth client-credentials client.
    pub async fn create_oauth_client(
        &self,
        org: &OrgId,
        name: &str,
        audit: AuditRecord,
    ) -> Result<(OAuthClient, String)> {
        validate_name(name)?;
        self.org(org).await?;
        let issued = credential::issue(SecretKind::ClientSecret);
        let client = OAuthClient {
            id: ClientId::generate(),
            org_id: org.clone(),
            name: name.trim().to_string(),
            secret_prefix: issued.display_prefix,
            created_at: now_millis(),
            revoked_at: None,
        };
        let mut tx = self.begin_write().await?;
        sqlx::query(&self.sql(
            "INSERT INTO oauth_clients (id, org_id, name, secret_prefix, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        ))
        .bind(client.id.as_str())
        .bind(org.as_str())
        .bind(&client.name)
        .bind(&client.secret_prefix)
        .bind(&issued.hash)
        .bind(client.created_at)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        append_in_tx(self, &mut tx, &audit.in_org(org).target(&client.id)).await?;
        tx.commit().await.map_err(db_err)?;
        Ok((client, issued.secret))
    }

    /// The OAuth clients of an organisation.
    pub async fn list_oauth_clients(&self, org: &OrgId) -> Result<Vec<OAuthClient>> {
        let rows = sqlx::query(&self.sql(
            "SELECT id, org_id, name, secret_prefix, created_at, revoked_at FROM oauth_clients WHERE org_id = $1 ORDER BY created_at DESC, id DESC",
        ))
        .bind(org.as_str())
        .fetch_all(&mut *self.conn().await?)
        .await
        .map_err(db_err)?;
        rows.iter().map(client_from_row).collect()
    }

    /// Revokes an OAuth client and every access token it holds.
    pub async fn revoke_oauth_client(
        &self,
        org: &OrgId,
        id: &ClientId,
        audit: AuditRecord,
    ) -> Result<()> {
        self.revoke("oauth_clients", org, id.as_str(), "OAuth client", audit)
            .await
    }

    /// Checks client credentials (constant-time on the secret digest) and issues an
    /// access token valid for `ttl_ms`. Unknown client, wrong secret and revoked client
    /// give the same refusal.
    pub async fn issue_access_token(
        &self,
        client_id: &str,
        client_secret: &str,
        ttl_ms: Millis,
    ) -> Result<Option<(OAuthClient, String, Millis)>> {
        let row = sqlx::query(&self.sql(
            "SELECT id, org_id, name, secret_prefix, secret_hash, created_at, revoked_at FROM oauth_clients WHERE id = $1",
        ))
        .bind(client_id)
        .fetch_optional(&mut *self.conn().await?)
        .await
        .map_err(db_err)?;
        let presented = credential::hash_secret(client_secret);
        let Some(row) = row else {
            // Compare anyway so that an unknown client takes as long as a wrong secret.
            let _ = credential::constant_time_eq(presented.as_bytes(), &[b'0'; 64]);
            return Ok(None);
        };
        let stored: String = row.try_get("secret_hash").map_err(db_err)?;
        let client = client_from_row(&row)?;
        if !credential::constant_time_eq(presented.as_bytes(), stored.as_bytes())
            || client.revoked_at.is_some()
        {
            return Ok(None);
        }
        let issued = credential::issue(SecretKind::AccessToken);
        let now = now_millis();
        let expires_at = now + ttl_ms;
        sqlx::query(&self.sql(
            "INSERT INTO oauth_tokens (token_hash, client_id, org_id, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)",
        ))
        .bind(&issued.hash)
        .bind(client.id.as_str())
        .bind(client.org_id.as_str())
        .bind(expires_at)
        .bind(now)
        .execute(&mut *self.conn().await?)
        .await
        .map_err(db_err)?;
        Ok(Some((client, issued.secret, expires_at)))
    }

    /// Resolves a bearer secret of any kind to its principal, by the digest's unique
    /// index (the secret carries 256 bits, so the lookup leaks nothing useful).
    pub async fn authenticate(
        &self,
        secret: &str,
    ) -> Result<std::result::Result<Principal, Refusal>> {
        let hash = credential::hash_secret(secret);
        let now = now_millis();
        if secret.starts_with(SecretKind::ApiKey.prefix()) {
            let q = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE secret_hash = $1");
            let Some(row) = sqlx::query(&self.sql(&q))
                .bind(&hash)
                .fetch_optional(&mut *self.conn().await?)
                .await
                .map_err(db_err)?
            else {
                return Ok(Err(Refusal::Unknown));
            };
            let key = key_from_row(&row)?;
            if key.revoked_at.is_some() {
                return Ok(Err(Refusal::Revoked));
            }
            if !key.is_active(now) {
                return Ok(Err(Refusal::Expired));
            }
            return Ok(Ok(Principal::ApiKey(key)));
        }
        if secret.starts_with(SecretKind::ServiceToken.prefix()) {
            let Some(row) = sqlx::query(&self.sql(
                "SELECT id, org_id, name, scope, prefix, created_at, revoked_at FROM service_tokens WHERE secret_hash = $1",
            ))
            .bind(&hash)
            .fetch_optional(&mut *self.conn().await?)
            .await
            .map_err(db_err)?
            else {
                return Ok(Err(Refusal::Unknown));
            };
            let token = token_from_row(&row)?;
            if token.revoked_at.is_some() {
                return Ok(Err(Refusal::Revoked));
            }
            return Ok(Ok(Principal::ServiceToken(token)));
        }
        if secret.starts_with(SecretKind::AccessToken.prefix()) {
            let Some(row) = sqlx::query(&self.sql(
                "SELECT t.expires_at, c.id, c.org_id, c.name, c.secret_prefix, c.created_at, c.revoked_at \
                 FROM oauth_tokens t JOIN oauth_clients c ON c.id = t.client_id WHERE t.token_hash = $1",
            ))
            .bind(&hash)
            .fetch_optional(&mut *self.conn().await?)
            .await
            .map_err(db_err)?
            else {
                return Ok(Err(Refusal::Unknown));
            };
            let client = client_from_row(&row)?;
            let expires_at: i64 = row.try_get("expires_at").map_err(db_err)?;
            if client.revoked_at.is_some() {
                return Ok(Err(Refusal::Revoked));
            }
            if now >= expires_at {
                return Ok(Err(Refusal::Expired));
            }
            return Ok(Ok(Principal::OAuth { client, expires_at }));
        }
        Ok(Err(Refusal::Unknown))
    }

    /// Deletes access tokens that expired before `before`.
    pub async fn purge_expired_tokens(&self, before: Millis) -> Result<u64> {
        let done = sqlx::query(&self.sql("DELETE FROM oauth_tokens WHERE expires_at < $1"))
            .bind(before)
            .execute(&mut *self.conn().await?)
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected())
    }
}

//! The records of the tenancy and credential domain: organisations, API keys with their
//! settings, service tokens, OAuth clients, people, audit entries.

use crate::check::{Check, Thresholds};
use crate::ids::{ClientId, KeyId, OrgId, PersonId, TokenId};
use crate::Millis;
use serde::{Deserialize, Serialize};

/// An organisation: the tenant every other object belongs to.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Org {
    /// Its id.
    pub id: OrgId,
    /// Its display name.
    pub name: String,
    /// When it was created.
    pub created_at: Millis,
}

/// How a key's pages look to the people who verify through them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct Branding {
    /// Name shown on hosted pages.
    pub display_name: Option<String>,
    /// Logo shown on hosted pages (https URL).
    pub logo_url: Option<String>,
    /// Accent colour, `#rrggbb`.
    pub accent_color: Option<String>,
}

impl Branding {
    /// Checks lengths, the logo URL scheme and the colour syntax.
    pub fn validate(&self) -> crate::Result<()> {
        if let Some(name) = &self.display_name {
            if name.chars().count() > 100 {
                return Err(crate::Error::Invalid(
                    "display name must be at most 100 characters".into(),
                ));
            }
        }
        if let Some(url) = &self.logo_url {
            if url.len() > 2048 || !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(crate::Error::Invalid(
                    "logo URL must be an http(s) URL".into(),
                ));
            }
        }
        if let Some(c) = &self.accent_color {
            let ok = c.len() == 7
                && c.starts_with('#')
                && c[1..].chars().all(|ch| ch.is_ascii_hexdigit());
            if !ok {
                return Err(crate::Error::Invalid(
                    "accent colour must look like #1a2b3c".into(),
                ));
            }
        }
        Ok(())
    }
}

/// The default requests a minute for a key.
pub const DEFAULT_RATE_LIMIT: u32 = 100;
/// The largest rate limit a key may have.
pub const MAX_RATE_LIMIT: u32 = 1_000_000;

/// The settings of an API key that decide what it may do and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeySettings {
    /// Checks this key may request (and the default set of a new session).
    pub checks: Vec<Check>,
    /// Decision thresholds.
    pub thresholds: Thresholds,
    /// Requests a minute across all endpoints.
    pub rate_limit: u32,
    /// Where events are posted; none means no webhooks.
    pub webhook_url: Option<String>,
    /// Hosted page branding.
    pub branding: Branding,
    /// After this time the key is refused.
    pub expires_at: Option<Millis>,
    /// Seconds a verification session stays open before it expires.
    #[serde(default = "default_session_ttl")]
    pub session_ttl_secs: u32,
    /// Days a session's capture images (selfie frame, document) are kept after it is
    /// decided, cancelled or expired, for review; 0 deletes them at once. Results stay.
    #[serde(default)]
    pub image_retention_days: u32,
    /// The claims the `digital_id` check asks a wallet for (selective disclosure: only
    /// these; `age_over_18` alone is a valid request). Names from [`DIGITAL_ID_CLAIMS`].
    #[serde(default = "default_digital_id_claims")]
    pub digital_id_claims: Vec<String>,
}

/// The claims a `digital_id` check can ask for (vouch's names; docs/digital-id.md maps
/// them to each credential format).
pub const DIGITAL_ID_CLAIMS: [&str; 8] = [
    "given_name",
    "family_name",
    "birth_date",
    "age_over_18",
    "document_number",
    "issuing_country",
    "nationality",
    "portrait",
];

/// What a key asks a wallet for unless configured: the name and the birth date.
pub fn default_digital_id_claims() -> Vec<String> {
    ["given_name", "family_name", "birth_date"]
        .map(String::from)
        .to_vec()
}

/// The longest image retention of a key: 90 days.
pub const MAX_IMAGE_RETENTION_DAYS: u32 = 90;

/// The default lifetime of a verification session: 30 minutes, as the KYC spec says.
pub const DEFAULT_SESSION_TTL_SECS: u32 = 30 * 60;
/// The longest lifetime of a verification session: 7 days.
pub const MAX_SESSION_TTL_SECS: u32 = 7 * 24 * 3600;

fn default_session_ttl() -> u32 {
    DEFAULT_SESSION_TTL_SECS
}

impl Default for KeySettings {
    fn default() -> Self {
        KeySettings {
            checks: Check::ALL.to_vec(),
            thresholds: Thresholds::default(),
            rate_limit: DEFAULT_RATE_LIMIT,
            webhook_url: None,
            branding: Branding::default(),
            expires_at: None,
            session_ttl_secs: DEFAULT_SESSION_TTL_SECS,
            image_retention_days: 0,
            digital_id_claims: default_digital_id_claims(),
        }
    }
}

impl KeySettings {
    /// Validates every field.
    pub fn validate(&self) -> crate::Result<()> {
        self.thresholds.validate()?;
        self.branding.validate()?;
        if self.rate_limit == 0 || self.rate_limit > MAX_RATE_LIMIT {
            return Err(crate::Error::Invalid(format!(
                "rate limit must be between 1 and {MAX_RATE_LIMIT} requests a minute"
            )));
        }
        if let Some(url) = &self.webhook_url {
            validate_http_url("webhook URL", url)?;
        }
        if self.session_ttl_secs == 0 || self.session_ttl_secs > MAX_SESSION_TTL_SECS {
            return Err(crate::Error::Invalid(format!(
                "session lifetime must be between 1 and {MAX_SESSION_TTL_SECS} seconds"
            )));
        }
        if self.image_retention_days > MAX_IMAGE_RETENTION_DAYS {
            return Err(crate::Error::Invalid(format!(
                "image retention must be at most {MAX_IMAGE_RETENTION_DAYS} days"
            )));
        }
        if self.digital_id_claims.is_empty() {
            return Err(crate::Error::Invalid(
                "digital ID claims must name at least one claim".into(),
            ));
        }
        for (i, c) in self.digital_id_claims.iter().enumerate() {
            if !DIGITAL_ID_CLAIMS.contains(&c.as_str()) {
                return Err(crate::Error::Invalid(format!(
                    "unknown digital ID claim {:?} (known: {})",
                    c.chars().take(64).collect::<String>(),
                    DIGITAL_ID_CLAIMS.join(", ")
                )));
            }
            if self.digital_id_claims[..i].contains(c) {
                return Err(crate::Error::Invalid(format!(
                    "digital ID claim {c} is listed twice"
                )));
            }
        }
        let has = |c: Check| self.checks.contains(&c);
        if has(Check::DigitalId)
            && has(Check::FaceMatch)
            && !has(Check::DocVerify)
            && !self.digital_id_claims.iter().any(|c| c == "portrait")
        {
            return Err(crate::Error::Invalid(
                "face_match with a digital ID and no document needs the portrait claim (digital ID claims)".into(),
            ));
        }
        Ok(())
    }
}

/// Accepts absolute http(s) URLs of reasonable length; anything else is invalid.
pub fn validate_http_url(what: &str, url: &str) -> crate::Result<()> {
    let scheme_ok = url.starts_with("https://") || url.starts_with("http://");
    let host_ok = url
        .split_once("://")
        .map(|(_, rest)| !rest.is_empty() && !rest.starts_with('/'))
        .unwrap_or(false);
    if url.len() > 2048 || !scheme_ok || !host_ok || url.chars().any(char::is_whitespace) {
        return Err(crate::Error::Invalid(format!(
            "{what} must be an absolute http(s) URL"
        )));
    }
    Ok(())
}

/// An API key as stored: everything but the secret.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKey {
    /// Its id.
    pub id: KeyId,
    /// The organisation it acts for.
    pub org_id: OrgId,
    /// A human name.
    pub name: String,
    /// The first characters of the key, to tell keys apart.
    pub prefix: String,
    /// Its settings.
    pub settings: KeySettings,
    /// When it was created.
    pub created_at: Millis,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Millis>,
    /// When its webhook endpoint was disabled (a receiver answered 410 Gone).
    pub webhook_disabled_at: Option<Millis>,
}

impl ApiKey {
    /// Whether the key may be used at `now`.
    pub fn is_active(&self, now: Millis) -> bool {
        self.revoked_at.is_none() && self.settings.expires_at.is_none_or(|e| now < e)
    }
}

/// A service token: a credential for machine callers with a fixed scope.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceToken {
    /// Its id.
    pub id: TokenId,
    /// The organisation it acts for.
    pub org_id: OrgId,
    /// A human name.
    pub name: String,
    /// Its scope; `presence` today.
    pub scope: String,
    /// The first characters of the token.
    pub prefix: String,
    /// When it was created.
    pub created_at: Millis,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Millis>,
}

/// The one scope service tokens have today.
pub const SCOPE_PRESENCE: &str = "presence";

/// An OAuth 2.0 client-credentials client of the phone API.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OAuthClient {
    /// The public client id.
    pub id: ClientId,
    /// The organisation it acts for.
    pub org_id: OrgId,
    /// A human name.
    pub name: String,
    /// The first characters of the secret.
    pub secret_prefix: String,
    /// When it was created.
    pub created_at: Millis,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Millis>,
}

/// The personal data of a person, in the clear. The store seals every field.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PersonData {
    /// Given names.
    pub given_names: Option<String>,
    /// Surname.
    pub surname: Option<String>,
    /// Date of birth, `YYYY-MM-DD`.
    pub date_of_birth: Option<String>,
    /// Identity document number.
    pub document_number: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
    /// Phone number, E.164.
    pub phone: Option<String>,
}

/// A person inside an organisation.
#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    /// Its id.
    pub id: PersonId,
    /// The organisation.
    pub org_id: OrgId,
    /// The client's own reference (not personal data by contract).
    pub external_ref: Option<String>,
    /// The personal data, unsealed.
    pub data: PersonData,
    /// When it was created.
    pub created_at: Millis,
}

/// Who did something recorded in the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Actor {
    /// The command-line tool on the server's machine.
    Cli,
    /// An API key.
    ApiKey(KeyId),
    /// An OAuth client.
    OAuthClient(ClientId),
    /// A service token.
    ServiceToken(TokenId),
    /// vouch itself (workers, expiry).
    System,
    /// A console administrator (`adm_…`).
    Admin(String),
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Actor::Cli => f.write_str("cli"),
            Actor::ApiKey(id) => write!(f, "api_key:{id}"),
            Actor::OAuthClient(id) => write!(f, "oauth_client:{id}"),
            Actor::ServiceToken(id) => write!(f, "service_token:{id}"),
            Actor::System => f.write_str("system"),
            Actor::Admin(id) => write!(f, "admin:{id}"),
        }
    }
}

/// An entry to append to the audit log.
#[derive(Debug, Clone)]
pub struct AuditRecord {
    /// The organisation, when the action is inside one.
    pub org_id: Option<OrgId>,
    /// Who.
    pub actor: Actor,
    /// What, as a dotted verb (`api_key.created`).
    pub action: String,
    /// The object acted on.
    pub target: Option<String>,
    /// The HTTP request id, when the action came through the API.
    pub request_id: Option<String>,
    /// Details without personal data.
    pub details: serde_json::Value,
}

impl AuditRecord {
    /// A record with no target, request id or details.
    pub fn new(org_id: Option<&OrgId>, actor: Actor, action: &str) -> Self {
        AuditRecord {
            org_id: org_id.cloned(),
            actor,
            action: action.to_string(),
            target: None,
            request_id: None,
            details: serde_json::Value::Null,
        }
    }

    /// Sets the organisation (the store sets it on every org-scoped change).
    pub fn in_org(mut self, org: &OrgId) -> Self {
        self.org_id = Some(org.clone());
        self
    }

    /// Sets the target.
    pub fn target(mut self, target: impl std::fmt::Display) -> Self {
        self.target = Some(target.to_string());
        self
    }

    /// Sets the request id.
    pub fn request_id(mut self, id: Option<String>) -> Self {
        self.request_id = id;
        self
    }

    /// Sets the details.
    pub fn details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }
}

/// An entry of the audit log as stored.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// Sequence number.
    pub id: i64,
    /// The organisation.
    pub org_id: Option<String>,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// The object acted on.
    pub target: Option<String>,
    /// The request id.
    pub request_id: Option<String>,
    /// Details.
    pub details: serde_json::Value,
    /// When.
    pub created_at: Millis,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digital_id_claims_are_known_unique_and_give_face_match_a_portrait() {
        let ok = KeySettings::default();
        assert!(ok.validate().is_ok());
        let with = |checks: &[Check], claims: &[&str]| KeySettings {
            checks: checks.to_vec(),
            digital_id_claims: claims.iter().map(|c| c.to_string()).collect(),
            ..KeySettings::default()
        };
        assert!(with(&[Check::DigitalId], &["age_over_18"])
            .validate()
            .is_ok());
        assert!(with(&[Check::DigitalId], &[]).validate().is_err());
        assert!(with(&[Check::DigitalId], &["shoe_size"])
            .validate()
            .is_err());
        assert!(with(&[Check::DigitalId], &["given_name", "given_name"])
            .validate()
            .is_err());
        let face = [Check::DigitalId, Check::Liveness, Check::FaceMatch];
        assert!(with(&face, &["given_name"]).validate().is_err());
        assert!(with(&face, &["given_name", "portrait"]).validate().is_ok());
        let with_doc = [Check::DigitalId, Check::DocVerify, Check::FaceMatch];
        assert!(with(&with_doc, &["given_name"]).validate().is_ok());
    }
}

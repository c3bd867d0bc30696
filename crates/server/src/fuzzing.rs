//! The dialects' request bodies as the fuzz targets (`fuzz/`) send them: the whole
//! application over a throwaway SQLite store, with one organisation and a credential of
//! each kind, so that any body reaches the same extractors, checks and handlers a client's
//! would. Not an API: it exists for `fuzz/fuzz_targets/dialect_json.rs`.

use crate::{AppState, ServerConfig};
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;
use tower::ServiceExt as _;
use vouch_core::ids::OrgId;
use vouch_core::model::{Actor, AuditRecord, KeySettings, MAX_RATE_LIMIT, SCOPE_PRESENCE};
use vouch_store::crypto::{MasterKeySource, SecretKey};
use vouch_store::{Store, StoreOptions};

/// Who an endpoint's caller is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// An API key (KYC, biometric identity, the phone API: an OAuth access token would
    /// expire in the middle of a long run).
    ApiKey,
    /// A presence service token.
    ServiceToken,
    /// The client SDK's authToken of a fresh phone flow.
    FlowToken,
    /// The organisation's Kratos hook secret.
    OrySecret,
    /// The bearer token of the network's change-event sink.
    SinkToken,
    /// Nobody (the token is in the path, or the body carries the credentials).
    None,
}

/// An endpoint that takes a body.
#[derive(Debug, Clone, Copy)]
pub struct Endpoint {
    /// Its path; `{session}` and `{kyc_token}` become a fresh KYC session's id and page
    /// token.
    pub path: &'static str,
    /// Its caller.
    pub auth: Auth,
    /// `true`: an HTML form (`/token`), else JSON.
    pub form: bool,
}

const fn json(path: &'static str, auth: Auth) -> Endpoint {
    Endpoint {
        path,
        auth,
        form: false,
    }
}

const KYC_CREATE: Endpoint = json("/api/v1/verify", Auth::ApiKey);
const V3_START: Endpoint = json("/v3/start", Auth::ApiKey);
const TOKEN: Endpoint = Endpoint {
    path: "/token",
    auth: Auth::None,
    form: true,
};

/// Every endpoint with a JSON (or form) body of the client-facing dialects.
pub const ENDPOINTS: &[Endpoint] = &[
    // KYC sessions: create, review, and the hosted page's steps.
    KYC_CREATE,
    json("/api/v1/verify/{session}/review", Auth::ApiKey),
    json("/verify/{kyc_token}/selfie", Auth::None),
    json("/verify/{kyc_token}/document", Auth::None),
    // Phone identity v3 and its client SDK.
    V3_START,
    json("/v3/validate", Auth::ApiKey),
    json("/v3/challenge", Auth::ApiKey),
    json("/v3/complete", Auth::ApiKey),
    json("/v3/verify", Auth::ApiKey),
    json("/v3/verify-status", Auth::ApiKey),
    json("/v3/unify", Auth::ApiKey),
    json("/v3/unify-status", Auth::ApiKey),
    json("/v3/unify-bind", Auth::ApiKey),
    json("/v3/identity", Auth::ApiKey),
    json("/v3/identity/batch", Auth::ApiKey),
    json("/v3/sdk/otp/start", Auth::FlowToken),
    json("/v3/sdk/otp/finish", Auth::FlowToken),
    json("/v3/sdk/instant-link/start", Auth::FlowToken),
    json("/v3/network/change-events", Auth::SinkToken),
    // Biometric identity.
    json("/api/enroll", Auth::ApiKey),
    json("/api/verify", Auth::ApiKey),
    json("/api/profiles", Auth::ApiKey),
    json("/api/alert-rules", Auth::ApiKey),
    // Human presence.
    json("/api/presence/sessions", Auth::ServiceToken),
    json("/api/presence/verify-token", Auth::ServiceToken),
    // Ory Kratos hooks.
    json("/hooks/ory/lookup", Auth::OrySecret),
    json("/hooks/ory/enroll", Auth::OrySecret),
    json("/hooks/ory/validate", Auth::OrySecret),
    // OAuth client credentials.
    TOKEN,
];

/// The placeholders a body may carry, replaced before it is sent: the organisation,
/// a fresh phone flow's correlation id and authToken, the OAuth client's id and secret.
pub const PLACEHOLDERS: &[&str] = &["@org@", "@flow@", "@auth@", "@client@", "@secret@"];

/// The application and its credentials.
pub struct Dialects {
    runtime: tokio::runtime::Runtime,
    app: Router,
    org: OrgId,
    api_key: String,
    service_token: String,
    ory_secret: String,
    sink_token: String,
    client_id: String,
    client_secret: String,
}

/// What one request answered.
#[derive(Debug)]
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// The body (for the message of a failed assertion).
    pub body: String,
}

impl Dialects {
    /// The application over a new SQLite database in `dir`.
    pub fn open(dir: &Path) -> Dialects {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let url = format!("sqlite://{}?mode=rwc", dir.join("vouch.db").display());
        let store = runtime
            .block_on(Store::open(StoreOptions::new(
                url,
                MasterKeySource::Given(SecretKey::generate()),
            )))
            .expect("a store");
        let store = Arc::new(store);
        let config = ServerConfig {
            client_rate_limit: MAX_RATE_LIMIT,
            ..ServerConfig::default()
        };
        let state = AppState::new(store.clone(), config);
        let sink_token = crate::phone::sink_token(&state);
        let app = crate::app(state);
        let setup = async {
            let audit = |org: Option<&OrgId>, action| AuditRecord::new(org, Actor::Cli, action);
            let org = store
                .create_org("fuzz", audit(None, "org.created"))
                .await?
                .id;
            let settings = KeySettings {
                rate_limit: MAX_RATE_LIMIT,
                ..KeySettings::default()
            };
            let key = store
                .create_api_key(&org, "fuzz", settings, audit(Some(&org), "api_key.created"))
                .await?;
            let (_, service_token) = store
                .create_service_token(
                    &org,
                    "fuzz",
                    SCOPE_PRESENCE,
                    audit(Some(&org), "service_token.created"),
                )
                .await?;
            let (client, client_secret) = store
                .create_oauth_client(&org, "fuzz", audit(Some(&org), "oauth_client.created"))
                .await?;
            let ory_secret = "fuzz-ory-hook-secret".to_string();
            store
                .configure_ory(&org, &ory_secret, "http://127.0.0.1:9", None, false, false)
                .await?;
            Ok::<_, vouch_core::Error>((
                org,
                key.secret,
                service_token,
                client.id.to_string(),
                client_secret,
                ory_secret,
            ))
        };
        let (org, api_key, service_token, client_id, client_secret, ory_secret) =
            runtime.block_on(setup).expect("fixtures");
        Dialects {
            runtime,
            app,
            org,
            api_key,
            service_token,
            ory_secret,
            sink_token,
            client_id,
            client_secret,
        }
    }

    /// Sends `body` to `endpoint` (after filling its placeholders) and returns the answer.
    pub fn send(&self, endpoint: &Endpoint, body: &[u8]) -> Answer {
        let mut body = body.to_vec();
        let mut path = endpoint.path.to_string();
        if path.contains("{session}") || path.contains("{kyc_token}") {
            let created = self.call(&KYC_CREATE, KYC_CREATE.path, b"{}".to_vec(), None);
            let url = field(&created, "verificationUrl");
            let page_token = url.rsplit('/').next().unwrap_or_default();
            path = path
                .replace("{session}", &field(&created, "sessionId"))
                .replace("{kyc_token}", page_token);
        }
        let needs_flow = endpoint.auth == Auth::FlowToken
            || [&b"@flow@"[..], b"@auth@"]
                .iter()
                .any(|p| body.windows(p.len()).any(|w| w == *p));
        let mut flow_token = None;
        if needs_flow {
            let started = self.call(
                &V3_START,
                V3_START.path,
                br#"{"flowType":"mobile","phoneNumber":"+12025550123"}"#.to_vec(),
                None,
            );
            let (flow, auth) = (
                field(&started, "correlationId"),
                field(&started, "authToken"),
            );
            body = replace(&body, b"@flow@", flow.as_bytes());
            body = replace(&body, b"@auth@", auth.as_bytes());
            flow_token = Some(auth);
        }
        body = replace(&body, b"@org@", self.org.as_str().as_bytes());
        body = replace(&body, b"@client@", self.client_id.as_bytes());
        body = replace(&body, b"@secret@", self.client_secret.as_bytes());
        let answer = self.request(endpoint, &path, body, flow_token.as_deref());
        Answer {
            status: answer.0,
            body: answer.1,
        }
    }

    fn call(&self, endpoint: &Endpoint, path: &str, body: Vec<u8>, flow: Option<&str>) -> Value {
        let (status, text) = self.request(endpoint, path, body, flow);
        assert!(status.is_success(), "{path}: {status} {text}");
        serde_json::from_str(&text).expect("a JSON answer")
    }

    fn request(
        &self,
        endpoint: &Endpoint,
        path: &str,
        body: Vec<u8>,
        flow: Option<&str>,
    ) -> (StatusCode, String) {
        let content_type = if endpoint.form {
            "application/x-www-form-urlencoded"
        } else {
            "application/json"
        };
        let bearer = match endpoint.auth {
            Auth::ApiKey => Some(self.api_key.as_str()),
            Auth::ServiceToken => Some(self.service_token.as_str()),
            Auth::FlowToken => flow,
            Auth::OrySecret => Some(self.ory_secret.as_str()),
            Auth::SinkToken => Some(self.sink_token.as_str()),
            Auth::None => None,
        };
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::CONTENT_TYPE, content_type);
        if let Some(b) = bearer {
            req = req.header(header::AUTHORIZATION, format!("Bearer {b}"));
        }
        let req = req.body(Body::from(body)).expect("a request");
        self.runtime.block_on(async {
            let resp = self.app.clone().oneshot(req).await.expect("infallible");
            let status = resp.status();
            let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
                .await
                .unwrap_or_default();
            (status, String::from_utf8_lossy(&bytes).into_owned())
        })
    }
}

fn field(v: &Value, name: &str) -> String {
    v[name].as_str().unwrap_or_default().to_string()
}

fn replace(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut rest = haystack;
    while let Some(i) = rest.windows(from.len()).position(|w| w == from) {
        out.extend_from_slice(&rest[..i]);
        out.extend_from_slice(to);
        rest = &rest[i + from.len()..];
    }
    out.extend_from_slice(rest);
    out
}

//! The CAMARA client: the production [`Telco`], speaking the CAMARA network APIs to one
//! operator or aggregator (its `apiRoot`). The versions follow the reference YAML files:
//! SIM Swap `v2`, Number Verification `v2`, KYC Match `v0.4`, KYC Fill-in `v0.4`, KYC
//! Age Verification `v0.2`, Device Reachability Status `v1`, SIM Swap Subscriptions
//! `v0.3`.
//!
//! Server-to-server calls use two-legged tokens (OAuth 2.0 client credentials, client
//! authentication by HTTP Basic), one per API scope, cached until shortly before they
//! expire, dropped and fetched again once when an API answers `401`. Number
//! Verification uses the three-legged token the operator issued after authenticating
//! the device over its mobile connection ([`Telco::network_auth_redirect`], then
//! [`Telco::exchange_network_code`]). Every call carries a fresh `x-correlator`.
//!
//! Error answers (`ErrorInfo {status, code, message}`) map to [`TelcoError`]: `404` and
//! `422` to `NotApplicable`, `401` and `403` to `Refused`, `400` (and other client
//! errors) to `Invalid`, and `429`, `5xx`, timeouts and unreadable bodies to
//! `Unavailable`; the message carries the CAMARA `code`.
//!
//! Size (over 800 lines): one client for seven CAMARA APIs sharing authentication, retries
//! and error mapping; a third of it is the wire types.

use crate::number::E164;
use crate::telco::*;
use async_trait::async_trait;
use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::header::{ACCEPT, AUTHORIZATION};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;
use tokio::sync::Mutex;

/// The OAuth scopes the client asks for, as the CAMARA files name them. The operator
/// must grant each to the client at onboarding.
pub mod scope {
    /// SIM Swap `check`.
    pub const SIM_SWAP_CHECK: &str = "sim-swap:check";
    /// SIM Swap `retrieve-date`.
    pub const SIM_SWAP_RETRIEVE_DATE: &str = "sim-swap:retrieve-date";
    /// Number Verification `verify` (three-legged, asked for at the authorize endpoint).
    pub const NUMBER_VERIFICATION_VERIFY: &str = "number-verification:verify";
    /// KYC Match.
    pub const KYC_MATCH: &str = "kyc-match:match";
    /// KYC Fill-in, every attribute.
    pub const KYC_FILL_IN: &str = "kyc-fill-in:set-all";
    /// KYC Age Verification.
    pub const KYC_AGE_VERIFICATION: &str = "kyc-age-verification:verify";
    /// Device Reachability Status.
    pub const DEVICE_REACHABILITY_STATUS: &str = "device-reachability-status:read";
    /// Create a SIM swap subscription.
    pub const SIM_SWAP_SUBSCRIPTION_CREATE: &str =
        "sim-swap-subscriptions:org.camaraproject.sim-swap-subscriptions.v0.swapped:create";
    /// Delete a SIM swap subscription.
    pub const SIM_SWAP_SUBSCRIPTION_DELETE: &str = "sim-swap-subscriptions:delete";
}

/// Operation paths under `apiRoot`, with their version prefixes.
mod path {
    pub const SIM_SWAP_CHECK: &str = "/sim-swap/v2/check";
    pub const SIM_SWAP_RETRIEVE_DATE: &str = "/sim-swap/v2/retrieve-date";
    pub const NUMBER_VERIFICATION_VERIFY: &str = "/number-verification/v2/verify";
    pub const KYC_MATCH: &str = "/kyc-match/v0.4/match";
    pub const KYC_FILL_IN: &str = "/kyc-fill-in/v0.4/fill-in";
    pub const KYC_AGE_VERIFICATION: &str = "/kyc-age-verification/v0.2/verify";
    pub const DEVICE_REACHABILITY_STATUS: &str = "/device-reachability-status/v1/retrieve";
    pub const SIM_SWAP_SUBSCRIPTIONS: &str = "/sim-swap-subscriptions/v0.3/subscriptions";
}

/// The CloudEvent `type` of a SIM swap notification, and the subscription's event type.
pub const SIM_SWAPPED_EVENT: &str = "org.camaraproject.sim-swap-subscriptions.v0.swapped";

/// How long [`CamaraClient::subscribe_sim_swap`] asks a subscription (and its sink
/// token) to last.
pub const SUBSCRIPTION_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);

/// The 403 code Number Verification answers when the device did not authenticate over
/// the mobile network.
const NOT_AUTHENTICATED_BY_MOBILE_NETWORK: &str =
    "NUMBER_VERIFICATION.USER_NOT_AUTHENTICATED_BY_MOBILE_NETWORK";

/// The scopes asked for at the operator's authorize endpoint.
const NETWORK_AUTH_SCOPE: &str = "openid number-verification:verify";

/// Largest response body read; longer ones are unreadable answers.
const MAX_BODY: usize = 1024 * 1024;

/// Token lifetime assumed when the token endpoint gives no `expires_in`.
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(300);

/// Longest token lifetime believed, whatever the token endpoint says.
const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// How long before expiry a cached token is replaced (at most half its lifetime).
const REFRESH_MARGIN: Duration = Duration::from_secs(30);

/// Longest server text kept in an error message.
const MAX_MESSAGE_CHARS: usize = 300;

/// Where and how to reach the operator.
#[derive(Clone)]
pub struct CamaraConfig {
    /// The `apiRoot`: the operator's API base, e.g. `https://api.example.com/camara`; the
    /// API paths (`/sim-swap/v2/check`, …) are appended to it.
    pub base_url: String,
    /// The OAuth 2.0 token endpoint.
    pub token_url: String,
    /// The client id issued at onboarding.
    pub client_id: String,
    /// The client secret issued at onboarding.
    pub client_secret: String,
    /// The operator's OIDC authorize endpoint for Number Verification; without it the
    /// client offers no network authentication.
    pub authorize_url: Option<String>,
    /// Timeout of each HTTP request, body included.
    pub timeout: Duration,
}

impl fmt::Debug for CamaraConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CamaraConfig")
            .field("base_url", &self.base_url)
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("authorize_url", &self.authorize_url)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// A SIM swap notification, read from the CloudEvent the operator posts to the sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimSwapNotice {
    /// The subscription that produced it.
    pub subscription_id: String,
    /// The number whose SIM was swapped, when the operator includes it.
    pub phone_number: Option<String>,
    /// The CloudEvent `id` (unique per `source`; use it to drop repeats).
    pub event_id: String,
    /// When the swap happened.
    pub time: DateTime<Utc>,
}

/// A token held for one scope.
struct CachedToken {
    value: String,
    fresh_until: Instant,
}

/// The CAMARA client. Cheap to share behind an `Arc`; holds a connection pool and the
/// token cache.
pub struct CamaraClient {
    config: CamaraConfig,
    base: String,
    basic_auth: String,
    http: reqwest::Client,
    tokens: Mutex<HashMap<&'static str, CachedToken>>,
}

impl fmt::Debug for CamaraClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CamaraClient")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl CamaraClient {
    /// A client for `config`. The URLs must be `https` (plain `http` only to a loopback
    /// host), the client id non-empty and the timeout non-zero.
    pub fn new(config: CamaraConfig) -> Result<Self, TelcoError> {
        check_url("base_url", &config.base_url)?;
        check_url("token_url", &config.token_url)?;
        if let Some(authorize) = &config.authorize_url {
            check_url("authorize_url", authorize)?;
        }
        if config.client_id.is_empty() {
            return Err(TelcoError::Invalid("CAMARA client_id is empty".into()));
        }
        if config.timeout.is_zero() {
            return Err(TelcoError::Invalid("CAMARA timeout is zero".into()));
        }
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("vouch/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| TelcoError::Invalid(format!("CAMARA HTTP client: {e}")))?;
        // RFC 6749 §2.3.1: form-encode both parts before base64.
        let credentials = format!(
            "{}:{}",
            form_encode(&config.client_id),
            form_encode(&config.client_secret)
        );
        let basic_auth = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(credentials)
        );
        Ok(CamaraClient {
            base: config.base_url.trim_end_matches('/').to_string(),
            basic_auth,
            config,
            http,
            tokens: Mutex::new(HashMap::new()),
        })
    }

    /// Subscribes `sink` (an `https` URL) to SIM swaps of `phone` for
    /// [`SUBSCRIPTION_LIFETIME`]; the operator posts CloudEvents there with
    /// `Authorization: Bearer {sink_token}`. Returns the subscription id.
    pub async fn subscribe_sim_swap(
        &self,
        phone: &E164,
        sink: &str,
        sink_token: &str,
    ) -> Result<String, TelcoError> {
        let lifetime = chrono::Duration::from_std(SUBSCRIPTION_LIFETIME)
            .unwrap_or_else(|_| chrono::Duration::days(30));
        self.subscribe_sim_swap_until(phone, sink, sink_token, Utc::now() + lifetime)
            .await
    }

    /// [`CamaraClient::subscribe_sim_swap`] until `expires_at`, which is also when the
    /// operator should consider `sink_token` expired.
    pub async fn subscribe_sim_swap_until(
        &self,
        phone: &E164,
        sink: &str,
        sink_token: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<String, TelcoError> {
        let sink_ok = url::Url::parse(sink).is_ok_and(|u| u.scheme() == "https");
        if !sink_ok {
            return Err(TelcoError::Invalid(format!(
                "the sink must be an https URL: {sink}"
            )));
        }
        if sink_token.is_empty() {
            return Err(TelcoError::Invalid("the sink token is empty".into()));
        }
        let expires = expires_at.to_rfc3339_opts(SecondsFormat::Secs, true);
        let body = json!({
            "protocol": "HTTP",
            "sink": sink,
            "sinkCredential": {
                "credentialType": "ACCESSTOKEN",
                "accessToken": sink_token,
                "accessTokenExpiresUtc": expires,
                "accessTokenType": "bearer",
            },
            "types": [SIM_SWAPPED_EVENT],
            "config": {
                "subscriptionDetail": { "phoneNumber": phone.as_str() },
                "subscriptionExpireTime": expires,
            },
        });
        let bytes = self
            .call_2legged(
                Method::POST,
                scope::SIM_SWAP_SUBSCRIPTION_CREATE,
                path::SIM_SWAP_SUBSCRIPTIONS,
                Some(&body),
            )
            .await?;
        // 201 answers the whole Subscription, 202 (asynchronous creation) only `{id}`.
        #[derive(Deserialize)]
        struct Created {
            id: String,
        }
        let created: Created = decode(&bytes, "subscription")?;
        if created.id.is_empty() {
            return Err(TelcoError::Unavailable(
                "the subscription id is empty".into(),
            ));
        }
        Ok(created.id)
    }

    /// Deletes a SIM swap subscription. A subscription the operator no longer knows
    /// answers `NotApplicable`.
    pub async fn unsubscribe_sim_swap(&self, subscription_id: &str) -> Result<(), TelcoError> {
        if subscription_id.is_empty() {
            return Err(TelcoError::Invalid("the subscription id is empty".into()));
        }
        let path = format!(
            "{}/{}",
            path::SIM_SWAP_SUBSCRIPTIONS,
            percent_encode(subscription_id, b"")
        );
        self.call_2legged(
            Method::DELETE,
            scope::SIM_SWAP_SUBSCRIPTION_DELETE,
            &path,
            None,
        )
        .await?;
        Ok(())
    }

    /// A two-legged call: the cached token for `scope`, and on `401` one more try with
    /// a fresh token.
    async fn call_2legged(
        &self,
        method: Method,
        scope: &'static str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Vec<u8>, TelcoError> {
        let correlator = correlator();
        let token = self.client_token(scope).await?;
        match self
            .send(method.clone(), path, &token, &correlator, body)
            .await
        {
            Err(f) if f.status == Some(StatusCode::UNAUTHORIZED) => {
                tracing::debug!(scope, code = %f.code, "CAMARA token refused, fetching another");
                self.forget_token(scope, &token).await;
                let token = self.client_token(scope).await?;
                self.send(method, path, &token, &correlator, body)
                    .await
                    .map_err(Failure::into_error)
            }
            other => other.map_err(Failure::into_error),
        }
    }

    /// One API request; the body of a `2xx` answer, or why there is none.
    async fn send(
        &self,
        method: Method,
        path: &str,
        bearer: &str,
        correlator: &str,
        body: Option<&Value>,
    ) -> Result<Vec<u8>, Failure> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(bearer)
            .header("x-correlator", correlator)
            .header(ACCEPT, "application/json");
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(Failure::transport)?;
        let status = response.status();
        if let Some(echo) = response.headers().get("x-correlator") {
            if echo.as_bytes() != correlator.as_bytes() {
                tracing::warn!(path, correlator, "CAMARA answered another x-correlator");
            }
        }
        let (bytes, truncated) = read_capped(response).await?;
        if status.is_success() {
            if truncated {
                return Err(Failure::too_large(status));
            }
            Ok(bytes)
        } else {
            Err(Failure::from_error_body(status, &bytes))
        }
    }

    /// A client-credentials token for `scope`, from the cache while it is fresh.
    async fn client_token(&self, scope: &'static str) -> Result<String, TelcoError> {
        let mut cache = self.tokens.lock().await;
        let asked = Instant::now();
        if let Some(token) = cache.get(scope) {
            if asked < token.fresh_until {
                return Ok(token.value.clone());
            }
        }
        let granted = self
            .token_request(&[("grant_type", "client_credentials"), ("scope", scope)])
            .await?;
        let lifetime = granted.lifetime().min(MAX_TOKEN_LIFETIME);
        let fresh_for = lifetime.saturating_sub(REFRESH_MARGIN.min(lifetime / 2));
        cache.insert(
            scope,
            CachedToken {
                value: granted.access_token.clone(),
                fresh_until: asked.checked_add(fresh_for).unwrap_or(asked),
            },
        );
        Ok(granted.access_token)
    }

    /// Drops the cached token for `scope` if it is still `token`.
    async fn forget_token(&self, scope: &'static str, token: &str) {
        let mut cache = self.tokens.lock().await;
        if cache.get(scope).is_some_and(|t| t.value == token) {
            cache.remove(scope);
        }
    }

    /// A request to the token endpoint with client authentication by HTTP Basic.
    async fn token_request(&self, form: &[(&str, &str)]) -> Result<TokenGrant, TelcoError> {
        let response = self
            .http
            .post(&self.config.token_url)
            .header(AUTHORIZATION, &self.basic_auth)
            .header(ACCEPT, "application/json")
            .form(form)
            .send()
            .await
            .map_err(|e| Failure::transport(e).into_error())?;
        let status = response.status();
        let (bytes, truncated) = read_capped(response).await.map_err(Failure::into_error)?;
        if !status.is_success() {
            return Err(token_error(status, &bytes));
        }
        if truncated {
            return Err(Failure::too_large(status).into_error());
        }
        let grant: TokenGrant = decode(&bytes, "token")?;
        if grant.access_token.is_empty() {
            return Err(TelcoError::Unavailable(
                "the token endpoint gave an empty token".into(),
            ));
        }
        if let Some(kind) = &grant.token_type {
            if !kind.eq_ignore_ascii_case("bearer") {
                return Err(TelcoError::Refused(format!(
                    "the token endpoint gave a {} token, not a bearer token",
                    clean(kind)
                )));
            }
        }
        Ok(grant)
    }
}

#[async_trait]
impl Telco for CamaraClient {
    fn name(&self) -> &'static str {
        "camara"
    }

    async fn sim_swap_check(&self, phone: &E164, max_age_hours: u32) -> Result<bool, TelcoError> {
        if !(1..=2400).contains(&max_age_hours) {
            return Err(TelcoError::Invalid("maxAge must be 1 to 2400 hours".into()));
        }
        let body = json!({ "phoneNumber": phone.as_str(), "maxAge": max_age_hours });
        let bytes = self
            .call_2legged(
                Method::POST,
                scope::SIM_SWAP_CHECK,
                path::SIM_SWAP_CHECK,
                Some(&body),
            )
            .await?;
        #[derive(Deserialize)]
        struct CheckSimSwapInfo {
            swapped: bool,
        }
        Ok(decode::<CheckSimSwapInfo>(&bytes, "SIM swap check")?.swapped)
    }

    async fn sim_swap_date(&self, phone: &E164) -> Result<SimSwapDate, TelcoError> {
        let body = json!({ "phoneNumber": phone.as_str() });
        let bytes = self
            .call_2legged(
                Method::POST,
                scope::SIM_SWAP_RETRIEVE_DATE,
                path::SIM_SWAP_RETRIEVE_DATE,
                Some(&body),
            )
            .await?;
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct SimSwapInfo {
            // Required but nullable: `Option` takes both `null` and (leniently) absence.
            latest_sim_change: Option<String>,
            monitored_period: Option<i64>,
        }
        let info: SimSwapInfo = decode(&bytes, "SIM swap date")?;
        let latest_sim_change = match info.latest_sim_change.as_deref() {
            None => None,
            Some(s) => Some(parse_time(s).ok_or_else(|| {
                TelcoError::Unavailable(format!("unreadable latestSimChange {:?}", clean(s)))
            })?),
        };
        Ok(SimSwapDate {
            latest_sim_change,
            monitored_period_days: info.monitored_period.and_then(|d| u32::try_from(d).ok()),
        })
    }

    fn network_auth_redirect(
        &self,
        phone: &E164,
        state: &str,
        redirect_uri: &str,
    ) -> Option<NetworkAuthRedirect> {
        let authorize = self.config.authorize_url.as_deref()?;
        let separator = match authorize.rsplit_once('?') {
            None => "?",
            Some((_, "")) => "",
            Some(_) if authorize.ends_with('&') => "",
            Some(_) => "&",
        };
        let keep = b":/";
        let url = format!(
            "{authorize}{separator}response_type=code&client_id={}&redirect_uri={}&scope={}\
             &state={}&prompt=none&login_hint={}",
            percent_encode(&self.config.client_id, keep),
            percent_encode(redirect_uri, keep),
            percent_encode(NETWORK_AUTH_SCOPE, keep),
            percent_encode(state, keep),
            percent_encode(&format!("tel:{}", phone.as_str()), keep),
        );
        Some(NetworkAuthRedirect { url })
    }

    async fn exchange_network_code(
        &self,
        code: &str,
        redirect_uri: &str,
    ) -> Result<DeviceProof, TelcoError> {
        if self.config.authorize_url.is_none() {
            return Err(TelcoError::NotApplicable(
                "no authorize_url: this operator does not authenticate devices".into(),
            ));
        }
        if code.is_empty() {
            return Err(TelcoError::Invalid(
                "the authorization code is empty".into(),
            ));
        }
        let grant = self
            .token_request(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", redirect_uri),
            ])
            .await?;
        Ok(DeviceProof::AccessToken(grant.access_token))
    }

    async fn verify_number(
        &self,
        phone: &E164,
        proof: &DeviceProof,
    ) -> Result<NumberCheck, TelcoError> {
        let token = match proof {
            DeviceProof::AccessToken(token) if !token.is_empty() => token,
            _ => return Ok(NumberCheck::Unavailable),
        };
        let body = json!({ "phoneNumber": phone.as_str() });
        let sent = self
            .send(
                Method::POST,
                path::NUMBER_VERIFICATION_VERIFY,
                token,
                &correlator(),
                Some(&body),
            )
            .await;
        match sent {
            Ok(bytes) => {
                #[derive(Deserialize)]
                #[serde(rename_all = "camelCase")]
                struct NumberVerificationMatchResponse {
                    device_phone_number_verified: bool,
                }
                let answer: NumberVerificationMatchResponse =
                    decode(&bytes, "number verification")?;
                Ok(if answer.device_phone_number_verified {
                    NumberCheck::Verified
                } else {
                    NumberCheck::NotVerified
                })
            }
            Err(f)
                if f.status == Some(StatusCode::FORBIDDEN)
                    && f.code == NOT_AUTHENTICATED_BY_MOBILE_NETWORK =>
            {
                Ok(NumberCheck::Unavailable)
            }
            Err(f) => Err(f.into_error()),
        }
    }

    async fn kyc_match(
        &self,
        phone: &E164,
        claims: &KycAttributes,
    ) -> Result<KycMatch, TelcoError> {
        let mut body = match serde_json::to_value(claims) {
            Ok(Value::Object(map)) => map,
            _ => return Err(TelcoError::Invalid("the claims do not serialise".into())),
        };
        if body.is_empty() {
            // Nothing to compare (the API would answer 400 INVALID_PARAM_COMBINATION).
            return Ok(KycMatch::new());
        }
        body.insert(
            "phoneNumber".into(),
            Value::String(phone.as_str().to_string()),
        );
        let bytes = self
            .call_2legged(
                Method::POST,
                scope::KYC_MATCH,
                path::KYC_MATCH,
                Some(&Value::Object(body)),
            )
            .await?;
        let answer: Map<String, Value> = decode(&bytes, "KYC match")?;
        Ok(match_results(&answer))
    }

    async fn kyc_fill_in(&self, phone: &E164) -> Result<KycAttributes, TelcoError> {
        let body = json!({ "phoneNumber": phone.as_str() });
        let bytes = self
            .call_2legged(
                Method::POST,
                scope::KYC_FILL_IN,
                path::KYC_FILL_IN,
                Some(&body),
            )
            .await?;
        let mut record: Map<String, Value> = decode(&bytes, "KYC fill-in")?;
        // Be lenient with the types: numbers (a street number, a postal code) become
        // text; anything else that is not text is dropped.
        for value in record.values_mut() {
            if let Value::Number(n) = value {
                *value = Value::String(n.to_string());
            }
        }
        record.retain(|_, v| v.is_string());
        serde_json::from_value(Value::Object(record))
            .map_err(|e| TelcoError::Unavailable(format!("unreadable KYC fill-in response: {e}")))
    }

    async fn age_verify(&self, phone: &E164, threshold: u8) -> Result<AgeCheck, TelcoError> {
        if threshold > 120 {
            return Err(TelcoError::Invalid("ageThreshold must be 0 to 120".into()));
        }
        let body = json!({ "ageThreshold": threshold, "phoneNumber": phone.as_str() });
        let bytes = self
            .call_2legged(
                Method::POST,
                scope::KYC_AGE_VERIFICATION,
                path::KYC_AGE_VERIFICATION,
                Some(&body),
            )
            .await?;
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct VerifyResponseBody {
            age_check: Tri,
            verified_status: Option<bool>,
            identity_match_score: Option<i64>,
        }
        let answer: VerifyResponseBody = decode(&bytes, "age verification")?;
        Ok(AgeCheck {
            age_check: answer.age_check,
            verified_status: answer.verified_status,
            identity_match_score: answer
                .identity_match_score
                .and_then(|s| u8::try_from(s).ok())
                .filter(|s| *s <= 100),
        })
    }

    async fn reachability(&self, phone: &E164) -> Result<Reachability, TelcoError> {
        let body = json!({ "device": { "phoneNumber": phone.as_str() } });
        let bytes = self
            .call_2legged(
                Method::POST,
                scope::DEVICE_REACHABILITY_STATUS,
                path::DEVICE_REACHABILITY_STATUS,
                Some(&body),
            )
            .await?;
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct ReachabilityStatusResponse {
            last_status_time: Option<String>,
            reachable: bool,
            connectivity: Option<Vec<String>>,
        }
        let answer: ReachabilityStatusResponse = decode(&bytes, "reachability")?;
        Ok(Reachability {
            reachable: answer.reachable,
            connectivity: answer.connectivity.unwrap_or_default(),
            last_status_time: answer.last_status_time.as_deref().and_then(parse_time),
        })
    }

    async fn subscribe_changes(
        &self,
        phone: &E164,
        sink: &str,
        sink_token: &str,
    ) -> Result<Option<String>, TelcoError> {
        self.subscribe_sim_swap(phone, sink, sink_token)
            .await
            .map(Some)
    }

    fn read_change_notice(&self, body: &[u8]) -> Result<ChangeNotice, TelcoError> {
        let notice = parse_sim_swap_event(body)?;
        Ok(ChangeNotice {
            subscription_id: notice.subscription_id,
            phone_number: notice.phone_number,
            event: ChangeEvent::PhoneNumberChange,
        })
    }
}

/// Reads the CloudEvent the operator posts to a SIM swap sink. Lifecycle events
/// (`subscription-started`, `-updated`, `-ended`) answer `NotApplicable` with their
/// type; malformed bodies answer `Invalid`. Check the bearer with [`sink_authorized`]
/// first.
pub fn parse_sim_swap_event(body: &[u8]) -> Result<SimSwapNotice, TelcoError> {
    #[derive(Deserialize)]
    struct CloudEvent {
        id: String,
        source: String,
        specversion: String,
        #[serde(rename = "type")]
        kind: String,
        time: String,
        data: Option<Value>,
    }
    let event: CloudEvent = serde_json::from_slice(body)
        .map_err(|e| TelcoError::Invalid(format!("not a CloudEvent: {e}")))?;
    if event.specversion != "1.0" {
        return Err(TelcoError::Invalid(format!(
            "CloudEvents specversion {:?}, not 1.0",
            clean(&event.specversion)
        )));
    }
    if event.id.is_empty() || event.source.is_empty() {
        return Err(TelcoError::Invalid(
            "CloudEvent id or source is empty".into(),
        ));
    }
    if event.kind != SIM_SWAPPED_EVENT {
        return Err(TelcoError::NotApplicable(format!(
            "CloudEvent type {} is not a SIM swap",
            clean(&event.kind)
        )));
    }
    let time = parse_time(&event.time)
        .ok_or_else(|| TelcoError::Invalid(format!("CloudEvent time {:?}", clean(&event.time))))?;
    let data = event.data.unwrap_or(Value::Null);
    let subscription_id = data
        .get("subscriptionId")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| TelcoError::Invalid("the SIM swap event has no subscriptionId".into()))?;
    Ok(SimSwapNotice {
        subscription_id: subscription_id.to_string(),
        phone_number: data
            .get("phoneNumber")
            .and_then(Value::as_str)
            .map(str::to_string),
        event_id: event.id,
        time,
    })
}

/// Whether a sink request's `Authorization` header carries `Bearer {sink_token}`
/// (compared in constant time).
pub fn sink_authorized(authorization: Option<&str>, sink_token: &str) -> bool {
    let Some(header) = authorization else {
        return false;
    };
    let Some((scheme, token)) = header.trim().split_once(' ') else {
        return false;
    };
    scheme.eq_ignore_ascii_case("bearer")
        && !sink_token.is_empty()
        && bool::from(token.trim().as_bytes().ct_eq(sink_token.as_bytes()))
}

/// The KYC Match answer as per-attribute results: `<attr>Match` with its optional
/// `<attr>MatchScore`. Values other than `"true"`, `"false"`, `"not_available"` (or
/// JSON booleans) are skipped.
fn match_results(answer: &Map<String, Value>) -> KycMatch {
    let mut out = KycMatch::new();
    for (key, value) in answer {
        let Some(attribute) = key.strip_suffix("Match").filter(|a| !a.is_empty()) else {
            continue;
        };
        let matched = match value {
            Value::String(s) if s == "true" => Tri::True,
            Value::String(s) if s == "false" => Tri::False,
            Value::String(s) if s == "not_available" => Tri::NotAvailable,
            Value::Bool(true) => Tri::True,
            Value::Bool(false) => Tri::False,
            other => {
                tracing::warn!(key = %key, value = %other, "unreadable KYC match result");
                continue;
            }
        };
        let score = answer
            .get(&format!("{key}Score"))
            .and_then(Value::as_u64)
            .and_then(|s| u8::try_from(s).ok())
            .filter(|s| *s <= 100);
        out.insert(attribute.to_string(), FieldMatch { matched, score });
    }
    out
}

/// A successful token endpoint answer.
#[derive(Deserialize)]
struct TokenGrant {
    access_token: String,
    token_type: Option<String>,
    expires_in: Option<Value>,
}

impl TokenGrant {
    fn lifetime(&self) -> Duration {
        let seconds = match &self.expires_in {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        };
        seconds
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_TOKEN_LIFETIME)
    }
}

/// A token endpoint error (RFC 6749 §5.2) as a [`TelcoError`].
fn token_error(status: StatusCode, body: &[u8]) -> TelcoError {
    #[derive(Deserialize)]
    struct OAuthError {
        error: String,
        error_description: Option<String>,
    }
    let (code, description) = match serde_json::from_slice::<OAuthError>(body) {
        Ok(e) => (e.error, e.error_description.unwrap_or_default()),
        Err(_) => (format!("HTTP_{}", status.as_u16()), snippet(body)),
    };
    let text = format!(
        "token endpoint {}: {} (HTTP {})",
        clean(&code),
        clean(&description),
        status.as_u16()
    );
    match status.as_u16() {
        400 if matches!(code.as_str(), "invalid_request" | "unsupported_grant_type") => {
            TelcoError::Invalid(text)
        }
        400 | 401 | 403 => TelcoError::Refused(text),
        408 | 429 => TelcoError::Unavailable(text),
        400..=499 => TelcoError::Invalid(text),
        _ => TelcoError::Unavailable(text),
    }
}

/// Why an API request gave no answer: the status (none when the request failed before
/// one came) with the CAMARA `code` and `message`.
struct Failure {
    status: Option<StatusCode>,
    code: String,
    message: String,
}

impl Failure {
    fn transport(e: reqwest::Error) -> Self {
        let code = if e.is_timeout() {
            "TIMEOUT"
        } else if e.is_builder() {
            "REQUEST"
        } else {
            "TRANSPORT"
        };
        Failure {
            status: None,
            code: code.into(),
            message: e.to_string(),
        }
    }

    fn too_large(status: StatusCode) -> Self {
        Failure {
            status: None,
            code: "TOO_LARGE".into(),
            message: format!("HTTP {} answer over {MAX_BODY} bytes", status.as_u16()),
        }
    }

    fn from_error_body(status: StatusCode, body: &[u8]) -> Self {
        #[derive(Deserialize)]
        struct ErrorInfo {
            code: Option<String>,
            message: Option<String>,
        }
        match serde_json::from_slice::<ErrorInfo>(body) {
            Ok(ErrorInfo {
                code: Some(code),
                message,
            }) => Failure {
                status: Some(status),
                code,
                message: message.unwrap_or_default(),
            },
            _ => Failure {
                status: Some(status),
                code: format!("HTTP_{}", status.as_u16()),
                message: snippet(body),
            },
        }
    }

    fn into_error(self) -> TelcoError {
        let Some(status) = self.status else {
            return TelcoError::Unavailable(format!("{}: {}", self.code, clean(&self.message)));
        };
        let text = format!(
            "{}: {} (HTTP {})",
            clean(&self.code),
            clean(&self.message),
            status.as_u16()
        );
        match status.as_u16() {
            404 | 422 => TelcoError::NotApplicable(text),
            401 | 403 => TelcoError::Refused(text),
            408 | 429 => TelcoError::Unavailable(text),
            400..=499 => TelcoError::Invalid(text),
            _ => TelcoError::Unavailable(text),
        }
    }
}

/// The body, at most [`MAX_BODY`] bytes of it, and whether there was more.
async fn read_capped(mut response: reqwest::Response) -> Result<(Vec<u8>, bool), Failure> {
    let mut out = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(Failure::transport)? {
        let room = MAX_BODY - out.len();
        if chunk.len() > room {
            out.extend_from_slice(&chunk[..room]);
            return Ok((out, true));
        }
        out.extend_from_slice(&chunk);
    }
    Ok((out, false))
}

/// Parses a `2xx` body, or says it is unreadable.
fn decode<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, TelcoError> {
    serde_json::from_slice(bytes)
        .map_err(|e| TelcoError::Unavailable(format!("unreadable {what} response: {e}")))
}

/// An RFC 3339 timestamp (any offset) in UTC.
fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Server text fit for a message: no control characters, bounded length.
fn clean(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .take(MAX_MESSAGE_CHARS)
        .collect()
}

/// The start of a body that was not an `ErrorInfo`.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(4 * MAX_MESSAGE_CHARS)]);
    let text = clean(text.trim());
    if text.is_empty() {
        "no error body".into()
    } else {
        text
    }
}

/// A fresh `x-correlator`: a random (version 4) UUID.
fn correlator() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Percent-encodes all but the unreserved characters and those in `keep`.
fn percent_encode(s: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') || keep.contains(&b)
        {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// `application/x-www-form-urlencoded` encoding of one value.
fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Checks a configured URL: `https`, or `http` to a loopback host.
fn check_url(name: &str, value: &str) -> Result<(), TelcoError> {
    let parsed = url::Url::parse(value)
        .map_err(|e| TelcoError::Invalid(format!("CAMARA {name} {value:?}: {e}")))?;
    let loopback = match parsed.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match parsed.scheme() {
        "https" if parsed.host().is_some() => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(TelcoError::Invalid(format!(
            "CAMARA {name} must be an https URL (http only to a loopback host): {value}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn correlators_fit_the_pattern() {
        let a = correlator();
        assert_eq!(a.len(), 36);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'));
        assert_eq!(&a[14..15], "4");
        assert_ne!(a, correlator());
    }

    #[test]
    fn encoding_keeps_only_safe_characters() {
        assert_eq!(
            percent_encode("tel:+1 2&x=/", b":/"),
            "tel:%2B1%202%26x%3D/"
        );
        assert_eq!(percent_encode("a/b:c", b""), "a%2Fb%3Ac");
    }

    #[test]
    fn messages_are_bounded_and_printable() {
        let long = "x".repeat(5000) + "\n\u{7}";
        assert_eq!(clean(&long).len(), MAX_MESSAGE_CHARS);
        assert_eq!(snippet(b"  \xff\xfe\n "), "\u{fffd}\u{fffd}");
        assert_eq!(snippet(b""), "no error body");
    }

    #[test]
    fn urls_must_be_https_except_loopback() {
        assert!(check_url("x", "https://api.example.com/camara").is_ok());
        assert!(check_url("x", "http://127.0.0.1:8080").is_ok());
        assert!(check_url("x", "http://localhost/x").is_ok());
        assert!(check_url("x", "http://[::1]:9/").is_ok());
        assert!(check_url("x", "http://api.example.com").is_err());
        assert!(check_url("x", "ftp://127.0.0.1").is_err());
        assert!(check_url("x", "not a url").is_err());
    }
}

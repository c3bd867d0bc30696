//! The telco signals boundary. [`Telco`] is what vouch asks a mobile network about a
//! number; its vocabulary is the CAMARA APIs' (SIM Swap, Number Verification, KYC
//! Match, KYC Fill-in, KYC Age Verification, Device Reachability Status), so the
//! [`crate::camara`] client maps one to one and the [`crate::sandbox`] answers the same
//! questions for documented test numbers.

use crate::number::E164;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Why the network gave no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TelcoError {
    /// The network does not serve this number or this API for it (CAMARA
    /// `404 IDENTIFIER_NOT_FOUND`, `422 SERVICE_NOT_APPLICABLE`).
    #[error("the network cannot answer for this number: {0}")]
    NotApplicable(String),
    /// The operator refused (`401`, `403`): credentials, consent or scopes.
    #[error("the network refused the request: {0}")]
    Refused(String),
    /// The request was wrong (`400`), a bug on our side.
    #[error("the network rejected the request as invalid: {0}")]
    Invalid(String),
    /// Timeouts, `429`, `5xx`, unreadable answers: try again later.
    #[error("the network is unavailable: {0}")]
    Unavailable(String),
}

/// A CAMARA-style three-valued answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Tri {
    /// `"true"`.
    #[serde(rename = "true")]
    True,
    /// `"false"`.
    #[serde(rename = "false")]
    False,
    /// `"not_available"`.
    #[serde(rename = "not_available")]
    NotAvailable,
}

/// SIM Swap `retrieve-date`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SimSwapDate {
    /// The latest SIM change; none when the operator has no record of one.
    pub latest_sim_change: Option<DateTime<Utc>>,
    /// Days the operator looks back, when it limits them.
    pub monitored_period_days: Option<u32>,
}

/// The outcome of Number Verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberCheck {
    /// The device's network connection belongs to the number.
    Verified,
    /// It belongs to another number.
    NotVerified,
    /// The network could not authenticate the device (not on mobile data, operator
    /// not served): fall back to an OTP.
    Unavailable,
}

/// How the device proves its connection for Number Verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceProof {
    /// The access token the operator issued after authenticating the device over its
    /// mobile connection (OIDC authorization code with `prompt=none`).
    AccessToken(String),
    /// No proof: only a sandbox can answer.
    None,
}

/// Personal attributes, by their CAMARA KYC names. Used both as the claims sent to KYC
/// Match and as the data KYC Fill-in returns.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KycAttributes {
    /// Identity document number (for the US, the SSN with `idDocumentType`
    /// `social_security_id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_document: Option<String>,
    /// `passport`, `national_id_card`, `social_security_id`, …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_document_type: Option<String>,
    /// Full name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// First name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    /// Last name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    /// Middle names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub middle_names: Option<String>,
    /// Full address line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Street name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub street_name: Option<String>,
    /// Street number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub street_number: Option<String>,
    /// Postal code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// Region / state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// City.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locality: Option<String>,
    /// ISO 3166-1 alpha-2.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// `YYYY-MM-DD`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birthdate: Option<String>,
    /// Email address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// `MALE`, `FEMALE`, `OTHER`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
}

/// One attribute's KYC Match result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldMatch {
    /// Whether it matched.
    pub matched: Tri,
    /// 0–99 similarity for text fields that did not match exactly, when given.
    pub score: Option<u8>,
}

/// KYC Match: per requested attribute (CAMARA names: `givenName`, `familyName`,
/// `birthdate`, `idDocument`, `address`, `postalCode`, `email`, …).
pub type KycMatch = BTreeMap<String, FieldMatch>;

/// KYC Age Verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgeCheck {
    /// Whether the subscriber is at least the threshold age.
    pub age_check: Tri,
    /// Whether the answer was checked against a legal identity document.
    pub verified_status: Option<bool>,
    /// 0–100, when identity attributes were sent.
    pub identity_match_score: Option<u8>,
}

/// Device Reachability Status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reachability {
    /// Whether the network can reach the device.
    pub reachable: bool,
    /// `DATA`, `SMS`.
    pub connectivity: Vec<String>,
    /// When the network last saw the status.
    pub last_status_time: Option<DateTime<Utc>>,
}

/// A change the network reports about a monitored number (SIM Swap subscriptions,
/// reachability `disconnected`, sandbox triggers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChangeEvent {
    /// The number now belongs to someone else, or the SIM was swapped.
    PhoneNumberChange,
    /// The line was disconnected.
    Disconnect,
    /// The device left coverage for good.
    MovedOutOfCoverage,
    /// The number was ported to another operator.
    Port,
}

impl ChangeEvent {
    /// The wire `eventType`.
    pub fn event_type(self) -> &'static str {
        match self {
            ChangeEvent::PhoneNumberChange => "PHONE_NUMBER_CHANGE",
            ChangeEvent::Disconnect => "DISCONNECT",
            ChangeEvent::MovedOutOfCoverage => "MOVED_OUT_OF_COVERAGE",
            ChangeEvent::Port => "PORT",
        }
    }

    /// The human `event` text.
    pub fn description(self) -> &'static str {
        match self {
            ChangeEvent::PhoneNumberChange => "phone number change detected",
            ChangeEvent::Disconnect => "phone number disconnected",
            ChangeEvent::MovedOutOfCoverage => "phone number moved out of coverage",
            ChangeEvent::Port => "phone number ported",
        }
    }

    /// Parses a wire `eventType`.
    pub fn parse(s: &str) -> Option<ChangeEvent> {
        Some(match s {
            "PHONE_NUMBER_CHANGE" => ChangeEvent::PhoneNumberChange,
            "DISCONNECT" => ChangeEvent::Disconnect,
            "MOVED_OUT_OF_COVERAGE" => ChangeEvent::MovedOutOfCoverage,
            "PORT" => ChangeEvent::Port,
            _ => return None,
        })
    }
}

/// Where to send the device for network authentication (the "mobile auth" path): the
/// operator's authorization endpoint with `prompt=none`; the browser on mobile data
/// follows it and the operator redirects back with a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkAuthRedirect {
    /// The URL the device fetches.
    pub url: String,
}

/// What vouch can ask a mobile network about a number.
#[async_trait]
pub trait Telco: Send + Sync {
    /// `sandbox` or `camara`.
    fn name(&self) -> &'static str;

    /// Whether `e164` is one of this provider's test numbers (accepted even though the
    /// numbering plan rejects it). Only the sandbox has any.
    fn is_test_number(&self, _e164: &str) -> bool {
        false
    }

    /// The name of the network operator serving `phone`, when this provider knows it
    /// (CAMARA has no API for it, so only the sandbox answers).
    fn carrier(&self, _phone: &E164) -> Option<String> {
        None
    }

    /// SIM Swap `check`: was the SIM changed in the last `max_age_hours` (1–2400)?
    async fn sim_swap_check(&self, phone: &E164, max_age_hours: u32) -> Result<bool, TelcoError>;

    /// SIM Swap `retrieve-date`.
    async fn sim_swap_date(&self, phone: &E164) -> Result<SimSwapDate, TelcoError>;

    /// Where the device goes for network authentication; `None` when this provider
    /// answers [`Telco::verify_number`] without a device proof (the sandbox) or cannot
    /// authenticate devices at all. `state` is echoed to `redirect_uri`.
    fn network_auth_redirect(
        &self,
        _phone: &E164,
        _state: &str,
        _redirect_uri: &str,
    ) -> Option<NetworkAuthRedirect> {
        None
    }

    /// Exchanges the operator's authorization code (from the redirect) for the device
    /// proof.
    async fn exchange_network_code(
        &self,
        _code: &str,
        _redirect_uri: &str,
    ) -> Result<DeviceProof, TelcoError> {
        Err(TelcoError::NotApplicable(
            "this provider does not authenticate devices".into(),
        ))
    }

    /// Number Verification: does the authenticated device's connection belong to
    /// `phone`?
    async fn verify_number(
        &self,
        phone: &E164,
        proof: &DeviceProof,
    ) -> Result<NumberCheck, TelcoError>;

    /// KYC Match of `claims` against the operator's subscriber record.
    async fn kyc_match(&self, phone: &E164, claims: &KycAttributes)
        -> Result<KycMatch, TelcoError>;

    /// KYC Fill-in: the subscriber record.
    async fn kyc_fill_in(&self, phone: &E164) -> Result<KycAttributes, TelcoError>;

    /// KYC Age Verification: is the subscriber at least `threshold` years old?
    async fn age_verify(&self, phone: &E164, threshold: u8) -> Result<AgeCheck, TelcoError>;

    /// Device Reachability Status.
    async fn reachability(&self, phone: &E164) -> Result<Reachability, TelcoError>;

    /// Subscribes to change events for a number: the network posts them to `sink` with
    /// `Authorization: Bearer <sink_token>`. Returns the subscription id; `None` when
    /// this provider has no subscriptions (the sandbox reports changes through
    /// `POST /dev/phone-events`).
    async fn subscribe_changes(
        &self,
        _phone: &E164,
        _sink: &str,
        _sink_token: &str,
    ) -> Result<Option<String>, TelcoError> {
        Ok(None)
    }

    /// Reads a change notification posted to the sink: the subscription, the number
    /// when the network names it, and the event.
    fn read_change_notice(&self, _body: &[u8]) -> Result<ChangeNotice, TelcoError> {
        Err(TelcoError::NotApplicable(
            "this provider posts no change notifications".into(),
        ))
    }
}

/// A change notification from the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeNotice {
    /// The subscription it belongs to.
    pub subscription_id: String,
    /// The number, when the network includes it.
    pub phone_number: Option<String>,
    /// What changed.
    pub event: ChangeEvent,
}

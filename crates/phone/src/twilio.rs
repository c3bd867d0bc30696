//! [`TwilioClient`]: an [`SmsSender`] for the Twilio Programmable Messaging "Messages"
//! API (`POST /2010-04-01/Accounts/{AccountSid}/Messages.json`) and providers that
//! implement the same API.
//!
//! One message is one form-encoded `POST` with HTTP Basic auth (`AccountSid:AuthToken`).
//! Twilio answers `201 Created` with the message resource, whose `sid` becomes the
//! [`SmsReceipt::provider_id`]. An error answer (`{"code": 21211, "message": …}`) with a
//! 4xx status is [`SmsError::Rejected`]; 408, 429, 5xx, timeouts, connection failures
//! and unreadable answers are [`SmsError::Unavailable`]. A 408, 429, 5xx or a failed
//! connection is retried once, after `Retry-After` (at most [`MAX_RETRY_AFTER`]) or
//! [`RETRY_BACKOFF`]; a timeout or an unreadable success is not, because the message may
//! already be on its way.
//!
//! Logs carry the masked recipient ([`E164::masked`]), never the text or the full number;
//! the full number is also masked in error messages built from Twilio's answers.

use crate::number::E164;
use crate::sms::{OutgoingSms, SmsError, SmsReceipt, SmsSender};
use async_trait::async_trait;
use serde::Deserialize;
use std::fmt;
use std::time::Duration;

/// Twilio's API host, the default [`TwilioConfig::base_url`].
pub const DEFAULT_BASE_URL: &str = "https://api.twilio.com";

/// The default [`TwilioConfig::timeout`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The wait before the single retry when the provider gives no usable `Retry-After`.
pub const RETRY_BACKOFF: Duration = Duration::from_millis(500);

/// The longest `Retry-After` honoured; longer values are cut to this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(2);

/// The most bytes of a response body read; a longer answer counts as unreadable.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// The most characters of a provider's error message kept in an [`SmsError`].
const MAX_ERROR_MESSAGE_CHARS: usize = 300;

/// Who the message is from.
#[derive(Clone, PartialEq, Eq)]
pub enum TwilioSender {
    /// Sent as the form field `From`: an E.164 number (`+15005550006`), a short code
    /// (3 to 8 digits) or an alphanumeric sender ID (1 to 11 letters, digits and
    /// spaces, at least one letter).
    From(String),
    /// Sent as the form field `MessagingServiceSid`: a Messaging Service SID (`MG` and
    /// 32 hexadecimal digits); Twilio picks the number from the service's pool.
    MessagingService(String),
}

impl fmt::Debug for TwilioSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TwilioSender::From(from) => f.debug_tuple("From").field(from).finish(),
            TwilioSender::MessagingService(sid) => {
                f.debug_tuple("MessagingService").field(sid).finish()
            }
        }
    }
}

/// Settings for [`TwilioClient`].
#[derive(Clone)]
pub struct TwilioConfig {
    /// Scheme and host (and optional path prefix) of the API, without the
    /// `/2010-04-01/…` part; [`DEFAULT_BASE_URL`] for Twilio itself.
    pub base_url: String,
    /// The account SID (`AC…`, 34 characters): the Basic auth user and part of the path.
    pub account_sid: String,
    /// The auth token (or API secret): the Basic auth password. Never printed.
    pub auth_token: String,
    /// The sender: `From` or `MessagingServiceSid`.
    pub sender: TwilioSender,
    /// Sent as `StatusCallback` when set: the absolute http(s) URL Twilio posts
    /// delivery status updates to.
    pub status_callback: Option<String>,
    /// Limit for one HTTP attempt, connecting through reading the answer.
    pub timeout: Duration,
}

impl TwilioConfig {
    /// A configuration for Twilio itself: [`DEFAULT_BASE_URL`], no status callback,
    /// [`DEFAULT_TIMEOUT`].
    pub fn new(
        account_sid: impl Into<String>,
        auth_token: impl Into<String>,
        sender: TwilioSender,
    ) -> TwilioConfig {
        TwilioConfig {
            base_url: DEFAULT_BASE_URL.to_string(),
            account_sid: account_sid.into(),
            auth_token: auth_token.into(),
            sender,
            status_callback: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl fmt::Debug for TwilioConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioConfig")
            .field("base_url", &self.base_url)
            .field("account_sid", &self.account_sid)
            .field("auth_token", &"<redacted>")
            .field("sender", &self.sender)
            .field("status_callback", &self.status_callback)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Sends SMS through the Twilio Messages API. Cheap to share (`Arc`) across tasks; the
/// underlying HTTP client keeps a connection pool.
pub struct TwilioClient {
    http: reqwest::Client,
    endpoint: reqwest::Url,
    account_sid: String,
    auth_token: String,
    sender: TwilioSender,
    status_callback: Option<String>,
    timeout: Duration,
}

impl fmt::Debug for TwilioClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioClient")
            .field("endpoint", &self.endpoint.as_str())
            .field("sender", &self.sender)
            .field("status_callback", &self.status_callback)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

fn config_error(message: impl fmt::Display) -> SmsError {
    SmsError::Rejected(format!("invalid Twilio configuration: {message}"))
}

fn validate_account_sid(sid: &str) -> Result<(), SmsError> {
    if !sid.starts_with("AC") {
        return Err(config_error("account_sid must start with \"AC\""));
    }
    if sid.len() != 34 {
        return Err(config_error(format!(
            "account_sid must be 34 characters (\"AC\" and 32 more), not {}",
            sid.chars().count()
        )));
    }
    if !sid.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(config_error(
            "account_sid may contain only ASCII letters and digits",
        ));
    }
    Ok(())
}

fn validate_sender(sender: &TwilioSender) -> Result<(), SmsError> {
    match sender {
        TwilioSender::MessagingService(sid) => {
            let hex = sid
                .strip_prefix("MG")
                .ok_or_else(|| config_error("messaging service SID must start with \"MG\""))?;
            if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(config_error(
                    "messaging service SID must be \"MG\" followed by 32 hexadecimal digits",
                ));
            }
            Ok(())
        }
        TwilioSender::From(from) => {
            if from.trim().is_empty() {
                return Err(config_error("sender (From) is empty"));
            }
            if from.starts_with('+') {
                return E164::from_stored(from).map(drop).map_err(|_| {
                    config_error(
                        "sender (From) starting with '+' must be E.164: '+' and 5 to 15 digits",
                    )
                });
            }
            if from.bytes().all(|b| b.is_ascii_digit()) {
                if (3..=8).contains(&from.len()) {
                    return Ok(());
                }
                return Err(config_error(
                    "sender (From) of digits only must be a short code of 3 to 8 digits; \
                     write long numbers in E.164 with a leading '+'",
                ));
            }
            let chars_ok = from.bytes().all(|b| b.is_ascii_alphanumeric() || b == b' ');
            if !chars_ok || from.len() > 11 || from.starts_with(' ') || from.ends_with(' ') {
                return Err(config_error(
                    "sender (From) must be an E.164 number, a short code, or an alphanumeric \
                     sender ID of at most 11 letters, digits and inner spaces",
                ));
            }
            Ok(())
        }
    }
}

fn validate_http_url(field: &str, value: &str) -> Result<reqwest::Url, SmsError> {
    let url = reqwest::Url::parse(value)
        .map_err(|e| config_error(format!("{field} is not an absolute URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(config_error(format!(
            "{field} must be an http or https URL"
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(config_error(format!("{field} has no host")));
    }
    Ok(url)
}

impl TwilioClient {
    /// Checks `config` and builds the client. Every error is an
    /// [`SmsError::Rejected`] whose text starts `invalid Twilio configuration:` and
    /// names the field (the token itself is never shown).
    pub fn new(config: TwilioConfig) -> Result<TwilioClient, SmsError> {
        validate_account_sid(&config.account_sid)?;
        if config.auth_token.trim().is_empty() {
            return Err(config_error("auth_token is empty"));
        }
        validate_sender(&config.sender)?;
        if let Some(callback) = &config.status_callback {
            validate_http_url("status_callback", callback)?;
        }
        if config.timeout.is_zero() {
            return Err(config_error("timeout must be greater than zero"));
        }
        let base = validate_http_url("base_url", &config.base_url)?;
        if base.query().is_some() || base.fragment().is_some() {
            return Err(config_error("base_url must not have a query or fragment"));
        }
        if !base.username().is_empty() || base.password().is_some() {
            return Err(config_error(
                "base_url must not carry credentials; use account_sid and auth_token",
            ));
        }
        let endpoint = format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            base.as_str().trim_end_matches('/'),
            config.account_sid
        );
        let endpoint = reqwest::Url::parse(&endpoint)
            .map_err(|e| config_error(format!("base_url gives a bad endpoint: {e}")))?;
        if base.scheme() == "http" && !is_loopback(&base) {
            tracing::warn!(
                base_url = %base,
                "Twilio base_url is plain http: credentials and messages travel unencrypted"
            );
        }
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("vouch/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| config_error(format!("cannot build the HTTP client: {e}")))?;
        Ok(TwilioClient {
            http,
            endpoint,
            account_sid: config.account_sid,
            auth_token: config.auth_token,
            sender: config.sender,
            status_callback: config.status_callback,
            timeout: config.timeout,
        })
    }

    /// The URL messages are posted to.
    pub fn endpoint(&self) -> &str {
        self.endpoint.as_str()
    }

    /// The form fields for one message, in the order they are sent.
    fn form<'a>(&'a self, sms: &'a OutgoingSms) -> Vec<(&'static str, &'a str)> {
        let mut form = Vec::with_capacity(4);
        form.push(("To", sms.to.as_str()));
        match &self.sender {
            TwilioSender::From(from) => form.push(("From", from.as_str())),
            TwilioSender::MessagingService(sid) => form.push(("MessagingServiceSid", sid.as_str())),
        }
        form.push(("Body", sms.body.as_str()));
        if let Some(callback) = &self.status_callback {
            form.push(("StatusCallback", callback.as_str()));
        }
        form
    }

    /// One HTTP attempt.
    async fn attempt(&self, form: &[(&str, &str)], to: &E164) -> Outcome {
        let response = self
            .http
            .post(self.endpoint.clone())
            .basic_auth(&self.account_sid, Some(&self.auth_token))
            .header(reqwest::header::ACCEPT, "application/json")
            .form(form)
            .send()
            .await;
        let response = match response {
            Ok(r) => r,
            // Nothing was sent: safe to try again.
            Err(e) if e.is_connect() => {
                return Outcome::Retry {
                    error: SmsError::Unavailable(format!(
                        "cannot connect to Twilio: {}",
                        describe(e)
                    )),
                    after: RETRY_BACKOFF,
                }
            }
            // The message may have been taken: trying again could send it twice.
            Err(e) if e.is_timeout() => {
                return Outcome::Final(Err(SmsError::Unavailable(format!(
                    "Twilio did not answer within {:?}",
                    self.timeout
                ))))
            }
            Err(e) => {
                return Outcome::Final(Err(SmsError::Unavailable(format!(
                    "request to Twilio failed: {}",
                    describe(e)
                ))))
            }
        };
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let code = status.as_u16();
        let retryable = code == 408 || code == 429 || status.is_server_error();
        let body = match read_body(response).await {
            Ok(body) => body,
            // Twilio did not take the message: the error body does not matter.
            Err(_) if retryable => Vec::new(),
            Err(BodyError::Timeout) => {
                return Outcome::Final(Err(SmsError::Unavailable(format!(
                    "Twilio's answer (HTTP {}) did not arrive within {:?}",
                    status.as_u16(),
                    self.timeout
                ))))
            }
            Err(BodyError::TooLong) => {
                return Outcome::Final(Err(SmsError::Unavailable(format!(
                    "Twilio's answer (HTTP {}) is longer than {MAX_RESPONSE_BYTES} bytes",
                    status.as_u16()
                ))))
            }
            Err(BodyError::Broken(detail)) => {
                return Outcome::Final(Err(SmsError::Unavailable(format!(
                    "Twilio's answer (HTTP {}) could not be read: {detail}",
                    status.as_u16()
                ))))
            }
        };
        if status.is_success() {
            return Outcome::Final(accepted(code, &body, to));
        }
        if retryable {
            return Outcome::Retry {
                error: SmsError::Unavailable(describe_error_answer(code, &body, to)),
                after: retry_after.unwrap_or(RETRY_BACKOFF),
            };
        }
        if status.is_client_error() {
            return Outcome::Final(Err(SmsError::Rejected(describe_error_answer(
                code, &body, to,
            ))));
        }
        Outcome::Final(Err(SmsError::Unavailable(format!(
            "Twilio answered with unexpected HTTP {code}"
        ))))
    }
}

/// What one attempt came to.
enum Outcome {
    /// Done: sent, or failed in a way another attempt will not fix (or could duplicate).
    Final(Result<SmsReceipt, SmsError>),
    /// Failed before Twilio took the message; worth one more try after `after`.
    Retry { error: SmsError, after: Duration },
}

#[async_trait]
impl SmsSender for TwilioClient {
    fn name(&self) -> &'static str {
        "twilio"
    }

    async fn send(&self, sms: &OutgoingSms) -> Result<SmsReceipt, SmsError> {
        let to = sms.to.masked();
        if sms.body.is_empty() {
            return Err(SmsError::Rejected("the message body is empty".to_string()));
        }
        let form = self.form(sms);
        let mut outcome = self.attempt(&form, &sms.to).await;
        let mut attempts = 1;
        if let Outcome::Retry { error, after } = &outcome {
            tracing::warn!(
                to = %to,
                error = %error,
                retry_in_ms = after.as_millis() as u64,
                "Twilio send failed; retrying once"
            );
            tokio::time::sleep(*after).await;
            outcome = self.attempt(&form, &sms.to).await;
            attempts = 2;
        }
        let result = match outcome {
            Outcome::Final(result) => result,
            Outcome::Retry { error, .. } => Err(error),
        };
        match &result {
            Ok(receipt) => {
                tracing::info!(to = %to, sid = %receipt.provider_id, attempts, "SMS accepted by Twilio");
            }
            Err(SmsError::Rejected(reason)) => {
                tracing::warn!(to = %to, reason = %reason, attempts, "Twilio refused the SMS");
            }
            Err(SmsError::Unavailable(reason)) => {
                tracing::warn!(to = %to, reason = %reason, attempts, "Twilio unavailable; SMS not sent");
            }
        }
        result
    }
}

/// The fields of Twilio's message resource this client reads.
#[derive(Deserialize)]
struct MessageResource {
    sid: Option<String>,
    status: Option<String>,
    error_code: Option<serde_json::Value>,
    error_message: Option<String>,
}

/// Twilio's error answer.
#[derive(Deserialize)]
struct ErrorAnswer {
    code: Option<serde_json::Value>,
    message: Option<String>,
    more_info: Option<String>,
}

/// Reads a 2xx answer: the message resource with its `sid`.
fn accepted(code: u16, body: &[u8], to: &E164) -> Result<SmsReceipt, SmsError> {
    let resource: MessageResource = serde_json::from_slice(body).map_err(|_| {
        SmsError::Unavailable(format!(
            "Twilio answered HTTP {code} with a body that is not a message resource"
        ))
    })?;
    if matches!(resource.status.as_deref(), Some("failed" | "undelivered")) {
        let error_code = resource.error_code.as_ref().map(code_text);
        let message = resource
            .error_message
            .as_deref()
            .map(|m| clean_message(m, to));
        return Err(SmsError::Rejected(format!(
            "Twilio marked the message {}{}{}",
            resource.status.as_deref().unwrap_or_default(),
            error_code
                .map(|c| format!(" (error {c})"))
                .unwrap_or_default(),
            message.map(|m| format!(": {m}")).unwrap_or_default(),
        )));
    }
    match resource.sid {
        Some(sid) if is_plausible_sid(&sid) => Ok(SmsReceipt { provider_id: sid }),
        Some(_) => Err(SmsError::Unavailable(format!(
            "Twilio answered HTTP {code} with a malformed message sid"
        ))),
        None => Err(SmsError::Unavailable(format!(
            "Twilio answered HTTP {code} without a message sid"
        ))),
    }
}

/// Twilio SIDs are two letters and 32 hex digits; compatible providers use other ids
/// (UUIDs), so any short run of letters, digits, `-` and `_` is accepted.
fn is_plausible_sid(sid: &str) -> bool {
    (1..=128).contains(&sid.len())
        && sid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Describes a non-2xx answer from its error body, when it has one.
fn describe_error_answer(code: u16, body: &[u8], to: &E164) -> String {
    let parsed = serde_json::from_slice::<ErrorAnswer>(body).ok();
    let Some(answer) = parsed.filter(|a| a.code.is_some() || a.message.is_some()) else {
        return format!("Twilio answered HTTP {code} without an error description");
    };
    let mut text = match &answer.code {
        Some(c) => format!("Twilio error {} (HTTP {code})", code_text(c)),
        None => format!("Twilio error (HTTP {code})"),
    };
    if let Some(message) = answer.message.as_deref().map(|m| clean_message(m, to)) {
        if !message.is_empty() {
            text.push_str(": ");
            text.push_str(&message);
        }
    }
    if let Some(more) = answer.more_info.as_deref().map(|m| clean_message(m, to)) {
        if !more.is_empty() {
            text.push_str(" (");
            text.push_str(&more);
            text.push(')');
        }
    }
    text
}

/// A JSON error code as text (`21211`), whatever JSON type it came as.
fn code_text(code: &serde_json::Value) -> String {
    let text = match code {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    text.chars().filter(|c| !c.is_control()).take(32).collect()
}

/// A provider message fit for logs: the full recipient number masked, control
/// characters dropped, at most [`MAX_ERROR_MESSAGE_CHARS`] characters.
fn clean_message(message: &str, to: &E164) -> String {
    let masked = to.masked();
    let message = message
        .replace(to.as_str(), &masked)
        .replace(to.digits(), &masked);
    let mut out: String = message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_ERROR_MESSAGE_CHARS)
        .collect();
    if message.chars().count() > MAX_ERROR_MESSAGE_CHARS {
        out.push('…');
    }
    out.trim().to_string()
}

/// `Retry-After` in seconds, cut to [`MAX_RETRY_AFTER`]; HTTP dates are ignored.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    let seconds: u64 = value.trim().parse().ok()?;
    Some(Duration::from_secs(seconds).min(MAX_RETRY_AFTER))
}

enum BodyError {
    Timeout,
    TooLong,
    Broken(String),
}

/// Reads at most [`MAX_RESPONSE_BYTES`] of the body.
async fn read_body(mut response: reqwest::Response) -> Result<Vec<u8>, BodyError> {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                    return Err(BodyError::TooLong);
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) if e.is_timeout() => return Err(BodyError::Timeout),
            Err(e) => return Err(BodyError::Broken(describe(e))),
        }
    }
}

/// A reqwest error with its causes, without the URL.
fn describe(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number() -> E164 {
        E164::from_stored("+14155550100").expect("number")
    }

    #[test]
    fn error_messages_mask_the_number_and_are_bounded() {
        let body = br#"{"code": 21211, "message": "The 'To' number +14155550100 is not a valid phone number.", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}"#;
        let text = describe_error_answer(400, body, &number());
        assert!(text.contains("21211"), "{text}");
        assert!(text.contains("•••0100"), "{text}");
        assert!(!text.contains("4155550100"), "{text}");
        let long = format!(r#"{{"code": "x", "message": "{}"}}"#, "a".repeat(5000));
        let text = describe_error_answer(400, long.as_bytes(), &number());
        assert!(text.chars().count() < 400, "{}", text.len());
    }

    #[test]
    fn retry_after_is_capped_and_dates_ignored() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::RETRY_AFTER, "1".parse().expect("value"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(1)));
        headers.insert(reqwest::header::RETRY_AFTER, "3600".parse().expect("value"));
        assert_eq!(retry_after(&headers), Some(MAX_RETRY_AFTER));
        headers.insert(
            reqwest::header::RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().expect("value"),
        );
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn senders_are_checked() {
        for ok in ["+15005550006", "Vouch", "My Bank", "12345", "A1"] {
            assert!(
                validate_sender(&TwilioSender::From(ok.into())).is_ok(),
                "{ok}"
            );
        }
        for bad in [
            "",
            " ",
            "+1",
            "15005550006",
            "TooLongSender",
            "Vouch!",
            " Vouch",
            "+1500abc",
        ] {
            assert!(
                validate_sender(&TwilioSender::From(bad.into())).is_err(),
                "{bad:?}"
            );
        }
    }
}

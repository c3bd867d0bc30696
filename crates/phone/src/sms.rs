//! The SMS boundary: [`SmsSender`], with the dev inbox here and the Twilio-compatible
//! client in [`crate::twilio`].

use crate::number::E164;
use async_trait::async_trait;
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::Mutex;

/// A text message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingSms {
    /// The recipient.
    pub to: E164,
    /// The text.
    pub body: String,
}

/// What the provider said when it accepted a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsReceipt {
    /// The provider's message id (Twilio's `sid`).
    pub provider_id: String,
}

/// Why a message was not sent.
#[derive(Debug, thiserror::Error)]
pub enum SmsError {
    /// The provider refused this message (bad number, blocked, …): retrying will not help.
    #[error("SMS provider refused the message: {0}")]
    Rejected(String),
    /// The provider could not be reached or failed: retry later.
    #[error("SMS provider unavailable: {0}")]
    Unavailable(String),
}

/// Sends text messages.
#[async_trait]
pub trait SmsSender: Send + Sync {
    /// A short name for logs and metrics (`twilio`, `dev-inbox`).
    fn name(&self) -> &'static str;
    /// Sends one message.
    async fn send(&self, sms: &OutgoingSms) -> Result<SmsReceipt, SmsError>;
}

/// A message that landed in the dev inbox.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DevMessage {
    /// Inbox id (`SMdev…`).
    pub id: String,
    /// The recipient, E.164.
    pub to: String,
    /// The text.
    pub body: String,
    /// When it was "sent", RFC 3339.
    pub sent_at: String,
}

/// The dev-mode SMS sender: nothing leaves the machine; every message is kept (the
/// newest [`DevInbox::CAPACITY`]) for `GET /dev/sms` and the admin console.
#[derive(Debug, Default)]
pub struct DevInbox {
    messages: Mutex<VecDeque<DevMessage>>,
    next: std::sync::atomic::AtomicU64,
}

impl DevInbox {
    /// Messages kept before the oldest are dropped.
    pub const CAPACITY: usize = 1000;

    /// Messages, newest first, optionally only those to `to` (E.164).
    pub fn list(&self, to: Option<&str>, limit: usize) -> Vec<DevMessage> {
        let guard = match self.messages.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        guard
            .iter()
            .rev()
            .filter(|m| to.is_none_or(|t| m.to == t))
            .take(limit)
            .cloned()
            .collect()
    }
}

#[async_trait]
impl SmsSender for DevInbox {
    fn name(&self) -> &'static str {
        "dev-inbox"
    }

    async fn send(&self, sms: &OutgoingSms) -> Result<SmsReceipt, SmsError> {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let id = format!("SMdev{n:010}");
        let message = DevMessage {
            id: id.clone(),
            to: sms.to.as_str().to_string(),
            body: sms.body.clone(),
            sent_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        };
        let mut guard = match self.messages.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if guard.len() == Self::CAPACITY {
            guard.pop_front();
        }
        guard.push_back(message);
        tracing::info!(to = %sms.to.masked(), id, "SMS delivered to the dev inbox");
        Ok(SmsReceipt { provider_id: id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn dev_inbox_keeps_newest_first_and_filters() {
        let inbox = DevInbox::default();
        let a = E164::from_stored("+12015550100").expect("a");
        let b = E164::from_stored("+12015550101").expect("b");
        for (to, body) in [(&a, "one"), (&b, "two"), (&a, "three")] {
            inbox
                .send(&OutgoingSms {
                    to: to.clone(),
                    body: body.into(),
                })
                .await
                .expect("sent");
        }
        let all = inbox.list(None, 10);
        assert_eq!(
            all.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
            ["three", "two", "one"]
        );
        let to_a = inbox.list(Some("+12015550100"), 10);
        assert_eq!(to_a.len(), 2);
        assert_eq!(inbox.list(None, 1).len(), 1);
    }
}

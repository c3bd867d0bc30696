//! Human presence sessions: an agent asks for a live human, the person scans their face
//! on the session's page, and a signed Human Presence Token proves it.
//!
//! ```text
//!   Pending ──scan: live, recognised (and the locked e-mail)──▶ Verified ──token──▶ (HPT)
//!      │ └──────────────cancel by the agent──────────────────▶ Cancelled
//!      └────────────────lifetime over, unanswered─────────────▶ Expired
//! ```
//!
//! Verified, Cancelled and Expired are final. A pending session past its lifetime reads as
//! Expired whoever reads it first. The database keeps [`PresenceStatus::as_str`].

use crate::{Error, Result};

/// Where a presence session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PresenceStatus {
    /// Waiting for the person.
    Pending,
    /// The person was seen and matched.
    Verified,
    /// Nobody came in time.
    Expired,
    /// Cancelled.
    Cancelled,
}

impl PresenceStatus {
    /// Every status.
    pub const ALL: [PresenceStatus; 4] = [
        PresenceStatus::Pending,
        PresenceStatus::Verified,
        PresenceStatus::Expired,
        PresenceStatus::Cancelled,
    ];

    /// The wire and stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            PresenceStatus::Pending => "PENDING",
            PresenceStatus::Verified => "VERIFIED",
            PresenceStatus::Expired => "EXPIRED",
            PresenceStatus::Cancelled => "CANCELLED",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Result<PresenceStatus> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| Error::Internal(format!("unknown presence status {s:?}")))
    }

    /// The status as read at `now` with the session's `expires_at`: a pending session
    /// past its lifetime is Expired.
    pub fn at(self, expires_at: crate::Millis, now: crate::Millis) -> PresenceStatus {
        if self == PresenceStatus::Pending && expires_at <= now {
            PresenceStatus::Expired
        } else {
            self
        }
    }

    /// Whether a scan may verify the session, or the agent cancel it.
    pub fn is_open(self) -> bool {
        self == PresenceStatus::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_ones_are_errors() {
        for s in PresenceStatus::ALL {
            assert_eq!(PresenceStatus::parse(s.as_str()).ok(), Some(s));
        }
        assert!(PresenceStatus::parse("pending").is_err());
    }

    #[test]
    fn only_a_pending_session_expires_and_only_it_is_open() {
        use PresenceStatus::*;
        assert_eq!(Pending.at(100, 100), Expired);
        assert_eq!(Pending.at(101, 100), Pending);
        for s in [Verified, Cancelled, Expired] {
            assert_eq!(s.at(0, 100), s);
            assert!(!s.is_open());
        }
        assert!(Pending.is_open());
    }
}

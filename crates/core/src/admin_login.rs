//! An administrator's sign-in to the console, as a session stage.
//!
//! ```text
//!   (signed out) ──password ok, no second factor enrolled──────────────▶ SignedIn
//!        │                                                               ▲
//!        └──password ok, a passkey or face enrolled──▶ SecondFactor ─────┘ passkey or live
//!                                                      │  (5 minutes)      face scan ok
//!                                                      └─ too many wrong factors, or
//!                                                         the 5 minutes pass ──▶ (signed out)
//!   SignedIn ──sign-out, 30 minutes idle or 12 hours in all──▶ (signed out)
//! ```
//!
//! A pending session opens nothing but the second-factor endpoints; only a signed-in
//! session opens the console and the admin API. The database keeps
//! [`LoginStage::as_str`].

use crate::{Error, Result};

/// Where a console session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LoginStage {
    /// The password was right; a second factor is owed (`password`).
    SecondFactor,
    /// Signed in (`full`).
    SignedIn,
}

impl LoginStage {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            LoginStage::SecondFactor => "password",
            LoginStage::SignedIn => "full",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Result<LoginStage> {
        match s {
            "password" => Ok(LoginStage::SecondFactor),
            "full" => Ok(LoginStage::SignedIn),
            other => Err(Error::Internal(format!(
                "unknown admin session stage {other:?}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_round_trip_and_unknown_ones_are_errors() {
        for s in [LoginStage::SecondFactor, LoginStage::SignedIn] {
            assert_eq!(LoginStage::parse(s.as_str()).ok(), Some(s));
        }
        assert!(LoginStage::parse("FULL").is_err());
    }
}

//! Typed identifiers. Each id is a prefixed random UUID (`org_…`, `key_…`) so that a
//! value pasted into the wrong place is recognisable, and ids of different kinds cannot
//! be mixed up in code.

use serde::{Deserialize, Serialize};

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        typed_id!(@common $(#[$doc])* $name, $prefix);

        impl $name {
            /// A fresh random id (UUIDv7: time-ordered, 74 random bits).
            pub fn generate() -> Self {
                Self(format!("{}{}", $prefix, uuid::Uuid::now_v7().simple()))
            }
        }
    };
    ($(#[$doc:meta])* $name:ident, uuid) => {
        typed_id!(@common $(#[$doc])* $name, "");

        impl $name {
            /// A fresh random id: a hyphenated UUIDv7 (time-ordered, 74 random bits), as
            /// the spec spells it, so that a client may keep it in a `uuid` column.
            pub fn generate() -> Self {
                Self(uuid::Uuid::now_v7().hyphenated().to_string())
            }
        }
    };
    (@common $(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The prefix every id of this kind starts with (none for UUID ids).
            pub const PREFIX: &'static str = $prefix;

            /// Wraps a string read from storage or the wire without checking it; lookups
            /// with a malformed id simply find nothing.
            pub fn from_string(s: impl Into<String>) -> Self {
                Self(s.into())
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

typed_id!(/// An organisation (tenant).
    OrgId, "org_");
typed_id!(/// An API key.
    KeyId, "key_");
typed_id!(/// A service token.
    TokenId, "stk_");
typed_id!(/// An OAuth 2.0 client (its public client id).
    ClientId, "cli_");
typed_id!(/// A person inside an organisation.
    PersonId, "psn_");
typed_id!(/// An event (and its webhook message id).
    EventId, "msg_");
typed_id!(/// A webhook delivery.
    DeliveryId, "dlv_");
typed_id!(/// A verification session: a UUID, as the KYC sessions spec has it (sessions made
    /// before vouch followed it have `ses_…` ids, which keep resolving).
    SessionId, uuid);
typed_id!(/// A verification profile (1:N identity checks).
    ProfileId, "vpr_");
typed_id!(/// One 1:N identity verification.
    IdentityCheckId, "idv_");
typed_id!(/// A human presence session.
    PresenceId, "prs_");
typed_id!(/// An alert rule.
    AlertRuleId, "alr_");

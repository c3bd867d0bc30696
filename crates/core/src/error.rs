//! The domain error: what went wrong, in words the HTTP edge can map to a status code.

/// A domain error. The HTTP edge maps each variant to a status and a stable code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The object does not exist, or belongs to another organisation.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The request is well-formed but its values are not acceptable.
    #[error("{0}")]
    Invalid(String),
    /// The object is in a state that forbids the operation.
    #[error("{0}")]
    Conflict(String),
    /// The credential is valid but lacks the permission.
    #[error("{0}")]
    Denied(String),
    /// The credential is missing, unknown, revoked or expired.
    #[error("{0}")]
    Unauthenticated(String),
    /// The database or another dependency is unavailable.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// Anything else; the message is for logs, not for clients.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Result with the domain error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

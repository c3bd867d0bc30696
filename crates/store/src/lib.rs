//! vouch-store: persistence for vouch on SQLite (one node, the default) or PostgreSQL
//! (many nodes). One [`Store`] serves both through sqlx's `Any` driver; where the SQL of
//! the two differs (placeholders, row locking) the difference stays in this crate.
//! Personal data is sealed field by field ([`crypto`]) before it reaches a table.

pub mod admin;
pub mod audit;
pub mod biometrics;
pub mod crypto;
mod db;
pub mod digital_id;
pub mod images;
pub mod ory;
pub mod outbox;
pub mod people;
pub mod phone;
pub mod presence;
pub mod ratelimit;
pub mod sessions;
pub mod tenancy;

pub use db::{Backend, Store, StoreOptions, SCHEMA_VERSION};

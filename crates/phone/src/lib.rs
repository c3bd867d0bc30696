//! vouch-phone: the phone engine. Plain functions and traits, no HTTP server:
//!
//! - [`number`]: E.164 and national numbers through the `phonenumber` port of
//!   libphonenumber;
//! - [`otp`]: one-time codes from the OS CSPRNG, stored as keyed digests, compared in
//!   constant time; [`template`]: the customer's `smsMessage` template;
//! - [`sms`]: the [`sms::SmsSender`] boundary with its dev inbox, and [`twilio`], a
//!   client for the Twilio Messages API (and compatible providers);
//! - [`telco`]: the [`telco::Telco`] boundary (SIM swap, number verification, KYC match,
//!   fill-in, age, reachability) with [`sandbox`] (documented test numbers, the default
//!   in dev mode) and [`camara`], a client for the CAMARA network APIs.

pub mod camara;
pub mod number;
pub mod otp;
pub mod sandbox;
pub mod sms;
pub mod telco;
pub mod template;
pub mod twilio;

pub use number::{parse_number, LineType, NumberError, Region, E164};

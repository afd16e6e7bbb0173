//! The self-contained parts of webhook delivery (the Standard Webhooks scheme): signing a
//! message, deciding when to try a failed delivery again, and checking that a target URL is one
//! we may deliver to. Storage and the delivery worker ([`worker`], configured by
//! [`crate::config::webhooks`]) build on these; `keys` holds the server's Ed25519 key.

pub mod attempt;
pub mod keys;
pub mod policy;
pub mod sign;
pub mod target;
pub mod worker;

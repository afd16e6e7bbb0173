//! Request and response bodies: accounts.

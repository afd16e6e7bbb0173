//! Request and response bodies: audit.

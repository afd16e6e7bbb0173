//! Request and response bodies: assets.

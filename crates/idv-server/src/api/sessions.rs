//! Request and response bodies: sessions.

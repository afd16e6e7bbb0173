//! Request and response bodies: events.

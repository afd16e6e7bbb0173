//! Request and response bodies: webhooks.

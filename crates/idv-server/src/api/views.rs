//! Request and response bodies: views.
